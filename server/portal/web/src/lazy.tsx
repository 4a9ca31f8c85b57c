// Lazy shows a view whose code is loaded on first use (its own chunk).
import type { ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ProblemView, Loading } from "./ui";

export function Lazy<P extends object>({ load, props }: { load: () => Promise<ComponentType<P>>; props: P }) {
  const [view, setView] = useState<{ C: ComponentType<P> } | undefined>();
  const [err, setErr] = useState<unknown>();
  useEffect(() => {
    load().then((C) => setView({ C }), setErr);
  }, []);
  if (err) return <ProblemView err={err} />;
  if (!view) return <Loading />;
  return <view.C {...props} />;
}
