// Status pages: the list, and one page's editor (its groups of components,
// who may see it, a live preview of what the public will see) with the
// incidents written on it and their updates.
import { useCanWrite } from "./role.js";
import { html, useEffect, useState } from "./html.js";
import { api, get } from "./api.js";
import { when } from "./format.js";

const STATES = ["investigating", "identified", "monitoring", "resolved"];
const label = (state) => state[0].toUpperCase() + state.slice(1);

export function StatusPages() {
  const canWrite = useCanWrite();
  const [pages, setPages] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    get("/status-pages").then(setPages, setError);
  }, []);
  if (!pages) return html`<p class=${error ? "error" : "loading"}>${error?.message ?? "Loading…"}</p>`;
  return html`
    <h1>Status pages</h1>
    <p>Public pages that tell your own customers what is up. They show components by the names you give them, never a monitor's own name, address or errors.</p>
    ${canWrite && html`<p><a class="button" href="/status-pages/new">New status page</a></p>`}
    ${pages.length === 0
      ? html`<p class="empty">No status page yet.</p>`
      : html`<ul class="plain-list" data-testid="status-pages">
          ${pages.map((page) => html`<li>${canWrite ? html`<a href=${`/status-pages/${page.id}`}>${page.title}</a>` : page.title}
            · <a href=${page.url} target="_blank" rel="noopener">${page.url}</a>
            ${page.domain && html` · ${page.domain}`}${(page.password || page.token) && " · private"}</li>`)}
        </ul>`}`;
}

const EMPTY = { slug: "", title: "", description: "", groups: [{ name: "Website", components: [] }] };

/** The document as the API takes it: empty optional fields left out. */
function cleaned(page) {
  const body = { ...page };
  for (const key of ["id", "url", "created_at", "updated_at"]) delete body[key];
  for (const key of ["description", "domain", "logo", "password", "token"]) if (!body[key]) delete body[key];
  body.groups = body.groups.map((group) => ({
    name: group.name,
    components: group.components.map((c) => (c.site ? { name: c.name, site: c.site } : { name: c.name, monitors: c.monitors ?? [] })),
  }));
  return body;
}

