// Charts with uPlot (vendored, loaded once when a chart is first shown,
// from beside this module so that it comes from the same version of the UI).
import { html, useEffect, useRef, useState } from "./html.js";
import { THEME_CHANGED, cssColour } from "./theme.js";
import { millis, span, when } from "./format.js";

let loading = null;

/** uPlot's constructor, loading its script and style the first time. */
function loadUPlot() {
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const style = document.createElement("link");
      style.rel = "stylesheet";
      style.href = new URL("./vendor/uPlot.min.css", import.meta.url).href;
      document.head.append(style);
      const script = document.createElement("script");
      script.src = new URL("./vendor/uPlot.iife.min.js", import.meta.url).href;
      script.onload = () => resolve(window.uPlot);
      script.onerror = () => reject(new Error("the chart library did not load"));
      document.head.append(script);
    });
  }
  return loading;
}

/**
 * A uPlot chart as wide as its container (following it when it changes),
 * drawn once the library is in and again when `deps` change. `make(uPlot)` gives its options (without
 * title and size) and data; `onDrawn` is told once it is drawn.
 */
export function Plot({ label, height, make, deps, onDrawn }) {
  const box = useRef(null);
  // Redrawn in the new colours when the theme changes.
  const [theme, setTheme] = useState(0);
  useEffect(() => {
    const changed = () => setTheme((n) => n + 1);
    const system = window.matchMedia("(prefers-color-scheme: dark)");
    window.addEventListener(THEME_CHANGED, changed);
    system.addEventListener("change", changed);
    return () => {
      window.removeEventListener(THEME_CHANGED, changed);
      system.removeEventListener("change", changed);
    };
  }, []);
  useEffect(() => {
    let plot = null;
    let cancelled = false;
    const widthNow = () => Math.max(300, box.current?.clientWidth ?? 0);
    // Follows its box when the window is resized or a phone turned.
    const resized = new ResizeObserver(() => {
      if (plot && widthNow() !== plot.width) plot.setSize({ width: widthNow(), height });
    });
    loadUPlot().then((uPlot) => {
      if (cancelled || !box.current) return;
      const [options, data] = make(uPlot);
      // Axes, grid and text in the page's own colours.
      const [ink, line] = [cssColour("--ink"), cssColour("--line")];
      const axes = (options.axes ?? [{}, {}]).map((axis) => ({
        stroke: ink,
        grid: { stroke: line, width: 1 },
        ticks: { stroke: line, width: 1 },
        ...axis,
      }));
      const series = options.series?.map((one) => (one.stroke === "ink" ? { ...one, stroke: ink, fill: one.fill === "ink" ? cssColour("--ink", 0.13) : one.fill } : one));
      plot = new uPlot({ title: label, width: widthNow(), height, ...options, axes, series }, data, box.current);
      resized.observe(box.current);
      onDrawn?.();
    });
    return () => {
      cancelled = true;
      resized.disconnect();
      if (plot) plot.destroy();
    };
  }, [label, height, theme, ...deps]);
  return html`<div class="chart" ref=${box} role="img" aria-label=${label}></div>`;
}

/** The colours of the timing phases, stacked bottom up. */
export const PHASES = [
  ["dns_ms", "DNS", "#8250df"],
  ["connect_ms", "connect", "#0b5cad"],
  ["tls_ms", "TLS", "#1a7f37"],
  ["first_byte_ms", "first byte", "#bf8700"],
  ["download_ms", "download", "#cf222e"],
];

/**
 * A uPlot plugin that shows the values under the cursor in a box beside
 * it (the legend stays for the keyboard and screen readers): `lines(u, i)`
 * gives the box's lines for data index `i`.
 */
export function tooltip(lines) {
  let box = null;
  return {
    hooks: {
      init: (u) => {
        box = document.createElement("div");
        box.className = "chart-tip";
        box.setAttribute("aria-hidden", "true");
        u.over.append(box);
      },
      setCursor: (u) => {
        const { left, top, idx } = u.cursor;
        if (idx == null || left == null || left < 0) {
          box.style.display = "none";
          return;
        }
        box.replaceChildren(...lines(u, idx).map((text) => Object.assign(document.createElement("div"), { textContent: text })));
        box.style.display = "block";
        // Beside the cursor, on whichever side has room.
        const room = u.over.clientWidth - left;
        box.style.left = `${room < box.offsetWidth + 24 ? left - box.offsetWidth - 12 : left + 12}px`;
        box.style.top = `${Math.max(0, top - box.offsetHeight / 2)}px`;
      },
    },
  };
}

