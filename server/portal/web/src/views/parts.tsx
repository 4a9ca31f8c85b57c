// Pieces the storage, metrics, scaling and Chef views share: who is
// logged in, a task followed live until it ends, and sizes typed in MiB.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { finalStates, get, watchTask, type Task, type User } from "../api";
import { t, tx } from "../i18n";
import { Badge } from "../ui";

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
