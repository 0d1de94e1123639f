//! `leadshop replication`: the replication worker's status (`<data-dir>/replication-status.json`,
//! written by a running server once a second), and the keys it signs with at destinations that
//! are not this server (sealed in `<data-dir>/replication-keys.json`).

use std::io::Read as _;

use anyhow::{Context, Result};
use leadshop_keys::replication_keys;
use leadshop_server::Config;
use leadshop_server::observability::replication::{STATUS_FILE, Snapshot};

/// Prints the backlog, the oldest pending version, what each rule did and failures by reason.
pub(crate) fn status(config: &Config, json: bool) -> Result<()> {
    let path = config.data_dir.join(STATUS_FILE);
    let text = std::fs::read(&path).with_context(|| {
        format!(
            "reading {} (written by a running leadshop serve)",
            path.display()
        )
    })?;
    if json {
        println!("{}", String::from_utf8_lossy(&text).trim_end());
        return Ok(());
    }
    let s: Snapshot = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a replication status", path.display()))?;
    println!(
        "backlog: {} versions, {} bytes",
        s.pending_operations, s.pending_bytes
    );
    match s.oldest_pending_ms {
        Some(o) => println!(
            "oldest pending: written {:.1} s before the last count",
            (s.updated_ms - o).max(0) as f64 / 1000.0
        ),
        None => println!("oldest pending: none"),
    }
    println!(
        "since the server started: {} replicated, {} deliveries to retry",
        s.completed, s.retries
    );
    if !s.backfills.is_empty() {
        println!(
            "existing objects still being queued in: {}",
            s.backfills.join(", ")
        );
    }
    if let Some(e) = &s.last_error {
        println!("last delivery that did not go through: {e}");
    }
    if !s.rules.is_empty() {
        println!(
            "  {:<24} {:<24} {:>8} {:>14} {:>10} {:>7} {:>12}",
            "BUCKET", "RULE", "PENDING", "PENDING BYTES", "COMPLETED", "FAILED", "LATENCY (s)"
        );
        for r in &s.rules {
            println!(
                "  {:<24} {:<24} {:>8} {:>14} {:>10} {:>7} {:>12}",
                r.bucket,
                r.rule,
                r.pending_operations,
                r.pending_bytes,
                r.completed,
                r.failed,
                r.last_latency_seconds
                    .map_or_else(|| "-".to_string(), |l| format!("{l:.3}"))
            );
        }
    }
    if s.failed_by_reason.is_empty() {
        println!("failed: none");
    } else {
        println!("failed, by reason:");
        for (reason, n) in &s.failed_by_reason {
            println!("  {n:>8}  {reason}");
        }
    }
    Ok(())
}

/// Stores the key of `destination`, its secret read from standard input (one line).
pub(crate) fn set_credentials(
    config: &Config,
    destination: &str,
    access_key_id: &str,
) -> Result<()> {
    anyhow::ensure!(
        config.replication.destinations.contains_key(destination),
        "no [replication.destinations.{destination}] in the configuration"
    );
    let mut secret = String::new();
    std::io::stdin()
        .read_to_string(&mut secret)
        .context("reading the secret access key from standard input")?;
    let secret = secret.trim();
    anyhow::ensure!(
        !secret.is_empty(),
        "give the secret access key on standard input"
    );
    std::fs::create_dir_all(&config.data_dir)?;
    let master = super::master(config)?;
    replication_keys::set(
        &config.data_dir,
        &master,
        destination,
        access_key_id,
        secret,
    )?;
    println!("stored the key {access_key_id} for replication destination {destination} (sealed)");
    Ok(())
}

/// Lists the stored keys (never their secrets).
pub(crate) fn list_credentials(config: &Config, json: bool) -> Result<()> {
    let keys = replication_keys::list(&config.data_dir)?;
    if json {
        let rows: Vec<_> = keys
            .iter()
            .map(|k| serde_json::json!({"Destination": k.destination, "AccessKeyId": k.access_key_id}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    for k in keys {
        println!("{:<24} {}", k.destination, k.access_key_id);
    }
    Ok(())
}

/// Removes the stored key of `destination`.
pub(crate) fn remove_credentials(config: &Config, destination: &str) -> Result<()> {
    replication_keys::remove(&config.data_dir, destination)?;
    println!("removed the key of replication destination {destination}");
    Ok(())
}
