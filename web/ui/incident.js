// One incident, as alert e-mails link to it: what failed, its class, its
// timeline (opened, classified, held, notified, recovered) and every
// notification it caused with the receiver's answer.
import { html, useState } from "./html.js";
import { usePolled } from "./polling.js";
import { NotFound } from "./not_found.js";
import { useCanWrite } from "./role.js";
import { api, get } from "./api.js";
import { when, words } from "./format.js";
import { MuteHour } from "./mute.js";
import { ScrollBox } from "./scroll_box.js";

/** An incident's correlation class (confirmed outage, …), when it has one. */
export function IncidentClass({ correlation }) {
  return correlation ? html`<span class="class">${words(correlation)}</span>` : null;
}

/** "I'm on it", with an optional comment: stops reminders and escalation. */
function Acknowledge({ id, done }) {
  const [comment, setComment] = useState("");
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    try {
      await api("POST", `/incidents/${id}/acknowledge`, comment.trim() ? { comment } : {});
      setProblem(null);
      done();
    } catch (failure) {
      setProblem(failure.message);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <form class="ack" onSubmit=${submit} data-testid="acknowledge">
      <label for="ack-comment">What are you doing about it? (optional)</label>
      <textarea id="ack-comment" rows="2" value=${comment} placeholder="rolling back the deploy"
        onInput=${(e) => setComment(e.target.value)}></textarea>
      <div class="actions"><button type="submit" disabled=${busy}>I'm on it: acknowledge</button></div>
      <small>Reminders and further escalation stop; the timeline and the next message say who is on it.</small>
      ${problem && html`<p class="error" role="alert">${problem}</p>`}
    </form>`;
}

/** A comment for the timeline. */
function Comment({ id, done }) {
  const [text, setText] = useState("");
  const [problem, setProblem] = useState(null);
  const submit = async (event) => {
    event.preventDefault();
    try {
      await api("POST", `/incidents/${id}/comments`, { text });
      setText("");
      setProblem(null);
      done();
    } catch (failure) {
      setProblem(failure.message);
    }
  };
  return html`
    <form class="ack comment" onSubmit=${submit} data-testid="comment">
      <label for="comment-text">Add to the timeline</label>
      <textarea id="comment-text" rows="2" value=${text} onInput=${(e) => setText(e.target.value)}></textarea>
      <div class="actions"><button type="submit" disabled=${!text.trim()}>Comment</button></div>
      ${problem && html`<p class="error" role="alert">${problem}</p>`}
    </form>`;
}

export function IncidentDetail({ id }) {
  const canWrite = useCanWrite();
  const { data, error, missing, reload } = usePolled(
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
  if (missing) return html`<${NotFound} what="incident" />`;
  const { incident, subject } = data ?? {};
  if (!incident) return html`<p class=${error ? "error" : "loading"}>${error ?? "Loading…"}</p>`;
  const open = !incident.closed_at;
  return html`
    <p><a href="/incidents">← Incidents</a></p>
    <h1>
      ${subject ? html`<a href=${subject.link}>${subject.name}</a>` : incident.subject ? `${incident.subject} (deleted)` : words(incident.kind)}
      ${" "}<span class=${`badge ${open ? "down" : "up"}`}>${open ? "open" : "closed"}</span>
    </h1>
    <p class="lead">
      <span>${incident.severity}</span>
      <${IncidentClass} correlation=${incident.correlation} />
      <span>opened ${when(incident.opened_at)}</span>
      ${incident.closed_at && html`<span>closed ${when(incident.closed_at)}</span>`}
      ${incident.acknowledged_by && html`<span class="badge degraded" data-testid="acknowledged">${incident.acknowledged_by} is on it</span>`}
    </p>
    <p class="cause" data-testid="cause">${incident.cause}</p>
    ${open && canWrite && incident.monitor_id && subject && html`
      <p class="actions" data-testid="incident-mute"><${MuteHour} monitor=${subject} done=${reload} />
        <small>No alerts for ${subject.name} for an hour, and its checks do not count against uptime.</small></p>`}
    ${open && !incident.acknowledged_by && canWrite && html`<${Acknowledge} id=${incident.id} done=${reload} />`}
    <section aria-labelledby="timeline-heading">
      <h2 id="timeline-heading">Timeline</h2>
      <ol class="timeline" data-testid="timeline">
        ${incident.events.map((event) => html`
          <li><time datetime=${event.at}>${when(event.at)}</time> <strong>${event.kind}</strong>
            ${event.author && event.kind === "comment" ? html` <em>${event.author}:</em>` : ""} ${event.message}</li>`)}
      </ol>
      ${canWrite && html`<${Comment} id=${incident.id} done=${reload} />`}
    </section>
    <section aria-labelledby="notifications-heading">
      <h2 id="notifications-heading">Notifications</h2>
      ${incident.notifications.length === 0 ? html`<p>None sent.</p>` : html`
        <${ScrollBox} labelledBy="notifications-heading"><table data-testid="notifications">
          <thead><tr><th scope="col">To</th><th scope="col">Subject</th><th scope="col">Status</th><th scope="col">Answer</th></tr></thead>
          <tbody>${incident.notifications.map((n) => html`
            <tr><td>${n.recipient} <small>${n.channel}</small></td><td>${n.subject}</td>
              <td>${n.status}${n.sent_at ? html` <small>${when(n.sent_at)}</small>` : ""}</td>
              <td>${n.answer ?? n.error ?? ""}</td></tr>`)}
          </tbody>
        </table><//>`}
    </section>`;
}
