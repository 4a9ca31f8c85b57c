// The create wizard: an instance (VM or container) step by step, from its
// image or template, its size, its network and disks, its keys and user
// data, to a review; the API's field messages show beside the fields, on
// the step that has them.
import { useState } from "preact/hooks";
import { all, post, type Network, type S } from "../api";
import { t, type Key } from "../i18n";
import { navigate } from "../router";
import { Field, fieldErrors, fmtBytes, fmtCPU, NetworkOptions, Page, ProblemView, useLoad } from "../ui";

const MiB = 1 << 20;
const GiB = 1 << 30;

// sizes are the presets of the size step: vCPUs and MiB.
const sizes: Array<{ id: string; cpu: number; memory: number }> = [
  { id: "small", cpu: 1, memory: 512 },
  { id: "medium", cpu: 2, memory: 2048 },
  { id: "large", cpu: 4, memory: 8192 },
];

const steps: Key[] = ["create.step.source", "create.step.size", "create.step.network", "create.step.access", "create.step.review"];

const maxDisks = 8;
const diskFields = Array.from({ length: maxDisks }, (_, i) => `spec.disks[${i}]`);

// fieldStep is the step that shows a field of the request.
const fieldStep: Array<[string, number]> = [
  ["name", 0],
  ["spec.type", 0],
  ["spec.image", 0],
  ["spec.cpuMilli", 1],
  ["spec.memoryBytes", 1],
  ["spec.nics", 2],
  ...diskFields.map((f): [string, number] => [f, 2]),
  ["spec.disks", 2],
  ["spec.sshKeys", 3],
  ["spec.userData", 3],
  ["spec.hostname", 3],
  ["spec.command", 3],
];
const known = fieldStep.map(([f]) => f);

type Disk = { name: string; size: string };

