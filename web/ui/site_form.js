// Adding a RUM site (or changing one): its name, the origins its beacons
// may come from, whether query strings are kept, and its alert policy. The
// dashboard then shows the snippet to paste.
import { html, useEffect, useState } from "./html.js";
import { api, get } from "./api.js";

export function SiteForm({ id, navigate }) {
  const [document, setDocument] = useState(id ? null : { name: "", origins: [], keep_query_string: false });
  const [origins, setOrigins] = useState("");
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!id) return;
    get(`/sites/${id}`).then((site) => {
      setDocument({ name: site.name, origins: site.origins ?? [], keep_query_string: site.keep_query_string ?? false, alert_policy: site.alert_policy });
      setOrigins((site.origins ?? []).join("\n"));
    }, (failure) => setError(failure));
  }, [id]);
  if (!document) return html`<p class=${error ? "error" : "loading"}>${error?.message ?? "Loading…"}</p>`;
  const fieldError = (field) => (error?.field && (error.field === field || error.field.startsWith(`${field}[`)) ? error.message : null);
  const submit = async (event) => {
    event.preventDefault();
    const body = { ...document, origins: origins.split(/[\s,]+/).filter(Boolean) };
    if (!body.alert_policy) delete body.alert_policy;
    try {
      const saved = id ? await api("PUT", `/sites/${id}`, body) : await api("POST", "/sites", body);
      navigate(`/sites/${saved.id}`);
    } catch (failure) {
      setError(failure);
    }
  };
  const field = (name, label, input) => html`
    <div class=${`field ${fieldError(name) ? "invalid" : ""}`}>
      <label for=${`site-${name}`}>${label}</label>
      ${input}
      ${fieldError(name) && html`<p class="field-error" id=${`site-${name}-error`} role="alert">${fieldError(name)}</p>`}
    </div>`;
  return html`
    <p><a href="/">← Overview</a></p>
    <h1>${id ? `Edit ${document.name}` : "New site"}</h1>
    <form class="monitor-form" onSubmit=${submit} novalidate>
      ${field("name", "Name", html`<input id="site-name" value=${document.name} onInput=${(e) => setDocument({ ...document, name: e.target.value })} />`)}
      ${field("origins", "Origins its pages are served from (one per line)", html`
        <textarea id="site-origins" rows="3" placeholder="https://shop.example.com" value=${origins} onInput=${(e) => setOrigins(e.target.value)}></textarea>`)}
      ${field("alert_policy", "Alert policy", html`<input id="site-alert_policy" value=${document.alert_policy ?? ""} onInput=${(e) => setDocument({ ...document, alert_policy: e.target.value })} />`)}
      <div class="field"><label><input type="checkbox" checked=${document.keep_query_string}
        onChange=${(e) => setDocument({ ...document, keep_query_string: e.target.checked })} /> Keep query strings in page URLs</label></div>
      ${error && !error.field && html`<p class="error" role="alert">${error.message}</p>`}
      <div class="actions"><button type="submit">${id ? "Save" : "Create site"}</button></div>
    </form>`;
}
