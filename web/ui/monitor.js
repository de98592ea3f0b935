// One monitor: its status, uptime over several periods and any other,
// response time with the timing breakdown stacked, its incidents, the last
// browser run's requests and steps, and its results with their errors.
import { html, useState } from "./html.js";
import { usePolled } from "./polling.js";
import { api, get } from "./api.js";
import { ago, percent, when } from "./format.js";
import { IncidentClass } from "./incident.js";
import { editable } from "./monitor_form.js";
import { TimingChart } from "./chart.js";
import { Waterfall } from "./waterfall.js";
import { StepResults } from "./step_results.js";
import { ScrollBox } from "./scroll_box.js";
import { PageVitals, hasVitals } from "./page_vitals.js";
import { useCanWrite } from "./role.js";
import { NotFound } from "./not_found.js";

const DAY_MS = 24 * 3600 * 1000;
const PERIODS = [
  ["24 h", DAY_MS],
  ["7 days", 7 * DAY_MS],
  ["30 days", 30 * DAY_MS],
];
/** What a result's time is, where it is not a response's. */
const TIME_HEADINGS = {
  browser: "Page load time",
  transaction: "Journey time",
  ping: "Time of each check",
};
/** How far back the incidents list goes. */
const INCIDENT_DAYS = 30;

/** What an uptime answer counted, in words. */
function counted(uptime) {
  const p95 = uptime.response_ms.p95;
  return `${uptime.checks} checks, ${uptime.confirmed_errors} confirmed errors${p95 != null ? `, p95 ${Math.round(p95)} ms` : ""}`;
}

/** A time as a `datetime-local` input holds it: the viewer's local time. */
function localInput(ms) {
  const at = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return at.toISOString().slice(0, 16);
}

/** Uptime over a period the viewer picks, in their own time zone. */
function PeriodUptime({ id }) {
  // To the end of the current minute, so that the latest checks count.
  const end = Math.ceil((Date.now() + 1) / 60_000) * 60_000;
  const [from, setFrom] = useState(localInput(end - 90 * DAY_MS));
  const [to, setTo] = useState(localInput(end));
  const [shown, setShown] = useState(null);
  const [problem, setProblem] = useState(null);
  const look = async (event) => {
    event.preventDefault();
    try {
      const [start, stop] = [new Date(from).getTime(), new Date(to).getTime()];
      setShown(await get(`/monitors/${id}/uptime?from=${start}&to=${stop}`));
      setProblem(null);
    } catch (failure) {
      setShown(null);
      setProblem(failure.message);
    }
  };
  return html`
    <form class="inline period" onSubmit=${look} aria-label="Uptime over another period">
      <label for="uptime-from">From</label>
      <input id="uptime-from" type="datetime-local" value=${from} onInput=${(e) => setFrom(e.target.value)} />
      <label for="uptime-to">to</label>
      <input id="uptime-to" type="datetime-local" value=${to} onInput=${(e) => setTo(e.target.value)} />
      <button type="submit">Show uptime</button>
    </form>
    ${problem && html`<p class="error" role="alert">${problem}</p>`}
    ${shown && html`
      <p data-testid="period-uptime"><strong>${percent(shown.uptime_percent)}</strong>
        <small> ${counted(shown)}</small></p>`}`;
}

