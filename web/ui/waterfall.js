// A browser check's requests as a waterfall: when each started after the
// navigation and where its time went (DNS, connect, TLS, waiting for the
// first byte, download), to see what held the page back.
import { html } from "./html.js";
import { PHASES } from "./chart.js";
import { bytes, millis } from "./format.js";
import { ScrollBox } from "./scroll_box.js";

const COLOUR = Object.fromEntries(PHASES.map(([key, , colour]) => [key, colour]));

/** A request's phases in order, as [name, ms, colour]; what they leave of
 * its duration (queued, stalled) is shown as waiting. */
export function requestPhases(request) {
  const phases = [
    ["DNS", request.dns_ms, COLOUR.dns_ms],
    ["connect", request.connect_ms - request.tls_ms, COLOUR.connect_ms],
    ["TLS", request.tls_ms, COLOUR.tls_ms],
    ["first byte", request.wait_ms, COLOUR.first_byte_ms],
    ["download", request.download_ms, COLOUR.download_ms],
  ].filter(([, ms]) => ms > 0);
  const waiting = request.duration_ms - phases.reduce((sum, [, ms]) => sum + ms, 0);
  return waiting >= 1 ? [["waiting", waiting, "var(--line)"], ...phases] : phases;
}

/** A URL as short as it stays clear: its path on the page's own host. */
function shortUrl(url, pageHost) {
  try {
    const parsed = new URL(url);
    const path = `${parsed.pathname}${parsed.search}`;
    return parsed.host === pageHost ? path : `${parsed.host}${path}`;
  } catch {
    return url;
  }
}

export function Waterfall({ requests, label = "Requests of the last run" }) {
  if (!requests?.length) return null;
  const end = Math.max(1, ...requests.map((r) => r.start_ms + r.duration_ms));
  const share = (ms) => `${((Math.max(0, ms) / end) * 100).toFixed(2)}%`;
  let host = "";
  try {
    host = new URL(requests[0].url).host;
  } catch {}
  return html`
    <${ScrollBox} label=${label}>
      <table class="waterfall" data-testid="waterfall">
        <thead><tr><th scope="col">Request</th><th scope="col">Type</th><th scope="col">Status</th><th scope="col" class="number">Transferred</th><th scope="col">Started + took (0 to ${millis(end)})</th></tr></thead>
        <tbody>
          ${requests.map((r, i) => {
            // `error`: no answer; a status of null: nobody told it
            // (unknown, not failed); 0 in results from before statuses
            // came from the network: no answer.
            const failed = Boolean(r.error) || r.status === 0 || r.status >= 400;
            const status = r.status > 0 ? r.status : failed ? "failed" : "unknown";
            return html`
              <tr key=${i} class=${failed ? "failed" : ""} data-kind=${r.kind}>
                <td class="url" title=${r.url}>${shortUrl(r.url, host)}</td>
                <td>${r.kind}</td>
                <td title=${r.error ?? ""}>${status}</td>
                <td class="number">${bytes(r.transfer_bytes)}</td>
                <td class="timeline">
                  <div class="bar" style=${`margin-left:${share(r.start_ms)};width:${share(r.duration_ms)}`}>
                    ${requestPhases(r).map(([name, ms, colour]) => html`<i style=${`flex:${ms} 0 0;background:${colour}`} title=${`${name} ${millis(ms)}`}></i>`)}
                  </div>
                  <small>${millis(r.start_ms)} + ${millis(r.duration_ms)}</small>
                </td>
              </tr>`;
          })}
        </tbody>
      </table>
    <//>
    <p class="legend">${[["waiting", "var(--line)"], ...PHASES.map(([, name, colour]) => [name, colour])].map(([name, colour]) => html`<span><i style=${`background:${colour}`}></i> ${name}</span> `)}</p>`;
}
