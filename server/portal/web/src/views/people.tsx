// Users and roles, and the platform's alerts (administrators).
import { useState } from "preact/hooks";
import { all, call, post, type S, type User, type VDC } from "../api";
import { fmtTime, t } from "../i18n";
import { Badge, Field, fieldErrors, FormCard, Options, Page, ProblemView, Table, useLoad } from "../ui";
import { deleteConfirmed, Listing } from "./parts";

const roles = ["admin", "vdc-admin", "vdc-member"] as const;

// Users: every user with its role and VDC; create, change role, disable,
// reset the password, delete.
export function Users() {
  const list = useLoad(() => all<User>("/v1/users"), []);
  const vdcs = useLoad(() => all<VDC>("/v1/vdcs"), []);
  const [f, setF] = useState({ name: "", password: "", role: "vdc-member", vdcId: "" });
  const [err, setErr] = useState<unknown>();
  const [actionErr, setActionErr] = useState<unknown>();
  const [pw, setPw] = useState<Record<string, string>>({});
  const { fields, rest } = fieldErrors(err, ["name", "password", "role", "vdcId"]);
  const vdcId = f.role === "admin" ? "" : f.vdcId || vdcs.data?.[0]?.id || "";
  const vdcName = (id?: string) => vdcs.data?.find((v) => v.id === id)?.name ?? "";
  async function create() {
    setErr(undefined);
    try {
      await post<User>("/v1/users", { name: f.name, role: f.role, ...(f.password ? { password: f.password } : {}), ...(vdcId ? { vdcId } : {}) });
      setF({ ...f, name: "", password: "" });
      list.reload();
    } catch (e) {
      setErr(e);
    }
  }
  async function change(u: User, body: S["UserPatch"]) {
    setActionErr(undefined);
    try {
      await call<User>("PATCH", `/v1/users/${u.id}`, body);
      list.reload();
    } catch (e) {
      setActionErr(e);
    }
  }
  const remove = (u: User) => deleteConfirmed(t("users.confirmDelete", { name: u.name }), `/v1/users/${u.id}`, setActionErr, list.reload);
  return (
    <Page title={t("nav.users")}>
      <FormCard id="user-create" title={t("users.create")} err={rest} submit={t("common.create")} onSubmit={create}>
        <div class="form-grid">
          <Field id="user-name" label={t("common.name")} error={fields.name}>
            <input id="user-name" value={f.name} onInput={(e) => setF({ ...f, name: e.currentTarget.value })} />
          </Field>
          <Field id="user-password" label={t("users.password")} error={fields.password} hint={t("users.passwordHint")}>
            <input id="user-password" type="password" autoComplete="new-password" value={f.password} onInput={(e) => setF({ ...f, password: e.currentTarget.value })} />
          </Field>
          <Field id="user-role" label={t("users.role")} error={fields.role}>
            <select id="user-role" value={f.role} onChange={(e) => setF({ ...f, role: e.currentTarget.value })}>
              {roles.map((r) => (
                <option key={r} value={r}>
                  {t(`role.${r}`)}
                </option>
              ))}
            </select>
          </Field>
          {f.role !== "admin" && (
            <Field id="user-vdc" label={t("users.vdc")} error={fields.vdcId}>
              <select id="user-vdc" value={vdcId} onChange={(e) => setF({ ...f, vdcId: e.currentTarget.value })}>
                <Options items={vdcs.data} />
              </select>
            </Field>
          )}
        </div>
      </FormCard>
      <ProblemView err={list.err ?? vdcs.err ?? actionErr} />
      <Listing list={list} empty={t("users.none")}>
        {(items) => (
          <Table head={[t("common.name"), t("users.role"), t("users.vdc"), t("users.state"), t("common.created"), t("common.actions")]}>
            {items.map((u) => (
              <tr key={u.id} data-name={u.name}>
                <td>{u.name}</td>
                <td>
                  <select aria-label={t("users.roleOf", { name: u.name })} value={u.role} onChange={(e) => change(u, { role: e.currentTarget.value as User["role"] })}>
                    {roles.map((r) => (
                      <option key={r} value={r}>
                        {t(`role.${r}`)}
                      </option>
                    ))}
                  </select>
                </td>
                <td>{vdcName(u.vdcId)}</td>
                <td>
                  <Badge kind="userState" value={u.disabled ? "disabled" : "enabled"} />
                </td>
                <td>{fmtTime(u.createdAt)}</td>
                <td class="actions">
                  <button onClick={() => change(u, { disabled: !u.disabled })}>{u.disabled ? t("users.enable") : t("users.disable")}</button>
                  <input
                    type="password"
                    autoComplete="new-password"
                    aria-label={t("users.newPasswordOf", { name: u.name })}
                    placeholder={t("users.newPassword")}
                    value={pw[u.id] ?? ""}
                    onInput={(e) => setPw({ ...pw, [u.id]: e.currentTarget.value })}
                  />
                  <button
                    disabled={!pw[u.id]}
                    onClick={async () => {
                      await change(u, { password: pw[u.id] });
                      setPw({ ...pw, [u.id]: "" });
                    }}
                  >
                    {t("users.setPassword")}
                  </button>
                  <button class="danger" onClick={() => remove(u)} aria-label={t("users.deleteOne", { name: u.name })}>
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

// Alerts: what HA and the metric thresholds raised, open ones first;
// acknowledging one resolves it.
export function Alerts() {
  const list = useLoad(() => all<S["Alert"]>("/v1/alerts"), []);
  const [actionErr, setActionErr] = useState<unknown>();
  async function ack(a: S["Alert"]) {
    setActionErr(undefined);
    try {
      await post(`/v1/alerts/${a.id}/ack`);
      list.reload();
    } catch (e) {
      setActionErr(e);
    }
  }
  const sorted = list.data && [...list.data].sort((a, b) => Number(!!a.resolvedAt) - Number(!!b.resolvedAt) || b.lastRaisedAt.localeCompare(a.lastRaisedAt));
  return (
    <Page title={t("nav.alerts")}>
      <ProblemView err={list.err ?? actionErr} />
      <Listing list={{ data: sorted, err: list.err }} empty={t("alerts.none")}>
        {(items) => (
          <Table head={[t("alerts.kind"), t("alerts.message"), t("alerts.count"), t("alerts.raised"), t("alerts.state"), t("common.actions")]}>
            {items.map((a) => (
              <tr key={a.id} data-id={a.id}>
                <td>{t(`alertKind.${a.kind}`)}</td>
                <td>{a.message}</td>
                <td>{a.count}</td>
                <td>{fmtTime(a.lastRaisedAt)}</td>
                <td>
                  <Badge kind="alertState" value={a.resolvedAt ? "resolved" : "open"} />
                  {a.resolvedAt && <small> {t("alerts.resolvedBy", { by: a.resolvedBy ?? "", at: fmtTime(a.resolvedAt) })}</small>}
                </td>
                <td>{!a.resolvedAt && <button onClick={() => ack(a)}>{t("alerts.ack")}</button>}</td>
              </tr>
            ))}
          </Table>
        )}
      </Listing>
    </Page>
  );
}
