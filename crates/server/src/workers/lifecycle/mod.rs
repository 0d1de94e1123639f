//! The lifecycle worker: applies every bucket's lifecycle rules once a day, at midnight UTC of
//! the server's clock (a day is `day_seconds`), as AWS does.
//!
//! A pass walks the versions table in key order, [`BATCH`] records at a time (never the whole
//! index in memory), then the uploads table. For each version it asks the rules
//! ([`LifecycleConfiguration::decide`]) what is due, and hands the batch's decisions to
//! [`Store::apply_lifecycle`], which re-checks each against the version as it is now and commits
//! the changes together with the pass's progress (cursor and counts) in one transaction. So a
//! `kill -9` anywhere loses nothing and half-applies nothing: on restart the pass resumes at
//! the first batch not committed, and re-deciding a batch already applied finds nothing to do.
//!
//! Buckets without rules are skipped whole (one seek). The progress is also written to
//! `<data-dir>/lifecycle-status.json` for `leadshop lifecycle status`, and counted on
//! `/metrics`.

pub use crate::observability::lifecycle as status;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use leadshop_spec::lifecycle::{Decision, LifecycleConfiguration, State, Version};
use leadshop_store::{LifecycleAction, Store, StoreError, VersionRecord, keys};

use status::{Carry, add, write_status};
pub use status::{
    Counts, LifecycleStatus, PassSummary, Phase, Progress, RuleCounts, STATUS_FILE, render_metrics,
    status_path,
};

use super::{Stop, Worker};
use crate::bucket_config::BucketConfigs;

/// Versions (or uploads) read and decided per transaction.
pub const BATCH: usize = 1000;
/// The longest real-time wait between looks at the clock (a test clock may jump).
const POLL: Duration = Duration::from_millis(250);

/// The lifecycle worker, and what it uses.
pub struct LifecycleWorker {
    /// The engine it walks and changes.
    pub store: Arc<Store>,
    /// Each bucket's rules.
    pub configs: Arc<BucketConfigs>,
    /// Milliseconds in a lifecycle day (`day_seconds`).
    pub day_ms: i64,
    /// Where `lifecycle-status.json` goes.
    pub data_dir: PathBuf,
    /// Its progress, for `/metrics`.
    pub status: Arc<LifecycleStatus>,
}

#[async_trait::async_trait]
impl Worker for LifecycleWorker {
    fn name(&self) -> String {
        "lifecycle".into()
    }

    async fn run(&self, mut stop: Stop) {
        let day_ms = self.day_ms;
        let mut progress = match self.blocking(|st| st.lifecycle_progress()).await {
            Ok(Some(bytes)) => serde_json::from_slice::<Progress>(&bytes).unwrap_or_else(|e| {
                tracing::error!(error = %e, "the lifecycle progress does not parse; starting afresh");
                Progress::default()
            }),
            Ok(None) => Progress::default(),
            Err(e) => {
                tracing::error!(error = %e, "reading the lifecycle progress failed");
                return;
            }
        };
        // A change of day length (a test's `day_seconds`) makes old day numbers meaningless.
        if progress.day_ms != day_ms {
            progress.day = i64::MIN;
            progress.phase = Phase::Finished;
            progress.day_ms = day_ms;
        }
        self.status.set(&progress);
        loop {
            let today = self.store.clock().now_ms().div_euclid(day_ms);
            if progress.phase != Phase::Finished || progress.day < today {
                if progress.phase == Phase::Finished {
                    progress = progress.start(today, self.store.clock().now_ms());
                }
                match self.pass(&mut progress, &stop).await {
                    Ok(()) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "lifecycle pass failed; retrying");
                        tokio::select! {
                            () = tokio::time::sleep(Duration::from_secs(5)) => {}
                            () = stop.stopped() => return,
                        }
                    }
                }
                if stop.is_stopped() {
                    return;
                }
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                () = stop.stopped() => return,
            }
        }
    }
}

/// One decision and the rule it counts for.
struct Planned {
    bucket: String,
    rule: String,
    action: LifecycleAction,
}

