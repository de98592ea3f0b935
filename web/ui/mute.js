// "Mute for 1 hour": a one-hour maintenance window over some monitors, so
// that a known problem sends no alerts and does not count against uptime.
// The overview mutes a selection; a monitor's and an incident's page mute
// their own monitor.
import { html, useState } from "./html.js";
import { api } from "./api.js";
import { when } from "./format.js";

/** Opens a maintenance window from now for an hour over `monitors` (objects with a `name`). */
export function muteForAnHour(monitors) {
  const now = new Date();
  const until = new Date(now.getTime() + 3600_000);
  const named = monitors.length === 1 ? monitors[0].name : `${monitors.length} monitors`;
  return api("POST", "/maintenance-windows", {
    name: `muted ${named} until ${until.toISOString().slice(0, 16)}Z`,
    starts_at: now.toISOString(),
    ends_at: until.toISOString(),
    monitors: monitors.map((m) => m.name),
  });
}

/** What muting does, as the buttons' title says it. */
export const MUTE_TITLE = "A one-hour maintenance window: no alerts, and not counted in uptime";

/** A button that mutes one monitor for an hour and says until when. */
export function MuteHour({ monitor, done }) {
  const [state, setState] = useState(null);
  const mute = async () => {
    setState({ busy: true });
    try {
      const window = await muteForAnHour([monitor]);
      setState({ until: window.ends_at });
      done?.();
    } catch (failure) {
      setState({ error: failure.message });
    }
  };
  return html`
    <button type="button" disabled=${state?.busy} onClick=${mute} title=${MUTE_TITLE}>Mute 1 h</button>
    ${state?.until && html`<span role="status" data-testid="muted">Muted until ${when(state.until)}</span>`}
    ${state?.error && html`<span class="error" role="alert">${state.error}</span>`}`;
}
