// Light or dark: the system's choice (`prefers-color-scheme`) unless the
// viewer picks one, kept in this browser. Charts read their colours from
// the page's, so they are redrawn when it changes.
import { html, useState } from "./html.js";

const KEY = "sightline-theme";
/** Told when the theme changes, for what draws its own colours. */
export const THEME_CHANGED = "sightline:theme";

/** Applies the theme this browser keeps, if any. */
export function applyStoredTheme() {
  const kept = localStorage.getItem(KEY);
  if (kept === "light" || kept === "dark") document.documentElement.dataset.theme = kept;
}

/** A colour custom property as the page shows it now (its
 * `light-dark()` resolved), as `rgb(…)`, or `rgba(…)` with `alpha`. */
export function cssColour(name, alpha) {
  const probe = document.createElement("i");
  probe.style.color = `var(${name})`;
  probe.hidden = true;
  document.body.append(probe);
  const colour = getComputedStyle(probe).color;
  probe.remove();
  return alpha == null ? colour : colour.replace(/^rgba?\(([^,]+),([^,]+),([^,)]+).*$/, `rgba($1,$2,$3, ${alpha})`);
}

export function ThemeSwitch() {
  const [theme, setTheme] = useState(() => localStorage.getItem(KEY) ?? "system");
  const choose = (event) => {
    const next = event.target.value;
    setTheme(next);
    if (next === "system") {
      localStorage.removeItem(KEY);
      delete document.documentElement.dataset.theme;
    } else {
      localStorage.setItem(KEY, next);
      document.documentElement.dataset.theme = next;
    }
    window.dispatchEvent(new Event(THEME_CHANGED));
  };
  return html`
    <label class="theme-switch"><span class="visually-hidden">Theme</span>
      <select value=${theme} onChange=${choose} title="Theme">
        <option value="system">auto theme</option>
        <option value="light">light</option>
        <option value="dark">dark</option>
      </select>
    </label>`;
}