impl LifecycleWorker {
    /// Runs (or resumes) the pass in `progress` until it finishes or the server stops.
    async fn pass(&self, progress: &mut Progress, stop: &Stop) -> Result<(), StoreError> {
        let day_ms = progress.day_ms;
        let mut configs: HashMap<String, Option<Arc<LifecycleConfiguration>>> = HashMap::new();
        while progress.phase != Phase::Finished {
            if stop.is_stopped() {
                return Ok(());
            }
            let now = self.store.clock().now_ms();
            let mut next = progress.clone();
            let planned = match progress.phase {
                Phase::Versions => {
                    let from = progress
                        .cursor
                        .as_deref()
                        .and_then(|h| hex::decode(h).ok())
                        .unwrap_or_default();
                    let batch = self
                        .blocking(move |st| st.scan_versions(&from, BATCH))
                        .await?;
                    self.plan_versions(&batch, &mut configs, &mut next, now, day_ms)
                        .await
                }
                Phase::Uploads => {
                    let after = progress.upload_cursor.clone();
                    let batch = self
                        .blocking(move |st| st.scan_uploads(after.as_deref(), BATCH))
                        .await?;
                    let mut planned = Vec::new();
                    match batch.last() {
                        None => {
                            next.phase = Phase::Finished;
                        }
                        Some(last) => next.upload_cursor = Some(last.upload_id.clone()),
                    }
                    for u in &batch {
                        let Some(config) = self.config(&mut configs, &u.bucket).await else {
                            continue;
                        };
                        if let Some(rule) = config.abort_upload(&u.key, u.initiated_ms, now, day_ms)
                        {
                            planned.push(Planned {
                                bucket: u.bucket.clone(),
                                rule,
                                action: LifecycleAction::AbortUpload {
                                    upload_id: u.upload_id.clone(),
                                },
                            });
                        }
                    }
                    planned
                }
                Phase::Finished => Vec::new(),
            };
            let finished = next.phase == Phase::Finished;
            let (actions, labels): (Vec<_>, Vec<_>) = planned
                .into_iter()
                .map(|p| (p.action, (p.bucket, p.rule)))
                .unzip();
            let kinds: Vec<_> = actions.iter().map(kind).collect();
            // The progress saved with the batch includes what it did: computed inside the
            // transaction from which actions applied.
            let saved = {
                let mut next = next.clone();
                move |applied: &[bool]| {
                    for ((ok, (bucket, rule)), k) in applied.iter().zip(&labels).zip(&kinds) {
                        if *ok {
                            for counts in [&mut next.counts, &mut next.totals] {
                                let c = counts
                                    .entry(bucket.clone())
                                    .or_default()
                                    .entry(rule.clone())
                                    .or_default();
                                *k(c) += 1;
                            }
                        }
                    }
                    if finished {
                        next.last = Some(PassSummary {
                            day: next.day,
                            started_ms: next.started_ms,
                            finished_ms: now,
                            versions_scanned: next.versions_scanned,
                            counts: next.counts.clone(),
                        });
                    }
                    next
                }
            };
            let data_dir = self.data_dir.clone();
            *progress = self
                .blocking(move |st| {
                    let p = st.apply_lifecycle(actions, move |applied| {
                        let p = saved(applied);
                        (serde_json::to_vec(&p).expect("progress serialises"), p)
                    })?;
                    write_status(&data_dir, &p);
                    Ok(p)
                })
                .await?;
            self.status.set(progress);
            if finished {
                let summary = progress.last.as_ref().map(|l| {
                    l.counts
                        .values()
                        .flat_map(BTreeMap::values)
                        .fold(RuleCounts::default(), |a, c| add(&a, c))
                });
                tracing::info!(day = progress.day, versions = progress.versions_scanned, counts = ?summary, "lifecycle pass finished");
            }
        }
        Ok(())
    }

    /// A bucket's lifecycle rules, looked up once per pass.
    async fn config(
        &self,
        configs: &mut HashMap<String, Option<Arc<LifecycleConfiguration>>>,
        bucket: &str,
    ) -> Option<Arc<LifecycleConfiguration>> {
        if let Some(c) = configs.get(bucket) {
            return c.clone();
        }
        let c = self
            .configs
            .load(bucket)
            .await
            .and_then(|c| if c.damaged { None } else { c.lifecycle.clone() });
        configs.insert(bucket.to_string(), c.clone());
        c
    }