/** uPlot options for dragging across a chart to zoom into that span:
 * `zoom(fromMs, toMs)` is told the span. */
export function dragToZoom(zoom) {
  return {
    cursor: { drag: { x: true, y: false, setScale: false } },
    hooks: {
      setSelect: [
        (u) => {
          if (!zoom || u.select.width < 4) return;
          const from = u.posToVal(u.select.left, "x") * 1000;
          const to = u.posToVal(u.select.left + u.select.width, "x") * 1000;
          u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
          zoom(from, to);
        },
      ],
    },
  };
}

/** Merges uPlot option objects, concatenating their hooks. */
export function withHooks(...parts) {
  const merged = Object.assign({}, ...parts);
  merged.hooks = {};
  for (const part of parts) {
    for (const [name, list] of Object.entries(part.hooks ?? {})) {
      merged.hooks[name] = [...(merged.hooks[name] ?? []), ...list];
    }
  }
  return merged;
}

/** A time as a tooltip's first line. */
export const at = (seconds) => when(new Date(seconds * 1000).toISOString());

/**
 * Response time over time with the timing breakdown stacked: one series
 * per phase the results have (a ping or a journey has none: its total is
 * drawn alone), each drawn on top of the ones below it, and the band
 * between a phase and the one below it filled in its colour. The legend
 * shows each phase's own time, not the stacked sum. The x axis spans
 * `[from, to]` however few the results; `shade` (a drawClear hook) marks
 * incidents, `zoom` is told a span dragged across.
 */
export function TimingChart({ results, label, from, to, shade, zoom }) {
  const make = () => {
    const points = [...results]
      .filter((r) => r.attempt === 0)
      .sort((a, b) => Date.parse(a.started_at) - Date.parse(b.started_at));
    const phases = PHASES.filter(([key]) => points.some((r) => r.timings?.[key] > 0));
    const times = points.map((r) => Date.parse(r.started_at) / 1000);
    const stacked = [];
    let below = points.map(() => 0);
    for (const [key] of phases) {
      const top = points.map((r, i) => below[i] + (r.timings?.[key] ?? 0));
      stacked.push(top);
      below = top;
    }
    const total = points.map((r) => r.duration_ms);
    const own = (key) => (_, v, _series, index) => {
      const phase = index == null ? null : points[index]?.timings?.[key];
      return phase == null ? "" : `${Math.round(phase)} ms`;
    };
    const tip = tooltip((u, i) => [
      at(times[i]),
      `${points[i].outcome} · total ${millis(total[i])}`,
      ...phases.filter(([key]) => points[i].timings?.[key] != null).map(([key, name]) => `${name} ${millis(points[i].timings[key])}`),
    ]);
    const options = withHooks(
      {
        scales: from != null ? { x: { time: true, range: () => [from / 1000, to / 1000] } } : {},
        series: [
          {},
          ...phases.map(([key, name, colour], i) => ({
            label: name,
            stroke: colour,
            // The lowest phase fills down to zero; the others are bands.
            fill: i === 0 ? `${colour}66` : undefined,
            value: own(key),
          })),
          {
            label: "total",
            stroke: "ink",
            dash: phases.length ? [4, 4] : undefined,
            fill: phases.length ? undefined : "ink",
            value: (_, v) => (v == null ? "" : `${v} ms`),
            points: { size: 5 },
          },
        ],
        bands: phases.slice(1).map(([, , colour], i) => ({ series: [i + 2, i + 1], fill: `${colour}66` })),
        axes: [{}, { size: 70, values: (_, ticks) => ticks.map((v) => millis(v)) }],
        hooks: shade ? { drawClear: [shade] } : {},
        plugins: [tip],
      },
      dragToZoom(zoom),
    );
    return [options, [times, ...stacked, total]];
  };
  return html`<${Plot} label=${label} height=${260} make=${make} deps=${[results, from, to, shade]} />`;
}

/**
 * Response time over a long period from a series' buckets: the median and
 * the 95th percentile of each bucket, with the same shading and zoom.
 */