export function CreateWizard() {
  const nets = useLoad(() => all<Network>("/v1/networks"), []);
  // The image catalog the image field offers: ready templates for a VM,
  // container images for a container (any other name is still taken).
  const catalog = useLoad(() => all<S["Image"]>("/v1/images").catch(() => [] as S["Image"][]), []);
  const [step, setStep] = useState(0);
  const [f, setF] = useState({
    type: "vm",
    name: "",
    image: "",
    format: "qcow2",
    size: "small",
    cpu: "1",
    memory: "512",
    network: "",
    keys: "",
    userData: "",
    hostname: "",
    command: "",
    start: true,
  });
  const [disks, setDisks] = useState<Disk[]>([]);
  const [err, setErr] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const { fields, rest } = fieldErrors(err, known);
  const set = (k: keyof typeof f) => (e: Event) => {
    const el = e.currentTarget as HTMLInputElement;
    setF({ ...f, [k]: el.type === "checkbox" ? el.checked : el.value });
  };
  const choices = (catalog.data ?? []).filter((i) =>
    f.type === "vm" ? i.kind === "template" && i.phase === "ready" : i.kind === "container",
  );
  // pickImage takes a name typed or chosen; a catalog template gives its
  // format too.
  const pickImage = (e: Event) => {
    const name = (e.currentTarget as HTMLInputElement).value;
    const tmpl = choices.find((i) => i.kind === "template" && i.name === name);
    setF({ ...f, image: name, format: tmpl ? tmpl.format : f.format });
  };
  const preset = sizes.find((s) => s.id === f.size);
  const cpu = preset ? preset.cpu : Number(f.cpu);
  const memory = preset ? preset.memory : Number(f.memory);
  const vm = f.type === "vm";

  function request(): S["InstanceCreate"] {
    const spec: S["InstanceSpecInput"] = {
      type: f.type as S["InstanceType"],
      image: { name: f.image.trim(), format: (vm ? f.format : "oci") as S["ImageFormat"] },
      cpuMilli: Math.round(cpu * 1000),
      memoryBytes: Math.round(memory * MiB),
    };
    if (f.network) spec.nics = [{ networkId: f.network }];
    if (disks.length) spec.disks = disks.map((d) => ({ name: d.name.trim(), sizeBytes: Math.round(Number(d.size) * GiB) }));
    const keys = f.keys.split("\n").map((k) => k.trim()).filter(Boolean);
    if (keys.length) spec.sshKeys = keys;
    if (vm && f.userData.trim()) spec.userData = f.userData;
    if (f.hostname.trim()) spec.hostname = f.hostname.trim();
    const command = f.command.trim().split(/\s+/).filter(Boolean);
    if (!vm && command.length) spec.command = command;
    return { name: f.name.trim(), spec, start: f.start };
  }

  async function submit() {
    setBusy(true);
    setErr(undefined);
    try {
      const r = await post<S["InstanceTask"]>("/v1/instances", request());
      navigate(r.task ? `/tasks/${r.task.id}` : `/instances/${r.instance.id}`);
    } catch (e) {
      setErr(e);
      // Show the first step with a message of the API.
      const shown = fieldErrors(e, known).fields;
      const first = fieldStep.find(([k]) => shown[k]);
      if (first) setStep(first[1]);
    } finally {
      setBusy(false);
    }
  }

  const stepErrors = (n: number) => fieldStep.some(([k, s]) => s === n && fields[k]);
  return (
    <Page title={t("create.title")}>
      <nav aria-label={t("create.steps")}>
        <ol class="steps">
          {steps.map((k, n) => (
            <li key={k} class={stepErrors(n) ? "has-error" : undefined}>
              <button type="button" class="step" aria-current={n === step ? "step" : undefined} onClick={() => setStep(n)}>
                {n + 1}. {t(k)}
              </button>
            </li>
          ))}
        </ol>
      </nav>
      <form
        class="card wizard"
        aria-labelledby="wizard-step"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (step < steps.length - 1) setStep(step + 1);
          else submit();
        }}
      >
        <h2 id="wizard-step">{t(steps[step])}</h2>
        {step === steps.length - 1 && <ProblemView err={rest} />}
        {step === 0 && (
          <div class="form-grid">
            <Field id="wiz-type" label={t("instances.type")} error={fields["spec.type"]}>
              <select id="wiz-type" value={f.type} onChange={set("type")}>
                <option value="vm">{t("type.vm")}</option>
                <option value="container">{t("type.container")}</option>
              </select>
            </Field>
            <Field id="wiz-name" label={t("common.name")} error={fields.name}>
              <input id="wiz-name" value={f.name} onInput={set("name")} />
            </Field>
            <Field id="wiz-image" label={vm ? t("create.template") : t("instances.image")} error={fields["spec.image"]} hint={vm ? t("create.templateHint") : t("create.imageHint")}>
              <input id="wiz-image" list="wiz-catalog" value={f.image} onInput={pickImage} />
              <datalist id="wiz-catalog">
                {choices.map((i) => (
                  <option key={i.id ?? i.name} value={i.name}>
                    {i.kind === "template" ? `${i.format}, ${fmtBytes(i.virtualSize ?? i.size)}` : (i.platform ?? "")}
                  </option>
                ))}
              </datalist>
            </Field>
            {vm && (
              <Field id="wiz-format" label={t("create.format")}>
                <select id="wiz-format" value={f.format} onChange={set("format")}>
                  <option value="qcow2">qcow2</option>
                  <option value="raw">raw</option>
                  <option value="vmdk">vmdk</option>
                </select>
              </Field>
            )}
          </div>
        )}
        {step === 1 && (
          <>
            <fieldset class="sizes">
              <legend>{t("instances.size")}</legend>
              {[...sizes.map((s) => s.id), "custom"].map((id) => {
                const s = sizes.find((x) => x.id === id);
                return (
                  <label key={id} class="check">
                    <input type="radio" name="wiz-size" value={id} checked={f.size === id} onChange={set("size")} />{" "}
                    {t(`create.size.${id}` as Key)}
                    {s && ` · ${fmtCPU(s.cpu * 1000)} · ${fmtBytes(s.memory * MiB)}`}
                  </label>
                );
              })}
            </fieldset>
            {f.size === "custom" && (
              <div class="form-grid">
                <Field id="wiz-cpu" label={t("instances.cpu")} error={fields["spec.cpuMilli"]}>
                  <input id="wiz-cpu" type="number" min="0" step="0.25" value={f.cpu} onInput={set("cpu")} />
                </Field>
                <Field id="wiz-memory" label={t("instances.memory")} error={fields["spec.memoryBytes"]}>
                  <input id="wiz-memory" type="number" min="0" step="64" value={f.memory} onInput={set("memory")} />
                </Field>
              </div>
            )}
            {f.size !== "custom" && (fields["spec.cpuMilli"] || fields["spec.memoryBytes"]) && (
              <p class="field-error" data-field="wiz-size">
                {fields["spec.cpuMilli"] ?? fields["spec.memoryBytes"]}
              </p>
            )}
          </>
        )}
        {step === 2 && (
          <>
            <div class="form-grid">
              <Field id="wiz-network" label={t("instances.network")} error={fields["spec.nics"]}>
                <select id="wiz-network" value={f.network} onChange={set("network")}>
                  <NetworkOptions items={nets.data} />
                </select>
              </Field>
            </div>
            <fieldset class="disks">
              <legend>{t("create.disks")}</legend>
              {disks.length === 0 && <p class="hint">{t("create.noDisks")}</p>}
              {disks.map((d, n) => (
                <div class="form-grid disk" key={n}>
                  <Field id={`wiz-disk-${n}-name`} label={t("create.diskName")} error={fields[`spec.disks[${n}]`]}>
                    <input id={`wiz-disk-${n}-name`} value={d.name} onInput={(e) => setDisks(disks.map((x, i) => (i === n ? { ...x, name: e.currentTarget.value } : x)))} />
                  </Field>
                  <Field id={`wiz-disk-${n}-size`} label={t("create.diskSize")}>
                    <input id={`wiz-disk-${n}-size`} type="number" min="1" value={d.size} onInput={(e) => setDisks(disks.map((x, i) => (i === n ? { ...x, size: e.currentTarget.value } : x)))} />
                  </Field>
                  <button type="button" onClick={() => setDisks(disks.filter((_, i) => i !== n))} aria-label={t("create.removeDisk", { n: n + 1 })}>
                    {t("common.delete")}
                  </button>
                </div>
              ))}
              {fields["spec.disks"] && (
                <p class="field-error" data-field="wiz-disks">
                  {fields["spec.disks"]}
                </p>
              )}
              <button type="button" class="add-disk" disabled={disks.length >= maxDisks} onClick={() => setDisks([...disks, { name: `data${disks.length + 1}`, size: "1" }])}>
                {t("create.addDisk")}
              </button>
            </fieldset>
          </>
        )}
        {step === 3 && (
          <div class="form-grid">
            <Field id="wiz-keys" label={t("create.keys")} error={fields["spec.sshKeys"]} hint={t("create.keysHint")}>
              <textarea id="wiz-keys" rows={3} value={f.keys} onInput={set("keys")} />
            </Field>
            <Field id="wiz-hostname" label={t("create.hostname")} error={fields["spec.hostname"]}>
              <input id="wiz-hostname" value={f.hostname} onInput={set("hostname")} />
            </Field>
            {vm ? (
              <Field id="wiz-userdata" label={t("create.userData")} error={fields["spec.userData"]} hint={t("create.userDataHint")}>
                <textarea id="wiz-userdata" rows={6} value={f.userData} onInput={set("userData")} />
              </Field>
            ) : (
              <Field id="wiz-command" label={t("instances.command")} error={fields["spec.command"]} hint={t("instances.commandHint")}>
                <input id="wiz-command" value={f.command} onInput={set("command")} />
              </Field>
            )}
          </div>
        )}
        {step === 4 && (
          <>
            <dl class="details review">
              <dt>{t("common.name")}</dt>
              <dd>{f.name || "—"}</dd>
              <dt>{t("instances.type")}</dt>
              <dd>{t(vm ? "type.vm" : "type.container")}</dd>
              <dt>{vm ? t("create.template") : t("instances.image")}</dt>
              <dd>{f.image || "—"}</dd>
              <dt>{t("instances.size")}</dt>
              <dd>
                {fmtCPU(Math.round(cpu * 1000))} · {fmtBytes(Math.round(memory * MiB))}
              </dd>
              <dt>{t("instances.network")}</dt>
              <dd>{nets.data?.find((n) => n.id === f.network)?.name ?? t("instances.noNetwork")}</dd>
              <dt>{t("create.disks")}</dt>
              <dd>{disks.map((d) => `${d.name} ${d.size} GiB`).join(", ") || "—"}</dd>
              <dt>{t("create.keys")}</dt>
              <dd>{f.keys.split("\n").filter((k) => k.trim()).length}</dd>
            </dl>
            <label class="check">
              <input type="checkbox" checked={f.start} onChange={set("start")} /> {t("instances.startAfter")}
            </label>
          </>
        )}
        <div class="form-actions">
          {step > 0 && (
            <button type="button" class="back" onClick={() => setStep(step - 1)}>
              {t("create.back")}
            </button>
          )}
          <button type="submit" class="primary" disabled={busy}>
            {step < steps.length - 1 ? t("create.next") : t("common.create")}
          </button>
        </div>
      </form>
    </Page>
  );
}
