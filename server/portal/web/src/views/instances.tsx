import { useState } from "preact/hooks";
import { all, call, get, post, query, type Instance, type Network, type S } from "../api";
import { fmtTime, t, tx } from "../i18n";
import { navigate } from "../router";
import { InstanceExtras } from "./instance-extras";
import { Resize } from "./resize";
import { Badge, Empty, Field, fieldErrors, fmtBytes, fmtCPU, FormCard, Loading, NetworkOptions, Page, Pager, ProblemView, Table, useCursor, useLoad } from "../ui";

export const pageSize = 50;

export function stateOf(i: Instance): string {
  return i.status.phase === "ready" ? i.status.power : i.status.phase;
}

// Instances: one page of the VDC's instances at a time (cursor paging),
// filtered by name, type and state, with the actions on each and the
// create form.
export function Instances() {
  const pages = useCursor();
  const list = useLoad(() => get<S["PageInstance"]>("/v1/instances" + query({ limit: pageSize, cursor: pages.cursor })), [pages.cursor]);
  const [name, setName] = useState("");
  const [type, setType] = useState("");
  const [state, setState] = useState("");
  const [creating, setCreating] = useState(false);
  const [actionErr, setActionErr] = useState<unknown>();
  const [notice, setNotice] = useState<S["Task"] | undefined>();
  const items = (list.data?.items ?? []).filter(
    (i) => (!name || i.name.includes(name)) && (!type || i.spec.type === type) && (!state || stateOf(i) === state),
  );
  async function act(i: Instance, action: "start" | "stop" | "delete") {
    setActionErr(undefined);
    if (action === "delete" && !confirm(t("instances.confirmDelete", { name: i.name }))) return;
    try {
      const r =
        action === "delete"
          ? await call<S["InstanceTask"] | undefined>("DELETE", `/v1/instances/${i.id}`)
          : await post<S["InstanceTask"]>(`/v1/instances/${i.id}/${action}`);
      setNotice(r?.task);
      list.reload();
    } catch (e) {
      setActionErr(e);
    }
  }
  return (
    <Page
      title={t("nav.instances")}
      actions={
        <>
          <a class="button wizard-link" href="/instances/new">
            {t("create.open")}
          </a>
          <button class="primary" onClick={() => setCreating(!creating)} aria-expanded={creating}>
            {t("instances.new")}
          </button>
        </>
      }
    >
      {creating && (
        <CreateInstance
          onDone={(r) => {
            setCreating(false);
            setNotice(r.task);
            list.reload();
          }}
        />
      )}
      {notice && (
        <p class="notice" role="status">
          {t("tasks.started")} <a href={`/tasks/${notice.id}`}>{tx(`taskKind.${notice.kind}`, notice.kind)}</a>
        </p>
      )}
      <ProblemView err={actionErr} />
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <Field id="filter-name" label={t("instances.filterName")}>
          <input id="filter-name" type="search" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field id="filter-type" label={t("instances.type")}>
          <select id="filter-type" value={type} onChange={(e) => setType(e.currentTarget.value)}>
            <option value="">{t("common.any")}</option>
            <option value="container">{t("type.container")}</option>
            <option value="vm">{t("type.vm")}</option>
          </select>
        </Field>
        <Field id="filter-state" label={t("instances.state")}>
          <select id="filter-state" value={state} onChange={(e) => setState(e.currentTarget.value)}>
            <option value="">{t("common.any")}</option>
            {["running", "stopped", "pending", "creating", "failed"].map((s) => (
              <option key={s} value={s}>
                {t(`state.${s}` as "state.running")}
              </option>
            ))}
          </select>
        </Field>
      </form>
      <ProblemView err={list.err} />
      {!list.data && !list.err && <Loading />}
      {list.data && items.length === 0 && <Empty text={t("instances.none")} />}
      {items.length > 0 && (
        <Table head={[t("common.name"), t("instances.type"), t("instances.state"), t("instances.size"), t("instances.addresses"), t("common.actions")]} class="instances">
            {items.map((i) => (
              <tr key={i.id} data-name={i.name}>
                <td>
                  <a href={`/instances/${i.id}`}>{i.name}</a>
                </td>
                <td>{t(`type.${i.spec.type}`)}</td>
                <td>
                  <Badge kind="state" value={stateOf(i)} />
                </td>
                <td>
                  {fmtCPU(i.spec.cpuMilli)} · {fmtBytes(i.spec.memoryBytes)}
                </td>
                <td>{(i.status.addresses ?? []).join(", ")}</td>
                <td class="row-actions">
                  <button onClick={() => act(i, "start")} disabled={i.status.power === "running"} aria-label={t("instances.startOne", { name: i.name })}>
                    {t("instances.start")}
                  </button>
                  <button onClick={() => act(i, "stop")} disabled={i.status.power !== "running"} aria-label={t("instances.stopOne", { name: i.name })}>
                    {t("instances.stop")}
                  </button>
                  <button class="danger" onClick={() => act(i, "delete")} aria-label={t("instances.deleteOne", { name: i.name })}>
                    {t("common.delete")}
                  </button>
                </td>
              </tr>
            ))}
          </Table>
      )}
      <Pager pages={pages} next={list.data?.next} />
    </Page>
  );
}

const createFields = ["name", "spec.type", "spec.image", "spec.cpuMilli", "spec.memoryBytes", "spec.nics", "spec.command", "start"];

