//! The scrubber: a pass over every object version, reading its data back at
//! `[scrub] bytes_per_second` at most, every chunk's AES-GCM tag checked as it is decrypted
//! ([`Store::read_segment`]), then the stored checksums compared: each part's own checksums,
//! the whole object's FULL_OBJECT CRC/SHA, and the MD5 ETag of a single-part object. What it
//! finds is logged (an error naming bucket, key and version), counted on `/metrics`, kept in
//! `<data-dir>/scrub-status.json` (`leadshop scrub status`) and shown on the console.
//!
//! A damaged version is never served as good: its GET fails the same tag check. Versions it
//! cannot open are counted as skipped, with the reason: SSE-C (the key is the customer's)
//! and SSE-KMS under a keyring key that is disabled or gone.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::{Stop, Worker};
use super::status::{Damaged, Pass, STATUS_FILE, ScrubStatus};
use crate::config::Scrub;
use crate::observability::health::Health;
use leadshop_keys::keyring::Keyring;
use leadshop_store::{Checksums, SseAlgorithm, Store, VersionRecord};
use md5::Digest as _;
use s3s::checksum::ChecksumHasher;

/// Versions read per step (one blocking task).
const BATCH: usize = 64;
/// Bytes decrypted per read.
const READ: usize = 1024 * 1024;
/// What each version costs of the pace beyond its data: a page of metadata read, decoded and
/// checked. Without it, a bucket of tiny objects paced by their bytes alone is scrubbed as
/// fast as the CPU goes (at 1,000,000 16-byte objects the pass took a core for its length and
/// HEADs went from 0.4 to 1.2 ms); with it, at most `bytes_per_second / 4096` versions a second.
const VERSION_COST: u64 = 4096;
/// Damaged versions listed in the status (all are counted and logged).
const MAX_LISTED: usize = 1000;

/// How one version fared.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Good { bytes: u64 },
    Damaged { bytes: u64, error: String },
    Skipped(&'static str),
}

/// Spends at most `rate` bytes a second, sleeping the blocking thread it runs on.
struct Pacer {
    rate: u64,
    started: Instant,
    bytes: u64,
}

impl Pacer {
    /// A pacer that has spent `bytes` over `elapsed` already (the pace holds across the
    /// batches of a pass).
    fn resume(rate: u64, elapsed: Duration, bytes: u64) -> Self {
        Self {
            rate: rate.max(1),
            started: Instant::now()
                .checked_sub(elapsed)
                .unwrap_or_else(Instant::now),
            bytes,
        }
    }

    /// One version's share of the pace ([`VERSION_COST`]), its data apart.
    fn version(&mut self) {
        self.spent(VERSION_COST);
    }