export function MonitorDetail({ id, navigate }) {
  const canWrite = useCanWrite();
  const [running, setRunning] = useState(false);
  const { data, error, missing, reload: load, setError } = usePolled(
    async () => {
      const now = Date.now();
      const [monitor, results, incidents, ...uptimes] = await Promise.all([
        get(`/monitors/${id}`),
        get(`/monitors/${id}/results?limit=500`),
        get(`/incidents?monitor_id=${id}&since=${now - INCIDENT_DAYS * DAY_MS}`),
        ...PERIODS.map(([, span]) => get(`/monitors/${id}/uptime?from=${now - span}&to=${now}`)),
      ]);
      return { monitor, results, incidents, uptimes };
    },
    10_000,
    [id],
  );
  if (missing) return html`<${NotFound} what="monitor" />`;
  if (!data) {
    return html`<p class=${error ? "error" : "loading"}>${error ?? "Loading…"}</p>`;
  }
  const { monitor, results, incidents, uptimes } = data;
  const setEnabled = async (enabled) => {
    const document = { ...editable(monitor), enabled };
    try {
      await api("PUT", `/monitors/${id}`, document);
      await load();
    } catch (failure) {
      setError(failure.message);
    }
  };
  const remove = async () => {
    if (!window.confirm(`Delete ${monitor.name} with its results and incidents?`)) return;
    try {
      await api("DELETE", `/monitors/${id}`);
      navigate("/");
    } catch (failure) {
      setError(failure.message);
    }
  };
  const runNow = async () => {
    setRunning(true);
    try {
      await api("POST", `/monitors/${id}/run`);
      await load();
    } catch (failure) {
      setError(failure.message);
    } finally {
      setRunning(false);
    }
  };
  return html`
    <p><a href="/">← Overview</a></p>
    <h1>${monitor.name} <span class=${`badge ${monitor.status}`}>${monitor.status}</span></h1>
    <p class="lead">
      <span>${monitor.type}</span>
      ${monitor.status_since && html`<span>${monitor.status} since ${when(monitor.status_since)}</span>`}
      <span>from ${(monitor.checkpoints ?? []).join(", ")}</span>
      ${canWrite && html`
        <button type="button" onClick=${runNow} disabled=${running}>${running ? "Running…" : "Run now"}</button>
        <a href=${`/monitors/${id}/edit`}>Edit</a>
        <button type="button" onClick=${() => setEnabled(monitor.status === "paused")}>${monitor.status === "paused" ? "Resume" : "Pause"}</button>
        <button type="button" onClick=${remove}>Delete</button>`}
    </p>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <section aria-labelledby="uptime-heading">
      <h2 id="uptime-heading">Uptime</h2>
      <dl class="uptime">
        ${PERIODS.map(([name], i) => html`
          <div data-period=${name}>
            <dt>${name}</dt>
            <dd>${percent(uptimes[i].uptime_percent)}</dd>
            <dd><small>${counted(uptimes[i])}</small></dd>
          </div>`)}
      </dl>
      <${PeriodUptime} id=${id} />
    </section>
    <section aria-labelledby="timing-heading">
      <h2 id="timing-heading">${TIME_HEADINGS[monitor.type] ?? "Response time"}</h2>
      ${results.length === 0 ? html`<p>No results yet.</p>` : html`<${TimingChart} results=${results} label=${`${TIME_HEADINGS[monitor.type] ?? "Response time"} by phase`} />`}
    </section>
    ${hasVitals(results) && html`<${PageVitals} results=${results} />`}
    <section aria-labelledby="incidents-heading">
      <h2 id="incidents-heading">Incidents (last ${INCIDENT_DAYS} days)</h2>
      ${incidents.length === 0 ? html`<p>None.</p>` : html`
        <ul class="incidents" data-testid="monitor-incidents">
          ${incidents.map((incident) => html`
            <li key=${incident.id} class=${`incident ${incident.severity}`}>
              <a href=${`/incidents/${incident.id}`}>${when(incident.opened_at)}</a>
              ${" "}<${IncidentClass} correlation=${incident.correlation} />
              <span> — ${incident.cause}</span>
              <small> · ${incident.closed_at ? `closed ${when(incident.closed_at)}` : "open"}</small>
            </li>`)}
        </ul>`}
    </section>
    ${results[0]?.detail?.requests && html`
      <section aria-labelledby="requests-heading">
        <h2 id="requests-heading">Requests of the last run</h2>
        <${Waterfall} requests=${results[0].detail.requests} />
      </section>`}
    ${results[0]?.detail?.steps && html`
      <section aria-labelledby="steps-heading">
        <h2 id="steps-heading">Steps of the last run</h2>
        <${StepResults} steps=${results[0].detail.steps} />
        ${(results[0].screenshots ?? []).map((shot) => html`
          <figure class="shot"><img src=${shot.url} alt=${shot.label} loading="lazy" /><figcaption>${shot.label}</figcaption></figure>`)}
      </section>`}
    <section aria-labelledby="results-heading">
      <h2 id="results-heading">Results</h2>
      <${ScrollBox} label="Results">
        <table class="results">
          <thead><tr><th scope="col">When</th><th scope="col">From</th><th scope="col">Outcome</th><th scope="col">Time</th><th scope="col">Problem</th></tr></thead>
          <tbody>
            ${results.slice(0, 100).map((r) => html`
              <tr key=${r.id} data-result=${r.id}>
                <td title=${when(r.started_at)}><a href=${`/monitors/${id}/results/${r.id}`}>${ago(r.started_at)}</a>${r.attempt > 0 ? html` <small>(confirmation)</small>` : ""}</td>
                <td>${r.checkpoint}</td>
                <td><span class=${`badge ${r.outcome === "error" ? "down" : r.outcome}`}>${r.outcome}</span>${r.confirmed_error ? html` <small>confirmed</small>` : ""}</td>
                <td>${r.duration_ms} ms</td>
                <td class="problem">${r.problem ? r.problem.message : ""}</td>
              </tr>`)}
          </tbody>
        </table>
      <//>
    </section>`;
}
