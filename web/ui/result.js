// One result, opened: everything a check found, to answer "why is it
// down?" — the problem, each condition with what was expected and found,
// the timing phases, the response's headers and body, the certificates,
// DNS answers, a page's vitals, requests and screenshots, an API check's
// requests one by one.
import { html, useEffect } from "./html.js";
import { usePolled } from "./polling.js";
import { get } from "./api.js";
import { bytes, millis, when, words } from "./format.js";
import { PHASES } from "./chart.js";
import { Waterfall } from "./waterfall.js";
import { VitalCards } from "./page_vitals.js";
import { StepResults, stepState } from "./step_results.js";
import { ScrollBox } from "./scroll_box.js";
import { markComplete } from "./complete.js";
import { NotFound } from "./not_found.js";

/** The badge class of an outcome. */
const badge = (outcome) => (outcome === "error" ? "down" : outcome);

/** Where the time went, as one bar of phases and their figures. */
export function Phases({ timings, total }) {
  const phases = PHASES.filter(([key]) => timings?.[key] != null);
  if (phases.length === 0) return null;
  const measured = phases.reduce((all, [key]) => all + timings[key], 0);
  // What the phases leave of the whole (queueing, the client's own work).
  const rest = Math.max(0, (total ?? 0) - measured);
  return html`
    <div class="phases" data-testid="phases">
      <div class="phase-bar" aria-hidden="true">
        ${phases.map(([key, , colour]) => html`<i style=${`flex:${timings[key]} 0 0;background:${colour}`}></i>`)}
        <i style=${`flex:${measured === 0 && rest === 0 ? 1 : rest} 0 0`}></i>
      </div>
      <dl class="phase-list">
        ${phases.map(([key, name, colour]) => html`
          <div><dt><i class="swatch" style=${`background:${colour}`}></i> ${name}</dt><dd>${millis(timings[key])}</dd></div>`)}
      </dl>
    </div>`;
}

/** Each condition of a check: what was expected, what was found. */
function Conditions({ conditions, label }) {
  if (!conditions?.length) return null;
  return html`
    <${ScrollBox} label=${label}>
      <table class="conditions" data-testid="conditions">
        <thead><tr><th scope="col">Expected</th><th scope="col">Found</th><th scope="col">Held</th></tr></thead>
        <tbody>
          ${conditions.map((c, i) => html`
            <tr key=${i} class=${c.passed ? "" : c.degrades ? "degraded" : "failed"}>
              <td>${c.expected}</td>
              <td><code>${c.found}</code></td>
              <td><span class=${`badge ${c.passed ? "up" : c.degrades ? "degraded" : "down"}`}>${c.passed ? "yes" : "no"}</span></td>
            </tr>`)}
        </tbody>
      </table>
    <//>`;
}

/** The response's headers, as received (credentials masked). */
function Headers({ headers, label = "Response headers" }) {
  if (!headers?.length) return null;
  return html`
    <details class="headers">
      <summary>${label} (${headers.length})</summary>
      <dl class="pairs">${headers.map(([name, value], i) => html`<div key=${i}><dt>${name}</dt><dd>${value}</dd></div>`)}</dl>
    </details>`;
}

/** The first bytes of the body, as text. */
function Body({ excerpt, label = "Response body (first 1 KB)" }) {
  if (excerpt == null) return null;
  return html`
    <figure class="body-excerpt">
      <figcaption>${label}</figcaption>
      <pre data-testid="body-excerpt" tabindex="0">${excerpt === "" ? "(empty)" : excerpt}</pre>
    </figure>`;
}

