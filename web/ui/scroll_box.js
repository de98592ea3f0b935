// A box that scrolls sideways when what it holds is wider than the screen
// (a table on a phone), instead of the whole page; the keyboard can reach
// and scroll it too.
import { html } from "./html.js";

/** Named by `label`, or by the element whose id is `labelledBy`. */
export function ScrollBox({ label, labelledBy, children }) {
  return html`<div class="scroll" role="region" aria-label=${label} aria-labelledby=${labelledBy} tabindex="0">${children}</div>`;
}
