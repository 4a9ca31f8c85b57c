// Metrics charts: small SVG line charts of an instance's, a host's or a
// VDC's series (GET …/metrics), drawn by hand.
import { useEffect, useState } from "preact/hooks";
import { get, query, type Host, type S } from "../api";
import { fmtTime, t } from "../i18n";
import { Badge, Empty, fmtBytes, Loading, Page, ProblemView, useLoad } from "../ui";
import "./views.css";

type Series = S["MetricSeries"];
type Metric = S["Metric"];
type Point = S["MetricPoint"];

const ranges: Array<[string, number]> = [
  ["15m", 15 * 60],
  ["1h", 3600],
  ["6h", 6 * 3600],
  ["24h", 24 * 3600],
  ["7d", 7 * 24 * 3600],
];

type Unit = "percent" | "bytes" | "rate" | "ops";

function fmtValue(v: number, unit: Unit): string {
  switch (unit) {
    case "percent":
      return `${+v.toFixed(1)}%`;
    case "bytes":
      return v >= 1 << 20 || v < 1024 ? fmtBytes(Math.round(v)) : `${+(v / 1024).toFixed(0)} KiB`;
    case "rate":
      return v >= 1 << 20 ? `${+(v / (1 << 20)).toFixed(1)} MiB/s` : v >= 1024 ? `${+(v / 1024).toFixed(1)} KiB/s` : `${+v.toFixed(0)} B/s`;
    case "ops":
      return `${+v.toFixed(1)}/s`;
  }
}

// A chart: one or two metrics of the series on the same axis.
const charts: Array<{ id: string; title: "metrics.cpu" | "metrics.memory" | "metrics.disk" | "metrics.network"; unit: Unit; lines: [Metric, Metric?] }> = [
  { id: "cpu", title: "metrics.cpu", unit: "percent", lines: ["cpuPercent"] },
  { id: "memory", title: "metrics.memory", unit: "bytes", lines: ["memoryUsedBytes", "memoryLimitBytes"] },
  { id: "disk", title: "metrics.disk", unit: "rate", lines: ["diskReadBytesPerSecond", "diskWriteBytesPerSecond"] },
  { id: "network", title: "metrics.network", unit: "rate", lines: ["netRxBytesPerSecond", "netTxBytesPerSecond"] },
];

const W = 300;
const H = 100;

// Chart draws lines of points over [from, to], scaled to the largest value.
function Chart(props: { id: string; title: string; unit: Unit; from: number; to: number; lines: Array<{ metric: Metric; points: Point[] }> }) {
  const max = Math.max(0, ...props.lines.flatMap((l) => l.points.map((p) => p.value)));
  const top = props.unit === "percent" ? Math.max(100, max) : max > 0 ? max * 1.1 : 1;
  const x = (p: Point) => ((new Date(p.time).getTime() / 1000 - props.from) / Math.max(1, props.to - props.from)) * W;
  const y = (p: Point) => H - (p.value / top) * H;
  const n = props.lines.reduce((a, l) => a + l.points.length, 0);
  const last = props.lines.map((l) => (l.points.length ? l.points[l.points.length - 1].value : undefined));
  const summary = props.lines
    .map((l, i) => `${t(`metric.${l.metric}` as "metric.cpuPercent")}: ${last[i] === undefined ? "—" : fmtValue(last[i]!, props.unit)}`)
    .join(", ");
  return (
    <figure class="chart" data-chart={props.id} data-points={n}>
      <figcaption>
        <span>{props.title}</span>
        <small>{t("metrics.max", { value: fmtValue(max, props.unit) })}</small>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={`${props.title}: ${summary}`}>
        <line class="axis" x1="0" y1={H} x2={W} y2={H} />
        <line class="axis" x1="0" y1={H / 2} x2={W} y2={H / 2} stroke-dasharray="2 4" />
        {props.lines.map((l, i) =>
          l.points.length === 1 ? (
            <circle key={l.metric} class={i ? "line2" : "line"} cx={x(l.points[0])} cy={y(l.points[0])} r="2" />
          ) : (
            <polyline key={l.metric} class={i ? "line2" : "line"} vector-effect="non-scaling-stroke" points={l.points.map((p) => `${x(p).toFixed(1)},${y(p).toFixed(1)}`).join(" ")} />
          ),
        )}
      </svg>
      <div class="legend">
        {props.lines.map((l, i) => (
          <span key={l.metric} class={i ? "k2" : "k1"}>
            {i ? "- -" : "—"} {t(`metric.${l.metric}` as "metric.cpuPercent")}: <strong class="last">{last[i] === undefined ? "—" : fmtValue(last[i]!, props.unit)}</strong>
          </span>
        ))}
      </div>
    </figure>
  );
}

