// Creating and editing a monitor, in four numbered parts: what to check,
// more about the check, when and from where, who is told. The fields come
// from the server's type catalogue (`GET /monitor-types`: kinds, help,
// choices, defaults, from the same definitions that validate), names of
// other things are picked from those that exist, the API checks the
// document as people type (showing the fields they touched) and names
// every problem at once on save. A new monitor is checked once as soon as
// it is saved; the document saved is exactly the one the API holds.
import { html, useEffect, useRef, useState } from "./html.js";
import { api, get } from "./api.js";
import { StepsEditor } from "./steps.js";
import { ApiStepsEditor } from "./api_steps.js";
import { assertionsOf, assertionsText, headersOf, headersText } from "./line_formats.js";
import { PickMany, PickOne } from "./pick.js";
import { rememberRun } from "./first_run.js";

/** The types' names in the menu; a type the server adds shows its own name. */
const TYPE_LABELS = {
  http: "HTTP(S)",
  tcp: "TCP port",
  dns: "DNS",
  tls: "TLS certificate",
  ping: "Ping",
  api: "Multi-step API",
  browser: "Page performance (browser)",
  transaction: "Transaction (browser)",
};

/** Which shared settings go in which part of the form. */
const SCHEDULE = ["every", "cron", "timeout", "checkpoints", "down_when_failing", "enabled"];
const LINKS = ["alert_policy", "depends_on", "site", "tags"];

