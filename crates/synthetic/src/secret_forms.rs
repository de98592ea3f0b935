//! Every form a secret value takes on its way out of a check, found in any
//! text a report carries.
//!
//! A check sends a secret in URLs (percent-encoded, a space as `%20` or
//! `+`), in JSON bodies (escaped), in HTML (character references), in
//! `Authorization: Basic` headers (base64, beside the user name), and a
//! target may echo any of those back. [`SecretForms`] finds them all:
//!
//! - one pattern per secret in which each character may appear as itself
//!   or in any of its escapes (percent, also doubly, JSON `\uXXXX` and
//!   short escapes, HTML decimal, hexadecimal and named references, `+`
//!   for a space), mixed freely, as encoders mix them;
//! - the secret's base64 (standard and URL-safe alphabets) at each of the
//!   three byte offsets it can start at inside a longer encoded text, less
//!   the edge characters shared with its neighbours;
//! - any base64 run of text that decodes to something holding a secret in
//!   one of the forms above (`Basic dXNlcjpwYXNz`), masked whole.

use base64::Engine as _;
use regex::Regex;

/// What a found form is replaced with.
pub const MASK: &str = "***";

/// Base64 runs this long or longer are decoded to look inside.
const SHORTEST_ENCODED_RUN: usize = 8;

/// The forms of a set of secret values, compiled.
#[derive(Debug)]
pub struct SecretForms {
    /// Every character-wise form of every value, and their base64 fragments.
    forms: Regex,
    /// Runs of base64 text.
    encoded_runs: Regex,
}

impl SecretForms {
    /// The forms of `values` (longest first, so that a value containing
    /// another is masked whole). `None` when there is nothing to look for.
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        let mut values: Vec<&str> = values.into_iter().filter(|v| !v.is_empty()).collect();
        if values.is_empty() {
            return None;
        }
        values.sort_by_key(|value| std::cmp::Reverse(value.len()));
        values.dedup();
        let mut alternatives: Vec<String> =
            values.iter().map(|value| escaped_forms(value)).collect();
        for value in &values {
            alternatives.extend(base64_fragments(value.as_bytes()).map(|f| regex::escape(&f)));
        }
        let forms = Regex::new(&alternatives.join("|")).ok()?;
        let encoded_runs = Regex::new(&format!(
            "[A-Za-z0-9+/_-]{{{SHORTEST_ENCODED_RUN},}}={{0,2}}"
        ))
        .ok()?;
        Some(SecretForms {
            forms,
            encoded_runs,
        })
    }

    /// `text` with every form of every value replaced by [`MASK`]; borrowed
    /// when there was none.
    pub fn mask<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        // Runs that decode to a secret go whole, before their fragments.
        let mut decoded_hidden: Option<String> = None;
        let mut copied = 0;
        for run in self.encoded_runs.find_iter(text) {
            let holds_secret = decode_base64(run.as_str())
                .is_some_and(|decoded| self.forms.is_match(&String::from_utf8_lossy(&decoded)));
            if holds_secret {
                let out = decoded_hidden.get_or_insert_with(|| String::with_capacity(text.len()));
                out.push_str(&text[copied..run.start()]);
                out.push_str(MASK);
                copied = run.end();
            }
        }
        match decoded_hidden {
            None => self.forms.replace_all(text, MASK),
            Some(mut out) => {
                out.push_str(&text[copied..]);
                std::borrow::Cow::Owned(self.forms.replace_all(&out, MASK).into_owned())
            }
        }
    }
}

/// A pattern matching `value` with each character as itself or escaped.
fn escaped_forms(value: &str) -> String {
    let mut pattern = String::with_capacity(value.len() * 64);
    for c in value.chars() {
        pattern.push_str("(?:");
        pattern.push_str(&char_forms(c).join("|"));
        pattern.push(')');
    }
    pattern
}

/// The ways one character is written by the encoders a check's text meets.
fn char_forms(c: char) -> Vec<String> {
    let mut forms = vec![regex::escape(&c.to_string())];
    if c == ' ' {
        forms.push(r"\+".to_owned());
    }
    // Percent-encoding of each UTF-8 byte, in either case, also encoded
    // twice (`%2520`).
    let mut utf8 = [0u8; 4];
    let percent: String = c
        .encode_utf8(&mut utf8)
        .bytes()
        .map(|byte| format!("%(?:25)?{}", hex_any_case(u32::from(byte), 2)))
        .collect();
    forms.push(percent);
    // JSON: `\uXXXX` (a surrogate pair beyond the BMP) and short escapes.
    let mut units = [0u16; 2];
    let json: String = c
        .encode_utf16(&mut units)
        .iter()
        .map(|unit| format!(r"\\u{}", hex_any_case(u32::from(*unit), 4)))
        .collect();
    forms.push(json);
    let short = match c {
        '"' => Some(r#"\\""#),
        '\\' => Some(r"\\\\"),
        '/' => Some(r"\\/"),
        '\n' => Some(r"\\n"),
        '\r' => Some(r"\\r"),
        '\t' => Some(r"\\t"),
        '\u{8}' => Some(r"\\b"),
        '\u{c}' => Some(r"\\f"),
        _ => None,
    };
    forms.extend(short.map(str::to_owned));
    // HTML: decimal and hexadecimal references, and the named ones.
    forms.push(format!("&#0*{};", u32::from(c)));
    forms.push(format!("&#[xX]0*{};", hex_any_case(u32::from(c), 0)));
    let named = match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&apos;"),
        _ => None,
    };
    forms.extend(named.map(str::to_owned));
    forms
}

