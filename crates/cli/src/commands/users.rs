//! `sightline user add|list|remove|passwd`.

use super::read_password;
use crate::config::UserCommand;
use anyhow::{Context, Result};
use sightline_core::{Email, Role};
use sightline_store::{NewUser, Store};

pub async fn run(store: &Store, command: &UserCommand) -> Result<()> {
    match command {
        UserCommand::Add { email, admin, role } => {
            let email = Email::parse(email).map_err(|e| anyhow::anyhow!("{}", e.message))?;
            let role = match (admin, role) {
                (true, _) => Role::Admin,
                (false, Some(role)) => role
                    .parse::<Role>()
                    .map_err(|e| anyhow::anyhow!("--role: {}", e.message))?,
                (false, None) => Role::Viewer,
            };
            let password = read_password("Password: ")?;
            let password_hash = sightline_server::hash_password(&password)?;
            let user = store
                .create_user(&NewUser {
                    email,
                    password_hash,
                    role,
                })
                .await?;
            record(store, "created", &user, "sightline user add").await?;
            eprintln!("added {} ({}) with id {}", user.email, user.role, user.id);
        }
        UserCommand::List => {
            println!("{:<6} {:<8} {:<24} EMAIL", "ID", "ROLE", "CREATED");
            for user in store.list_users().await? {
                println!(
                    "{:<6} {:<8} {:<24} {}",
                    user.id, user.role, user.created_at, user.email
                );
            }
        }
        UserCommand::Remove { email } => {
            let user = find(store, email).await?;
            store.delete_user(user.id).await?;
            record(store, "deleted", &user, "sightline user remove").await?;
            eprintln!("removed {}", user.email);
        }
        UserCommand::Passwd {
            email,
            revoke_tokens,
        } => {
            let user = find(store, email).await?;
            let password = read_password("New password: ")?;
            store
                .change_password(
                    user.id,
                    &sightline_server::hash_password(&password)?,
                    &sightline_store::PasswordChange {
                        keep_session: None,
                        revoke_tokens: *revoke_tokens,
                    },
                )
                .await?;
            record(store, "changed", &user, "sightline user passwd").await?;
            let tokens = if *revoke_tokens {
                " and their API tokens are revoked"
            } else {
                ""
            };
            eprintln!(
                "changed the password of {}; their sessions have ended{tokens}",
                user.email
            );
        }
    }
    Ok(())
}

/// Records a change to `user` in the audit log; a new password shows as
/// set, never itself.
pub(super) async fn record(
    store: &Store,
    action: &str,
    user: &sightline_store::User,
    command: &str,
) -> Result<()> {
    let mut after = serde_json::json!({"email": user.email, "role": user.role});
    if command.ends_with("passwd") {
        after["password"] = "set anew".into();
    }
    crate::audit::record(
        store,
        crate::audit::Made {
            command,
            action,
            kind: "user",
            id: Some(user.id),
            name: &user.email,
            after: (action != "deleted").then_some(after),
        },
    )
    .await
}

/// The user with this e-mail, or an error naming it.
pub async fn find(store: &Store, email: &str) -> Result<sightline_store::User> {
    let parsed = Email::parse(email).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    store
        .user_by_email(&parsed)
        .await
        .with_context(|| format!("no user {email}"))
}
