// The image center: the catalog's VM templates and the registries'
// container images side by side; upload a template from the browser (in
// chunks, resumed from the bytes the server has), download and delete it,
// and convert either kind into the other.
import { useState } from "preact/hooks";
import { all, ApiError, get, post, send, token, type S, type Task, type VDC } from "../api";
import { t } from "../i18n";
import { Badge, Field, fieldErrors, fmtBytes, FormCard, Options, Page, ProblemView, Table, useLoad } from "../ui";
import { ConvertToContainer, ConvertToTemplate } from "./conversions";
import { deleteConfirmed, Listing, pct, setter, TaskLine, useFollow, useMe, useSubmit } from "./parts";
import "./views.css";

export type Image = S["Image"];
export type Registry = S["Registry"];

// chunk is the bytes one request of an upload carries: the progress moves
// by this much, and an interrupted upload loses at most this much.
const chunk = 4 << 20;

// formatOf is a template's format from its file name's extension.
export function formatOf(file: string): S["ImageFormat"] {
  const ext = file.toLowerCase().split(".").pop();
  if (ext === "vmdk") return "vmdk";
  if (ext === "raw" || ext === "img" || ext === "iso") return "raw";
  return "qcow2";
}

// uploadContent sends file to the template from the bytes the server has,
// one chunk per request with its Content-Range; after a chunk refused
// because the server has other bytes (409) or a request or answer lost on
// the way, it goes on from where the server is. It returns the image as
// the last answer has it.
export async function uploadContent(img: Image, file: Blob, progress: (sent: number) => void): Promise<Image> {
  let start = img.uploadedBytes ?? 0;
  let failures = 0;
  progress(start);
  for (;;) {
    const end = Math.min(start + chunk, file.size) - 1;
    try {
      img = await send<Image>("PUT", `/v1/images/${img.id}/content`, file.slice(start, end + 1), {
        "Content-Type": "application/octet-stream",
        "Content-Range": `bytes ${start}-${end}/${file.size}`,
      });
      failures = 0;
      if (img.phase !== "uploading") {
        progress(file.size);
        return img;
      }
      start = img.uploadedBytes ?? end + 1;
    } catch (e) {
      if (!(e instanceof ApiError) || (e.status !== 0 && e.status !== 409) || ++failures > 3) throw e;
      // Where the server is: the lost request may have brought the last
      // bytes already.
      const now = await get<Image>(`/v1/images/${img.id}`);
      if (now.phase === "ready") {
        progress(file.size);
        return now;
      }
      if (now.phase !== "uploading") throw e;
      start = now.uploadedBytes ?? 0;
    }
    progress(start);
  }
}

// download saves a ready template's file: the API wants the bearer token,
// which a plain link cannot send.
async function download(img: Image, setErr: (e: unknown) => void) {
  setErr(undefined);
  try {
    const r = await fetch(`/v1/images/${img.id}/content`, { headers: { Authorization: "Bearer " + token() } });
    if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => ({ type: "about:blank", status: r.status, title: r.statusText })));
    const url = URL.createObjectURL(await r.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = img.name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (e) {
    setErr(e);
  }
}

// containerImages are the container images of every registry the caller
// may use; a registry that does not answer is named in errs.
async function containerImages(regs: Registry[]): Promise<{ items: Image[]; errs: unknown[] }> {
  const out = await Promise.all(
    regs.map((r) =>
      get<{ items: Image[] | null }>(`/v1/registries/${r.id}/images`).then(
        (p) => ({ items: p.items ?? [], err: undefined as unknown }),
        (err) => ({ items: [] as Image[], err }),
      ),
    ),
  );
  return { items: out.flatMap((o) => o.items), errs: out.map((o) => o.err).filter(Boolean) };
}

const uploadFields = ["name", "format", "size", "osType", "vdcId"];

