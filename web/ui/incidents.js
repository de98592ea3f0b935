// Every incident in one list, the way on-call people sort them: open and
// nobody on it, acknowledged, resolved; newest first, with what it is
// about, its class, how long it lasted and who is on it.
import { html } from "./html.js";
import { usePolled } from "./polling.js";
import { get } from "./api.js";
import { ago, when, words } from "./format.js";
import { IncidentClass } from "./incident.js";

const STATES = [
  ["open", "Open"],
  ["unacknowledged", "Nobody on it"],
  ["acknowledged", "Acknowledged"],
  ["resolved", "Resolved"],
  ["", "All (30 days)"],
];

/** How long an incident lasted (or has lasted so far), in a few words. */
function lasted(incident, now = Date.now()) {
  const end = incident.closed_at ? Date.parse(incident.closed_at) : now;
  const minutes = Math.max(0, Math.round((end - Date.parse(incident.opened_at)) / 60000));
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours} h ${minutes % 60} min` : `${Math.round(hours / 24)} days`;
}

/** What an incident is about, by name, with a link to it. */
function subjectOf(incident, names) {
  if (incident.monitor_id) return names.monitors.get(incident.monitor_id) ?? `monitor ${incident.monitor_id}`;
  if (incident.site_id) return `site ${names.sites.get(incident.site_id) ?? incident.site_id}`;
  if (incident.checkpoint_id) return `checkpoint ${names.checkpoints.get(incident.checkpoint_id) ?? incident.checkpoint_id}`;
  if (incident.subject) return `${incident.subject} (deleted)`;
  return words(incident.kind);
}

export function Incidents({ search }) {
  const params = new URLSearchParams(search);
  const state = params.get("state") ?? "open";
  const { data, error } = usePolled(
    async () => {
      const query = state ? `?state=${state}` : "";
      const [incidents, monitors, sites, checkpoints] = await Promise.all([
        get(`/incidents${query}`),
        get("/monitors"),
        get("/sites"),
        get("/checkpoints").catch(() => []),
      ]);
      const names = {
        monitors: new Map(monitors.map((m) => [m.id, m.name])),
        sites: new Map(sites.map((s) => [s.id, s.name])),
        checkpoints: new Map(checkpoints.map((c) => [c.id, c.name])),
      };
      return { incidents, names };
    },
    10_000,
    [state],
  );
  return html`
    <h1>Incidents</h1>
    <div class="chips" role="group" aria-label="Show">
      ${STATES.map(([value, label]) => html`
        <a class="chip" href=${value ? `/incidents?state=${value}` : "/incidents?state="}
          aria-current=${state === value ? "true" : undefined}>${label}</a>`)}
    </div>
    ${!data ? html`<p class=${error ? "error" : "loading"}>${error ?? "Loading…"}</p>` : data.incidents.length === 0
      ? html`<p data-testid="no-incidents">${state === "resolved" ? "Nothing resolved in the last 30 days." : "Nothing here: all is well."}</p>`
      : html`
      <div class="scroll">
      <table data-testid="incidents">
        <thead><tr><th scope="col">What</th><th scope="col">Class</th><th scope="col">Opened</th>
          <th scope="col">Lasted</th><th scope="col">State</th></tr></thead>
        <tbody>${data.incidents.map((incident) => html`
          <tr key=${incident.id} data-incident=${incident.id}>
            <td><a href=${`/incidents/${incident.id}`}>${subjectOf(incident, data.names)}</a>
              <br /><small>${incident.cause}</small></td>
            <td><${IncidentClass} correlation=${incident.correlation} /> <small>${incident.severity}</small></td>
            <td><time datetime=${incident.opened_at} title=${when(incident.opened_at)}>${ago(incident.opened_at)}</time></td>
            <td>${lasted(incident)}</td>
            <td>${incident.closed_at
              ? html`<span class="badge up">resolved</span>`
              : incident.acknowledged_by
                ? html`<span class="badge degraded">acknowledged</span> <small>${incident.acknowledged_by}</small>`
                : html`<span class="badge down">open</span>`}</td>
          </tr>`)}
        </tbody>
      </table>
      </div>`}
    ${data && error && html`<p class="error" role="alert">${error}</p>`}`;
}
