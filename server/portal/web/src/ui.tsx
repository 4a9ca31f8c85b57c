// Shared pieces of the views: loading data, problems in words, fields with
// their messages, bars and badges.
import { cloneElement, isValidElement, type ComponentChildren } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { ApiError } from "./api";
import { t, tx } from "./i18n";

export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data?: T; err?: unknown; reload: () => void } {
  const [state, setState] = useState<{ data?: T; err?: unknown }>({});
  const [n, setN] = useState(0);
  const reload = useCallback(() => setN((x) => x + 1), []);
  useEffect(() => {
    let live = true;
    load().then(
      (data) => live && setState({ data }),
      (err) => live && setState({ err }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, n]);
  return { ...state, reload };
}

// ProblemView shows an error of the API in words: the problem's title in
// the user's language and the API's detail.
export function ProblemView({ err }: { err: unknown }) {
  if (!err) return null;
  let title = t("problem.unknown");
  let detail = String(err);
  if (err instanceof ApiError) {
    title = err.status === 0 ? t("problem.network") : tx(`problem.${err.status}`, err.problem.title);
    detail = err.problem.detail ?? "";
  }
  return (
    <div class="problem" role="alert">
      <strong>{title}</strong>
      {detail && <p class="problem-detail">{detail}</p>}
    </div>
  );
}

// Field is a labelled control with its hint or its error message, which
// the control names as its description.
export function Field(props: { id: string; label: string; error?: string; hint?: string; children: ComponentChildren }) {
  const described = props.error ? props.id + "-error" : props.hint ? props.id + "-hint" : undefined;
  const control = isValidElement(props.children)
    ? cloneElement(props.children, { "aria-describedby": described, "aria-invalid": props.error ? true : undefined })
    : props.children;
  return (
    <div class={"field" + (props.error ? " invalid" : "")}>
      <label for={props.id}>{props.label}</label>
      {control}
      {props.hint && !props.error && (
        <small class="hint" id={props.id + "-hint"}>
          {props.hint}
        </small>
      )}
      {props.error && (
        <small class="field-error" id={props.id + "-error"} data-field={props.id}>
          {props.error}
        </small>
      )}
    </div>
  );
}

// fieldErrors turns a problem into messages by field, plus whatever it
// says that no field of the form shows.
export function fieldErrors(err: unknown, known: string[]): { fields: Record<string, string>; rest: unknown } {
  if (!(err instanceof ApiError)) return { fields: {}, rest: err };
  const fields = err.fields();
  const shown: Record<string, string> = {};
  for (const [f, m] of Object.entries(fields)) {
    const k = known.find((k) => f === k || f.startsWith(k + ".") || f.startsWith(k + "["));
    if (k && !shown[k]) shown[k] = m;
  }
  const unshown = Object.keys(fields).some((f) => !known.some((k) => f === k || f.startsWith(k + ".") || f.startsWith(k + "[")));
  if (Object.keys(shown).length === 0 || unshown) return { fields: shown, rest: err };
  // Every message is beside its field: above the form, only the problem's
  // title in the user's language.
  return { fields: shown, rest: new ApiError(err.status, { ...err.problem, detail: "", errors: [] }) };
}

export function Bar({ label, used, total, fmt }: { label: string; used: number; total: number; fmt: (n: number) => string }) {
  const limited = total > 0;
  return (
    <div class="bar">
      <div class="bar-label">
        <span>{label}</span>
        <span>{limited ? t("quota.of", { used: fmt(used), total: fmt(total) }) : t("quota.unlimited", { used: fmt(used) })}</span>
      </div>
      <progress max={limited ? total : 1} value={limited ? Math.min(used, total) : 0} aria-label={label} />
    </div>
  );
}

export function Badge({ kind, value }: { kind: string; value: string }) {
  return <span class={`badge badge-${value}`}>{tx(`${kind}.${value}`, value)}</span>;
}

export function Page(props: { title: string; actions?: ComponentChildren; children: ComponentChildren }) {
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-head">
        <h1 id="page-title">{props.title}</h1>
        <div class="actions">{props.actions}</div>
      </header>
      {props.children}
    </section>
  );
}

export function Empty({ text }: { text: string }) {
  return <p class="empty">{text}</p>;
}

export function Loading() {
  return <p class="loading">{t("common.loading")}</p>;
}

export function fmtBytes(n: number): string {
  if (n >= 1 << 30) return `${+(n / (1 << 30)).toFixed(1)} GiB`;
  if (n >= 1 << 20) return `${+(n / (1 << 20)).toFixed(0)} MiB`;
  if (n >= 1 << 10) return `${+(n / (1 << 10)).toFixed(0)} KiB`;
  return `${n} B`;
}

export function fmtCPU(milli: number): string {
  return `${+(milli / 1000).toFixed(2)} vCPU`;
}

export function fmtCount(n: number): string {
  return String(n);
}

// Table is a table with a header row of column names; children are the
// body's rows.
export function Table(props: { head: string[]; class?: string; children: ComponentChildren }) {
  return (
    <table class={props.class}>
      <thead>
        <tr>
          {props.head.map((h) => (
            <th scope="col" key={h}>
              {h}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{props.children}</tbody>
    </table>
  );
}

// useCursor keeps the cursors of the pages seen so far: the API pages
// forward only, so going back takes the previous cursor.
export function useCursor() {
  const [cursors, setCursors] = useState<string[]>([""]);
  return {
    cursor: cursors[cursors.length - 1],
    page: cursors.length,
    back: cursors.length > 1 ? () => setCursors(cursors.slice(0, -1)) : undefined,
    forward: (next: string) => setCursors([...cursors, next]),
  };
}

export function Pager({ pages, next }: { pages: ReturnType<typeof useCursor>; next?: string }) {
  return (
    <nav class="pager" aria-label={t("common.pages")}>
      <button disabled={!pages.back} onClick={pages.back}>
        {t("common.previous")}
      </button>
      <span>{t("common.pageN", { n: pages.page })}</span>
      <button disabled={!next} onClick={() => next && pages.forward(next)}>
        {t("common.next")}
      </button>
    </nav>
  );
}

// FormCard is a form with its title, the problem that no field shows, its
// fields (children) and its submit button; tail comes after the button.
export function FormCard(props: {
  id: string;
  title: string;
  err: unknown;
  submit: string;
  onSubmit: () => void;
  busy?: boolean;
  class?: string;
  tail?: ComponentChildren;
  children: ComponentChildren;
}) {
  return (
    <form
      class={"card" + (props.class ? " " + props.class : "")}
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit();
      }}
      aria-labelledby={props.id}
      noValidate
    >
      <h2 id={props.id}>{props.title}</h2>
      <ProblemView err={props.err} />
      {props.children}
      <div class="form-actions">
        <button type="submit" class="primary" disabled={props.busy}>
          {props.submit}
        </button>
      </div>
      {props.tail}
    </form>
  );
}

// Options are the choices of a select: objects by id, shown by name.
export function Options({ items }: { items?: Array<{ id: string; name: string }> }) {
  return (
    <>
      {(items ?? []).map((o) => (
        <option key={o.id} value={o.id}>
          {o.name}
        </option>
      ))}
    </>
  );
}

// NetworkOptions are the choices of a network select: the default network,
// then each network by name and subnet.
export function NetworkOptions({ items }: { items?: Array<{ id: string; name: string; subnet: string }> }) {
  return (
    <>
      <option value="">{t("instances.noNetwork")}</option>
      {(items ?? []).map((n) => (
        <option key={n.id} value={n.id}>
          {n.name} ({n.subnet})
        </option>
      ))}
    </>
  );
}