export function StatusPageEditor({ id, navigate }) {
  const [page, setPage] = useState(id ? null : EMPTY);
  const [names, setNames] = useState({ monitors: [], sites: [] });
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(null);
  const [preview, setPreview] = useState("");
  useEffect(() => {
    Promise.all([get("/monitors"), get("/sites")]).then(([monitors, sites]) =>
      setNames({ monitors: monitors.map((m) => m.name).sort(), sites: sites.map((s) => s.name).sort() }),
    );
    if (id) get(`/status-pages/${id}`).then(setPage, setError);
  }, [id]);
  // The preview follows the edits, a moment after the last one.
  useEffect(() => {
    if (!page || !page.slug || !page.title) return;
    const timer = setTimeout(() => {
      api("POST", "/status-pages/preview", { ...cleaned(page), ...(id ? { id: Number(id) } : {}) }).then(
        (answer) => {
          setPreview(answer.html);
          setError(null);
        },
        (failure) => setError(failure),
      );
    }, 400);
    return () => clearTimeout(timer);
  }, [page]);
  if (!page) return html`<p class=${error ? "error" : "loading"}>${error?.message ?? "Loading…"}</p>`;
  const set = (change) => {
    setSaved(null);
    setPage({ ...page, ...change });
  };
  const setGroup = (g, change) => set({ groups: page.groups.map((group, i) => (i === g ? { ...group, ...change } : group)) });
  const setComponent = (g, c, change) =>
    setGroup(g, { components: page.groups[g].components.map((component, i) => (i === c ? { ...component, ...change } : component)) });
  const access = page.password ? "password" : page.token ? "token" : "public";
  const secret = (page.password || page.token || "").replace(/^\{\{\s*secrets\.|\s*\}\}$/g, "");
  const setAccess = (kind, name) => {
    const reference = name ? `{{secrets.${name}}}` : "";
    set({ password: kind === "password" ? reference : undefined, token: kind === "token" ? reference : undefined });
  };
  const readLogo = (event) => {
    const file = event.target.files[0];
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => set({ logo: reader.result });
    reader.readAsDataURL(file);
  };
  const submit = async (event) => {
    event.preventDefault();
    try {
      const stored = id ? await api("PUT", `/status-pages/${id}`, cleaned(page)) : await api("POST", "/status-pages", cleaned(page));
      setError(null);
      setSaved(`Saved. The public page is at ${stored.url}.`);
      if (!id) navigate(`/status-pages/${stored.id}`);
      else setPage(stored);
    } catch (failure) {
      setError(failure);
    }
  };
  const remove = async () => {
    if (!confirm(`Delete the status page ${page.title}? Its incidents and subscribers go with it.`)) return;
    await api("DELETE", `/status-pages/${id}`);
    navigate("/status-pages");
  };
  const input = (key, labelText, extra = {}) => html`
    <div class=${`field ${error?.field === key ? "invalid" : ""}`}>
      <label for=${`page-${key}`}>${labelText}</label>
      <input id=${`page-${key}`} value=${page[key] ?? ""} onInput=${(e) => set({ [key]: e.target.value })} ...${extra} />
    </div>`;
  return html`
    <p><a href="/status-pages">← Status pages</a></p>
    <h1>${id ? `Edit ${page.title}` : "New status page"}</h1>
    <div class="status-editor">
      <form class="monitor-form" onSubmit=${submit} novalidate aria-label="Status page">
        ${input("title", "Title")}
        ${input("slug", "Address: /status/…", { placeholder: "shop" })}
        <div class="field"><label for="page-description">Description</label>
          <textarea id="page-description" rows="2" value=${page.description ?? ""} onInput=${(e) => set({ description: e.target.value })}></textarea></div>
        ${input("domain", "Own domain (optional)", { placeholder: "status.example.com" })}
        <div class="field"><label for="page-logo">Logo (PNG, JPEG, WebP, GIF or SVG, at most 32 KB)</label>
          <input id="page-logo" type="file" accept="image/png,image/jpeg,image/webp,image/gif,image/svg+xml" onChange=${readLogo} />
          ${page.logo && html`<button type="button" class="link" onClick=${() => set({ logo: undefined })}>Remove the logo</button>`}</div>
        <fieldset><legend>Who may see it</legend>
          ${["public", "password", "token"].map((kind) => html`
            <label class="inline"><input type="radio" name="access" checked=${access === kind}
              onChange=${() => setAccess(kind, kind === "public" ? "" : secret)} /> ${kind === "public" ? "Anyone" : kind === "password" ? "Whoever types a password" : "Scripts with a token"}</label>`)}
          ${access !== "public" && html`<div class="field"><label for="page-secret">Vault secret holding the ${access}</label>
            <input id="page-secret" value=${secret} onInput=${(e) => setAccess(access, e.target.value)} placeholder="STATUS_PASSWORD" /></div>`}
        </fieldset>
        <div class="field"><label class="inline"><input type="checkbox" checked=${!!page.auto_incidents}
          onChange=${(e) => set({ auto_incidents: e.target.checked || undefined })} />
          Open an incident by itself when a component's monitor is confirmed down (and resolve it when all are up)</label></div>
        ${page.groups.map((group, g) => html`
          <fieldset class="group-editor"><legend>Group ${g + 1}</legend>
            <div class="field"><label for=${`group-${g}`}>Group name</label>
              <input id=${`group-${g}`} value=${group.name} onInput=${(e) => setGroup(g, { name: e.target.value })} /></div>
            ${group.components.map((component, c) => html`
              <div class="component-editor">
                <div class="field"><label for=${`component-${g}-${c}`}>Component name (public)</label>
                  <input id=${`component-${g}-${c}`} value=${component.name} onInput=${(e) => setComponent(g, c, { name: e.target.value })} /></div>
                <div class="field"><label for=${`component-${g}-${c}-kind`}>Shows</label>
                  <select id=${`component-${g}-${c}-kind`} value=${component.site !== undefined ? "site" : "monitors"}
                    onChange=${(e) => setComponent(g, c, e.target.value === "site" ? { site: names.sites[0] ?? "", monitors: undefined } : { site: undefined, monitors: [] })}>
                    <option value="monitors">Monitors</option><option value="site">What real users see (RUM site)</option></select></div>
                ${component.site !== undefined
                  ? html`<div class="field"><label for=${`component-${g}-${c}-site`}>Site</label>
                      <select id=${`component-${g}-${c}-site`} value=${component.site} onChange=${(e) => setComponent(g, c, { site: e.target.value })}>
                        ${names.sites.map((name) => html`<option value=${name}>${name}</option>`)}</select></div>`
                  : html`<div class="field"><label for=${`component-${g}-${c}-monitors`}>Monitors (down when any is)</label>
                      <select multiple size="4" id=${`component-${g}-${c}-monitors`}
                        onChange=${(e) => setComponent(g, c, { monitors: [...e.target.selectedOptions].map((o) => o.value) })}>
                        ${names.monitors.map((name) => html`<option value=${name} selected=${(component.monitors ?? []).includes(name)}>${name}</option>`)}</select></div>`}
                <button type="button" class="link" onClick=${() => setGroup(g, { components: group.components.filter((_, i) => i !== c) })}>Remove ${component.name || "this component"}</button>
              </div>`)}
            <button type="button" onClick=${() => setGroup(g, { components: [...group.components, { name: "", monitors: [] }] })}>Add a component</button>
            <button type="button" class="link" onClick=${() => set({ groups: page.groups.filter((_, i) => i !== g) })}>Remove this group</button>
          </fieldset>`)}
        <p><button type="button" onClick=${() => set({ groups: [...page.groups, { name: "", components: [] }] })}>Add a group</button></p>
        ${error && html`<p class="error" role="alert">${error.field ? `${error.field}: ` : ""}${error.message}</p>`}
        ${saved && html`<p class="ok" role="status">${saved}</p>`}
        <div class="actions"><button type="submit">${id ? "Save" : "Create page"}</button>
          ${id && html`<a href=${`/status/${page.slug}`} target="_blank" rel="noopener">Open the public page</a>
            <button type="button" class="danger" onClick=${remove}>Delete</button>`}</div>
      </form>
      <section class="preview" aria-label="Preview">
        <h2>Preview</h2>
        ${preview ? html`<iframe title="Preview of the public page" srcdoc=${preview} sandbox=""></iframe>` : html`<p class="empty">Give the page a title and an address to see it.</p>`}
      </section>
    </div>
    ${id && html`<${WrittenIncidents} pageId=${id} components=${page.groups.flatMap((g) => g.components.map((c) => c.name))} />`}`;
}

