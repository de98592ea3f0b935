// A monitor's latest results as a row of small bars, one per check,
// coloured by outcome (Uptime Kuma's heartbeat bar): drawn as one element
// with a gradient, so that a thousand rows of thirty bars cost a thousand
// elements, not thirty thousand. Pointing at a bar names its check;
// clicking opens it.
import { html } from "./html.js";
import { ago, millis } from "./format.js";

/** How many bars a row has room for; fewer results leave the left empty. */
const BARS = 30;

const COLOURS = { up: "var(--up-bar)", degraded: "var(--degraded-bar)", error: "var(--down-bar)" };

/** The gradient that draws `shown` (at most `BARS`, oldest first) as
 * bars, right-aligned. */
function beatsGradient(shown) {
  const width = 100 / BARS;
  const offset = BARS - shown.length;
  const stops = [];
  shown.forEach((r, i) => {
    const left = (offset + i) * width;
    const colour = COLOURS[r.outcome] ?? "var(--quiet-bar)";
    // A gap of a quarter of a bar after each.
    stops.push(`transparent ${left}%`, `${colour} ${left}%`, `${colour} ${left + width * 0.72}%`, `transparent ${left + width * 0.72}%`);
  });
  return stops.length ? `linear-gradient(to right, ${stops.join(", ")})` : "none";
}

/** Of `shown`, the result under a horizontal position (0 to 1 across the
 * bar), if any. */
function resultAt(shown, share) {
  const index = Math.floor(share * BARS) - (BARS - shown.length);
  return index >= 0 && index < shown.length ? shown[index] : null;
}

/** The bars of a monitor's latest results; `open(result)` opens one. */
export function Heartbeat({ results, name, open }) {
  const shown = (results ?? []).filter((r) => r.attempt === 0).slice(-BARS);
  if (shown.length === 0) return html`<span class="muted">no checks yet</span>`;
  const counts = { up: 0, degraded: 0, error: 0 };
  for (const r of shown) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
  const summary = `last ${shown.length} checks of ${name}: ${counts.up} up${counts.degraded ? `, ${counts.degraded} degraded` : ""}${counts.error ? `, ${counts.error} failed` : ""}`;
  const share = (event) => {
    const box = event.currentTarget.getBoundingClientRect();
    return (event.clientX - box.left) / box.width;
  };
  const point = (event) => {
    const r = resultAt(shown, share(event));
    event.currentTarget.title = r ? `${r.outcome} · ${millis(r.duration_ms)} · ${ago(r.started_at)}${r.error ? ` · ${r.error}` : ""}` : summary;
  };
  const click = (event) => {
    const r = resultAt(shown, share(event));
    if (r) open(r);
  };
  return html`<span class="heartbeat" role="img" aria-label=${summary} style=${`background-image:${beatsGradient(shown)}`}
    onMouseMove=${point} onClick=${click} data-beats=${shown.map((r) => r.outcome[0]).join("")}></span>`;
}
