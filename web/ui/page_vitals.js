// A page monitor's Core Web Vitals: the last run's, rated with the same
// thresholds as real users' (so that the two views compare), and each over
// time. Total blocking time is the lab stand-in for INP, which needs a
// real visitor's input.
import { html } from "./html.js";
import { Plot } from "./chart.js";
import { measure, rating } from "./vitals.js";
import { millis } from "./format.js";

/** [metric, label, colour, read from a result]: the vitals a browser check
 * measures, as the result's detail holds them. */
const SHOWN = [
  ["lcp", "LCP", "#0b5cad", (r) => r.detail?.metrics?.lcp],
  ["fcp", "FCP", "#1a7f37", (r) => r.detail?.metrics?.fcp],
  ["ttfb", "TTFB", "#8250df", (r) => r.detail?.metrics?.ttfb],
  ["tbt", "TBT", "#bf8700", (r) => r.detail?.total_blocking_time_ms],
  ["cls", "CLS", "#cf222e", (r) => r.detail?.metrics?.cls],
];

/** Whether any result holds a page's vitals. */
export function hasVitals(results) {
  return results.some((r) => r.detail?.metrics);
}

/** The vitals of the latest measured run as rated cards. */
export function VitalCards({ result }) {
  return html`
    <div class="cards" data-testid="page-vitals">
      ${SHOWN.map(([name, label, , read]) => {
        const value = read(result) ?? null;
        return html`
          <div class=${`card ${rating(name, value)}`} data-metric=${name}>
            <span>${label}</span>
            <strong>${measure(name, value)}</strong>
          </div>`;
      })}
    </div>`;
}

/** The vitals over time: the times on the left axis, CLS on the right. */
function VitalsChart({ results }) {
  const make = () => {
    const points = results
      .filter((r) => r.attempt === 0 && r.detail?.metrics)
      .sort((a, b) => Date.parse(a.started_at) - Date.parse(b.started_at));
    const times = points.map((r) => Date.parse(r.started_at) / 1000);
    const options = {
      series: [
        {},
        ...SHOWN.map(([name, label, colour]) => ({
          label,
          stroke: colour,
          scale: name === "cls" ? "cls" : "ms",
          value: (_, v) => measure(name, v),
        })),
      ],
      // CLS from 0 to at least past "poor" (0.25), so that 0 sits low.
      scales: { cls: { range: (_, __, max) => [0, Math.max(0.3, max ?? 0)] } },
      axes: [
        {},
        { scale: "ms", size: 70, values: (_, ticks) => ticks.map((v) => millis(v)) },
        { scale: "cls", side: 1, size: 50, grid: { show: false } },
      ],
    };
    return [options, [times, ...SHOWN.map(([, , , read]) => points.map((r) => read(r) ?? null))]];
  };
  return html`<${Plot} label="Core Web Vitals of each run" height=${240} make=${make} deps=${[results]} />`;
}

/** The section: the latest run's vitals and their history. */
export function PageVitals({ results }) {
  const latest = results.find((r) => r.detail?.metrics);
  return html`
    <section aria-labelledby="page-vitals-heading">
      <h2 id="page-vitals-heading">Core Web Vitals</h2>
      <p><small>The last run, rated as real users' are; TBT stands in for INP, which needs a visitor's input.</small></p>
      <${VitalCards} result=${latest} />
      <${VitalsChart} results=${results} />
    </section>`;
}
