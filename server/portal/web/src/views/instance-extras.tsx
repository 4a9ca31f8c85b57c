// The panels an instance's page gains from storage, metrics and Chef: its
// snapshots, its migration, its charts and its Chef node.
import { useState } from "preact/hooks";
import { all, get, post, type Host, type Instance, type S } from "../api";
import { t } from "../i18n";
import { Empty, Field, fieldErrors, FormCard, Options, ProblemView, useLoad } from "../ui";
import { setter, TaskLine, useFollow, useMe } from "./parts";
import { MetricCharts } from "./metrics";
import { SnapshotTable } from "./snapshots";
import { CommitImage } from "./conversions";
import "./views.css";

export function InstanceExtras({ inst }: { inst: Instance }) {
  return (
    <>
      <MetricCharts path={`/v1/instances/${inst.id}/metrics`} />
      <InstanceSnapshots inst={inst} />
      <Migrate inst={inst} />
      {inst.spec.type === "container" && <CommitImage inst={inst} />}
    </>
  );
}

function InstanceSnapshots({ inst }: { inst: Instance }) {
  const list = useLoad(() => all<S["SnapshotInfo"]>(`/v1/instances/${inst.id}/snapshots`), [inst.id]);
  const [name, setName] = useState("");
  const [err, setErr] = useState<unknown>();
  const [actionErr, setActionErr] = useState<unknown>();
  const { task, follow } = useFollow(() => list.reload());
  const { fields, rest } = fieldErrors(err, ["name"]);
  async function submit() {
    setErr(undefined);
    try {
      const r = await post<S["SnapshotTask"]>(`/v1/instances/${inst.id}/snapshots`, { name });
      setName("");
      list.reload();
      follow(r.task);
    } catch (e) {
      setErr(e);
    }
  }
  return (
    <section class="card sub" aria-labelledby="inst-snapshots">
      <h2 id="inst-snapshots">{t("nav.snapshots")}</h2>
      <form
        class="inline-form"
        aria-label={t("snapshots.create")}
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
        noValidate
      >
        <Field id="isnap-name" label={t("snapshots.name")} error={fields.name}>
          <input id="isnap-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <button type="submit" class="primary">
          {t("snapshots.take")}
        </button>
      </form>
      <ProblemView err={rest ?? list.err ?? actionErr} />
      <TaskLine task={task} />
      {list.data && list.data.length === 0 && <Empty text={t("snapshots.none")} />}
      {list.data && list.data.length > 0 && (
        <SnapshotTable
          items={list.data}
          onErr={setActionErr}
          onTask={(k) => {
            list.reload();
            follow(k);
          }}
        />
      )}
    </section>
  );
}

const migrateFields = ["mode", "hostId", "storagePoolId"];

// Migrate moves the instance: placement picks the host unless an
// administrator names one; the task's progress shows live, with cancel.
function Migrate({ inst }: { inst: Instance }) {
  const me = useMe();
  const admin = me?.role === "admin";
  const hosts = useLoad(() => (admin ? all<Host>("/v1/hosts") : Promise.resolve([] as Host[])), [admin]);
  const pools = useLoad(() => (admin ? all<S["StoragePoolInfo"]>("/v1/storage-pools") : Promise.resolve([] as S["StoragePoolInfo"][])), [admin]);
  const where = useLoad(() => (admin ? get<Instance>(`/v1/instances/${inst.id}`) : Promise.resolve(inst)), [admin, inst.id]);
  const [f, setF] = useState({ mode: "", hostId: "", storagePoolId: "" });
  const [err, setErr] = useState<unknown>();
  const [cancelErr, setCancelErr] = useState<unknown>();
  const { task, follow } = useFollow(() => where.reload());
  const { fields, rest } = fieldErrors(err, migrateFields);
  const set = setter(f, setF);
  const running = task && (task.state === "pending" || task.state === "running");
  const hostId = where.data?.status.hostId;
  async function submit() {
    setErr(undefined);
    setCancelErr(undefined);
    const body: S["InstanceMigrate"] = {};
    for (const k of migrateFields as Array<keyof typeof f>) if (f[k]) body[k] = f[k];
    try {
      const r = await post<S["InstanceTask"]>(`/v1/instances/${inst.id}/migrate`, body);
      follow(r.task);
    } catch (e) {
      setErr(e);
    }
  }
  async function cancel() {
    setCancelErr(undefined);
    try {
      await post(`/v1/instances/${inst.id}/migrate/cancel`);
    } catch (e) {
      setCancelErr(e);
    }
  }
  return (
    <FormCard id="migrate-title" title={t("migrate.title")} err={rest} submit={t("migrate.start")} onSubmit={submit} busy={running} class="sub migrate">
      {admin && hostId && (
        <p class="current-host">
          {t("migrate.currentHost")} <strong>{hosts.data?.find((h) => h.id === hostId)?.name ?? hostId}</strong>
        </p>
      )}
      <div class="form-grid">
        <Field id="mig-mode" label={t("migrate.mode")} error={fields.mode}>
          <select id="mig-mode" value={f.mode} onChange={set("mode")}>
            <option value="">{t("migrate.modeAuto")}</option>
            {["live", "shared-nothing", "storage", "cold"].map((m) => (
              <option key={m} value={m}>
                {t(`migrateMode.${m}` as "migrateMode.live")}
              </option>
            ))}
          </select>
        </Field>
        {admin && (
          <>
            <Field id="mig-host" label={t("migrate.target")} error={fields.hostId}>
              <select id="mig-host" value={f.hostId} onChange={set("hostId")}>
                <option value="">{t("migrate.placement")}</option>
                <Options items={hosts.data?.filter((h) => h.id !== hostId)} />
              </select>
            </Field>
            <Field id="mig-pool" label={t("volumes.pool")} error={fields.storagePoolId}>
              <select id="mig-pool" value={f.storagePoolId} onChange={set("storagePoolId")}>
                <option value="">{t("migrate.samePool")}</option>
                <Options items={pools.data} />
              </select>
            </Field>
          </>
        )}
      </div>
      {!admin && <p class="hint">{t("migrate.tenantHint")}</p>}
      <TaskLine task={task}>
        {running && (
          <button type="button" class="danger cancel-migration" onClick={cancel}>
            {t("migrate.cancel")}
          </button>
        )}
      </TaskLine>
      <ProblemView err={cancelErr} />
    </FormCard>
  );
}
