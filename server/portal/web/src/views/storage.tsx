import { useState } from "preact/hooks";
import { all, call, post, type Host, type Instance, type S, type VDC } from "../api";
import { fmtTime, t } from "../i18n";
import { Badge, Bar, Field, fieldErrors, fmtBytes, FormCard, Options, Page, ProblemView, Table, useLoad } from "../ui";
import { CheckList, Listing, mib, MiB, RowNumberForm, setter, TaskLine, useFollow, useMe } from "./parts";
import "./views.css";

type StoragePool = S["StoragePoolInfo"];
type Volume = S["VolumeInfo"];

// poolHosts are the ids of the hosts that reach a pool.
function poolHosts(p: StoragePool): string[] {
  return p.hostIds ?? p.hosts?.map((h) => h.hostId) ?? [];
}

const poolFields = ["name", "kind", "path", "server", "export", "hostIds", "capacityBytes", "templateLibrary"];

// StoragePools (administrators): the storage pools of the platform with
// their capacity and what OVM allocated in them; register one on hosts,
// change its capacity and template library flag, delete it.
export function StoragePools() {
  const list = useLoad(() => all<StoragePool>("/v1/storage-pools"), []);
  const hosts = useLoad(() => all<Host>("/v1/hosts"), []);
  const [f, setF] = useState({ name: "", kind: "shared", path: "", server: "", export: "", capacity: "", library: false });
  const [hostIds, setHostIds] = useState<string[]>([]);
  const [err, setErr] = useState<unknown>();
  const [actionErr, setActionErr] = useState<unknown>();
  const [adding, setAdding] = useState<Record<string, string>>({});
  const { task, follow } = useFollow(() => list.reload());
  const { fields, rest } = fieldErrors(err, poolFields);
  const set = setter(f, setF);
  const hostName = (id: string) => hosts.data?.find((h) => h.id === id)?.name ?? id;
  async function submit() {
    setErr(undefined);
    const body: S["StoragePoolCreate"] = { name: f.name, kind: f.kind as S["StoragePoolKind"], hostIds, templateLibrary: f.library };
    if (f.path) body.path = f.path;
    if (f.kind === "nfs") Object.assign(body, { server: f.server, export: f.export });
    if (f.capacity) body.capacityBytes = mib(f.capacity) * 1024;
    try {
      const r = await post<S["StoragePoolTask"]>("/v1/storage-pools", body);
      setF({ ...f, name: "", path: "", capacity: "" });
      list.reload();
      follow(r.task);
    } catch (e) {
      setErr(e);
    }
  }
  async function change(p: StoragePool, body: S["StoragePoolPatch"]): Promise<boolean> {
    setActionErr(undefined);
    try {
      const r = await call<S["StoragePoolTask"]>("PATCH", `/v1/storage-pools/${p.id}`, body);
      list.reload();
      follow(r?.task);
      return true;
    } catch (e) {
      setActionErr(e);
      return false;
    }
  }
  async function remove(p: StoragePool) {
    setActionErr(undefined);
    if (!confirm(t("storage.confirmDelete", { name: p.name }))) return;
    try {
      const r = await call<S["StoragePoolTask"] | undefined>("DELETE", `/v1/storage-pools/${p.id}`);
      list.reload();
      follow(r?.task);
    } catch (e) {
      setActionErr(e);
    }
  }
  return (
    <Page title={t("nav.storage")} actions={<button onClick={list.reload}>{t("common.refresh")}</button>}>
      <FormCard id="sp-create" title={t("storage.register")} err={rest} submit={t("storage.registerButton")} onSubmit={submit}>
        <div class="form-grid">
          <Field id="sp-name" label={t("common.name")} error={fields.name}>
            <input id="sp-name" value={f.name} onInput={set("name")} />
          </Field>
          <Field id="sp-kind" label={t("storage.kind")} error={fields.kind}>
            <select id="sp-kind" value={f.kind} onChange={set("kind")}>
              {["local", "shared", "nfs"].map((k) => (
                <option key={k} value={k}>
                  {t(`spKind.${k}` as "spKind.local")}
                </option>
              ))}
            </select>
          </Field>
          <Field id="sp-path" label={t("storage.path")} error={fields.path} hint={t("storage.pathHint")}>
            <input id="sp-path" value={f.path} onInput={set("path")} />
          </Field>
          {f.kind === "nfs" && (
            <>
              <Field id="sp-server" label={t("storage.server")} error={fields.server}>
                <input id="sp-server" value={f.server} onInput={set("server")} />
              </Field>
              <Field id="sp-export" label={t("storage.export")} error={fields.export}>
                <input id="sp-export" value={f.export} onInput={set("export")} />
              </Field>
            </>
          )}
          <Field id="sp-capacity" label={t("storage.capacityGiB")} error={fields.capacityBytes} hint={t("storage.capacityHint")}>
            <input id="sp-capacity" type="number" min="0" value={f.capacity} onInput={set("capacity")} />
          </Field>
        </div>
        <CheckList
          legend={t("storage.hosts")}
          items={hosts.data ?? []}
          chosen={hostIds}
          onChange={setHostIds}
          inputClass="sp-host"
          errorField="sp-hosts"
          error={fields.hostIds}
        />
        <label class="check">
          <input type="checkbox" id="sp-library" checked={f.library} onChange={set("library")} /> {t("storage.templateLibrary")}
        </label>
      </FormCard>
      <TaskLine task={task} />
      <ProblemView err={list.err ?? actionErr} />
      <Listing list={list} empty={t("storage.none")}>
        {(pools) => (
          <Table class="storage-pools" head={[t("common.name"), t("storage.kind"), t("storage.hosts"), t("storage.capacity"), t("storage.flags"), t("common.actions")]}>
            {pools.map((p) => (
              <tr key={p.id} data-name={p.name} data-phase={p.phase}>
                <td>
                  <strong>{p.name}</strong> <Badge kind="state" value={p.phase} />
                  <small class="reason">{p.kind === "nfs" ? `${p.server}:${p.export}` : p.path}</small>
                  {p.message && <small class="reason">{p.message}</small>}
                </td>
                <td>{t(`spKind.${p.kind}`)}</td>
                <td class="pool-hosts">{poolHosts(p).map(hostName).join(", ")}</td>
                <td class="capacity">
                  <Bar label={t("storage.allocated")} used={p.allocatedBytes} total={p.declaredCapacityBytes || p.capacityBytes} fmt={fmtBytes} />
                  <Bar label={t("storage.used")} used={p.usedBytes} total={p.capacityBytes} fmt={fmtBytes} />
                  {p.declaredCapacityBytes > 0 && <small class="reason declared">{t("storage.declared", { size: fmtBytes(p.declaredCapacityBytes) })}</small>}
                </td>
                <td>
                  <ul class="plain">
                    <li>{p.kind === "local" ? t("storage.notShared") : t("storage.shared")}</li>
                    {p.templateLibrary && <li class="library">{t("storage.templateLibrary")}</li>}
                    {p.discovered && <li>{t("storage.discovered")}</li>}
                  </ul>
                </td>
                <td class="row-actions">
                  {p.kind !== "local" && (hosts.data ?? []).some((h) => !poolHosts(p).includes(h.id)) && (
                    <span class="inline-form">
                      <label class="sr-only" for={`add-${p.id}`}>
                        {t("storage.addHostTo", { name: p.name })}
                      </label>
                      <select id={`add-${p.id}`} class="add-host" value={adding[p.id] ?? ""} onChange={(e) => setAdding({ ...adding, [p.id]: e.currentTarget.value })}>
                        <option value="">{t("storage.chooseHost")}</option>
                        <Options items={hosts.data?.filter((h) => !poolHosts(p).includes(h.id))} />
                      </select>
                      <button class="add-host" onClick={() => adding[p.id] && change(p, { hostIds: [...poolHosts(p), adding[p.id]] })}>
                        {t("storage.addHost")}
                      </button>
                    </span>
                  )}
                  <button class="library-toggle" onClick={() => change(p, { templateLibrary: !p.templateLibrary })} aria-label={t(p.templateLibrary ? "storage.libraryOffOne" : "storage.libraryOnOne", { name: p.name })}>
                    {t(p.templateLibrary ? "storage.libraryOff" : "storage.libraryOn")}
                  </button>
                  <RowNumberForm
                    id={`cap-${p.id}`}
                    label={t("storage.capacityOf", { name: p.name })}
                    inputClass="capacity-input"
                    placeholder={String(+(p.declaredCapacityBytes / (1024 * MiB)).toFixed(2))}
                    button={t("storage.setCapacity")}
                    onSubmit={(v) => change(p, { capacityBytes: mib(v) * 1024 })}
                  />
                  <button class="danger" onClick={() => remove(p)} aria-label={t("storage.deleteOne", { name: p.name })}>
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

const volumeFields = ["name", "sizeBytes", "storagePoolId", "vdcId"];

// Volumes: the VDC's volumes (administrators: every VDC's, and the pool
// to make one in); create, attach to a VM, detach, resize, delete.
export function Volumes() {
  const me = useMe();
  const admin = me?.role === "admin";
  const list = useLoad(() => all<Volume>("/v1/volumes"), []);
  const insts = useLoad(() => all<Instance>("/v1/instances"), []);
  const pools = useLoad(() => (admin ? all<StoragePool>("/v1/storage-pools") : Promise.resolve([] as StoragePool[])), [admin]);
  const vdcs = useLoad(() => (admin ? all<VDC>("/v1/vdcs") : Promise.resolve([] as VDC[])), [admin]);
  const [f, setF] = useState({ name: "", size: "64", pool: "", vdc: "" });
  const [err, setErr] = useState<unknown>();
  const [actionErr, setActionErr] = useState<unknown>();
  const [target, setTarget] = useState<Record<string, string>>({});
  const { task, follow } = useFollow(() => list.reload());
  const { fields, rest } = fieldErrors(err, volumeFields);
  const set = setter(f, setF);
  const instName = (id?: string) => (id ? (insts.data?.find((i) => i.id === id)?.name ?? id) : "");
  const vdcId = f.vdc || vdcs.data?.[0]?.id || "";
  async function submit() {
    setErr(undefined);
    const body: S["VolumeCreate"] = { name: f.name, sizeBytes: mib(f.size) };
    if (admin) {
      body.vdcId = vdcId;
      if (f.pool) body.storagePoolId = f.pool;
    }
    try {
      const r = await post<S["VolumeTask"]>("/v1/volumes", body);
      setF({ ...f, name: "" });
      list.reload();
      follow(r.task);
    } catch (e) {
      setErr(e);
    }
  }
  async function act(run: () => Promise<S["VolumeTask"] | undefined>): Promise<boolean> {
    setActionErr(undefined);
    try {
      const r = await run();
      list.reload();
      follow(r?.task);
      return true;
    } catch (e) {
      setActionErr(e);
      return false;
    }
  }
  const vms = (v: Volume) => (insts.data ?? []).filter((i) => !admin || i.vdcId === v.vdcId);
  return (
    <Page title={t("nav.volumes")} actions={<button onClick={list.reload}>{t("common.refresh")}</button>}>
      <FormCard id="vol-create" title={t("volumes.create")} err={rest} submit={t("common.create")} onSubmit={submit}>
        <div class="form-grid">
          <Field id="vol-name" label={t("common.name")} error={fields.name}>
            <input id="vol-name" value={f.name} onInput={set("name")} />
          </Field>
          <Field id="vol-size" label={t("volumes.sizeMiB")} error={fields.sizeBytes}>
            <input id="vol-size" type="number" min="1" value={f.size} onInput={set("size")} />
          </Field>
          {admin && (
            <>
              <Field id="vol-vdc" label={t("audit.vdc")} error={fields.vdcId}>
                <select id="vol-vdc" value={vdcId} onChange={set("vdc")}>
                  <Options items={vdcs.data} />
                </select>
              </Field>
              <Field id="vol-pool" label={t("volumes.pool")} error={fields.storagePoolId}>
                <select id="vol-pool" value={f.pool} onChange={set("pool")}>
                  <option value="">{t("volumes.defaultPool")}</option>
                  <Options items={pools.data} />
                </select>
              </Field>
            </>
          )}
        </div>
      </FormCard>
      <TaskLine task={task} />
      <ProblemView err={list.err ?? actionErr} />
      <Listing list={list} empty={t("volumes.none")}>
        {(vols) => (
          <Table class="volumes" head={[t("common.name"), t("volumes.size"), t("instances.state"), t("volumes.attachedTo"), t("common.created"), t("common.actions")]}>
            {vols.map((v) => (
              <tr key={v.id} data-name={v.name} data-phase={v.phase}>
                <td>
                  <strong>{v.name}</strong>
                  {admin && <small class="reason">{pools.data?.find((p) => p.id === v.storagePoolId)?.name}</small>}
                  {v.message && <small class="reason">{v.message}</small>}
                </td>
                <td>{fmtBytes(v.sizeBytes)}</td>
                <td>
                  <Badge kind="state" value={v.phase} />
                </td>
                <td class="attached">{v.attachedTo ? <a href={`/instances/${v.attachedTo}`}>{instName(v.attachedTo)}</a> : "—"}</td>
                <td>{fmtTime(v.createdAt)}</td>
                <td class="row-actions">
                  {v.attachedTo ? (
                    <button class="detach" onClick={() => act(() => post(`/v1/volumes/${v.id}/detach`))} aria-label={t("volumes.detachOne", { name: v.name })}>
                      {t("volumes.detach")}
                    </button>
                  ) : (
                    <span class="inline-form">
                      <label class="sr-only" for={`att-${v.id}`}>
                        {t("volumes.attachTo", { name: v.name })}
                      </label>
                      <select id={`att-${v.id}`} class="attach-target" value={target[v.id] ?? ""} onChange={(e) => setTarget({ ...target, [v.id]: e.currentTarget.value })}>
                        <option value="">{t("volumes.chooseInstance")}</option>
                        {vms(v).map((i) => (
                          <option key={i.id} value={i.id}>
                            {i.name} ({t(`type.${i.spec.type}`)})
                          </option>
                        ))}
                      </select>
                      <button class="attach" onClick={() => act(() => post(`/v1/volumes/${v.id}/attach`, { instanceId: target[v.id] ?? "" }))} aria-label={t("volumes.attachOne", { name: v.name })}>
                        {t("volumes.attach")}
                      </button>
                    </span>
                  )}
                  <RowNumberForm
                    id={`size-${v.id}`}
                    label={t("volumes.newSize", { name: v.name })}
                    inputClass="size-input"
                    buttonClass="resize"
                    placeholder={String(v.sizeBytes / MiB)}
                    button={t("volumes.resize")}
                    onSubmit={(n) => act(() => call("PATCH", `/v1/volumes/${v.id}`, { sizeBytes: mib(n) }))}
                  />
                  <button
                    class="danger"
                    onClick={() => confirm(t("volumes.confirmDelete", { name: v.name })) && act(() => call("DELETE", `/v1/volumes/${v.id}`))}
                    aria-label={t("volumes.deleteOne", { name: v.name })}
                  >
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
