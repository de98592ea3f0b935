// The editor of a transaction's steps: one row per step, its action, the
// element (CSS, or XPath starting with `/`) and the value, as the API
// writes a step (`{"click": "#login"}`, `{"type": {"into": "#user",
// "text": "alice"}}`).
import { html } from "./html.js";

/** [action, label, what the first field is, what the second is]. */
export const ACTIONS = [
  ["navigate", "go to", "URL or path", null],
  ["click", "click", "element", null],
  ["type", "type into", "element", "text"],
  ["select", "choose in", "element", "option"],
  ["press", "press key", "key (Enter, Tab, …)", null],
  ["wait_for_element", "wait for element", "element", null],
  ["wait_for_text", "wait for text", "text", null],
  ["assert_text", "page shows", "text", null],
  ["assert_no_text", "page does not show", "text", null],
  ["assert_url", "URL contains", "text", null],
  ["screenshot", "screenshot", "label", null],
];

/** The actions that wait for an element or a text, up to their timeout. */
const TIMED = new Set(["click", "type", "select", "wait_for_element", "wait_for_text", "assert_text"]);

/** A step as the editor holds it: {name, action, target, value, timeout}. */
export function rowOf(step) {
  const row = { name: step.name ?? "", timeout: step.timeout ?? "", target: "", value: "" };
  if (step.navigate !== undefined) return { ...row, action: "navigate", target: step.navigate };
  if (step.click !== undefined) return { ...row, action: "click", target: step.click };
  if (step.type) return { ...row, action: "type", target: step.type.into, value: step.type.text };
  if (step.select) return { ...row, action: "select", target: step.select.from, value: step.select.option };
  if (step.press !== undefined) return { ...row, action: "press", target: step.press };
  if (step.wait_for?.element !== undefined) return { ...row, action: "wait_for_element", target: step.wait_for.element };
  if (step.wait_for?.text !== undefined) return { ...row, action: "wait_for_text", target: step.wait_for.text };
  if (step.assert_text !== undefined) return { ...row, action: "assert_text", target: step.assert_text };
  if (step.assert_no_text !== undefined) return { ...row, action: "assert_no_text", target: step.assert_no_text };
  if (step.assert_url) return { ...row, action: "assert_url", target: step.assert_url.contains ?? step.assert_url.equals ?? step.assert_url.matches ?? "" };
  if (step.screenshot !== undefined) return { ...row, action: "screenshot", target: step.screenshot ?? "" };
  return { ...row, action: "navigate" };
}

/** The API's step for an editor row. */
export function stepOf(row) {
  const step = {};
  if (row.name) step.name = row.name;
  switch (row.action) {
    case "type": step.type = { into: row.target, text: row.value }; break;
    case "select": step.select = { from: row.target, option: row.value }; break;
    case "wait_for_element": step.wait_for = { element: row.target }; break;
    case "wait_for_text": step.wait_for = { text: row.target }; break;
    case "assert_url": step.assert_url = { contains: row.target }; break;
    default: step[row.action] = row.target;
  }
  if (row.timeout) step.timeout = row.timeout;
  return step;
}

export function StepsEditor({ steps, onChange, errors = [] }) {
  const rows = (Array.isArray(steps) ? steps : []).map(rowOf);
  const set = (index, changes) => onChange(rows.map((row, i) => (i === index ? { ...row, ...changes } : row)).map(stepOf));
  const add = () => onChange([...rows.map(stepOf), stepOf({ action: rows.length === 0 ? "navigate" : "click", target: "" })]);
  const remove = (index) => onChange(rows.filter((_, i) => i !== index).map(stepOf));
  const move = (index, by) => {
    const next = [...rows];
    const [row] = next.splice(index, 1);
    next.splice(index + by, 0, row);
    onChange(next.map(stepOf));
  };
  const errorAt = (index) => errors.find((e) => e.field.startsWith(`steps[${index}]`))?.message ?? null;
  const listError = errors.find((e) => e.field === "steps")?.message;
  return html`
    <fieldset class="steps" id="field-steps" data-field="steps">
      <legend>Steps</legend>
      <ol>
        ${rows.map((row, index) => {
          const [, , first, second] = ACTIONS.find(([action]) => action === row.action) ?? ACTIONS[0];
          const id = `step-${index}`;
          return html`
            <li key=${index} class=${`step ${errorAt(index) ? "invalid" : ""}`} data-step=${index + 1}>
              <label class="visually-hidden" for=${`${id}-name`}>Step ${index + 1} name</label>
              <input id=${`${id}-name`} class="step-name" placeholder=${`step ${index + 1}: name it (optional)`} value=${row.name}
                onInput=${(e) => set(index, { name: e.target.value })} />
              <label class="visually-hidden" for=${`${id}-action`}>Step ${index + 1} action</label>
              <select id=${`${id}-action`} value=${row.action} onChange=${(e) => set(index, { action: e.target.value })}>
                ${ACTIONS.map(([action, label]) => html`<option value=${action}>${label}</option>`)}
              </select>
              <label class="visually-hidden" for=${`${id}-target`}>Step ${index + 1} ${first}</label>
              <input id=${`${id}-target`} placeholder=${first} value=${row.target} onInput=${(e) => set(index, { target: e.target.value })} />
              ${second && html`
                <label class="visually-hidden" for=${`${id}-value`}>Step ${index + 1} ${second}</label>
                <input id=${`${id}-value`} placeholder=${second} value=${row.value} onInput=${(e) => set(index, { value: e.target.value })} />`}
              ${TIMED.has(row.action) && html`
                <label class="visually-hidden" for=${`${id}-timeout`}>Step ${index + 1} waits at most</label>
                <input id=${`${id}-timeout`} class="step-timeout" placeholder="waits 10s" size="8" value=${row.timeout}
                  onInput=${(e) => set(index, { timeout: e.target.value })} />`}
              <span class="step-tools">
                <button type="button" aria-label=${`Move step ${index + 1} up`} disabled=${index === 0} onClick=${() => move(index, -1)}>↑</button>
                <button type="button" aria-label=${`Move step ${index + 1} down`} disabled=${index === rows.length - 1} onClick=${() => move(index, 1)}>↓</button>
                <button type="button" aria-label=${`Remove step ${index + 1}`} onClick=${() => remove(index)}>×</button>
              </span>
              ${errorAt(index) && html`<p class="field-error" role="alert">${errorAt(index)}</p>`}
            </li>`;
        })}
      </ol>
      <button type="button" onClick=${add}>Add step</button>
      ${listError && html`<p class="field-error" role="alert">${listError}</p>`}
    </fieldset>`;
}
