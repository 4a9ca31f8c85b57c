// The portal's shell: login, the navigation of tenants and
// administrators, the language switch, and the routes.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { get, post, setToken, token, whenUnauthorized, type User } from "./api";
import { setLang, t, useLang, type Key, type Lang } from "./i18n";
import { navigate, onLink, usePath } from "./router";
import "./style.css";
import { Loading } from "./ui";
import { Dashboard } from "./views/dashboard";
import { Discovered, Hosts } from "./views/hosts";
import { InstanceDetails, Instances } from "./views/instances";
import { Lazy } from "./lazy";
import { Login } from "./views/login";
import { Networks } from "./views/networks";
import { TaskDetails, Tasks } from "./views/tasks";
import { Pools, VDCs } from "./views/tenancy";
import { Tokens } from "./views/tokens";
import { Audit } from "./views/audit";
import { StoragePools, Volumes } from "./views/storage";
import { Snapshots } from "./views/snapshots";
import { HostMetrics } from "./views/metrics";
import { ScalingGroupDetails, ScalingGroups } from "./views/scaling";
import { Chef, ChefServers } from "./views/chef";
import { Alerts, Users } from "./views/people";
import { VApps } from "./views/vapps";
import { MetricAlerts } from "./views/metricalerts";
import { Images } from "./views/images";
import { Registries } from "./views/registries";

const tenantNav: Array<[string, Key]> = [
  ["/dashboard", "nav.dashboard"],
  ["/instances", "nav.instances"],
  ["/vapps", "nav.vapps"],
  ["/networks", "nav.networks"],
  ["/images", "nav.images"],
  ["/registries", "nav.registries"],
  ["/volumes", "nav.volumes"],
  ["/snapshots", "nav.snapshots"],
  ["/scaling", "nav.scaling"],
  ["/metric-alerts", "nav.metricAlerts"],
  ["/chef", "nav.chef"],
  ["/tasks", "nav.tasks"],
  ["/tokens", "nav.tokens"],
  ["/audit", "nav.audit"],
];
const adminNav: Array<[string, Key]> = [
  ["/admin/hosts", "nav.hosts"],
  ["/admin/pools", "nav.pools"],
  ["/admin/vdcs", "nav.vdcs"],
  ["/admin/discovered", "nav.discovered"],
  ["/admin/users", "nav.users"],
  ["/admin/alerts", "nav.alerts"],
  ["/metric-alerts", "nav.metricAlerts"],
  ["/admin/storage", "nav.storage"],
  ["/admin/chef", "nav.chefServers"],
  ["/images", "nav.images"],
  ["/registries", "nav.registries"],
  ["/volumes", "nav.volumes"],
  ["/tasks", "nav.tasks"],
  ["/tokens", "nav.tokens"],
  ["/audit", "nav.audit"],
];

function route(path: string, me: User) {
  const admin = me.role === "admin";
  const m = (re: RegExp) => path.match(re);
  let r: RegExpMatchArray | null;
  if ((r = m(/^\/instances\/([0-9a-f-]+)$/))) return <InstanceDetails id={r[1]} />;
  if (path === "/instances/new") return <Lazy load={() => import("./views/create").then((v) => v.CreateWizard)} props={{}} />;
  if ((r = m(/^\/instances\/([0-9a-f-]+)\/console$/))) return <Lazy key={r[1]} load={() => import("./views/console").then((v) => v.Console)} props={{ id: r[1] }} />;
  if ((r = m(/^\/tasks\/([0-9a-f-]+)$/))) return <TaskDetails id={r[1]} />;
  if (!admin && (r = m(/^\/scaling\/([0-9a-f-]+)$/))) return <ScalingGroupDetails id={r[1]} />;
  if (admin && (r = m(/^\/admin\/hosts\/([0-9a-f-]+)$/))) return <HostMetrics id={r[1]} />;
  switch (path) {
    case "/instances":
      return <Instances />;
    case "/networks":
      return <Networks />;
    case "/tasks":
      return <Tasks />;
    case "/tokens":
      return <Tokens />;
    case "/volumes":
      return <Volumes />;
    case "/images":
      return <Images />;
    case "/registries":
      return <Registries />;
    case "/snapshots":
      return admin ? null : <Snapshots />;
    case "/vapps":
      return admin ? null : <VApps />;
    case "/metric-alerts":
      return <MetricAlerts />;
    case "/scaling":
      return admin ? null : <ScalingGroups />;
    case "/chef":
      return admin ? null : <Chef />;
    case "/audit":
      return <Audit me={me} />;
    case "/dashboard":
      // A tenant's VDC; administrators have none.
      return admin ? null : <Dashboard me={me} />;
  }
  if (admin) {
    switch (path) {
      case "/admin/hosts":
        return <Hosts />;
      case "/admin/pools":
        return <Pools />;
      case "/admin/vdcs":
        return <VDCs />;
      case "/admin/discovered":
        return <Discovered />;
      case "/admin/storage":
        return <StoragePools />;
      case "/admin/chef":
        return <ChefServers />;
      case "/admin/users":
        return <Users />;
      case "/admin/alerts":
        return <Alerts />;
    }
  }
  return null;
}

function LangSwitch({ lang }: { lang: Lang }) {
  return (
    <select class="lang" aria-label={t("common.language")} value={lang} onChange={(e) => setLang(e.currentTarget.value as Lang)}>
      <option value="en" lang="en">
        English
      </option>
      <option value="zh" lang="zh-CN">
        简体中文
      </option>
    </select>
  );
}

function App() {
  const lang = useLang();
  const path = usePath();
  const [me, setMe] = useState<User | null | undefined>(token() ? undefined : null);
  useEffect(() => {
    whenUnauthorized(() => {
      setToken("");
      setMe(null);
    });
    if (token())
      get<User>("/v1/me").then(setMe, () => {
        setToken("");
        setMe(null);
      });
  }, []);
  useEffect(() => {
    document.title = t("app.title");
  }, [lang]);
  const home = me?.role === "admin" ? "/admin/hosts" : "/dashboard";
  useEffect(() => {
    if (me && (path === "/" || path === "/login" || !route(path, me))) navigate(home, true);
    if (me === null && path !== "/login") navigate("/login", true);
  }, [me, path]);
  if (me === undefined) return <Loading />;
  if (me === null)
    return (
      <>
        <header class="top">
          <span class="brand">{t("app.title")}</span>
          <LangSwitch lang={lang} />
        </header>
        <Login
          onLogin={(u) => {
            setMe(u);
            navigate(u.role === "admin" ? "/admin/hosts" : "/dashboard", true);
          }}
        />
      </>
    );
  async function logout() {
    try {
      await post("/v1/logout");
    } catch {
      // the session ends here whatever the server says
    }
    setToken("");
    setMe(null);
  }
  const nav = me.role === "admin" ? adminNav : tenantNav;
  return (
    <div class="shell" onClick={onLink}>
      <a class="skip" href="#main">
        {t("common.skip")}
      </a>
      <header class="top">
        <span class="brand">{t("app.title")}</span>
        <span class="who">
          {me.name} · {t(`role.${me.role}`)}
        </span>
        <LangSwitch lang={lang} />
        <button onClick={logout}>{t("nav.logout")}</button>
      </header>
      <nav class="side" aria-label={t("nav.main")}>
        <ul>
          {nav.map(([href, key]) => (
            <li key={href}>
              <a href={href} aria-current={path === href || path.startsWith(href + "/") ? "page" : undefined}>
                {t(key)}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        {route(path, me)}
      </main>
    </div>
  );
}

render(<App />, document.getElementById("app")!);
