import { all, get, type Instance, type S, type Task, type User } from "../api";
import { t } from "../i18n";
import { newestFirst, TaskTable } from "./tasks";
import { MetricCharts } from "./metrics";
import { Badge, Bar, Empty, fmtBytes, fmtCount, fmtCPU, Loading, Page, ProblemView, useLoad } from "../ui";

// Dashboard: the VDC's quota and what it uses, its instances by state and
// its latest tasks.
export function Dashboard({ me }: { me: User }) {
  const usage = useLoad(() => (me.vdcId ? get<S["Usage"]>(`/v1/vdcs/${me.vdcId}/usage`) : Promise.resolve(undefined)), [me.vdcId]);
  const insts = useLoad(() => all<Instance>("/v1/instances"), []);
  const tasks = useLoad(() => all<Task>("/v1/tasks"), []);
  const byState: Record<string, number> = {};
  for (const i of insts.data ?? []) {
    const s = i.status.phase === "ready" ? i.status.power : i.status.phase;
    byState[s] = (byState[s] ?? 0) + 1;
  }
  const recent = newestFirst(tasks.data ?? []).slice(0, 8);
  const u = usage.data;
  return (
    <Page title={t("nav.dashboard")}>
      <div class="grid">
        <section class="card" aria-labelledby="quota-title">
          <h2 id="quota-title">{t("dashboard.quota")}</h2>
          <ProblemView err={usage.err} />
          {!u && !usage.err && <Loading />}
          {u && (
            <>
              <Bar label={t("quota.instances")} used={u.usage.instances} total={u.quota.instances} fmt={fmtCount} />
              <Bar label={t("quota.cpu")} used={u.usage.cpuMilli} total={u.quota.cpuMilli} fmt={fmtCPU} />
              <Bar label={t("quota.memory")} used={u.usage.memoryBytes} total={u.quota.memoryBytes} fmt={fmtBytes} />
              <Bar label={t("quota.disk")} used={u.usage.diskBytes} total={u.quota.diskBytes} fmt={fmtBytes} />
              <Bar label={t("quota.networks")} used={u.usage.networks} total={u.quota.networks} fmt={fmtCount} />
            </>
          )}
        </section>
        <section class="card" aria-labelledby="states-title">
          <h2 id="states-title">{t("dashboard.byState")}</h2>
          <ProblemView err={insts.err} />
          {!insts.data && !insts.err && <Loading />}
          {insts.data && insts.data.length === 0 && <Empty text={t("instances.none")} />}
          {insts.data && insts.data.length > 0 && (
            <ul class="states">
              {Object.entries(byState).map(([s, n]) => (
                <li key={s}>
                  <Badge kind="state" value={s} /> <strong>{n}</strong>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
      <section class="card" aria-labelledby="recent-title">
        <h2 id="recent-title">{t("dashboard.recentTasks")}</h2>
        <ProblemView err={tasks.err} />
        {tasks.data && recent.length === 0 && <Empty text={t("tasks.none")} />}
        {recent.length > 0 && <TaskTable tasks={recent} />}
      </section>
      {me.vdcId && <MetricCharts path={`/v1/vdcs/${me.vdcId}/metrics`} title={t("metrics.vdcTitle")} />}
    </Page>
  );
}
