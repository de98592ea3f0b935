//! `sightline agent`: a remote checkpoint. It leases its checkpoint's due
//! checks from the server, runs them here and reports the results.

use crate::config::{AgentArgs, LogFormat};
use anyhow::{Context, Result, bail};
use sightline_store::SystemClock;
use sightline_synthetic::agent::{Agent, AgentConfig};
use sightline_synthetic::{Prober, ProberConfig};
use std::path::PathBuf;
use std::sync::Arc;

pub async fn run(args: &AgentArgs) -> Result<()> {
    super::serve::init_logging(LogFormat::Text);
    sightline_core::monitor::validate_checkpoint_name(&args.checkpoint)
        .map_err(|error| anyhow::anyhow!("--checkpoint: {}", error.message))?;
    if !matches!(args.server.scheme(), "http" | "https") {
        bail!(
            "--server: `{}` must start with http:// or https://",
            args.server
        );
    }
    let browser = crate::config::agent_browser_config(&args.browser)?;
    let prober = Prober::new(
        ProberConfig {
            browser,
            ..ProberConfig::default()
        },
        Arc::new(SystemClock),
    )
    .context("cannot set up the checker")?;
    if let Err(reason) = prober.browser_available() {
        tracing::warn!("browser checks will fail here: {reason}");
    }
    let config = AgentConfig {
        server: args.server.clone(),
        token: args.token.clone(),
        checkpoint: args.checkpoint.clone(),
        spool: args
            .spool_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("sightline-agent-spool")),
        spool_bytes: args.spool_mb.unwrap_or(256) * 1024 * 1024,
        concurrency: args.check_concurrency.unwrap_or(256).max(1),
    };
    tracing::info!(server = %config.server, checkpoint = %config.checkpoint, "agent starting");
    let agent = Agent::new(config, prober, Arc::new(SystemClock))?;
    tokio::select! {
        () = agent.run() => {}
        () = super::serve::shutdown_signal() => tracing::info!("stopping"),
    }
    Ok(())
}
