//! The lifecycle worker's progress and what it shows: the record saved with every batch,
//! the status file `leadshop lifecycle status` reads, and the `/metrics` lines.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

/// The status file `leadshop lifecycle status` reads.
pub const STATUS_FILE: &str = "lifecycle-status.json";

/// What each rule did, per bucket.
pub type Counts = BTreeMap<String, BTreeMap<String, RuleCounts>>;

/// What one rule did in a pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCounts {
    /// Versions moved to another storage class.
    pub transitioned: u64,
    /// Current versions expired (a delete marker added, or removed when unversioned).
    pub expired: u64,
    /// Noncurrent versions deleted for good.
    pub noncurrent_deleted: u64,
    /// Delete markers removed because they hid nothing.
    pub delete_markers_removed: u64,
    /// Incomplete multipart uploads aborted.
    pub uploads_aborted: u64,
}

/// Where a pass is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Walking object versions.
    #[default]
    Versions,
    /// Walking multipart uploads.
    Uploads,
    /// Done.
    Finished,
}

/// The last version seen, for the next one of the same key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Carry {
    pub(crate) bucket: String,
    pub(crate) key: String,
    /// When the version seen last (the next newer one) was written.
    pub(crate) newer_ms: i64,
    /// Noncurrent versions of the key seen so far.
    pub(crate) noncurrent_seen: u32,
}

/// A finished pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassSummary {
    /// The day it ran for (days since the epoch).
    pub day: i64,
    /// When it started and finished (ms since the epoch, server clock).
    pub started_ms: i64,
    /// When it finished.
    pub finished_ms: i64,
    /// Versions looked at.
    pub versions_scanned: u64,
    /// What each rule did.
    pub counts: Counts,
}

/// The worker's progress: saved with every batch, in the store and in the status file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The day of the pass in progress (or last finished).
    pub day: i64,
    /// Where it is.
    pub phase: Phase,
    /// When it started.
    pub started_ms: i64,
    /// Versions looked at so far.
    pub versions_scanned: u64,
    /// What each rule did so far in this pass.
    pub counts: Counts,
    /// The last finished pass.
    pub last: Option<PassSummary>,
    /// Totals since the data directory was made.
    pub totals: Counts,
    /// The milliseconds in a day the passes use.
    pub day_ms: i64,
    /// Next versions-table key to read (hex).
    pub(crate) cursor: Option<String>,
    /// Last upload id handled.
    pub(crate) upload_cursor: Option<String>,
    pub(crate) carry: Option<Carry>,
}

impl Progress {
    /// When the next pass is due (ms since the epoch): the midnight after the current day.
    #[must_use]
    pub fn next_pass_ms(&self) -> i64 {
        (self.day + 1).saturating_mul(self.day_ms)
    }
}

/// The progress as `/metrics` sees it.
#[derive(Debug, Default)]
pub struct LifecycleStatus(RwLock<Option<Progress>>);

impl LifecycleStatus {
    /// The latest progress, if the worker has run.
    #[must_use]
    pub fn get(&self) -> Option<Progress> {
        self.0.read().expect("status lock").clone()
    }

    pub(crate) fn set(&self, p: &Progress) {
        *self.0.write().expect("status lock") = Some(p.clone());
    }
}

impl Progress {
    pub(crate) fn start(mut self, day: i64, now_ms: i64) -> Self {
        self.day = day;
        self.phase = Phase::Versions;
        self.started_ms = now_ms;
        self.versions_scanned = 0;
        self.counts = Counts::new();
        self.cursor = None;
        self.upload_cursor = None;
        self.carry = None;
        self
    }
}

pub(crate) fn add(a: &RuleCounts, b: &RuleCounts) -> RuleCounts {
    RuleCounts {
        transitioned: a.transitioned + b.transitioned,
        expired: a.expired + b.expired,
        noncurrent_deleted: a.noncurrent_deleted + b.noncurrent_deleted,
        delete_markers_removed: a.delete_markers_removed + b.delete_markers_removed,
        uploads_aborted: a.uploads_aborted + b.uploads_aborted,
    }
}

/// The status file's path in a data directory.
#[must_use]
pub fn status_path(data_dir: &Path) -> PathBuf {
    data_dir.join(STATUS_FILE)
}

/// Writes the status file (informational: the durable progress is in the store) through the
/// one private-file writer (0600, temp file, fsync, rename, fsync of the directory), so a
/// reader never sees half of it, nor an empty one after a crash. Blocking: call it off the
/// async workers.
pub(crate) fn write_status(data_dir: &Path, p: &Progress) {
    let path = status_path(data_dir);
    let text = serde_json::to_vec_pretty(p).expect("progress serialises");
    // The data directory is the server user's only: bucket names and rule ids are in here.
    if let Err(e) = leadshop_keys::secret_file::write(&path, &text) {
        tracing::warn!(error = %e, path = %path.display(), "writing the lifecycle status failed");
    }
}

/// `/metrics` lines for the lifecycle.
#[must_use]
pub fn render_metrics(status: &LifecycleStatus) -> String {
    use std::fmt::Write as _;
    let Some(p) = status.get() else {
        return String::new();
    };
    let mut out = String::from(
        "# HELP leadshop_lifecycle_actions_total Lifecycle actions applied, by bucket, rule and action.\n# TYPE leadshop_lifecycle_actions_total counter\n",
    );
    for (bucket, rules) in &p.totals {
        for (rule, c) in rules {
            for (action, n) in [
                ("transition", c.transitioned),
                ("expire", c.expired),
                ("delete_noncurrent", c.noncurrent_deleted),
                ("remove_delete_marker", c.delete_markers_removed),
                ("abort_upload", c.uploads_aborted),
            ] {
                let _ = writeln!(
                    out,
                    "leadshop_lifecycle_actions_total{{bucket=\"{}\",rule=\"{}\",action=\"{action}\"}} {n}",
                    escape(bucket),
                    escape(rule)
                );
            }
        }
    }
    let finished = p.last.as_ref().map_or(0, |l| l.finished_ms / 1000);
    let _ = writeln!(
        out,
        "# HELP leadshop_lifecycle_last_pass_finished_seconds When the last lifecycle pass finished (server clock).\n# TYPE leadshop_lifecycle_last_pass_finished_seconds gauge\nleadshop_lifecycle_last_pass_finished_seconds {finished}\n# HELP leadshop_lifecycle_pass_running Whether a lifecycle pass is running.\n# TYPE leadshop_lifecycle_pass_running gauge\nleadshop_lifecycle_pass_running {}",
        u8::from(p.phase != Phase::Finished)
    );
    out
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