/** The incidents written on a page, a form for a new one, and updates. */
function WrittenIncidents({ pageId, components }) {
  const [incidents, setIncidents] = useState(null);
  const [error, setError] = useState(null);
  const [draft, setDraft] = useState({ title: "", components: [], state: "investigating", message: "" });
  const load = () => get(`/status-pages/${pageId}/incidents`).then(setIncidents, setError);
  useEffect(() => {
    load();
  }, [pageId]);
  const post = async (event) => {
    event.preventDefault();
    try {
      await api("POST", `/status-pages/${pageId}/incidents`, draft);
      setDraft({ title: "", components: [], state: "investigating", message: "" });
      setError(null);
      load();
    } catch (failure) {
      setError(failure);
    }
  };
  return html`
    <section aria-labelledby="written"><h2 id="written">Incidents on this page</h2>
      <form class="monitor-form" onSubmit=${post} novalidate aria-label="New incident">
        <div class="field"><label for="incident-title">Title</label>
          <input id="incident-title" value=${draft.title} onInput=${(e) => setDraft({ ...draft, title: e.target.value })} placeholder="Checkout is slow" /></div>
        <fieldset><legend>Affects</legend>
          ${components.map((name) => html`<label class="inline"><input type="checkbox" checked=${draft.components.includes(name)}
            onChange=${(e) => setDraft({ ...draft, components: e.target.checked ? [...draft.components, name] : draft.components.filter((n) => n !== name) })} /> ${name}</label>`)}
        </fieldset>
        <${StateField} id="incident-state" value=${draft.state} onChange=${(state) => setDraft({ ...draft, state })} />
        <div class="field"><label for="incident-message">What to tell your customers</label>
          <textarea id="incident-message" rows="3" value=${draft.message} onInput=${(e) => setDraft({ ...draft, message: e.target.value })}></textarea></div>
        ${error && html`<p class="error" role="alert">${error.field ? `${error.field}: ` : ""}${error.message}</p>`}
        <div class="actions"><button type="submit">Post incident</button></div>
      </form>
      ${incidents === null
        ? html`<p class="loading">Loading…</p>`
        : incidents.length === 0
          ? html`<p class="empty">No incident in the last 90 days.</p>`
          : incidents.map((incident) => html`<${WrittenIncident} key=${incident.id} pageId=${pageId} incident=${incident} reload=${load} />`)}
    </section>`;
}

