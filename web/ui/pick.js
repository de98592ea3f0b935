// Pick-lists: names chosen from what exists (monitors, sites, alert
// policies, checkpoints, tags) instead of typed, so that a typo cannot
// point a setting at nothing. A name that no longer exists stays shown,
// marked, until it is taken out.
import { html, useState } from "./html.js";

/** Lists longer than this get a filter box. */
const FILTER_FROM = 8;

/**
 * Several names out of `options`: a box of checkboxes (filtered when long),
 * `chosen` first in the order they were picked; `describe(name)`, when
 * given, says in words what a name means beside it.
 */
export function PickMany({ id, label, options, chosen = [], onChange, error, hint, empty = "none yet", describe }) {
  const [filter, setFilter] = useState("");
  const missing = chosen.filter((name) => !options.includes(name));
  const needle = filter.trim().toLowerCase();
  const shown = needle ? options.filter((name) => name.toLowerCase().includes(needle)) : options;
  const toggle = (name, on) => onChange(on ? [...chosen, name] : chosen.filter((n) => n !== name));
  return html`
    <fieldset class=${`field pick ${error ? "invalid" : ""}`} id=${id} aria-describedby=${error ? `${id}-error` : undefined}>
      <legend>${label}${chosen.length > 0 && html` <small>(${chosen.length} chosen)</small>`}</legend>
      ${hint && html`<small class="hint">${hint}</small>`}
      ${options.length > FILTER_FROM && html`
        <input type="search" class="pick-filter" placeholder="Filter" aria-label=${`Filter ${label}`} value=${filter}
          onInput=${(event) => setFilter(event.target.value)} />`}
      <div class="pick-options" role="group" aria-label=${label}>
        ${missing.map((name) => html`
          <label class="missing" key=${`missing-${name}`}><input type="checkbox" checked onChange=${() => toggle(name, false)} />
            ${name} <small>(not found)</small></label>`)}
        ${shown.map((name) => {
          const words = describe?.(name);
          return html`
          <label key=${name}><input type="checkbox" value=${name} checked=${chosen.includes(name)}
            onChange=${(event) => toggle(name, event.target.checked)} /> ${name}${words && html` <small>${words}</small>`}</label>`;
        })}
        ${options.length === 0 && missing.length === 0 && html`<small>${empty}</small>`}
      </div>
      ${error && html`<p class="field-error" id=${`${id}-error`} role="alert">${error}</p>`}
    </fieldset>`;
}

/** One name out of `options`, or none (`noneLabel`). */
export function PickOne({ id, label, options, value, onChange, error, hint, noneLabel = "none" }) {
  const known = value == null || value === "" || options.includes(value);
  return html`
    <div class=${`field ${error ? "invalid" : ""}`}>
      <label for=${id}>${label}</label>
      <select id=${id} value=${value ?? ""} aria-invalid=${error ? "true" : undefined}
        aria-describedby=${error ? `${id}-error` : hint ? `${id}-hint` : undefined}
        onChange=${(event) => onChange(event.target.value || undefined)}>
        <option value="">${noneLabel}</option>
        ${!known && html`<option value=${value}>${value} (not found)</option>`}
        ${options.map((name) => html`<option value=${name}>${name}</option>`)}
      </select>
      ${hint && html`<small class="hint" id=${`${id}-hint`}>${hint}</small>`}
      ${error && html`<p class="field-error" id=${`${id}-error`} role="alert">${error}</p>`}
    </div>`;
}
