import { useEffect, useState } from "preact/hooks";
import { all, call, get, post, type Instance, type S } from "../api";
import { fmtTime, t } from "../i18n";
import { navigate } from "../router";
import { Badge, Empty, Field, fieldErrors, fmtBytes, fmtCPU, FormCard, Loading, Page, ProblemView, Table, useLoad } from "../ui";
import { mib, setter } from "./parts";
import "./views.css";

type Group = S["ScalingGroup"];

const metrics: S["Metric"][] = ["cpuPercent", "memoryUsedBytes", "netRxBytesPerSecond", "netTxBytesPerSecond", "diskReadBytesPerSecond", "diskWriteBytesPerSecond"];

const groupFields = ["name", "spec.type", "spec.image", "spec.cpuMilli", "spec.memoryBytes", "spec.command", "policy.min", "policy.max", "policy.rules", "policy.schedules", "policy.tolerance"];

function ruleText(r: S["ScalingRule"]): string {
  return t(r.direction === "above" ? "scaling.ruleAbove" : "scaling.ruleBelow", {
    metric: t(`metric.${r.metric}` as "metric.cpuPercent"),
    threshold: r.threshold,
    periods: r.periods,
    step: r.step,
  });
}

// ScalingGroups: the VDC's scaling groups and the form that makes one: a
// member spec (a container or a VM), its bounds, a metric rule and a
// scheduled count.
export function ScalingGroups() {
  const list = useLoad(() => all<Group>("/v1/scaling-groups"), []);
  const [creating, setCreating] = useState(false);
  return (
    <Page
      title={t("nav.scaling")}
      actions={
        <>
          <button onClick={list.reload}>{t("common.refresh")}</button>
          <button class="primary" onClick={() => setCreating(!creating)} aria-expanded={creating}>
            {t("scaling.new")}
          </button>
        </>
      }
    >
      {creating && (
        <CreateGroup
          onDone={() => {
            setCreating(false);
            list.reload();
          }}
        />
      )}
      <ProblemView err={list.err} />
      {!list.data && !list.err && <Loading />}
      {list.data && list.data.length === 0 && <Empty text={t("scaling.none")} />}
      {list.data && list.data.length > 0 && (
        <Table class="groups" head={[t("common.name"), t("instances.type"), t("scaling.members"), t("scaling.bounds"), t("scaling.rules"), t("common.created")]}>
          {list.data.map((g) => (
            <tr key={g.id} data-name={g.name}>
              <td>
                <a href={`/scaling/${g.id}`}>{g.name}</a>
              </td>
              <td>{t(`type.${g.spec.type}`)}</td>
              <td class="members">{t("scaling.membersOf", { n: (g.members ?? []).length, desired: g.desired })}</td>
              <td>
                {g.policy.min}–{g.policy.max}
              </td>
              <td>
                {(g.policy.rules ?? []).map((r, i) => (
                  <small class="reason" key={i}>
                    {ruleText(r)}
                  </small>
                ))}
                {(g.policy.schedules ?? []).map((s, i) => (
                  <small class="reason" key={"s" + i}>
                    {t("scaling.scheduleText", { cron: s.cron, desired: s.desired })}
                  </small>
                ))}
              </td>
              <td>{fmtTime(g.createdAt)}</td>
            </tr>
          ))}
        </Table>
      )}
    </Page>
  );
}

