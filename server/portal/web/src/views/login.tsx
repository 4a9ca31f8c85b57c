import { useState } from "preact/hooks";
import { post, setToken, type S } from "../api";
import { t } from "../i18n";
import { Field, ProblemView, fieldErrors } from "../ui";

export function Login({ onLogin }: { onLogin: (u: S["User"]) => void }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [err, setErr] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const { fields, rest } = fieldErrors(err, ["name", "password"]);
  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setErr(undefined);
    try {
      const s = await post<S["Session"]>("/v1/login", { name, password });
      setToken(s.token);
      onLogin(s.user);
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  }
  return (
    <main class="login">
      <form class="card" onSubmit={submit} aria-labelledby="login-title" noValidate>
        <h1 id="login-title">{t("login.title")}</h1>
        <ProblemView err={rest} />
        <Field id="login-name" label={t("login.name")} error={fields.name}>
          <input id="login-name" name="name" autocomplete="username" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field id="login-password" label={t("login.password")} error={fields.password}>
          <input
            id="login-password"
            name="password"
            type="password"
            autocomplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </Field>
        <button type="submit" class="primary" disabled={busy}>
          {t("login.submit")}
        </button>
      </form>
    </main>
  );
}
