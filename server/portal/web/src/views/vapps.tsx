// vApps (tenants): several instances deployed as one, with each member's
// state; deploy, start, stop and delete as a unit.
import { useEffect, useState } from "preact/hooks";
import { all, post, type S } from "../api";
import { fmtTime, t } from "../i18n";
import { Badge, Field, fieldErrors, FormCard, Page, ProblemView, Table, useLoad } from "../ui";
import { deleteConfirmed, Listing, mib, TaskLine, useFollow } from "./parts";

type VApp = S["VAppInfo"];

// memberSpec is one member's spec from the form: a container image or a
// VM template, with its size.
function memberSpec(f: { type: string; image: string; cpu: string; memory: string }): S["InstanceSpecInput"] {
  return {
    type: f.type as S["InstanceSpecInput"]["type"],
    image: { name: f.image, format: f.type === "container" ? "oci" : "qcow2" },
    cpuMilli: Math.round(Number(f.cpu) * 1000),
    memoryBytes: mib(f.memory),
  };
}

// groupOf is a member's start group (0: the first, with every member
// that names none).
function groupOf(v: VApp, member: string): number {
  return v.members?.find((x) => x.name === member)?.startGroup ?? 0;
}

export function VApps() {
  const list = useLoad(() => all<VApp>("/v1/vapps"), []);
  const [f, setF] = useState({
    name: "", members: "2", type: "container", image: "", cpu: "0.1", memory: "64",
    antiAffinity: false, sequential: false, delay: "0", partial: false,
  });
  const [err, setErr] = useState<unknown>();
  const [actionErr, setActionErr] = useState<unknown>();
  const { task, follow } = useFollow(() => list.reload());
  // A vApp being made, started or stopped is read again until it settles:
  // its members start together once the last one is made.
  useEffect(() => {
    if (!(list.data ?? []).some((v) => v.phase === "creating" || v.taskId)) return;
    const h = setTimeout(() => list.reload(), 1000);
    return () => clearTimeout(h);
  }, [list.data]);
  const { fields, rest } = fieldErrors(err, ["name", "members", "antiAffinity", "startDelaySeconds", "partial"]);
  const specErr = Object.entries(fields).find(([k]) => k.startsWith("members["))?.[1];
  async function deploy() {
    setErr(undefined);
    const n = Math.max(0, Math.floor(Number(f.members)));
    const members = Array.from({ length: n }, (_, i) => ({
      name: `${f.name}-${i + 1}`, spec: memberSpec(f), startGroup: f.sequential ? i + 1 : 0,
    }));
    try {
      const r = await post<S["VAppTasks"]>("/v1/vapps", {
        name: f.name, members, antiAffinity: f.antiAffinity, partial: f.partial, startDelaySeconds: Math.floor(Number(f.delay)),
      });
      list.reload();
      follow(r.tasks?.[r.tasks.length - 1]);
    } catch (e) {
      setErr(e);
    }
  }
  async function power(v: VApp, action: "start" | "stop") {
    setActionErr(undefined);
    try {
      const r = await post<S["VAppTask"]>(`/v1/vapps/${v.id}/${action}`);
      list.reload();
      follow(r.task);
    } catch (e) {
      setActionErr(e);
    }
  }
  const remove = (v: VApp) => deleteConfirmed(t("vapps.confirmDelete", { name: v.name }), `/v1/vapps/${v.id}`, setActionErr, list.reload);
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  return (
    <Page title={t("nav.vapps")}>
      <FormCard id="vapp-create" title={t("vapps.deploy")} err={rest} submit={t("vapps.deployOne")} onSubmit={deploy}>
        <div class="form-grid">
          <Field id="vapp-name" label={t("common.name")} error={fields.name}>
            <input id="vapp-name" value={f.name} onInput={set("name")} />
          </Field>
          <Field id="vapp-members" label={t("vapps.members")} error={fields.members}>
            <input id="vapp-members" type="number" min="1" value={f.members} onInput={set("members")} />
          </Field>
          <Field id="vapp-type" label={t("instances.type")}>
            <select id="vapp-type" value={f.type} onChange={set("type")}>
              <option value="container">{t("type.container")}</option>
              <option value="vm">{t("type.vm")}</option>
            </select>
          </Field>
          <Field id="vapp-image" label={t("instances.image")} error={specErr} hint={t("instances.imageHint")}>
            <input id="vapp-image" value={f.image} onInput={set("image")} />
          </Field>
          <Field id="vapp-cpu" label={t("instances.cpu")}>
            <input id="vapp-cpu" type="number" step="0.1" min="0" value={f.cpu} onInput={set("cpu")} />
          </Field>
          <Field id="vapp-memory" label={t("instances.memory")}>
            <input id="vapp-memory" type="number" min="1" value={f.memory} onInput={set("memory")} />
          </Field>
          <Field id="vapp-delay" label={t("vapps.delay")} error={fields.startDelaySeconds} hint={t("vapps.delayHint")}>
            <input id="vapp-delay" type="number" min="0" max="600" value={f.delay} onInput={set("delay")} />
          </Field>
        </div>
        <label class="check">
          <input id="vapp-sequential" type="checkbox" checked={f.sequential} onChange={(e) => setF({ ...f, sequential: e.currentTarget.checked })} /> {t("vapps.sequential")}
        </label>
        <label class="check">
          <input id="vapp-partial" type="checkbox" checked={f.partial} onChange={(e) => setF({ ...f, partial: e.currentTarget.checked })} /> {t("vapps.partial")}
        </label>
        <label class="check">
          <input type="checkbox" checked={f.antiAffinity} onChange={(e) => setF({ ...f, antiAffinity: e.currentTarget.checked })} /> {t("vapps.antiAffinity")}
        </label>
      </FormCard>
      <TaskLine task={task} />
      <ProblemView err={list.err ?? actionErr} />
      <Listing list={list} empty={t("vapps.none")}>
        {(items) => (
          <Table head={[t("common.name"), t("vapps.phase"), t("vapps.members"), t("vapps.antiAffinity"), t("common.created"), t("common.actions")]}>
            {items.map((v) => (
              <tr key={v.id} data-name={v.name}>
                <td>{v.name}</td>
                <td>
                  <Badge kind="state" value={v.phase} />
                  {v.message && <small class="vapp-message"> {v.message}</small>}
                </td>
                <td>
                  <ul class="plain">
                    {(v.memberStatus ?? []).map((m) => (
                      <li key={m.instanceId}>
                        <a href={`/instances/${m.instanceId}`}>{m.name}</a>{" "}
                        {groupOf(v, m.name) > 0 && <small>{t("vapps.group", { n: groupOf(v, m.name) })} </small>}
                        <Badge kind="state" value={m.phase === "ready" ? m.power : m.phase} />
                        {m.message && <small> {m.message}</small>}
                      </li>
                    ))}
                  </ul>
                </td>
                <td>{v.antiAffinity ? t("common.yes") : t("common.no")}</td>
                <td>{fmtTime(v.createdAt)}</td>
                <td>
                  <button onClick={() => power(v, "start")} disabled={v.phase !== "ready" || !!v.taskId} aria-label={t("vapps.startOne", { name: v.name })}>
                    {t("instances.start")}
                  </button>{" "}
                  <button onClick={() => power(v, "stop")} disabled={v.phase !== "ready" || !!v.taskId} aria-label={t("vapps.stopOne", { name: v.name })}>
                    {t("instances.stop")}
                  </button>{" "}
                  <button class="danger" onClick={() => remove(v)} aria-label={t("vapps.deleteOne", { name: v.name })}>
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
