// A monitor's latest response times as a small line, its failures as red
// dots on it: drawn as inline SVG, so that a thousand of them cost no
// chart library and no canvas.
import { html } from "./html.js";
import { millis } from "./format.js";

const WIDTH = 120;
const HEIGHT = 28;
const PAD = 3;

/** The line's points and the failures' dots for `results` (oldest first). */
export function sparkPoints(results, width = WIDTH, height = HEIGHT) {
  let top = 1;
  for (const r of results) top = Math.max(top, r.duration_ms);
  const step = results.length > 1 ? (width - 2 * PAD) / (results.length - 1) : 0;
  // To a tenth of a pixel; rounding by arithmetic, as a thousand lines of
  // thirty points each make toFixed show in the overview's drawing time.
  const tenth = (value) => Math.round(value * 10) / 10;
  return results.map((r, i) => ({
    x: tenth(PAD + i * step),
    y: tenth(height - PAD - (r.duration_ms / top) * (height - 2 * PAD)),
    outcome: r.outcome,
  }));
}

export function Sparkline({ results }) {
  if (!results || results.length === 0) return html`<span class="muted">no checks yet</span>`;
  const points = sparkPoints(results);
  const times = results.map((r) => r.duration_ms);
  const label = `response time of the last ${results.length} checks: ${millis(Math.min(...times))} to ${millis(Math.max(...times))}, last ${millis(times[times.length - 1])}`;
  return html`
    <svg class="sparkline" width=${WIDTH} height=${HEIGHT} viewBox=${`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label=${label}>
      <title>${label}</title>
      <polyline points=${points.map((p) => `${p.x},${p.y}`).join(" ")} />
      ${points.filter((p) => p.outcome !== "up").map((p) => html`<circle class=${p.outcome} cx=${p.x} cy=${p.y} r="2.5" />`)}
    </svg>`;
}
