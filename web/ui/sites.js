// Every RUM site, with its last day's page views and vitals: the menu's way
// to a site's dashboard.
import { html } from "./html.js";
import { get } from "./api.js";
import { usePolled } from "./polling.js";
import { SitesTable } from "./overview.js";
import { useCanWrite } from "./role.js";

export function Sites() {
  const canWrite = useCanWrite();
  const { data, error } = usePolled(
    async () => {
      const sites = await get("/sites");
      const summaries = await Promise.all(sites.map((site) => get(`/sites/${site.id}/rum/summary`)));
      return { sites, summaries };
    },
    30_000,
    [],
  );
  if (!data) return html`<p class=${error ? "error" : "loading"}>${error ?? "Loading…"}</p>`;
  return html`
    <div class="toolbar">
      <h1>Sites</h1>
      ${canWrite && html`<a class="button" href="/sites/new">New site</a>`}
    </div>
    <p>Each site collects what its real visitors saw: load times, Core Web Vitals, and which pages, browsers and countries they came from.</p>
    <${SitesTable} sites=${data.sites} summaries=${data.summaries} />`;
}
