// Core Web Vitals and the other page metrics: their names, units and
// Google's thresholds, so that a value can be rated and coloured.

/** [name, label, good up to, poor above, unit]. */
export const VITALS = [
  ["lcp", "LCP", 2500, 4000, "ms"],
  ["inp", "INP", 200, 500, "ms"],
  ["cls", "CLS", 0.1, 0.25, ""],
  ["fcp", "FCP", 1800, 3000, "ms"],
  ["ttfb", "TTFB", 800, 1800, "ms"],
];

/** Total blocking time, a lab metric (browser checks), with Lighthouse's
 * thresholds: not among the field vitals real users report. */
const LAB = [["tbt", "TBT", 200, 600, "ms"]];

/** `good`, `needs-improvement` or `poor` for a metric's value. */
export function rating(metric, value) {
  const vital = [...VITALS, ...LAB].find(([name]) => name === metric);
  if (!vital || value == null) return "none";
  const [, , good, poor] = vital;
  return value <= good ? "good" : value <= poor ? "needs-improvement" : "poor";
}

/** A metric's value with its unit. */
export function measure(metric, value) {
  if (value == null) return "–";
  if (metric === "cls") return value.toFixed(2);
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`;
}
