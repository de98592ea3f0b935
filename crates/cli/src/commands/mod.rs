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
    for change in &applied.changes {
        println!("{change}");
    }
    let verb = if dry_run { "would change" } else { "changed" };
    println!(
        "{} {verb}, {} unchanged",
        applied.changes.len(),
        applied.unchanged
    );
    Ok(())
}