/** Certificates, leaf first: whom each names, who issued it, days left. */
function Certificates({ chain }) {
  if (!chain?.length) return null;
  return html`
    <section aria-labelledby="certificates-heading">
      <h2 id="certificates-heading">Certificates</h2>
      <${ScrollBox} label="Certificates">
        <table class="certificates" data-testid="certificates">
          <thead><tr><th scope="col">Certificate</th><th scope="col">Issued by</th><th scope="col">Expires</th><th scope="col" class="number">Days left</th></tr></thead>
          <tbody>
            ${chain.map((c, i) => html`
              <tr key=${i}>
                <td>${i === 0 ? html`<small>server </small>` : html`<small>intermediate </small>`}${c.subject ?? c.problem}</td>
                <td>${c.issuer}</td>
                <td>${c.expires_at && when(c.expires_at)}</td>
                <td class=${`number ${c.days_left < 7 ? "poor" : c.days_left < 30 ? "needs-improvement" : "good"}`}>${c.days_left}</td>
              </tr>`)}
          </tbody>
        </table>
      <//>
    </section>`;
}

/** Labelled figures, where each is known. */
function Facts({ items, testid }) {
  const known = items.filter(([, value]) => value != null && value !== "");
  if (known.length === 0) return null;
  return html`<dl class="facts" data-testid=${testid}>${known.map(([name, value]) => html`<div><dt>${name}</dt><dd>${value}</dd></div>`)}</dl>`;
}

/** One request of an API check, with its own conditions, headers and body. */
function ApiRequest({ step, number }) {
  const [state, word] = stepState(step);
  return html`
    <li class="api-request" data-step=${number}>
      <h3><span class=${`badge ${state}`}>${word}</span> ${number}. ${step.name}</h3>
      <p class="lead"><span><code>${step.method ?? "GET"} ${step.url}</code></span>
        ${step.status_code != null && html`<span>HTTP ${step.status_code}</span>`}
        ${step.duration_ms != null && html`<span>${millis(step.duration_ms)}</span>`}</p>
      ${step.problem && html`<p class="problem">${step.problem}</p>`}
      <${Phases} timings=${step.timings} total=${step.duration_ms} />
      <${Conditions} conditions=${step.conditions} label=${`Conditions of step ${number}`} />
      <${Body} excerpt=${step.body_excerpt} />
      <${Headers} headers=${step.headers} />
    </li>`;
}

/** What a check of each type found, beyond the timings. */
function TypeDetail({ result }) {
  const d = result.detail ?? {};
  return html`
    ${d.answers && html`
      <section aria-labelledby="dns-heading">
        <h2 id="dns-heading">DNS answers</h2>
        <${Facts} testid="dns" items=${[["Record type", d.record_type], ["Resolver", d.resolver ?? "the system's"]]} />
        ${d.answers.length === 0 ? html`<p>No records.</p>` : html`<ul class="answers" data-testid="dns-answers">${d.answers.map((a) => html`<li><code>${a}</code></li>`)}</ul>`}
      </section>`}
    ${d.sent != null && html`
      <section aria-labelledby="ping-heading">
        <h2 id="ping-heading">Round trips</h2>
        <${Facts} testid="ping" items=${[
          ["Address", d.address],
          ["Answered", `${d.received} of ${d.sent}`],
          ["Loss", `${d.loss_percent} %`],
          ["Fastest", d.rtt_min_ms != null ? `${d.rtt_min_ms.toFixed(1)} ms` : null],
          ["Average", d.rtt_avg_ms != null ? `${d.rtt_avg_ms.toFixed(1)} ms` : null],
          ["Slowest", d.rtt_max_ms != null ? `${d.rtt_max_ms.toFixed(1)} ms` : null],
        ]} />
      </section>`}
    ${d.banner != null && html`
      <section aria-labelledby="banner-heading">
        <h2 id="banner-heading">Greeting</h2>
        <pre data-testid="banner" tabindex="0">${d.banner || "(none)"}</pre>
      </section>`}
    ${d.expires_at && html`
      <section aria-labelledby="tls-heading">
        <h2 id="tls-heading">Certificate</h2>
        <${Facts} testid="tls" items=${[
          ["Subject", d.subject],
          ["Issuer", d.issuer],
          ["Names", d.names?.join(", ")],
          ["Valid from", d.not_before && when(d.not_before)],
          ["Expires", when(d.expires_at)],
          ["Days left", d.days_left],
          ["Name matches", d.hostname_valid ? "yes" : "no"],
          ["Chain trusted", d.chain_valid ? "yes" : "no"],
        ]} />
      </section>`}
    <${Certificates} chain=${d.chain ?? d.certificates} />
    ${d.metrics && html`
      <section aria-labelledby="vitals-heading">
        <h2 id="vitals-heading">Page vitals</h2>
        <${VitalCards} result=${result} />
      </section>`}
    ${d.requests && html`
      <section aria-labelledby="requests-heading">
        <h2 id="requests-heading">Requests</h2>
        <${Waterfall} requests=${d.requests} label="Requests of this run" />
      </section>`}
    ${d.steps && result.type === "api" ? html`
      <section aria-labelledby="steps-heading">
        <h2 id="steps-heading">Requests</h2>
        <ol class="api-requests" data-testid="api-requests">${d.steps.map((step, i) => html`<${ApiRequest} step=${step} number=${i + 1} />`)}</ol>
      </section>` : d.steps && html`
      <section aria-labelledby="steps-heading">
        <h2 id="steps-heading">Steps</h2>
        <${StepResults} steps=${d.steps} />
      </section>`}
    ${(result.screenshots ?? []).length > 0 && html`
      <section aria-labelledby="shots-heading">
        <h2 id="shots-heading">Screenshots</h2>
        ${result.screenshots.map((shot) => html`
          <figure class="shot"><img src=${shot.url} alt=${shot.label} loading="lazy" /><figcaption>${shot.label}</figcaption></figure>`)}
      </section>`}`;
}

