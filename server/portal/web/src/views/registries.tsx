// Container image registries: administrators register and remove them;
// everyone browses a registry's repositories (a tenant: its VDC's and the
// platform's) and their tags, and deletes a tag.
import { useState } from "preact/hooks";
import { all, get, post, query, type S } from "../api";
import { fmtTime, t } from "../i18n";
import { Field, fieldErrors, fmtBytes, FormCard, Page, ProblemView, Table, useLoad } from "../ui";
import type { Image, Registry } from "./images";
import { deleteConfirmed, Listing, setter, useMe, useSubmit } from "./parts";
import "./views.css";

const registryFields = ["name", "address", "username", "password", "insecure", "default"];

function RegisterRegistry({ done }: { done: () => void }) {
  const [f, setF] = useState({ name: "", address: "", username: "", password: "", insecure: false, default: false });
  const { err, busy, run } = useSubmit();
  const { fields, rest } = fieldErrors(err, registryFields);
  const set = setter(f, setF);
  const submit = () =>
    run(async () => {
      const body: S["RegistryCreate"] = { name: f.name, address: f.address, insecure: f.insecure, default: f.default };
      if (f.username) Object.assign(body, { username: f.username, password: f.password });
      await post<Registry>("/v1/registries", body);
      setF({ ...f, name: "", address: "", username: "", password: "" });
      done();
    });
  return (
    <FormCard id="reg-create" title={t("registries.register")} err={rest} submit={t("registries.registerButton")} onSubmit={submit} busy={busy}>
      <div class="form-grid">
        <Field id="reg-name" label={t("common.name")} error={fields.name}>
          <input id="reg-name" value={f.name} onInput={set("name")} />
        </Field>
        <Field id="reg-address" label={t("registries.address")} error={fields.address} hint={t("registries.addressHint")}>
          <input id="reg-address" value={f.address} onInput={set("address")} />
        </Field>
        <Field id="reg-username" label={t("registries.username")} error={fields.username}>
          <input id="reg-username" autocomplete="off" value={f.username} onInput={set("username")} />
        </Field>
        <Field id="reg-password" label={t("registries.password")} error={fields.password}>
          <input id="reg-password" type="password" autocomplete="new-password" value={f.password} onInput={set("password")} />
        </Field>
      </div>
      <label class="check">
        <input type="checkbox" id="reg-insecure" checked={f.insecure} onChange={set("insecure")} /> {t("registries.insecure")}
      </label>
      <label class="check">
        <input type="checkbox" id="reg-default" checked={f.default} onChange={set("default")} /> {t("registries.default")}
      </label>
    </FormCard>
  );
}

