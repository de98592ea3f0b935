// The first screen: is everything fine? The open incidents, an outage as
// one entry naming what it covers; every monitor on one dense line with a
// heartbeat of its latest checks, filtered, sorted and grouped as the URL
// says; bulk changes for admins; every RUM site. Refreshes by itself.
import { html, useEffect, useMemo, useState } from "./html.js";
import { api, get } from "./api.js";
import { usePolled } from "./polling.js";
import { ago, millis, percent, when, words } from "./format.js";
import { IncidentClass } from "./incident.js";
import { markComplete } from "./complete.js";
import { Sparkline } from "./sparkline.js";
import { Heartbeat } from "./heartbeat.js";
import { VITALS, measure, rating } from "./vitals.js";
import { useCanWrite } from "./role.js";
import { editable } from "./monitor_form.js";
import { FirstSteps } from "./first_steps.js";
import { MUTE_TITLE, muteForAnHour } from "./mute.js";

/** How often the overview reads the API again. */
const REFRESH_MS = 10_000;

const STATUSES = ["down", "degraded", "maintenance", "unknown", "paused", "up"];
const UPTIME_PERIODS = ["24h", "7d", "30d"];
const GROUPINGS = [
  ["", "nothing"],
  ["tag", "tag"],
  ["site", "site"],
  ["host", "host"],
];
/** The sortable columns: [key, heading, value of a row]. */
const COLUMNS = [
  ["status", "Status", (row) => STATUSES.indexOf(row.monitor.status)],
  ["name", "Monitor", (row) => row.monitor.name.toLowerCase()],
  ["last", "Last check", (row) => (row.last ? -Date.parse(row.last.started_at) : Infinity)],
  ["time", "Response time", (row) => row.last?.duration_ms ?? Infinity],
  ...UPTIME_PERIODS.map((p) => [p, p, (row) => row.digest?.uptime[p]?.uptime_percent ?? Infinity]),
];

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
      return `${monitor.steps.length} steps${monitor.endpoint ? ` on ${monitor.endpoint}` : ""}`;
    default:
      return "";
  }
}

/** The view's settings as the URL holds them. */
function readView(search) {
  const params = new URLSearchParams(search);
  return {
    q: params.get("q") ?? "",
    status: params.get("status") ?? "",
    tag: params.get("tag") ?? "",
    group: params.get("group") ?? "",
    sort: params.get("sort") ?? "status",
    desc: params.get("order") === "desc",
  };
}

