//! Changes made from the command line go in the audit log beside those
//! made through the API: the actor is whoever runs `sightline` on the
//! server (its operating-system user), with no network address.

use crate::as_code::{Action, Applied};
use anyhow::Result;
use serde_json::Value;
use sightline_store::{NewAuditEntry, Store};

/// One change made by `command` (`sightline user add`, …).
pub struct Made<'a> {
    /// The command that made it.
    pub command: &'a str,
    /// `created`, `changed` or `deleted`.
    pub action: &'a str,
    /// The kind of object, as the API's log names it.
    pub kind: &'a str,
    /// The object's id, when it has one.
    pub id: Option<i64>,
    /// Its name.
    pub name: &'a str,
    /// What it is now, as far as the command knows (never a secret).
    pub after: Option<Value>,
}

/// Records one change.
pub async fn record(store: &Store, made: Made<'_>) -> Result<()> {
    let who = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".to_owned());
    store
        .record_audit(&NewAuditEntry {
            actor_id: None,
            actor: format!("command line ({who})"),
            credential: made.command.to_owned(),
            address: None,
            action: made.action.to_owned(),
            kind: made.kind.to_owned(),
            object_id: made.id.map(|id| id.to_string()),
            object_name: Some(made.name.to_owned()),
            before: None,
            after: made.after,
        })
        .await?;
    Ok(())
}

/// Records what applying a declared configuration changed.
pub async fn record_applied(store: &Store, command: &str, applied: &Applied) -> Result<()> {
    for change in &applied.changes {
        let action = match change.action {
            Action::Create => "created",
            Action::Update => "changed",
            Action::Delete => "deleted",
        };
        record(
            store,
            Made {
                command,
                action,
                kind: change.what,
                id: None,
                name: &change.name,
                after: None,
            },
        )
        .await?;
    }
    Ok(())
}
