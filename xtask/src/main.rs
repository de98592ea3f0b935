//! Project automation, run as `cargo xtask <task>`.
//!
//! `cargo xtask test` makes a fresh machine able to run every test and then
//! runs them: it installs headless Chromium and chromedriver when missing,
//! the SMTP server the alerting tests send real e-mail to (aiosmtpd) and
//! `systemd-analyze` for the deploy test, Google's web-vitals library and
//! the `oidc-provider` identity provider from the npm registry (the
//! references the RUM script's INP and single sign-on are tested against),
//! starts (or installs, then starts) the PostgreSQL server the tests use when
//! none answers, and runs the whole workspace's tests with
//! cargo-nextest (or `cargo test` where nextest is missing). Each requirement
//! is one function here; a task that needs a new service adds one.

use std::net::{SocketAddr, TcpStream};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

/// The PostgreSQL server tests create their throw-away databases on.
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// The URL used when this task had to set up PostgreSQL itself.
const INSTALLED_POSTGRES_URL: &str = "postgres://postgres:sightline@127.0.0.1:5432/postgres";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        _ => Err("usage: cargo xtask test [extra arguments for the test runner]".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Installs what the tests need, then runs them all.
fn test(extra: &[String]) -> Result<(), String> {
    ensure_chromium()?;
    ensure_smtp_server()?;
    ensure_systemd_analyze()?;
    ensure_node_references()?;
    let postgres_url = ensure_postgres()?;
    eprintln!("xtask: tests use PostgreSQL at {postgres_url}");
    let nextest = Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    let mut command = Command::new("cargo");
    if nextest {
        command.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
    } else {
        command.args(["test", "--workspace", "--no-fail-fast"]);
    }
    command
        .args(extra)
        .env("SIGHTLINE_TEST_POSTGRES_URL", &postgres_url);
    let status = command
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("tests failed ({status})"))
    }
}

/// Makes sure headless Chromium and chromedriver are installed (Debian's
/// packages), for the browser tests.
fn ensure_chromium() -> Result<(), String> {
    let chromium =
        std::env::var("SIGHTLINE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    let driver = std::env::var("SIGHTLINE_CHROMEDRIVER")
        .unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned());
    if std::path::Path::new(&chromium).is_file() && std::path::Path::new(&driver).is_file() {
        return Ok(());
    }
    eprintln!("xtask: installing Chromium and chromedriver from the Debian packages");
    run("apt-get", &["update", "-q"])?;
    run(
        "apt-get",
        &["install", "-y", "-q", "chromium", "chromium-driver"],
    )
}

/// The web-vitals release the RUM script is compared with.
const WEB_VITALS: &str = "web-vitals@6.2.3";
/// The OpenID provider the single sign-on tests sign in through (a
/// certified implementation).
const OIDC_PROVIDER: &str = "oidc-provider@9.13.3";

/// Makes sure the npm packages the tests hold Sightline against are under
/// `target/reference/` (installed with npm, never committed): Google's
/// web-vitals library (the browser test measures INP with it beside the
/// RUM script, in the same Chromium) and `oidc-provider` (the single
/// sign-on tests' identity provider). They are installed together: npm
/// removes what a `--no-save` install does not name.
fn ensure_node_references() -> Result<(), String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/reference");
    let present = [
        "node_modules/web-vitals/dist/web-vitals.iife.js",
        "node_modules/oidc-provider/lib/index.js",
    ]
    .iter()
    .all(|file| root.join(file).is_file());
    if present {
        return Ok(());
    }
    eprintln!("xtask: installing {WEB_VITALS} and {OIDC_PROVIDER} from the npm registry");
    std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    let status = Command::new("npm")
        .args([
            "install",
            "--no-save",
            "--no-package-lock",
            "--no-audit",
            "--no-fund",
            WEB_VITALS,
            OIDC_PROVIDER,
        ])
        .current_dir(&root)
        .status()
        .map_err(|e| {
            format!("cannot run npm (Node.js is needed for the INP and single sign-on tests): {e}")
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "npm install {WEB_VITALS} {OIDC_PROVIDER} failed ({status})"
        ))
    }
}

