// The comparison view: one page as the synthetic checks see it and as real
// users do, on one chart, over the same period and metric. A page monitor
// (`browser`) is matched to its RUM site by origin and to the site's page
// by path; incidents of either are marked on the same time axis.
import { html, useEffect, useState } from "./html.js";
import { get } from "./api.js";
import { Plot } from "./chart.js";
import { measure } from "./vitals.js";
import { LOOKBACK_MS, MarkList, incidentMarks, shadeMarks } from "./incident_marks.js";

const METRICS = [["lcp", "LCP"], ["fcp", "FCP"], ["ttfb", "TTFB"], ["load", "load"]];
const PERIODS = [["1h", "1 hour", 3600e3], ["24h", "24 hours", 86400e3], ["7d", "7 days", 7 * 86400e3], ["30d", "30 days", 30 * 86400e3]];
const PERCENTILES = [50, 75, 95];

/** Page monitors with the site and page their URL falls on. */
function pairs(monitors, sites) {
  const found = [];
  for (const monitor of monitors.filter((m) => m.type === "browser")) {
    let url;
    try {
      url = new URL(monitor.url);
    } catch {
      continue;
    }
    const site = sites.find((s) => (s.origins ?? []).some((origin) => origin.replace(/\/$/, "") === url.origin));
    if (site) found.push({ monitor, site, page: url.pathname });
  }
  return found;
}

function ComparisonChart({ synthetic, real, incidents, from, to, label }) {
  const make = () => {
    // One x axis for both: every synthetic run and every RUM bucket.
    const times = [...new Set([...synthetic.map((p) => p.t), ...real.flatMap((r) => r.points.map((p) => p.t))])].sort((a, b) => a - b);
    const at = (points) => {
      const byTime = new Map(points.map((p) => [p.t, p.value]));
      return times.map((t) => byTime.get(t) ?? null);
    };
    const colours = ["#8c959f", "#0b5cad", "#6639ba"];
    const options = {
      scales: { x: { time: true, range: () => [from / 1000, to / 1000] } },
      series: [
        {},
        { label: "synthetic", stroke: "#bf3989", width: 0, points: { show: true, size: 8, fill: "#bf3989" } },
        ...real.map((r, i) => ({ label: `real users p${r.percentile}`, stroke: colours[i], width: 2, spanGaps: true, points: { show: true, size: 6 } })),
      ],
      axes: [{}, { size: 70 }],
      hooks: { drawClear: [shadeMarks(incidents, from, to)] },
    };
    return [options, [times.map((t) => t / 1000), at(synthetic), ...real.map((r) => at(r.points))]];
  };
  return html`<${Plot} label=${label} height=${300} make=${make} deps=${[synthetic, real, incidents, from, to]} />`;
}

