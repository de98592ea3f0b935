// The editor of a multi-step API check: its variables, and per step the
// request (method, URL, body), the status codes expected and the values
// taken from the answer for later steps (`{{name}}`). The fields whose
// text is parsed (lists, `name = value` lines) keep what is typed as it is
// typed: only their first text comes from the document.
import { html } from "./html.js";

const lines = (text) => text.split("\n").map((line) => line.trim()).filter(Boolean);

/** `name = $.json.path` lines for a step's extractions by JSON path. */
function extractionsText(extract) {
  return (extract ?? []).filter((e) => e.json_path).map((e) => `${e.name} = ${e.json_path}`).join("\n");
}

function extractionsOf(text) {
  return lines(text).map((line) => {
    const [name, ...path] = line.split("=");
    return { name: name.trim(), json_path: path.join("=").trim() };
  });
}

export function ApiStepsEditor({ document, onChange, error }) {
  const steps = Array.isArray(document.steps) ? document.steps : [];
  const setSteps = (next) => onChange("steps", next);
  const setStep = (index, changes) => {
    const next = steps.map((step, i) => {
      if (i !== index) return step;
      const merged = { ...step, ...changes };
      for (const [key, value] of Object.entries(merged)) {
        if (value === "" || value == null || (Array.isArray(value) && value.length === 0)) delete merged[key];
      }
      if (merged.expect && Object.keys(merged.expect).length === 0) delete merged.expect;
      return merged;
    });
    setSteps(next);
  };
  const variables = Object.entries(document.variables ?? {}).map(([k, v]) => `${k} = ${v}`).join("\n");
  const errorAt = (prefix) => (error?.field?.startsWith(prefix) ? error.message : null);
  return html`
    <fieldset class="steps" data-field="steps">
      <legend>Requests</legend>
      <div class="field">
        <label for="api-variables">Variables (name = value, one per line)</label>
        <textarea id="api-variables" rows="2" defaultValue=${variables} onInput=${(e) =>
          onChange("variables", Object.fromEntries(lines(e.target.value).map((line) => {
            const [name, ...value] = line.split("=");
            return [name.trim(), value.join("=").trim()];
          })))}></textarea>
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
            <label for=${`api-${index}-body`}>Body</label>
            <textarea id=${`api-${index}-body`} rows="2" value=${step.body ?? ""} onInput=${(e) => setStep(index, { body: e.target.value })}></textarea>
            <label for=${`api-${index}-status`}>Expected status codes</label>
            <input id=${`api-${index}-status`} placeholder="any 2xx" defaultValue=${(step.expect?.status ?? []).join(", ")}
              onInput=${(e) => setStep(index, { expect: { ...(step.expect ?? {}), status: e.target.value.split(",").map((s) => s.trim()).filter(Boolean).map(Number) } })} />
            <label for=${`api-${index}-extract`}>Take from the answer (name = $.json.path, one per line)</label>
            <textarea id=${`api-${index}-extract`} rows="2" defaultValue=${extractionsText(step.extract)} onInput=${(e) => setStep(index, { extract: extractionsOf(e.target.value) })}></textarea>
            ${errorAt(`steps[${index}]`) && html`<p class="field-error" role="alert">${errorAt(`steps[${index}]`)}</p>`}
          </li>`)}
      </ol>
      <button type="button" onClick=${() => setSteps([...steps, { name: `request ${steps.length + 1}`, method: "GET", url: "" }])}>Add request</button>
      ${error?.field === "steps" && html`<p class="field-error" role="alert">${error.message}</p>`}
    </fieldset>`;
}
