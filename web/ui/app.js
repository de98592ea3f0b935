// The Sightline UI: a small client app over the public /api/v1 API and its
// session login. Screens are picked by the URL path, so links (and the
// links in alert e-mails) open the right one; in-app links change the
// path without reloading.
import { html, render, useEffect, useRef, useState } from "./html.js";
import { api } from "./api.js";
import { Login } from "./login.js";
import { MonitorDetail } from "./monitor.js";
import { MonitorForm } from "./monitor_form.js";
import { Overview } from "./overview.js";
import { Sites } from "./sites.js";
import { SiteDashboard } from "./site.js";
import { Compare } from "./compare.js";
import { Settings } from "./settings.js";
import { IncidentDetail } from "./incident.js";
import { Incidents } from "./incidents.js";
import { Alerting } from "./alerting.js";
import { SiteForm } from "./site_form.js";
import { StatusPageEditor, StatusPages } from "./status_pages.js";
import { ResultDetail } from "./result.js";
import { Role } from "./role.js";
import { AuditLog } from "./audit_log.js";
import { AdminsOnly, NotFound } from "./not_found.js";
import { ThemeSwitch, applyStoredTheme } from "./theme.js";

/** Screens that change things: a viewer who opens one by its address is
 * told so, instead of a form the server would refuse. */
const WRITING = [/^\/monitors\/new$/, /^\/monitors\/\d+\/edit$/, /^\/sites\/new$/, /^\/sites\/\d+\/edit$/, /^\/status-pages\/(new|\d+)$/];

/** The screen for a path. */
function screen(path, search, navigate, who) {
  if (!who.can_write && WRITING.some((pattern) => pattern.test(path))) return html`<${AdminsOnly} />`;
  const incident = path.match(/^\/incidents\/(\d+)$/);
  if (incident) return html`<${IncidentDetail} key=${incident[1]} id=${incident[1]} />`;
  if (path === "/incidents") return html`<${Incidents} search=${search} />`;
  if (path === "/settings") return html`<${Settings} />`;
  if (path === "/audit-log") return who.can_administer ? html`<${AuditLog} search=${search} navigate=${navigate} />` : html`<${AdminsOnly} admins />`;
  if (path === "/alerting") return html`<${Alerting} />`;
  if (path === "/status-pages") return html`<${StatusPages} />`;
  if (path === "/status-pages/new") return html`<${StatusPageEditor} navigate=${navigate} />`;
  const statusPage = path.match(/^\/status-pages\/(\d+)$/);
  if (statusPage) return html`<${StatusPageEditor} key=${statusPage[1]} id=${statusPage[1]} navigate=${navigate} />`;
  if (path === "/compare") return html`<${Compare} search=${search} navigate=${navigate} />`;
  if (path === "/sites/new") return html`<${SiteForm} navigate=${navigate} />`;
  const siteEdit = path.match(/^\/sites\/(\d+)\/edit$/);
  if (siteEdit) return html`<${SiteForm} key=${siteEdit[1]} id=${siteEdit[1]} navigate=${navigate} />`;
  const site = path.match(/^\/sites\/(\d+)$/);
  if (site) return html`<${SiteDashboard} key=${site[1]} id=${site[1]} search=${search} navigate=${navigate} />`;
  if (path === "/monitors/new") return html`<${MonitorForm} navigate=${navigate} />`;
  const edit = path.match(/^\/monitors\/(\d+)\/edit$/);
  if (edit) return html`<${MonitorForm} key=${edit[1]} id=${edit[1]} navigate=${navigate} />`;
  const result = path.match(/^\/monitors\/(\d+)\/results\/(\d+)$/);
  if (result) return html`<${ResultDetail} key=${path} monitorId=${result[1]} resultId=${result[2]} />`;
  const monitor = path.match(/^\/monitors\/(\d+)$/);
  if (monitor) return html`<${MonitorDetail} key=${monitor[1]} id=${monitor[1]} search=${search} navigate=${navigate} />`;
  if (path === "/") return html`<${Overview} search=${search} navigate=${navigate} />`;
  if (path === "/sites") return html`<${Sites} />`;
  return html`<${NotFound} />`;
}

/** The current path, following in-app links and the back button; and a
 * way to go to another. */
function usePath() {
  const here = () => ({ path: location.pathname, search: location.search });
  const [where, setWhere] = useState(here());
  const navigate = (to) => {
    const samePage = to.split("?")[0] === location.pathname;
    history.pushState(null, "", to);
    setWhere(here());
    if (!samePage) window.scrollTo(0, 0);
  };
  useEffect(() => {
    const follow = (event) => {
      // API addresses (a sign-in through the identity provider, a file to
      // download) are for the browser itself, not screens.
      const link = event.target.closest?.("a[href^='/']:not([href^='/api/'])");
      if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || link.target) {
        return;
      }
      event.preventDefault();
      navigate(link.getAttribute("href"));
    };
    const back = () => setWhere(here());
    document.addEventListener("click", follow);
    window.addEventListener("popstate", back);
    return () => {
      document.removeEventListener("click", follow);
      window.removeEventListener("popstate", back);
    };
  }, []);
  return [where.path, where.search, navigate];
}

function App() {
  // undefined: not known yet; null: logged out.
  const [who, setWho] = useState(undefined);
  const [path, search, navigate] = usePath();
  const main = useRef(null);
  const shownPath = useRef(path);
  useEffect(() => {
    // After a move to another screen, the focus goes to it, as a page load
    // would put it: a keyboard or screen reader user goes on from the top
    // of the new screen, not from the link that led there.
    if (shownPath.current === path) return;
    shownPath.current = path;
    main.current?.focus();
  }, [path]);
  const check = () =>
    api("GET", "/session")
      .then(setWho)
      .catch(() => setWho(null));
  useEffect(() => {
    check();
  }, []);
  if (who === undefined) {
    return html`<p class="loading">Loading…</p>`;
  }
  if (who === null) {
    return html`<${Login} onLoggedIn=${check} />`;
  }
  const logOut = async () => {
    await api("DELETE", "/session").catch(() => {});
    setWho(null);
  };
  return html`
    <a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <a class="brand" href="/">Sightline</a>
      <nav aria-label="Main">
        <a href="/" aria-current=${path === "/" ? "page" : undefined}>Overview</a>
        <a href="/incidents" aria-current=${path.startsWith("/incidents") ? "page" : undefined}>Incidents</a>
        <a href="/sites" aria-current=${path.startsWith("/sites") ? "page" : undefined}>Sites</a>
        <a href="/compare" aria-current=${path === "/compare" ? "page" : undefined}>Synthetic vs real users</a>
        <a href="/alerting" aria-current=${path === "/alerting" ? "page" : undefined}>Alerting</a>
        <a href="/status-pages" aria-current=${path.startsWith("/status-pages") ? "page" : undefined}>Status pages</a>
        <a href="/settings" aria-current=${path === "/settings" || path === "/audit-log" ? "page" : undefined}>Settings</a>
      </nav>
      <${ThemeSwitch} />
      <span class="who">${who.user.email}</span>
      <button type="button" onClick=${logOut}>Log out</button>
    </header>
    <main id="main" tabindex="-1" ref=${main}>
      <${Role.Provider} value=${{ canWrite: who.can_write, canAdminister: who.can_administer, userId: who.user.id }}>${screen(path, search, navigate, who)}<//>
    </main>`;
}

applyStoredTheme();
render(html`<${App} />`, document.getElementById("app"));
