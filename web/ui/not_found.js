// What an address that leads nowhere shows: a path the UI does not have,
// or a monitor, site or result that is not (or no longer) there.
import { html } from "./html.js";

/** Names what is missing, with a way back. */
export function NotFound({ what = "page" }) {
  return html`
    <section class="not-found" data-testid="not-found">
      <h1>There is no such ${what}</h1>
      <p>It may have been deleted, or the address is mistyped.</p>
      <p><a href="/">Go to the overview</a> or <a href="/incidents">see the incidents</a>.</p>
    </section>`;
}

/** A screen only editors and admins can use (only admins, with `admins`),
 * as someone else reaches it by its address. */
export function AdminsOnly({ admins = false }) {
  return html`
    <section data-testid="admins-only">
      ${admins
        ? html`<h1>Only admins can see this</h1>
          <p>People, tokens, secrets and the audit log are for admins. Ask one if you need something from here.</p>`
        : html`<h1>Only editors and admins can change this</h1>
          <p>Your account can see everything but change nothing. Ask an admin to make the change, or to give you the editor role.</p>`}
      <p><a href="/">Go to the overview</a></p>
    </section>`;
}