export function ResultDetail({ monitorId, resultId }) {
  const { data, error, missing } = usePolled(
    async () => {
      const [monitor, result] = await Promise.all([
        get(`/monitors/${monitorId}`),
        get(`/monitors/${monitorId}/results/${resultId}`),
      ]);
      return { monitor, result: { ...result, type: monitor.type } };
    },
    // A result never changes; reading it once more a minute only follows a
    // monitor renamed meanwhile.
    60_000,
    [monitorId, resultId],
  );
  useEffect(() => {
    if (data) markComplete("sightline:result-complete");
  }, [data]);
  if (missing) return html`<${NotFound} what="result" />`;
  if (!data) {
    return html`<p class=${error ? "error" : "loading"}>${error ?? "Loading…"}</p>`;
  }
  const { monitor, result } = data;
  const d = result.detail ?? {};
  return html`
    <p><a href=${`/monitors/${monitor.id}`}>← ${monitor.name}</a></p>
    <h1>Result of ${when(result.started_at)} <span class=${`badge ${badge(result.outcome)}`}>${result.outcome}</span></h1>
    <p class="lead">
      <span>${monitor.type}</span>
      <span>from ${result.checkpoint}</span>
      ${result.attempt > 0 && html`<span>confirmation re-run ${result.attempt}</span>`}
      ${result.confirmed_error && html`<span>confirmed failure</span>`}
      ${result.in_maintenance && html`<span>during maintenance (not counted)</span>`}
      <span>took ${millis(result.duration_ms)}</span>
    </p>
    ${result.problem && html`
      <p class="cause problem" data-testid="result-problem"><strong>${words(result.problem.kind)}:</strong> ${result.problem.message}</p>`}
    <${Facts} testid="response" items=${[
      ["Status", result.status_code],
      ["Final URL", d.final_url],
      ["Redirects", d.redirects?.map((r) => `${r.status} → ${r.to}`).join(", ")],
      ["Size", result.status_code != null && result.response_bytes != null ? bytes(result.response_bytes) : null],
    ]} />
    ${result.detail?.conditions && html`
      <section aria-labelledby="conditions-heading">
        <h2 id="conditions-heading">Conditions</h2>
        <${Conditions} conditions=${d.conditions} label="Conditions" />
      </section>`}
    ${PHASES.some(([key]) => result.timings?.[key] != null) && html`
      <section aria-labelledby="phases-heading">
        <h2 id="phases-heading">Where the time went</h2>
        <${Phases} timings=${result.timings} total=${result.duration_ms} />
      </section>`}
    <${Body} excerpt=${d.body_excerpt} />
    <${Headers} headers=${d.headers} />
    <${TypeDetail} result=${result} />`;
}
