// Pieces the storage, metrics, scaling and Chef views share: who is
// logged in, a task followed live until it ends, and sizes typed in MiB.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { del, finalStates, get, watchTask, type Task, type User } from "../api";
import { t, tx } from "../i18n";
import { Badge, Empty, Loading } from "../ui";

let me: Promise<User> | undefined;

// useMe is the logged-in user (read once per page load).
export function useMe(): User | undefined {
  const [u, setU] = useState<User>();
  useEffect(() => {
    me ??= get<User>("/v1/me");
    me.then(setU, () => (me = undefined));
  }, []);
  return u;
}

// useFollow follows the tasks it is given through the API's event stream;
// onEnd runs when one ends (the views reload what it changed).
export function useFollow(onEnd: (task: Task) => void) {
  const [task, setTask] = useState<Task>();
  const ac = useRef<AbortController>();
  const end = useRef(onEnd);
  end.current = onEnd;
  useEffect(() => () => ac.current?.abort(), []);
  function follow(k?: Task) {
    ac.current?.abort();
    setTask(k);
    if (!k) return;
    if (finalStates.includes(k.state)) {
      end.current(k);
      return;
    }
    const c = new AbortController();
    ac.current = c;
    let last = k;
    watchTask(
      k.id,
      (x) => {
        last = x;
        setTask(x);
      },
      c.signal,
    )
      .catch(() => undefined)
      .finally(() => {
        if (!c.signal.aborted) end.current(last);
      });
  }
  return { task, follow };
}

// TaskLine shows a followed task: its kind linked to its page, its state,
// its progress and its error.
export function TaskLine({ task, children }: { task?: Task; children?: ComponentChildren }) {
  if (!task) return null;
  return (
    <div class="notice followed" role="status" data-state={task.state} data-kind={task.kind}>
      <a href={`/tasks/${task.id}`}>{tx(`taskKind.${task.kind}`, task.kind)}</a> <Badge kind="task" value={task.state} />{" "}
      <progress max={100} value={task.progress} aria-label={t("tasks.progress")} /> <span class="pct">{task.progress}%</span>
      {task.error && <span class="reason">{task.error}</span>}
      {children}
    </div>
  );
}

export const MiB = 1 << 20;

// mib turns a size typed in MiB into bytes; what is not a number goes to
// the API as NaN's JSON (null), so its message names the field.
export function mib(v: string): number {
  return Math.round(Number(v) * MiB);
}

export function pct(used: number, total: number): number {
  return total > 0 ? Math.min(100, Math.round((used / total) * 100)) : 0;
}

// setter makes the input handlers of a form's state: set("name") takes
// the value of the field (the checked state of a checkbox) into f.name.
export function setter<T extends object>(f: T, setF: (v: T) => void) {
  return (k: keyof T) => (e: Event) => {
    const el = e.currentTarget as HTMLInputElement;
    setF({ ...f, [k]: el.type === "checkbox" ? el.checked : el.value });
  };
}

// RowNumberForm is a one-number form in a table row (a new size, a
// capacity); the field empties when onSubmit does not answer false.
export function RowNumberForm(props: {
  id: string;
  label: string;
  inputClass: string;
  buttonClass?: string;
  placeholder: string;
  button: string;
  onSubmit: (value: string) => Promise<boolean>;
}) {
  const [v, setV] = useState("");
  return (
    <form
      class="inline-form"
      onSubmit={async (e) => {
        e.preventDefault();
        if (await props.onSubmit(v)) setV("");
      }}
    >
      <label class="sr-only" for={props.id}>
        {props.label}
      </label>
      <input id={props.id} class={props.inputClass} type="number" min="0" placeholder={props.placeholder} value={v} onInput={(e) => setV(e.currentTarget.value)} />
      <button type="submit" class={props.buttonClass}>
        {props.button}
      </button>
    </form>
  );
}

// CheckList is a group of checkboxes choosing items by id, with the API's
// message for the field under it.
export function CheckList(props: {
  legend: string;
  items: Array<{ id: string; name: string }>;
  chosen: string[];
  onChange: (ids: string[]) => void;
  inputClass: string;
  errorField: string;
  error?: string;
  empty?: string;
}) {
  const errId = props.errorField + "-error";
  return (
    <fieldset class={"flags" + (props.error ? " invalid" : "")} aria-describedby={props.error ? errId : undefined}>
      <legend>{props.legend}</legend>
      {props.items.length === 0 && props.empty && <span>{props.empty}</span>}
      {props.items.map((i) => (
        <label class="check" key={i.id}>
          <input
            type="checkbox"
            class={props.inputClass}
            value={i.id}
            checked={props.chosen.includes(i.id)}
            onChange={(e) => props.onChange(e.currentTarget.checked ? [...props.chosen, i.id] : props.chosen.filter((x) => x !== i.id))}
          />{" "}
          {i.name}
        </label>
      ))}
      {props.error && (
        <small class="field-error" id={errId} data-field={props.errorField}>
          {props.error}
        </small>
      )}
    </fieldset>
  );
}

// Listing shows a loaded list: loading, its empty text, or children's
// rendering of its items (an error is the view's to show).
export function Listing<T>({ list, empty, children }: { list: { data?: T[]; err?: unknown }; empty: string; children: (items: T[]) => ComponentChildren }) {
  if (list.err) return null;
  if (!list.data) return <Loading />;
  if (list.data.length === 0) return <Empty text={empty} />;
  return <>{children(list.data)}</>;
}

// deleteConfirmed deletes path once the user confirms question, then runs
// done; a refusal of the API goes to setErr.
export async function deleteConfirmed(question: string, path: string, setErr: (e: unknown) => void, done: () => void) {
  setErr(undefined);
  if (!confirm(question)) return;
  try {
    await del(path);
    done();
  } catch (e) {
    setErr(e);
  }
}

// useSubmit runs a form's request: busy while it runs, and its refusal
// kept as the form's problem.
export function useSubmit() {
  const [err, setErr] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  async function run(request: () => Promise<void>) {
    setErr(undefined);
    setBusy(true);
    try {
      await request();
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  }
  return { err, busy, run, setErr };
}