// Tags are a repository's tags with their digest, size and platform.
function Tags({ reg, repo, onErr }: { reg: Registry; repo: string; onErr: (e: unknown) => void }) {
  const tags = useLoad(() => get<{ items: Image[] | null }>(`/v1/registries/${reg.id}/tags${query({ repository: repo })}`).then((p) => p.items ?? []), [reg.id, repo]);
  const tagOf = (img: Image) => img.name.slice(img.name.lastIndexOf(":") + 1);
  const remove = (img: Image) =>
    deleteConfirmed(t("registries.confirmDeleteTag", { name: img.name }), `/v1/registries/${reg.id}/tags${query({ repository: repo, tag: tagOf(img) })}`, onErr, tags.reload);
  return (
    <section class="card sub" aria-labelledby="reg-tags">
      <h2 id="reg-tags">{t("registries.tagsOf", { name: repo })}</h2>
      <ProblemView err={tags.err} />
      <Listing list={tags} empty={t("registries.noTags")}>
        {(items) => (
          <Table class="registry-tags" head={[t("registries.reference"), t("images.digest"), t("images.size"), t("images.platform"), t("common.actions")]}>
            {items.map((img) => (
              <tr key={img.name} data-name={img.name}>
                <td>
                  <code>{img.name}</code>
                </td>
                <td>
                  <code title={img.digest}>{(img.digest ?? "").replace(/^sha256:/, "").slice(0, 12)}</code>
                </td>
                <td>{fmtBytes(img.size)}</td>
                <td>{img.platform ?? "—"}</td>
                <td>
                  <button class="danger" onClick={() => remove(img)} aria-label={t("registries.deleteTagOne", { name: img.name })}>
                    {t("registries.deleteTag")}
                  </button>
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Listing>
    </section>
  );
}

// Browse lists a registry's repositories; choosing one shows its tags.
function Browse({ reg }: { reg: Registry }) {
  const repos = useLoad(() => get<{ items: S["RegistryRepository"][] | null }>(`/v1/registries/${reg.id}/repositories`).then((p) => p.items ?? []), [reg.id]);
  const [repo, setRepo] = useState<string>();
  const [filter, setFilter] = useState("");
  const [err, setErr] = useState<unknown>();
  return (
    <section class="card sub" aria-labelledby="reg-repos">
      <h2 id="reg-repos">{t("registries.repositoriesOf", { name: reg.name })}</h2>
      <ProblemView err={repos.err ?? err} />
      <div class="filters">
        <Field id="repo-filter" label={t("registries.filter")}>
          <input id="repo-filter" type="search" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
        </Field>
      </div>
      <Listing list={repos} empty={t("registries.noRepositories")}>
        {(items) => (
          <ul class="plain repositories">
            {items.filter((r) => r.name.includes(filter.trim())).map((r) => (
              <li key={r.name} data-name={r.name}>
                <button class="link repository" aria-pressed={repo === r.name} onClick={() => setRepo(r.name)}>
                  {r.name}
                </button>
                {r.vdcId ? ` · ${t("images.private")}` : ""}
              </li>
            ))}
          </ul>
        )}
      </Listing>
      {repo && <Tags key={repo} reg={reg} repo={repo} onErr={setErr} />}
    </section>
  );
}

// Registries: the registered registries (administrators register and
// remove them) and what is in the one chosen.
export function Registries() {
  const me = useMe();
  const admin = me?.role === "admin";
  const list = useLoad(() => all<Registry>("/v1/registries"), []);
  const [err, setErr] = useState<unknown>();
  const [open, setOpen] = useState<string>();
  const chosen = list.data?.find((r) => r.id === open);
  const remove = (r: Registry) => deleteConfirmed(t("registries.confirmDelete", { name: r.name }), `/v1/registries/${r.id}`, setErr, list.reload);
  return (
    <Page title={t("nav.registries")} actions={<button onClick={list.reload}>{t("common.refresh")}</button>}>
      {admin && <RegisterRegistry done={list.reload} />}
      <ProblemView err={list.err ?? err} />
      <Listing list={list} empty={t("registries.none")}>
        {(items) => (
          <Table class="registries" head={[t("common.name"), t("registries.address"), t("registries.username"), t("registries.flags"), t("common.created"), t("common.actions")]}>
            {items.map((r) => (
              <tr key={r.id} data-name={r.name}>
                <td>
                  <strong>{r.name}</strong>
                </td>
                <td>
                  <code>{r.address}</code>
                </td>
                <td>{r.username || "—"}</td>
                <td>
                  <ul class="plain">
                    {r.default && <li class="default">{t("registries.default")}</li>}
                    {r.insecure && <li>{t("registries.insecure")}</li>}
                  </ul>
                </td>
                <td>{fmtTime(r.createdAt)}</td>
                <td class="row-actions">
                  <button class="browse" aria-pressed={open === r.id} onClick={() => setOpen(open === r.id ? undefined : r.id)} aria-label={t("registries.browseOne", { name: r.name })}>
                    {t("registries.browse")}
                  </button>
                  {admin && (
                    <button class="danger" onClick={() => remove(r)} aria-label={t("registries.deleteOne", { name: r.name })}>
                      {t("common.delete")}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Listing>
      {chosen && <Browse key={chosen.id} reg={chosen} />}
    </Page>
  );
}