    fn spent(&mut self, n: u64) {
        self.bytes += n;
        let due = Duration::from_secs_f64(self.bytes as f64 / self.rate as f64);
        if let Some(wait) = due.checked_sub(self.started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
}

/// [`check_once`], and a damaged finding confirmed: a version deleted, or its data replaced,
/// while it was read is not damaged (its file may be gone).
fn check(
    store: &Store,
    keyring: &leadshop_keys::keyring::Keyring,
    bucket: &str,
    v: &VersionRecord,
    pacer: &mut Pacer,
    stop: &Stop,
) -> Outcome {
    let outcome = check_once(store, keyring, v, pacer, stop);
    if matches!(outcome, Outcome::Damaged { .. }) {
        match store.get_version(bucket, &v.key, Some(&v.version_id)) {
            Ok(now) if now.segments == v.segments => {}
            _ => return Outcome::Skipped("changed_during_check"),
        }
    }
    outcome
}

/// Checks one version: every byte read back (tags checked by decryption) and its checksums.
fn check_once(
    store: &Store,
    keyring: &leadshop_keys::keyring::Keyring,
    v: &VersionRecord,
    pacer: &mut Pacer,
    stop: &Stop,
) -> Outcome {
    let envelopes = || v.segments.iter().filter_map(|s| s.envelope.as_ref());
    if envelopes().any(|e| e.algorithm == SseAlgorithm::Customer) {
        return Outcome::Skipped("sse_c");
    }
    let wrapping = match envelopes().find(|e| e.algorithm.is_keyring()) {
        Some(e) => match keyring.resolve(&e.key_id) {
            Ok(k) => Some(k.key),
            Err(_) => return Outcome::Skipped("kms_key_unavailable"),
        },
        None => None,
    };
    let mut whole = hasher(
        &v.checksums,
        v.checksums.checksum_type != Some(leadshop_store::ChecksumType::Composite),
    );
    let single_md5 = v.segments.len() == 1
        && v.etag.len() == 32
        && v.etag.bytes().all(|b| b.is_ascii_hexdigit());
    let mut md5 = md5::Md5::new();
    let mut bytes = 0u64;
    for (n, seg) in v.segments.iter().enumerate() {
        let mut part = seg.part_checksums.as_ref().map(|c| (c, hasher(c, true)));
        let mut offset = 0u64;
        while offset < seg.len {
            if stop.is_stopped() {
                return Outcome::Skipped("server_stopping");
            }
            let len = usize::try_from((seg.len - offset).min(READ as u64)).unwrap_or(READ);
            let plain = match store.read_segment_in_place(seg, wrapping.as_deref(), offset, len) {
                Ok(b) => b,
                Err(e) => {
                    return Outcome::Damaged {
                        bytes,
                        error: format!(
                            "part {}, bytes {offset}..{}: {e}",
                            n + 1,
                            offset + len as u64
                        ),
                    };
                }
            };
            for piece in plain.ranges.iter().map(|r| &plain.buf[r.clone()]) {
                whole.update(piece);
                if single_md5 {
                    md5.update(piece);
                }
                if let Some((_, h)) = &mut part {
                    h.update(piece);
                }
            }
            let read = plain.len() as u64;
            offset += read;
            bytes += read;
            pacer.spent(read);
        }
        if let Some((expected, h)) = part
            && let Some(e) = mismatch(expected, h)
        {
            return Outcome::Damaged {
                bytes,
                error: format!("part {}: {e}", n + 1),
            };
        }
    }
    if let Some(e) = mismatch(&v.checksums, whole) {
        return Outcome::Damaged { bytes, error: e };
    }
    if single_md5 && hex::encode(md5.finalize()) != v.etag {
        return Outcome::Damaged {
            bytes,
            error: "the data's MD5 is not its ETag".into(),
        };
    }
    Outcome::Good { bytes }
}

/// A hasher of the algorithms `c` holds (none unless `full`, for a composite checksum).
fn hasher(c: &Checksums, full: bool) -> ChecksumHasher {
    let mut h = ChecksumHasher::default();
    if full {
        h.crc32 = c.crc32.as_ref().map(|_| Default::default());
        h.crc32c = c.crc32c.as_ref().map(|_| Default::default());
        h.crc64nvme = c.crc64nvme.as_ref().map(|_| Default::default());
        h.sha1 = c.sha1.as_ref().map(|_| Default::default());
        h.sha256 = c.sha256.as_ref().map(|_| Default::default());
    }
    h
}

/// The first stored checksum the data does not match.
fn mismatch(expected: &Checksums, h: ChecksumHasher) -> Option<String> {
    let got = h.finalize();
    [
        ("CRC32", &expected.crc32, got.checksum_crc32),
        ("CRC32C", &expected.crc32c, got.checksum_crc32c),
        ("CRC64NVME", &expected.crc64nvme, got.checksum_crc64nvme),
        ("SHA1", &expected.sha1, got.checksum_sha1),
        ("SHA256", &expected.sha256, got.checksum_sha256),
    ]
    .into_iter()
    .find_map(|(name, want, got)| match (want, got) {
        (Some(w), Some(g)) if *w != g => {
            Some(format!("its {name} is {g}, the stored checksum is {w}"))
        }
        _ => None,
    })
}

/// The scrubber.
pub struct Scrubber {
    uses: ScrubberUses,
    /// When the status file was last written (a pass's progress goes there once a second at
    /// most, not after every batch: each write is fsynced).
    file_written: std::sync::Mutex<Option<Instant>>,
}

/// How often a running pass's progress is written to the status file.
const FILE_EVERY: Duration = Duration::from_secs(1);

/// What the scrubber reads and where its status goes.
#[derive(Clone)]
pub struct ScrubberUses {
    /// The engine whose versions it checks.
    pub store: Arc<Store>,
    /// Opens SSE-KMS data keys.
    pub keyring: Arc<Keyring>,
    /// Its pace and schedule (`[scrub]`).
    pub config: Scrub,
    /// Where `scrub-status.json` goes.
    pub data_dir: PathBuf,
    /// Its status and the damaged versions, for `/metrics` and the console.
    pub health: Arc<Health>,
}

impl Scrubber {
    /// Scrubs `uses.store`; its status goes to `uses.health`.
    #[must_use]
    pub fn new(uses: ScrubberUses) -> Self {
        Self {
            uses,
            file_written: std::sync::Mutex::new(None),
        }
    }

    /// The status to `/metrics` and the console at once; to the status file too, unless
    /// `progress_only` and it was written less than [`FILE_EVERY`] ago.
    fn publish(&self, status: &ScrubStatus, progress_only: bool) {
        *self.uses.health.scrub.write().expect("scrub status") = status.clone();
        {
            let mut written = self.file_written.lock().expect("scrub file time");
            if progress_only && written.is_some_and(|t| t.elapsed() < FILE_EVERY) {
                return;
            }
            *written = Some(Instant::now());
        }
        let path = self.uses.data_dir.join(STATUS_FILE);
        let text = serde_json::to_vec_pretty(status).expect("serialisable");
        if let Err(e) = leadshop_keys::secret_file::write(&path, &text) {
            tracing::warn!(error = %e, "cannot write {STATUS_FILE}");
        }
    }

    /// One pass over every version, from the first table key on.
    async fn pass(&self, status: &mut ScrubStatus, stop: &Stop) {
        let s = &self.uses;
        let started = Instant::now();
        status.running = Some(Pass {
            started_ms: s.store.clock().now_ms(),
            ..Pass::default()
        });
        status.next_ms = None;
        self.publish(status, false);
        let mut from = Vec::new();
        let mut pacer_bytes = 0u64;
        loop {
            if stop.is_stopped() {
                return;
            }
            let (st, cursor, stop2) = (s.clone(), from.clone(), stop.clone());
            let rate = s.config.bytes_per_second;
            let elapsed = started.elapsed();
            let step = tokio::task::spawn_blocking(move || {
                let batch = st.store.scan_versions(&cursor, BATCH)?;
                let mut pacer = Pacer::resume(rate, elapsed, pacer_bytes);
                let mut out = Vec::with_capacity(batch.len());
                for (raw, v) in batch {
                    pacer.version();
                    let bucket = leadshop_store::keys::bucket_of(&raw).to_string();
                    let outcome = if v.delete_marker {
                        None
                    } else {
                        Some(check(
                            &st.store,
                            &st.keyring,
                            &bucket,
                            &v,
                            &mut pacer,
                            &stop2,
                        ))
                    };
                    out.push((raw, bucket, v, outcome));
                }
                Ok::<_, leadshop_store::StoreError>((out, pacer.bytes))
            })
            .await;
            let (batch, spent) = match step {
                Ok(Ok(b)) => b,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "the scrubber cannot read the versions table; the pass ends");
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %e, "the scrubber panicked; the pass ends");
                    break;
                }
            };
            pacer_bytes = spent;
            let Some((last, _, _, _)) = batch.last() else {
                break;
            };
            from = last.clone();
            from.push(0);
            let now = s.store.clock().now_ms();
            let pass = status.running.as_mut().expect("a pass runs");
            for (_, bucket, v, outcome) in batch {
                match &outcome {
                    Some(Outcome::Good { .. }) => {
                        s.health.set_damaged(&bucket, &v.key, &v.version_id, false)
                    }
                    Some(Outcome::Damaged { .. }) => {
                        s.health.set_damaged(&bucket, &v.key, &v.version_id, true)
                    }
                    _ => {}
                }
                match outcome {
                    None | Some(Outcome::Skipped("server_stopping")) => {}
                    Some(Outcome::Skipped(why)) => {
                        *pass.skipped.entry(why.into()).or_default() += 1
                    }
                    Some(Outcome::Good { bytes }) => {
                        pass.versions_checked += 1;
                        pass.bytes_checked += bytes;
                    }
                    Some(Outcome::Damaged { bytes, error }) => {
                        pass.versions_checked += 1;
                        pass.bytes_checked += bytes;
                        pass.damaged_count += 1;
                        status.found_since_start += 1;
                        tracing::error!(
                            bucket = %bucket, key = %v.key, version_id = %v.version_id, error = %error,
                            "scrub: a damaged object version (its GET fails; restore it from a backup or an earlier version)"
                        );
                        if pass.damaged.len() < MAX_LISTED {
                            pass.damaged.push(Damaged {
                                bucket,
                                key: v.key,
                                version_id: v.version_id,
                                error,
                                found_ms: now,
                            });
                        }
                    }
                }
            }
            self.publish(status, true);
        }
        if stop.is_stopped() {
            return;
        }
        let mut pass = status.running.take().expect("a pass runs");
        pass.finished_ms = Some(s.store.clock().now_ms());
        tracing::info!(
            versions = pass.versions_checked, bytes = pass.bytes_checked,
            damaged = pass.damaged_count, skipped = ?pass.skipped,
            "scrub pass finished"
        );
        status.last = Some(pass);
    }
}

