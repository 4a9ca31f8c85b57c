import { useEffect, useState } from "preact/hooks";
import { finalStates, get, query, watchTask, type S, type Task } from "../api";
import { fmtTime, t, tx } from "../i18n";
import { Badge, Empty, Loading, Page, ProblemView, useLoad } from "../ui";

// newestFirst orders tasks by their creation, the latest first (the API
// pages them in id order).
export function newestFirst(tasks: Task[]): Task[] {
  return [...tasks].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

// Tasks: the VDC's tasks, newest first within the page the API answers.
export function Tasks() {
  const [cursors, setCursors] = useState<string[]>([""]);
  const cursor = cursors[cursors.length - 1];
  const list = useLoad(() => get<S["PageTask"]>("/v1/tasks" + query({ limit: 100, cursor })), [cursor]);
  const items = newestFirst(list.data?.items ?? []);
  return (
    <Page title={t("nav.tasks")} actions={<button onClick={list.reload}>{t("common.refresh")}</button>}>
      <ProblemView err={list.err} />
      {!list.data && !list.err && <Loading />}
      {list.data && items.length === 0 && <Empty text={t("tasks.none")} />}
      {items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t("tasks.kind")}</th>
              <th scope="col">{t("tasks.state")}</th>
              <th scope="col">{t("tasks.progress")}</th>
              <th scope="col">{t("common.created")}</th>
            </tr>
          </thead>
          <tbody>
            {items.map((k) => (
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
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label={t("common.pages")}>
        <button disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
          {t("common.previous")}
        </button>
        <span>{t("common.pageN", { n: cursors.length })}</span>
        <button disabled={!list.data?.next} onClick={() => list.data?.next && setCursors([...cursors, list.data.next])}>
          {t("common.next")}
        </button>
      </nav>
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