// MetricCharts loads a series (path: …/metrics) over a chosen range,
// again every 15 seconds, and draws CPU, memory, disk and network.
export function MetricCharts({ path, title }: { path: string; title?: string }) {
  const [range, setRange] = useState("15m");
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const h = setInterval(() => setTick((n) => n + 1), 15000);
    return () => clearInterval(h);
  }, []);
  const seconds = ranges.find((r) => r[0] === range)?.[1] ?? 3600;
  const data = useLoad(() => {
    const to = new Date();
    const from = new Date(to.getTime() - seconds * 1000);
    return get<Series>(path + query({ from: from.toISOString(), to: to.toISOString() }));
  }, [path, seconds, tick]);
  const s = data.data;
  const byMetric = new Map((s?.series ?? []).map((v) => [v.metric, v.points ?? []]));
  const from = s ? new Date(s.from).getTime() / 1000 : 0;
  const to = s ? new Date(s.to).getTime() / 1000 : 0;
  const any = (s?.series ?? []).some((v) => (v.points ?? []).length > 0);
  return (
    <section class="card sub metrics" aria-labelledby="metrics-title">
      <div class="page-head">
        <h2 id="metrics-title">{title ?? t("metrics.title")}</h2>
        <div class="actions">
          <label class="sr-only" for="metrics-range">
            {t("metrics.range")}
          </label>
          <select id="metrics-range" value={range} onChange={(e) => setRange(e.currentTarget.value)}>
            {ranges.map(([r]) => (
              <option key={r} value={r}>
                {t(`metrics.range.${r}` as "metrics.range.1h")}
              </option>
            ))}
          </select>
          <button onClick={data.reload}>{t("common.refresh")}</button>
        </div>
      </div>
      <ProblemView err={data.err} />
      {!s && !data.err && <Loading />}
      {s && !any && <Empty text={t("metrics.none")} />}
      {s && any && (
        <>
          <p class="hint">{t("metrics.span", { from: fmtTime(s.from), to: fmtTime(s.to), step: s.stepSeconds })}</p>
          <div class="charts">
            {charts.map((c) => (
              <Chart
                key={c.id}
                id={c.id}
                title={t(c.title)}
                unit={c.unit}
                from={from}
                to={to}
                lines={c.lines.filter((m): m is Metric => !!m && byMetric.has(m)).map((m) => ({ metric: m, points: byMetric.get(m) ?? [] }))}
              />
            ))}
          </div>
        </>
      )}
    </section>
  );
}

// HostMetrics (administrators): one host's state and its series.
export function HostMetrics({ id }: { id: string }) {
  const host = useLoad(() => get<Host>(`/v1/hosts/${id}`), [id]);
  const h = host.data;
  return (
    <Page title={h ? h.name : t("nav.hosts")} actions={<a href="/admin/hosts">{t("metrics.backToHosts")}</a>}>
      <ProblemView err={host.err} />
      {h && (
        <p>
          {t(`kind.${h.kind}`)} · <Badge kind="host" value={h.state} /> {h.stateReason && <small class="reason">{h.stateReason}</small>}
        </p>
      )}
      <MetricCharts path={`/v1/hosts/${id}/metrics`} title={t("metrics.hostTitle")} />
    </Page>
  );
}

// HostMetricsLink leads from the hosts list to a host's charts.
export function HostMetricsLink({ id, name }: { id: string; name: string }) {
  return (
    <a class="host-metrics" href={`/admin/hosts/${id}`} aria-label={t("metrics.ofHost", { name })}>
      {t("metrics.title")}
    </a>
  );
}
