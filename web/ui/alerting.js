// Alert policies (who is told, after what, with reminders) and maintenance
// windows (when failures are recorded but not counted), edited as the API
// holds them.
import { useCanWrite } from "./role.js";
import { html, useEffect, useState } from "./html.js";
import { api, get } from "./api.js";
import { when } from "./format.js";
import { PickMany } from "./pick.js";
import { ScrollBox } from "./scroll_box.js";

const list = (text) => text.split(",").map((item) => item.trim()).filter(Boolean);
const joined = (items) => (items ?? []).join(", ");

/** The message of an API error about `field` (or one under it). */
function fieldError(error, field) {
  if (!error?.field) return null;
  return error.field === field || error.field.startsWith(`${field}.`) || error.field.startsWith(`${field}[`) ? error.message : null;
}

/** A labelled input that keeps what is typed as it is typed (a list's
 * trailing comma too); only its first text comes from `value`. */
function Input({ id, label, value, onInput, error, type = "text", hint }) {
  const [text, setText] = useState(value);
  return html`
    <div class=${`field ${error ? "invalid" : ""}`}>
      <label for=${id}>${label}</label>
      <input id=${id} type=${type} value=${text} placeholder=${hint}
        aria-invalid=${error ? "true" : undefined} aria-describedby=${error ? `${id}-error` : undefined}
        onInput=${(e) => {
          setText(e.target.value);
          onInput(e.target.value);
        }} />
      ${error && html`<p class="field-error" id=${`${id}-error`} role="alert">${error}</p>`}
    </div>`;
}

/** Saves `document` as a new item or over item `id`; `done` on success. */
async function save(path, id, document, setError, done) {
  try {
    if (id) await api("PUT", `${path}/${id}`, document);
    else await api("POST", path, document);
    setError(null);
    done();
  } catch (failure) {
    setError(failure);
  }
}

/** Keys of a level that are not channels. */
const LEVEL_FIELDS = new Set(["after", "email", "classes"]);
let nextTargetKey = 0;

/** A level as the form edits it: its channels' targets in one list, each
 * with a key that survives the removal of another. */
function editableLevel(level) {
  const targets = Object.entries(level)
    .filter(([name]) => !LEVEL_FIELDS.has(name))
    .flatMap(([channel, written]) => (written ?? []).map((target) => ({
      key: nextTargetKey++,
      channel,
      // `webhook: ["https://…"]` is the short form of `{url: …}`.
      settings: typeof target === "object" ? { ...target } : { url: target },
    })));
  return { after: level.after, email: level.email ?? [], classes: level.classes ?? [], targets };
}

/** A level as the API takes it: channels back under their names, empty
 * settings and lists left out. */
function writtenLevel(level) {
  const written = { after: level.after };
  if (level.email.length) written.email = level.email;
  if (level.classes.length) written.classes = level.classes;
  for (const { channel, settings } of level.targets) {
    const kept = Object.fromEntries(Object.entries(settings).filter(([, value]) => `${value}`.trim() !== ""));
    (written[channel] ??= []).push(kept);
  }
  return written;
}

/** One channel target: its settings, a test through the real outbox, and
 * removal. `path` is where the API's errors about it point. */
function ChannelTarget({ kind, target, path, id, error, onChange, onRemove }) {
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  const test = async () => {
    setBusy(true);
    setResult(null);
    try {
      const settings = Object.fromEntries(Object.entries(target.settings).filter(([, value]) => `${value}`.trim() !== ""));
      setResult(await api("POST", "/notifications/test", { channel: target.channel, target: settings }));
    } catch (failure) {
      setResult({ status: "refused", error: failure.message });
    } finally {
      setBusy(false);
    }
  };
  const label = kind?.label ?? target.channel;
  const fields = kind?.fields ?? Object.keys(target.settings).map((name) => ({ name, label: name, required: true, form: "text" }));
  const whole = error?.field === path || error?.field === path.replace(/\[\d+\]$/, "") ? error.message : null;
  return html`
    <fieldset class="channel-target" data-channel=${target.channel}>
      <legend>${label}</legend>
      ${kind && html`<p class="hint">${kind.about}</p>`}
      ${fields.map((field) => html`
        <${Input} key=${field.name} id=${`${id}-${field.name}`} value=${target.settings[field.name] ?? ""}
          label=${field.required ? field.label : `${field.label} (optional)`}
          hint=${field.form === "secret" ? "{{secrets.NAME}}" : field.form === "url" ? "https://…" : field.form === "chat_id" ? "-100123 or @channel" : undefined}
          error=${fieldError(error, `${path}.${field.name}`)}
          onInput=${(value) => onChange({ ...target, settings: { ...target.settings, [field.name]: value } })} />`)}
      ${whole && html`<p class="field-error" role="alert">${whole}</p>`}
      <div class="actions">
        <button type="button" disabled=${busy} onClick=${test}>${busy ? "Sending…" : "Send a test"}</button>
        <button type="button" onClick=${onRemove}>Remove</button>
      </div>
      ${result && html`<p role="status" data-testid="channel-test" class=${result.status === "sent" ? "" : "error"}>
        ${result.status}${result.answer ? `: ${result.answer}` : ""}${result.error ? `: ${result.error}` : ""}</p>`}
    </fieldset>`;
}

