// The portal's client of the public API: the same bearer tokens as every
// other client, and the API's problem details turned into ApiError.
import type { components } from "./schema";

export type S = components["schemas"];
export type Instance = S["Instance"];
export type Task = S["Task"];
export type Network = S["Network"];
export type Host = S["Host"];
export type Pool = S["ResourcePool"];
export type VDC = S["VDC"];
export type User = S["User"];
export type Problem = S["ErrorModel"];

const tokenKey = "ovm.token";

export function token(): string {
  return sessionStorage.getItem(tokenKey) ?? "";
}

export function setToken(t: string) {
  if (t) sessionStorage.setItem(tokenKey, t);
  else sessionStorage.removeItem(tokenKey);
}

// ApiError is an answer of the API that is not a success, with its
// problem details: the title, the detail in words, and the fields named by
// its errors (location "body.spec.cpuMilli" becomes "spec.cpuMilli").
export class ApiError extends Error {
  status: number;
  problem: Problem;
  constructor(status: number, problem: Problem) {
    super(problem.detail || problem.title);
    this.status = status;
    this.problem = problem;
  }
  // fields maps each field the problem names to its message.
  fields(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of this.problem.errors ?? []) {
      const f = (e.location ?? "").replace(/^body\.?/, "").replace(/^(query|path)\./, "");
      if (f && !out[f]) out[f] = e.message;
    }
    return out;
  }
}

// Listeners told when the session ends (an answer 401 with a token).
const onUnauthorized: Array<() => void> = [];
export function whenUnauthorized(f: () => void) {
  onUnauthorized.push(f);
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  if (body === undefined) return send<T>(method, path);
  return send<T>(method, path, JSON.stringify(body), { "Content-Type": "application/json" });
}

// send makes one request with a body as it is (a File or a slice of one
// goes as a stream) and the headers given.
export async function send<T>(method: string, path: string, body?: BodyInit, extra: Record<string, string> = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json, application/problem+json", ...extra };
  const t = token();
  if (t) headers.Authorization = "Bearer " + t;
  let resp: Response;
  try {
    resp = await fetch(path, { method, headers, body });
  } catch (e) {
    throw new ApiError(0, { type: "about:blank", status: 0, title: "Network error", detail: String(e) });
  }
  if (resp.status === 204) return undefined as T;
  const text = await resp.text();
  let data: unknown = undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!resp.ok) {
    const p = (data && typeof data === "object" ? data : { type: "about:blank", status: resp.status, title: resp.statusText, detail: text }) as Problem;
    if (resp.status === 401 && t) onUnauthorized.forEach((f) => f());
    throw new ApiError(resp.status, p);
  }
  return data as T;
}

export const get = <T>(path: string) => call<T>("GET", path);
export const post = <T>(path: string, body?: unknown) => call<T>("POST", path, body ?? {});
export const put = <T>(path: string, body?: unknown) => call<T>("PUT", path, body ?? {});
export const del = (path: string) => call<void>("DELETE", path);

export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? "?" + s : "";
}

// all reads every page of a list (the API pages in id order).
export async function all<T>(path: string, params: Record<string, string | number | undefined> = {}): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await get<{ items: T[] | null; next?: string }>(path + query({ ...params, limit: 1000, cursor }));
    items.push(...(page.items ?? []));
    if (!page.next) return items;
    cursor = page.next;
  }
}

// watchTask follows a task through the API's event stream
// (GET /v1/tasks/{id}/events, text/event-stream) with the bearer token,
// calling onTask with the task after each change, until it is final or
// the signal aborts.
export async function watchTask(id: string, onTask: (t: Task) => void, signal: AbortSignal): Promise<void> {
  const resp = await fetch(`/v1/tasks/${encodeURIComponent(id)}/events`, {
    headers: { Accept: "text/event-stream", Authorization: "Bearer " + token() },
    signal,
  });
  if (!resp.ok || !resp.body) {
    const text = await resp.text();
    let p: Problem;
    try {
      p = JSON.parse(text) as Problem;
    } catch {
      p = { type: "about:blank", status: resp.status, title: resp.statusText, detail: text };
    }
    throw new ApiError(resp.status, p);
  }
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let end: number;
    while ((end = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const data = block
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trimStart())
        .join("\n");
      if (data) onTask(JSON.parse(data) as Task);
    }
  }
}

export const finalStates = ["succeeded", "failed", "rolled-back"];