export function SeriesTimingChart({ series, label, from, to, shade, zoom }) {
  const make = () => {
    const buckets = series.buckets;
    const times = buckets.map((b) => (b.start_ms + series.step_ms / 2) / 1000);
    const p50 = buckets.map((b) => b.p50_ms);
    const p95 = buckets.map((b) => b.p95_ms);
    const tip = tooltip((u, i) => [
      at(buckets[i].start_ms / 1000),
      buckets[i].checks ? `${buckets[i].checks} checks, ${buckets[i].confirmed_errors} confirmed errors` : "no checks",
      buckets[i].p50_ms != null ? `median ${millis(buckets[i].p50_ms)} · p95 ${millis(buckets[i].p95_ms)}` : "",
    ]);
    const options = withHooks(
      {
        scales: { x: { time: true, range: () => [from / 1000, to / 1000] } },
        series: [
          {},
          { label: "median", stroke: "#0b5cad", width: 2, spanGaps: false, value: (_, v) => (v == null ? "" : millis(v)) },
          { label: "p95", stroke: "#bf8700", dash: [4, 4], spanGaps: false, value: (_, v) => (v == null ? "" : millis(v)) },
        ],
        axes: [{}, { size: 70, values: (_, ticks) => ticks.map((v) => millis(v)) }],
        hooks: shade ? { drawClear: [shade] } : {},
        plugins: [tip],
      },
      dragToZoom(zoom),
    );
    return [options, [times, p50, p95]];
  };
  return html`<${Plot} label=${label} height=${260} make=${make} deps=${[series, from, to, shade]} />`;
}

/** The state of a series' bucket: down, degraded, up, or no checks. */
export function bucketState(bucket) {
  if (bucket.downtime_ms > 0 || bucket.confirmed_errors > 0) return "down";
  if (bucket.degraded > 0) return "degraded";
  return bucket.checks > 0 ? "up" : "none";
}

const BAND_COLOURS = { down: "var(--down-bar)", degraded: "var(--degraded-bar)", up: "var(--up-bar)", none: "transparent" };

/**
 * A band under a chart, one cell per bucket of the series, coloured by
 * what the monitor was in it (down, degraded, up, in maintenance when a
 * window covered it, or no checks), with the words for the cell under the
 * pointer.
 */
export function StatusBand({ series }) {
  const buckets = series.buckets;
  if (buckets.length === 0) return null;
  // The server lists the spans of the windows covering the monitor; a
  // failure within one still shows, the rest of the bucket is maintenance.
  const maintenance = series.maintenance ?? [];
  const inMaintenance = (b) => maintenance.some((m) => m.start_ms < b.start_ms + series.step_ms && m.end_ms > b.start_ms);
  const states = buckets.map((b) => {
    const state = bucketState(b);
    return (state === "none" || state === "up") && inMaintenance(b) ? "maintenance" : state;
  });
  const width = 100 / buckets.length;
  const stops = states.flatMap((state, i) => {
    const colour = state === "maintenance" ? "var(--maintenance-bar)" : BAND_COLOURS[state];
    return [`${colour} ${i * width}%`, `${colour} ${(i + 1) * width}%`];
  });
  const counts = {};
  for (const state of states) counts[state] = (counts[state] ?? 0) + 1;
  const summary = `status in ${buckets.length} spans of ${span(series.step_ms)}: ${Object.entries(counts).map(([state, n]) => `${n} ${state === "none" ? "without checks" : state}`).join(", ")}`;
  const point = (event) => {
    const box = event.currentTarget.getBoundingClientRect();
    const i = Math.min(buckets.length - 1, Math.floor(((event.clientX - box.left) / box.width) * buckets.length));
    const b = buckets[i];
    event.currentTarget.title = `${when(new Date(b.start_ms).toISOString())}: ${states[i] === "none" ? "no checks" : states[i]}${b.checks ? ` · ${b.checks} checks` : ""}${b.downtime_ms ? ` · down ${millis(b.downtime_ms)}` : ""}`;
  };
  return html`
    <div class="status-band" role="img" aria-label=${summary} data-testid="status-band" data-states=${states.map((s) => s[0]).join("")}
      style=${`background-image:linear-gradient(to right, ${stops.join(", ")})`} onMouseMove=${point}></div>
    <p class="legend band-legend">${[["up", "var(--up-bar)"], ["degraded", "var(--degraded-bar)"], ["down", "var(--down-bar)"], ["maintenance", "var(--maintenance-bar)"], ["no checks", "var(--wash)"]].map(([name, colour]) => html`<span><i style=${`background:${colour}`}></i> ${name}</span> `)}</p>`;
}
