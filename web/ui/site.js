// A RUM site's dashboard: what its real users saw over a period, the
// Core Web Vitals rated, a metric over time, and breakdowns by page,
// device, browser, OS, country and navigation type. Every breakdown value
// is a filter; the period, metric and filters live in the URL.
import { useCanWrite } from "./role.js";
import { html, useEffect } from "./html.js";
import { get } from "./api.js";
import { usePolled } from "./polling.js";
import { NotFound } from "./not_found.js";
import { Plot } from "./chart.js";
import { markComplete } from "./complete.js";
import { words } from "./format.js";
import { LOOKBACK_MS, MarkList, incidentMarks, shadeMarks } from "./incident_marks.js";
import { VITALS, measure, rating } from "./vitals.js";

const PERIODS = [
  ["1h", "1 hour", 3600e3],
  ["24h", "24 hours", 86400e3],
  ["7d", "7 days", 7 * 86400e3],
  ["30d", "30 days", 30 * 86400e3],
];
const DIMENSIONS = ["page", "device", "browser", "browser_version", "os", "os_version", "country", "navigation_type"];
/** Why beacons were not stored, in words. */
const IGNORED = {
  robot: "from robots or headless browsers (their User-Agent says so)",
  origin: "from pages on an origin the site does not list",
  rate_limit: "over the rate limit",
  malformed: "malformed",
};

/** How many of the site's beacons were ignored in the period, and why:
 * someone testing with headless Chrome sees why the dashboard is empty. */
function IgnoredBeacons({ ignored }) {
  const reasons = Object.entries(ignored ?? {}).filter(([, count]) => count > 0);
  if (reasons.length === 0) return null;
  const total = reasons.reduce((sum, [, count]) => sum + count, 0);
  return html`
    <p class="notice" role="status" data-testid="ignored-beacons">
      ${total.toLocaleString()} beacon${total === 1 ? "" : "s"} ignored in this period:
      ${reasons.map(([reason, count], i) => html`${i > 0 ? "; " : " "}${count.toLocaleString()} ${IGNORED[reason] ?? reason}`)}.
    </p>`;
}

const METRICS = [...VITALS.map(([name, label]) => [name, label]), ["load", "load"]];
const PERCENTILES = [50, 75, 95];

/** The dashboard's state from the URL's query. */
function stateOf(search) {
  const query = new URLSearchParams(search);
  const filters = DIMENSIONS.filter((d) => query.has(d)).map((d) => [d, query.get(d)]);
  return {
    period: PERIODS.find(([key]) => key === query.get("period")) ? query.get("period") : "24h",
    metric: query.get("metric") ?? "lcp",
    percentile: Number(query.get("percentile") ?? 75),
    filters,
  };
}

function queryOf(state) {
  const query = new URLSearchParams();
  query.set("period", state.period);
  query.set("metric", state.metric);
  query.set("percentile", String(state.percentile));
  for (const [dimension, value] of state.filters) query.set(dimension, value);
  return query.toString();
}

function SeriesChart({ series, label, from, to, marks, onDrawn }) {
  const make = () => {
    const points = series[0]?.points ?? [];
    const options = {
      // The whole period, however few its points.
      scales: { x: { time: true, range: () => [from / 1000, to / 1000] } },
      series: [{}, { label, stroke: "#0b5cad", width: 2, spanGaps: true, points: { size: 6 } }],
      axes: [{}, { size: 70 }],
      hooks: { drawClear: [shadeMarks(marks, from, to)] },
    };
    return [options, [points.map((p) => Date.parse(p.t) / 1000), points.map((p) => p.value)]];
  };
  return html`<${Plot} label=${label} height=${220} make=${make} deps=${[series, from, to, marks]} onDrawn=${onDrawn} />`;
}

/**
 * The site's own incidents (silence, slow pages) and those of the monitors
 * that watch it. Only the monitors with incidents are read, not all of them.
 */
async function siteMarks(incidents, siteId, from, to) {
  const withIncidents = [...new Set(incidents.map((i) => i.monitor_id).filter((m) => m != null))];
  const monitors = await Promise.all(withIncidents.map((m) => get(`/monitors/${m}`)));
  const watching = monitors.filter((m) => m.site_id === siteId).map((m) => m.id);
  return incidentMarks(incidents, { monitorIds: watching, siteIds: [siteId] }, from, to);
}

