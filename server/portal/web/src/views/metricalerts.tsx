// Threshold alerts on metrics: the rules (a metric of an instance, or of a
// host for administrators, past a threshold for a while) and the alerts
// they raised, open ones first.
import { useState } from "preact/hooks";
import { all, post, type Instance, type S } from "../api";
import { fmtTime, t } from "../i18n";
import { Badge, Field, fieldErrors, FormCard, Options, Page, ProblemView, Table, useLoad } from "../ui";
import { deleteConfirmed, Listing, useMe } from "./parts";

type Rule = S["AlertRule"];
type Alert = S["MetricAlert"];

const metrics: S["Metric"][] = ["cpuPercent", "memoryUsedBytes", "netRxBytesPerSecond", "netTxBytesPerSecond", "diskReadBytesPerSecond", "diskWriteBytesPerSecond"];

export function MetricAlerts() {
  const me = useMe();
  const admin = me?.role === "admin";
  const rules = useLoad(() => all<Rule>("/v1/alert-rules"), []);
  const alerts = useLoad(() => all<Alert>("/v1/metric-alerts"), []);
  const instances = useLoad(() => all<Instance>("/v1/instances"), []);
  const hosts = useLoad(() => (admin ? all<S["Host"]>("/v1/hosts") : Promise.resolve([])), [admin]);
  const [f, setF] = useState({ name: "", subject: "instance", subjectId: "", metric: "cpuPercent", comparison: "above", threshold: "80", forSeconds: "60" });
  const [err, setErr] = useState<unknown>();
  const [actionErr, setActionErr] = useState<unknown>();
  const { fields, rest } = fieldErrors(err, ["name", "subject", "subjectId", "metric", "comparison", "threshold", "forSeconds"]);
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  const subjectName = (r: { subject: string; subjectId?: string }) =>
    !r.subjectId
      ? t(r.subject === "host" ? "metricAlerts.allHosts" : "metricAlerts.allInstances")
      : (r.subject === "host" ? hosts.data : instances.data)?.find((x) => x.id === r.subjectId)?.name ?? r.subjectId;
  async function create() {
    setErr(undefined);
    try {
      await post<Rule>("/v1/alert-rules", {
        name: f.name,
        subject: f.subject,
        ...(f.subjectId ? { subjectId: f.subjectId } : {}),
        metric: f.metric,
        comparison: f.comparison,
        threshold: Number(f.threshold),
        forSeconds: Number(f.forSeconds),
      });
      setF({ ...f, name: "" });
      rules.reload();
    } catch (e) {
      setErr(e);
    }
  }
  const remove = (r: Rule) =>
    deleteConfirmed(t("metricAlerts.confirmDelete", { name: r.name }), `/v1/alert-rules/${r.id}`, setActionErr, () => {
      rules.reload();
      alerts.reload();
    });
  const sorted = alerts.data && [...alerts.data].sort((a, b) => Number(!!a.clearedAt) - Number(!!b.clearedAt) || b.raisedAt.localeCompare(a.raisedAt));
  return (
    <Page
      title={t("nav.metricAlerts")}
      actions={
        <button
          onClick={() => {
            rules.reload();
            alerts.reload();
          }}
        >
          {t("metricAlerts.refresh")}
        </button>
      }
    >
      <FormCard id="rule-create" title={t("metricAlerts.newRule")} err={rest} submit={t("common.create")} onSubmit={create}>
        <div class="form-grid">
          <Field id="rule-name" label={t("common.name")} error={fields.name}>
            <input id="rule-name" value={f.name} onInput={set("name")} />
          </Field>
          {admin && (
            <Field id="rule-subject" label={t("metricAlerts.subject")} error={fields.subject}>
              <select id="rule-subject" value={f.subject} onChange={(e) => setF({ ...f, subject: e.currentTarget.value, subjectId: "" })}>
                <option value="instance">{t("alertSubject.instance")}</option>
                <option value="host">{t("alertSubject.host")}</option>
              </select>
            </Field>
          )}
          <Field id="rule-target" label={t("metricAlerts.which")} error={fields.subjectId}>
            <select id="rule-target" value={f.subjectId} onChange={set("subjectId")}>
              <option value="">{t(f.subject === "host" ? "metricAlerts.allHosts" : "metricAlerts.allInstances")}</option>
              <Options items={f.subject === "host" ? hosts.data : instances.data} />
            </select>
          </Field>
          <Field id="rule-metric" label={t("metricAlerts.metric")} error={fields.metric}>
            <select id="rule-metric" value={f.metric} onChange={set("metric")}>
              {metrics.map((m) => (
                <option key={m} value={m}>
                  {t(`metricName.${m}`)}
                </option>
              ))}
            </select>
          </Field>
          <Field id="rule-comparison" label={t("metricAlerts.comparison")} error={fields.comparison}>
            <select id="rule-comparison" value={f.comparison} onChange={set("comparison")}>
              <option value="above">{t("alertComparison.above")}</option>
              <option value="below">{t("alertComparison.below")}</option>
            </select>
          </Field>
          <Field id="rule-threshold" label={t("metricAlerts.threshold")} error={fields.threshold}>
            <input id="rule-threshold" type="number" step="any" value={f.threshold} onInput={set("threshold")} />
          </Field>
          <Field id="rule-for" label={t("metricAlerts.forSeconds")} error={fields.forSeconds}>
            <input id="rule-for" type="number" min="0" value={f.forSeconds} onInput={set("forSeconds")} />
          </Field>
        </div>
      </FormCard>
      <ProblemView err={rules.err ?? alerts.err ?? actionErr} />
      <h2>{t("metricAlerts.rules")}</h2>
      <Listing list={rules} empty={t("metricAlerts.noRules")}>
        {(items) => (
          <Table head={[t("common.name"), t("metricAlerts.which"), t("metricAlerts.condition"), t("metricAlerts.open"), t("common.actions")]}>
            {items.map((r) => (
              <tr key={r.id} data-name={r.name}>
                <td>{r.name}</td>
                <td>{subjectName(r)}</td>
                <td>{t("metricAlerts.conditionText", { metric: t(`metricName.${r.metric}`), comparison: t(`alertComparison.${r.comparison}`), threshold: r.threshold, seconds: r.forSeconds })}</td>
                <td>{r.openAlerts}</td>
                <td>
                  <button class="danger" onClick={() => remove(r)} aria-label={t("metricAlerts.deleteOne", { name: r.name })}>
                    {t("common.delete")}
                  </button>
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Listing>
      <h2>{t("metricAlerts.alerts")}</h2>
      <Listing list={{ data: sorted, err: alerts.err }} empty={t("metricAlerts.noAlerts")}>
        {(items) => (
          <Table head={[t("metricAlerts.rule"), t("metricAlerts.which"), t("metricAlerts.values"), t("alerts.raised"), t("alerts.state")]}>
            {items.map((a) => (
              <tr key={a.id} data-rule={a.ruleName}>
                <td>{a.ruleName}</td>
                <td>{subjectName(a)}</td>
                <td>{(a.values ?? []).slice(-5).map((v) => (Math.round(v.value * 100) / 100).toString()).join(", ")}</td>
                <td>{fmtTime(a.raisedAt)}</td>
                <td>
                  <Badge kind="alertState" value={a.clearedAt ? "resolved" : "open"} />
                  {a.clearedAt && <small> {fmtTime(a.clearedAt)}</small>}
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Listing>
    </Page>
  );
}
