//! Alert messages from the templates in `alerts/` (minijinja): one message
//! may list several incidents, so that monitors failing together reach each
//! recipient as one e-mail. The HTML part is auto-escaped; the text part and
//! the subject are not.

use crate::smtp::Email;
use minijinja::{AutoEscape, Environment};
use serde::Serialize;
use sightline_core::Timestamp;

/// What a message says has happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    /// Monitors went down (or escalated).
    Down,
    /// Monitors are still down.
    Reminder,
    /// Monitors recovered.
    Recovered,
    /// Someone is on it (sent only to incident tools, which keep an alert
    /// per incident and track who handles it).
    Acknowledged,
}

/// One incident as a message shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentLine {
    /// The incident's id.
    pub id: i64,
    /// Whether it is critical (a monitor down, real users hit) rather than
    /// a warning; incident tools page on it.
    pub critical: bool,
    /// The monitor's name (`site shop` for a site's own incident).
    pub monitor: String,
    /// Whether it is a site's own incident (real-user traffic stopped or
    /// turned slow) rather than a monitor's.
    pub site: bool,
    /// Whether it is a checkpoint's own incident (it stopped making
    /// contact) rather than a monitor's.
    pub checkpoint: bool,
    /// What it checks (`https://shop.example.com/`, `mail.example.com:25`).
    pub target: String,
    /// What failed, in words.
    pub problem: String,
    /// Where it failed.
    pub checkpoints: Vec<String>,
    /// The timing breakdown of the failing check, in words.
    pub timings: Option<String>,
    /// The incident's class by its stable name (`confirmed_outage`), for
    /// machines reading a webhook.
    pub class: String,
    /// The correlation verdict (`confirmed outage, real users affected`).
    pub classification: Option<String>,
    /// What the verdict means for the reader.
    pub explanation: Option<String>,
    /// The real-user traffic picture, in words.
    pub traffic: Option<String>,
    /// When it went down (RFC 3339).
    pub since: String,
    /// When it went down as the reader's clock says it (`14:32 CET, 4 min
    /// ago`), in their policy's time zone; set for each message.
    pub since_text: String,
    /// How long it has been (or was) down, in words (`4 min 12 s`).
    pub duration: Option<String>,
    /// When it went down, for working out `since_text`.
    #[serde(skip)]
    pub opened_at: Timestamp,
    /// The monitor that is down, for a reminder's current figures.
    #[serde(skip)]
    pub monitor_id: Option<i64>,
    /// Who said they are on it, once someone has.
    pub acknowledged_by: Option<String>,
    /// When they said so (Unix ms).
    #[serde(skip)]
    pub acknowledged_at: Option<i64>,
    /// The incident's page.
    pub link: String,
    /// The host or site it is grouped under in a message.
    pub group: String,
    /// Monitors held back because they depend on this one.
    pub dependants: Vec<String>,
}

/// Everything a message is rendered from.
#[derive(Debug, Clone, Serialize)]
pub struct MessageContext {
    /// What happened.
    pub kind: MessageKind,
    /// The incidents it is about (one, or several failing together).
    pub incidents: Vec<IncidentLine>,
    /// What the incidents share, named in a grouped subject (a host, a site).
    pub group: Option<String>,
    /// The server's public URL.
    pub server: String,
    /// A reminder's number (the first reminder is 1).
    pub reminder: Option<u64>,
    /// How long the longest of its incidents has been (or was) down, in
    /// words (`3 min 50 s`).
    pub down_for: Option<String>,
    /// The link that acknowledges the message's incidents for its
    /// recipient (e-mail only, while nobody has).
    pub acknowledge_link: Option<String>,
    /// Who is on it, in a sentence (`Acknowledged by ana@example.com at
    /// 14:35 CET, 1 min ago: "rolling back"`), once someone said so.
    pub acknowledged: Option<String>,
}