export function Compare({ search, navigate }) {
  const query = new URLSearchParams(search);
  const monitorId = Number(query.get("monitor")) || null;
  const metric = METRICS.some(([m]) => m === query.get("metric")) ? query.get("metric") : "lcp";
  const period = PERIODS.find(([p]) => p === query.get("period")) ?? PERIODS.find(([p]) => p === "24h");
  const [choices, setChoices] = useState(null);
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const go = (changes) => {
    const next = new URLSearchParams({ monitor: String(monitorId ?? ""), metric, period: period[0], ...changes });
    navigate(`/compare?${next}`);
  };
  useEffect(() => {
    Promise.all([get("/monitors"), get("/sites")]).then(
      ([monitors, sites]) => setChoices(pairs(monitors, sites)),
      (failure) => setError(failure.message),
    );
  }, []);
  const chosen = choices?.find((pair) => pair.monitor.id === monitorId) ?? choices?.[0];
  useEffect(() => {
    if (!chosen) return;
    let stopped = false;
    const to = Date.now();
    const from = to - period[2];
    const scope = `from=${from}&to=${to}&page=${encodeURIComponent(chosen.page)}`;
    Promise.all([
      get(`/monitors/${chosen.monitor.id}/results?from=${from}&to=${to}&limit=1000`),
      ...PERCENTILES.map((p) => get(`/sites/${chosen.site.id}/rum/timeseries?${scope}&metric=${metric}&percentile=${p}`)),
      get(`/sites/${chosen.site.id}/rum/breakdown?${scope}&dimension=country`),
      get(`/sites/${chosen.site.id}/rum/breakdown?${scope}&dimension=device`),
      get(`/incidents?since=${new Date(from - LOOKBACK_MS).toISOString()}`),
    ]).then(
      ([results, ...rest]) => {
        if (stopped) return;
        const series = rest.slice(0, PERCENTILES.length);
        const [countries, devices, incidents] = rest.slice(PERCENTILES.length);
        const synthetic = results
          .filter((r) => r.detail?.metrics?.[metric] != null)
          .map((r) => ({ t: Date.parse(r.started_at), value: r.detail.metrics[metric], checkpoint: r.checkpoint }));
        const real = series.map((s, i) => ({
          percentile: PERCENTILES[i],
          points: (s.series[0]?.points ?? []).filter((p) => p.value != null).map((p) => ({ t: Date.parse(p.t), value: p.value })),
        }));
        const marks = incidentMarks(incidents, { monitorIds: [chosen.monitor.id], siteIds: [chosen.site.id] }, from, to);
        setData({ synthetic, real, countries, devices, marks, from, to });
        setError(null);
      },
      (failure) => !stopped && setError(failure.message),
    );
    return () => {
      stopped = true;
    };
  }, [chosen?.monitor.id, metric, period[0]]);
  if (!choices) return html`<p class=${error ? "error" : "loading"}>${error ?? "Loading…"}</p>`;
  if (choices.length === 0) {
    return html`<h1>Synthetic and real users</h1>
      <p>No page to compare yet: a page monitor (type <code>browser</code>) whose URL is on a RUM site's origin appears here.</p>`;
  }
  const label = `${METRICS.find(([m]) => m === metric)[1]} of ${chosen.page}`;
  const byCheckpoint = {};
  for (const point of data?.synthetic ?? []) (byCheckpoint[point.checkpoint] ??= []).push(point.value);
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  return html`
    <h1>Synthetic and real users</h1>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <label>Page
        <select value=${String(chosen.monitor.id)} onChange=${(e) => go({ monitor: e.target.value })}>
          ${choices.map((pair) => html`<option value=${String(pair.monitor.id)}>${pair.site.name} ${pair.page} (${pair.monitor.name})</option>`)}
        </select>
      </label>
      <label>Metric
        <select value=${metric} onChange=${(e) => go({ metric: e.target.value })}>
          ${METRICS.map(([value, name]) => html`<option value=${value}>${name}</option>`)}
        </select>
      </label>
      <label>Period
        <select value=${period[0]} onChange=${(e) => go({ period: e.target.value })}>
          ${PERIODS.map(([value, name]) => html`<option value=${value}>${name}</option>`)}
        </select>
      </label>
    </form>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${data && html`
      <${ComparisonChart} synthetic=${data.synthetic} real=${data.real} incidents=${data.marks} from=${data.from} to=${data.to} label=${label} />
      <div class="beside">
        <section aria-labelledby="synthetic-heading" data-testid="synthetic">
          <h2 id="synthetic-heading">Synthetic runs</h2>
          ${data.synthetic.length === 0 ? html`<p>No runs in this period.</p>` : html`
            <table><thead><tr><th scope="col">Checkpoint</th><th scope="col">Runs</th><th scope="col">Median</th></tr></thead>
              <tbody>${Object.entries(byCheckpoint).map(([checkpoint, values]) => html`
                <tr><td>${checkpoint}</td><td>${values.length}</td><td>${measure(metric, median(values))}</td></tr>`)}
              </tbody></table>`}
        </section>
        <section aria-labelledby="real-heading" data-testid="real">
          <h2 id="real-heading">Real users</h2>
          ${data.real[0].points.length === 0 ? html`<p>No page views in this period.</p>` : html`
            <p>${data.real.map((r) => html`<span class="stat">p${r.percentile} ${measure(metric, r.points[r.points.length - 1].value)}</span> `)}</p>
            ${[["country", data.countries], ["device", data.devices]].map(([name, breakdown]) => html`
              <table class="breakdown"><caption>${name}</caption>
                <thead><tr><th scope="col">Value</th><th scope="col">Page views</th></tr></thead>
                <tbody>${breakdown.rows.map((row) => html`<tr><td>${row.value}</td><td>${row.page_views}</td></tr>`)}</tbody>
              </table>`)}`}
        </section>
        <section aria-labelledby="marks-heading">
          <h2 id="marks-heading">Incidents</h2>
          <${MarkList} marks=${data.marks} />
        </section>
      </div>`}`;
}
