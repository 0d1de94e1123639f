//! What the replication worker last saw: the backlog (from the store's queue, counted once per
//! round), what it delivered and what destinations refused, for `/metrics`, the console and
//! `leadshop replication status` (which reads the status file the worker writes).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

/// The status file `leadshop replication status` reads.
pub const STATUS_FILE: &str = "replication-status.json";

/// Per (bucket, rule): what waits and what happened.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleStatus {
    /// Source bucket.
    pub bucket: String,
    /// Rule id.
    pub rule: String,
    /// Versions waiting (`OperationsPendingReplication`).
    pub pending_operations: u64,
    /// Their bytes (`BytesPendingReplication`).
    pub pending_bytes: u64,
    /// Versions replicated since the server started.
    pub completed: u64,
    /// Versions FAILED since the server started (`OperationsFailedReplication`).
    pub failed: u64,
    /// Seconds from the write to the replica of the last one replicated
    /// (`ReplicationLatency`).
    pub last_latency_seconds: Option<f64>,
}

/// The whole status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// When the worker counted (ms, server clock).
    pub updated_ms: i64,
    /// Versions waiting, all rules.
    pub pending_operations: u64,
    /// Their bytes.
    pub pending_bytes: u64,
    /// When the oldest waiting version was written (ms), if any waits.
    pub oldest_pending_ms: Option<i64>,
    /// Versions replicated since the server started.
    pub completed: u64,
    /// Deliveries that will be tried again (a destination down or failing), since start.
    pub retries: u64,
    /// Versions FAILED for good, by reason, as kept in the store (the newest 100,000).
    pub failed_by_reason: BTreeMap<String, u64>,
    /// The last delivery that did not go through: destination and reason.
    pub last_error: Option<String>,
    /// Buckets whose existing objects are still being queued (`ExistingObjectReplication`).
    #[serde(default)]
    pub backfills: Vec<String>,
    /// Per rule.
    pub rules: Vec<RuleStatus>,
}

/// Shared between the worker (writes) and `/metrics`, the console (read).
#[derive(Debug, Default)]
pub struct ReplicationStatus(RwLock<Snapshot>, std::sync::Mutex<Saved>);

/// What was last written to the status file, and when (ms, server clock).
#[derive(Debug, Default)]
struct Saved {
    snapshot: Option<Snapshot>,
    at_ms: i64,
}

/// The status file is written again at least this often (ms) even when nothing changed, so a
/// reader waiting for a count newer than some moment sees one.
const RESAVE_MS: i64 = 10_000;

