// The login form: POST /api/v1/session sets the session cookie.
import { html, useState } from "./html.js";
import { api } from "./api.js";

export function Login({ onLoggedIn }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api("POST", "/session", { email, password });
      onLoggedIn();
    } catch (failure) {
      setError(failure.message);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <main class="login">
      <h1>Sightline</h1>
      <form onSubmit=${submit} aria-describedby=${error ? "login-error" : undefined}>
        <label for="email">E-mail</label>
        <input id="email" name="email" type="email" autocomplete="username" required
          value=${email} onInput=${(e) => setEmail(e.target.value)} />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required
          value=${password} onInput=${(e) => setPassword(e.target.value)} />
        ${error && html`<p id="login-error" class="error" role="alert">${error}</p>`}
        <button type="submit" disabled=${busy}>Log in</button>
      </form>
    </main>`;
}
