import { useState } from "preact/hooks";
import { all, call, post, type Instance, type S, type Task } from "../api";
import { fmtTime, t } from "../i18n";
import { Badge, Empty, Field, fieldErrors, fmtBytes, FormCard, Loading, Page, ProblemView, Table, useLoad } from "../ui";
import { TaskLine, useFollow } from "./parts";
import "./views.css";

type Snapshot = S["SnapshotInfo"];

// snapshotPath is the API path of a snapshot, under its instance or its
// volume.
function snapshotPath(s: Snapshot): string {
  return s.instanceId ? `/v1/instances/${s.instanceId}/snapshots/${s.id}` : `/v1/volumes/${s.volumeId}/snapshots/${s.id}`;
}

// SnapshotTable lists snapshots with what they are of, revert and delete;
// a started task goes to onTask.
export function SnapshotTable(props: { items: Snapshot[]; of?: (s: Snapshot) => string; onTask: (k?: Task) => void; onErr: (e: unknown) => void }) {
  async function act(s: Snapshot, what: "revert" | "delete") {
    props.onErr(undefined);
    const q = what === "revert" ? "snapshots.confirmRevert" : "snapshots.confirmDelete";
    if (!confirm(t(q, { name: s.name }))) return;
    try {
      const r = what === "revert" ? await post<S["SnapshotTask"]>(snapshotPath(s) + "/revert") : await call<S["SnapshotTask"] | undefined>("DELETE", snapshotPath(s));
      props.onTask(r?.task);
    } catch (e) {
      props.onErr(e);
    }
  }
  const head = [t("common.name"), ...(props.of ? [t("snapshots.of")] : []), t("instances.state"), t("volumes.size"), t("common.created"), t("common.actions")];
  return (
    <Table class="snapshots" head={head}>
      {props.items.map((s) => (
        <tr key={s.id} data-name={s.name} data-phase={s.phase}>
          <td>
            <strong>{s.name}</strong>
            {s.memory && <small class="reason">{t("snapshots.withMemory")}</small>}
            {s.message && <small class="reason">{s.message}</small>}
          </td>
          {props.of && <td>{props.of(s)}</td>}
          <td>
            <Badge kind="state" value={s.phase} />
          </td>
          <td>{fmtBytes(s.sizeBytes)}</td>
          <td>{fmtTime(s.createdAt)}</td>
          <td class="row-actions">
            <button class="revert" onClick={() => act(s, "revert")} aria-label={t("snapshots.revertOne", { name: s.name })}>
              {t("snapshots.revert")}
            </button>
            <button class="danger" onClick={() => act(s, "delete")} aria-label={t("snapshots.deleteOne", { name: s.name })}>
              {t("common.delete")}
            </button>
          </td>
        </tr>
      ))}
    </Table>
  );
}

// Snapshots: the VDC's snapshots of instances and volumes; take one of
// either, revert to one, delete one.
export function Snapshots() {
  const list = useLoad(() => all<Snapshot>("/v1/snapshots"), []);
  const insts = useLoad(() => all<Instance>("/v1/instances"), []);
  const vols = useLoad(() => all<S["VolumeInfo"]>("/v1/volumes"), []);
  const [f, setF] = useState({ of: "", name: "" });
  const [err, setErr] = useState<unknown>();
  const [actionErr, setActionErr] = useState<unknown>();
  const { task, follow } = useFollow(() => list.reload());
  const { fields, rest } = fieldErrors(err, ["name"]);
  const of = (s: Snapshot) =>
    s.instanceId
      ? t("snapshots.ofInstance", { name: insts.data?.find((i) => i.id === s.instanceId)?.name ?? s.instanceId })
      : t("snapshots.ofVolume", { name: vols.data?.find((v) => v.id === s.volumeId)?.name ?? s.volumeId ?? "" });
  const target = f.of || (insts.data?.[0] ? "i:" + insts.data[0].id : "");
  async function submit() {
    setErr(undefined);
    const [kind, id] = target.split(":");
    try {
      const r = await post<S["SnapshotTask"]>(`/v1/${kind === "v" ? "volumes" : "instances"}/${id}/snapshots`, { name: f.name });
      setF({ ...f, name: "" });
      list.reload();
      follow(r.task);
    } catch (e) {
      setErr(e);
    }
  }
  return (
    <Page title={t("nav.snapshots")} actions={<button onClick={list.reload}>{t("common.refresh")}</button>}>
      <FormCard id="snap-create" title={t("snapshots.create")} err={rest} submit={t("snapshots.take")} onSubmit={submit}>
        <div class="form-grid">
          <Field id="snap-of" label={t("snapshots.of")}>
            <select id="snap-of" value={target} onChange={(e) => setF({ ...f, of: e.currentTarget.value })}>
              <optgroup label={t("nav.instances")}>
                {(insts.data ?? []).map((i) => (
                  <option key={i.id} value={"i:" + i.id}>
                    {i.name}
                  </option>
                ))}
              </optgroup>
              <optgroup label={t("nav.volumes")}>
                {(vols.data ?? []).map((v) => (
                  <option key={v.id} value={"v:" + v.id}>
                    {v.name}
                  </option>
                ))}
              </optgroup>
            </select>
          </Field>
          <Field id="snap-name" label={t("common.name")} error={fields.name}>
            <input id="snap-name" value={f.name} onInput={(e) => setF({ ...f, name: e.currentTarget.value })} />
          </Field>
        </div>
      </FormCard>
      <TaskLine task={task} />
      <ProblemView err={list.err ?? actionErr} />
      {!list.data && !list.err && <Loading />}
      {list.data && list.data.length === 0 && <Empty text={t("snapshots.none")} />}
      {list.data && list.data.length > 0 && (
        <SnapshotTable
          items={list.data}
          of={of}
          onErr={setActionErr}
          onTask={(k) => {
            list.reload();
            follow(k);
          }}
        />
      )}
    </Page>
  );
}
