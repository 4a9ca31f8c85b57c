import { useState } from "preact/hooks";
import { all, post, put, type Host, type Pool, type S, type VDC } from "../api";
import { fmtTime, t } from "../i18n";
import { HostMetricsLink } from "./metrics";
import { ImportCell } from "./importcell";
import { Badge, Bar, Empty, Field, fieldErrors, fmtBytes, fmtCPU, FormCard, Loading, Options, Page, ProblemView, Table, useLoad } from "../ui";

const hostFields = ["name", "kind", "endpoint", "poolId", "credentials"];

// Hosts (administrators): register with the API's connection check, and
// the list with capacity, allocation and state.
export function Hosts() {
  const list = useLoad(() => all<Host>("/v1/hosts"), []);
  const pools = useLoad(() => all<Pool>("/v1/pools"), []);
  const [f, setF] = useState({ name: "", kind: "docker", endpoint: "", poolId: "", username: "", password: "" });
  const [err, setErr] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [actionErr, setActionErr] = useState<unknown>();
  const { fields, rest } = fieldErrors(err, hostFields);
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  const poolId = f.poolId || pools.data?.[0]?.id || "";
  async function submit() {
    setErr(undefined);
    setBusy(true);
    const body: S["HostRegister"] = { name: f.name, kind: f.kind as S["HostKind"], endpoint: f.endpoint, poolId };
    if (f.username || f.password) body.credentials = { username: f.username, password: f.password };
    try {
      await post<Host>("/v1/hosts", body);
      setF({ ...f, name: "", endpoint: "", username: "", password: "" });
      list.reload();
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  }
  const [found, setFound] = useState("");
  async function sync(h: Host) {
    setActionErr(undefined);
    setFound("");
    try {
      const ds = await post<S["Discovered"][] | null>(`/v1/hosts/${h.id}/sync`);
      setFound(t("hosts.synced", { name: h.name, n: (ds ?? []).length }));
    } catch (e) {
      setActionErr(e);
    }
  }
  async function maintenance(h: Host, enabled: boolean) {
    setActionErr(undefined);
    try {
      await put<Host>(`/v1/hosts/${h.id}/maintenance`, { enabled });
      list.reload();
    } catch (e) {
      setActionErr(e);
    }
  }
  return (
    <Page title={t("nav.hosts")}>
      <FormCard id="host-create" title={t("hosts.register")} err={rest} submit={t("hosts.registerButton")} onSubmit={submit} busy={busy}>
        <div class="form-grid">
          <Field id="host-name" label={t("common.name")} error={fields.name}>
            <input id="host-name" value={f.name} onInput={set("name")} />
          </Field>
          <Field id="host-kind" label={t("hosts.kind")} error={fields.kind}>
            <select id="host-kind" value={f.kind} onChange={set("kind")}>
              {["docker", "kvm", "esxi", "fake"].map((k) => (
                <option key={k} value={k}>
                  {t(`kind.${k}` as "kind.docker")}
                </option>
              ))}
            </select>
          </Field>
          <Field id="host-endpoint" label={t("hosts.endpoint")} error={fields.endpoint} hint={t("hosts.endpointHint")}>
            <input id="host-endpoint" value={f.endpoint} onInput={set("endpoint")} />
          </Field>
          <Field id="host-pool" label={t("hosts.pool")} error={fields.poolId}>
            <select id="host-pool" value={poolId} onChange={set("poolId")}>
              <Options items={pools.data} />
            </select>
          </Field>
          <Field id="host-user" label={t("hosts.username")} error={fields.credentials}>
            <input id="host-user" value={f.username} onInput={set("username")} autocomplete="off" />
          </Field>
          <Field id="host-password" label={t("login.password")}>
            <input id="host-password" type="password" value={f.password} onInput={set("password")} autocomplete="new-password" />
          </Field>
        </div>
      </FormCard>
      <ProblemView err={list.err ?? actionErr} />
      {found && (
        <p class="notice" role="status">
          {found} <a href="/admin/discovered">{t("nav.discovered")}</a>
        </p>
      )}
      {!list.data && !list.err && <Loading />}
      {list.data && list.data.length === 0 && <Empty text={t("hosts.none")} />}
      {list.data && list.data.length > 0 && (
        <Table head={[t("common.name"), t("hosts.kind"), t("hosts.state"), t("hosts.capacity"), t("common.actions")]} class="hosts">
            {list.data.map((h) => (
              <tr key={h.id} data-name={h.name}>
                <td>
                  <strong>{h.name}</strong>
                  <br />
                  <small>{h.endpoint}</small>
                </td>
                <td>{t(`kind.${h.kind}`)}</td>
                <td>
                  <Badge kind="host" value={h.state} />
                  {h.stateReason && <small class="reason">{h.stateReason}</small>}
                </td>
                <td class="capacity">
                  <Bar label={t("quota.cpu")} used={h.allocated.cpuMilli} total={h.capacity.cpuMilli} fmt={fmtCPU} />
                  <Bar label={t("quota.memory")} used={h.allocated.memoryBytes} total={h.capacity.memoryBytes} fmt={fmtBytes} />
                </td>
                <td class="row-actions">
                  {h.state === "maintenance" || h.state === "entering-maintenance" ? (
                    <button class="maintenance" onClick={() => maintenance(h, false)}>
                      {t("hosts.leaveMaintenance")}
                    </button>
                  ) : (
                    <button class="maintenance" onClick={() => maintenance(h, true)}>
                      {t("hosts.enterMaintenance")}
                    </button>
                  )}
                  <HostMetricsLink id={h.id} name={h.name} />
                  <button class="sync" onClick={() => sync(h)} aria-label={t("hosts.syncOne", { name: h.name })}>
                    {t("hosts.sync")}
                  </button>
                </td>
              </tr>
            ))}
          </Table>
      )}
    </Page>
  );
}

// Discovered (administrators): objects found on hosts that OVM did not
// make, each importable into a VDC.
export function Discovered() {
  const list = useLoad(() => all<S["Discovered"]>("/v1/discovered"), []);
  const hosts = useLoad(() => all<Host>("/v1/hosts"), []);
  const vdcs = useLoad(() => all<VDC>("/v1/vdcs"), []);
  const [done, setDone] = useState("");
  const hostName = (id: string) => hosts.data?.find((h) => h.id === id)?.name ?? id;
  return (
    <Page title={t("nav.discovered")} actions={<button onClick={list.reload}>{t("common.refresh")}</button>}>
      <ProblemView err={list.err} />
      {done && (
        <p class="notice" role="status">
          {done}
        </p>
      )}
      {!list.data && !list.err && <Loading />}
      {list.data && list.data.length === 0 && <Empty text={t("discovered.none")} />}
      {list.data && list.data.length > 0 && (
        <Table head={[t("common.name"), t("instances.type"), t("hosts.host"), t("instances.size"), t("discovered.found"), t("discovered.import")]}>
            {list.data.map((d) => (
              <tr key={d.id} data-name={d.name}>
                <td>{d.name}</td>
                <td>{d.type ? t(`type.${d.type}`) : ""}</td>
                <td>{hostName(d.hostId)}</td>
                <td>
                  {fmtCPU(d.cpuMilli)} · {fmtBytes(d.memoryBytes)}
                </td>
                <td>{fmtTime(d.foundAt)}</td>
                <ImportCell
                  d={d}
                  vdcs={vdcs.data}
                  onDone={() => {
                    setDone(t("discovered.imported", { name: d.name }));
                    list.reload();
                  }}
                />
              </tr>
            ))}
          </Table>
      )}
    </Page>
  );
}
