import { useEffect, useState } from "preact/hooks";
import { finalStates, get, query, watchTask, type S, type Task } from "../api";
import { fmtTime, t, tx } from "../i18n";
import { Badge, Empty, Loading, Page, Pager, ProblemView, Table, useCursor, useLoad } from "../ui";

// newestFirst orders tasks by their creation, the latest first (the API
// pages them in id order).
export function newestFirst(tasks: Task[]): Task[] {
  return [...tasks].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

// TaskTable lists tasks with their state and progress, each linked to
// its live view.
export function TaskTable({ tasks }: { tasks: Task[] }) {
  return (
    <Table head={[t("tasks.kind"), t("tasks.state"), t("tasks.progress"), t("common.created")]}>
      {tasks.map((k) => (
        <tr key={k.id}>
          <td>
            <a href={`/tasks/${k.id}`}>{tx(`taskKind.${k.kind}`, k.kind)}</a>
          </td>
          <td>
            <Badge kind="task" value={k.state} />
          </td>
          <td>
            <progress max={100} value={k.progress} aria-label={t("tasks.progress")} /> {k.progress}%
          </td>
          <td>{fmtTime(k.createdAt)}</td>
        </tr>
      ))}
    </Table>
  );
}

// Tasks: the VDC's tasks, newest first within the page the API answers.
export function Tasks() {
  const pages = useCursor();
  const list = useLoad(() => get<S["PageTask"]>("/v1/tasks" + query({ limit: 100, cursor: pages.cursor })), [pages.cursor]);
  const items = newestFirst(list.data?.items ?? []);
  return (
    <Page title={t("nav.tasks")} actions={<button onClick={list.reload}>{t("common.refresh")}</button>}>
      <ProblemView err={list.err} />
      {!list.data && !list.err && <Loading />}
      {list.data && items.length === 0 && <Empty text={t("tasks.none")} />}
      {items.length > 0 && <TaskTable tasks={items} />}
      <Pager pages={pages} next={list.data?.next} />
    </Page>
  );
}

// TaskDetails follows one task live through the API's event stream until
// it is final: state, progress, steps and log.
export function TaskDetails({ id }: { id: string }) {
  const [task, setTask] = useState<Task>();
  const [err, setErr] = useState<unknown>();
  const [live, setLive] = useState(false);
  useEffect(() => {
    const ac = new AbortController();
    setErr(undefined);
    get<Task>(`/v1/tasks/${id}`)
      .then((k) => {
        setTask(k);
        if (finalStates.includes(k.state)) return;
        setLive(true);
        return watchTask(id, setTask, ac.signal).finally(() => setLive(false));
      })
      .catch((e) => {
        if (!ac.signal.aborted) setErr(e);
      });
    return () => ac.abort();
  }, [id]);
  return (
    <Page title={task ? tx(`taskKind.${task.kind}`, task.kind) : t("nav.tasks")}>
      <ProblemView err={err} />
      {!task && !err && <Loading />}
      {task && (
        <>
          <div class="card task" data-state={task.state}>
            <p>
              <Badge kind="task" value={task.state} /> {live && <span class="live">{t("tasks.live")}</span>}
            </p>
            <progress max={100} value={task.progress} aria-label={t("tasks.progress")} />
            <span class="pct">{task.progress}%</span>
            {task.error && (
              <p class="problem" role="alert">
                {task.error}
              </p>
            )}
            <h2 class="steps-title">{t("tasks.steps")}</h2>
            <ol class="steps">
              {(task.steps ?? []).map((s, n) => (
                <li key={n}>
                  <Badge kind="step" value={s.state} /> {s.name} {s.error && <span class="step-error">{s.error}</span>}
                </li>
              ))}
            </ol>
          </div>
          <section class="card" aria-labelledby="log-title">
            <h2 id="log-title">{t("tasks.log")}</h2>
            {(task.log ?? []).length === 0 ? (
              <Empty text={t("tasks.noLog")} />
            ) : (
              <pre class="log">
                {(task.log ?? []).map((l) => `${fmtTime(l.time)}  ${l.level.toUpperCase()}  ${l.message}`).join("\n")}
              </pre>
            )}
          </section>
        </>
      )}
    </Page>
  );
}