function PolicyForm({ policy, kinds, classes, onDone }) {
  const [document, setDocument] = useState({
    name: policy?.name ?? "",
    levels: (policy?.levels ?? [{ after: "1 confirmed error", email: [] }]).map(editableLevel),
    remind_every: policy?.remind_every,
    notify_recovery: policy?.notify_recovery ?? true,
    time_zone: policy?.time_zone ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
  });
  const [error, setError] = useState(null);
  const setLevel = (index, changes) =>
    setDocument({ ...document, levels: document.levels.map((level, i) => (i === index ? { ...level, ...changes } : level)) });
  const addTarget = (index, channel) => {
    if (!channel) return;
    const level = document.levels[index];
    setLevel(index, { targets: [...level.targets, { key: nextTargetKey++, channel, settings: {} }] });
  };
  const submit = (event) => {
    event.preventDefault();
    const body = { ...document, levels: document.levels.map(writtenLevel) };
    if (!body.remind_every) delete body.remind_every;
    if (!body.time_zone) delete body.time_zone;
    save("/alert-policies", policy?.id, body, setError, onDone);
  };
  const kindOf = (name) => kinds.find((kind) => kind.name === name);
  return html`
    <form class="monitor-form" onSubmit=${submit} data-testid="policy-form">
      <${Input} id="policy-name" label="Name" value=${document.name} error=${fieldError(error, "name")}
        onInput=${(name) => setDocument({ ...document, name })} />
      ${document.levels.map((level, index) => {
        // Errors point at a target by its place among its channel's targets.
        const place = (target) => level.targets.filter((t) => t.channel === target.channel).indexOf(target);
        return html`
        <fieldset class="steps" key=${index}>
          <legend>Level ${index + 1}</legend>
          <${Input} id=${`level-${index}-after`} label="After" hint="1 confirmed error, or 15m down" value=${level.after}
            error=${fieldError(error, `levels[${index}].after`)} onInput=${(after) => setLevel(index, { after })} />
          <${Input} id=${`level-${index}-email`} label="E-mail (comma separated)" value=${joined(level.email)}
            error=${fieldError(error, `levels[${index}].email`)} onInput=${(text) => setLevel(index, { email: list(text) })} />
          ${level.targets.map((target) => html`
            <${ChannelTarget} key=${target.key} kind=${kindOf(target.channel)} target=${target} error=${error}
              id=${`level-${index}-${target.channel}-${place(target)}`} path=${`levels[${index}].${target.channel}[${place(target)}]`}
              onChange=${(changed) => setLevel(index, { targets: level.targets.map((t) => (t.key === target.key ? changed : t)) })}
              onRemove=${() => setLevel(index, { targets: level.targets.filter((t) => t.key !== target.key) })} />`)}
          <div class="field">
            <label for=${`level-${index}-add-channel`}>Also tell</label>
            <select id=${`level-${index}-add-channel`} value="" onChange=${(e) => {
              addTarget(index, e.target.value);
              e.target.value = "";
            }}>
              <option value="">Add a channel…</option>
              ${kinds.map((kind) => html`<option value=${kind.name}>${kind.label}</option>`)}
            </select>
          </div>
          <${PickMany} id=${`level-${index}-classes`} label="Only incidents of these classes" hint="Every class when none is chosen."
            options=${classes.map((c) => c.name)} chosen=${level.classes} error=${fieldError(error, `levels[${index}].classes`)}
            describe=${(name) => classes.find((c) => c.name === name)?.label}
            onChange=${(chosen) => setLevel(index, { classes: chosen })} />
          ${error?.field === `levels[${index}]` && html`<p class="field-error" role="alert">${error.message}</p>`}
          ${document.levels.length > 1 && html`<button type="button" onClick=${() => setDocument({ ...document, levels: document.levels.filter((_, i) => i !== index) })}>Remove level</button>`}
        </fieldset>`;
      })}
      <div class="actions">
        <button type="button" onClick=${() => setDocument({ ...document, levels: [...document.levels, editableLevel({ after: "15m", email: [] })] })}>Add level</button>
      </div>
      <${Input} id="policy-remind" label="Remind every" hint="30m (none when empty)" value=${document.remind_every ?? ""}
        error=${fieldError(error, "remind_every")} onInput=${(remind_every) => setDocument({ ...document, remind_every })} />
      <${Input} id="policy-time-zone" label="Time zone of the times in messages" hint="Europe/Paris (UTC when empty)" value=${document.time_zone ?? ""}
        error=${fieldError(error, "time_zone")} onInput=${(time_zone) => setDocument({ ...document, time_zone })} />
      <div class="field">
        <label><input type="checkbox" checked=${document.notify_recovery}
          onChange=${(e) => setDocument({ ...document, notify_recovery: e.target.checked })} /> Tell those told when it recovers</label>
      </div>
      ${error && !error.field && html`<p class="error" role="alert">${error.message}</p>`}
      <div class="actions"><button type="submit">Save policy</button><button type="button" onClick=${onDone}>Cancel</button></div>
    </form>`;
}