export function SiteDashboard({ id, search, navigate }) {
  const canWrite = useCanWrite();
  const state = stateOf(search);
  const go = (next) => navigate(`/sites/${id}?${queryOf({ ...state, ...next })}`);
  const key = queryOf(state);
  const { data, error, missing } = usePolled(
    async () => {
      const span = PERIODS.find(([name]) => name === state.period)[2];
      const to = Date.now();
      const scope = new URLSearchParams({ from: String(to - span), to: String(to) });
      for (const [dimension, value] of state.filters) scope.set(dimension, value);
      const [site, watch, incidents, summary, series, ...breakdowns] = await Promise.all([
        get(`/sites/${id}`),
        get(`/sites/${id}/watch`).catch(() => null),
        get(`/incidents?since=${new Date(to - span - LOOKBACK_MS).toISOString()}`),
        get(`/sites/${id}/rum/summary?${scope}`),
        get(`/sites/${id}/rum/timeseries?${scope}&metric=${state.metric}&percentile=${state.percentile}`),
        ...DIMENSIONS.map((dimension) => get(`/sites/${id}/rum/breakdown?${scope}&dimension=${dimension}`)),
      ]);
      const marks = await siteMarks(incidents, Number(id), to - span, to);
      return { site, watch, summary, series, breakdowns, marks, from: to - span, to };
    },
    30_000,
    [id, key],
  );
  // Complete once the figures are shown and the chart, if any, is drawn.
  const complete = () => markComplete("sightline:site-complete");
  useEffect(() => {
    if (data && data.summary.page_views === 0) complete();
  }, [data]);
  if (missing) return html`<${NotFound} what="site" />`;
  if (!data) {
    return html`<p class=${error ? "error" : "loading"}>${error ?? "Loading…"}</p>`;
  }
  const { site, watch, summary, series, breakdowns } = data;
  const metricLabel = METRICS.find(([name]) => name === state.metric)?.[1] ?? state.metric;
  return html`
    <p><a href="/">← Overview</a></p>
    <h1>${site.name} ${canWrite && html`<a class="small" href=${`/sites/${id}/edit`}>Edit</a>`}</h1>
    ${watch && html`<p class="lead" data-testid="watch" title="What the outage detector expects from real users now">
      <span class=${`badge ${watch.armed ? "up" : "unknown"}`}>${watch.armed ? "armed" : "not armed"}</span> ${watch.summary}</p>`}
    <details class="snippet">
      <summary>Snippet and allowed origins</summary>
      <p>Paste into every page, before <code>${"</head>"}</code>:</p>
      <pre><code>${site.snippet}</code></pre>
      <p>Allowed origins: ${(site.origins ?? []).join(", ") || "none yet"}</p>
    </details>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <label>Period
        <select value=${state.period} onChange=${(e) => go({ period: e.target.value })}>
          ${PERIODS.map(([value, label]) => html`<option value=${value}>${label}</option>`)}
        </select>
      </label>
      <label>Metric
        <select value=${state.metric} onChange=${(e) => go({ metric: e.target.value })}>
          ${METRICS.map(([value, label]) => html`<option value=${value}>${label}</option>`)}
        </select>
      </label>
      <label>Percentile
        <select value=${String(state.percentile)} onChange=${(e) => go({ percentile: Number(e.target.value) })}>
          ${PERCENTILES.map((p) => html`<option value=${String(p)}>p${p}</option>`)}
        </select>
      </label>
    </form>
    ${state.filters.length > 0 && html`
      <p class="chips" data-testid="filters">
        ${state.filters.map(([dimension, value]) => html`
          <button type="button" class="chip" aria-label=${`Remove filter ${dimension} ${value}`}
            onClick=${() => go({ filters: state.filters.filter(([d]) => d !== dimension) })}>
            ${words(dimension)}: ${value} ×
          </button>`)}
      </p>`}
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <${IgnoredBeacons} ignored=${summary.ignored_beacons} />
    <section aria-labelledby="vitals-heading">
      <h2 id="vitals-heading">What real users saw</h2>
      <div class="cards">
        <div class="card" data-metric="page_views"><span>Page views</span><strong>${summary.page_views.toLocaleString()}</strong></div>
        ${VITALS.map(([name, label]) => {
          const metric = summary.metrics[name];
          const value = metric?.p75;
          return html`
            <div class=${`card ${rating(name, value)}`} data-metric=${name}>
              <span>${label} p75</span>
              <strong>${measure(name, value)}</strong>
              ${metric?.ratings && html`
                <span class="shares" title="good / needs improvement / poor">
                  <i class="good" style=${`width:${metric.ratings.good * 100}%`}></i><i class="needs-improvement" style=${`width:${metric.ratings.needs_improvement * 100}%`}></i><i class="poor" style=${`width:${metric.ratings.poor * 100}%`}></i>
                </span>`}
            </div>`;
        })}
      </div>
    </section>
    <section aria-labelledby="series-heading">
      <h2 id="series-heading">${metricLabel} p${state.percentile} over time</h2>
      ${summary.page_views === 0 ? html`<p>No page views in this period.</p>` : html`<${SeriesChart} series=${series.series} label=${`${metricLabel} p${state.percentile}`} from=${data.from} to=${data.to} marks=${data.marks} onDrawn=${complete} />`}
      <h3>Incidents</h3>
      <${MarkList} marks=${data.marks} />
    </section>
    <section aria-labelledby="breakdowns-heading">
      <h2 id="breakdowns-heading">Breakdowns</h2>
      <div class="breakdowns">
        ${breakdowns.map((breakdown) => html`
          <table class="breakdown" data-dimension=${breakdown.dimension}>
            <caption>${words(breakdown.dimension)}</caption>
            <thead><tr><th scope="col">Value</th><th scope="col">Page views</th><th scope="col">LCP p75</th></tr></thead>
            <tbody>
              ${breakdown.rows.map((row) => html`
                <tr key=${row.value}>
                  <td><button type="button" class="link" onClick=${() => go({ filters: [...state.filters.filter(([d]) => d !== breakdown.dimension), [breakdown.dimension, row.value]] })}>${row.value}</button></td>
                  <td>${row.page_views.toLocaleString()}</td>
                  <td class=${rating("lcp", row.metrics.lcp?.p75)}>${measure("lcp", row.metrics.lcp?.p75)}</td>
                </tr>`)}
            </tbody>
          </table>`)}
      </div>
    </section>`;
}
