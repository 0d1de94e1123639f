//! What the health workers (`workers::health`: the scrubber and the disk watcher) last saw: kept in
//! [`Health`] (shared through `AppState::observability`; the S3 API holds it too, to refuse a damaged version), served on `/metrics`, the console and
//! `leadshop scrub status`. Types only: this file imports nothing of the server.

use std::collections::{BTreeMap, HashSet};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

/// What the health workers last saw.
#[derive(Debug, Default)]
pub struct Health {
    /// The scrubber's status.
    pub scrub: RwLock<ScrubStatus>,
    /// The last disk measurement.
    pub disk: RwLock<Option<DiskStatus>>,
    /// Versions (bucket, key, version id) the scrubber found damaged and has not found good
    /// since: their GETs answer an error before a byte is sent.
    damaged: RwLock<HashSet<(String, String, String)>>,
}

impl Health {
    /// Whether the scrubber found this version damaged.
    #[must_use]
    pub fn is_damaged(&self, bucket: &str, key: &str, version_id: &str) -> bool {
        let set = self.damaged.read().expect("damaged set");
        !set.is_empty()
            && set.contains(&(bucket.to_string(), key.to_string(), version_id.to_string()))
    }

    /// Records what the scrubber found of a version. At most [`MAX_DAMAGED_TRACKED`] are
    /// remembered (a wrong master key would otherwise make every version of a large store an
    /// entry); a version beyond them still fails its GET, when its data fails to decrypt or
    /// its checksum, only not before the first byte.
    pub fn set_damaged(&self, bucket: &str, key: &str, version_id: &str, damaged: bool) {
        let id = (bucket.to_string(), key.to_string(), version_id.to_string());
        if damaged {
            let mut set = self.damaged.write().expect("damaged set");
            if set.len() < MAX_DAMAGED_TRACKED && set.insert(id) && set.len() == MAX_DAMAGED_TRACKED
            {
                tracing::warn!(
                    tracked = MAX_DAMAGED_TRACKED,
                    "the scrubber remembers no more damaged versions; check the master key and the disk"
                );
            }
        } else if !self.damaged.read().expect("damaged set").is_empty() {
            self.damaged.write().expect("damaged set").remove(&id);
        }
    }
}

/// Damaged versions remembered for early GET refusal (about 200 bytes each).
pub const MAX_DAMAGED_TRACKED: usize = 100_000;

/// The status file `leadshop scrub status` reads.
pub const STATUS_FILE: &str = "scrub-status.json";

/// A damaged version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Damaged {
    /// Its bucket.
    pub bucket: String,
    /// Its key.
    pub key: String,
    /// Its version id.
    pub version_id: String,
    /// What failed.
    pub error: String,
    /// When it was found (ms since the epoch).
    pub found_ms: i64,
}

/// One pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pass {
    /// When it started (ms since the epoch).
    pub started_ms: i64,
    /// When it finished; `None` while it runs.
    pub finished_ms: Option<i64>,
    /// Versions whose data was read and checked (delete markers are not counted).
    pub versions_checked: u64,
    /// Bytes of object data read.
    pub bytes_checked: u64,
    /// Versions not checked, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Damaged versions found.
    pub damaged_count: u64,
    /// The first of them.
    pub damaged: Vec<Damaged>,
}

/// What the scrubber shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScrubStatus {
    /// Whether passes run.
    pub enabled: bool,
    /// The pace.
    pub bytes_per_second: u64,
    /// Seconds between the starts of two passes.
    pub interval_seconds: u64,
    /// The pass in progress.
    pub running: Option<Pass>,
    /// The last finished pass.
    pub last: Option<Pass>,
    /// When the next pass starts (ms since the epoch), while none runs.
    pub next_ms: Option<i64>,
    /// Damaged versions found since the server started (a counter).
    #[serde(skip)]
    pub found_since_start: u64,
}

/// Where free space stands against the thresholds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Above the warning threshold.
    #[default]
    Ok,
    /// Below the warning threshold.
    Warning,
    /// Below the alarm threshold.
    Alarm,
}

/// The last measurement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DiskStatus {
    /// The file system's size in bytes.
    pub total_bytes: u64,
    /// Bytes free for the server's user.
    pub free_bytes: u64,
    /// Free, in percent of the size.
    pub free_percent: f64,
    /// Against the thresholds.
    pub level: Level,
    /// When it was measured (ms since the epoch).
    pub checked_ms: i64,
    /// Alarms raised since the server started.
    pub alarms: u64,
    /// Checks since the server started.
    pub checks: u64,
}