/** Words for a field's last name: `max_response_ms` is "Max response (ms)". */
const WORDS = { url: "URL", tls: "TLS", lcp: "LCP", rtt: "round trip", ms: "(ms)", json: "JSON", sni: "SNI", id: "ID" };
function labelOf(path) {
  const text = path.split(".").pop().split("_").map((word) => WORDS[word] ?? word).join(" ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Markdown's `code` in help text, shown as code. */
function Help({ id, text }) {
  if (!text) return null;
  const parts = text.split("`");
  return html`<small class="hint" id=${id}>${parts.map((part, i) => (i % 2 ? html`<code>${part}</code>` : part))}</small>`;
}

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

/** How a field is typed: its catalogue kind made into an input's. */
function inputKind(field) {
  if (field.kind === "list" && field.items === "object") return field.path.endsWith("json") ? "assertions" : "objects";
  if (field.kind === "list") return field.choices?.length ? "choices" : field.items === "integer" ? "codes" : "list";
  if (field.kind === "map") return "headers";
  if (field.kind === "boolean") return "boolean";
  if (field.kind === "integer" || field.kind === "number") return "number";
  if (field.variants?.length) return "variants";
  if (field.choices?.length) return "choice";
  return "text";
}

/** The text an input shows for a value. */
function shown(value, kind) {
  if (value == null) return "";
  if (kind === "list" || kind === "codes") return value.join(", ");
  if (kind === "headers") return headersText(value);
  if (kind === "assertions") return assertionsText(value);
  return String(value);
}

/** The value an input's text stands for; what does not parse is sent as
 * typed, for the API to name. */
function parsed(text, kind) {
  const items = () => text.split(",").map((item) => item.trim()).filter(Boolean);
  if (kind === "list") return items();
  if (kind === "codes") return items().map((item) => (/^\d+$/.test(item) ? Number(item) : item));
  if (kind === "number") return text.trim() === "" ? "" : /^-?\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : text;
  if (kind === "assertions") return assertionsOf(text);
  if (kind === "headers") {
    const headers = headersOf(text);
    return Object.keys(headers).length === 0 ? "" : headers;
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

/** The problems of an API answer: its list, or its one field and message. */
function problemsOf(failure) {
  if (!failure) return [];
  if (failure.errors?.length) return failure.errors;
  return [{ field: failure.field ?? "", message: failure.message }];
}

/** Whether a problem's field is `path` or lies within it. */
function within(problemField, path) {
  const field = problemField.replace(/\[\d+\]$/, "");
  return field === path || field.startsWith(`${path}.`) || field.startsWith(`${path}[`);
}

/** A field's default as its placeholder, or else its example ("e.g. 2"). */
function placeholder(field) {
  const text = (value) => (Array.isArray(value) ? value.join(", ") : String(value));
  if (field.default != null) return text(field.default);
  return field.example != null ? `e.g. ${text(field.example)}` : "";
}

const idOf = (path) => `field-${path.replaceAll(".", "-")}`;

/** One field of the catalogue, as the input its kind needs. */
function Field({ field, document, problem, onChange, label }) {
  const path = field.path;
  const kind = inputKind(field);
  const id = idOf(path);
  const value = read(document, path);
  const [text, setText] = useState(shown(value, kind));
  const describedBy = [field.help && `${id}-help`, problem && `${id}-error`].filter(Boolean).join(" ") || undefined;
  const common = { id, name: path, "data-field": path, "aria-invalid": problem ? "true" : undefined, "aria-describedby": describedBy };
  const typed = (event) => {
    setText(event.target.value);
    onChange(path, parsed(event.target.value, kind));
  };
  let input;
  if (kind === "boolean") {
    const checked = value ?? field.default ?? false;
    return html`
      <div class=${`field check ${problem ? "invalid" : ""}`}>
        <label><input type="checkbox" ...${common} checked=${checked}
          onChange=${(event) => onChange(path, event.target.checked)} />
          ${label ?? labelOf(path)}</label>
        <${Help} id=${`${id}-help`} text=${field.help} />
        ${problem && html`<p class="field-error" id=${`${id}-error`} role="alert">${problem}</p>`}
      </div>`;
  }
  if (kind === "choice") {
    input = html`
      <select ...${common} value=${value ?? ""} onChange=${(event) => onChange(path, event.target.value || undefined)}>
        <option value="">${field.default != null ? `${field.default} (the default)` : "the default"}</option>
        ${field.choices.map((choice) => html`<option value=${choice}>${choice}</option>`)}
      </select>`;
  } else if (kind === "choices") {
    return html`<${PickMany} id=${id} label=${label ?? labelOf(path)} options=${field.choices} chosen=${value ?? []} error=${problem}
      hint=${field.help} onChange=${(chosen) => onChange(path, chosen)} />`;
  } else if (kind === "headers" || kind === "assertions") {
    input = html`<textarea rows="3" ...${common} value=${text} onInput=${typed}
      placeholder=${kind === "headers" ? "Name: value, one per line" : '$.status == "ok", one per line'}></textarea>`;
  } else {
    input = html`<input type=${kind === "number" ? "number" : "text"} ...${common} value=${text} onInput=${typed}
      placeholder=${placeholder(field)} />`;
  }
  return html`
    <div class=${`field ${problem ? "invalid" : ""}`}>
      <label for=${id}>${label ?? labelOf(path)}${field.required ? html` <span class="required" title="required">*</span>` : ""}</label>
      ${input}
      <${Help} id=${`${id}-help`} text=${field.help} />
      ${problem && html`<p class="field-error" id=${`${id}-error`} role="alert">${problem}</p>`}
    </div>`;
}

/** An object of one of several forms (`auth`): the form, then its fields. */
function VariantField({ field, document, problemAt, onChange }) {
  const value = read(document, field.path) ?? {};
  const chosen = field.variants.find((variant) => variant.name === value[field.tag]);
  const id = idOf(field.path);
  const set = (next) => onChange(field.path, next);
  return html`
    <fieldset class="group" id=${id}>
      <legend>${labelOf(field.path)}</legend>
      <${Help} text=${field.help} />
      <div class="field">
        <label for=${`${id}-${field.tag}`}>${labelOf(field.tag)}</label>
        <select id=${`${id}-${field.tag}`} data-field=${`${field.path}.${field.tag}`} value=${chosen?.name ?? ""}
          onChange=${(event) => set(event.target.value ? { [field.tag]: event.target.value } : undefined)}>
          <option value="">none</option>
          ${field.variants.map((variant) => html`<option value=${variant.name}>${variant.name} — ${variant.help}</option>`)}
        </select>
      </div>
      ${chosen && chosen.fields.map((inner) => html`
        <${Field} key=${`${chosen.name}-${inner.path}`} field=${{ ...inner, path: `${field.path}.${inner.path}` }} document=${document}
          problem=${problemAt(`${field.path}.${inner.path}`)} onChange=${onChange} />`)}
      ${problemAt(field.path) && html`<p class="field-error" role="alert">${problemAt(field.path)}</p>`}
    </fieldset>`;
}

/** A list of small objects (`expect.headers`): one row of fields each. */
function ObjectListField({ field, document, problemAt, onChange }) {
  const items = read(document, field.path) ?? [];
  const id = idOf(field.path);
  const set = (next) => onChange(field.path, next);
  const scalar = field.item_fields.filter((inner) => inner.kind !== "object" && inner.kind !== "list");
  return html`
    <fieldset class="group" id=${id} data-field=${field.path}>
      <legend>${labelOf(field.path)}</legend>
      <${Help} text=${field.help} />
      <ol class="object-list">
        ${items.map((item, index) => html`
          <li key=${index}>
            ${scalar.map((inner) => html`
              <${Field} key=${`${index}-${inner.path}`} field=${{ ...inner, path: `${field.path}.${index}.${inner.path}` }}
                label=${labelOf(inner.path)} document=${document}
                problem=${problemAt(`${field.path}[${index}].${inner.path}`) ?? (inner.required ? problemAt(`${field.path}[${index}]`) : null)}
                onChange=${(_, value) => set(items.map((it, i) => (i === index ? write(it, inner.path, value) : it)))} />`)}
            <button type="button" onClick=${() => set(items.filter((_, i) => i !== index))}>Remove</button>
          </li>`)}
      </ol>
      <button type="button" onClick=${() => set([...items, {}])}>Add</button>
    </fieldset>`;
}

/** The fields of one part of the form; objects become groups of their own. */
function Fields({ fields, document, problems, problemAt, onChange, type }) {
  const groups = new Set(fields.filter((f) => f.kind === "object" && !f.variants?.length).map((f) => f.path));
  const top = fields.filter((f) => !f.path.includes(".") || !groups.has(f.path.split(".")[0]));
  const render = (field) => {
    const key = `${type}-${field.path}`;
    if (field.path === "steps") {
      return type === "api"
        ? html`<${ApiStepsEditor} key=${key} document=${document} errors=${problems} onChange=${onChange} />`
        : html`<${StepsEditor} key=${key} steps=${document.steps} errors=${problems} onChange=${(steps) => onChange("steps", steps)} />`;
    }
    if (field.variants?.length) return html`<${VariantField} key=${key} field=${field} document=${document} problemAt=${problemAt} onChange=${onChange} />`;
    if (inputKind(field) === "objects") return html`<${ObjectListField} key=${key} field=${field} document=${document} problemAt=${problemAt} onChange=${onChange} />`;
    if (groups.has(field.path)) {
      const inner = fields.filter((f) => f.path.startsWith(`${field.path}.`));
      return html`
        <fieldset class="group" key=${key} id=${idOf(field.path)}>
          <legend>${field.help || labelOf(field.path)}</legend>
          ${inner.map(render)}
        </fieldset>`;
    }
    return html`<${Field} key=${key} field=${field} document=${document} problem=${problemAt(field.path)} onChange=${onChange} />`;
  };
  return top.map(render);
}

/** A numbered part of the form. */
function Part({ number, title, children }) {
  return html`
    <fieldset class="part" data-part=${number}>
      <legend><span class="part-number">${number}</span> ${title}</legend>
      ${children}
    </fieldset>`;
}

/** What the form picks names from: sites, alert policies, checkpoints, monitors. */
function usePickable() {
  const [pickable, setPickable] = useState({ sites: [], policies: [], checkpoints: [], monitors: [] });
  useEffect(() => {
    const names = (list) => list.map((item) => item.name).sort((a, b) => a.localeCompare(b));
    Promise.all([get("/sites"), get("/alert-policies"), get("/checkpoints"), get("/monitors")]).then(
      ([sites, policies, checkpoints, monitors]) =>
        setPickable({
          sites: names(sites),
          policies: names(policies),
          checkpoints: names(checkpoints),
          monitors: names(monitors),
          tags: [...new Set(monitors.flatMap((m) => m.tags ?? []))].sort(),
        }),
      () => {},
    );
  }, []);
  return pickable;
}

export function MonitorForm({ id, navigate }) {
  const [catalogue, setCatalogue] = useState(null);
  const [document, setDocument] = useState(id ? null : { name: "", type: "http", every: "1m" });
  const [problems, setProblems] = useState([]);
  const [touched, setTouched] = useState(new Set());
  const [showAll, setShowAll] = useState(false);
  const [loadError, setLoadError] = useState(null);
  const [tried, setTried] = useState(null);
  const [busy, setBusy] = useState(null);
  const checking = useRef(0);
  const summary = useRef(null);
  const pickable = usePickable();
  useEffect(() => {
    get("/monitor-types").then(setCatalogue, (failure) => setLoadError(failure.message));
    if (id) get(`/monitors/${id}`).then((monitor) => setDocument(editable(monitor)), (failure) => setLoadError(failure.message));
  }, [id]);
  if (!document || !catalogue) {
    return html`<p class=${loadError ? "error" : "loading"}>${loadError ?? "Loading…"}</p>`;
  }
  const type = catalogue.types.find((t) => t.name === document.type);
  const settings = (names) => names.map((name) => catalogue.settings.find((f) => f.path === name)).filter(Boolean);
  const ownFields = type?.fields ?? [];
  const required = ownFields.filter((f) => f.required && !f.path.includes("."));
  const optional = ownFields.filter((f) => !required.includes(f));
  // A problem shows once its field was touched, or after a save.
  const visible = problems.filter(
    (p) => showAll || [...touched].some((path) => p.field === "" || within(p.field, path) || within(path, p.field)),
  );
  const problemAt = (path) => visible.find((p) => p.field && within(p.field, path))?.message ?? null;
  const placed = (p) => p.field === "type" || [...ownFields, ...catalogue.settings].some((f) => p.field && within(p.field, f.path));
  const validate = (next) => {
    const ticket = ++checking.current;
    setTimeout(async () => {
      if (ticket !== checking.current) return;
      try {
        await api("POST", "/monitors/validate", next);
        if (ticket === checking.current) setProblems([]);
      } catch (failure) {
        if (ticket === checking.current) setProblems(problemsOf(failure));
      }
    }, 300);
  };
  const change = (path, value) => {
    const next = write(document, path, value);
    setDocument(next);
    setTouched(new Set([...touched, path]));
    setTried(null);
    validate(next);
  };
  const changeType = (name) => {
    // Only the settings every type shares carry over.
    const next = { type: name };
    for (const field of catalogue.settings) {
      if (document[field.path] !== undefined) next[field.path] = document[field.path];
    }
    setDocument(next);
    setTried(null);
    setProblems([]);
    setShowAll(false);
  };
  const refused = (failure) => {
    setProblems(problemsOf(failure));
    setShowAll(true);
    setTimeout(() => summary.current?.focus(), 0);
  };
  const save = async (event) => {
    event.preventDefault();
    setBusy("saving");
    try {
      const saved = id ? await api("PUT", `/monitors/${id}`, document) : await api("POST", "/monitors", document);
      if (!id && saved.enabled !== false) {
        // A new monitor is checked once at once: its page opens with what
        // the check found instead of an empty chart.
        setBusy("checking");
        await rememberRun(saved.id, api("POST", `/monitors/${saved.id}/run`));
      }
      navigate(`/monitors/${saved.id}`);
    } catch (failure) {
      refused(failure);
      setBusy(null);
    }
  };
  const tryIt = async () => {
    setBusy("trying");
    setTried(null);
    try {
      setTried(await api("POST", "/monitors/try", document));
      setProblems([]);
    } catch (failure) {
      refused(failure);
    } finally {
      setBusy(null);
    }
  };
  const nameField = catalogue.settings.find((f) => f.path === "name");
  // The summary lists problems in the order of the form's fields.
  const order = ["type", "name", ...required.map((f) => f.path), ...optional.map((f) => f.path), ...SCHEDULE, ...LINKS];
  const rank = (p) => {
    const index = order.findIndex((path) => p.field && within(p.field, path));
    return index === -1 ? order.length : index;
  };
  const shownProblems = showAll ? [...problems].sort((a, b) => rank(a) - rank(b)) : [];
  const unplaced = shownProblems.filter((p) => !placed(p));
  const others = pickable.monitors.filter((name) => name !== document.name);
  return html`
    <p><a href=${id ? `/monitors/${id}` : "/"}>← ${id ? "Back" : "Overview"}</a></p>
    <h1>${id ? `Edit ${document.name}` : "New monitor"}</h1>
    <form class="monitor-form" onSubmit=${save} novalidate>
      ${shownProblems.length > 0 && html`
        <div class="problems" role="alert" tabindex="-1" ref=${summary} data-testid="problems">
          <p><strong>${shownProblems.length === 1 ? "One thing to fix" : `${shownProblems.length} things to fix`} before it can be saved:</strong></p>
          <ul>${shownProblems.map((p) => html`
            <li>${placed(p) ? html`<a href=${`#${idOf(p.field.replace(/\[\d+\].*$/, ""))}`}>${p.field}</a>: ` : ""}${p.message}</li>`)}</ul>
        </div>`}
      <${Part} number="1" title="What to check">
        <div class="field">
          <label for="field-type">Type</label>
          <select id="field-type" data-field="type" value=${document.type} onChange=${(e) => changeType(e.target.value)}>
            ${catalogue.types.map((t) => html`<option value=${t.name}>${TYPE_LABELS[t.name] ?? t.name}</option>`)}
          </select>
          <${Help} text=${type?.summary} />
          ${problemAt("type") && html`<p class="field-error" role="alert">${problemAt("type")}</p>`}
        </div>
        <${Field} key="name" field=${nameField} document=${document} problem=${problemAt("name")} onChange=${change} />
        <${Fields} fields=${required} document=${document} problems=${visible} problemAt=${problemAt} onChange=${change} type=${document.type} />
      <//>
      ${optional.length > 0 && html`
        <${Part} number="2" title=${`More about the ${TYPE_LABELS[document.type] ?? document.type} check`}>
          <${Fields} fields=${optional} document=${document} problems=${visible} problemAt=${problemAt} onChange=${change} type=${document.type} />
        <//>`}
      <${Part} number=${optional.length > 0 ? "3" : "2"} title="When and from where">
        ${settings(SCHEDULE).map((field) =>
          field.path === "checkpoints"
            ? html`<${PickMany} key="checkpoints" id=${idOf("checkpoints")} label="Checkpoints" options=${pickable.checkpoints}
                chosen=${document.checkpoints ?? field.default ?? []} error=${problemAt("checkpoints")} hint=${field.help}
                onChange=${(chosen) => change("checkpoints", chosen)} />`
            : html`<${Field} key=${field.path} field=${field} document=${document} problem=${problemAt(field.path)} onChange=${change} />`)}
      <//>
      <${Part} number=${optional.length > 0 ? "4" : "3"} title="Who is told, and what it belongs to">
        ${settings(LINKS).map((field) => {
          const pick = { alert_policy: pickable.policies, depends_on: others, site: pickable.sites }[field.path];
          if (pick) {
            return html`<${PickOne} key=${field.path} id=${idOf(field.path)} label=${labelOf(field.path)} options=${pick}
              value=${document[field.path]} error=${problemAt(field.path)} hint=${field.help}
              onChange=${(value) => change(field.path, value)} />`;
          }
          return html`<${Field} key=${field.path} field=${field} document=${document} problem=${problemAt(field.path)} onChange=${change} />`;
        })}
        ${pickable.tags?.length > 0 && html`<small class="hint">Tags in use: ${pickable.tags.join(", ")}</small>`}
      <//>
      ${unplaced.length > 0 && html`<p class="error" role="alert">${unplaced.map((p) => p.message).join("; ")}</p>`}
      <div class="actions">
        <button type="button" onClick=${tryIt} disabled=${busy !== null}>${busy === "trying" ? "Trying…" : "Try it now"}</button>
        <button type="submit" disabled=${busy !== null}>${busy === "saving" ? "Saving…" : busy === "checking" ? "Saved; checking it once…" : id ? "Save" : "Create"}</button>
      </div>
      ${tried && html`
        <div class="tried" role="status" data-testid="tried">
          <span class=${`badge ${tried.outcome === "error" ? "down" : tried.outcome}`}>${tried.outcome}</span>
          ${` ${tried.duration_ms} ms`}${tried.status_code ? ` · HTTP ${tried.status_code}` : ""}
          ${tried.problem && html`<span class="problem"> · ${tried.problem.message}</span>`}
        </div>`}
    </form>`;
}