impl ReplicationStatus {
    /// The last snapshot.
    #[must_use]
    pub fn get(&self) -> Snapshot {
        self.0.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Changes the snapshot.
    pub fn update(&self, f: impl FnOnce(&mut Snapshot)) {
        if let Ok(mut s) = self.0.write() {
            f(&mut s);
        }
    }

    /// Writes the snapshot where `leadshop replication status` reads it.
    ///
    /// # Errors
    /// I/O.
    ///
    /// Written (durably) only when something but the time changed, or after [`RESAVE_MS`]: an
    /// idle server does not write and sync a file every second.
    pub fn save(&self, data_dir: &Path) -> std::io::Result<()> {
        let now = self.get();
        let mut saved = self
            .1
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        let same = saved.snapshot.as_ref().is_some_and(|s| {
            Snapshot {
                updated_ms: now.updated_ms,
                ..s.clone()
            } == now
        });
        if same && now.updated_ms - saved.at_ms < RESAVE_MS {
            return Ok(());
        }
        let text = serde_json::to_vec_pretty(&now).expect("serialisable");
        leadshop_keys::secret_file::write(&data_dir.join(STATUS_FILE), &text)?;
        saved.at_ms = now.updated_ms;
        saved.snapshot = Some(now);
        Ok(())
    }

    /// The `/metrics` lines: totals, and per (bucket, rule) only with `[metrics]
    /// bucket_labels` (`/metrics` needs no key; bucket names are nobody else's business).
    #[must_use]
    pub fn render(&self, bucket_labels: bool) -> String {
        let mut s = self.get();
        if !bucket_labels {
            s.rules.clear();
        }
        let mut out = String::new();
        let mut gauge = |name: &str, kind: &str, help: &str, lines: Vec<(String, String)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, v) in lines {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        let label =
            |r: &RuleStatus| format!("{{bucket=\"{}\",rule=\"{}\"}}", r.bucket, esc(&r.rule));
        gauge(
            "leadshop_replication_pending_operations",
            "gauge",
            "Object versions waiting to be replicated (OperationsPendingReplication).",
            std::iter::once((String::new(), s.pending_operations.to_string()))
                .chain(
                    s.rules
                        .iter()
                        .map(|r| (label(r), r.pending_operations.to_string())),
                )
                .collect(),
        );
        gauge(
            "leadshop_replication_pending_bytes",
            "gauge",
            "Bytes waiting to be replicated (BytesPendingReplication).",
            std::iter::once((String::new(), s.pending_bytes.to_string()))
                .chain(
                    s.rules
                        .iter()
                        .map(|r| (label(r), r.pending_bytes.to_string())),
                )
                .collect(),
        );
        let oldest_age = s
            .oldest_pending_ms
            .map_or(0.0, |o| (s.updated_ms - o).max(0) as f64 / 1000.0);
        gauge(
            "leadshop_replication_oldest_pending_seconds",
            "gauge",
            "Age of the oldest version waiting to be replicated.",
            vec![(String::new(), format!("{oldest_age:.3}"))],
        );
        gauge(
            "leadshop_replication_completed_total",
            "counter",
            "Object versions replicated since the server started.",
            std::iter::once((String::new(), s.completed.to_string()))
                .chain(s.rules.iter().map(|r| (label(r), r.completed.to_string())))
                .collect(),
        );
        gauge(
            "leadshop_replication_failed_total",
            "counter",
            "Object versions FAILED since the server started (OperationsFailedReplication).",
            std::iter::once((
                String::new(),
                s.rules.iter().map(|r| r.failed).sum::<u64>().to_string(),
            ))
            .chain(s.rules.iter().map(|r| (label(r), r.failed.to_string())))
            .collect(),
        );
        gauge(
            "leadshop_replication_retries_total",
            "counter",
            "Deliveries to be tried again (destination unreachable or failing).",
            vec![(String::new(), s.retries.to_string())],
        );
        gauge(
            "leadshop_replication_latency_seconds",
            "gauge",
            "Seconds from the write to its replica, the last version replicated per rule (ReplicationLatency).",
            s.rules
                .iter()
                .filter_map(|r| {
                    r.last_latency_seconds
                        .map(|l| (label(r), format!("{l:.3}")))
                })
                .collect(),
        );
        gauge(
            "leadshop_replication_failed_kept",
            "gauge",
            "FAILED versions kept in the store, by reason.",
            s.failed_by_reason
                .iter()
                .map(|(reason, n)| (format!("{{reason=\"{}\"}}", esc(reason)), n.to_string()))
                .collect(),
        );
        out
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved(dir: &Path) -> Snapshot {
        serde_json::from_slice(&std::fs::read(dir.join(STATUS_FILE)).unwrap()).unwrap()
    }

    #[test]
    fn the_status_file_is_written_when_it_changes_or_has_not_been_for_a_while() {
        let dir = tempfile::tempdir().unwrap();
        let status = ReplicationStatus::default();
        status.update(|s| s.updated_ms = 1_000);
        status.save(dir.path()).unwrap();
        assert_eq!(saved(dir.path()).updated_ms, 1_000);
        // Only the time moved: not written again (an idle server syncs nothing each second).
        status.update(|s| s.updated_ms = 2_000);
        status.save(dir.path()).unwrap();
        assert_eq!(saved(dir.path()).updated_ms, 1_000);
        // Something changed: written.
        status.update(|s| {
            s.updated_ms = 3_000;
            s.pending_operations = 5;
        });
        status.save(dir.path()).unwrap();
        assert_eq!(saved(dir.path()).pending_operations, 5);
        // Nothing changed for RESAVE_MS: written again, so a waiting reader sees a new count.
        status.update(|s| s.updated_ms = 3_000 + RESAVE_MS);
        status.save(dir.path()).unwrap();
        assert_eq!(saved(dir.path()).updated_ms, 3_000 + RESAVE_MS);
    }
}
