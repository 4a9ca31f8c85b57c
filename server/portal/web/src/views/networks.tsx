import { useState } from "preact/hooks";
import { all, del, post, type Network } from "../api";
import { fmtTime, t } from "../i18n";
import { Empty, Field, fieldErrors, FormCard, Loading, Page, ProblemView, Table, useLoad } from "../ui";

export function Networks() {
  const list = useLoad(() => all<Network>("/v1/networks"), []);
  const [f, setF] = useState({ name: "", subnet: "", gateway: "" });
  const [err, setErr] = useState<unknown>();
  const [actionErr, setActionErr] = useState<unknown>();
  const { fields, rest } = fieldErrors(err, ["name", "subnet", "gateway"]);
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  async function submit() {
    setErr(undefined);
    try {
      await post<Network>("/v1/networks", { name: f.name, subnet: f.subnet, ...(f.gateway ? { gateway: f.gateway } : {}) });
      setF({ name: "", subnet: "", gateway: "" });
      list.reload();
    } catch (e) {
      setErr(e);
    }
  }
  async function remove(n: Network) {
    setActionErr(undefined);
    if (!confirm(t("networks.confirmDelete", { name: n.name }))) return;
    try {
      await del(`/v1/networks/${n.id}`);
      list.reload();
    } catch (e) {
      setActionErr(e);
    }
  }
  return (
    <Page title={t("nav.networks")}>
      <FormCard id="net-create" title={t("networks.create")} err={rest} submit={t("common.create")} onSubmit={submit}>
        <div class="form-grid">
          <Field id="net-name" label={t("common.name")} error={fields.name}>
            <input id="net-name" value={f.name} onInput={set("name")} />
          </Field>
          <Field id="net-subnet" label={t("networks.subnet")} error={fields.subnet} hint="10.0.0.0/24">
            <input id="net-subnet" value={f.subnet} onInput={set("subnet")} />
          </Field>
          <Field id="net-gateway" label={t("networks.gateway")} error={fields.gateway}>
            <input id="net-gateway" value={f.gateway} onInput={set("gateway")} />
          </Field>
        </div>
      </FormCard>
      <ProblemView err={list.err ?? actionErr} />
      {!list.data && !list.err && <Loading />}
      {list.data && list.data.length === 0 && <Empty text={t("networks.none")} />}
      {list.data && list.data.length > 0 && (
        <Table head={[t("common.name"), t("networks.subnet"), t("networks.gateway"), t("common.created"), t("common.actions")]}>
            {list.data.map((n) => (
              <tr key={n.id} data-name={n.name}>
                <td>{n.name}</td>
                <td>{n.subnet}</td>
                <td>{n.gateway ?? ""}</td>
                <td>{fmtTime(n.createdAt)}</td>
                <td>
                  <button class="danger" onClick={() => remove(n)} aria-label={t("networks.deleteOne", { name: n.name })}>
                    {t("common.delete")}
                  </button>
                </td>
              </tr>
            ))}
          </Table>
      )}
    </Page>
  );
}
