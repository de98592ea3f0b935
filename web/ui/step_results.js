// The steps of a monitor's last run, for both kinds of multi-step check:
// a transaction's browser steps say `status` (passed, failed, not_run) and
// `error`; an API check's requests say `outcome` (up, degraded, error),
// `problem` and the answer's `status_code`.
import { html } from "./html.js";
import { words } from "./format.js";

/** The badge class and the word shown for each step state. */
const STATES = {
  passed: ["up", "passed"],
  up: ["up", "up"],
  degraded: ["degraded", "degraded"],
  failed: ["down", "failed"],
  error: ["down", "error"],
  not_run: ["unknown", "not run"],
};

/** One step's state, whichever kind of check reported it. */
export function stepState(step) {
  const state = step.status ?? step.outcome;
  return STATES[state] ?? ["unknown", state == null ? "unknown" : words(String(state))];
}

/** The steps as an ordered list with their state, time and problem. */
export function StepResults({ steps }) {
  return html`
    <ol class="step-timings" data-testid="step-timings">
      ${steps.map((step, index) => {
        const [badge, word] = stepState(step);
        const problem = step.error ?? step.problem;
        return html`
          <li key=${index} class=${badge}>
            <span class=${`badge ${badge}`}>${word}</span>
            ${" "}${step.name ?? step.description}
            ${step.status_code != null && html` <small>HTTP ${step.status_code}</small>`}
            ${step.duration_ms != null && html` <span class="ms">${Math.round(step.duration_ms)} ms</span>`}
            ${problem && html`<span class="problem"> — ${problem}</span>`}
          </li>`;
      })}
    </ol>`;
}
