// The first screen: is everything fine? Every monitor with its status, last
// result, response times and uptime, the open incidents with their class,
// every RUM site. Refreshes by itself.
import { html, useEffect, useMemo, useState } from "./html.js";
import { get } from "./api.js";
import { usePolled } from "./polling.js";
import { ago, millis, percent, when, words } from "./format.js";
import { IncidentClass } from "./incident.js";
import { markComplete } from "./complete.js";
import { Sparkline } from "./sparkline.js";
import { VITALS, measure, rating } from "./vitals.js";
import { useCanWrite } from "./role.js";

/** How often the overview reads the API again. */
const REFRESH_MS = 10_000;

const STATUSES = ["down", "degraded", "maintenance", "unknown", "paused", "up"];
const UPTIME_PERIODS = ["24h", "7d", "30d"];

/** How an uptime share is coloured: the thresholds most SLAs are written in. */
function uptimeRating(value) {
  if (value == null) return "";
  if (value >= 99.9) return "good";
  return value >= 99 ? "needs-improvement" : "poor";
}

/** The words for a monitor's target, by type. */
function target(monitor) {
  switch (monitor.type) {
    case "http":
    case "browser":
      return monitor.url;
    case "tcp":
    case "tls":
      return `${monitor.host}:${monitor.port ?? 443}`;
    case "dns":
    case "ping":
      return monitor.host;
    case "api":
    case "transaction":
      return `${monitor.steps.length} steps`;
    default:
      return "";
  }
}

