// Settings: your own password (every role), where checks run from
// (checkpoints and their last contact), a test e-mail through the outbox
// (editors and admins), and, for admins, users and API tokens.
import { html, useEffect, useState } from "./html.js";
import { api, get } from "./api.js";
import { ago, when } from "./format.js";
import { ScrollBox } from "./scroll_box.js";
import { ROLES, useCanAdminister, useCanWrite, useUserId, withArticle } from "./role.js";

/** The roles as options of a select. */
function roleOptions() {
  return ROLES.map((role) => html`<option key=${role} value=${role}>${role}</option>`);
}

function useList(path) {
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  const load = () => get(path).then((found) => { setList(found); setError(null); }, (failure) => setError(failure.message));
  useEffect(() => {
    load();
  }, [path]);
  return [list, error, load];
}

/** A small form whose fields are named inputs; `submit` gets their values. */
function useForm(prefix, initial) {
  const [values, setValues] = useState(initial);
  const bind = (name) => ({
    name,
    id: `${prefix}-${name}`,
    value: values[name],
    onInput: (event) => setValues({ ...values, [name]: event.target.value }),
  });
  return [values, bind, () => setValues(initial)];
}

function Checkpoints() {
  const [checkpoints, error] = useList("/checkpoints");
  return html`
    <section aria-labelledby="checkpoints-heading">
      <h2 id="checkpoints-heading">Checkpoints</h2>
      ${error && html`<p class="error">${error}</p>`}
      ${checkpoints && html`
        <${ScrollBox} labelledBy="checkpoints-heading"><table data-testid="checkpoints">
          <thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Last contact</th><th scope="col">Agent</th></tr></thead>
          <tbody>${checkpoints.map((c) => html`
            <tr key=${c.id} data-checkpoint=${c.name}>
              <td>${c.name}</td>
              <td><span class=${`badge ${c.status === "online" ? "up" : "down"}`}>${c.status}</span></td>
              <td title=${when(c.last_seen_at)}>${ago(c.last_seen_at)}</td>
              <td>${c.agent_version ?? (c.name === "local" ? "this server" : "")}</td>
            </tr>`)}
          </tbody>
        </table><//>`}
    </section>`;
}

function TestEmail() {
  const [values, bind] = useForm("test", { email: "" });
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  const send = async (event) => {
    event.preventDefault();
    setBusy(true);
    try {
      setResult(await api("POST", "/notifications/test", { email: values.email }));
    } catch (failure) {
      setResult({ status: "refused", error: failure.message });
    } finally {
      setBusy(false);
    }
  };
  return html`
    <section aria-labelledby="email-heading">
      <h2 id="email-heading">E-mail</h2>
      <p>Alerts go through the SMTP server the server was started with (<code>--smtp-host</code>).</p>
      <form class="inline" onSubmit=${send}>
        <label for="test-email">Send a test e-mail to</label>
        <input type="email" required ...${bind("email")} />
        <button type="submit" disabled=${busy}>Send test e-mail</button>
      </form>
      ${result && html`<p role="status" data-testid="test-email" class=${result.status === "sent" ? "" : "error"}>
        ${result.status}${result.answer ? `: ${result.answer}` : ""}${result.error ? `: ${result.error}` : ""}</p>`}
    </section>`;
}

/** An admin's change to another user: their role, or a new password that ends their sessions. */
function UserRow({ user, self, onChanged, onProblem }) {
  const [resetting, setResetting] = useState(false);
  const [password, setPassword] = useState("");
  const [done, setDone] = useState(null);
  const change = async (body, message) => {
    try {
      await api("PATCH", `/users/${user.id}`, body);
      setDone(message);
      onProblem(null);
      onChanged();
      return true;
    } catch (failure) {
      onProblem(failure);
      return false;
    }
  };
  const reset = async (event) => {
    event.preventDefault();
    if (await change({ password }, `New password set for ${user.email}; their sessions have ended.`)) {
      setPassword("");
      setResetting(false);
    }
  };
  const remove = async () => {
    if (!window.confirm(`Remove ${user.email}? Their sessions and API tokens end too.`)) return;
    await api("DELETE", `/users/${user.id}`).then(onChanged, onProblem);
  };
  return html`
    <tr data-user=${user.email}>
      <td>${user.email}${self && html` <small>(you)</small>`}</td>
      <td>${self
        ? user.role
        : html`<select aria-label=${`Role of ${user.email}`} value=${user.role}
            onChange=${(event) => change({ role: event.target.value }, `${user.email} is now ${withArticle(event.target.value)}.`)}>
            ${roleOptions()}
          </select>`}</td>
      <td>${when(user.created_at)}</td>
      <td class="actions">${self
        ? html`<small>change yours above</small>`
        : resetting
          ? html`<form class="inline" onSubmit=${reset} aria-label=${`New password for ${user.email}`}>
              <input type="password" required minlength="10" autocomplete="new-password"
                aria-label="New password" value=${password} onInput=${(event) => setPassword(event.target.value)} />
              <button type="submit">Set</button>
              <button type="button" onClick=${() => setResetting(false)}>Cancel</button>
            </form>`
          : html`<button type="button" onClick=${() => { setResetting(true); setDone(null); }}>Reset password</button>
              <button type="button" class="danger" onClick=${remove}>Remove</button>`}
        ${done && html`<p role="status" data-testid="user-changed">${done}</p>`}</td>
    </tr>`;
}

function Users() {
  const [users, error, reload] = useList("/users");
  const me = useUserId();
  const [values, bind, reset] = useForm("user", { email: "", password: "", role: "viewer" });
  const [problem, setProblem] = useState(null);
  const add = async (event) => {
    event.preventDefault();
    try {
      await api("POST", "/users", values);
      reset();
      setProblem(null);
      reload();
    } catch (failure) {
      setProblem(failure);
    }
  };
  return html`
    <section aria-labelledby="users-heading">
      <h2 id="users-heading">Users</h2>
      ${error && html`<p class="error">${error}</p>`}
      ${users && html`
        <${ScrollBox} labelledBy="users-heading"><table data-testid="users">
          <thead><tr><th scope="col">E-mail</th><th scope="col">Role</th><th scope="col">Since</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody>${users.map((u) => html`
            <${UserRow} key=${u.id} user=${u} self=${u.id === me} onChanged=${reload} onProblem=${setProblem} />`)}
          </tbody>
        </table><//>`}
      ${problem && html`<p class="error" role="alert">${problem.field ? `${problem.field}: ` : ""}${problem.message}</p>`}
      <form class="inline" onSubmit=${add} aria-label="Add a user">
        <label for="user-email">E-mail</label>
        <input type="email" required ...${bind("email")} />
        <label for="user-password">Password</label>
        <input type="password" required autocomplete="new-password" ...${bind("password")} />
        <label for="user-role">Role</label>
        <select ...${bind("role")}>${roleOptions()}</select>
        <button type="submit">Add user</button>
      </form>
    </section>`;
}

function Tokens() {
  const [tokens, error, reload] = useList("/tokens");
  const [values, bind, reset] = useForm("token", { name: "", role: "viewer", checkpoint: "" });
  const [created, setCreated] = useState(null);
  const [problem, setProblem] = useState(null);
  const create = async (event) => {
    event.preventDefault();
    const body = { name: values.name, role: values.role };
    if (values.checkpoint.trim()) body.checkpoint = values.checkpoint.trim();
    try {
      setCreated(await api("POST", "/tokens", body));
      reset();
      setProblem(null);
      reload();
    } catch (failure) {
      setProblem(failure);
    }
  };
  const revoke = async (token) => {
    await api("DELETE", `/tokens/${token.id}`).then(reload, (failure) => setProblem(failure));
  };
  return html`
    <section aria-labelledby="tokens-heading">
      <h2 id="tokens-heading">API tokens</h2>
      ${error && html`<p class="error">${error}</p>`}
      ${tokens && html`
        <${ScrollBox} labelledBy="tokens-heading"><table data-testid="tokens">
          <thead><tr><th scope="col">Name</th><th scope="col">Starts with</th><th scope="col">Role</th><th scope="col">Last used</th><th scope="col"></th></tr></thead>
          <tbody>${tokens.map((t) => html`
            <tr key=${t.id} data-token=${t.name}><td>${t.name}${t.checkpoint_id ? html` <small>(checkpoint agent)</small>` : ""}</td><td><code>${t.prefix}</code></td><td>${t.role}</td>
              <td>${t.last_used_at ? ago(t.last_used_at) : "never"}</td>
              <td>${t.revoked_at ? html`<small>revoked</small>` : html`<button type="button" onClick=${() => revoke(t)}>Revoke</button>`}</td></tr>`)}
          </tbody>
        </table><//>`}
      <form class="inline" onSubmit=${create} aria-label="Create a token">
        <label for="token-name">Name</label>
        <input required ...${bind("name")} />
        <label for="token-role">Role</label>
        <select ...${bind("role")}>${roleOptions()}</select>
        <label for="token-checkpoint">For the agent of checkpoint</label>
        <input placeholder="none" ...${bind("checkpoint")} />
        <button type="submit">Create token</button>
      </form>
      ${problem && html`<p class="error" role="alert">${problem.field ? `${problem.field}: ` : ""}${problem.message}</p>`}
      ${created && html`<p role="status" data-testid="new-token">Copy it now, it is shown only once: <code class="secret">${created.token}</code></p>`}
    </section>`;
}

function OwnPassword() {
  const initial = { current_password: "", new_password: "", repeated: "" };
  const [values, bind, reset] = useForm("own", initial);
  const [revoke, setRevoke] = useState(false);
  const [outcome, setOutcome] = useState(null);
  const [busy, setBusy] = useState(false);
  const change = async (event) => {
    event.preventDefault();
    if (values.new_password !== values.repeated) {
      setOutcome({ field: "repeated", message: "the two new passwords differ" });
      return;
    }
    setBusy(true);
    try {
      await api("PUT", "/session/password", {
        current_password: values.current_password,
        new_password: values.new_password,
        revoke_tokens: revoke,
      });
      reset();
      setRevoke(false);
      setOutcome({ done: true, revoked: revoke });
    } catch (failure) {
      setOutcome(failure);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <section aria-labelledby="password-heading">
      <h2 id="password-heading">Your password</h2>
      <form class="inline" onSubmit=${change} aria-label="Change your password">
        <label for="own-current_password">Current password</label>
        <input type="password" required autocomplete="current-password" ...${bind("current_password")} />
        <label for="own-new_password">New password</label>
        <input type="password" required minlength="10" autocomplete="new-password" ...${bind("new_password")} />
        <label for="own-repeated">New password again</label>
        <input type="password" required autocomplete="new-password" ...${bind("repeated")} />
        <label><input type="checkbox" id="own-revoke" checked=${revoke}
          onChange=${(event) => setRevoke(event.target.checked)} /> Revoke my API tokens too</label>
        <button type="submit" disabled=${busy}>Change password</button>
      </form>
      ${outcome && (outcome.done
        ? html`<p role="status" data-testid="password-changed">Changed. Your other sessions have ended${outcome.revoked ? " and your API tokens are revoked" : ""}.</p>`
        : html`<p class="error" role="alert">${outcome.field ? `${outcome.field.replace("_", " ")}: ` : ""}${outcome.message}</p>`)}
    </section>`;
}

export function Settings() {
  const canWrite = useCanWrite();
  const canAdminister = useCanAdminister();
  return html`
    <h1>Settings</h1>
    <${OwnPassword} />
    <${Checkpoints} />
    ${canWrite && html`<${TestEmail} />`}
    ${canAdminister && html`<${Users} /><${Tokens} />
      <section aria-labelledby="audit-heading">
        <h2 id="audit-heading">Audit log</h2>
        <p>Every change to monitors, sites, alerting, status pages, people, tokens and secrets: who, when, from where and what it did. <a href="/audit-log">Read the audit log</a></p>
      </section>`}`;
}
