// What an empty installation shows instead of an empty overview: the three
// ways to start (a monitor from the form, a site for real-user data, or a
// YAML file applied from the command line), each one step away.
import { html } from "./html.js";

/** A small file that watches a site both ways; `sightline apply` takes it. */
const EXAMPLE = `sites:
  - name: shop
    origins: ["https://shop.example.com"]
monitors:
  - name: shop home
    type: http
    url: https://shop.example.com/
    every: 1m
  - name: shop certificate
    type: tls
    host: shop.example.com
    every: 1h
  - name: shop home in a browser
    type: browser
    url: https://shop.example.com/
    every: 10m`;

export function FirstSteps({ canWrite }) {
  return html`
    <section class="first-steps" aria-labelledby="first-heading" data-testid="first-steps">
      <h1 id="first-heading">Nothing is watched yet</h1>
      ${canWrite
        ? html`<p>Start one of three ways; each takes a minute.</p>`
        : html`<p>Nothing is watched yet. An admin can add monitors and sites; they will show here.</p>`}
      ${canWrite && html`
        <ol class="ways">
          <li>
            <h2>Check a page, an API or a server</h2>
            <p>An HTTP, API, TCP, DNS, TLS, ping, page-load or transaction check, from every checkpoint, on a schedule.</p>
            <a class="button" href="/monitors/new">Add a monitor</a>
          </li>
          <li>
            <h2>Measure real visitors</h2>
            <p>A site gives you a one-line script for your pages; every visit then reports its load time and Core Web Vitals.</p>
            <a class="button" href="/sites/new">Add a site</a>
          </li>
          <li>
            <h2>Describe it in a file</h2>
            <p>Save this as <code>sightline.yaml</code>, change the addresses, and run <code>sightline apply sightline.yaml</code>:</p>
            <pre tabindex="0">${EXAMPLE}</pre>
          </li>
        </ol>`}
    </section>`;
}
