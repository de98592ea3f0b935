// Charts with uPlot (vendored, loaded once when a chart is first shown,
// from beside this module so that it comes from the same version of the UI).
import { html, useEffect, useRef } from "./html.js";
import { millis } from "./format.js";

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
      plot = new uPlot({ title: label, width: widthNow(), height, ...options }, data, box.current);
      resized.observe(box.current);
      onDrawn?.();
    });
    return () => {
      cancelled = true;
      resized.disconnect();
      if (plot) plot.destroy();
    };
  }, [label, height, ...deps]);
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
 * Response time over time with the timing breakdown stacked: one series
 * per phase the results have (a ping or a journey has none: its total is
 * drawn alone), each drawn on top of the ones below it, and the band
 * between a phase and the one below it filled in its colour. The legend
 * shows each phase's own time, not the stacked sum.
 */
export function TimingChart({ results, label }) {
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
    const options = {
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
          stroke: "#1b1f24",
          dash: phases.length ? [4, 4] : undefined,
          fill: phases.length ? undefined : "#1b1f2422",
          value: (_, v) => (v == null ? "" : `${v} ms`),
        },
      ],
      bands: phases.slice(1).map(([, , colour], i) => ({ series: [i + 2, i + 1], fill: `${colour}66` })),
      axes: [{}, { size: 70, values: (_, ticks) => ticks.map((v) => millis(v)) }],
    };
    return [options, [times, ...stacked, total]];
  };
  return html`<${Plot} label=${label} height=${260} make=${make} deps=${[results]} />`;
}
