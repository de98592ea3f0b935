//! One module per command; each turns settings into a running store and does
//! its one job.

mod agent;
mod check;
mod serve;
mod tokens;
mod users;

use crate::config::{Cli, Command, Settings};
use anyhow::{Context, Result};
use sightline_store::{Store, SystemClock};
use std::sync::Arc;

/// Runs the command the user asked for.
pub async fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Serve(args) => serve::run(Settings::resolve(&cli.global, Some(args))?).await,
        Command::Migrate => {
            let store = open_store(&Settings::resolve(&cli.global, None)?).await?;
            store.close().await;
            eprintln!("the database schema is current");
            Ok(())
        }
        Command::User(command) => {
            let store = open_store(&Settings::resolve(&cli.global, None)?).await?;
            let result = users::run(&store, command).await;
            store.close().await;
            result
        }
        Command::Check(args) => check::run(args).await,
        Command::Agent(args) => agent::run(args).await,
        Command::Apply {
            file,
            prune,
            dry_run,
        } => {
            let declared = crate::as_code::Declared::read(file)?;
            let store = open_store(&Settings::resolve(&cli.global, None)?).await?;
            let result = apply(&store, &declared, *prune, *dry_run).await;
            store.close().await;
            result
        }
        Command::Export { output } => {
            let store = open_store(&Settings::resolve(&cli.global, None)?).await?;
            let result = crate::as_code::export(&store).await;
            store.close().await;
            let text = result?;
            match output {
                Some(path) => std::fs::write(path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => print!("{text}"),
            }
            Ok(())
        }
        Command::Backup { file } => {
            let (url, copied) = copy_file(&cli, file, sightline_store::back_up).await?;
            eprintln!(
                "backed up {url} to {}: {}, schema version {}, in {:.1} s",
                copied.path.display(),
                human_bytes(copied.bytes),
                copied.schema_version,
                copied.took.as_secs_f64()
            );
            Ok(())
        }
        Command::Restore { file } => {
            let restore = |url: &str, file: &std::path::Path| sightline_store::restore(file, url);
            let (_, copied) = copy_file(&cli, file, restore).await?;
            eprintln!(
                "restored {} ({}, schema version {}); `sightline serve` runs on it",
                copied.path.display(),
                human_bytes(copied.bytes),
                copied.schema_version
            );
            Ok(())
        }
        Command::Token(command) => {
            let store = open_store(&Settings::resolve(&cli.global, None)?).await?;
            let result = tokens::run(&store, command).await;
            store.close().await;
            result
        }
    }
}

/// Connects to the configured database (creating the SQLite data directory
/// on first use) and brings its schema up to date.
pub async fn open_store(settings: &Settings) -> Result<Store> {
    if settings.uses_sqlite() {
        std::fs::create_dir_all(&settings.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                settings.data_dir.display()
            )
        })?;
    }
    let store = Store::connect(&settings.database_url, Arc::new(SystemClock))
        .await
        .with_context(|| {
            format!(
                "cannot open the database {}",
                redact(&settings.database_url)
            )
        })?;
    store
        .migrate()
        .await
        .context("cannot migrate the database")?;
    Ok(store)
}

/// A database URL fit for logs: any password replaced.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Reads a password: prompted without echo on a terminal, else the first
/// line of standard input.
pub fn read_password(prompt: &str) -> Result<String> {
    use std::io::IsTerminal;
    let password = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).context("cannot read the password")?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    sightline_core::user::validate_password(&password)
        .map_err(|e| anyhow::anyhow!("password {}", e.message))?;
    Ok(password)
}

/// Applies a declared configuration and says what changed (or, in a dry
/// run, what would).
async fn apply(
    store: &Store,
    declared: &crate::as_code::Declared,
    prune: bool,
    dry_run: bool,
) -> Result<()> {
    let applied = crate::as_code::apply(store, declared, prune, dry_run).await?;
    if !dry_run {
        crate::audit::record_applied(store, "sightline apply", &applied).await?;
    }
    for change in &applied.changes {
        println!("{}", change.describe(dry_run));
    }
    let verb = if dry_run { "would change" } else { "changed" };
    println!(
        "{} {verb}, {} unchanged",
        applied.changes.len(),
        applied.unchanged
    );
    Ok(())
}

/// Runs a backup or a restore between the configured database and `file`
/// on a blocking thread (it reads and writes whole files); the database's
/// URL and what was copied.
async fn copy_file(
    cli: &Cli,
    file: &std::path::Path,
    copy: fn(
        &str,
        &std::path::Path,
    ) -> Result<sightline_store::Copied, sightline_store::BackupError>,
) -> Result<(String, sightline_store::Copied)> {
    let url = Settings::resolve(&cli.global, None)?.database_url;
    let (given_url, file) = (url.clone(), file.to_owned());
    let copied = tokio::task::spawn_blocking(move || copy(&given_url, &file)).await??;
    Ok((url, copied))
}

/// A size as people read it: `12.3 MB`.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit + 1 < UNITS.len() {
        size /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{size:.1} {}", UNITS[unit])
    }
}
