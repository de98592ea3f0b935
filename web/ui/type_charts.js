// What a monitor of each type measures besides its time, over the chosen
// period, from its raw results: days left on a TLS certificate, packets a
// ping lost with its round trips, each step of a journey or an API check,
// and the answers a DNS lookup gave.
import { html } from "./html.js";
import { Plot, at, dragToZoom, tooltip, withHooks } from "./chart.js";
import { millis, when } from "./format.js";

/** Colours for the lines of several steps, in turn. */
const LINES = ["#0b5cad", "#bf8700", "#1a7f37", "#8250df", "#cf222e", "#0a7f8f", "#953800", "#6e7781"];

/** Scheduled runs with a detail, oldest first. */
function runs(results, has) {
  return results
    .filter((r) => r.attempt === 0 && r.detail && has(r.detail))
    .sort((a, b) => Date.parse(a.started_at) - Date.parse(b.started_at));
}

/** A line chart of `lines` ([label, colour, value(result), unit]) over the runs. */
function RunsChart({ label, points, lines, from, to, zoom, format, height = 200 }) {
  const make = () => {
    const times = points.map((r) => Date.parse(r.started_at) / 1000);
    const tip = tooltip((u, i) => [at(times[i]), ...lines.map(([name, , value]) => `${name}: ${format(value(points[i]))}`)]);
    const options = withHooks(
      {
        scales: { x: { time: true, range: () => [from / 1000, to / 1000] } },
        series: [{}, ...lines.map(([name, colour]) => ({ label: name, stroke: colour, width: 2, spanGaps: true, points: { size: 5 }, value: (_, v) => format(v) }))],
        axes: [{}, { size: 70, values: (_, ticks) => ticks.map(format) }],
        plugins: [tip],
      },
      dragToZoom(zoom),
    );
    return [options, [times, ...lines.map(([, , value]) => points.map(value))]];
  };
  return html`<${Plot} label=${label} height=${height} make=${make} deps=${[points, from, to]} />`;
}

const days = (v) => (v == null ? "" : `${Math.round(v)} d`);
const pct = (v) => (v == null ? "" : `${Math.round(v)} %`);
const ms = (v) => (v == null ? "" : millis(v));

/** TLS: the days left before the certificate expires, check by check. */
function TlsDays({ results, range, zoom }) {
  const points = runs(results, (d) => d.days_left != null);
  if (points.length === 0) return null;
  const last = points[points.length - 1].detail;
  return html`
    <section aria-labelledby="tls-heading" data-testid="type-chart">
      <h2 id="tls-heading">Certificate: ${last.days_left} days left</h2>
      <p class="lead">${last.expires_at && html`<span>expires ${when(last.expires_at)}</span>`}${last.issuer && html`<span>issued by ${last.issuer}</span>`}</p>
      <${RunsChart} label=${`Days left before the certificate expires, ${range.label}`} points=${points}
        lines=${[["days left", LINES[0], (r) => r.detail.days_left]]} from=${range.from} to=${range.to} zoom=${zoom} format=${days} />
    </section>`;
}

/** Ping: packets lost and the round trips, check by check. */
function PingLoss({ results, range, zoom }) {
  const points = runs(results, (d) => d.loss_percent != null);
  if (points.length === 0) return null;
  const lost = points.filter((r) => r.detail.loss_percent > 0).length;
  return html`
    <section aria-labelledby="ping-heading" data-testid="type-chart">
      <h2 id="ping-heading">Round trips and loss</h2>
      <p class="lead"><span>${lost} of ${points.length} checks lost packets</span></p>
      <${RunsChart} label=${`Round trip, ${range.label}`} points=${points}
        lines=${[["min", LINES[2], (r) => r.detail.rtt_min_ms], ["average", LINES[0], (r) => r.detail.rtt_avg_ms], ["max", LINES[1], (r) => r.detail.rtt_max_ms]]}
        from=${range.from} to=${range.to} zoom=${zoom} format=${ms} />
      <${RunsChart} label=${`Packets lost, ${range.label}`} points=${points} height=${140}
        lines=${[["lost", LINES[4], (r) => r.detail.loss_percent]]} from=${range.from} to=${range.to} zoom=${zoom} format=${pct} />
    </section>`;
}

/** Journeys and API checks: each step's time, check by check. */
function StepTimes({ results, range, zoom }) {
  const points = runs(results, (d) => Array.isArray(d.steps) && d.steps.length > 0);
  if (points.length === 0) return null;
  const names = [];
  for (const r of points) {
    r.detail.steps.forEach((step, i) => {
      const name = step.name ?? step.description ?? `step ${i + 1}`;
      if (!names.includes(name)) names.push(name);
    });
  }
  const timeOf = (name) => (r) => {
    const step = r.detail.steps.find((s, i) => (s.name ?? s.description ?? `step ${i + 1}`) === name);
    return step?.duration_ms ?? null;
  };
  return html`
    <section aria-labelledby="steps-time-heading" data-testid="type-chart">
      <h2 id="steps-time-heading">Each step's time</h2>
      <${RunsChart} label=${`Time of each step, ${range.label}`} points=${points} height=${240}
        lines=${names.slice(0, LINES.length).map((name, i) => [name, LINES[i], timeOf(name)])}
        from=${range.from} to=${range.to} zoom=${zoom} format=${ms} />
    </section>`;
}

/** DNS: the answers of the last lookup, and each different set the period saw. */
function DnsAnswers({ results }) {
  const points = runs(results, (d) => Array.isArray(d.answers));
  if (points.length === 0) return null;
  const sets = [];
  for (const r of points) {
    const key = [...r.detail.answers].sort().join(", ");
    const known = sets.find((s) => s.key === key);
    if (known) known.last = r.started_at;
    else sets.push({ key, first: r.started_at, last: r.started_at });
  }
  return html`
    <section aria-labelledby="dns-heading" data-testid="type-chart">
      <h2 id="dns-heading">Answers</h2>
      <ul class="answer-sets">
        ${sets.reverse().map((s) => html`<li key=${s.key}><code>${s.key || "no answer"}</code> <small>${when(s.first)} – ${when(s.last)}</small></li>`)}
      </ul>
    </section>`;
}

const BY_TYPE = { tls: TlsDays, ping: PingLoss, transaction: StepTimes, api: StepTimes, dns: DnsAnswers };

/** The view of what a monitor's type measures, where it has one. */
export function TypeCharts({ monitor, results, range, zoom }) {
  const View = BY_TYPE[monitor.type];
  return View ? html`<${View} results=${results} range=${range} zoom=${zoom} />` : null;
}
