// The one place the view library is bound: every screen imports `html`
// (tagged templates, no build step) and the hooks from here.
import { createContext, h, render } from "./vendor/preact.module.js";
import htm from "./vendor/htm.module.js";

export { createContext, render };
export { useContext, useEffect, useMemo, useRef, useState } from "./vendor/hooks.module.js";
export const html = htm.bind(h);
