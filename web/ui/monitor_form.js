// Creating and editing a monitor. The form shows the fields of the chosen
// type, asks the API to validate as people type (the same rules and words
// as saving), can try the settings once before they are saved, and saves
// exactly the document the API (and `sightline export`) holds.
import { html, useEffect, useRef, useState } from "./html.js";
import { api, get } from "./api.js";
import { StepsEditor } from "./steps.js";
import { ApiStepsEditor } from "./api_steps.js";
import { assertionsOf, assertionsText, headersOf, headersText } from "./line_formats.js";

const TYPES = [
  ["http", "HTTP(S)"],
  ["tcp", "TCP port"],
  ["dns", "DNS"],
  ["tls", "TLS certificate"],
  ["ping", "Ping"],
  ["api", "Multi-step API"],
  ["browser", "Page performance (browser)"],
  ["transaction", "Transaction (browser)"],
];

/** The fields of each type: [path in the document, label, kind, hint]. */
const FIELDS = {
  http: [
    ["url", "URL", "text", "https://shop.example.com/"],
    ["method", "Method", "text", "GET"],
    ["expect.status", "Expected status codes", "codes", "200, 301 (any 2xx when empty)"],
    ["headers", "Request headers (Name: value, one per line)", "headers", "Authorization: Bearer {{secrets.TOKEN}}"],
    ["expect.body_contains", "Body contains", "text", ""],
    ["expect.json", "Conditions on a JSON answer ($.path == value, $.path exists, $.path missing; one per line)", "assertions", '$.status == "ok"'],
    ["expect.max_response_ms", "Slowest acceptable response (ms)", "number", ""],
  ],
  tcp: [
    ["host", "Host", "text", "db.example.com"],
    ["port", "Port", "number", "5432"],
  ],
  dns: [
    ["host", "Name", "text", "example.com"],
    ["record_type", "Record type", "text", "A"],
    ["expect", "Expected answers", "list", "93.184.215.14"],
  ],
  tls: [
    ["host", "Host", "text", "shop.example.com"],
    ["port", "Port", "number", "443"],
    ["warn_days", "Warn days before expiry", "number", "21"],
  ],
  ping: [["host", "Host", "text", "gateway.example.com"]],
  browser: [
    ["url", "Page URL", "text", "https://shop.example.com/"],
    ["expect.max_lcp_ms", "Slowest acceptable LCP (ms)", "number", ""],
  ],
  api: [["steps", "Requests", "api_steps", ""]],
  transaction: [["steps", "Steps", "steps", ""]],
};

/** Settings every type has. */
const SETTINGS = [
  ["every", "Every", "text", "1m"],
  ["timeout", "Timeout", "text", "the type's default"],
  ["checkpoints", "Checkpoints", "list", "local"],
  ["down_when_failing", "Down when this many checkpoints fail", "number", "unset: one failure, confirmed elsewhere"],
  ["tags", "Tags", "list", ""],
  ["site", "RUM site", "text", ""],
  ["alert_policy", "Alert policy", "text", ""],
  ["depends_on", "Depends on monitor", "text", ""],
];

const pathOf = (path) => path.split(".");

function read(document, path) {
  return pathOf(path).reduce((value, key) => (value == null ? undefined : value[key]), document);
}

/** The document with `path` set to `value`, or removed when it is empty. */
function write(document, path, value) {
  const copy = structuredClone(document);
  const keys = pathOf(path);
  let node = copy;
  for (const key of keys.slice(0, -1)) {
    node[key] = node[key] ?? {};
    node = node[key];
  }
  const last = keys[keys.length - 1];
  const empty = value === "" || value == null || (Array.isArray(value) && value.length === 0);
  if (empty) delete node[last];
  else node[last] = value;
  if (keys.length > 1 && Object.keys(node).length === 0) delete copy[keys[0]];
  return copy;
}

/** The text an input shows for a value. */
function shown(value, kind) {
  if (value == null) return "";
  if (kind === "list" || kind === "codes") return value.join(", ");
  if (kind === "json") return JSON.stringify(value, null, 2);
  if (kind === "headers") return headersText(value);
  if (kind === "assertions") return assertionsText(value);
  return String(value);
}

