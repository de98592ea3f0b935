// One time range for a screen's charts: presets from an hour to ninety
// days, or any custom span (typed, or dragged on a chart), kept in the
// address so that a link shows the same period.
import { html, useState } from "./html.js";
import { when } from "./format.js";

const HOUR = 3600e3;
const DAY = 24 * HOUR;
/** [key, words, length]. */
export const PRESETS = [
  ["1h", "1 hour", HOUR],
  ["6h", "6 hours", 6 * HOUR],
  ["24h", "24 hours", DAY],
  ["7d", "7 days", 7 * DAY],
  ["30d", "30 days", 30 * DAY],
  ["90d", "90 days", 90 * DAY],
];

/** A time as a `datetime-local` input holds it: the viewer's local time. */
function localInput(ms) {
  return new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

/**
 * The range the address asks for (`range=7d`, or `from` and `to` in Unix
 * ms), else `fallback`: `{ key, from, to, label }`, a preset ending now.
 */
export function readRange(search, fallback = "24h", now = Date.now()) {
  const params = new URLSearchParams(search);
  const from = Number(params.get("from"));
  const to = Number(params.get("to"));
  if (from > 0 && to > from) {
    return { key: "custom", from, to, label: `${when(new Date(from).toISOString())} – ${when(new Date(to).toISOString())}` };
  }
  const [key, label, length] = PRESETS.find(([k]) => k === params.get("range")) ?? PRESETS.find(([k]) => k === fallback);
  return { key, from: now - length, to: now, label: `last ${label}` };
}

/** The address's query with the range set (other settings kept). */
export function rangeQuery(search, range) {
  const params = new URLSearchParams(search);
  params.delete("range");
  params.delete("from");
  params.delete("to");
  if (range.key === "custom") {
    params.set("from", String(Math.round(range.from)));
    params.set("to", String(Math.round(range.to)));
  } else {
    params.set("range", range.key);
  }
  return `?${params}`;
}

/** The presets as buttons and a custom span; `choose(range)` applies one. */
export function RangePicker({ range, choose }) {
  const [custom, setCustom] = useState(null);
  const [problem, setProblem] = useState(null);
  const apply = (event) => {
    event.preventDefault();
    const from = new Date(custom.from).getTime();
    const to = new Date(custom.to).getTime();
    if (!(to > from)) {
      setProblem("The start must be before the end.");
      return;
    }
    setProblem(null);
    choose({ key: "custom", from, to });
    setCustom(null);
  };
  return html`
    <div class="range" role="group" aria-label="Time range" data-testid="range">
      ${PRESETS.map(([key, label]) => html`
        <button type="button" class="chip" aria-pressed=${range.key === key} onClick=${() => choose({ key })}>${label}</button>`)}
      <button type="button" class="chip" aria-pressed=${range.key === "custom"} aria-expanded=${custom != null}
        onClick=${() => setCustom(custom ? null : { from: localInput(range.from), to: localInput(range.to) })}>Custom…</button>
      <small class="range-label">${range.label}</small>
      ${custom && html`
        <form class="inline" onSubmit=${apply} aria-label="Custom range">
          <label for="range-from">From</label>
          <input id="range-from" type="datetime-local" value=${custom.from} onInput=${(e) => setCustom({ ...custom, from: e.target.value })} />
          <label for="range-to">to</label>
          <input id="range-to" type="datetime-local" value=${custom.to} onInput=${(e) => setCustom({ ...custom, to: e.target.value })} />
          <button type="submit">Show</button>
        </form>`}
      ${problem && html`<p class="error" role="alert">${problem}</p>`}
    </div>`;
}