/// Makes sure `systemd-analyze` is there: the deploy test verifies the
/// systemd unit with it.
fn ensure_systemd_analyze() -> Result<(), String> {
    if std::path::Path::new("/usr/bin/systemd-analyze").is_file() {
        return Ok(());
    }
    eprintln!("xtask: installing systemd-analyze from the Debian packages");
    if run("apt-get", &["install", "-y", "-q", "systemd"]).is_err() {
        run("apt-get", &["update", "-q"])?;
        run("apt-get", &["install", "-y", "-q", "systemd"])?;
    }
    Ok(())
}

/// Makes sure the SMTP server the alerting tests start is installed: Debian's
/// aiosmtpd, run by the system Python (`/usr/bin/python3 -m aiosmtpd`).
fn ensure_smtp_server() -> Result<(), String> {
    let python =
        std::env::var("SIGHTLINE_SMTP_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".to_owned());
    let installed = Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .output()
        .is_ok_and(|output| output.status.success());
    if installed {
        return Ok(());
    }
    eprintln!("xtask: installing the aiosmtpd SMTP server from the Debian packages");
    if run("apt-get", &["install", "-y", "-q", "python3-aiosmtpd"]).is_err() {
        run("apt-get", &["update", "-q"])?;
        run("apt-get", &["install", "-y", "-q", "python3-aiosmtpd"])?;
    }
    Ok(())
}

/// Makes sure a PostgreSQL server answers and returns the URL to reach it.
fn ensure_postgres() -> Result<String, String> {
    if let Ok(url) = std::env::var("SIGHTLINE_TEST_POSTGRES_URL") {
        return Ok(url);
    }
    let address: SocketAddr = "127.0.0.1:5432".parse().map_err(|e| format!("{e}"))?;
    if !answers(address) {
        if !has_program("pg_ctlcluster") {
            eprintln!("xtask: no PostgreSQL here; installing it from the Debian packages");
            run("apt-get", &["update", "-q"])?;
            run("apt-get", &["install", "-y", "-q", "postgresql"])?;
        }
        start_clusters()?;
        wait_until_answers(address, Duration::from_secs(30))?;
    }
    if can_connect(DEFAULT_POSTGRES_URL) {
        return Ok(DEFAULT_POSTGRES_URL.to_owned());
    }
    if can_connect(INSTALLED_POSTGRES_URL) {
        return Ok(INSTALLED_POSTGRES_URL.to_owned());
    }
    // A stock Debian server does not trust TCP logins: give the postgres
    // role a password for the tests to use.
    eprintln!("xtask: setting a password for the postgres role so tests can log in over TCP");
    run(
        "runuser",
        &[
            "-u",
            "postgres",
            "--",
            "psql",
            "-q",
            "-c",
            "ALTER ROLE postgres PASSWORD 'sightline'",
        ],
    )?;
    if can_connect(INSTALLED_POSTGRES_URL) {
        Ok(INSTALLED_POSTGRES_URL.to_owned())
    } else {
        Err(
            "PostgreSQL runs but refuses the test login; set SIGHTLINE_TEST_POSTGRES_URL"
                .to_owned(),
        )
    }
}

fn start_clusters() -> Result<(), String> {
    let versions =
        std::fs::read_dir("/etc/postgresql").map_err(|e| format!("no PostgreSQL clusters: {e}"))?;
    for version in versions.flatten() {
        let version = version.file_name().to_string_lossy().into_owned();
        eprintln!("xtask: starting PostgreSQL {version}");
        run(
            "pg_ctlcluster",
            &["--skip-systemctl-redirect", &version, "main", "start"],
        )?;
    }
    Ok(())
}

fn answers(address: SocketAddr) -> bool {
    TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_ok()
}

fn wait_until_answers(address: SocketAddr, limit: Duration) -> Result<(), String> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if answers(address) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Err(format!(
        "PostgreSQL did not answer on {address} within {limit:?}"
    ))
}

fn can_connect(url: &str) -> bool {
    Command::new("psql")
        .args([url, "-q", "-t", "-c", "SELECT 1"])
        .env("PGCONNECT_TIMEOUT", "5")
        .output()
        .is_ok_and(|output| output.status.success())
}

fn has_program(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let status = Command::new(program)
        .args(args)
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_port_does_not_answer() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        assert!(answers(address));
        drop(listener);
        assert!(!answers(address));
    }
}
