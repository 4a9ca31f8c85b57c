import { useState } from "preact/hooks";
import { all, post, put, type Pool, type S, type VDC } from "../api";
import { t } from "../i18n";
import { Bar, Empty, Field, fieldErrors, fmtBytes, fmtCount, fmtCPU, FormCard, Loading, Options, Page, ProblemView, Table, useLoad } from "../ui";

// Pools (administrators): datacenters and the resource pools in them.
export function Pools() {
  const dcs = useLoad(() => all<S["Datacenter"]>("/v1/datacenters"), []);
  const list = useLoad(() => all<Pool>("/v1/pools"), []);
  const [dc, setDc] = useState({ name: "", description: "" });
  const [dcErr, setDcErr] = useState<unknown>();
  const [p, setP] = useState({ name: "", datacenterId: "", policy: "PERFORMANCE", ha: false });
  const [err, setErr] = useState<unknown>();
  const dcF = fieldErrors(dcErr, ["name", "description"]);
  const pF = fieldErrors(err, ["name", "datacenterId", "policy", "haEnabled"]);
  const datacenterId = p.datacenterId || dcs.data?.[0]?.id || "";
  const dcName = (id: string) => dcs.data?.find((d) => d.id === id)?.name ?? "";
  async function createDc() {
    setDcErr(undefined);
    try {
      await post("/v1/datacenters", dc.description ? dc : { name: dc.name });
      setDc({ name: "", description: "" });
      dcs.reload();
    } catch (e) {
      setDcErr(e);
    }
  }
  async function createPool() {
    setErr(undefined);
    try {
      await post("/v1/pools", { name: p.name, datacenterId, policy: p.policy, haEnabled: p.ha });
      setP({ ...p, name: "" });
      list.reload();
    } catch (e) {
      setErr(e);
    }
  }
  return (
    <Page title={t("nav.pools")}>
      <div class="grid">
        <FormCard id="dc-create" title={t("pools.newDatacenter")} err={dcF.rest} submit={t("common.create")} onSubmit={createDc}>
          <Field id="dc-name" label={t("common.name")} error={dcF.fields.name}>
            <input id="dc-name" value={dc.name} onInput={(e) => setDc({ ...dc, name: e.currentTarget.value })} />
          </Field>
          <Field id="dc-desc" label={t("pools.description")} error={dcF.fields.description}>
            <input id="dc-desc" value={dc.description} onInput={(e) => setDc({ ...dc, description: e.currentTarget.value })} />
          </Field>
        </FormCard>
        <FormCard id="pool-create" title={t("pools.newPool")} err={pF.rest} submit={t("common.create")} onSubmit={createPool}>
          <Field id="pool-name" label={t("common.name")} error={pF.fields.name}>
            <input id="pool-name" value={p.name} onInput={(e) => setP({ ...p, name: e.currentTarget.value })} />
          </Field>
          <Field id="pool-dc" label={t("pools.datacenter")} error={pF.fields.datacenterId}>
            <select id="pool-dc" value={datacenterId} onChange={(e) => setP({ ...p, datacenterId: e.currentTarget.value })}>
              <Options items={dcs.data} />
            </select>
          </Field>
          <Field id="pool-policy" label={t("pools.policy")} error={pF.fields.policy}>
            <select id="pool-policy" value={p.policy} onChange={(e) => setP({ ...p, policy: e.currentTarget.value })}>
              <option value="PERFORMANCE">{t("policy.PERFORMANCE")}</option>
              <option value="PROGRESSIVE">{t("policy.PROGRESSIVE")}</option>
            </select>
          </Field>
          <label class="check">
            <input type="checkbox" checked={p.ha} onChange={(e) => setP({ ...p, ha: e.currentTarget.checked })} /> {t("pools.ha")}
          </label>
        </FormCard>
      </div>
      <ProblemView err={list.err ?? dcs.err} />
      {!list.data && !list.err && <Loading />}
      {list.data && list.data.length === 0 && <Empty text={t("pools.none")} />}
      {list.data && list.data.length > 0 && (
        <Table head={[t("common.name"), t("pools.datacenter"), t("pools.policy"), t("pools.overcommit"), t("pools.ha")]}>
            {list.data.map((x) => (
              <tr key={x.id} data-name={x.name}>
                <td>{x.name}</td>
                <td>{dcName(x.datacenterId)}</td>
                <td>{t(`policy.${x.policy}`)}</td>
                <td>
                  CPU ×{x.overcommit.cpu ?? 1} · {t("quota.memory")} ×{x.overcommit.memory ?? 1}
                </td>
                <td>{x.haEnabled ? t("common.yes") : t("common.no")}</td>
              </tr>
            ))}
          </Table>
      )}
    </Page>
  );
}

const quotaKeys = ["instances", "cpuMilli", "memoryBytes", "diskBytes", "networks"] as const;
type QuotaForm = { instances: string; cpu: string; memory: string; disk: string; networks: string };
const emptyQuota: QuotaForm = { instances: "10", cpu: "8", memory: "16", disk: "200", networks: "4" };

function quotaInput(q: QuotaForm): S["QuotaInput"] {
  return {
    instances: Number(q.instances),
    cpuMilli: Math.round(Number(q.cpu) * 1000),
    memoryBytes: Math.round(Number(q.memory) * 2 ** 30),
    diskBytes: Math.round(Number(q.disk) * 2 ** 30),
    networks: Number(q.networks),
  };
}

