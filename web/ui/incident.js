// One incident, as alert e-mails link to it: what failed, its class, its
// timeline (opened, classified, held, notified, recovered) and every
// notification it caused with the receiver's answer.
import { html, useEffect, useState } from "./html.js";
import { get } from "./api.js";
import { when } from "./format.js";

export function IncidentDetail({ id }) {
  const [incident, setIncident] = useState(null);
  const [subject, setSubject] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let stopped = false;
    const load = async () => {
      try {
        const found = await get(`/incidents/${id}`);
        const about = found.monitor_id
          ? { ...(await get(`/monitors/${found.monitor_id}`)), link: `/monitors/${found.monitor_id}` }
          : found.site_id
            ? { ...(await get(`/sites/${found.site_id}`)), link: `/sites/${found.site_id}` }
            : null;
        if (!stopped) {
          setIncident(found);
          setSubject(about);
          setError(null);
        }
      } catch (failure) {
        if (!stopped) setError(failure.message);
      }
    };
    load();
    const timer = setInterval(load, 10_000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [id]);
  if (!incident) return html`<p class=${error ? "error" : "loading"}>${error ?? "Loading…"}</p>`;
  const open = !incident.closed_at;
  return html`
    <p><a href="/">← Overview</a></p>
    <h1>
      ${subject ? html`<a href=${subject.link}>${subject.name}</a>` : incident.kind.replaceAll("_", " ")}
      ${" "}<span class=${`badge ${open ? "down" : "up"}`}>${open ? "open" : "closed"}</span>
    </h1>
    <p class="lead">
      <span>${incident.severity}</span>
      ${incident.correlation && html`<span>${incident.correlation.replaceAll("_", " ")}</span>`}
      <span>opened ${when(incident.opened_at)}</span>
      ${incident.closed_at && html`<span>closed ${when(incident.closed_at)}</span>`}
    </p>
    <p class="cause" data-testid="cause">${incident.cause}</p>
    <section aria-labelledby="timeline-heading">
      <h2 id="timeline-heading">Timeline</h2>
      <ol class="timeline" data-testid="timeline">
        ${incident.events.map((event) => html`
          <li><time datetime=${event.at}>${when(event.at)}</time> <strong>${event.kind}</strong> ${event.message}</li>`)}
      </ol>
    </section>
    <section aria-labelledby="notifications-heading">
      <h2 id="notifications-heading">Notifications</h2>
      ${incident.notifications.length === 0 ? html`<p>None sent.</p>` : html`
        <table data-testid="notifications">
          <thead><tr><th scope="col">To</th><th scope="col">Subject</th><th scope="col">Status</th><th scope="col">Answer</th></tr></thead>
          <tbody>${incident.notifications.map((n) => html`
            <tr><td>${n.recipient} <small>${n.channel}</small></td><td>${n.subject}</td>
              <td>${n.status}${n.sent_at ? html` <small>${when(n.sent_at)}</small>` : ""}</td>
              <td>${n.answer ?? n.error ?? ""}</td></tr>`)}
          </tbody>
        </table>`}
    </section>`;
}
