// The editor of a multi-step API check: its variables, and per step the
// request (method, URL, headers, body), what the answer must be (status
// codes, text, conditions on its JSON) and the values taken from it for
// later steps (`{{name}}`). The fields whose text is parsed (lists,
// one-per-line forms) keep what is typed as it is typed: only their first
// text comes from the document.
import { html } from "./html.js";
import {
  assertionsOf,
  assertionsText,
  extractionsOf,
  extractionsText,
  headersOf,
  headersText,
  variablesOf,
  variablesText,
} from "./line_formats.js";

/** `value` without its empty entries (empty text, empty lists, no value). */
function withoutEmpty(value) {
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => !(v === "" || v == null || (Array.isArray(v) && v.length === 0))),
  );
}

export function ApiStepsEditor({ document, onChange, errors = [] }) {
  const steps = Array.isArray(document.steps) ? document.steps : [];
  const setSteps = (next) => onChange("steps", next);
  const setStep = (index, changes) => {
    const next = steps.map((step, i) => {
      if (i !== index) return step;
      const merged = withoutEmpty({ ...step, ...changes });
      for (const key of ["expect", "headers"]) {
        if (merged[key] && Object.keys(merged[key]).length === 0) delete merged[key];
      }
      return merged;
    });
    setSteps(next);
  };
  const setExpect = (index, changes) => setStep(index, { expect: withoutEmpty({ ...(steps[index].expect ?? {}), ...changes }) });
  const errorAt = (prefix) => errors.find((e) => e.field.startsWith(prefix))?.message ?? null;
  const listError = errors.find((e) => e.field === "steps")?.message;
  return html`
    <fieldset class="steps" id="field-steps" data-field="steps">
      <legend>Requests</legend>
      <div class="field">
        <label for="api-variables">Variables (name = value, one per line)</label>
        <textarea id="api-variables" rows="2" defaultValue=${variablesText(document.variables)} onInput=${(e) => onChange("variables", variablesOf(e.target.value))}></textarea>
        ${errorAt("variables") && html`<p class="field-error" role="alert">${errorAt("variables")}</p>`}
      </div>
      <ol>
        ${steps.map((step, index) => html`
          <li key=${index} class=${`api-step ${errorAt(`steps[${index}]`) ? "invalid" : ""}`} data-step=${index + 1}>
            <div class="step">
              <label class="visually-hidden" for=${`api-${index}-name`}>Request ${index + 1} name</label>
              <input id=${`api-${index}-name`} placeholder="name" value=${step.name ?? ""} onInput=${(e) => setStep(index, { name: e.target.value })} />
              <label class="visually-hidden" for=${`api-${index}-method`}>Request ${index + 1} method</label>
              <select id=${`api-${index}-method`} value=${step.method ?? "GET"} onChange=${(e) => setStep(index, { method: e.target.value })}>
                ${["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"].map((m) => html`<option value=${m}>${m}</option>`)}
              </select>
              <label class="visually-hidden" for=${`api-${index}-url`}>Request ${index + 1} URL</label>
              <input id=${`api-${index}-url`} placeholder="https://api.example.com/login" value=${step.url ?? ""} onInput=${(e) => setStep(index, { url: e.target.value })} />
              <button type="button" aria-label=${`Remove request ${index + 1}`} onClick=${() => setSteps(steps.filter((_, i) => i !== index))}>×</button>
            </div>
            <label for=${`api-${index}-headers`}>Headers (Name: value, one per line)</label>
            <textarea id=${`api-${index}-headers`} rows="2" placeholder="Authorization: Bearer {{token}}" defaultValue=${headersText(step.headers)} onInput=${(e) => setStep(index, { headers: headersOf(e.target.value) })}></textarea>
            <label for=${`api-${index}-body`}>Body</label>
            <textarea id=${`api-${index}-body`} rows="2" value=${step.body ?? ""} onInput=${(e) => setStep(index, { body: e.target.value })}></textarea>
            <label for=${`api-${index}-status`}>Expected status codes</label>
            <input id=${`api-${index}-status`} placeholder="any 2xx" defaultValue=${(step.expect?.status ?? []).join(", ")}
              onInput=${(e) => setExpect(index, { status: e.target.value.split(",").map((s) => s.trim()).filter(Boolean).map(Number) })} />
            <label for=${`api-${index}-contains`}>The answer contains</label>
            <input id=${`api-${index}-contains`} value=${step.expect?.body_contains ?? ""} onInput=${(e) => setExpect(index, { body_contains: e.target.value })} />
            <label for=${`api-${index}-json`}>Conditions on its JSON ($.path == value, $.path exists, $.path missing; one per line)</label>
            <textarea id=${`api-${index}-json`} rows="2" placeholder='$.status == "ok"' defaultValue=${assertionsText(step.expect?.json)} onInput=${(e) => setExpect(index, { json: assertionsOf(e.target.value) })}></textarea>
            <label for=${`api-${index}-extract`}>Take from the answer (name = $.json.path, name = header X-Name, name = regex (…); one per line)</label>
            <textarea id=${`api-${index}-extract`} rows="2" defaultValue=${extractionsText(step.extract)} onInput=${(e) => setStep(index, { extract: extractionsOf(e.target.value) })}></textarea>
            ${errorAt(`steps[${index}]`) && html`<p class="field-error" role="alert">${errorAt(`steps[${index}]`)}</p>`}
          </li>`)}
      </ol>
      <button type="button" onClick=${() => setSteps([...steps, { name: `request ${steps.length + 1}`, method: "GET", url: "" }])}>Add request</button>
      ${listError && html`<p class="field-error" role="alert">${listError}</p>`}
    </fieldset>`;
}
