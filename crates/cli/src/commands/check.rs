//! `sightline check URL`: one HTTP check from the command line, for a first
//! look at a site and for scripts (the exit status says whether it passed).

use crate::config::CheckArgs;
use anyhow::{Context, Result, bail};
use serde_json::json;
use sightline_core::MonitorSpec;
use sightline_core::monitor::{CheckOutcome, CheckReport};
use sightline_store::SystemClock;
use sightline_synthetic::{Prober, ProberConfig, Secrets};
use std::sync::Arc;

pub async fn run(args: &CheckArgs) -> Result<()> {
    let mut expect = json!({});
    if !args.status.is_empty() {
        expect["status"] = json!(args.status);
    }
    if let Some(text) = &args.contains {
        expect["body_contains"] = json!(text);
    }
    let mut document = json!({
        "name": "command line check",
        "type": "http",
        "url": args.url,
        "verify_tls": !args.insecure,
        "expect": expect,
    });
    if let Some(timeout) = args.timeout {
        document["timeout"] = json!(sightline_core::duration_text::format(timeout));
        document["every"] = json!(sightline_core::duration_text::format(
            timeout.max(sightline_core::monitor::MIN_INTERVAL)
        ));
    }
    let spec = MonitorSpec::from_json(document).map_err(|e| {
        let field = match e.field.as_str() {
            "url" => "URL".to_owned(),
            "expect.status[0]" | "expect.status[1]" => "--status".to_owned(),
            other => format!("--{other}"),
        };
        anyhow::anyhow!("{field}: {}", e.message)
    })?;
    let prober = Prober::new(ProberConfig::default(), Arc::new(SystemClock))
        .context("cannot set up the checker")?;
    let report = prober.run(&spec, &Secrets::default()).await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&args.url, &report));
    }
    if report.outcome == CheckOutcome::Error {
        bail!("the check failed");
    }
    Ok(())
}

/// The result as a short table a person reads at a glance.
fn render(url: &str, report: &CheckReport) -> String {
    let mut text = String::new();
    let status = report
        .status_code
        .map(|code| format!("HTTP {code}  "))
        .unwrap_or_default();
    text.push_str(&format!(
        "{}  {status}{url}\n",
        report.outcome.as_str().to_uppercase()
    ));
    if let Some(problem) = &report.problem {
        text.push_str(&format!(
            "  {}: {}\n",
            problem.kind.as_str(),
            problem.message
        ));
    }
    if let Some(redirects) = report.detail["redirects"].as_array() {
        for hop in redirects {
            text.push_str(&format!(
                "  redirect {} -> {}\n",
                hop["status"],
                hop["to"].as_str().unwrap_or_default()
            ));
        }
    }
    let timings = &report.timings;
    let phases = [
        ("dns", timings.dns_ms),
        ("connect", timings.connect_ms),
        ("tls", timings.tls_ms),
        ("first byte", timings.first_byte_ms),
        ("download", timings.download_ms),
        ("total", Some(report.duration_ms)),
    ];
    for (name, value) in phases {
        let value = value.map_or_else(|| "-".to_owned(), |ms| format!("{ms} ms"));
        text.push_str(&format!("  {name:<11}{value:>9}\n"));
    }
    if let Some(bytes) = report.response_bytes {
        text.push_str(&format!("  {:<11}{:>9}\n", "size", format!("{bytes} B")));
    }
    if let Some(excerpt) = report.detail["body_excerpt"].as_str() {
        let first_line: String = excerpt
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        text.push_str(&format!("  body starts: {first_line}\n"));
    }
    text
}
