import { useEffect, useState } from "preact/hooks";
import { all, get, query, type S, type User, type VDC } from "../api";
import { fmtTime, t, tx } from "../i18n";
import { Badge, Empty, Field, fieldErrors, FormCard, Loading, Options, Page, Pager, Table, useCursor, useLoad } from "../ui";
import { setter } from "./parts";
import "./views.css";

type AuditQuery = { user: string; operation: string; objectId: string; outcome: string; since: string; until: string; vdcId: string };

const empty: AuditQuery = { user: "", operation: "", objectId: "", outcome: "", since: "", until: "", vdcId: "" };
const auditFields = ["user", "operation", "objectId", "outcome", "since", "until", "vdcId"];

// rfc3339 turns the value of a datetime-local input (the user's local
// time) into the API's time; anything else goes as typed, so the API's
// message names it.
function rfc3339(v: string): string {
  if (!v) return "";
  const d = new Date(v);
  return isNaN(d.getTime()) ? v : d.toISOString();
}

// Audit: the audit trail, newest first, filtered by user, operation,
// object, outcome and time. Administrators read every event (or one
// VDC's); tenants read their VDC's, as the API answers them.
export function Audit({ me }: { me: User }) {
  const admin = me.role === "admin";
  const vdcs = useLoad(() => (admin ? all<VDC>("/v1/vdcs") : Promise.resolve([] as VDC[])), [admin]);
  const [f, setF] = useState<AuditQuery>(empty);
  const [applied, setApplied] = useState<AuditQuery>(empty);
  const [err, setErr] = useState<unknown>();
  const { fields, rest } = fieldErrors(err, auditFields);
  const set = setter(f, setF);
  return (
    <Page title={t("nav.audit")}>
      <FormCard id="audit-filter" title={t("audit.filter")} err={rest} submit={t("audit.apply")} onSubmit={() => setApplied({ ...f })} class="audit-filter">
        <div class="form-grid">
          <Field id="audit-user" label={t("audit.user")} error={fields.user}>
            <input id="audit-user" value={f.user} onInput={set("user")} />
          </Field>
          <Field id="audit-operation" label={t("audit.operation")} error={fields.operation} hint={t("audit.operationHint")}>
            <input id="audit-operation" value={f.operation} onInput={set("operation")} />
          </Field>
          <Field id="audit-object" label={t("audit.objectId")} error={fields.objectId}>
            <input id="audit-object" value={f.objectId} onInput={set("objectId")} />
          </Field>
          <Field id="audit-outcome" label={t("audit.outcome")} error={fields.outcome}>
            <select id="audit-outcome" value={f.outcome} onChange={set("outcome")}>
              <option value="">{t("common.any")}</option>
              {["succeeded", "failed", "throttled"].map((o) => (
                <option key={o} value={o}>
                  {t(`outcome.${o}` as "outcome.failed")}
                </option>
              ))}
            </select>
          </Field>
          <Field id="audit-since" label={t("audit.since")} error={fields.since}>
            <input id="audit-since" type="datetime-local" step="1" value={f.since} onInput={set("since")} />
          </Field>
          <Field id="audit-until" label={t("audit.until")} error={fields.until}>
            <input id="audit-until" type="datetime-local" step="1" value={f.until} onInput={set("until")} />
          </Field>
          {admin && (
            <Field id="audit-vdc" label={t("audit.vdc")} error={fields.vdcId}>
              <select id="audit-vdc" value={f.vdcId} onChange={set("vdcId")}>
                <option value="">{t("audit.allVdcs")}</option>
                <Options items={vdcs.data} />
              </select>
            </Field>
          )}
        </div>
      </FormCard>
      <AuditList key={JSON.stringify(applied)} q={applied} onErr={setErr} vdcs={admin ? vdcs.data ?? [] : undefined} />
    </Page>
  );
}

function AuditList({ q, onErr, vdcs }: { q: AuditQuery; onErr: (e: unknown) => void; vdcs?: VDC[] }) {
  const pages = useCursor();
  const list = useLoad(
    () =>
      get<S["PageAuditEvent"]>(
        "/v1/audit-events" +
          query({ ...q, since: rfc3339(q.since), until: rfc3339(q.until), limit: 50, cursor: pages.cursor }),
      ),
    [pages.cursor],
  );
  useEffect(() => onErr(list.err), [list.err]);
  const vdcName = (id?: string) => (id ? (vdcs?.find((v) => v.id === id)?.name ?? id) : "");
  const items = list.data?.items ?? [];
  return (
    <section aria-labelledby="audit-events">
      <div class="page-head">
        <h2 id="audit-events">{t("audit.events")}</h2>
        <button onClick={list.reload}>{t("common.refresh")}</button>
      </div>
      {!list.data && !list.err && <Loading />}
      {list.data && items.length === 0 && <Empty text={t("audit.none")} />}
      {items.length > 0 && (
        <Table
          class="audit"
          head={[t("audit.at"), t("audit.user"), t("audit.operation"), t("audit.object"), t("audit.outcome"), t("audit.from"), t("audit.task")]}
        >
          {items.map((e) => (
            <tr key={e.id} data-operation={e.operation} data-outcome={e.outcome}>
              <td>{fmtTime(e.at)}</td>
              <td>
                {e.user}
                {e.role && <small class="reason">{t(`role.${e.role}`)}</small>}
              </td>
              <td>
                <code>{e.operation}</code>
                {e.message && <small class="reason">{e.message}</small>}
              </td>
              <td>
                {e.object && (
                  <>
                    {tx(`objectKind.${e.object.kind}`, e.object.kind)} {e.object.name ?? ""}
                    <small class="reason">
                      <code>{e.object.id}</code>
                    </small>
                  </>
                )}
                {vdcs && e.vdcId && <small class="reason">{t("audit.inVdc", { vdc: vdcName(e.vdcId) })}</small>}
              </td>
              <td>
                <Badge kind="outcome" value={e.outcome} />
                {e.status ? <small class="reason">HTTP {e.status}</small> : null}
              </td>
              <td>{e.address}</td>
              <td>{e.taskId && <a href={`/tasks/${e.taskId}`}>{t("audit.taskLink")}</a>}</td>
            </tr>
          ))}
        </Table>
      )}
      <Pager pages={pages} next={list.data?.next} />
    </section>
  );
}
