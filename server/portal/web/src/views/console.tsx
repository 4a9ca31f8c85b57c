// The console in the browser: a terminal (xterm.js) on the WebSocket
// GET /v1/instances/{id}/terminal, opened with a ticket of the API (a
// browser cannot give a WebSocket the bearer token). A VM's serial console,
// or a shell inside a container. Loaded on first use: xterm.js stays out of
// the first load, and so is its stylesheet (../console.css: xterm.js's,
// and the theme rules its renderer would add in a <style> element, which
// the Content Security Policy refuses).
import { Terminal } from "@xterm/xterm";
import { useEffect, useRef, useState } from "preact/hooks";
import { get, post, type Instance, type S } from "../api";
import { t } from "../i18n";
import { Lazy } from "../lazy";
import { Field, Loading, Page, ProblemView, useLoad } from "../ui";

type Mode = S["TerminalMode"];

// cssHref is ../console.css, an entry point of its own (esbuild would put
// a lazy chunk's CSS imports into the first load's stylesheet too);
// build.mjs writes its hashed name here.
const cssHref = "/assets/console.css";
let styled: Promise<void> | undefined;

// style loads the console's stylesheet once; xterm.js measures its glyphs
// when it opens, so the terminal waits for it.
function style(): Promise<void> {
  styled ??= new Promise((resolve) => {
    const l = document.createElement("link");
    l.rel = "stylesheet";
    l.href = cssHref;
    l.onload = l.onerror = () => resolve();
    document.head.appendChild(l);
  });
  return styled;
}
type State = "connecting" | "open" | "closed";

const cols = 100;
const rows = 30;

export function Console({ id }: { id: string }) {
  const inst = useLoad(() => get<Instance>(`/v1/instances/${id}`), [id]);
  const i = inst.data;
  const [mode, setMode] = useState<Mode | "">("");
  const [session, setSession] = useState(0);
  const [ready, setReady] = useState(false);
  useEffect(() => {
    style().then(() => setReady(true));
  }, []);
  useEffect(() => {
    if (i && !mode) setMode(i.spec.type === "container" ? "exec" : "serial");
  }, [i]);
  return (
    <Page
      title={i ? t("console.title", { name: i.name }) : t("console.titleBare")}
      actions={
        <a class="button" href={`/instances/${id}`}>
          {t("console.back")}
        </a>
      }
    >
      <ProblemView err={inst.err} />
      {!i && !inst.err && <Loading />}
      {i && mode && ready && (
        <>
          <form class="filters" onSubmit={(e) => e.preventDefault()}>
            <Field id="console-mode" label={t("console.mode")}>
              <select id="console-mode" value={mode} onChange={(e) => setMode(e.currentTarget.value as Mode)}>
                <option value="serial">{t("console.serial")}</option>
                {i.spec.type === "container" && <option value="exec">{t("console.exec")}</option>}
                {i.spec.type === "vm" && <option value="vnc">{t("console.vnc")}</option>}
              </select>
            </Field>
            <div class="console-actions">
              <button type="button" class="reconnect" onClick={() => setSession((n) => n + 1)}>
                {t("console.reconnect")}
              </button>
            </div>
          </form>
          {mode === "vnc" ? (
            <Lazy key={`vnc-${session}`} load={() => import("./vnc").then((v) => v.Vnc)} props={{ id }} />
          ) : (
            <Term key={`${mode}-${session}`} id={id} mode={mode} />
          )}
        </>
      )}
    </Page>
  );
}

// Term is one session: a ticket, the WebSocket, and the terminal on it.
function Term({ id, mode }: { id: string; mode: Mode }) {
  const box = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<State>("connecting");
  const [reason, setReason] = useState("");
  const [err, setErr] = useState<unknown>();
  useEffect(() => {
    const term = new Terminal({ cols, rows, convertEol: false, cursorBlink: true, screenReaderMode: true, fontSize: 14, minimumContrastRatio: 4.5 });
    term.open(box.current!);
    let ws: WebSocket | undefined;
    let live = true;
    const enc = new TextEncoder();
    (async () => {
      try {
        const tk = await post<S["TerminalTicket"]>(`/v1/instances/${id}/terminal-tickets`, { mode, cols, rows });
        if (!live) return;
        ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + tk.url);
        ws.binaryType = "arraybuffer";
        ws.onopen = () => {
          setState("open");
          term.focus();
        };
        ws.onmessage = (ev) => term.write(typeof ev.data === "string" ? ev.data : new Uint8Array(ev.data as ArrayBuffer));
        ws.onclose = (ev) => {
          setState("closed");
          setReason(ev.code === 1000 || ev.code === 1005 ? "" : ev.reason || String(ev.code));
        };
      } catch (e) {
        if (live) {
          setErr(e);
          setState("closed");
        }
      }
    })();
    const input = term.onData((d) => ws?.readyState === WebSocket.OPEN && ws.send(enc.encode(d)));
    const resize = term.onResize((s) => ws?.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ type: "resize", cols: s.cols, rows: s.rows })));
    return () => {
      live = false;
      input.dispose();
      resize.dispose();
      ws?.close();
      term.dispose();
    };
  }, [id, mode]);
  return (
    <section class="console card" aria-labelledby="console-term">
      <h2 id="console-term">{mode === "exec" ? t("console.exec") : t("console.serial")}</h2>
      <p class="console-state" data-state={state} role="status">
        {t(`console.state.${state}`)}
        {reason && ` (${reason})`}
      </p>
      <ProblemView err={err} />
      <div class="terminal" ref={box} />
    </section>
  );
}