function QuotaFields({ id, q, set, errors }: { id: string; q: QuotaForm; set: (q: QuotaForm) => void; errors: Record<string, string> }) {
  const f = (k: keyof QuotaForm, label: string, err?: string) => (
    <Field id={`${id}-${k}`} label={label} error={err}>
      <input id={`${id}-${k}`} type="number" min="0" value={q[k]} onInput={(e) => set({ ...q, [k]: e.currentTarget.value })} />
    </Field>
  );
  return (
    <div class="form-grid">
      {f("instances", t("quota.instances"), errors["quota.instances"])}
      {f("cpu", t("quota.cpuCores"), errors["quota.cpuMilli"])}
      {f("memory", t("quota.memoryGiB"), errors["quota.memoryBytes"])}
      {f("disk", t("quota.diskGiB"), errors["quota.diskBytes"])}
      {f("networks", t("quota.networks"), errors["quota.networks"])}
    </div>
  );
}

// VDCs (administrators): the tenants' virtual datacenters with their
// quotas and usage; a quota is changed in place.
export function VDCs() {
  const list = useLoad(() => all<VDC>("/v1/vdcs"), []);
  const pools = useLoad(() => all<Pool>("/v1/pools"), []);
  const [name, setName] = useState("");
  const [poolId, setPoolId] = useState("");
  const [q, setQ] = useState(emptyQuota);
  const [err, setErr] = useState<unknown>();
  const [editing, setEditing] = useState<string>();
  const [eq, setEq] = useState(emptyQuota);
  const [editErr, setEditErr] = useState<unknown>();
  const fe = fieldErrors(err, ["name", "poolId", ...quotaKeys.map((k) => "quota." + k)]);
  const ee = fieldErrors(editErr, quotaKeys.map((k) => "quota." + k));
  const pool = poolId || pools.data?.[0]?.id || "";
  async function create() {
    setErr(undefined);
    try {
      await post<VDC>("/v1/vdcs", { name, poolId: pool, quota: quotaInput(q) });
      setName("");
      list.reload();
    } catch (e) {
      setErr(e);
    }
  }
  function edit(v: VDC) {
    setEditErr(undefined);
    setEditing(v.id);
    setEq({
      instances: String(v.quota.instances),
      cpu: String(v.quota.cpuMilli / 1000),
      memory: String(v.quota.memoryBytes / 2 ** 30),
      disk: String(v.quota.diskBytes / 2 ** 30),
      networks: String(v.quota.networks),
    });
  }
  async function saveQuota(e: Event) {
    e.preventDefault();
    setEditErr(undefined);
    try {
      await put(`/v1/vdcs/${editing}/quota`, { quota: quotaInput(eq) });
      setEditing(undefined);
      list.reload();
    } catch (e) {
      setEditErr(e);
    }
  }
  return (
    <Page title={t("nav.vdcs")}>
      <FormCard id="vdc-create" title={t("vdcs.create")} err={fe.rest} submit={t("common.create")} onSubmit={create}>
        <div class="form-grid">
          <Field id="vdc-name" label={t("common.name")} error={fe.fields.name}>
            <input id="vdc-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </Field>
          <Field id="vdc-pool" label={t("hosts.pool")} error={fe.fields.poolId}>
            <select id="vdc-pool" value={pool} onChange={(e) => setPoolId(e.currentTarget.value)}>
              <Options items={pools.data} />
            </select>
          </Field>
        </div>
        <QuotaFields id="vdc-q" q={q} set={setQ} errors={fe.fields} />
      </FormCard>
      <ProblemView err={list.err} />
      {!list.data && !list.err && <Loading />}
      {list.data && list.data.length === 0 && <Empty text={t("vdcs.none")} />}
      <div class="grid">
        {(list.data ?? []).map((v) => (
          <section class="card vdc" key={v.id} data-name={v.name} aria-labelledby={`vdc-${v.id}`}>
            <h2 id={`vdc-${v.id}`}>{v.name}</h2>
            <Bar label={t("quota.instances")} used={v.usage.instances} total={v.quota.instances} fmt={fmtCount} />
            <Bar label={t("quota.cpu")} used={v.usage.cpuMilli} total={v.quota.cpuMilli} fmt={fmtCPU} />
            <Bar label={t("quota.memory")} used={v.usage.memoryBytes} total={v.quota.memoryBytes} fmt={fmtBytes} />
            <Bar label={t("quota.disk")} used={v.usage.diskBytes} total={v.quota.diskBytes} fmt={fmtBytes} />
            <Bar label={t("quota.networks")} used={v.usage.networks} total={v.quota.networks} fmt={fmtCount} />
            {editing === v.id ? (
              <form onSubmit={saveQuota} noValidate>
                <ProblemView err={ee.rest} />
                <QuotaFields id={`q-${v.id}`} q={eq} set={setEq} errors={ee.fields} />
                <div class="form-actions">
                  <button type="submit" class="primary">
                    {t("common.save")}
                  </button>
                  <button type="button" onClick={() => setEditing(undefined)}>
                    {t("common.cancel")}
                  </button>
                </div>
              </form>
            ) : (
              <button onClick={() => edit(v)}>{t("vdcs.editQuota")}</button>
            )}
          </section>
        ))}
      </div>
    </Page>
  );
}
