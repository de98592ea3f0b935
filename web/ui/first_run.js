// A new monitor's first check, run as it is saved: the form waits for it,
// the monitor's page that opens next shows what it found. The answer
// crosses from one screen to the next in the tab's session storage.
const key = (id) => `sightline.first-run.${id}`;

/** Waits for `running` (the answer of `POST /monitors/{id}/run`) and keeps it for the monitor's page. */
export async function rememberRun(id, running) {
  let kept;
  try {
    kept = { first: true, results: await running };
  } catch (failure) {
    kept = { first: true, results: [], error: failure.message };
  }
  try {
    sessionStorage.setItem(key(id), JSON.stringify(kept));
  } catch {
    // No storage (a private window's quota): the page shows the results table alone.
  }
}

/** The first run kept for monitor `id`, once: `{first, results, error}`, or null. */
export function takeRun(id) {
  try {
    const text = sessionStorage.getItem(key(id));
    if (!text) return null;
    sessionStorage.removeItem(key(id));
    return JSON.parse(text);
  } catch {
    return null;
  }
}
