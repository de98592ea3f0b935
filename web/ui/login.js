// The login screen: "Sign in with …" through the OpenID provider when the
// server has one (a plain link: the browser goes to the provider and comes
// back signed in), and the password form (POST /api/v1/session), which is
// the break-glass admin's alone when single sign-on turned passwords off.
// A sign-in the provider's return refused comes back here with `sso_error`.
import { html, useEffect, useState } from "./html.js";
import { api, get } from "./api.js";

/** Why the last single sign-on failed, once. The server says it in a
 * cookie (which no other site can set, unlike the address); the address
 * only says to look, and is cleaned of it. */
function takeSsoError() {
  const params = new URLSearchParams(location.search);
  if (!params.has("sso_error")) return null;
  params.delete("sso_error");
  const rest = params.toString();
  history.replaceState(null, "", `${location.pathname}${rest ? `?${rest}` : ""}`);
  const kept = document.cookie.split("; ").find((pair) => pair.startsWith("sightline_sso_error="));
  document.cookie = "sightline_sso_error=; Path=/; Max-Age=0; SameSite=Lax";
  if (!kept) return "it did not finish; try again";
  return decodeURIComponent(kept.slice("sightline_sso_error=".length).replace(/\+/g, " "));
}

export function Login({ onLoggedIn }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);
  const [ssoError] = useState(takeSsoError);
  const [options, setOptions] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    get("/session/options").then(setOptions, () => setOptions({ password: "everyone", single_sign_on: null }));
  }, []);
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
  const sso = options?.single_sign_on;
  const back = `${location.pathname}${location.search}`;
  const breakGlass = options?.password === "break_glass_only";
  return html`
    <main class="login">
      <h1>Sightline</h1>
      ${ssoError && html`<p class="error" role="alert" data-testid="sso-error">Single sign-on failed: ${ssoError}</p>`}
      ${sso && html`
        <p><a class="button sso" href=${`${sso.url}?${new URLSearchParams({ return_to: back })}`}>Sign in with ${sso.name}</a></p>`}
      ${sso && html`<p class="or"><small>${breakGlass ? "Password login is for the break-glass admin only:" : "or with your password:"}</small></p>`}
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
