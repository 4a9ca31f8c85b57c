// The graphical display of a KVM VM in the browser: noVNC on the WebSocket
// GET /v1/instances/{id}/terminal opened with a vnc ticket, which the
// server joins to the domain's VNC server. Loaded only when asked for.
import RFB from "@novnc/novnc";
import { useEffect, useRef, useState } from "preact/hooks";
import { post, type S } from "../api";
import { t } from "../i18n";
import { ProblemView } from "../ui";

type State = "connecting" | "open" | "closed";

export function Vnc({ id }: { id: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<State>("connecting");
  const [err, setErr] = useState<unknown>();
  useEffect(() => {
    let rfb: RFB | undefined;
    let live = true;
    (async () => {
      try {
        const tk = await post<S["TerminalTicket"]>(`/v1/instances/${id}/terminal-tickets`, { mode: "vnc" });
        if (!live) return;
        rfb = new RFB(box.current!, (location.protocol === "https:" ? "wss://" : "ws://") + location.host + tk.url, { shared: true });
        rfb.scaleViewport = true;
        rfb.background = "#000";
        rfb.addEventListener("connect", () => setState("open"));
        rfb.addEventListener("disconnect", () => setState("closed"));
      } catch (e) {
        if (live) {
          setErr(e);
          setState("closed");
        }
      }
    })();
    return () => {
      live = false;
      rfb?.disconnect();
    };
  }, [id]);
  return (
    <section class="console card" aria-labelledby="console-vnc">
      <h2 id="console-vnc">{t("console.vnc")}</h2>
      <p class="console-state" data-state={state} role="status">
        {t(`console.state.${state}`)}
      </p>
      <ProblemView err={err} />
      <div class="display" ref={box} />
    </section>
  );
}
