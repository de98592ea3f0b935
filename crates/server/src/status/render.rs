//! A status page's public answers, made from its [`PublicPage`]: the HTML
//! page (plain HTML and inline CSS, no script), its Atom feed, its JSON,
//! and one SVG badge per component for its state and its uptime.

use super::model::{PublicComponent, PublicPage, State};
use minijinja::{AutoEscape, Environment, context};
use std::sync::LazyLock;

const CSS: &str = include_str!("../../../../web/status/status.css");

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut environment = Environment::new();
    // Every template escapes `&`, `<`, `>` and quotes, which is all that
    // text and quoted attributes of HTML, and XML, need (minijinja's HTML
    // escaping also writes `/` as `&#x2f;`, which makes addresses unreadable).
    environment.set_auto_escape_callback(|_| AutoEscape::Custom("markup"));
    environment.set_formatter(|out, state, value| {
        if state.auto_escape() != AutoEscape::Custom("markup") {
            return minijinja::escape_formatter(out, state, value);
        }
        let text = value.to_string();
        let text = if value.is_safe() || value.is_undefined() || value.is_none() {
            if value.is_safe() { text } else { String::new() }
        } else {
            escape(&text).replace('\'', "&#39;")
        };
        out.write_str(&text)
            .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string()))
    });
    for (name, source) in [
        ("page", include_str!("../../../../web/status/page.html.j2")),
        ("feed", include_str!("../../../../web/status/feed.atom.j2")),
        (
            "notice",
            include_str!("../../../../web/status/notice.html.j2"),
        ),
    ] {
        // The templates are part of the binary and tested: one that does
        // not compile fails every test of the page.
        if let Err(error) = environment.add_template(name, source) {
            tracing::error!(%error, name, "status page template");
        }
    }
    environment
});

fn render(name: &str, context: minijinja::Value) -> String {
    TEMPLATES
        .get_template(name)
        .and_then(|template| template.render(context))
        .unwrap_or_else(|error| {
            tracing::error!(%error, name, "rendering a status page");
            String::new()
        })
}

/// The HTML page. `base` is where its own addresses start (`/status/shop`,
/// or empty on the page's own domain).
pub(crate) fn page_html(page: &PublicPage, base: &str, subscribe: bool) -> String {
    let favicon_colour = state_colour(page.state).trim_start_matches('#');
    render(
        "page",
        context! { page, base, subscribe, favicon_colour, css => CSS },
    )
}

/// A short page of its own: not found, a password to type, a subscription
/// confirmed.
pub(crate) fn notice_html(
    heading: &str,
    message: &str,
    password_form: Option<&str>,
    back: Option<&str>,
) -> String {
    render(
        "notice",
        context! { heading, message, password_form, back, css => CSS },
    )
}

/// A short page with one button that posts to `action`: what a link in a
/// mail opens, so that a mail scanner following it changes nothing.
pub(crate) fn confirm_html(
    heading: &str,
    message: &str,
    action: &str,
    action_label: &str,
) -> String {
    render(
        "notice",
        context! { heading, message, action, action_label, css => CSS },
    )
}

/// The Atom feed of the page's incidents, newest first. `page_url` is the
/// page's absolute address.
pub(crate) fn feed_atom(page: &PublicPage, page_url: &str) -> String {
    let mut incidents: Vec<_> = page
        .active_incidents
        .iter()
        .chain(&page.past_incidents)
        .collect();
    incidents.sort_by(|a, b| b.updated_at.cmp(&a.updated_at));
    let updated = incidents
        .first()
        .map_or(page.generated_at.clone(), |incident| {
            incident.updated_at.clone()
        });
    render("feed", context! { page, incidents, page_url, updated })
}

/// The page as JSON, for scripts and other dashboards.
pub(crate) fn page_json(page: &PublicPage) -> Vec<u8> {
    serde_json::to_vec(page).unwrap_or_default()
}

fn escape(text: &str) -> String {
    sightline_alerting::channels::escape_markup(text)
}

/// Roughly how wide text is in 11 px Verdana: enough to size a badge.
fn text_width(text: &str) -> u32 {
    text.chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '.' | ',' | ':' | ' ' | '|' | '!' | '\'' => 4,
            'm' | 'w' | 'M' | 'W' | '%' => 10,
            c if c.is_ascii_uppercase() => 8,
            _ => 7,
        })
        .sum()
}

/// A flat two-part badge (`label | value`) in the value's colour, with the
/// text as its accessible name.
fn badge(label: &str, value: &str, colour: &str) -> String {
    let (left, right) = (text_width(label) + 12, text_width(value) + 12);
    let width = left + right;
    let (label, value) = (escape(label), escape(value));
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"20\" role=\"img\" aria-label=\"{label}: {value}\">\
<title>{label}: {value}</title>\
<rect width=\"{left}\" height=\"20\" rx=\"3\" fill=\"#555\"/>\
<rect x=\"{left}\" width=\"{right}\" height=\"20\" rx=\"3\" fill=\"{colour}\"/>\
<rect x=\"{left}\" width=\"4\" height=\"20\" fill=\"{colour}\"/>\
<g fill=\"#fff\" font-family=\"Verdana,DejaVu Sans,sans-serif\" font-size=\"11\">\
<text x=\"6\" y=\"14\">{label}</text><text x=\"{}\" y=\"14\">{value}</text></g></svg>",
        left + 6
    )
}

/// The colour of a state on a badge (white text on it reads at 4.5:1).
fn state_colour(state: State) -> &'static str {
    match state {
        State::Operational => "#1a7f37",
        State::Degraded => "#8a5a00",
        State::PartialOutage => "#bc4c00",
        State::MajorOutage => "#b42318",
        State::Maintenance => "#0550ae",
        State::NoData => "#57606a",
    }
}

/// A component's state badge.
pub(crate) fn state_badge(component: &PublicComponent) -> String {
    badge(
        &component.name,
        &component.state_label.to_lowercase(),
        state_colour(component.state),
    )
}

/// A component's uptime badge (its 90 days).
pub(crate) fn uptime_badge(component: &PublicComponent) -> String {
    let (value, colour) = match component.uptime {
        Some(uptime) if uptime >= 99.9 => (component.uptime_text.clone(), "#1a7f37"),
        Some(uptime) if uptime >= 99.0 => (component.uptime_text.clone(), "#8a5a00"),
        Some(_) => (component.uptime_text.clone(), "#b42318"),
        None => (None, "#57606a"),
    };
    badge(
        &format!("{} uptime", component.name),
        &value.unwrap_or_else(|| "no data".to_owned()),
        colour,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badges_escape_their_text_and_fit_it() {
        let svg = badge("<A&B>", "operational", "#1a7f37");
        assert!(svg.contains("&lt;A&amp;B&gt;"), "{svg}");
        assert!(!svg.contains("<A&B>"));
        assert!(text_width("Store front") > text_width("API"));
    }

    #[test]
    fn every_template_compiles() {
        for name in ["page", "feed", "notice"] {
            assert!(TEMPLATES.get_template(name).is_ok(), "{name}");
        }
    }
}
