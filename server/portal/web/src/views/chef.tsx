import { useEffect, useState } from "preact/hooks";
import { ApiError, all, call, get, post, type Instance, type S } from "../api";
import { fmtTime, t } from "../i18n";
import { Badge, Empty, Field, fieldErrors, FormCard, Loading, Options, Page, ProblemView, Table, useLoad } from "../ui";
import { CheckList, Listing, setter, TaskLine, useFollow } from "./parts";
import "./views.css";

type Server = S["ChefServer"];
type Run = S["ChefRun"];

const serverFields = ["name", "url", "organization", "clientName", "key", "guestUrl", "convergeCommand", "tls"];

// ChefServers (administrators): register a Chef server (the API checks the
// connection with the client's key and answers the server's own error),
// the list, delete.
export function ChefServers() {
  const list = useLoad(() => all<Server>("/v1/chef/servers"), []);
  const [f, setF] = useState({ name: "", url: "", organization: "", clientName: "", key: "", guestUrl: "", command: "", insecure: false });
  const [err, setErr] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [actionErr, setActionErr] = useState<unknown>();
  const { fields, rest } = fieldErrors(err, serverFields);
  const set = setter(f, setF);
  async function submit() {
    setErr(undefined);
    setBusy(true);
    const body: S["ChefServerCreate"] = { name: f.name, url: f.url, clientName: f.clientName, key: f.key };
    if (f.organization) body.organization = f.organization;
    if (f.guestUrl) body.guestUrl = f.guestUrl;
    const command = f.command.trim().split(/\s+/).filter(Boolean);
    if (command.length) body.convergeCommand = command;
    if (f.insecure) body.tls = { insecureSkipVerify: true };
    try {
      await post<Server>("/v1/chef/servers", body);
      setF({ ...f, name: "", key: "" });
      list.reload();
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  }
  async function remove(s: Server) {
    setActionErr(undefined);
    if (!confirm(t("chef.confirmDelete", { name: s.name }))) return;
    try {
      await call("DELETE", `/v1/chef/servers/${s.id}`);
      list.reload();
    } catch (e) {
      setActionErr(e);
    }
  }
  return (
    <Page title={t("nav.chefServers")}>
      <FormCard id="chef-create" title={t("chef.register")} err={rest} submit={t("hosts.registerButton")} onSubmit={submit} busy={busy}>
        <div class="form-grid">
          <Field id="chef-name" label={t("common.name")} error={fields.name}>
            <input id="chef-name" value={f.name} onInput={set("name")} />
          </Field>
          <Field id="chef-url" label={t("chef.url")} error={fields.url} hint={t("chef.urlHint")}>
            <input id="chef-url" value={f.url} onInput={set("url")} />
          </Field>
          <Field id="chef-org" label={t("chef.organization")} error={fields.organization}>
            <input id="chef-org" value={f.organization} onInput={set("organization")} />
          </Field>
          <Field id="chef-client" label={t("chef.clientName")} error={fields.clientName}>
            <input id="chef-client" value={f.clientName} onInput={set("clientName")} autocomplete="off" />
          </Field>
          <Field id="chef-guest" label={t("chef.guestUrl")} error={fields.guestUrl} hint={t("chef.guestUrlHint")}>
            <input id="chef-guest" value={f.guestUrl} onInput={set("guestUrl")} />
          </Field>
          <Field id="chef-command" label={t("chef.command")} error={fields.convergeCommand} hint={t("chef.commandHint")}>
            <input id="chef-command" value={f.command} onInput={set("command")} />
          </Field>
        </div>
        <Field id="chef-key" label={t("chef.key")} error={fields.key} hint={t("chef.keyHint")}>
          <textarea id="chef-key" rows={4} value={f.key} onInput={set("key")} spellcheck={false} />
        </Field>
        <label class="check">
          <input type="checkbox" id="chef-insecure" checked={f.insecure} onChange={set("insecure")} /> {t("chef.insecure")}
        </label>
      </FormCard>
      <ProblemView err={list.err ?? actionErr} />
      <Listing list={list} empty={t("chef.none")}>
        {(servers) => (
          <Table class="chef-servers" head={[t("common.name"), t("chef.url"), t("chef.organization"), t("chef.clientName"), t("common.created"), t("common.actions")]}>
            {servers.map((s) => (
              <tr key={s.id} data-name={s.name}>
                <td>{s.name}</td>
                <td>
                  {s.url}
                  {s.guestUrl && <small class="reason">{t("chef.guestAt", { url: s.guestUrl })}</small>}
                </td>
                <td>{s.organization || "—"}</td>
                <td>{s.clientName}</td>
                <td>{fmtTime(s.createdAt)}</td>
                <td class="row-actions">
                  <button class="danger" onClick={() => remove(s)} aria-label={t("chef.deleteOne", { name: s.name })}>
                    {t("common.delete")}
                  </button>
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Listing>
    </Page>
  );
}

// runListOf turns "a, recipe[b], role[c]" into run list entries: a bare
// name is a cookbook's default recipe.
function runListOf(s: string): string[] {
  return s
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((e) => (/^(recipe|role)\[.+\]$/.test(e) ? e : `recipe[${e}]`));
}

type Node = S["ChefNode"];

// Chef (tenants): the Chef servers' catalog, enrolment of instances,
// "install X on Y" and "update all" runs with their per-instance results,
// retry of the failed ones, cancel.
export function Chef() {
  const servers = useLoad(() => all<Server>("/v1/chef/servers"), []);
  const insts = useLoad(() => all<Instance>("/v1/instances"), []);
  const [tick, setTick] = useState(0);
  const nodes = useLoad(async () => {
    const out: Record<string, Node> = {};
    await Promise.all(
      (insts.data ?? []).map((i) =>
        get<Node>(`/v1/instances/${i.id}/chef`).then(
          (n) => void (out[i.id] = n),
          (e) => {
            if (!(e instanceof ApiError && e.status === 404)) throw e;
          },
        ),
      ),
    );
    return out;
  }, [insts.data, tick]);
  const runs = useLoad(() => all<Run>("/v1/chef/runs"), [tick]);
  const busy = (runs.data ?? []).some((r) => r.state === "running" || r.state === "cancelling") || Object.values(nodes.data ?? {}).some((n) => n.state === "enrolling" || n.state === "unenrolling");
  useEffect(() => {
    if (!busy) return;
    const h = setTimeout(() => setTick((n) => n + 1), 2000);
    return () => clearTimeout(h);
  }, [busy, runs.data, nodes.data]);
  const refresh = () => setTick((n) => n + 1);
  const [serverId, setServerId] = useState("");
  const server = serverId || servers.data?.[0]?.id || "";
  const instName = (id: string) => insts.data?.find((i) => i.id === id)?.name ?? id;
  return (
    <Page title={t("nav.chef")} actions={<button onClick={refresh}>{t("common.refresh")}</button>}>
      <ProblemView err={servers.err ?? insts.err ?? nodes.err} />
      {servers.data && servers.data.length === 0 && <Empty text={t("chef.noServer")} />}
      {servers.data && servers.data.length > 0 && (
        <>
          <div class="filters">
            <Field id="chef-server" label={t("chef.server")}>
              <select id="chef-server" value={server} onChange={(e) => setServerId(e.currentTarget.value)}>
                <Options items={servers.data} />
              </select>
            </Field>
          </div>
          <div class="grid">
            <Enrol insts={insts.data ?? []} nodes={nodes.data ?? {}} server={server} onDone={refresh} />
            <Catalog server={server} />
          </div>
          <Converge insts={insts.data ?? []} nodes={nodes.data ?? {}} onDone={refresh} />
        </>
      )}
      <section class="card sub" aria-labelledby="runs-title">
        <h2 id="runs-title">{t("chef.runs")}</h2>
        <ProblemView err={runs.err} />
        {runs.data && runs.data.length === 0 && <Empty text={t("chef.noRuns")} />}
        {[...(runs.data ?? [])]
          .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
          .map((r) => (
            <RunCard key={r.id} run={r} name={instName} onDone={refresh} />
          ))}
      </section>
    </Page>
  );
}

function Catalog({ server }: { server: string }) {
  const cat = useLoad(() => (server ? get<S["ChefCatalog"]>(`/v1/chef/servers/${server}/catalog`) : Promise.resolve(undefined)), [server]);
  const c = cat.data;
  return (
    <section class="card catalog" aria-labelledby="catalog-title">
      <h2 id="catalog-title">{t("chef.catalog")}</h2>
      <ProblemView err={cat.err} />
      {!c && !cat.err && <Loading />}
      {c && (
        <>
          <h3>{t("chef.cookbooks")}</h3>
          {(c.cookbooks ?? []).length === 0 ? (
            <Empty text={t("chef.noCookbooks")} />
          ) : (
            <ul class="plain cookbooks">
              {(c.cookbooks ?? []).map((b) => (
                <li key={b.name} data-name={b.name}>
                  <strong>{b.name}</strong> {(b.versions ?? []).map((v) => v.version).join(", ")}
                  <small class="reason">{[...new Set((b.versions ?? []).flatMap((v) => v.recipes ?? []))].join(", ")}</small>
                </li>
              ))}
            </ul>
          )}
          <h3>{t("chef.roles")}</h3>
          {(c.roles ?? []).length === 0 ? (
            <Empty text={t("chef.noRoles")} />
          ) : (
            <ul class="plain roles">
              {(c.roles ?? []).map((r) => (
                <li key={r.name} data-name={r.name}>
                  <strong>{r.name}</strong> <small>{(r.runList ?? []).join(", ")}</small>
                </li>
              ))}
            </ul>
          )}
          <h3>{t("chef.environments")}</h3>
          <p>{(c.environments ?? []).map((e) => e.name).join(", ") || "—"}</p>
        </>
      )}
    </section>
  );
}

function Enrol(props: { insts: Instance[]; nodes: Record<string, Node>; server: string; onDone: () => void }) {
  const [f, setF] = useState({ inst: "", runList: "" });
  const [err, setErr] = useState<unknown>();
  const { task, follow } = useFollow(() => props.onDone());
  const { fields, rest } = fieldErrors(err, ["runList", "environment", "serverId"]);
  const free = props.insts.filter((i) => !props.nodes[i.id]);
  const inst = f.inst || free[0]?.id || "";
  async function submit() {
    setErr(undefined);
    const body: S["ChefEnrol"] = { serverId: props.server };
    const rl = runListOf(f.runList);
    if (rl.length) body.runList = rl;
    try {
      const r = await post<S["ChefNodeTask"]>(`/v1/instances/${inst}/chef`, body);
      setF({ inst: "", runList: "" });
      props.onDone();
      follow(r.task);
    } catch (e) {
      setErr(e);
    }
  }
  return (
    <FormCard id="enrol-title" title={t("chef.enrol")} err={rest} submit={t("chef.enrolButton")} onSubmit={submit} busy={!inst}>
      <Field id="enrol-inst" label={t("chef.instance")}>
        <select id="enrol-inst" value={inst} onChange={(e) => setF({ ...f, inst: e.currentTarget.value })}>
          <Options items={free} />
        </select>
      </Field>
      <Field id="enrol-runlist" label={t("chef.runList")} error={fields.runList} hint={t("chef.runListHint")}>
        <input id="enrol-runlist" value={f.runList} onInput={(e) => setF({ ...f, runList: e.currentTarget.value })} />
      </Field>
      <TaskLine task={task} />
      {Object.keys(props.nodes).length > 0 && (
        <ul class="plain enrolled">
          {props.insts
            .filter((i) => props.nodes[i.id])
            .map((i) => (
              <li key={i.id} data-name={i.name}>
                {i.name} <Badge kind="chefNode" value={props.nodes[i.id].state} /> <small>{(props.nodes[i.id].runList ?? []).join(", ")}</small>
              </li>
            ))}
        </ul>
      )}
    </FormCard>
  );
}

function Converge(props: { insts: Instance[]; nodes: Record<string, Node>; onDone: () => void }) {
  const enrolled = props.insts.filter((i) => props.nodes[i.id]?.state === "enrolled");
  const [chosen, setChosen] = useState<string[]>([]);
  const [runList, setRunList] = useState("");
  const [err, setErr] = useState<unknown>();
  const [allErr, setAllErr] = useState<unknown>();
  const { fields, rest } = fieldErrors(err, ["runList", "instanceIds", "environment", "concurrency"]);
  async function install() {
    setErr(undefined);
    try {
      await post<S["ChefRunTask"]>("/v1/chef/runs", { instanceIds: chosen, runList: runListOf(runList) });
      setChosen([]);
      props.onDone();
    } catch (e) {
      setErr(e);
    }
  }
  async function updateAll() {
    setAllErr(undefined);
    if (!confirm(t("chef.confirmUpdateAll", { n: enrolled.length }))) return;
    try {
      await post<S["ChefRunTask"]>("/v1/chef/runs", { all: true });
      props.onDone();
    } catch (e) {
      setAllErr(e);
    }
  }
  return (
    <FormCard
      id="install-title"
      title={t("chef.install")}
      err={rest}
      submit={t("chef.installButton")}
      onSubmit={install}
      class="sub"
      tail={
        <div class="update-all">
          <ProblemView err={allErr} />
          <button type="button" class="update-all" onClick={updateAll} disabled={enrolled.length === 0}>
            {t("chef.updateAll", { n: enrolled.length })}
          </button>
        </div>
      }
    >
      <Field id="install-runlist" label={t("chef.runList")} error={fields.runList} hint={t("chef.runListHint")}>
        <input id="install-runlist" value={runList} onInput={(e) => setRunList(e.currentTarget.value)} />
      </Field>
      <CheckList
        legend={t("chef.on")}
        items={enrolled}
        chosen={chosen}
        onChange={setChosen}
        inputClass="install-on"
        errorField="install-on"
        error={fields.instanceIds}
        empty={t("chef.noneEnrolled")}
      />
    </FormCard>
  );
}

function RunCard({ run, name, onDone }: { run: Run; name: (id: string) => string; onDone: () => void }) {
  const [err, setErr] = useState<unknown>();
  const c = run.counts;
  const finished = !(run.state === "running" || run.state === "cancelling");
  const again = c.failed + c.unreachable + c.cancelled > 0;
  async function act(what: "cancel" | "retry") {
    setErr(undefined);
    try {
      await post(`/v1/chef/runs/${run.id}/${what}`);
      onDone();
    } catch (e) {
      setErr(e);
    }
  }
  return (
    <article class="card run" data-state={run.state} data-id={run.id} aria-label={t("chef.runOf", { at: fmtTime(run.createdAt) })}>
      <header class="page-head">
        <div>
          <Badge kind="chefRun" value={run.state} /> <strong>{(run.runList ?? []).join(", ") || t("chef.updateRun")}</strong>{" "}
          <small>{fmtTime(run.createdAt)}</small>
          {run.retryOf && <small class="reason">{t("chef.retryOf")}</small>}
        </div>
        <div class="actions">
          {!finished && (
            <button class="danger cancel-run" onClick={() => act("cancel")}>
              {t("common.cancel")}
            </button>
          )}
          {finished && again && (
            <button class="retry" onClick={() => act("retry")}>
              {t("chef.retry")}
            </button>
          )}
          <a href={`/tasks/${run.taskId}`}>{t("audit.taskLink")}</a>
        </div>
      </header>
      <p class="counts">
        <progress max={Math.max(1, c.total)} value={c.total - c.pending - c.running} aria-label={t("tasks.progress")} />{" "}
        {t("chef.counts", { ok: c.succeeded, failed: c.failed, unreachable: c.unreachable, total: c.total })}
      </p>
      <ProblemView err={err} />
      <Table class="results" head={[t("chef.instance"), t("audit.outcome"), t("chef.exitCode"), t("chef.duration"), t("chef.output")]}>
        {(run.results ?? []).map((r) => (
          <tr key={r.instanceId} data-name={r.instanceName || name(r.instanceId)} data-outcome={r.outcome}>
            <td>{r.instanceName || name(r.instanceId)}</td>
            <td>
              <Badge kind="chefOutcome" value={r.outcome} />
              {r.message && <small class="reason">{r.message}</small>}
            </td>
            <td>{r.outcome === "pending" || r.outcome === "running" ? "" : r.exitCode}</td>
            <td>{r.durationMs ? `${(r.durationMs / 1000).toFixed(1)} s` : ""}</td>
            <td>
              {r.output && (
                <details>
                  <summary>{t("chef.showOutput")}</summary>
                  <pre class="output">{r.output}</pre>
                </details>
              )}
            </td>
          </tr>
        ))}
      </Table>
    </article>
  );
}