/// `number` in hexadecimal (at least `width` digits), each letter matching
/// either case.
fn hex_any_case(number: u32, width: usize) -> String {
    format!("{number:0width$x}")
        .chars()
        .map(|digit| {
            if digit.is_ascii_alphabetic() {
                format!("[{digit}{}]", digit.to_ascii_uppercase())
            } else {
                digit.to_string()
            }
        })
        .collect()
}

/// The parts of `value`'s base64 that do not depend on what surrounds it,
/// for each of the three offsets it may start at and both alphabets.
fn base64_fragments(value: &[u8]) -> impl Iterator<Item = String> + '_ {
    (0..3usize).flat_map(move |offset| {
        let mut bytes = vec![0u8; offset];
        bytes.extend_from_slice(value);
        let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&bytes);
        // Characters wholly made of the value's bits: from the first one
        // after the offset's bits to the last one before the end.
        let start = (offset * 8).div_ceil(6);
        let end = ((offset + value.len()) * 8) / 6;
        let fragment = encoded.get(start..end).unwrap_or_default().to_owned();
        let url_safe = fragment.replace('+', "-").replace('/', "_");
        [fragment, url_safe]
            .into_iter()
            .filter(|fragment| fragment.len() >= 4)
    })
}

/// A run of base64 text decoded, whichever alphabet and padding it uses.
fn decode_base64(run: &str) -> Option<Vec<u8>> {
    let unpadded = run.trim_end_matches('=');
    let engine = if unpadded.contains(['-', '_']) {
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
    } else {
        &base64::engine::general_purpose::STANDARD_NO_PAD
    };
    engine.decode(unpadded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "pa55 wörd+/=";

    fn masked(text: &str) -> String {
        SecretForms::new([SECRET, "hunter22"])
            .unwrap()
            .mask(text)
            .into_owned()
    }

    #[test]
    fn every_encoding_of_a_secret_is_masked() {
        let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
        let url_safe = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
        for (form, text) in [
            ("as typed", format!("x={SECRET}&y=1")),
            ("%20", "x=pa55%20w%C3%B6rd%2B%2F%3D&y=1".to_owned()),
            (
                "+ and lower-case hex",
                "x=pa55+w%c3%b6rd%2b%2f%3d&y=1".to_owned(),
            ),
            ("partly encoded", "x=pa55%20wörd+/=&y=1".to_owned()),
            (
                "encoded twice",
                "x=pa55%2520w%25C3%25B6rd%252B%252F%253D&y=1".to_owned(),
            ),
            ("JSON", r#"{"x":"pa55 w\u00f6rd+\/=","y":1}"#.to_owned()),
            (
                "JSON upper-case",
                r#"{"x":"pa55 w\u00F6rd+/\u003d","y":1}"#.to_owned(),
            ),
            ("HTML", "x=pa55 w&#246;rd&#x2B;/&#61;&amp;y=1".to_owned()),
            ("base64", format!("x={}&y=1", b64(SECRET))),
            (
                "Basic",
                format!("Authorization: Basic {}", b64(&format!("alice:{SECRET}"))),
            ),
            (
                "URL-safe base64 of JSON",
                format!("t={}", url_safe(&format!("{{\"password\":\"{SECRET}\"}}"))),
            ),
        ] {
            let out = masked(&text);
            assert!(out.contains(MASK), "{form}: {out}");
            for leaked in [
                "pa55",
                "w%C3",
                "w%c3",
                "wörd",
                r"w\u00",
                "w&#246",
                &b64(SECRET)[2..12],
            ] {
                assert!(!out.contains(leaked), "{form}: {leaked} left in {out}");
            }
        }
    }

    #[test]
    fn base64_at_any_offset_inside_a_longer_text_is_masked() {
        let fragments: Vec<String> = base64_fragments(b"hunter22").collect();
        assert_eq!(fragments.len(), 6, "{fragments:?}");
        for prefix in ["", "a", "ab", "abc"] {
            let encoded = base64::engine::general_purpose::STANDARD
                .encode(format!("{prefix}hunter22 and more text around it"));
            // The run decodes whole and holds the secret.
            assert_eq!(
                masked(&format!("blob {encoded}!")),
                format!("blob {MASK}!"),
                "{prefix:?}"
            );
            // Cut so that it no longer decodes, its fragment still goes.
            let cut = format!("blob {}#", &encoded[..encoded.len() - 3]);
            let out = masked(&cut);
            assert_ne!(out, cut, "{prefix:?}");
            for fragment in &fragments {
                assert!(!out.contains(fragment.as_str()), "{prefix:?}: {out}");
            }
        }
    }

    #[test]
    fn other_text_is_left_alone() {
        let text = "GET /status?page=2 answered 200 in 31 ms: {\"ok\":true} aGVsbG8gd29ybGQ=";
        assert_eq!(masked(text), text);
        assert!(matches!(
            SecretForms::new(["hunter22"]).unwrap().mask(text),
            std::borrow::Cow::Borrowed(_)
        ));
        assert!(SecretForms::new([""; 0]).is_none());
    }
}
