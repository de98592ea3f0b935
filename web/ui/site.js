// A RUM site's dashboard: what its real users saw over a period, the
// Core Web Vitals rated, a metric over time, and breakdowns by page,
// device, browser, OS, country and navigation type. Every breakdown value
// is a filter; the period, metric and filters live in the URL.
import { useCanWrite } from "./role.js";
import { html, useEffect, useState } from "./html.js";
import { get } from "./api.js";
import { usePolled } from "./polling.js";
import { NotFound } from "./not_found.js";
import { Plot, at, dragToZoom, tooltip, withHooks } from "./chart.js";
import { RangePicker, rangeQuery, readRange } from "./time_range.js";
import { markComplete } from "./complete.js";
import { span, words } from "./format.js";
import { LOOKBACK_MS, MarkList, incidentMarks, shadeMarks } from "./incident_marks.js";
import { VITALS, measure, rating } from "./vitals.js";

/** Each dimension's heading, in words. */
const DIMENSION_WORDS = {
  page: "Page",
  device: "Device",
  browser: "Browser",
  browser_version: "Browser version",
  os: "OS",
  os_version: "OS version",
  country: "Country",
  navigation_type: "Navigation",
};
/** How a page view was reached, in words (the collector's navigation types). */
const NAVIGATION_WORDS = {
  navigate: "link, address or form",
  reload: "reload",
  back_forward: "back/forward",
  prerender: "prerendered",
  soft: "in-app route change",
};
/** A breakdown value in words: the raw value stays the filter. */
const valueWords = (dimension, value) => (dimension === "navigation_type" ? NAVIGATION_WORDS[value] ?? words(value) : value);

/** The longest period a RUM query may cover (400 days), less a day to spare. */
const LONGEST_MS = 399 * 86400e3;
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

/** The dashboard's state from the URL's query; the range as every chart
 * screen keeps it (`range=7d`, or `from` and `to`; `period` from older
 * links is read as a range). */
function stateOf(search, now = Date.now()) {
  const query = new URLSearchParams(search);
  if (query.has("period") && !query.has("range")) query.set("range", query.get("period"));
  const filters = DIMENSIONS.filter((d) => query.has(d)).map((d) => [d, query.get(d)]);
  return {
    range: readRange(`?${query}`, "24h", now),
    metric: query.get("metric") ?? "lcp",
    percentile: Number(query.get("percentile") ?? 75),
    filters,
  };
}

function queryOf(state) {
  const query = new URLSearchParams(rangeQuery("", state.range));
  query.set("metric", state.metric);
  query.set("percentile", String(state.percentile));
  for (const [dimension, value] of state.filters) query.set(dimension, value);
  return query.toString();
}

/**
 * Page views per bucket, every bucket of the period drawn (an empty one as
 * zero): silence shows as a gap in the bars, not as a line drawn across it.
 */
function PageViewsChart({ series, bucketSeconds, from, to, marks, zoom }) {
  const make = (uPlot) => {
    const step = bucketSeconds * 1000;
    const counts = new Map((series[0]?.points ?? []).map((p) => [Date.parse(p.t), p.page_views]));
    const starts = [];
    for (let t = Math.floor(from / step) * step; t < to; t += step) starts.push(t);
    const views = starts.map((t) => counts.get(t) ?? 0);
    const tip = tooltip((u, i) => [at(starts[i] / 1000), `${views[i].toLocaleString()} page views in ${span(step)}`]);
    const options = withHooks(
      {
        scales: { x: { time: true, range: () => [from / 1000, to / 1000] } },
        series: [{}, { label: `page views per ${span(step)}`, stroke: "#0b5cad", fill: "#0b5cad99", paths: uPlot.paths.bars({ size: [0.9, 40], align: 1 }), points: { show: false } }],
        axes: [{}, { size: 60, values: (_, ticks) => ticks.map((v) => v.toLocaleString()) }],
        hooks: { drawClear: [shadeMarks(marks, from, to)] },
        plugins: [tip],
      },
      dragToZoom(zoom),
    );
    return [options, [starts.map((t) => t / 1000), views]];
  };
  return html`<${Plot} label="Page views" height=${160} make=${make} deps=${[series, from, to, marks]} />`;
}

/** What a new site shows until its first page view: the snippet first, and
 * word as soon as a page view arrives (the dashboard reads every 5 s). */
function WaitingForFirstView({ site }) {
  return html`
    <section class="waiting" aria-labelledby="waiting-heading" data-testid="waiting">
      <h2 id="waiting-heading"><span class="pulse" aria-hidden="true"></span> Waiting for the first page view…</h2>
      <p>Paste this into every page of ${(site.origins ?? []).join(", ") || "the site"}, before <code>${"</head>"}</code>.
        This dashboard fills in by itself as soon as a real visitor's browser sends its first beacon.</p>
      <pre><code>${site.snippet}</code></pre>
      <p><small>Headless browsers and robots are not counted; a page on an origin the site does not list is ignored (both are counted below when they happen).</small></p>
    </section>`;
}