    /// Decides a batch of versions; moves `next`'s cursor and carry past what was decided.
    async fn plan_versions(
        &self,
        batch: &[(Vec<u8>, VersionRecord)],
        configs: &mut HashMap<String, Option<Arc<LifecycleConfiguration>>>,
        next: &mut Progress,
        now: i64,
        day_ms: i64,
    ) -> Vec<Planned> {
        let mut planned = Vec::new();
        if batch.is_empty() {
            next.phase = Phase::Uploads;
            next.cursor = None;
            next.carry = None;
            return planned;
        }
        // A bucket without rules is passed over: its versions in this batch are skipped and
        // the cursor goes to its end (one seek past the rest of it), so many small buckets
        // without rules cost a batch per thousand versions, not one each.
        let mut passed_over: Option<&str> = None;
        for (i, (table_key, v)) in batch.iter().enumerate() {
            let Some(bucket) = bucket_of(table_key) else {
                continue;
            };
            if passed_over == Some(bucket) {
                continue;
            }
            let Some(config) = self.config(configs, bucket).await else {
                passed_over = Some(bucket);
                next.cursor = Some(hex::encode(keys::bucket_end(bucket)));
                next.carry = None;
                continue;
            };
            next.versions_scanned += 1;
            let same_key = |c: &Carry| c.bucket == bucket && c.key == v.key;
            let state = match &next.carry {
                Some(c) if same_key(c) => State::Noncurrent {
                    since_ms: c.newer_ms,
                    newer_noncurrent: c.noncurrent_seen,
                },
                _ => State::Current {
                    // The next version in the batch tells; at the batch's end the store
                    // checks again before it removes anything.
                    only_version: batch
                        .get(i + 1)
                        .is_none_or(|(k, n)| bucket_of(k) != Some(bucket) || n.key != v.key),
                },
            };
            let version = Version {
                key: &v.key,
                size: v.size,
                tags: &v.tags,
                created_ms: v.last_modified_ms,
                storage_class: v.storage_class,
                delete_marker: v.delete_marker,
                state,
            };
            if let Some(d) = config.decide(&version, now, day_ms) {
                planned.push(plan(bucket, v, d));
            }
            next.carry = Some(match (&next.carry, state) {
                (Some(c), State::Noncurrent { .. }) => Carry {
                    newer_ms: v.last_modified_ms,
                    noncurrent_seen: c.noncurrent_seen + 1,
                    ..c.clone()
                },
                _ => Carry {
                    bucket: bucket.to_string(),
                    key: v.key.clone(),
                    newer_ms: v.last_modified_ms,
                    noncurrent_seen: 0,
                },
            });
            let mut after = table_key.clone();
            after.push(0);
            next.cursor = Some(hex::encode(after));
        }
        planned
    }
}

fn plan(bucket: &str, v: &VersionRecord, d: Decision) -> Planned {
    let (bucket, key, version_id) = (bucket.to_string(), v.key.clone(), v.version_id.clone());
    let (rule, action) = match d {
        Decision::Transition { rule, to } => (
            rule,
            LifecycleAction::Transition {
                bucket: bucket.clone(),
                key,
                version_id,
                from: v.storage_class,
                to,
            },
        ),
        Decision::Expire(rule) => (
            rule,
            LifecycleAction::ExpireCurrent {
                bucket: bucket.clone(),
                key,
                version_id,
            },
        ),
        Decision::DeleteVersion(rule) => (
            rule,
            LifecycleAction::DeleteNoncurrent {
                bucket: bucket.clone(),
                key,
                version_id,
            },
        ),
        Decision::RemoveDeleteMarker(rule) => (
            rule,
            LifecycleAction::RemoveDeleteMarker {
                bucket: bucket.clone(),
                key,
                version_id,
            },
        ),
    };
    Planned {
        bucket,
        rule,
        action,
    }
}

/// Which counter an action adds to.
fn kind(a: &LifecycleAction) -> fn(&mut RuleCounts) -> &mut u64 {
    match a {
        LifecycleAction::Transition { .. } => |c| &mut c.transitioned,
        LifecycleAction::ExpireCurrent { .. } => |c| &mut c.expired,
        LifecycleAction::DeleteNoncurrent { .. } => |c| &mut c.noncurrent_deleted,
        LifecycleAction::RemoveDeleteMarker { .. } => |c| &mut c.delete_markers_removed,
        LifecycleAction::AbortUpload { .. } => |c| &mut c.uploads_aborted,
    }
}

/// The bucket a versions-table key belongs to.
fn bucket_of(table_key: &[u8]) -> Option<&str> {
    let end = table_key.iter().position(|b| *b == 0)?;
    std::str::from_utf8(&table_key[..end]).ok()
}

impl LifecycleWorker {
    /// Runs an engine call on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| StoreError::CommitFailed(e.to_string()))?
    }
}
