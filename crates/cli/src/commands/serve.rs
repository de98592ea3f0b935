//! `sightline serve`: everything in one process until SIGINT or SIGTERM.

use super::{open_store, redact};
use crate::config::{LogFormat, Settings};
use anyhow::{Context, Result};
use sightline_core::{Email, Role};
use sightline_server::{AppState, CollectorConfig, ServerConfig};
use sightline_store::{NewUser, Store};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

pub async fn run(settings: Settings) -> Result<()> {
    init_logging(settings.log_format);
    let shutdown = shutdown_signal();
    let store = open_store(&settings).await?;
    tracing::info!(database = %redact(&settings.database_url), "database ready");
    bootstrap_admin(&store).await?;
    if let Some(path) = &settings.config_file {
        let declared = crate::as_code::Declared::read(path)?;
        if !declared.is_empty() {
            let applied = crate::as_code::apply(&store, &declared, false, false).await?;
            crate::audit::record_applied(&store, "sightline serve --config", &applied).await?;
            tracing::info!(
                file = %path.display(),
                changed = applied.changes.len(),
                unchanged = applied.unchanged,
                "applied the declared configuration"
            );
        }
    }

    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    tracing::info!(address = %listener.local_addr()?, "listening");
    let mut collector = CollectorConfig::default();
    if let Some(rate) = settings.rum_site_rate {
        collector.per_site_per_second = rate;
    }
    if let Some(rate) = settings.rum_address_rate {
        collector.per_address_per_minute = rate;
    }
    let config = ServerConfig {
        session_lifetime: settings.session_lifetime,
        secure_cookies: !settings.insecure_cookies,
        public_url: settings.public_url.clone(),
        trusted_proxies: settings.trusted_proxies.clone(),
        geoip_db: settings.geoip_db.clone(),
        collector,
        rum_retention: settings.rum_retention,
        audit_retention: settings.audit_retention,
        synthetic: sightline_synthetic::SyntheticConfig {
            enabled: true,
            concurrency: settings.check_concurrency,
            result_retention: settings.result_retention,
            screenshot_retention: settings.screenshot_retention,
            offline_after: settings.checkpoint_offline_after,
            ..sightline_synthetic::SyntheticConfig::default()
        },
        vault_key: settings.vault_key.clone(),
        metrics_token: settings.metrics_token.clone(),
        connections: settings.connections,
        smtp: settings.smtp.clone(),
        oidc: settings.oidc.clone(),
        prober: sightline_synthetic::ProberConfig {
            browser: settings.browser.clone(),
            ..sightline_synthetic::ProberConfig::default()
        },
        status_refresh: settings.status_refresh,
        ..ServerConfig::default()
    };
    let state = AppState::new(store, config)
        .await
        .context("cannot start the server")?;
    sightline_server::serve(listener, state, shutdown)
        .await
        .context("the server failed")?;
    tracing::info!("stopped");
    Ok(())
}

pub(super) fn init_logging(format: LogFormat) {
    let filter =
        EnvFilter::try_from_env("SIGHTLINE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only where a person reads them: a journal, a file or
        // a log shipper gets plain text.
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Creates the first admin from `SIGHTLINE_ADMIN_EMAIL` and
/// `SIGHTLINE_ADMIN_PASSWORD` when the database has no user yet.
async fn bootstrap_admin(store: &Store) -> Result<()> {
    if store.count_users().await? > 0 {
        return Ok(());
    }
    let email = std::env::var("SIGHTLINE_ADMIN_EMAIL")
        .ok()
        .filter(|v| !v.is_empty());
    let password = std::env::var("SIGHTLINE_ADMIN_PASSWORD")
        .ok()
        .filter(|v| !v.is_empty());
    let (Some(email), Some(password)) = (email, password) else {
        tracing::warn!(
            "there are no users yet: set SIGHTLINE_ADMIN_EMAIL and SIGHTLINE_ADMIN_PASSWORD, \
             or run `sightline user add EMAIL --admin`"
        );
        return Ok(());
    };
    let email = Email::parse(&email)
        .map_err(|e| anyhow::anyhow!("SIGHTLINE_ADMIN_EMAIL: {}", e.message))?;
    sightline_core::user::validate_password(&password)
        .map_err(|e| anyhow::anyhow!("SIGHTLINE_ADMIN_PASSWORD {}", e.message))?;
    let password_hash = sightline_server::hash_password(&password)?;
    match store
        .create_user(&NewUser {
            email,
            password_hash,
            role: Role::Admin,
        })
        .await
    {
        Ok(user) => {
            tracing::info!(email = %user.email, "created the first admin");
            super::users::record(
                store,
                "created",
                &user,
                "sightline serve (SIGHTLINE_ADMIN_EMAIL)",
            )
            .await?;
        }
        // Another process sharing the database created it first.
        Err(sightline_store::StoreError::Conflict { .. }) => {}
        Err(error) => return Err(error.into()),
    }
    Ok(())
}

/// Completes on SIGINT or SIGTERM. The signals are taken over when this
/// is called, not when the future is first polled: one that arrives while
/// the server is still starting stops it in order once it runs, instead of
/// killing it halfway.
pub(super) fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind: SignalKind, name: &'static str| {
            let taken = signal(kind);
            async move {
                match taken {
                    Ok(mut signal) => {
                        signal.recv().await;
                    }
                    Err(error) => {
                        tracing::error!(%error, "cannot listen for {name}");
                        std::future::pending::<()>().await;
                    }
                }
            }
        };
        let interrupt = listen(SignalKind::interrupt(), "SIGINT");
        let terminate = listen(SignalKind::terminate(), "SIGTERM");
        async move {
            tokio::select! {
                () = interrupt => tracing::info!("SIGINT: shutting down"),
                () = terminate => tracing::info!("SIGTERM: shutting down"),
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("SIGINT: shutting down");
        } else {
            std::future::pending::<()>().await;
        }
    }
}
