// One monitor: its status, uptime over several periods and any other,
// response time with the timing breakdown stacked, its incidents, the last
// browser run's requests and steps, and its results with their errors.
import { html, useState } from "./html.js";
import { usePolled } from "./polling.js";
import { api, get } from "./api.js";
import { ago, percent, span, when } from "./format.js";
import { IncidentClass } from "./incident.js";
import { editable } from "./monitor_form.js";
import { SeriesTimingChart, StatusBand, TimingChart } from "./chart.js";
import { RangePicker, rangeQuery, readRange } from "./time_range.js";
import { LOOKBACK_MS, MarkList, incidentMarks, shadeMarks } from "./incident_marks.js";
import { Waterfall } from "./waterfall.js";
import { StepResults } from "./step_results.js";
import { ScrollBox } from "./scroll_box.js";
import { PageVitals, hasVitals } from "./page_vitals.js";
import { useCanWrite } from "./role.js";
import { NotFound } from "./not_found.js";
import { MuteHour } from "./mute.js";
import { takeRun } from "./first_run.js";
import { TypeCharts } from "./type_charts.js";

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

/** How many buckets to ask for: 120 (a bar every few pixels), more for a
 * span longer than 120 weeks, the longest step. */
function seriesBuckets(range) {
  return Math.min(2000, Math.max(120, Math.ceil((range.to - range.from) / (7 * DAY_MS)) + 2));
}

/** Most raw results a chart draws; a longer period is drawn from buckets. */
const RAW_LIMIT = 1000;

export function MonitorDetail({ id, search = "", navigate }) {
  const canWrite = useCanWrite();
  const [running, setRunning] = useState(false);
  // What "Run now" found, or the check run as the monitor was created.
  const [ran, setRan] = useState(() => takeRun(id));
  const [query, setQuery] = useState(search);
  const choose = (range) => {
    const next = rangeQuery(query, range);
    setQuery(next);
    history.replaceState(null, "", `/monitors/${id}${next}`);
  };
  const zoom = (from, to) => choose({ key: "custom", from, to });
  const { data, error, missing, reload: load, setError } = usePolled(
    async () => {
      const now = Date.now();
      const range = readRange(query, "24h", now);
      const [monitor, results, incidents, series, rangeUptime, ...uptimes] = await Promise.all([
        get(`/monitors/${id}`),
        get(`/monitors/${id}/results?from=${Math.round(range.from)}&to=${Math.round(range.to)}&limit=${RAW_LIMIT}`),
        get(`/incidents?monitor_id=${id}&since=${Math.round(Math.min(range.from - LOOKBACK_MS, now - INCIDENT_DAYS * DAY_MS))}`),
        get(`/monitors/${id}/series?from=${Math.round(range.from)}&to=${Math.round(range.to)}&buckets=${seriesBuckets(range)}`),
        get(`/monitors/${id}/uptime?from=${Math.round(range.from)}&to=${Math.round(range.to)}`),
        ...PERIODS.map(([, length]) => get(`/monitors/${id}/uptime?from=${now - length}&to=${now}`)),
      ]);
      return { monitor, results, incidents, series, range, rangeUptime, uptimes };
    },
    10_000,
    [id, query],
  );
  if (missing) return html`<${NotFound} what="monitor" />`;
  if (!data) {
    return html`<p class=${error ? "error" : "loading"}>${error ?? "Loading…"}</p>`;
  }
  const { monitor, results, incidents, series, range, rangeUptime, uptimes } = data;
  const marks = incidentMarks(incidents, { monitorIds: [monitor.id] }, range.from, range.to);
  const shade = shadeMarks(marks, range.from, range.to);
  // Every result of the period fits the raw chart, with its phases; a
  // longer period is drawn from the series' buckets.
  const raw = results.length < RAW_LIMIT;
  const heading = TIME_HEADINGS[monitor.type] ?? "Response time";
  const recentIncidents = incidents.filter((i) => Date.parse(i.opened_at) >= Date.now() - INCIDENT_DAYS * DAY_MS);
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
      const answered = await api("POST", `/monitors/${id}/run`);
      setRan({ results: answered });
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
        <${MuteHour} monitor=${monitor} done=${load} />
        <button type="button" class="danger" onClick=${remove}>Delete</button>`}
    </p>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${ran && html`
      <p class="notice" role="status" data-testid="ran">
        ${ran.first ? "Checked once as it was saved: " : "Ran just now: "}
        ${ran.error ? ran.error : ran.results.length === 0 ? "the check is queued; its result will show below." : ran.results.map((r, i) => html`${i > 0 && "; "}<a href=${`/monitors/${id}/results/${r.id}`}>${r.outcome}</a> from ${r.checkpoint} in ${r.duration_ms} ms${r.problem ? ` — ${r.problem.message}` : ""}`)}
      </p>`}
    <section aria-labelledby="uptime-heading">
      <h2 id="uptime-heading">Uptime</h2>
      <dl class="uptime">
        ${PERIODS.map(([name], i) => html`
          <div data-period=${name}>
            <dt>${name}</dt>
            <dd>${percent(uptimes[i].uptime_percent)}</dd>
            <dd><small>${counted(uptimes[i])}</small></dd>
          </div>`)}
        <div data-period="range" data-testid="period-uptime">
          <dt>${range.label}</dt>
          <dd>${percent(rangeUptime.uptime_percent)}</dd>
          <dd><small>${counted(rangeUptime)}</small></dd>
        </div>
      </dl>
    </section>
    <section aria-labelledby="timing-heading">
      <h2 id="timing-heading">${heading}</h2>
      <${RangePicker} range=${range} choose=${choose} />
      ${raw
        ? html`<${TimingChart} results=${results} label=${`${heading} by phase, ${range.label}`} from=${range.from} to=${range.to} shade=${shade} zoom=${zoom} />`
        : html`<${SeriesTimingChart} series=${series} label=${`${heading}, median and p95 per ${span(series.step_ms)}, ${range.label}`} from=${range.from} to=${range.to} shade=${shade} zoom=${zoom} />`}
      <${StatusBand} series=${series} />
      ${results.length === 0 && html`<p>No results in this period.</p>`}
      <p class="hint"><small>Drag across the chart to zoom into a span.</small></p>
      ${marks.length > 0 && html`<${MarkList} marks=${marks} />`}
    </section>
    ${hasVitals(results) && html`<${PageVitals} results=${results} />`}
    <${TypeCharts} monitor=${monitor} results=${results} range=${range} zoom=${zoom} />
    <section aria-labelledby="incidents-heading">
      <h2 id="incidents-heading">Incidents (last ${INCIDENT_DAYS} days)</h2>
      ${recentIncidents.length === 0 ? html`<p>None.</p>` : html`
        <ul class="incidents" data-testid="monitor-incidents">
          ${recentIncidents.map((incident) => html`
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
