// The Sightline UI: a small client app over the public /api/v1 API and its
// session login. Screens are picked by the URL path, so links (and the
// links in alert e-mails) open the right one.
import { html, render, useEffect, useState } from "./html.js";
import { api } from "./api.js";
import { Login } from "./login.js";
import { Overview } from "./overview.js";

function App() {
  // undefined: not known yet; null: logged out.
  const [who, setWho] = useState(undefined);
  const check = () =>
    api("GET", "/session")
      .then(setWho)
      .catch(() => setWho(null));
  useEffect(() => {
    check();
  }, []);
  if (who === undefined) {
    return html`<p class="loading">Loading…</p>`;
  }
  if (who === null) {
    return html`<${Login} onLoggedIn=${check} />`;
  }
  const logOut = async () => {
    await api("DELETE", "/session").catch(() => {});
    setWho(null);
  };
  return html`
    <header class="top">
      <a class="brand" href="/">Sightline</a>
      <nav aria-label="Main"><a href="/" aria-current="page">Overview</a></nav>
      <span class="who">${who.user.email}</span>
      <button type="button" onClick=${logOut}>Log out</button>
    </header>
    <main><${Overview} /></main>`;
}

render(html`<${App} />`, document.getElementById("app"));