/** The value an input's text stands for; a JSON text that does not parse stays text. */
function parsed(text, kind) {
  const items = () => text.split(",").map((item) => item.trim()).filter(Boolean);
  if (kind === "list") return items();
  if (kind === "codes") return items().map((item) => (/^\d+$/.test(item) ? Number(item) : item));
  if (kind === "number") return text.trim() === "" ? "" : Number(text);
  if (kind === "assertions") return assertionsOf(text);
  if (kind === "headers") {
    const headers = headersOf(text);
    return Object.keys(headers).length === 0 ? "" : headers;
  }
  if (kind === "json") {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

/** The fields the API's read-only answer adds, left out of what is sent. */
const READ_ONLY = ["id", "site_id", "status", "status_since", "endpoint", "created_at", "updated_at"];

/** A monitor as the API answers it, as it can be sent back: without the
 * read-only fields. */
export function editable(monitor) {
  const document = { ...monitor };
  for (const key of READ_ONLY) delete document[key];
  return document;
}

function Field({ path, label, kind, hint, document, error, onChange }) {
  const id = `field-${path.replaceAll(".", "-")}`;
  const [text, setText] = useState(shown(read(document, path), kind));
  const errorId = `${id}-error`;
  const input = {
    id,
    name: path,
    "data-field": path,
    placeholder: hint,
    value: text,
    "aria-invalid": error ? "true" : undefined,
    "aria-describedby": error ? errorId : undefined,
    onInput: (event) => {
      setText(event.target.value);
      onChange(path, parsed(event.target.value, kind));
    },
  };
  return html`
    <div class=${`field ${error ? "invalid" : ""}`}>
      <label for=${id}>${label}</label>
      ${kind === "json" ? html`<textarea rows="8" ...${input}></textarea>` : kind === "headers" || kind === "assertions" ? html`<textarea rows="3" ...${input}></textarea>` : html`<input type=${kind === "number" ? "number" : "text"} ...${input} />`}
      ${error && html`<p class="field-error" id=${errorId} role="alert">${error}</p>`}
    </div>`;
}

/** The error of `path`: the API names fields as `expect.status[0]`. */
function errorFor(error, path) {
  if (!error || !error.field) return null;
  const field = error.field.replace(/\[\d+\]$/, "");
  return field === path || field.startsWith(`${path}.`) || field.startsWith(`${path}[`) ? error.message : null;
}

export function MonitorForm({ id, navigate }) {
  const [document, setDocument] = useState(id ? null : { name: "", type: "http", every: "1m" });
  const [error, setError] = useState(null);
  const [tried, setTried] = useState(null);
  const [busy, setBusy] = useState(false);
  const checking = useRef(0);
  useEffect(() => {
    if (!id) return;
    get(`/monitors/${id}`).then((monitor) => setDocument(editable(monitor)), (failure) => setError({ message: failure.message }));
  }, [id]);
  if (!document) {
    return html`<p class=${error ? "error" : "loading"}>${error?.message ?? "Loading…"}</p>`;
  }
  const validate = (next) => {
    const ticket = ++checking.current;
    setTimeout(async () => {
      if (ticket !== checking.current) return;
      try {
        await api("POST", "/monitors/validate", next);
        if (ticket === checking.current) setError(null);
      } catch (failure) {
        if (ticket === checking.current) setError(failure);
      }
    }, 300);
  };
  const change = (path, value) => {
    const next = write(document, path, value);
    setDocument(next);
    setTried(null);
    validate(next);
  };
  const changeType = (type) => {
    // Only the settings every type shares carry over.
    const next = { type };
    for (const key of ["name", ...SETTINGS.map(([path]) => path), "enabled"]) {
      if (document[key] !== undefined) next[key] = document[key];
    }
    setDocument(next);
    setTried(null);
    setError(null);
  };
  const save = async (event) => {
    event.preventDefault();
    setBusy(true);
    try {
      const saved = id
        ? await api("PUT", `/monitors/${id}`, document)
        : await api("POST", "/monitors", document);
      navigate(`/monitors/${saved.id}`);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const tryIt = async () => {
    setBusy(true);
    setTried(null);
    try {
      setTried(await api("POST", "/monitors/try", document));
      setError(null);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const fields = [["name", "Name", "text", "shop home"], ...(FIELDS[document.type] ?? []), ...SETTINGS];
  const known = fields.some(([path]) => errorFor(error, path));
  return html`
    <p><a href=${id ? `/monitors/${id}` : "/"}>← ${id ? "Back" : "Overview"}</a></p>
    <h1>${id ? `Edit ${document.name}` : "New monitor"}</h1>
    <form class="monitor-form" onSubmit=${save} novalidate>
      <div class="field">
        <label for="field-type">Type</label>
        <select id="field-type" data-field="type" value=${document.type} onChange=${(e) => changeType(e.target.value)}>
          ${TYPES.map(([value, label]) => html`<option value=${value}>${label}</option>`)}
        </select>
      </div>
      ${fields.map(([path, label, kind, hint]) =>
        kind === "api_steps"
          ? html`<${ApiStepsEditor} key=${`${document.type}-${path}`} document=${document} error=${error} onChange=${change} />`
          : kind === "steps"
          ? html`<${StepsEditor} key=${`${document.type}-${path}`} steps=${document.steps} error=${error} onChange=${(steps) => change("steps", steps)} />`
          : html`<${Field} key=${`${document.type}-${path}`} path=${path} label=${label} kind=${kind} hint=${hint}
              document=${document} error=${errorFor(error, path)} onChange=${change} />`)}
      ${error && !known && html`<p class="error" role="alert">${error.message}</p>`}
      <div class="actions">
        <button type="button" onClick=${tryIt} disabled=${busy}>Try it now</button>
        <button type="submit" disabled=${busy}>${id ? "Save" : "Create"}</button>
      </div>
      ${tried && html`
        <div class="tried" role="status" data-testid="tried">
          <span class=${`badge ${tried.outcome === "error" ? "down" : tried.outcome}`}>${tried.outcome}</span>
          ${` ${tried.duration_ms} ms`}${tried.status_code ? ` · HTTP ${tried.status_code}` : ""}
          ${tried.problem && html`<span class="problem"> · ${tried.problem.message}</span>`}
        </div>`}
    </form>`;
}
