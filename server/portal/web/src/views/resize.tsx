// Resize: an instance's vCPUs and memory (a task when the host must
// change them; a VM may need a stop first, as the API says).
import { useState } from "preact/hooks";
import { call, type Instance, type S } from "../api";
import { t } from "../i18n";
import { Field, fieldErrors, FormCard } from "../ui";
import { mib, TaskLine, useFollow } from "./parts";

export function Resize({ inst, onDone }: { inst: Instance; onDone: () => void }) {
  const [f, setF] = useState({ cpu: String(inst.spec.cpuMilli / 1000), memory: String(inst.spec.memoryBytes / 2 ** 20) });
  const [err, setErr] = useState<unknown>();
  const { task, follow } = useFollow(() => onDone());
  const { fields, rest } = fieldErrors(err, ["cpuMilli", "memoryBytes"]);
  async function submit() {
    setErr(undefined);
    try {
      const r = await call<S["InstanceTask"]>("PATCH", `/v1/instances/${inst.id}`, {
        cpuMilli: Math.round(Number(f.cpu) * 1000),
        memoryBytes: mib(f.memory),
      });
      if (r.task) follow(r.task);
      else onDone();
    } catch (e) {
      setErr(e);
    }
  }
  return (
    <FormCard id="resize" title={t("instances.resize")} err={rest} submit={t("instances.resizeOne")} onSubmit={submit}>
      <div class="form-grid">
        <Field id="resize-cpu" label={t("instances.cpu")} error={fields.cpuMilli}>
          <input id="resize-cpu" type="number" step="0.1" min="0" value={f.cpu} onInput={(e) => setF({ ...f, cpu: e.currentTarget.value })} />
        </Field>
        <Field id="resize-memory" label={t("instances.memory")} error={fields.memoryBytes}>
          <input id="resize-memory" type="number" min="1" value={f.memory} onInput={(e) => setF({ ...f, memory: e.currentTarget.value })} />
        </Field>
      </div>
      <TaskLine task={task} />
    </FormCard>
  );
}
