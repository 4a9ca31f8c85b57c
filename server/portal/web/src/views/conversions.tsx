// Conversions between the catalog's kinds, each a task the image view
// follows: a template into a container image pushed to a registry, a
// container image into a template; and a container instance committed as
// an image (on the instance's page).
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { all, post, type Instance, type S, type Task, type VDC } from "../api";
import { t } from "../i18n";
import { Field, fieldErrors, Options, ProblemView, useLoad } from "../ui";
import type { Image, Registry } from "./images";
import { setter, TaskLine, useFollow } from "./parts";

// RowForm is a small form in a table row or a panel: its fields, the
// problem no field shows, and its button.
function RowForm(props: { id: string; label: string; err: unknown; button: string; onSubmit: () => void; children: ComponentChildren }) {
  return (
    <form
      class="inline-form convert-form"
      id={props.id}
      aria-label={props.label}
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit();
      }}
      noValidate
    >
      {props.children}
      <button type="submit" class="primary">
        {props.button}
      </button>
      <ProblemView err={props.err} />
    </form>
  );
}

// convert asks for a conversion and hands its task over.
async function convert(body: S["ImageConversion"], started: (k: Task) => void, setErr: (e: unknown) => void) {
  setErr(undefined);
  try {
    const r = await post<S["ConversionTask"]>("/v1/image-conversions", body);
    started(r.task);
  } catch (e) {
    setErr(e);
  }
}

// targetErrors are the messages of a conversion's problem by the target's
// fields.
function targetErrors(err: unknown, fields: string[]) {
  const { fields: byField, rest } = fieldErrors(err, [...fields.map((f) => "target." + f), "source", "direction"]);
  const out: Record<string, string | undefined> = {};
  for (const f of fields) out[f] = byField["target." + f];
  return { fields: out, rest: byField.source ? err : rest };
}

// ConvertToContainer makes a container image of a ready template.
export function ConvertToContainer({ img, registries, started }: { img: Image; registries: Registry[]; started: (k: Task) => void }) {
  const base = img.name.replace(/\.[^.]*$/, "").toLowerCase().replace(/[^a-z0-9._-]/g, "-");
  const [f, setF] = useState({ repository: base, tag: "latest", registry: "", cmd: "" });
  const [err, setErr] = useState<unknown>();
  const { fields, rest } = targetErrors(err, ["repository", "tag", "registryId"]);
  const cmdErr = fieldErrors(err, ["cmd"]).fields.cmd;
  const set = setter(f, setF);
  const id = `tc-${img.id}`;
  const submit = () =>
    convert(
      {
        direction: "to-container",
        source: img.id ?? "",
        target: { repository: f.repository, tag: f.tag, registryId: f.registry || undefined },
        // The image's default command, run by the shell (default: the shell).
        cmd: f.cmd.trim() ? ["/bin/sh", "-c", f.cmd] : undefined,
      },
      started,
      setErr,
    );
  return (
    <RowForm id={id} label={t("conv.toContainerOne", { name: img.name })} err={rest} button={t("conv.start")} onSubmit={submit}>
      <Field id={`${id}-repo`} label={t("conv.repository")} error={fields.repository}>
        <input id={`${id}-repo`} class="conv-repository" value={f.repository} onInput={set("repository")} />
      </Field>
      <Field id={`${id}-tag`} label={t("conv.tag")} error={fields.tag}>
        <input id={`${id}-tag`} class="conv-tag" value={f.tag} onInput={set("tag")} />
      </Field>
      <Field id={`${id}-reg`} label={t("conv.registry")} error={fields.registryId}>
        <select id={`${id}-reg`} class="conv-registry" value={f.registry} onChange={set("registry")}>
          <option value="">{t("conv.defaultRegistry")}</option>
          <Options items={registries} />
        </select>
      </Field>
      <Field id={`${id}-cmd`} label={t("conv.command")} error={cmdErr} hint={t("conv.commandHint")}>
        <input id={`${id}-cmd`} class="conv-cmd" value={f.cmd} onInput={set("cmd")} />
      </Field>
    </RowForm>
  );
}

// ConvertToTemplate makes a template of a container image.
export function ConvertToTemplate({ img, admin, vdcs, started }: { img: Image; admin: boolean; vdcs?: VDC[]; started: (k: Task) => void }) {
  const base = (img.name.split("/").pop() ?? "").replace(/[:@].*$/, "").replace(/[^A-Za-z0-9._-]/g, "-");
  const [f, setF] = useState({ name: base, vdc: "" });
  const [err, setErr] = useState<unknown>();
  const { fields, rest } = targetErrors(err, ["name", "vdcId"]);
  const set = setter(f, setF);
  const id = `tt-${img.name.replace(/[^A-Za-z0-9]/g, "-")}`;
  const submit = () => convert({ direction: "to-template", source: img.name, target: { name: f.name, vdcId: f.vdc || undefined } }, started, setErr);
  return (
    <RowForm id={id} label={t("conv.toTemplateOne", { name: img.name })} err={rest} button={t("conv.start")} onSubmit={submit}>
      <Field id={`${id}-name`} label={t("conv.templateName")} error={fields.name}>
        <input id={`${id}-name`} class="conv-name" value={f.name} onInput={set("name")} />
      </Field>
      {admin && (
        <Field id={`${id}-vdc`} label={t("images.scope")} error={fields.vdcId}>
          <select id={`${id}-vdc`} value={f.vdc} onChange={set("vdc")}>
            <option value="">{t("images.platformWide")}</option>
            <Options items={vdcs} />
          </select>
        </Field>
      )}
    </RowForm>
  );
}

// CommitImage (a container's page) commits the container instance as an image pushed to a
// registry, following the task.
export function CommitImage({ inst }: { inst: Instance }) {
  const regs = useLoad(() => all<Registry>("/v1/registries"), []);
  const [f, setF] = useState({ repository: inst.name.toLowerCase().replace(/[^a-z0-9._-]/g, "-"), tag: "latest", registry: "" });
  const [err, setErr] = useState<unknown>();
  const [ref, setRef] = useState("");
  const { task, follow } = useFollow(() => undefined);
  const { fields, rest } = fieldErrors(err, ["repository", "tag", "registryId"]);
  const set = setter(f, setF);
  async function submit() {
    setErr(undefined);
    try {
      const r = await post<S["InstanceCommitTask"]>(`/v1/instances/${inst.id}/commit`, { repository: f.repository, tag: f.tag, registryId: f.registry || undefined } satisfies S["InstanceCommit"]);
      setRef(r.reference);
      follow(r.task);
    } catch (e) {
      setErr(e);
    }
  }
  return (
    <section class="card sub" aria-labelledby="inst-commit">
      <h2 id="inst-commit">{t("commit.title")}</h2>
      <RowForm id="commit-form" label={t("commit.title")} err={rest} button={t("commit.button")} onSubmit={submit}>
        <Field id="commit-repo" label={t("conv.repository")} error={fields.repository}>
          <input id="commit-repo" value={f.repository} onInput={set("repository")} />
        </Field>
        <Field id="commit-tag" label={t("conv.tag")} error={fields.tag}>
          <input id="commit-tag" value={f.tag} onInput={set("tag")} />
        </Field>
        <Field id="commit-reg" label={t("conv.registry")} error={fields.registryId}>
          <select id="commit-reg" value={f.registry} onChange={set("registry")}>
            <option value="">{t("conv.defaultRegistry")}</option>
            <Options items={regs.data} />
          </select>
        </Field>
      </RowForm>
      <TaskLine task={task}>{ref && <code class="reference">{ref}</code>}</TaskLine>
    </section>
  );
}
