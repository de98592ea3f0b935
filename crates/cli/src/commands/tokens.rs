//! `sightline token create|list|revoke`.

use super::users::find;
use crate::config::TokenCommand;
use anyhow::{Result, anyhow};
use sightline_core::{Role, Timestamp};
use sightline_store::Store;
use std::time::Duration;

pub async fn run(store: &Store, command: &TokenCommand) -> Result<()> {
    match command {
        TokenCommand::Create {
            user,
            name,
            role,
            checkpoint,
            expires_in_days,
        } => {
            let user = find(store, user).await?;
            let role: Role = role
                .parse()
                .map_err(|e: sightline_core::ValidationError| anyhow!("{}", e.message))?;
            sightline_core::validation::require_text("name", name, 100)
                .map_err(|e| anyhow!("{e}"))?;
            let checkpoint_id = match checkpoint {
                Some(name) => {
                    sightline_core::monitor::validate_checkpoint_name(name)
                        .map_err(|e| anyhow!("checkpoint {}", e.message))?;
                    Some(store.ensure_checkpoint(name).await?.id)
                }
                None => None,
            };
            let expires_at = expires_in_days.map(|days| {
                store
                    .now()
                    .plus(Duration::from_secs(u64::from(days) * 86_400))
            });
            let (secret, token) =
                sightline_server::mint_token(user.id, name, role, checkpoint_id, expires_at);
            let token = store.create_token(&token).await?;
            crate::audit::record(
                store,
                crate::audit::Made {
                    command: "sightline token create",
                    action: "created",
                    kind: "token",
                    id: Some(token.id),
                    name: &token.name,
                    after: Some(serde_json::json!({
                        "name": token.name, "role": token.role, "user": user.email,
                        "prefix": token.token_prefix, "checkpoint": checkpoint,
                    })),
                },
            )
            .await?;
            eprintln!(
                "created token {} ({}) for {}; it is shown only now:",
                token.id, token.role, user.email
            );
            println!("{secret}");
        }
        TokenCommand::List { user } => {
            let owner = match user {
                Some(email) => Some(find(store, email).await?.id),
                None => None,
            };
            println!(
                "{:<6} {:<8} {:<12} {:<10} {:<24} NAME",
                "ID", "ROLE", "PREFIX", "STATE", "LAST USED"
            );
            for token in store.list_tokens(owner).await? {
                let state = if token.revoked_at.is_some() {
                    "revoked"
                } else if token
                    .expires_at
                    .is_some_and(|at| at <= store.now().as_millis())
                {
                    "expired"
                } else {
                    "active"
                };
                let last_used = token.last_used_at.map_or_else(
                    || "never".to_owned(),
                    |at| Timestamp::from_millis(at).to_rfc3339(),
                );
                println!(
                    "{:<6} {:<8} {:<12} {:<10} {:<24} {}",
                    token.id, token.role, token.token_prefix, state, last_used, token.name
                );
            }
        }
        TokenCommand::Revoke { id } => {
            let token = store.revoke_token(*id).await?;
            crate::audit::record(
                store,
                crate::audit::Made {
                    command: "sightline token revoke",
                    action: "deleted",
                    kind: "token",
                    id: Some(token.id),
                    name: &token.name,
                    after: None,
                },
            )
            .await?;
            eprintln!("revoked token {} ({})", token.id, token.name);
        }
    }
    Ok(())
}