function SeriesChart({ series, metric, label, from, to, marks, onDrawn, zoom }) {
  const make = () => {
    const points = series[0]?.points ?? [];
    const tip = tooltip((u, i) => [at(Date.parse(points[i].t) / 1000), `${label} ${measure(metric, points[i].value)}`, `${points[i].page_views.toLocaleString()} page views`]);
    const options = withHooks(
      {
        // The whole period, however few its points.
        scales: { x: { time: true, range: () => [from / 1000, to / 1000] } },
        series: [{}, { label, stroke: "#0b5cad", width: 2, spanGaps: true, points: { size: 6 } }],
        axes: [{}, { size: 70, values: (_, ticks) => ticks.map((v) => measure(metric, v)) }],
        hooks: { drawClear: [shadeMarks(marks, from, to)] },
        plugins: [tip],
      },
      dragToZoom(zoom),
    );
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
  // A site that never had a page view is read every 5 s, to say at once
  // when the first arrives.
  const [waiting, setWaiting] = useState(false);
  const { data, error, missing } = usePolled(
    async () => {
      const { from, to } = stateOf(search).range;
      const scope = new URLSearchParams({ from: String(Math.round(from)), to: String(Math.round(to)) });
      for (const [dimension, value] of state.filters) scope.set(dimension, value);
      const [site, watch, incidents, summary, series, ...breakdowns] = await Promise.all([
        get(`/sites/${id}`),
        get(`/sites/${id}/watch`).catch(() => null),
        get(`/incidents?since=${new Date(from - LOOKBACK_MS).toISOString()}`),
        get(`/sites/${id}/rum/summary?${scope}`),
        get(`/sites/${id}/rum/timeseries?${scope}&metric=${state.metric}&percentile=${state.percentile}`),
        ...DIMENSIONS.map((dimension) => get(`/sites/${id}/rum/breakdown?${scope}&dimension=${dimension}`)),
      ]);
      const marks = await siteMarks(incidents, Number(id), from, to);
      // Nothing in the period: has there been a page view at all (the
      // longest period the API answers for)?
      const never =
        summary.page_views === 0 &&
        (await get(`/sites/${id}/rum/summary?from=${Math.round(to - LONGEST_MS)}&to=${Math.round(to)}`).then(
          (all) => all.page_views === 0,
          () => false,
        ));
      return { site, watch, summary, series, breakdowns, marks, from, to, never };
    },
    waiting ? 5_000 : 30_000,
    [id, key, waiting],
  );
  useEffect(() => {
    if (data) setWaiting(data.never);
  }, [data]);
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
  const choose = (range) => navigate(`/sites/${id}?${queryOf({ ...state, range })}`);
  const zoom = (from, to) => choose({ key: "custom", from, to });
  const metricLabel = METRICS.find(([name]) => name === state.metric)?.[1] ?? state.metric;
  return html`
    <p><a href="/">← Overview</a></p>
    <h1>${site.name} ${canWrite && html`<a class="small" href=${`/sites/${id}/edit`}>Edit</a>`}</h1>
    ${watch && html`<p class="lead" data-testid="watch" title="What the outage detector expects from real users now">
      <span class=${`badge ${watch.armed ? "up" : "unknown"}`}>${watch.armed ? "armed" : "not armed"}</span> ${watch.summary}</p>`}
    ${data.never && html`<${WaitingForFirstView} site=${site} />`}
    ${!data.never && html`<details class="snippet">
      <summary>Snippet and allowed origins</summary>
      <p>Paste into every page, before <code>${"</head>"}</code>:</p>
      <pre><code>${site.snippet}</code></pre>
      <p>Allowed origins: ${(site.origins ?? []).join(", ") || "none yet"}</p>
    </details>`}
    <${RangePicker} range=${state.range} choose=${choose} />
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
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
            ${DIMENSION_WORDS[dimension] ?? words(dimension)}: ${valueWords(dimension, value)} ×
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
    <section aria-labelledby="views-heading">
      <h2 id="views-heading">Page views, ${state.range.label}</h2>
      <${PageViewsChart} series=${series.series} bucketSeconds=${series.bucket_seconds} from=${data.from} to=${data.to} marks=${data.marks} zoom=${zoom} />
      <p class="hint"><small>Drag across a chart to zoom into a span.</small></p>
    </section>
    <section aria-labelledby="series-heading">
      <h2 id="series-heading">${metricLabel} p${state.percentile} over time</h2>
      ${summary.page_views === 0 ? html`<p>No page views in this period.</p>` : html`<${SeriesChart} series=${series.series} metric=${state.metric} label=${`${metricLabel} p${state.percentile}`} from=${data.from} to=${data.to} marks=${data.marks} onDrawn=${complete} zoom=${zoom} />`}
      <h3>Incidents</h3>
      <${MarkList} marks=${data.marks} />
    </section>
    <section aria-labelledby="breakdowns-heading">
      <h2 id="breakdowns-heading">Breakdowns</h2>
      <div class="breakdowns">
        ${breakdowns.map((breakdown) => html`
          <table class="breakdown" data-dimension=${breakdown.dimension}>
            <caption>${DIMENSION_WORDS[breakdown.dimension] ?? words(breakdown.dimension)}</caption>
            <thead><tr><th scope="col">Value</th><th scope="col">Page views</th><th scope="col">LCP p75</th></tr></thead>
            <tbody>
              ${breakdown.rows.map((row) => html`
                <tr key=${row.value}>
                  <td><button type="button" class="link" onClick=${() => go({ filters: [...state.filters.filter(([d]) => d !== breakdown.dimension), [breakdown.dimension, row.value]] })}>${valueWords(breakdown.dimension, row.value)}</button></td>
                  <td>${row.page_views.toLocaleString()}</td>
                  <td class=${rating("lcp", row.metrics.lcp?.p75)}>${measure("lcp", row.metrics.lcp?.p75)}</td>
                </tr>`)}
            </tbody>
          </table>`)}
      </div>
    </section>`;
}
