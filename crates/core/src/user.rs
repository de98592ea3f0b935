//! Who may do what: user roles and e-mail addresses as login names.

use crate::ValidationError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a user (or a token acting for one) may do. Viewers read everything
/// and change nothing; editors also change what is monitored and how
/// (monitors, sites, alert policies, maintenance windows, status pages,
/// incidents); admins also manage people, tokens, secrets, checkpoints and
/// read the audit log. Ordered: a role includes every role below it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything, changes nothing.
    Viewer,
    /// Reads everything, changes what is monitored.
    Editor,
    /// Reads and changes everything.
    Admin,
}

impl Role {
    /// Every role, least first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Editor, Role::Admin];

    /// The stored and displayed name of the role.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        }
    }

    /// Whether this role may change what is monitored and how.
    pub fn can_write(self) -> bool {
        self >= Role::Editor
    }

    /// Whether this role may manage people, tokens, secrets and
    /// checkpoints, and read the audit log.
    pub fn can_administer(self) -> bool {
        self == Role::Admin
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, not `write_str`: listings align roles with `{:<8}`.
        f.pad(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ValidationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| {
                ValidationError::new(
                    "role",
                    format!("unknown role `{text}`, expected `admin`, `editor` or `viewer`"),
                )
            })
    }
}

/// A login name: an e-mail address, kept lower-cased so that `Ops@Example.com`
/// and `ops@example.com` are one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Email(String);

/// What [`Email::parse`] accepts, as a JSON Schema pattern: one `@`, no
/// white space or control characters, a domain of dot-separated labels.
pub const EMAIL_PATTERN: &str = "^[^@\\s\\u0000-\\u001f\\u007f-\\u009f]+@[^@.\\s\\u0000-\\u001f\\u007f-\\u009f]+(\\.[^@.\\s\\u0000-\\u001f\\u007f-\\u009f]+)*$";

impl Email {
    /// Checks and normalises an address. This is a sanity check (one `@`, a
    /// dotted or local domain, no spaces), not RFC 5322: delivery is the test.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let address = text.trim().to_lowercase();
        let invalid = |why: &str| ValidationError::new("email", format!("`{text}` {why}"));
        if address.len() > 254 {
            return Err(ValidationError::new(
                "email",
                "is longer than 254 characters",
            ));
        }
        let Some((local, domain)) = address.split_once('@') else {
            return Err(invalid("is not an e-mail address (no `@`)"));
        };
        if local.is_empty() || domain.is_empty() || domain.contains('@') {
            return Err(invalid("is not an e-mail address"));
        }
        if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("contains white space"));
        }
        if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
            return Err(invalid("has a malformed domain"));
        }
        Ok(Self(address))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The shortest password accepted for a user.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Checks a new password against the rules every entry point applies.
pub fn validate_password(password: &str) -> Result<(), ValidationError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(ValidationError::new(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if chars > 1024 {
        return Err(ValidationError::new(
            "password",
            "must be at most 1024 characters",
        ));
    }
    Ok(())
}

impl TryFrom<String> for Role {
    type Error = ValidationError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse(" Ops@Example.COM ").unwrap().as_str(),
            "ops@example.com"
        );
        assert_eq!(
            Email::parse("root@localhost").unwrap().as_str(),
            "root@localhost"
        );
        for bad in [
            "",
            "ops",
            "@x.com",
            "ops@",
            "a b@x.com",
            "a@b@c",
            "a@.com",
            "a@x..com",
        ] {
            let err = Email::parse(bad).unwrap_err();
            assert_eq!(err.field, "email", "{bad}");
        }
    }

    #[test]
    fn roles_parse_and_write() {
        assert_eq!("viewer".parse::<Role>().unwrap(), Role::Viewer);
        assert!(
            "root"
                .parse::<Role>()
                .unwrap_err()
                .message
                .contains("unknown role")
        );
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!(Role::Admin.can_write() && Role::Admin.can_administer());
        assert!(Role::Editor.can_write() && !Role::Editor.can_administer());
        assert!(!Role::Viewer.can_write() && !Role::Viewer.can_administer());
        assert_eq!(Role::Admin.min(Role::Editor), Role::Editor);
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough pass").is_ok());
    }
}