export function Overview() {
  const canWrite = useCanWrite();
  const [text, setText] = useState("");
  const [status, setStatus] = useState("");
  const [tag, setTag] = useState("");
  const { data, error } = usePolled(
    async () => {
      // Each site's summary is asked for as soon as the sites are known,
      // while the monitors' answers are still on their way.
      const sitesWithSummaries = get("/sites").then(async (sites) => ({
        sites,
        summaries: await Promise.all(sites.map((site) => get(`/sites/${site.id}/rum/summary`))),
      }));
      const [monitors, overview, incidents, { sites, summaries }] = await Promise.all([
        get("/monitors"),
        get(`/monitors/overview?periods=${UPTIME_PERIODS.join(",")}`),
        get("/incidents?open=true"),
        sitesWithSummaries,
      ]);
      const digests = new Map(overview.monitors.map((digest) => [digest.monitor_id, digest]));
      return { monitors, digests, incidents, sites, summaries, at: Date.now() };
    },
    REFRESH_MS,
    [],
  );
  useEffect(() => {
    if (data) markComplete("sightline:overview-complete");
  }, [data]);
  const tags = useMemo(
    () => [...new Set((data?.monitors ?? []).flatMap((m) => m.tags ?? []))].sort(),
    [data],
  );
  if (!data) {
    return html`<p class=${error ? "error" : "loading"}>${error ?? "Loading…"}</p>`;
  }
  const needle = text.trim().toLowerCase();
  const shown = data.monitors
    .filter((m) => !status || m.status === status)
    .filter((m) => !tag || (m.tags ?? []).includes(tag))
    .filter((m) => !needle || `${m.name} ${target(m)}`.toLowerCase().includes(needle))
    .sort((a, b) => STATUSES.indexOf(a.status) - STATUSES.indexOf(b.status) || a.name.localeCompare(b.name));
  const counts = Object.fromEntries(STATUSES.map((s) => [s, data.monitors.filter((m) => m.status === s).length]));
  const monitorName = (id) => data.monitors.find((m) => m.id === id)?.name;
  const siteName = (id) => data.sites.find((s) => s.id === id)?.name;
  return html`
    <section aria-labelledby="summary-heading">
      <h1 id="summary-heading">Overview</h1>
      <p class="summary" data-testid="summary">
        ${STATUSES.filter((s) => counts[s]).map((s) => html`<span class=${`badge ${s}`}>${counts[s]} ${s}</span> `)}
        ${data.monitors.length === 0 && "No monitors yet."}
        <small> updated ${ago(new Date(data.at).toISOString())}</small>
      </p>
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </section>
    ${data.incidents.length > 0 && html`
      <section aria-labelledby="incidents-heading">
        <h2 id="incidents-heading">Open incidents</h2>
        <ul class="incidents">
          ${data.incidents.map((incident) => html`
            <li key=${incident.id} class=${`incident ${incident.severity}`}>
              <strong>${incident.monitor_id && monitorName(incident.monitor_id)
                ? html`<a href=${`/monitors/${incident.monitor_id}`}>${monitorName(incident.monitor_id)}</a>`
                : incident.site_id ? `site ${siteName(incident.site_id)}` : words(incident.kind)}</strong>
              ${" "}<${IncidentClass} correlation=${incident.correlation} />
              <span> — ${incident.cause}</span>
              <small> since ${when(incident.opened_at)} · <a href=${`/incidents/${incident.id}`}>details</a></small>
            </li>`)}
        </ul>
      </section>`}
    <section aria-labelledby="monitors-heading">
      <div class="toolbar">
        <h2 id="monitors-heading">Monitors</h2>
        ${canWrite && html`<a class="button" href="/monitors/new">New monitor</a>`}
      </div>
      <div class="filters" role="search">
        <label>Search <input type="search" value=${text} onInput=${(e) => setText(e.target.value)} /></label>
        <label>Status
          <select value=${status} onChange=${(e) => setStatus(e.target.value)}>
            <option value="">any</option>
            ${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
          </select>
        </label>
        ${tags.length > 0 && html`
          <label>Tag
            <select value=${tag} onChange=${(e) => setTag(e.target.value)}>
              <option value="">any</option>
              ${tags.map((t) => html`<option value=${t}>${t}</option>`)}
            </select>
          </label>`}
      </div>
      <table class="monitors" role="table">
        <thead role="rowgroup"><tr role="row"><th scope="col" role="columnheader">Status</th><th scope="col" role="columnheader">Monitor</th><th scope="col" role="columnheader">Last check</th><th scope="col" role="columnheader">Response time</th>${UPTIME_PERIODS.map((p) => html`<th scope="col" role="columnheader" class="number">${p}</th>`)}</tr></thead>
        <tbody role="rowgroup">
          ${shown.map((m) => {
            const digest = data.digests.get(m.id);
            const recent = digest?.recent ?? [];
            const last = recent[recent.length - 1];
            return html`
            <tr key=${m.id} role="row" data-monitor=${m.name}>
              <td role="cell"><span class=${`badge ${m.status}`}>${m.status}</span>${m.status_since && html`<br /><small>${ago(m.status_since)}</small>`}</td>
              <td role="cell"><a href=${`/monitors/${m.id}`}><strong>${m.name}</strong></a> <small class="type">${m.type}</small>${(m.tags ?? []).map((t) => html` <span class="tag">${t}</span>`)}
                <br /><small class="target">${target(m)} · from ${(m.checkpoints ?? ["local"]).join(", ")}</small></td>
              <td role="cell" class="last" data-testid="last-check">${last
                ? html`<a class=${`outcome ${last.outcome}`} href=${`/monitors/${m.id}/results/${last.id}`} aria-label=${`${last.outcome}: open the last result of ${m.name}`}>${last.outcome}</a> ${millis(last.duration_ms)}<br /><small title=${when(last.started_at)}>${ago(last.started_at)}</small>${last.error && html`<br /><small class="problem">${last.error}</small>`}`
                : html`<small>no checks yet</small>`}</td>
              <td role="cell"><${Sparkline} results=${recent} /></td>
              ${UPTIME_PERIODS.map((p) => {
                const value = digest?.uptime[p]?.uptime_percent;
                return html`<td role="cell" class=${`number ${uptimeRating(value)}`} data-period=${p}>${value == null ? "–" : percent(value)}</td>`;
              })}
            </tr>`;
          })}
        </tbody>
      </table>
      ${shown.length === 0 && data.monitors.length > 0 && html`<p>No monitor matches.</p>`}
    </section>
    <section aria-labelledby="sites-heading">
      <div class="toolbar">
        <h2 id="sites-heading">Sites</h2>
        ${canWrite && html`<a class="button" href="/sites/new">New site</a>`}
      </div>
      ${data.sites.length === 0 ? html`<p>No RUM site yet.</p>` : html`
        <table class="sites" role="table">
          <thead role="rowgroup"><tr role="row"><th scope="col" role="columnheader">Site</th><th scope="col" role="columnheader">Page views (24 h)</th>${VITALS.map(([, label]) => html`<th scope="col" role="columnheader">${label} p75</th>`)}</tr></thead>
          <tbody role="rowgroup">
            ${data.sites.map((site, i) => html`
              <tr key=${site.id} role="row" data-site=${site.name}>
                <td role="cell"><a href=${`/sites/${site.id}`}><strong>${site.name}</strong></a> <small>${(site.origins ?? []).join(", ")}</small></td>
                <td role="cell" data-label="Page views (24 h)">${data.summaries[i].page_views.toLocaleString()}</td>
                ${VITALS.map(([name, label]) => {
                  const value = data.summaries[i].metrics[name]?.p75;
                  return html`<td role="cell" data-label=${`${label} p75`} class=${rating(name, value)}>${measure(name, value)}</td>`;
                })}
              </tr>`)}
          </tbody>
        </table>`}
    </section>`;
}