function CreateGroup({ onDone }: { onDone: () => void }) {
  const [f, setF] = useState({
    name: "",
    type: "container",
    image: "",
    cpu: "0.1",
    memory: "64",
    command: "",
    min: "1",
    max: "3",
    rule: true,
    metric: "cpuPercent",
    direction: "above",
    threshold: "70",
    periods: "2",
    step: "1",
    cooldown: "60",
    cron: "",
    desired: "",
  });
  const [err, setErr] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const { fields, rest } = fieldErrors(err, groupFields);
  const set = setter(f, setF);
  async function submit() {
    setErr(undefined);
    setBusy(true);
    const spec: S["InstanceSpecInput"] = {
      type: f.type as S["InstanceType"],
      image: { name: f.image, format: f.type === "container" ? "oci" : "qcow2" },
      cpuMilli: Math.round(Number(f.cpu) * 1000),
      memoryBytes: mib(f.memory),
    };
    const command = f.command.trim().split(/\s+/).filter(Boolean);
    if (command.length) spec.command = command;
    const policy: S["ScalingPolicyInput"] = { min: Number(f.min), max: Number(f.max) };
    if (f.rule)
      policy.rules = [
        {
          metric: f.metric as S["Metric"],
          direction: f.direction as S["ScaleDirection"],
          threshold: Number(f.threshold),
          periods: Number(f.periods),
          step: Number(f.step),
          cooldownSeconds: Number(f.cooldown),
        },
      ];
    if (f.cron) policy.schedules = [{ cron: f.cron, desired: Number(f.desired) }];
    try {
      await post<Group>("/v1/scaling-groups", { name: f.name, spec, policy });
      onDone();
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  }
  return (
    <FormCard id="sg-create" title={t("scaling.createTitle")} err={rest} submit={t("common.create")} onSubmit={submit} busy={busy}>
      <h3>{t("scaling.member")}</h3>
      <div class="form-grid">
        <Field id="sg-name" label={t("common.name")} error={fields.name}>
          <input id="sg-name" value={f.name} onInput={set("name")} />
        </Field>
        <Field id="sg-type" label={t("instances.type")} error={fields["spec.type"]}>
          <select id="sg-type" value={f.type} onChange={set("type")}>
            <option value="container">{t("type.container")}</option>
            <option value="vm">{t("type.vm")}</option>
          </select>
        </Field>
        <Field id="sg-image" label={t("instances.image")} error={fields["spec.image"]} hint={t("instances.imageHint")}>
          <input id="sg-image" value={f.image} onInput={set("image")} />
        </Field>
        <Field id="sg-cpu" label={t("instances.cpu")} error={fields["spec.cpuMilli"]}>
          <input id="sg-cpu" type="number" min="0" step="0.05" value={f.cpu} onInput={set("cpu")} />
        </Field>
        <Field id="sg-memory" label={t("instances.memory")} error={fields["spec.memoryBytes"]}>
          <input id="sg-memory" type="number" min="0" step="64" value={f.memory} onInput={set("memory")} />
        </Field>
        <Field id="sg-command" label={t("instances.command")} error={fields["spec.command"]} hint={t("instances.commandHint")}>
          <input id="sg-command" value={f.command} onInput={set("command")} />
        </Field>
      </div>
      <h3>{t("scaling.policy")}</h3>
      <div class="form-grid">
        <Field id="sg-min" label={t("scaling.min")} error={fields["policy.min"]}>
          <input id="sg-min" type="number" min="0" value={f.min} onInput={set("min")} />
        </Field>
        <Field id="sg-max" label={t("scaling.max")} error={fields["policy.max"]}>
          <input id="sg-max" type="number" min="0" value={f.max} onInput={set("max")} />
        </Field>
      </div>
      <label class="check">
        <input type="checkbox" id="sg-rule" checked={f.rule} onChange={set("rule")} /> {t("scaling.withRule")}
      </label>
      {f.rule && (
        <div class="form-grid">
          <Field id="sg-metric" label={t("scaling.metric")} error={fields["policy.rules"]}>
            <select id="sg-metric" value={f.metric} onChange={set("metric")}>
              {metrics.map((m) => (
                <option key={m} value={m}>
                  {t(`metric.${m}` as "metric.cpuPercent")}
                </option>
              ))}
            </select>
          </Field>
          <Field id="sg-direction" label={t("scaling.direction")}>
            <select id="sg-direction" value={f.direction} onChange={set("direction")}>
              <option value="above">{t("scaling.above")}</option>
              <option value="below">{t("scaling.below")}</option>
            </select>
          </Field>
          <Field id="sg-threshold" label={t("scaling.threshold")}>
            <input id="sg-threshold" type="number" value={f.threshold} onInput={set("threshold")} />
          </Field>
          <Field id="sg-periods" label={t("scaling.periods")}>
            <input id="sg-periods" type="number" min="1" value={f.periods} onInput={set("periods")} />
          </Field>
          <Field id="sg-step" label={t("scaling.step")}>
            <input id="sg-step" type="number" value={f.step} onInput={set("step")} />
          </Field>
          <Field id="sg-cooldown" label={t("scaling.cooldown")}>
            <input id="sg-cooldown" type="number" min="0" value={f.cooldown} onInput={set("cooldown")} />
          </Field>
        </div>
      )}
      <div class="form-grid">
        <Field id="sg-cron" label={t("scaling.cron")} error={fields["policy.schedules"]} hint={t("scaling.cronHint")}>
          <input id="sg-cron" value={f.cron} onInput={set("cron")} />
        </Field>
        <Field id="sg-desired" label={t("scaling.scheduledCount")}>
          <input id="sg-desired" type="number" min="0" value={f.desired} onInput={set("desired")} />
        </Field>
      </div>
    </FormCard>
  );
}

// ScalingGroupDetails: one group, its members and its decisions (each
// with the values and the rule that made it), refreshed every 15 s.
export function ScalingGroupDetails({ id }: { id: string }) {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const h = setInterval(() => setTick((n) => n + 1), 15000);
    return () => clearInterval(h);
  }, []);
  const group = useLoad(() => get<Group>(`/v1/scaling-groups/${id}`), [id, tick]);
  const events = useLoad(() => get<S["ScalingEvent"][] | null>(`/v1/scaling-groups/${id}/decisions`), [id, tick]);
  const insts = useLoad(() => all<Instance>("/v1/instances"), [id, tick]);
  const [err, setErr] = useState<unknown>();
  const g = group.data;
  const name = (m: string) => insts.data?.find((i) => i.id === m)?.name ?? m;
  async function remove() {
    if (!g || !confirm(t("scaling.confirmDelete", { name: g.name }))) return;
    setErr(undefined);
    try {
      await call("DELETE", `/v1/scaling-groups/${id}`);
      navigate("/scaling");
    } catch (e) {
      setErr(e);
    }
  }
  const reload = () => {
    group.reload();
    events.reload();
    insts.reload();
  };
  return (
    <Page
      title={g ? g.name : t("nav.scaling")}
      actions={
        <>
          <button onClick={reload}>{t("common.refresh")}</button>
          {g && (
            <button class="danger" onClick={remove}>
              {t("common.delete")}
            </button>
          )}
        </>
      }
    >
      <ProblemView err={group.err ?? err} />
      {!g && !group.err && <Loading />}
      {g && (
        <dl class="details">
          <dt>{t("scaling.member")}</dt>
          <dd>
            {t(`type.${g.spec.type}`)} · {g.spec.image.name} · {fmtCPU(g.spec.cpuMilli)} · {fmtBytes(g.spec.memoryBytes)}
          </dd>
          <dt>{t("scaling.bounds")}</dt>
          <dd>
            {g.policy.min}–{g.policy.max}
          </dd>
          <dt>{t("scaling.members")}</dt>
          <dd class="members" data-count={(g.members ?? []).length}>
            {t("scaling.membersOf", { n: (g.members ?? []).length, desired: g.desired })}{" "}
            {(g.members ?? []).map((m) => (
              <a key={m} class="member" href={`/instances/${m}`}>
                {name(m)}
              </a>
            ))}
          </dd>
          <dt>{t("scaling.rules")}</dt>
          <dd>
            {(g.policy.rules ?? []).map((r, i) => (
              <span class="reason" key={i}>
                {ruleText(r)}
              </span>
            ))}
            {(g.policy.schedules ?? []).map((s, i) => (
              <span class="reason" key={"s" + i}>
                {t("scaling.scheduleText", { cron: s.cron, desired: s.desired })}
              </span>
            ))}
            {!(g.policy.rules ?? []).length && !(g.policy.schedules ?? []).length && "—"}
          </dd>
        </dl>
      )}
      <section class="card sub" aria-labelledby="decisions-title">
        <h2 id="decisions-title">{t("scaling.decisions")}</h2>
        <ProblemView err={events.err} />
        {events.data !== undefined && (events.data ?? []).length === 0 && <Empty text={t("scaling.noDecisions")} />}
        {(events.data ?? []).length > 0 && (
          <Table class="decisions" head={[t("audit.at"), t("scaling.decision"), t("scaling.change"), t("scaling.cause"), t("scaling.values")]}>
            {(events.data ?? []).map((e, i) => (
              <tr key={i} data-kind={e.kind}>
                <td>{fmtTime(e.at)}</td>
                <td>
                  <Badge kind="scaleKind" value={e.kind} />
                </td>
                <td>
                  {e.from} → {e.to}
                </td>
                <td>
                  {e.cause}
                  {e.error && <small class="reason">{e.error}</small>}
                </td>
                <td>{(e.values ?? []).map((v) => +v.toFixed(2)).join(", ")}</td>
              </tr>
            ))}
          </Table>
        )}
      </section>
    </Page>
  );
}
