// Incidents on a time axis: the spans during which a monitor was down, a
// site's real-user traffic went silent or its pages turned slow, shaded on
// a chart in one colour per kind, with a legend that lists them.
import { html } from "./html.js";
import { when, words } from "./format.js";

/** The colour each kind of incident is shaded in. */
const COLOURS = {
  monitor_down: "rgba(207, 34, 46, 0.16)",
  rum_silent: "rgba(102, 57, 186, 0.16)",
  rum_performance: "rgba(191, 135, 0, 0.18)",
  checkpoint_offline: "rgba(87, 96, 106, 0.16)",
};

/** How far back incidents are read: one opened before a period can last into it. */
export const LOOKBACK_MS = 7 * 86400e3;

/**
 * The incidents of the given monitors and sites that overlap `[from, to]`,
 * as marks (`from`, `to` in ms; `to` null while open).
 */
export function incidentMarks(incidents, { monitorIds = [], siteIds = [] }, from, to) {
  return incidents
    .filter((i) => monitorIds.includes(i.monitor_id) || siteIds.includes(i.site_id))
    .map((i) => ({
      id: i.id,
      from: Date.parse(i.opened_at),
      to: i.closed_at ? Date.parse(i.closed_at) : null,
      kind: i.kind,
      cause: i.cause,
    }))
    .filter((mark) => mark.from <= to && (mark.to ?? to) >= from);
}

/** A uPlot `drawClear` hook that shades each mark's span behind the series. */
export function shadeMarks(marks, from, to) {
  return (u) => {
    const { ctx, bbox } = u;
    ctx.save();
    for (const mark of marks) {
      ctx.fillStyle = COLOURS[mark.kind] ?? COLOURS.monitor_down;
      const left = u.valToPos(Math.max(mark.from, from) / 1000, "x", true);
      const right = u.valToPos(Math.min(mark.to ?? to, to) / 1000, "x", true);
      ctx.fillRect(left, bbox.top, Math.max(2, right - left), bbox.height);
    }
    ctx.restore();
  };
}

/** The marks as a list, each with its colour, kind, cause and times. */
export function MarkList({ marks }) {
  if (marks.length === 0) return html`<p>No incident in this period.</p>`;
  return html`
    <ul class="incidents marks" data-testid="marks">
      ${marks.map((mark) => html`
        <li key=${mark.id} data-kind=${mark.kind}>
          <i class="swatch" style=${`background:${COLOURS[mark.kind] ?? COLOURS.monitor_down}`}></i>
          <strong>${words(mark.kind)}</strong>: ${mark.cause}
          <small> ${when(new Date(mark.from).toISOString())} – ${mark.to ? when(new Date(mark.to).toISOString()) : "still open"} · <a href=${`/incidents/${mark.id}`}>details</a></small>
        </li>`)}
    </ul>`;
}
