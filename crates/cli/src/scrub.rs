//! `leadshop scrub status`: what the scrubber of a data directory found
//! (`<data-dir>/scrub-status.json`, written by the server as a pass goes).

use anyhow::{Context, Result};
use leadshop_server::Config;
use leadshop_server::workers::health::status::{Pass, STATUS_FILE, ScrubStatus};

/// Prints the status; `Ok(true)` when a pass has found damaged versions.
pub(crate) fn status(config: &Config, json: bool) -> Result<bool> {
    let path = config.data_dir.join(STATUS_FILE);
    let text = std::fs::read(&path).with_context(|| {
        format!(
            "reading {} (written by a running leadshop serve once its scrubber starts)",
            path.display()
        )
    })?;
    let s: ScrubStatus = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a scrub status", path.display()))?;
    let damaged = s.last.iter().chain(&s.running).any(|p| p.damaged_count > 0);
    if json {
        println!("{}", String::from_utf8_lossy(&text));
        return Ok(damaged);
    }
    if !s.enabled {
        println!("the scrubber is off ([scrub] enabled = false)");
    }
    println!(
        "pace: {} bytes/s, a pass every {} s",
        s.bytes_per_second, s.interval_seconds
    );
    if let Some(p) = &s.running {
        print_pass("running pass", p);
    }
    match &s.last {
        Some(p) => print_pass("last pass", p),
        None => println!("last pass: none finished yet"),
    }
    if let Some(next) = s.next_ms {
        println!("next pass: {}", iso(next));
    }
    Ok(damaged)
}

fn print_pass(what: &str, p: &Pass) {
    println!(
        "{what}: started {}{}; {} versions checked ({} bytes), {} damaged",
        iso(p.started_ms),
        p.finished_ms
            .map(|f| format!(", finished {}", iso(f)))
            .unwrap_or_default(),
        p.versions_checked,
        p.bytes_checked,
        p.damaged_count
    );
    for (why, n) in &p.skipped {
        println!("  skipped ({why}): {n}");
    }
    for d in &p.damaged {
        println!(
            "  DAMAGED {}/{} version {}: {}",
            d.bucket, d.key, d.version_id, d.error
        );
    }
}

fn iso(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}