// UploadTemplate records a template from a chosen file and uploads its
// bytes, showing how far it is.
function UploadTemplate({ admin, vdcs, done }: { admin: boolean; vdcs?: VDC[]; done: () => void }) {
  const [file, setFile] = useState<File>();
  const [picker, setPicker] = useState(0); // a new file input once uploaded
  const [f, setF] = useState({ name: "", format: "qcow2", osType: "linux", vdc: "" });
  const [sent, setSent] = useState<number>();
  const { err, busy, run } = useSubmit();
  const { fields, rest } = fieldErrors(err, uploadFields);
  const set = setter(f, setF);
  function pick(e: Event) {
    const chosen = (e.currentTarget as HTMLInputElement).files?.[0];
    setFile(chosen);
    if (chosen) setF({ ...f, name: chosen.name, format: formatOf(chosen.name) });
  }
  const submit = () =>
    run(async () => {
      if (!file) throw new ApiError(422, { type: "about:blank", status: 422, title: "Unprocessable Entity", errors: [{ location: "body.size", message: t("images.chooseFile") }] });
      const body: S["ImageCreate"] = { name: f.name, format: f.format as S["ImageFormat"], size: file.size, osType: f.osType || undefined };
      if (admin && f.vdc) body.vdcId = f.vdc;
      const img = await post<Image>("/v1/images", body);
      done();
      try {
        await uploadContent(img, file, setSent);
      } finally {
        done();
      }
      setFile(undefined);
      setSent(undefined);
      setPicker(picker + 1);
      setF({ ...f, name: "" });
    });
  return (
    <FormCard id="img-upload" title={t("images.upload")} err={rest} submit={t("images.uploadButton")} onSubmit={submit} busy={busy}>
      <div class="form-grid">
        <Field id="img-file" label={t("images.file")} error={fields.size} hint={t("images.fileHint")}>
          <input key={picker} id="img-file" type="file" onChange={pick} />
        </Field>
        <Field id="img-name" label={t("common.name")} error={fields.name}>
          <input id="img-name" value={f.name} onInput={set("name")} />
        </Field>
        <Field id="img-format" label={t("images.format")} error={fields.format}>
          <select id="img-format" value={f.format} onChange={set("format")}>
            {["qcow2", "raw", "vmdk"].map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </Field>
        <Field id="img-os" label={t("images.osType")} error={fields.osType}>
          <input id="img-os" value={f.osType} onInput={set("osType")} />
        </Field>
        {admin && (
          <Field id="img-vdc" label={t("images.scope")} error={fields.vdcId}>
            <select id="img-vdc" value={f.vdc} onChange={set("vdc")}>
              <option value="">{t("images.platformWide")}</option>
              <Options items={vdcs} />
            </select>
          </Field>
        )}
      </div>
      {sent !== undefined && file && (
        <div class="upload-progress" role="status">
          <progress max={100} value={pct(sent, file.size)} aria-label={t("images.uploaded")} /> <span class="pct">{t("images.sentOf", { sent: fmtBytes(sent), total: fmtBytes(file.size) })}</span>
        </div>
      )}
    </FormCard>
  );
}

const importFields = ["storagePoolId", "path", "name", "osType", "vdcId"];

// ImportTemplate (administrators) records a file that sits in a template
// library storage pool as a ready template.
function ImportTemplate({ vdcs, done }: { vdcs?: VDC[]; done: () => void }) {
  const pools = useLoad(() => all<S["StoragePoolInfo"]>("/v1/storage-pools").then((ps) => ps.filter((p) => p.templateLibrary)), []);
  const [f, setF] = useState({ pool: "", path: "", name: "", osType: "", vdc: "" });
  const { err, busy, run } = useSubmit();
  const { fields, rest } = fieldErrors(err, importFields);
  const set = setter(f, setF);
  const pool = f.pool || pools.data?.[0]?.id || "";
  const submit = () =>
    run(async () => {
      const body: S["ImageImport"] = { storagePoolId: pool, path: f.path };
      if (f.name) body.name = f.name;
      if (f.osType) body.osType = f.osType;
      if (f.vdc) body.vdcId = f.vdc;
      await post<Image>("/v1/images/import", body);
      setF({ ...f, path: "", name: "" });
      done();
    });
  return (
    <FormCard id="img-import" title={t("images.import")} err={rest ?? pools.err} submit={t("images.importButton")} onSubmit={submit} busy={busy}>
      <div class="form-grid">
        <Field id="imp-pool" label={t("images.libraryPool")} error={fields.storagePoolId}>
          <select id="imp-pool" value={pool} onChange={set("pool")}>
            <Options items={pools.data} />
          </select>
        </Field>
        <Field id="imp-path" label={t("images.path")} error={fields.path} hint={t("images.pathHint")}>
          <input id="imp-path" value={f.path} onInput={set("path")} />
        </Field>
        <Field id="imp-name" label={t("common.name")} error={fields.name} hint={t("images.importNameHint")}>
          <input id="imp-name" value={f.name} onInput={set("name")} />
        </Field>
        <Field id="imp-os" label={t("images.osType")} error={fields.osType}>
          <input id="imp-os" value={f.osType} onInput={set("osType")} />
        </Field>
        <Field id="imp-vdc" label={t("images.scope")} error={fields.vdcId}>
          <select id="imp-vdc" value={f.vdc} onChange={set("vdc")}>
            <option value="">{t("images.platformWide")}</option>
            <Options items={vdcs} />
          </select>
        </Field>
      </div>
    </FormCard>
  );
}

// ResumeUpload takes the same file again for a template whose upload
// stopped, and sends it from the bytes the server has.
function ResumeUpload({ img, done }: { img: Image; done: (err?: unknown) => void }) {
  const [sent, setSent] = useState<number>();
  async function pick(e: Event) {
    const file = (e.currentTarget as HTMLInputElement).files?.[0];
    if (!file) return;
    try {
      if (file.size !== img.size) throw new ApiError(422, { type: "about:blank", status: 422, title: "Unprocessable Entity", detail: t("images.otherSize", { size: fmtBytes(img.size) }) });
      await uploadContent(await get<Image>(`/v1/images/${img.id}`), file, setSent);
      done();
    } catch (err) {
      done(err);
    }
  }
  return (
    <span class="inline-form resume">
      <label for={`resume-${img.id}`}>{t("images.resume")}</label>
      <input id={`resume-${img.id}`} class="resume-file" type="file" onChange={pick} />
      {sent !== undefined && <span class="pct">{pct(sent, img.size)}%</span>}
    </span>
  );
}

// Phase is an image's phase; an uploading template shows how far it is.
function Phase({ img }: { img: Image }) {
  return (
    <>
      <Badge kind="state" value={img.phase} />
      {img.phase === "uploading" && (
        <>
          {" "}
          <progress max={100} value={pct(img.uploadedBytes ?? 0, img.size)} aria-label={t("images.uploadedOf", { name: img.name })} />{" "}
          <span class="pct">{pct(img.uploadedBytes ?? 0, img.size)}%</span>
        </>
      )}
      {img.message && <small class="reason">{img.message}</small>}
    </>
  );
}

function short(digest?: string): string {
  return digest ? digest.replace(/^sha256:/, "").slice(0, 12) : "—";
}

// Images: the catalog, filtered by kind.
export function Images() {
  const me = useMe();
  const admin = me?.role === "admin";
  const [kind, setKind] = useState("");
  const templates = useLoad(() => (kind === "container" ? Promise.resolve([] as Image[]) : all<Image>("/v1/images")), [kind]);
  const regs = useLoad(() => all<Registry>("/v1/registries"), []);
  const containers = useLoad(
    () => (kind === "template" || !regs.data ? Promise.resolve({ items: [] as Image[], errs: [] as unknown[] }) : containerImages(regs.data)),
    [kind, regs.data],
  );
  const vdcs = useLoad(() => (admin ? all<VDC>("/v1/vdcs") : Promise.resolve([] as VDC[])), [admin]);
  const [actionErr, setActionErr] = useState<unknown>();
  const [open, setOpen] = useState<string>();
  const reload = () => {
    templates.reload();
    containers.reload();
  };
  const { task, follow } = useFollow(reload);
  const started = (k: Task) => {
    setOpen(undefined);
    follow(k);
  };
  const list = {
    data: templates.data && containers.data ? [...templates.data, ...containers.data.items] : undefined,
    err: templates.err,
  };
  const regName = (id?: string) => regs.data?.find((r) => r.id === id)?.name ?? "";
  const vdcName = (id?: string) => vdcs.data?.find((v) => v.id === id)?.name;
  const scope = (img: Image) => (img.vdcId ? (admin ? t("images.privateOf", { vdc: vdcName(img.vdcId) ?? img.vdcId }) : t("images.private")) : t("images.platformWide"));
  const remove = (img: Image) => deleteConfirmed(t("images.confirmDelete", { name: img.name }), `/v1/images/${img.id}`, setActionErr, reload);
  const resumed = (err?: unknown) => {
    setActionErr(err);
    reload();
  };
  return (
    <Page title={t("nav.images")} actions={<button onClick={reload}>{t("common.refresh")}</button>}>
      <UploadTemplate admin={admin} vdcs={vdcs.data} done={templates.reload} />
      {admin && <ImportTemplate vdcs={vdcs.data} done={templates.reload} />}
      <TaskLine task={task} />
      <ProblemView err={list.err ?? actionErr} />
      {containers.data?.errs.map((e, i) => <ProblemView key={i} err={e} />)}
      <div class="filters">
        <Field id="img-kind" label={t("images.kind")}>
          <select id="img-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
            <option value="">{t("common.any")}</option>
            <option value="template">{t("imageKind.template")}</option>
            <option value="container">{t("imageKind.container")}</option>
          </select>
        </Field>
      </div>
      <Listing list={list} empty={t("images.none")}>
        {(items) => (
          <Table
            class="images"
            head={[
              t("images.kind"),
              t("common.name"),
              t("images.format"),
              t("images.size"),
              t("images.virtualSize"),
              t("images.digest"),
              t("images.phase"),
              t("images.platform"),
              t("images.scope"),
              t("common.actions"),
            ]}
          >
            {items.map((img) => {
              const key = img.id ?? img.name;
              return [
                <tr key={key} data-name={img.name} data-kind={img.kind} data-phase={img.phase}>
                  <td>{t(`imageKind.${img.kind}`)}</td>
                  <td>
                    <strong class="image-name">{img.name}</strong>
                    {img.kind === "container" && <small class="reason">{regName(img.registryId)}</small>}
                    {img.osType && <small class="reason">{img.osType}</small>}
                  </td>
                  <td>{img.format}</td>
                  <td>{fmtBytes(img.size)}</td>
                  <td>{img.virtualSize ? fmtBytes(img.virtualSize) : "—"}</td>
                  <td>
                    <code title={img.digest}>{short(img.digest)}</code>
                  </td>
                  <td class="phase">
                    <Phase img={img} />
                  </td>
                  <td>{img.platform ?? "—"}</td>
                  <td>{scope(img)}</td>
                  <td class="row-actions">
                    {img.kind === "template" && img.phase === "ready" && (
                      <button class="download" onClick={() => download(img, setActionErr)} aria-label={t("images.downloadOne", { name: img.name })}>
                        {t("images.download")}
                      </button>
                    )}
                    {img.kind === "template" && img.phase === "uploading" && <ResumeUpload img={img} done={resumed} />}
                    {img.phase === "ready" && (
                      <button class="convert" aria-expanded={open === key} onClick={() => setOpen(open === key ? undefined : key)} aria-label={t(img.kind === "template" ? "conv.toContainerOne" : "conv.toTemplateOne", { name: img.name })}>
                        {t(img.kind === "template" ? "conv.toContainer" : "conv.toTemplate")}
                      </button>
                    )}
                    {img.kind === "template" && (
                      <button class="danger" onClick={() => remove(img)} aria-label={t("images.deleteOne", { name: img.name })}>
                        {t("common.delete")}
                      </button>
                    )}
                  </td>
                </tr>,
                open === key && (
                  <tr key={key + "-convert"} class="convert-row">
                    <td colSpan={10}>
                      {img.kind === "template" ? (
                        <ConvertToContainer img={img} registries={regs.data ?? []} started={started} />
                      ) : (
                        <ConvertToTemplate img={img} admin={admin} vdcs={vdcs.data} started={started} />
                      )}
                    </td>
                  </tr>
                ),
              ];
            })}
          </Table>
        )}
      </Listing>
    </Page>
  );
}
