import { useState } from "preact/hooks";
import { all, del, post, type S } from "../api";
import { fmtTime, t } from "../i18n";
import { Empty, Field, fieldErrors, FormCard, Loading, Page, ProblemView, Table, useLoad } from "../ui";

// Tokens: the user's personal API tokens; a new token's secret is shown
// once.
export function Tokens() {
  const list = useLoad(() => all<S["TokenInfo"]>("/v1/tokens"), []);
  const [name, setName] = useState("");
  const [days, setDays] = useState("30");
  const [made, setMade] = useState<S["NewToken"]>();
  const [err, setErr] = useState<unknown>();
  const [actionErr, setActionErr] = useState<unknown>();
  const { fields, rest } = fieldErrors(err, ["name", "expiresInSeconds"]);
  async function submit() {
    setErr(undefined);
    try {
      const body: S["TokenCreate"] = { name };
      if (days) body.expiresInSeconds = Math.round(Number(days) * 86400);
      setMade(await post<S["NewToken"]>("/v1/tokens", body));
      setName("");
      list.reload();
    } catch (e) {
      setErr(e);
    }
  }
  async function revoke(k: S["TokenInfo"]) {
    setActionErr(undefined);
    try {
      await del(`/v1/tokens/${k.id}`);
      list.reload();
    } catch (e) {
      setActionErr(e);
    }
  }
  const tokens = (list.data ?? []).filter((k) => !k.session);
  return (
    <Page title={t("nav.tokens")}>
      <FormCard
        id="tok-create"
        title={t("tokens.create")}
        err={rest}
        submit={t("common.create")}
        onSubmit={submit}
        tail={
          made && (
            <div class="notice" role="status">
              <p>{t("tokens.once")}</p>
              <code class="secret">{made.token}</code>
            </div>
          )
        }
      >
        <div class="form-grid">
          <Field id="tok-name" label={t("common.name")} error={fields.name}>
            <input id="tok-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </Field>
          <Field id="tok-days" label={t("tokens.days")} error={fields.expiresInSeconds}>
            <input id="tok-days" type="number" min="0" value={days} onInput={(e) => setDays(e.currentTarget.value)} />
          </Field>
        </div>
      </FormCard>
      <ProblemView err={list.err ?? actionErr} />
      {!list.data && !list.err && <Loading />}
      {list.data && tokens.length === 0 && <Empty text={t("tokens.none")} />}
      {tokens.length > 0 && (
        <Table head={[t("common.name"), t("common.created"), t("tokens.expires"), t("tokens.lastUsed"), t("common.actions")]}>
            {tokens.map((k) => (
              <tr key={k.id}>
                <td>{k.name}</td>
                <td>{fmtTime(k.createdAt)}</td>
                <td>{fmtTime(k.expiresAt) || t("tokens.never")}</td>
                <td>{fmtTime(k.lastUsed) || "—"}</td>
                <td>
                  <button class="danger" onClick={() => revoke(k)} aria-label={t("tokens.revokeOne", { name: k.name })}>
                    {t("tokens.revoke")}
                  </button>
                </td>
              </tr>
            ))}
          </Table>
      )}
    </Page>
  );
}