/** Who a level tells, in a few words: addresses, then channels by name
 * (`Slack ×2`). */
function levelRecipients(level, kinds) {
  const channels = Object.entries(level)
    .filter(([name, targets]) => !LEVEL_FIELDS.has(name) && targets?.length)
    .map(([name, targets]) => {
      const label = kinds.find((kind) => kind.name === name)?.label ?? name;
      return targets.length > 1 ? `${label} ×${targets.length}` : label;
    });
  return [...(level.email ?? []), ...channels].join(", ");
}

/** `datetime-local` text for an RFC 3339 time, in the viewer's zone. */
function localInput(rfc3339) {
  if (!rfc3339) return "";
  const date = new Date(rfc3339);
  return new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

function WindowForm({ window: item, monitors, onDone }) {
  const [document, setDocument] = useState({
    name: item?.name ?? "",
    monitors: item?.monitors ?? [],
    tags: item?.tags ?? [],
    starts_at: item?.starts_at,
    ends_at: item?.ends_at,
    cron: item?.cron,
    duration: item?.duration,
  });
  const [recurring, setRecurring] = useState(Boolean(item?.cron));
  const [error, setError] = useState(null);
  const set = (changes) => setDocument({ ...document, ...changes });
  const submit = (event) => {
    event.preventDefault();
    const body = Object.fromEntries(Object.entries(document).filter(([, v]) => v !== undefined && v !== "" && !(Array.isArray(v) && v.length === 0)));
    for (const key of recurring ? ["starts_at", "ends_at"] : ["cron", "duration"]) delete body[key];
    save("/maintenance-windows", item?.id, body, setError, onDone);
  };
  return html`
    <form class="monitor-form" onSubmit=${submit} data-testid="window-form">
      <${Input} id="window-name" label="Name" value=${document.name} error=${fieldError(error, "name")} onInput=${(name) => set({ name })} />
      <${PickMany} id="window-monitors" label="Monitors" options=${monitors.map((m) => m.name).sort((a, b) => a.localeCompare(b))}
        chosen=${document.monitors} error=${fieldError(error, "monitors")} onChange=${(monitors) => set({ monitors })}
        hint="With no monitor and no tag chosen, the window covers every monitor." empty="no monitors yet" />
      <${PickMany} id="window-tags" label="Monitors with these tags" options=${[...new Set(monitors.flatMap((m) => m.tags ?? []))].sort()}
        chosen=${document.tags} error=${fieldError(error, "tags")} onChange=${(tags) => set({ tags })} empty="no tags yet" />
      <div class="field">
        <label><input type="checkbox" checked=${recurring} onChange=${(e) => setRecurring(e.target.checked)} /> Recurring</label>
      </div>
      ${recurring ? html`
        <${Input} id="window-cron" label=${`Starts (cron, in UTC: 02:00 UTC is ${utcHourHere(2)} here)`} hint="0 2 * * 0" value=${document.cron ?? ""}
          error=${fieldError(error, "cron")} onInput=${(cron) => set({ cron })} />
        <${Input} id="window-duration" label="Lasts" hint="30m" value=${document.duration ?? ""}
          error=${fieldError(error, "duration")} onInput=${(duration) => set({ duration })} />` : html`
        <${Input} id="window-starts" label="Starts" type="datetime-local" value=${localInput(document.starts_at)}
          error=${fieldError(error, "starts_at")} onInput=${(text) => set({ starts_at: text ? new Date(text).toISOString() : undefined })} />
        <${Input} id="window-ends" label="Ends" type="datetime-local" value=${localInput(document.ends_at)}
          error=${fieldError(error, "ends_at")} onInput=${(text) => set({ ends_at: text ? new Date(text).toISOString() : undefined })} />`}
      ${error && !error.field && html`<p class="error" role="alert">${error.message}</p>`}
      <div class="actions"><button type="submit">Save window</button><button type="button" onClick=${onDone}>Cancel</button></div>
    </form>`;
}

/** What hour `hour` UTC is in the viewer's zone, with the zone's name. */
function utcHourHere(hour) {
  const at = new Date(Date.UTC(2026, 0, 15, hour));
  return at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
}

/** A recurring window's next spans, in the viewer's zone. */
function Upcoming({ spans }) {
  if (!spans?.length) return html`<small> · no span to come</small>`;
  return html`
    <ul class="upcoming" aria-label="Next">
      ${spans.map((s) => html`<li key=${s.starts_at}>${when(s.starts_at)} – ${new Date(s.ends_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}</li>`)}
    </ul>`;
}

export function Alerting() {
  const canWrite = useCanWrite();
  const [policies, setPolicies] = useState(null);
  const [kinds, setKinds] = useState([]);
  const [classes, setClasses] = useState([]);
  const [windows, setWindows] = useState(null);
  const [monitors, setMonitors] = useState([]);
  const [editing, setEditing] = useState(null);
  const [error, setError] = useState(null);
  const load = () =>
    Promise.all([get("/alert-policies"), get("/maintenance-windows")]).then(
      ([foundPolicies, foundWindows]) => {
        setPolicies(foundPolicies);
        setWindows(foundWindows);
      },
      (failure) => setError(failure.message),
    );
  useEffect(() => {
    load();
    get("/alert-channels").then(setKinds, (failure) => setError(failure.message));
    get("/incident-classes").then(setClasses, (failure) => setError(failure.message));
    get("/monitors").then(setMonitors, (failure) => setError(failure.message));
  }, []);
  const done = () => {
    setEditing(null);
    load();
  };
  const remove = async (path, item) => {
    if (!window.confirm(`Delete ${item.name}?`)) return;
    await api("DELETE", `${path}/${item.id}`).then(load, (failure) => setError(failure.message));
  };
  if (!policies || !windows) return html`<p class=${error ? "error" : "loading"}>${error ?? "Loading…"}</p>`;
  return html`
    <h1>Alerting</h1>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <section aria-labelledby="policies-heading">
      <div class="toolbar"><h2 id="policies-heading">Alert policies</h2>
        ${canWrite && html`<button type="button" onClick=${() => setEditing({ kind: "policy" })}>New policy</button>`}</div>
      ${editing?.kind === "policy" && html`<${PolicyForm} policy=${editing.item} kinds=${kinds} classes=${classes} onDone=${done} />`}
      <${ScrollBox} labelledBy="policies-heading"><table data-testid="policies">
        <thead><tr><th scope="col">Name</th><th scope="col">Levels</th><th scope="col">Monitors</th><th scope="col"></th></tr></thead>
        <tbody>${policies.map((p) => html`
          <tr key=${p.id} data-policy=${p.name}><td>${p.name}</td>
            <td>${p.levels.map((l) => `after ${l.after}: ${levelRecipients(l, kinds)}`).join(" · ")}</td>
            <td>${joined(p.monitors)}</td>
            <td>${canWrite && html`<button type="button" onClick=${() => setEditing({ kind: "policy", item: p })}>Edit</button>
              <button type="button" onClick=${() => remove("/alert-policies", p)}>Delete</button>`}</td></tr>`)}
        </tbody>
      </table><//>
    </section>
    <section aria-labelledby="windows-heading">
      <div class="toolbar"><h2 id="windows-heading">Maintenance windows</h2>
        ${canWrite && html`<button type="button" onClick=${() => setEditing({ kind: "window" })}>New window</button>`}</div>
      ${editing?.kind === "window" && html`<${WindowForm} window=${editing.item} monitors=${monitors} onDone=${done} />`}
      <${ScrollBox} labelledBy="windows-heading"><table data-testid="windows">
        <thead><tr><th scope="col">Name</th><th scope="col">When</th><th scope="col">Covers</th><th scope="col"></th></tr></thead>
        <tbody>${windows.map((w) => html`
          <tr key=${w.id} data-window=${w.name}><td>${w.name}${w.active ? html` <span class="badge maintenance">now</span>` : ""}</td>
            <td>${w.cron ? html`<code>${w.cron}</code> UTC, for ${w.duration}` : `${when(w.starts_at)} – ${when(w.ends_at)}`}
              ${w.cron && html`<${Upcoming} spans=${w.upcoming} />`}</td>
            <td>${[...(w.monitors ?? []), ...(w.tags ?? []).map((t) => `tag ${t}`)].join(", ")}</td>
            <td>${canWrite && html`<button type="button" onClick=${() => setEditing({ kind: "window", item: w })}>Edit</button>
              <button type="button" onClick=${() => remove("/maintenance-windows", w)}>Delete</button>`}</td></tr>`)}
        </tbody>
      </table><//>
    </section>`;
}
