// The audit log, for admins: who created, changed or deleted what, when,
// from where, and field by field what a change did. Newest first, a
// hundred at a time, filtered by kind of object or by person.
import { html, useEffect, useState } from "./html.js";
import { get } from "./api.js";
import { ago, when } from "./format.js";

const KINDS = [
  "monitor", "site", "alert policy", "maintenance window", "status page",
  "status page incident", "user", "token", "secret",
];

const PAGE = 100;

/** A value as a short line of text. */
function shown(value) {
  if (value === undefined || value === null) return "—";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 119)}…` : text;
}

/** What a change did, field by field; a creation or a deletion says so. */
function Changes({ entry }) {
  if (entry.action !== "changed") return null;
  if (entry.changes.length === 0) return html`<br /><small>saved unchanged</small>`;
  return html`
    <ul class="changes">${entry.changes.map((change) => html`
      <li key=${change.path}><code>${change.path}</code>: <del>${shown(change.before)}</del> → <ins>${shown(change.after)}</ins></li>`)}
    </ul>`;
}

/** The query for a page of entries. */
function query(kind, actor, before) {
  const params = new URLSearchParams({ limit: String(PAGE) });
  if (kind) params.set("kind", kind);
  if (actor) params.set("actor", actor);
  if (before) params.set("before", String(before));
  return `/audit-log?${params}`;
}

export function AuditLog({ search, navigate }) {
  const params = new URLSearchParams(search);
  const kind = params.get("kind") ?? "";
  const actor = params.get("actor") ?? "";
  const [entries, setEntries] = useState(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState(null);
  const load = async (before) => {
    try {
      const page = await get(query(kind, actor, before));
      setEntries((shownSoFar) => (before ? [...(shownSoFar ?? []), ...page] : page));
      setMore(page.length === PAGE);
      setError(null);
    } catch (failure) {
      setError(failure.message);
    }
  };
  useEffect(() => {
    setEntries(null);
    load(null);
  }, [kind, actor]);
  const filter = (changes) => {
    const next = new URLSearchParams({ kind, actor, ...changes });
    for (const [name, value] of [...next]) if (!value) next.delete(name);
    const text = next.toString();
    navigate(`/audit-log${text ? `?${text}` : ""}`);
  };
  return html`
    <h1>Audit log</h1>
    <form class="inline" aria-label="Filter the audit log" onSubmit=${(event) => event.preventDefault()}>
      <label for="audit-kind">What</label>
      <select id="audit-kind" value=${kind} onChange=${(event) => filter({ kind: event.target.value })}>
        <option value="">everything</option>
        ${KINDS.map((name) => html`<option key=${name} value=${name}>${name}</option>`)}
      </select>
      ${actor && html`<span>by <strong>${actor}</strong> <button type="button" onClick=${() => filter({ actor: "" })}>Everyone</button></span>`}
    </form>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${!entries ? !error && html`<p class="loading">Loading…</p>` : entries.length === 0
      ? html`<p data-testid="no-audit-entries">No changes recorded${kind || actor ? " for this filter" : " yet"}.</p>`
      : html`
      <div class="scroll">
      <table class="audit" data-testid="audit-log">
        <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What changed</th></tr></thead>
        <tbody>${entries.map((entry) => html`
          <tr key=${entry.id} data-entry=${entry.id}>
            <td><time datetime=${entry.at} title=${when(entry.at)}>${ago(entry.at)}</time></td>
            <td><a href=${`/audit-log?${new URLSearchParams({ actor: entry.actor })}`}>${entry.actor}</a>
              <br /><small>${entry.credential}${entry.address ? ` from ${entry.address}` : ""}</small></td>
            <td>${entry.action} ${entry.kind} <strong>${entry.object_name ?? entry.object_id ?? ""}</strong>
              <${Changes} entry=${entry} /></td>
          </tr>`)}
        </tbody>
      </table>
      </div>
      ${more && html`<button type="button" onClick=${() => load(entries[entries.length - 1].id)}>Older changes</button>`}`}`;
}