/// A template that does not render.
#[derive(Debug, thiserror::Error)]
#[error("alert template `{template}`: {source}")]
pub struct RenderError {
    template: &'static str,
    #[source]
    source: minijinja::Error,
}

/// The alert templates, compiled once.
#[derive(Debug)]
pub struct Templates {
    environment: Environment<'static>,
}

const SUBJECT: &str = "subject.txt.j2";
const TEXT: &str = "alert.txt.j2";
const HTML: &str = "alert.html.j2";

impl Templates {
    /// The templates built into the binary from `alerts/`.
    pub fn embedded() -> Result<Self, RenderError> {
        let mut environment = Environment::new();
        environment.set_auto_escape_callback(|name| {
            if name.ends_with(".html.j2") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        for (name, source) in [
            (SUBJECT, include_str!("../../../alerts/subject.txt.j2")),
            (TEXT, include_str!("../../../alerts/alert.txt.j2")),
            (HTML, include_str!("../../../alerts/alert.html.j2")),
        ] {
            environment
                .add_template(name, source)
                .map_err(|source| RenderError {
                    template: name,
                    source,
                })?;
        }
        Ok(Templates { environment })
    }

    /// Renders the e-mail for `context`.
    pub fn email(&self, context: &MessageContext) -> Result<Email, RenderError> {
        let render = |name: &'static str| {
            self.environment
                .get_template(name)
                .and_then(|template| template.render(context))
                .map_err(|source| RenderError {
                    template: name,
                    source,
                })
        };
        let subject = render(SUBJECT)?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        Ok(Email {
            subject,
            text: render(TEXT)?,
            html: render(HTML)?,
            message_id: None,
            in_reply_to: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(kind: MessageKind, incidents: Vec<IncidentLine>, group: Option<String>) -> Email {
        Templates::embedded()
            .unwrap()
            .email(&MessageContext {
                kind,
                incidents,
                group,
                server: "https://mon.example.com".to_owned(),
                reminder: (kind == MessageKind::Reminder).then_some(2),
                down_for: Some("4 min".to_owned()),
                acknowledge_link: None,
                acknowledged: None,
            })
            .unwrap()
    }

    fn line(monitor: &str) -> IncidentLine {
        IncidentLine {
            id: 7,
            critical: true,
            monitor: monitor.to_owned(),
            site: false,
            checkpoint: false,
            target: "https://shop.example.com/".to_owned(),
            problem: "expected status 200, got 503".to_owned(),
            checkpoints: vec!["local".to_owned(), "eu-west".to_owned()],
            timings: Some("dns 3 ms, connect 10 ms, first byte 70 ms".to_owned()),
            class: "confirmed_outage".to_owned(),
            classification: Some("confirmed outage, real users affected".to_owned()),
            explanation: None,
            traffic: Some("4 page views in 10 min, 120 expected".to_owned()),
            since: "2026-12-01T02:00:00Z".to_owned(),
            since_text: "03:00 CET, 4 min ago".to_owned(),
            opened_at: Timestamp::from(0),
            monitor_id: None,
            acknowledged_by: None,
            acknowledged_at: None,
            duration: None,
            link: "https://mon.example.com/incidents/7".to_owned(),
            group: "shop.example.com".to_owned(),
            dependants: Vec::new(),
        }
    }

    #[test]
    fn one_incident_is_named_in_the_subject_and_escaped_in_html() {
        let mut incident = line("shop <home>");
        incident.problem = "the body does not contain `Add to cart`".to_owned();
        let email = render(MessageKind::Down, vec![incident], None);
        assert_eq!(
            email.subject,
            "[DOWN] shop <home>: confirmed outage, real users affected — the body does not contain `Add to cart` (local, eu-west)"
        );
        assert!(
            email
                .text
                .contains("What failed: the body does not contain `Add to cart`")
        );
        assert!(
            email
                .text
                .contains("Real users: 4 page views in 10 min, 120 expected")
        );
        assert!(
            email
                .text
                .contains("Incident: https://mon.example.com/incidents/7")
        );
        assert!(email.html.contains("shop &lt;home&gt;"), "{}", email.html);
        assert!(!email.html.contains("shop <home>"));
    }

    #[test]
    fn several_incidents_make_one_message_that_lists_them_all() {
        let incidents: Vec<IncidentLine> = (1..=20).map(|n| line(&format!("api {n}"))).collect();
        let email = render(
            MessageKind::Down,
            incidents,
            Some("shop.example.com".to_owned()),
        );
        assert!(
            email
                .subject
                .starts_with("[DOWN] 20 monitors on shop.example.com: confirmed outage, real users affected — api 1, api 2,")
                && email.subject.ends_with("and 15 more"),
            "{}",
            email.subject
        );
        for n in 1..=20 {
            assert!(
                email.text.contains(&format!("api {n} (")),
                "api {n} missing"
            );
        }
        let recovered = render(MessageKind::Recovered, vec![line("shop home")], None);
        assert_eq!(recovered.subject, "[RECOVERED] shop home");
        assert!(!recovered.text.contains("What failed"));
    }

    #[test]
    fn a_sites_own_incident_reads_as_a_real_user_alert() {
        let mut incident = line("site shop");
        incident.site = true;
        incident.checkpoints = Vec::new();
        incident.classification = Some("real users see poor performance".to_owned());
        incident.problem = "LCP p75 5.2 s over the last 15 min".to_owned();
        let email = render(
            MessageKind::Down,
            vec![incident.clone(), line("shop home")],
            Some("shop".to_owned()),
        );
        assert!(
            email.subject.starts_with("[DOWN] 2 incidents on shop:"),
            "{}",
            email.subject
        );
        assert!(
            email
                .text
                .starts_with("1 monitor down; 1 site with a real-user problem."),
            "{}",
            email.text
        );
        let email = render(MessageKind::Down, vec![incident], None);
        assert_eq!(
            email.subject,
            "[ALERT] site shop: real users see poor performance — LCP p75 5.2 s over the last 15 min"
        );
        assert!(
            email
                .text
                .contains("What real users see: LCP p75 5.2 s over the last 15 min"),
            "{}",
            email.text
        );
        assert!(!email.text.contains("Where:"), "{}", email.text);
        assert!(email.text.contains("  Since: 03:00 CET, 4 min ago"));
        assert!(!email.html.contains("from unknown"), "{}", email.html);
    }

    #[test]
    fn a_checkpoints_own_incident_says_it_is_offline_not_down() {
        let mut incident = line("checkpoint west");
        incident.checkpoint = true;
        incident.checkpoints = Vec::new();
        incident.target = "2 monitors run from it".to_owned();
        incident.classification = Some("checkpoint offline".to_owned());
        incident.problem = "no contact for 1m 5s (last at 2026-12-01T02:00:00Z)".to_owned();
        let email = render(MessageKind::Down, vec![incident.clone()], None);
        assert_eq!(
            email.subject,
            "[ALERT] checkpoint west: checkpoint offline — no contact for 1m 5s (last at 2026-12-01T02:00:00Z)"
        );
        assert!(
            email.text.starts_with("1 checkpoint offline."),
            "{}",
            email.text
        );
        assert!(
            email.text.contains("What happened: no contact"),
            "{}",
            email.text
        );
        assert!(!email.text.contains("Down since"), "{}", email.text);
        assert!(
            email.html.contains("1 checkpoint offline"),
            "{}",
            email.html
        );
        let both = render(
            MessageKind::Down,
            vec![incident.clone(), line("shop home")],
            None,
        );
        assert!(
            both.text
                .starts_with("1 monitor down; 1 checkpoint offline."),
            "{}",
            both.text
        );
        let back = render(MessageKind::Recovered, vec![incident], None);
        assert!(
            back.text.starts_with("1 checkpoint back in contact."),
            "{}",
            back.text
        );
    }
}
