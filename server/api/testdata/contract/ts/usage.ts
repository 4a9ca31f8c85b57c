// A small program on the types openapi-typescript generates from the
// served document (ovm-api.d.ts, written next to this file by the contract
// test). It only has to compile (tsc --noEmit): each line below stops
// compiling when the document loses what it uses.
import type { components, operations, paths } from "./ovm-api";

type JSONBody<Op extends keyof operations> = operations[Op] extends {
  requestBody?: { content: { "application/json": infer B } };
}
  ? B
  : never;

// Request bodies.
export const login: JSONBody<"login"> = { name: "alice", password: "a long enough password" };
export const network: JSONBody<"create-network"> = { name: "web", subnet: "10.0.0.0/24", gateway: "10.0.0.1" };
export const instance: JSONBody<"create-instance"> = {
  name: "web-1",
  start: true,
  spec: {
    type: "container",
    cpuMilli: 250,
    memoryBytes: 64 * 1024 * 1024,
    image: { format: "oci", name: "busybox:1" },
    nics: [{ networkId: "5f0c6d1e-8d3b-4c47-9a57-7d3c2b8a6f10" }],
  },
};

// Answers.
type Created = operations["create-instance"]["responses"][202]["content"]["application/json"];
export function taskOf(c: Created): string | undefined {
  return c.task?.id;
}
export function instanceOf(c: Created): string {
  return c.instance.id;
}
type Problem = components["schemas"]["ErrorModel"];
export function detailOf(p: Problem): string | undefined {
  return p.detail;
}
export function statusOf(p: operations["get-instance"]["responses"][404]["content"]["application/problem+json"]): number {
  return p.status;
}

// list-tokens pages like every list: cursor and limit in, items and next out.
export const tokenPage: NonNullable<operations["list-tokens"]["parameters"]["query"]> = { cursor: "c", limit: 10 };
type TokenPage = operations["list-tokens"]["responses"][200]["content"]["application/json"];
export function nextOf(p: TokenPage): string | undefined {
  return p.next ?? undefined;
}
export function tokenNames(p: TokenPage): string[] {
  return (p.items ?? []).map((t) => t.name);
}

// Enums are named schemas: a state the document drops stops compiling here.
type TaskState = components["schemas"]["TaskState"];
export function final(s: TaskState): boolean {
  return s === "succeeded" || s === "failed" || s === "rolled-back";
}
export function running(i: components["schemas"]["Instance"]): boolean {
  const power: components["schemas"]["PowerState"] = i.status.power;
  return power === "running" && i.status.phase === "ready";
}

// The task stream declares its events: a "task" event whose data is a Task.
type TaskEvent = operations["watch-task"]["responses"][200]["content"]["text/event-stream"][number];
export function stateOf(e: TaskEvent): TaskState | undefined {
  const name: "task" = e.event;
  return name === "task" ? e.data.state : undefined;
}

// The console declares its events, and takes no Accept parameter.
type ConsoleEvent = operations["get-instance-console"]["responses"][200]["content"]["text/event-stream"][number];
export function printed(e: ConsoleEvent): string {
  return e.event === "output" ? e.data : "";
}
type ConsoleHeaders = operations["get-instance-console"]["parameters"]["header"];
export const noConsoleHeaders: [ConsoleHeaders] extends [undefined] ? true : false = true;

// Paths are typed too.
export const watchPath: keyof paths = "/v1/tasks/{id}/events";