/** The URL's query for the view's settings, defaults left out. */
function viewQuery(view) {
  const params = new URLSearchParams();
  for (const key of ["q", "status", "tag", "group"]) if (view[key]) params.set(key, view[key]);
  if (view.sort !== "status") params.set("sort", view.sort);
  if (view.desc) params.set("order", "desc");
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** The groups a monitor belongs to under a grouping (a tag may give several). */
function groupsOf(monitor, grouping, siteName) {
  switch (grouping) {
    case "tag":
      return monitor.tags?.length ? monitor.tags : ["no tag"];
    case "site":
      return [monitor.site_id ? siteName(monitor.site_id) ?? "a deleted site" : "no site"];
    case "host":
      return [monitor.endpoint ?? "no host"];
    default:
      return [""];
  }
}

/**
 * Open incidents as the outages they belong to: monitors of one site, or
 * of one host and port, that are down together are one entry (as alerts
 * group them); anything else stands alone. Oldest outage first.
 */
export function outages(incidents, monitors, siteName) {
  const byId = new Map(monitors.map((m) => [m.id, m]));
  const groups = new Map();
  for (const incident of incidents) {
    const monitor = incident.kind === "monitor_down" ? byId.get(incident.monitor_id) : null;
    const key = monitor
      ? monitor.site_id ? `site ${monitor.site_id}` : monitor.endpoint ? `host ${monitor.endpoint}` : `incident ${incident.id}`
      : `incident ${incident.id}`;
    const label = monitor?.site_id ? siteName(monitor.site_id) : monitor?.endpoint;
    if (!groups.has(key)) groups.set(key, { key, label, incidents: [], monitors: [] });
    const group = groups.get(key);
    group.incidents.push(incident);
    if (monitor) group.monitors.push(monitor);
  }
  return [...groups.values()]
    .map((group) => ({ ...group, incidents: group.incidents.sort((a, b) => Date.parse(a.opened_at) - Date.parse(b.opened_at)) }))
    .sort((a, b) => Date.parse(a.incidents[0].opened_at) - Date.parse(b.incidents[0].opened_at));
}

/** One open incident on its own line. */
function IncidentLine({ incident, monitorName, siteName }) {
  const name = incident.monitor_id && monitorName(incident.monitor_id);
  return html`
    <strong>${name
      ? html`<a href=${`/monitors/${incident.monitor_id}`}>${name}</a>`
      : incident.site_id ? `site ${siteName(incident.site_id)}` : words(incident.kind)}</strong>
    ${" "}<${IncidentClass} correlation=${incident.correlation} />
    <span> — ${incident.cause}</span>
    <small> since ${when(incident.opened_at)}${incident.acknowledged_by ? ` · ${incident.acknowledged_by} is on it` : ""} · <a href=${`/incidents/${incident.id}`}>details</a></small>`;
}

/** The open incidents, an outage of many monitors as one entry. */
function OpenIncidents({ incidents, monitors, monitorName, siteName }) {
  const grouped = outages(incidents, monitors, siteName);
  return html`
    <section aria-labelledby="incidents-heading">
      <h2 id="incidents-heading">Open incidents</h2>
      <ul class="incidents" data-testid="open-incidents">
        ${grouped.map((group) => {
          const first = group.incidents[0];
          if (group.incidents.length === 1) {
            return html`<li key=${group.key} class=${`incident ${first.severity}`}><${IncidentLine} incident=${first} monitorName=${monitorName} siteName=${siteName} /></li>`;
          }
          const names = group.monitors.map((m) => m.name).sort((a, b) => a.localeCompare(b));
          const named = names.length > 4 ? `${names.slice(0, 4).join(", ")} and ${names.length - 4} more` : names.join(", ");
          return html`
            <li key=${group.key} class=${`incident outage ${first.severity}`} data-outage=${group.label}>
              <strong>Outage of ${group.label}</strong>
              ${" "}<${IncidentClass} correlation=${group.incidents.find((i) => i.correlation)?.correlation} />
              <span> — ${group.incidents.length} monitors down: ${named}</span>
              <small> since ${when(first.opened_at)} · <a href=${`/incidents/${first.id}`}>details</a></small>
              <details>
                <summary>Each of the ${group.incidents.length}</summary>
                <ul class="incidents">${group.incidents.map((incident) => html`
                  <li key=${incident.id}><${IncidentLine} incident=${incident} monitorName=${monitorName} siteName=${siteName} /></li>`)}</ul>
              </details>
            </li>`;
        })}
      </ul>
    </section>`;
}

/** What an admin can do to the selected monitors at once. */
function BulkActions({ selected, monitors, done, clear }) {
  const [busy, setBusy] = useState(false);
  const [tag, setTag] = useState("");
  const [problem, setProblem] = useState(null);
  const chosen = monitors.filter((m) => selected.has(m.id));
  const each = async (what, change) => {
    setBusy(true);
    setProblem(null);
    const failures = [];
    for (const monitor of chosen) {
      try {
        await change(monitor);
      } catch (failure) {
        failures.push(`${monitor.name}: ${failure.message}`);
      }
    }
    setBusy(false);
    if (failures.length) setProblem(`${what} failed for ${failures.join("; ")}`);
    else clear();
    done();
  };
  const put = (monitor, changes) => api("PUT", `/monitors/${monitor.id}`, { ...editable(monitor), ...changes });
  const mute = async () => {
    setBusy(true);
    setProblem(null);
    try {
      await muteForAnHour(chosen);
      clear();
    } catch (failure) {
      setProblem(failure.message);
    }
    setBusy(false);
    done();
  };
  const remove = () => {
    if (!window.confirm(`Delete ${chosen.length} monitors with their results? Their incidents stay, closed.`)) return;
    each("Deleting", (m) => api("DELETE", `/monitors/${m.id}`));
  };
  const addTag = (event) => {
    event.preventDefault();
    const name = tag.trim();
    if (!name) return;
    each("Tagging", (m) => ((m.tags ?? []).includes(name) ? Promise.resolve() : put(m, { tags: [...(m.tags ?? []), name] }))).then(() => setTag(""));
  };
  return html`
    <div class="bulk" role="region" aria-label="Change the selected monitors" data-testid="bulk">
      <strong>${chosen.length} selected</strong>
      <button type="button" disabled=${busy} onClick=${() => each("Pausing", (m) => put(m, { enabled: false }))}>Pause</button>
      <button type="button" disabled=${busy} onClick=${() => each("Resuming", (m) => put(m, { enabled: true }))}>Resume</button>
      <button type="button" disabled=${busy} onClick=${mute} title=${MUTE_TITLE}>Mute 1 h</button>
      <form class="inline" onSubmit=${addTag}>
        <label for="bulk-tag" class="visually-hidden">Tag to add</label>
        <input id="bulk-tag" value=${tag} placeholder="tag" size="10" onInput=${(e) => setTag(e.target.value)} />
        <button type="submit" disabled=${busy || !tag.trim()}>Add tag</button>
      </form>
      <button type="button" class="danger" disabled=${busy} onClick=${remove}>Delete</button>
      <button type="button" class="link" onClick=${clear}>Clear selection</button>
      ${problem && html`<p class="error" role="alert">${problem}</p>`}
    </div>`;
}

/** A sortable column heading. */
function Heading({ column, view, setView, className }) {
  const [key, label] = column;
  const sorted = view.sort === key;
  const toggle = () => setView({ ...view, sort: key, desc: sorted ? !view.desc : false });
  return html`
    <th scope="col" role="columnheader" class=${className} aria-sort=${sorted ? (view.desc ? "descending" : "ascending") : undefined}>
      <button type="button" class="sort" onClick=${toggle}>${label}${sorted ? (view.desc ? " ↓" : " ↑") : ""}</button>
    </th>`;
}

/** One monitor's line. */
function MonitorRow({ row, canWrite, selected, toggle, navigate }) {
  const { monitor: m, digest, last } = row;
  return html`
    <tr key=${m.id} role="row" data-monitor=${m.name}>
      ${canWrite && html`<td role="cell" class="pick"><input type="checkbox" checked=${selected} onChange=${() => toggle(m.id)} aria-label=${`Select ${m.name}`} /></td>`}
      <td role="cell"><span class=${`badge ${m.status}`}>${m.status}</span>${m.status_since && html`<br /><small>${ago(m.status_since)}</small>`}</td>
      <td role="cell"><a href=${`/monitors/${m.id}`}><strong>${m.name}</strong></a> <small class="type">${m.type}</small>${(m.tags ?? []).map((t) => html` <span class="tag">${t}</span>`)}
        <br /><small class="target">${target(m)} · from ${(m.checkpoints ?? ["local"]).join(", ")}</small></td>
      <td role="cell" class="beats"><${Heartbeat} results=${digest?.recent} name=${m.name} open=${(r) => navigate(`/monitors/${m.id}/results/${r.id}`)} /></td>
      <td role="cell" class="last" data-testid="last-check">${last
        ? html`<a class=${`outcome ${last.outcome}`} href=${`/monitors/${m.id}/results/${last.id}`} aria-label=${`${last.outcome}: open the last result of ${m.name}`}>${last.outcome}</a> ${millis(last.duration_ms)}<br /><small title=${when(last.started_at)}>${ago(last.started_at)}</small>${last.error && html`<br /><small class="problem" title=${last.error}>${last.error}</small>`}`
        : html`<small>no checks yet</small>`}</td>
      <td role="cell"><${Sparkline} results=${digest?.recent ?? []} /></td>
      ${UPTIME_PERIODS.map((p) => {
        const value = digest?.uptime[p]?.uptime_percent;
        return html`<td role="cell" class=${`number ${uptimeRating(value)}`} data-period=${p}>${value == null ? "–" : percent(value)}</td>`;
      })}
    </tr>`;
}

export function Overview({ search = "", navigate }) {
  const canWrite = useCanWrite();
  const [view, setViewState] = useState(() => readView(search));
  const [selected, setSelected] = useState(() => new Set());
  const [collapsed, setCollapsed] = useState(() => new Set());
  const setView = (next) => {
    setViewState(next);
    // The view is kept in the address (to share, to come back to), without
    // a history entry per keystroke.
    history.replaceState(null, "", `/${viewQuery(next)}`);
  };
  const { data, error, reload } = usePolled(
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
  if (data.monitors.length === 0 && data.sites.length === 0) {
    return html`<${FirstSteps} canWrite=${canWrite} />`;
  }
  const siteName = (id) => data.sites.find((s) => s.id === id)?.name;
  const monitorName = (id) => data.monitors.find((m) => m.id === id)?.name;
  const needle = view.q.trim().toLowerCase();
  const [, , value] = COLUMNS.find(([key]) => key === view.sort) ?? COLUMNS[0];
  const byName = (row) => row.monitor.name.toLowerCase();
  const rows = data.monitors
    .filter((m) => !view.status || m.status === view.status)
    .filter((m) => !view.tag || (m.tags ?? []).includes(view.tag))
    .filter((m) => !needle || `${m.name} ${target(m)} ${(m.tags ?? []).join(" ")}`.toLowerCase().includes(needle))
    .map((monitor) => {
      const digest = data.digests.get(monitor.id);
      const recent = digest?.recent ?? [];
      return { monitor, digest, last: recent[recent.length - 1] };
    })
    .sort((a, b) => {
      const [x, y] = [value(a), value(b)];
      const order = x < y ? -1 : x > y ? 1 : 0;
      return (view.desc ? -order : order) || (byName(a) < byName(b) ? -1 : 1);
    });
  const groups = new Map();
  for (const row of rows) {
    for (const name of groupsOf(row.monitor, view.group, siteName)) {
      if (!groups.has(name)) groups.set(name, []);
      groups.get(name).push(row);
    }
  }
  // Groups with something down first, then by name.
  const downIn = (members) => members.some((row) => row.monitor.status === "down");
  const groupList = [...groups.entries()].sort(([a, x], [b, y]) => downIn(y) - downIn(x) || a.localeCompare(b));
  const counts = Object.fromEntries(STATUSES.map((s) => [s, data.monitors.filter((m) => m.status === s).length]));
  const toggle = (id) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };
  const allShown = rows.length > 0 && rows.every((row) => selected.has(row.monitor.id));
  const toggleAll = () => setSelected(allShown ? new Set() : new Set(rows.map((row) => row.monitor.id)));
  const fold = (name) => {
    const next = new Set(collapsed);
    if (next.has(name)) next.delete(name);
    else next.add(name);
    setCollapsed(next);
  };
  const columns = 5 + UPTIME_PERIODS.length + (canWrite ? 1 : 0);
  return html`
    <section aria-labelledby="summary-heading">
      <h1 id="summary-heading">Overview</h1>
      <p class="summary" data-testid="summary">
        ${STATUSES.filter((s) => counts[s]).map((s) => html`<button type="button" class=${`badge ${s}`} aria-pressed=${view.status === s} onClick=${() => setView({ ...view, status: view.status === s ? "" : s })}>${counts[s]} ${s}</button> `)}
        ${data.monitors.length === 0 && "No monitors yet."}
        <small> updated ${ago(new Date(data.at).toISOString())}</small>
      </p>
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </section>
    ${data.incidents.length > 0 && html`<${OpenIncidents} incidents=${data.incidents} monitors=${data.monitors} monitorName=${monitorName} siteName=${siteName} />`}
    <section aria-labelledby="monitors-heading">
      <div class="toolbar">
        <h2 id="monitors-heading">Monitors</h2>
        ${canWrite && html`<a class="button" href="/monitors/new">New monitor</a>`}
      </div>
      <div class="filters" role="search">
        <label>Search <input type="search" value=${view.q} onInput=${(e) => setView({ ...view, q: e.target.value })} /></label>
        <label>Status
          <select value=${view.status} onChange=${(e) => setView({ ...view, status: e.target.value })}>
            <option value="">any</option>
            ${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
          </select>
        </label>
        ${tags.length > 0 && html`
          <label>Tag
            <select value=${view.tag} onChange=${(e) => setView({ ...view, tag: e.target.value })}>
              <option value="">any</option>
              ${tags.map((t) => html`<option value=${t}>${t}</option>`)}
            </select>
          </label>`}
        <label>Group by
          <select value=${view.group} onChange=${(e) => setView({ ...view, group: e.target.value })}>
            ${GROUPINGS.map(([key, name]) => html`<option value=${key}>${name}</option>`)}
          </select>
        </label>
      </div>
      ${canWrite && selected.size > 0 && html`<${BulkActions} selected=${selected} monitors=${data.monitors} done=${reload} clear=${() => setSelected(new Set())} />`}
      <table class=${`monitors${canWrite ? " picking" : ""}`} role="table">
        <thead role="rowgroup"><tr role="row">
          ${canWrite && html`<th scope="col" role="columnheader" class="pick"><input type="checkbox" checked=${allShown} onChange=${toggleAll} aria-label="Select every monitor shown" /></th>`}
          <${Heading} column=${COLUMNS[0]} view=${view} setView=${setView} />
          <${Heading} column=${COLUMNS[1]} view=${view} setView=${setView} />
          <th scope="col" role="columnheader">Latest checks</th>
          <${Heading} column=${COLUMNS[2]} view=${view} setView=${setView} />
          <${Heading} column=${COLUMNS[3]} view=${view} setView=${setView} />
          ${COLUMNS.slice(4).map((column) => html`<${Heading} column=${column} view=${view} setView=${setView} className="number" />`)}
        </tr></thead>
        ${groupList.map(([name, members]) => {
          const folded = collapsed.has(name);
          const down = members.filter((row) => row.monitor.status === "down").length;
          return html`
            <tbody role="rowgroup" key=${name} data-group=${name}>
              ${view.group && html`
                <tr role="row" class="group"><th role="rowheader" scope="rowgroup" colspan=${columns}>
                  <button type="button" class="fold" aria-expanded=${!folded} onClick=${() => fold(name)}>${folded ? "▸" : "▾"} ${name}</button>
                  <small> ${members.length} monitors${down ? html` · <span class="problem">${down} down</span>` : ""}</small>
                </th></tr>`}
              ${!folded && members.map((row) => html`<${MonitorRow} key=${row.monitor.id} row=${row} canWrite=${canWrite} selected=${selected.has(row.monitor.id)} toggle=${toggle} navigate=${navigate} />`)}
            </tbody>`;
        })}
      </table>
      ${rows.length === 0 && data.monitors.length > 0 && html`<p>No monitor matches.</p>`}
      ${data.monitors.length === 0 && html`<p>No monitors yet.${canWrite && html` <a href="/monitors/new">Add the first</a>.`}</p>`}
    </section>
    <section aria-labelledby="sites-heading">
      <div class="toolbar">
        <h2 id="sites-heading">Sites</h2>
        ${canWrite && html`<a class="button" href="/sites/new">New site</a>`}
      </div>
      <${SitesTable} sites=${data.sites} summaries=${data.summaries} />
    </section>`;
}

/** Every RUM site with its last day's page views and vitals. */
export function SitesTable({ sites, summaries }) {
  if (sites.length === 0) return html`<p>No RUM site yet.</p>`;
  return html`
    <table class="sites" role="table">
      <thead role="rowgroup"><tr role="row"><th scope="col" role="columnheader">Site</th><th scope="col" role="columnheader">Page views (24 h)</th>${VITALS.map(([, label]) => html`<th scope="col" role="columnheader">${label} p75</th>`)}</tr></thead>
      <tbody role="rowgroup">
        ${sites.map((site, i) => html`
          <tr key=${site.id} role="row" data-site=${site.name}>
            <td role="cell"><a href=${`/sites/${site.id}`}><strong>${site.name}</strong></a> <small>${(site.origins ?? []).join(", ")}</small></td>
            <td role="cell" data-label="Page views (24 h)">${summaries[i].page_views.toLocaleString()}</td>
            ${VITALS.map(([name, label]) => {
              const value = summaries[i].metrics[name]?.p75;
              return html`<td role="cell" data-label=${`${label} p75`} class=${rating(name, value)}>${measure(name, value)}</td>`;
            })}
          </tr>`)}
      </tbody>
    </table>`;
}
