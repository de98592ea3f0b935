//! The `sightline` binary: one process that serves everything, plus the
//! commands that manage its database, users and tokens.

mod as_code;
mod audit;
mod commands;
mod config;

use clap::Parser;
use std::process::ExitCode;

/// A server answering many small requests at once allocates and frees from
/// every worker thread; mimalloc's per-thread heaps keep that cheap where the
/// system allocator spent a fifth of the collector's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = config::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
