// ImportCell is the import form of one discovered object: the VDC it goes
// into and, when the object has no CPU or memory limit on its host, the
// CPU and memory it may use (the API sets them as its limits); the API's
// field messages show beside these fields.
import { useState } from "preact/hooks";
import { post, type S, type VDC } from "../api";
import { t } from "../i18n";
import { Field, fieldErrors, Options, ProblemView } from "../ui";

const importFields = ["vdcId", "name", "cpuMilli", "memoryBytes"];

export function ImportCell({ d, vdcs, onDone }: { d: S["Discovered"]; vdcs?: VDC[]; onDone: () => void }) {
  const [vdc, setVdc] = useState("");
  const [cpu, setCpu] = useState("");
  const [memory, setMemory] = useState("");
  const [err, setErr] = useState<unknown>();
  const { fields, rest } = fieldErrors(err, importFields);
  const needCPU = !d.cpuMilli;
  const needMemory = !d.memoryBytes;
  async function submit() {
    setErr(undefined);
    const body: S["DiscoveredImport"] = { vdcId: vdc || vdcs?.[0]?.id || "", name: d.name };
    if (needCPU && cpu) body.cpuMilli = Math.round(Number(cpu) * 1000);
    if (needMemory && memory) body.memoryBytes = Math.round(Number(memory) * (1 << 20));
    try {
      await post(`/v1/discovered/${d.id}/import`, body);
      onDone();
    } catch (e) {
      setErr(e);
    }
  }
  return (
    <td class="row-actions">
      <div class="import">
        <Field id={`imp-${d.id}`} label={t("discovered.into")} error={fields.vdcId ?? fields.name}>
          <select id={`imp-${d.id}`} value={vdc || vdcs?.[0]?.id || ""} onChange={(e) => setVdc(e.currentTarget.value)}>
            <Options items={vdcs} />
          </select>
        </Field>
        {needCPU && (
          <Field id={`imp-${d.id}-cpu`} label={t("instances.cpu")} error={fields.cpuMilli}>
            <input id={`imp-${d.id}-cpu`} type="number" min="0" step="0.25" value={cpu} onInput={(e) => setCpu(e.currentTarget.value)} />
          </Field>
        )}
        {needMemory && (
          <Field id={`imp-${d.id}-memory`} label={t("instances.memory")} error={fields.memoryBytes}>
            <input id={`imp-${d.id}-memory`} type="number" min="0" step="64" value={memory} onInput={(e) => setMemory(e.currentTarget.value)} />
          </Field>
        )}
        <button onClick={submit} aria-label={t("discovered.importOne", { name: d.name })}>
          {t("discovered.import")}
        </button>
        <ProblemView err={rest} />
      </div>
    </td>
  );
}