function CreateInstance({ onDone }: { onDone: (r: S["InstanceTask"]) => void }) {
  const nets = useLoad(() => all<Network>("/v1/networks"), []);
  const [f, setF] = useState({ name: "", type: "container", image: "", cpu: "1", memory: "256", network: "", command: "", start: true });
  const [err, setErr] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const { fields, rest } = fieldErrors(err, createFields);
  const set = (k: keyof typeof f) => (e: Event) => {
    const el = e.currentTarget as HTMLInputElement;
    setF({ ...f, [k]: el.type === "checkbox" ? el.checked : el.value });
  };
  async function submit() {
    setBusy(true);
    setErr(undefined);
    const spec: S["InstanceSpecInput"] = {
      type: f.type as S["InstanceType"],
      image: { name: f.image, format: f.type === "container" ? "oci" : "qcow2" },
      cpuMilli: Math.round(Number(f.cpu) * 1000),
      memoryBytes: Math.round(Number(f.memory) * (1 << 20)),
    };
    if (f.network) spec.nics = [{ networkId: f.network }];
    const command = f.command.trim().split(/\s+/).filter(Boolean);
    if (command.length) spec.command = command;
    try {
      onDone(await post<S["InstanceTask"]>("/v1/instances", { name: f.name, spec, start: f.start }));
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  }
  return (
    <FormCard id="create-title" title={t("instances.createTitle")} err={rest} submit={t("common.create")} onSubmit={submit} busy={busy} class="create">
      <div class="form-grid">
        <Field id="inst-name" label={t("common.name")} error={fields.name}>
          <input id="inst-name" value={f.name} onInput={set("name")} />
        </Field>
        <Field id="inst-type" label={t("instances.type")} error={fields["spec.type"]}>
          <select id="inst-type" value={f.type} onChange={set("type")}>
            <option value="container">{t("type.container")}</option>
            <option value="vm">{t("type.vm")}</option>
          </select>
        </Field>
        <Field id="inst-image" label={t("instances.image")} error={fields["spec.image"]} hint={t("instances.imageHint")}>
          <input id="inst-image" value={f.image} onInput={set("image")} />
        </Field>
        <Field id="inst-cpu" label={t("instances.cpu")} error={fields["spec.cpuMilli"]}>
          <input id="inst-cpu" type="number" min="0" step="0.25" value={f.cpu} onInput={set("cpu")} />
        </Field>
        <Field id="inst-memory" label={t("instances.memory")} error={fields["spec.memoryBytes"]}>
          <input id="inst-memory" type="number" min="0" step="64" value={f.memory} onInput={set("memory")} />
        </Field>
        <Field id="inst-network" label={t("instances.network")} error={fields["spec.nics"]}>
          <select id="inst-network" value={f.network} onChange={set("network")}>
            <NetworkOptions items={nets.data} />
          </select>
        </Field>
        <Field id="inst-command" label={t("instances.command")} error={fields["spec.command"]} hint={t("instances.commandHint")}>
          <input id="inst-command" value={f.command} onInput={set("command")} />
        </Field>
      </div>
      <label class="check">
        <input type="checkbox" checked={f.start} onChange={set("start")} /> {t("instances.startAfter")}
      </label>
    </FormCard>
  );
}

// InstanceDetails: one instance with its spec, status and addresses.
export function InstanceDetails({ id }: { id: string }) {
  const inst = useLoad(() => get<Instance>(`/v1/instances/${id}`), [id]);
  const [err, setErr] = useState<unknown>();
  const i = inst.data;
  async function act(action: "start" | "stop" | "reboot" | "delete") {
    setErr(undefined);
    try {
      if (action === "delete") {
        if (!i || !confirm(t("instances.confirmDelete", { name: i.name }))) return;
        await call("DELETE", `/v1/instances/${id}`);
        navigate("/instances");
        return;
      }
      const r = await post<S["InstanceTask"]>(`/v1/instances/${id}/${action}`);
      if (r.task) navigate(`/tasks/${r.task.id}`);
    } catch (e) {
      setErr(e);
    }
  }
  return (
    <Page
      title={i ? i.name : t("nav.instances")}
      actions={
        i && (
          <>
            <button onClick={() => act("start")}>{t("instances.start")}</button>
            <button onClick={() => act("stop")}>{t("instances.stop")}</button>
            <button onClick={() => act("reboot")}>{t("instances.reboot")}</button>
            <a class="button console-link" href={`/instances/${id}/console`}>
              {t("console.open")}
            </a>
            <button class="danger" onClick={() => act("delete")}>
              {t("common.delete")}
            </button>
          </>
        )
      }
    >
      <ProblemView err={inst.err ?? err} />
      {!i && !inst.err && <Loading />}
      {i && (
        <dl class="details">
          <dt>{t("common.id")}</dt>
          <dd>
            <code>{i.id}</code>
          </dd>
          <dt>{t("instances.type")}</dt>
          <dd>{t(`type.${i.spec.type}`)}</dd>
          <dt>{t("instances.state")}</dt>
          <dd>
            <Badge kind="state" value={stateOf(i)} /> {i.status.message}
          </dd>
          <dt>{t("instances.image")}</dt>
          <dd>
            {i.spec.image.name} ({i.spec.image.format})
          </dd>
          <dt>{t("instances.size")}</dt>
          <dd>
            {fmtCPU(i.spec.cpuMilli)} · {fmtBytes(i.spec.memoryBytes)}
          </dd>
          <dt>{t("instances.addresses")}</dt>
          <dd>{(i.status.addresses ?? []).join(", ") || "—"}</dd>
          <dt>{t("instances.disks")}</dt>
          <dd>{(i.spec.disks ?? []).map((d) => `${d.name} ${fmtBytes(d.sizeBytes ?? 0)}`).join(", ") || "—"}</dd>
          <dt>{t("common.created")}</dt>
          <dd>{fmtTime(i.createdAt)}</dd>
        </dl>
      )}
      {i && <Resize inst={i} onDone={inst.reload} />}
      {i && <InstanceExtras inst={i} />}
    </Page>
  );
}
