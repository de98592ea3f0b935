//! What the chat and incident channels share: an incident's facts in a
//! fixed order, clipping to a vendor's limit, and escaping for its markup.

use crate::render::{IncidentLine, MessageKind};

/// Cuts `text` to at most `max` characters, ending with `…` when cut.
pub(super) fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(max.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}

/// The facts a message shows about one incident, label and value, in the
/// order people read them.
pub(super) fn facts(line: &IncidentLine, kind: MessageKind) -> Vec<(&'static str, String)> {
    let mut facts = Vec::new();
    if kind != MessageKind::Recovered {
        let label = if line.site {
            "What real users see"
        } else if line.checkpoint {
            "What happened"
        } else {
            "What failed"
        };
        facts.push((label, line.problem.clone()));
        if let Some(classification) = &line.classification {
            facts.push(("Verdict", classification.clone()));
        }
        if let Some(traffic) = &line.traffic {
            facts.push(("Real users", traffic.clone()));
        }
    }
    facts.push(("Target", line.target.clone()));
    if !line.checkpoints.is_empty() && kind != MessageKind::Recovered {
        facts.push(("Where", line.checkpoints.join(", ")));
    }
    facts.push(("Since", line.since.clone()));
    if let Some(duration) = &line.duration {
        let label = if kind == MessageKind::Recovered {
            "Lasted"
        } else {
            "For"
        };
        facts.push((label, duration.clone()));
    }
    if !line.dependants.is_empty() {
        facts.push(("Held back", line.dependants.join(", ")));
    }
    facts
}

/// A word for what happened, as chat titles start.
pub(super) fn kind_word(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Down => "DOWN",
        MessageKind::Reminder => "STILL DOWN",
        MessageKind::Recovered => "RECOVERED",
        MessageKind::Acknowledged => "ACKNOWLEDGED",
    }
}

/// A colour for what happened (red, amber, green), as an RGB number.
pub(super) fn colour(kind: MessageKind) -> u32 {
    match kind {
        MessageKind::Down => 0xD9_3025,
        MessageKind::Reminder => 0xE0_8A00,
        MessageKind::Recovered => 0x2E_8540,
        MessageKind::Acknowledged => 0x09_69DA,
    }
}

/// Escapes `&`, `<`, `>` and `"`: what Slack's mrkdwn, Telegram's HTML
/// and any HTML page or e-mail part need of text put into them.
pub fn escape_markup(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `url` with `path` appended after its own path, for vendor addresses
/// that a setting may override with a proxy's (`https://proxy/pd` +
/// `/v2/enqueue`).
pub(super) fn join_url(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_counts_characters_and_marks_the_cut() {
        assert_eq!(clip("héllo", 5), "héllo");
        assert_eq!(clip("héllo wörld", 6), "héllo…");
        assert_eq!(clip("héllo wörld", 6).chars().count(), 6);
    }
}