function StateField({ id, value, onChange }) {
  return html`<div class="field"><label for=${id}>State</label>
    <select id=${id} value=${value} onChange=${(e) => onChange(e.target.value)}>
      ${STATES.map((state) => html`<option value=${state}>${label(state)}</option>`)}</select></div>`;
}

function WrittenIncident({ pageId, incident, reload }) {
  const [update, setUpdate] = useState({ state: incident.state === "resolved" ? "resolved" : incident.state, message: "" });
  const [title, setTitle] = useState(incident.title);
  const [editing, setEditing] = useState(null);
  const [error, setError] = useState(null);
  const path = `/status-pages/${pageId}/incidents/${incident.id}`;
  const act = (work) => async (event) => {
    event?.preventDefault();
    try {
      await work();
      setError(null);
      reload();
    } catch (failure) {
      setError(failure);
    }
  };
  return html`
    <article class="written-incident" data-testid="written-incident">
      <form class="inline-form" onSubmit=${act(() => api("PATCH", path, { title }))} aria-label="Title">
        <label for=${`title-${incident.id}`} class="visually-hidden">Title</label>
        <input id=${`title-${incident.id}`} value=${title} onInput=${(e) => setTitle(e.target.value)} />
        ${title !== incident.title && html`<button type="submit">Save title</button>`}
        <span class=${`chip ${incident.state}`}>${label(incident.state)}</span>
      </form>
      <p class="muted">${incident.components.length ? `Affects ${incident.components.join(", ")}` : "Affects no component"}${incident.automatic ? " · opened by Sightline" : ""}</p>
      <ol class="updates">
        ${[...incident.updates].reverse().map((u) => html`<li>
          <strong>${label(u.state)}</strong> · ${when(u.at)}${u.author ? ` · ${u.author}` : ""}
          ${editing?.id === u.id
            ? html`<form onSubmit=${act(async () => {
                await api("PATCH", `${path}/updates/${u.id}`, { message: editing.message });
                setEditing(null);
              })}>
                <label for=${`update-${u.id}`} class="visually-hidden">Update text</label>
                <textarea id=${`update-${u.id}`} rows="2" value=${editing.message} onInput=${(e) => setEditing({ ...editing, message: e.target.value })}></textarea>
                <button type="submit">Save</button> <button type="button" class="link" onClick=${() => setEditing(null)}>Cancel</button></form>`
            : html`<p>${u.message} <button type="button" class="link" onClick=${() => setEditing({ id: u.id, message: u.message })}>Edit</button></p>`}
        </li>`)}
      </ol>
      <form class="monitor-form" onSubmit=${act(async () => {
        await api("POST", `${path}/updates`, update);
        setUpdate({ ...update, message: "" });
      })} aria-label="New update">
        <${StateField} id=${`update-state-${incident.id}`} value=${update.state} onChange=${(state) => setUpdate({ ...update, state })} />
        <div class="field"><label for=${`update-message-${incident.id}`}>Update</label>
          <textarea id=${`update-message-${incident.id}`} rows="2" value=${update.message} onInput=${(e) => setUpdate({ ...update, message: e.target.value })}></textarea></div>
        ${error && html`<p class="error" role="alert">${error.field ? `${error.field}: ` : ""}${error.message}</p>`}
        <div class="actions"><button type="submit">Post update</button>
          <button type="button" class="danger" onClick=${act(async () => {
            if (confirm(`Delete the incident ${incident.title}?`)) await api("DELETE", path);
          })}>Delete incident</button></div>
      </form>
    </article>`;
}