#[async_trait::async_trait]
impl Worker for Scrubber {
    fn name(&self) -> String {
        "scrub".into()
    }

    async fn run(&self, mut stop: Stop) {
        let cfg = self.uses.config.clone();
        let path = self.uses.data_dir.join(STATUS_FILE);
        // The last finished pass survives a restart; one cut short starts again.
        let last = std::fs::read(&path)
            .ok()
            .and_then(|t| serde_json::from_slice::<ScrubStatus>(&t).ok())
            .and_then(|s| s.last);
        let mut status = ScrubStatus {
            enabled: cfg.enabled,
            bytes_per_second: cfg.bytes_per_second,
            interval_seconds: cfg.interval_seconds,
            last,
            ..ScrubStatus::default()
        };
        if !cfg.enabled {
            self.publish(&status, false);
            return;
        }
        let interval = i64::try_from(cfg.interval_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
        loop {
            let now = self.uses.store.clock().now_ms();
            let due = status
                .last
                .as_ref()
                .map_or(now, |l| l.started_ms.saturating_add(interval));
            if due > now {
                status.next_ms = Some(due);
                self.publish(&status, false);
                let wait = Duration::from_millis(u64::try_from(due - now).unwrap_or(0));
                tokio::select! {
                    () = tokio::time::sleep(wait.min(Duration::from_secs(60))) => continue,
                    () = stop.stopped() => return,
                }
            }
            self.pass(&mut status, &stop).await;
            if stop.is_stopped() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pacer_spends_at_most_its_rate() {
        let mut p = Pacer::resume(1000, Duration::ZERO, 0);
        let t = Instant::now();
        p.spent(500);
        assert!(
            t.elapsed() >= Duration::from_millis(450),
            "half a second for half the rate"
        );
    }

    #[test]
    fn versions_without_data_still_pay_their_share() {
        let mut p = Pacer::resume(10 * VERSION_COST, Duration::ZERO, 0);
        let t = Instant::now();
        for _ in 0..5 {
            p.version();
        }
        assert!(
            t.elapsed() >= Duration::from_millis(450),
            "five versions of no data at ten a second take half a second"
        );
    }

    #[test]
    fn a_checksum_that_differs_is_named() {
        let mut h = hasher(
            &Checksums {
                crc32: Some("AAAAAA==".into()),
                ..Checksums::default()
            },
            true,
        );
        h.update(b"x");
        let e = mismatch(
            &Checksums {
                crc32: Some("AAAAAA==".into()),
                ..Checksums::default()
            },
            h,
        )
        .unwrap();
        assert!(e.contains("CRC32"), "{e}");
        assert_eq!(
            mismatch(&Checksums::default(), hasher(&Checksums::default(), true)),
            None
        );
    }
}
