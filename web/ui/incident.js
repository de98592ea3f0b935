// One incident, as alert e-mails link to it: what failed, its class, its
// timeline (opened, classified, held, notified, recovered) and every
// notification it caused with the receiver's answer.
import { html } from "./html.js";
import { usePolled } from "./polling.js";
import { get } from "./api.js";
import { when, words } from "./format.js";

/** An incident's correlation class (confirmed outage, …), when it has one. */
export function IncidentClass({ correlation }) {
  return correlation ? html`<span class="class">${words(correlation)}</span>` : null;
}

export function IncidentDetail({ id }) {
  const { data, error } = usePolled(
    async () => {
      const incident = await get(`/incidents/${id}`);
      const subject = incident.monitor_id
        ? { ...(await get(`/monitors/${incident.monitor_id}`)), link: `/monitors/${incident.monitor_id}` }
        : incident.site_id
          ? { ...(await get(`/sites/${incident.site_id}`)), link: `/sites/${incident.site_id}` }
          : null;
      return { incident, subject };
    },
    10_000,
    [id],
  );
  const { incident, subject } = data ?? {};
  if (!incident) return html`<p class=${error ? "error" : "loading"}>${error ?? "Loading…"}</p>`;
  const open = !incident.closed_at;
  return html`
    <p><a href="/">← Overview</a></p>
    <h1>
      ${subject ? html`<a href=${subject.link}>${subject.name}</a>` : words(incident.kind)}
      ${" "}<span class=${`badge ${open ? "down" : "up"}`}>${open ? "open" : "closed"}</span>
    </h1>
    <p class="lead">
      <span>${incident.severity}</span>
      <${IncidentClass} correlation=${incident.correlation} />
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
