//! The replication queue: one task per source version a replication rule selects, inserted in
//! the transaction that commits the version (a version is never acknowledged and then
//! forgotten), taken by the replication worker, and removed in the transaction that marks the
//! version `COMPLETED`, or moved to the failed table (`FAILED`) when the destination refuses
//! it for good.
//!
//! Order: a key's tasks are handed out one at a time, oldest first ([`Store::replication_due`]),
//! so a destination receives a key's versions in the order the source wrote them and its
//! current version is the source's.
//!
//! The decision which rule replicates a version is `leadshop_spec::replication`'s, made from
//! the bucket's stored `replication` document in the same transaction as the write.

use std::collections::{BTreeMap, HashSet};

use leadshop_spec::replication::{ReplicationConfiguration, Subject};
use redb::ReadableTableMetadata as _;
use serde::{Deserialize, Serialize};

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::record::{ReplicationStatus, SseAlgorithm};

/// queue number → [`ReplicationTask`] (JSON): versions waiting to be replicated.
pub(crate) const REPLICATION_QUEUE: TableDefinition<u64, &[u8]> =
    TableDefinition::new("replication_queue");

/// queue number → [`ReplicationTask`] (JSON): versions the destination refused for good.
pub(crate) const REPLICATION_FAILED: TableDefinition<u64, &[u8]> =
    TableDefinition::new("replication_failed");

/// bucket → the last versions-table key looked at (empty: none yet): the resumable batch that
/// queues objects written before a rule with `ExistingObjectReplication` was configured.
pub(crate) const REPLICATION_BACKFILL: TableDefinition<&str, &[u8]> =
    TableDefinition::new("replication_backfill");

/// The `meta` counter of queue numbers.
const QUEUE_SEQ: &str = "replication_seq";

/// At most this many failed tasks are kept (the oldest go first); their versions stay FAILED.
pub const MAX_FAILED_KEPT: u64 = 100_000;

/// One version to replicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationTask {
    /// Source bucket.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// Source version id.
    pub version_id: String,
    /// A delete marker (replicated as a DeleteObject without a version id).
    #[serde(default)]
    pub delete_marker: bool,
    /// Its size in bytes (`BytesPendingReplication`).
    #[serde(default)]
    pub size: u64,
    /// The rule that selected it (its ID, or `rule-<n>`).
    pub rule: String,
    /// The destination bucket's ARN.
    pub destination: String,
    /// The replicas' storage class, when the rule sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// When the version was queued (its write), ms on the store's clock.
    pub queued_ms: i64,
    /// Deliveries tried so far.
    #[serde(default)]
    pub attempts: u32,
    /// Not before this time (backoff after a failed delivery).
    #[serde(default)]
    pub not_before_ms: i64,
    /// What the last failed delivery said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// What became of a delivery.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// The destination holds the version: `COMPLETED`.
    Done,
    /// Try again at `not_before_ms` (the destination is down, or answered 5xx or 503).
    Retry {
        /// When.
        not_before_ms: i64,
        /// Why it failed.
        error: String,
    },
    /// The destination refused it for good: `FAILED`.
    Failed {
        /// Why (an S3 error code, or words).
        error: String,
    },
}

/// The queue at a glance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Versions waiting.
    pub operations: u64,
    /// Their bytes.
    pub bytes: u64,
    /// When the oldest was queued.
    pub oldest_queued_ms: Option<i64>,
    /// Per (bucket, rule): operations and bytes waiting.
    pub by_rule: BTreeMap<(String, String), (u64, u64)>,
}

/// What a rule asks of a version.
fn subject_of(rec: &VersionRecord) -> Subject<'_> {
    let algorithm = rec
        .segments
        .iter()
        .find_map(|s| s.envelope.as_ref())
        .map(|e| e.algorithm);
    Subject {
        key: &rec.key,
        tags: &rec.tags,
        delete_marker: rec.delete_marker,
        kms: matches!(algorithm, Some(SseAlgorithm::Kms | SseAlgorithm::KmsDsse)),
        customer_key: algorithm == Some(SseAlgorithm::Customer),
        replica: rec.replica_of.is_some(),
    }
}

/// What the bucket's replication document says about a version about to be written.
pub(super) fn task_for(
    config: Option<&ReplicationConfiguration>,
    bucket: &str,
    rec: &VersionRecord,
    now_ms: i64,
) -> Option<ReplicationTask> {
    let config = config?;
    let subject = subject_of(rec);
    let (index, rule) = config.rule_for(&subject)?;
    Some(ReplicationTask {
        bucket: bucket.to_string(),
        key: rec.key.clone(),
        version_id: rec.version_id.clone(),
        delete_marker: rec.delete_marker,
        size: rec.size,
        rule: rule.label(index),
        destination: rule.destination.bucket.clone(),
        storage_class: rule.destination.storage_class.clone(),
        queued_ms: now_ms,
        attempts: 0,
        not_before_ms: 0,
        last_error: None,
    })
}

/// A table of a read transaction; `None` when no write has made it yet.
fn readable<K: redb::Key + 'static, V: redb::Value + 'static>(
    tx: &redb::ReadTransaction,
    def: TableDefinition<K, V>,
) -> Result<Option<redb::ReadOnlyTable<K, V>>, StoreError> {
    match tx.open_table(def) {
        Ok(t) => Ok(Some(t)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn encode_task(t: &ReplicationTask) -> Vec<u8> {
    serde_json::to_vec(t).expect("tasks always serialise")
}

fn decode_task(bytes: &[u8]) -> Result<ReplicationTask, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Corrupt(format!("a replication task: {e}")))
}

/// Inside the write's transaction: queues `task` and marks the version PENDING.
pub(super) fn enqueue(
    tx: &WriteTransaction,
    rec: &mut VersionRecord,
    task: &mut ReplicationTask,
) -> Result<(), StoreError> {
    task.version_id.clone_from(&rec.version_id);
    let mut meta = tx.open_table(META)?;
    let n = meta.get(QUEUE_SEQ)?.map_or(0, |v| v.value()) + 1;
    meta.insert(QUEUE_SEQ, n)?;
    tx.open_table(REPLICATION_QUEUE)?
        .insert(n, encode_task(task).as_slice())?;
    rec.replication = Some(ReplicationStatus::Pending);
    Ok(())
}

/// Inside a write's transaction: the version of `key` that is already a copy of `source`, if
/// one is (a second delivery of the same source version).
pub(super) fn replica_in(
    versions: &impl ReadableTable<&'static [u8], &'static [u8]>,
    bucket: &str,
    key: &str,
    source: &str,
) -> Result<Option<VersionRecord>, StoreError> {
    let start = keys::key_prefix(bucket, key);
    let end = keys::after_key(bucket, key);
    for entry in versions.range(start.as_slice()..end.as_slice())? {
        let (_, v) = entry?;
        let rec: VersionRecord = record::decode(v.value())?;
        if rec.replica_of.as_deref() == Some(source) {
            return Ok(Some(rec));
        }
    }
    Ok(None)
}

impl Store {
    /// Up to `max` tasks due at `now_ms`, oldest first, at most one per key (a key's later
    /// tasks wait until its earlier one is done), scanning at most `scan` queue entries.
    ///
    /// # Errors
    /// Database errors, a damaged task.
    pub fn replication_due(
        &self,
        now_ms: i64,
        max: usize,
        scan: usize,
    ) -> Result<Vec<(u64, ReplicationTask)>, StoreError> {
        let tx = self.db.begin_read()?;
        let Some(table) = readable(&tx, REPLICATION_QUEUE)? else {
            return Ok(Vec::new());
        };
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for entry in table.iter()?.take(scan) {
            let (n, v) = entry?;
            let task = decode_task(v.value())?;
            let first_of_key = seen.insert((task.bucket.clone(), task.key.clone()));
            if first_of_key && task.not_before_ms <= now_ms {
                out.push((n.value(), task));
                if out.len() == max {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Records what became of task `n`: done (the version COMPLETED, the task removed), a
    /// retry (attempts and backoff kept with it), or failed for good (the version FAILED,
    /// the task kept in the failed table for `leadshop replication status`). A version deleted
    /// meanwhile is simply no longer marked.
    ///
    /// # Errors
    /// Database errors.
    pub fn replication_delivered(&self, n: u64, delivery: Delivery) -> Result<(), StoreError> {
        self.group.run(&self.db, move |tx| {
            let mut queue = tx.open_table(REPLICATION_QUEUE)?;
            let Some(task) = queue.get(n)?.map(|v| decode_task(v.value())).transpose()? else {
                return Ok(());
            };
            let status = match delivery {
                Delivery::Retry {
                    not_before_ms,
                    error,
                } => {
                    let next = ReplicationTask {
                        attempts: task.attempts + 1,
                        not_before_ms,
                        last_error: Some(error),
                        ..task
                    };
                    queue.insert(n, encode_task(&next).as_slice())?;
                    return Ok(());
                }
                Delivery::Done => {
                    queue.remove(n)?;
                    ReplicationStatus::Completed
                }
                Delivery::Failed { error } => {
                    queue.remove(n)?;
                    let failed = ReplicationTask {
                        attempts: task.attempts + 1,
                        last_error: Some(error),
                        ..task.clone()
                    };
                    let mut table = tx.open_table(REPLICATION_FAILED)?;
                    table.insert(n, encode_task(&failed).as_slice())?;
                    if table.len()? > MAX_FAILED_KEPT {
                        table.pop_first()?;
                    }
                    ReplicationStatus::Failed
                }
            };
            drop(queue);
            let mut versions = VersionsMut::open(tx)?;
            if let Some((table_key, mut rec)) =
                objects::find_version(versions.table(), &task.bucket, &task.key, &task.version_id)?
            {
                rec.replication = Some(status);
                versions.insert(&table_key, &rec)?;
            }
            Ok(())
        })
    }

    /// The queue now: what waits, and for how long.
    ///
    /// # Errors
    /// Database errors, a damaged task.
    pub fn replication_backlog(&self) -> Result<Backlog, StoreError> {
        let tx = self.db.begin_read()?;
        let mut out = Backlog::default();
        let Some(table) = readable(&tx, REPLICATION_QUEUE)? else {
            return Ok(out);
        };
        for entry in table.iter()? {
            let (_, v) = entry?;
            let t = decode_task(v.value())?;
            out.operations += 1;
            out.bytes += t.size;
            out.oldest_queued_ms = Some(
                out.oldest_queued_ms
                    .map_or(t.queued_ms, |o| o.min(t.queued_ms)),
            );
            let e = out.by_rule.entry((t.bucket, t.rule)).or_default();
            e.0 += 1;
            e.1 += t.size;
        }
        Ok(out)
    }

    /// The tasks the destination refused for good, oldest first (at most `max`).
    ///
    /// # Errors
    /// Database errors, a damaged task.
    pub fn replication_failures(&self, max: usize) -> Result<Vec<ReplicationTask>, StoreError> {
        let tx = self.db.begin_read()?;
        let Some(table) = readable(&tx, REPLICATION_FAILED)? else {
            return Ok(Vec::new());
        };
        table
            .iter()?
            .take(max)
            .map(|e| decode_task(e?.1.value()))
            .collect()
    }

    /// Stores (or, with `None`, removes) `bucket`'s replication configuration; with `backfill`
    /// the batch that queues its existing objects starts in the same transaction
    /// ([`Store::replication_backfill_step`]). A configuration needs the bucket's versioning
    /// enabled (checked here, where it cannot change meanwhile).
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`], [`StoreError::InvalidRequest`] (versioning not enabled).
    pub fn set_replication(
        &self,
        bucket: &str,
        document: Option<serde_json::Value>,
        backfill: bool,
        unversioned: &'static str,
    ) -> Result<(), StoreError> {
        let name = bucket.to_string();
        self.group.run(&self.db, move |tx| {
            let mut buckets = tx.open_table(BUCKETS)?;
            let mut rec: BucketRecord = match buckets.get(name.as_str())? {
                Some(v) => record::decode(v.value())?,
                None => return Err(StoreError::NoSuchBucket(name)),
            };
            let mut backfills = tx.open_table(REPLICATION_BACKFILL)?;
            match document {
                Some(doc) => {
                    if rec.versioning != VersioningState::Enabled {
                        return Err(StoreError::InvalidRequest(unversioned));
                    }
                    rec.documents
                        .insert(crate::record::REPLICATION_DOC.into(), doc);
                    if backfill && backfills.get(name.as_str())?.is_none() {
                        backfills.insert(name.as_str(), [].as_slice())?;
                    }
                }
                None => {
                    rec.documents.remove(crate::record::REPLICATION_DOC);
                    backfills.remove(name.as_str())?;
                }
            }
            buckets.insert(name.as_str(), record::encode(&rec).as_slice())?;
            Ok(())
        })?;
        self.bucket_changed(bucket);
        Ok(())
    }

    /// Buckets whose existing objects are still being queued.
    ///
    /// # Errors
    /// Database errors.
    pub fn replication_backfills(&self) -> Result<Vec<String>, StoreError> {
        let tx = self.db.begin_read()?;
        let Some(table) = readable(&tx, REPLICATION_BACKFILL)? else {
            return Ok(Vec::new());
        };
        table
            .iter()?
            .map(|e| Ok(e?.0.value().to_string()))
            .collect()
    }

    /// One step of a bucket's existing-object batch, in one transaction: the next keys (about
    /// `max` versions, whole keys), each version the bucket's rules select for existing
    /// objects queued oldest first and marked PENDING, and the place reached saved, so the
    /// batch resumes there after a restart. A key with a version already in replication (one
    /// written since the configuration) is skipped: its history would reach the destination
    /// after its newer version. Returns the versions looked at; 0 when `bucket`'s batch is done
    /// (or there is none).
    ///
    /// # Errors
    /// Database errors, a damaged record.
    pub fn replication_backfill_step(&self, bucket: &str, max: usize) -> Result<usize, StoreError> {
        let name = bucket.to_string();
        let clock = self.clock.clone();
        self.group.run(&self.db, move |tx| {
            let bucket = name.as_str();
            let mut backfills = tx.open_table(REPLICATION_BACKFILL)?;
            let Some(cursor) = backfills.get(bucket)?.map(|v| v.value().to_vec()) else {
                return Ok(0);
            };
            let config = match Self::bucket_facts_in(tx, bucket) {
                Ok((_, Some(c))) => c,
                // The bucket or its configuration is gone: so is the batch.
                Ok((_, None)) | Err(StoreError::NoSuchBucket(_)) => {
                    backfills.remove(bucket)?;
                    return Ok(0);
                }
                Err(e) => return Err(e),
            };
            let mut versions = VersionsMut::open(tx)?;
            let start = if cursor.is_empty() {
                std::ops::Bound::Included(keys::bucket_prefix(bucket))
            } else {
                std::ops::Bound::Excluded(cursor)
            };
            let end = std::ops::Bound::Excluded(keys::bucket_end(bucket));
            // Whole keys: (table key, record), newest first within a key.
            let mut batch: Vec<(Vec<u8>, VersionRecord)> = Vec::new();
            for entry in versions.table().range::<&[u8]>((
                start.as_ref().map(Vec::as_slice),
                end.as_ref().map(Vec::as_slice),
            ))? {
                let (k, v) = entry?;
                let rec: VersionRecord = record::decode(v.value())?;
                if batch.len() >= max && batch.last().is_some_and(|(_, last)| last.key != rec.key) {
                    break;
                }
                batch.push((k.value().to_vec(), rec));
            }
            let Some((last_key, _)) = batch.last() else {
                backfills.remove(bucket)?;
                return Ok(0);
            };
            let last_key = last_key.clone();
            let looked = batch.len();
            let now = clock.now_ms();
            let mut i = 0;
            while i < batch.len() {
                let j = i + batch[i..]
                    .iter()
                    .take_while(|(_, r)| r.key == batch[i].1.key)
                    .count();
                let key_versions = &mut batch[i..j];
                // A replica's REPLICA says where it came from, not that it is being sent on.
                let touched = key_versions.iter().any(|(_, r)| {
                    r.replication
                        .is_some_and(|s| s != ReplicationStatus::Replica)
                });
                if !touched {
                    for (table_key, rec) in key_versions.iter_mut().rev() {
                        let existing = config
                            .rule_for(&subject_of(rec))
                            .is_some_and(|(_, r)| r.replicates_existing());
                        if !existing {
                            continue;
                        }
                        if let Some(mut task) = task_for(Some(&config), bucket, rec, now) {
                            enqueue(tx, rec, &mut task)?;
                            versions.insert(table_key, rec)?;
                        }
                    }
                }
                i = j;
            }
            backfills.insert(bucket, last_key.as_slice())?;
            Ok(looked)
        })
    }

    /// The replication configuration stored with `bucket`, if any (what a write reads in its
    /// transaction).
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`], a damaged record.
    pub fn bucket_replication(
        &self,
        bucket: &str,
    ) -> Result<Option<ReplicationConfiguration>, StoreError> {
        let tx = self.db.begin_read()?;
        let buckets = tx.open_table(BUCKETS)?;
        let rec = buckets
            .get(bucket)?
            .ok_or_else(|| StoreError::NoSuchBucket(bucket.into()))?;
        Ok(record::bucket_facts(rec.value())?.1)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::record::{BucketRecord, VersioningState};
    use crate::write::NewVersion;

    fn store_with(documents: BTreeMap<String, serde_json::Value>) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), None).unwrap();
        for (name, documents) in [("src", documents), ("dst", BTreeMap::new())] {
            store
                .create_bucket(&BucketRecord {
                    name: name.into(),
                    created_ms: 0,
                    region: "us-east-1".into(),
                    versioning: VersioningState::Enabled,
                    documents,
                })
                .unwrap();
        }
        (dir, store)
    }

    fn rules() -> BTreeMap<String, serde_json::Value> {
        BTreeMap::from([(
            "replication".to_string(),
            serde_json::json!({"Role": "arn:aws:iam::123456789012:role/r", "Rules": [{
                "ID": "reports", "Priority": 1, "Status": "Enabled",
                "Filter": {"Prefix": "reports/"},
                "DeleteMarkerReplication": {"Status": "Enabled"},
                "Destination": {"Bucket": "arn:aws:s3:::dst"}}]}),
        )])
    }

    fn put(store: &Store, bucket: &str, key: &str, replica_of: Option<&str>) -> PutOutcome {
        let mut w = store.writer().unwrap();
        w.write(key.as_bytes()).unwrap();
        let new = NewVersion {
            key: key.into(),
            replica_of: replica_of.map(str::to_string),
            ..NewVersion::default()
        };
        store
            .commit_version(bucket, new, w.seal().unwrap(), None)
            .unwrap()
    }

    #[test]
    fn a_write_a_rule_selects_is_queued_with_it_and_marked_pending() {
        let (_d, store) = store_with(rules());
        let v1 = put(&store, "src", "reports/a", None).version;
        let v2 = put(&store, "src", "reports/a", None).version;
        let other = put(&store, "src", "screenshots/b", None).version;
        let v3 = put(&store, "src", "reports/c", None).version;
        assert_eq!(v1.replication, Some(ReplicationStatus::Pending));
        assert_eq!(other.replication, None);
        let marker = store.delete_object("src", "reports/c", None).unwrap();
        assert!(marker.delete_marker);
        let backlog = store.replication_backlog().unwrap();
        assert_eq!(backlog.operations, 4);
        assert_eq!(backlog.bytes, 9 + 9 + 9);
        assert_eq!(
            backlog.by_rule[&("src".to_string(), "reports".to_string())].0,
            4
        );
        // One task per key at a time, oldest first: v1 and v3, not v2 nor the marker.
        let due = store.replication_due(i64::MAX, 10, 1000).unwrap();
        let got: Vec<&str> = due.iter().map(|(_, t)| t.version_id.as_str()).collect();
        assert_eq!(got, [v1.version_id.as_str(), v3.version_id.as_str()]);
        // A retry keeps v1 first (and its key's later version waiting) until its time.
        store
            .replication_delivered(
                due[0].0,
                Delivery::Retry {
                    not_before_ms: 5_000,
                    error: "SlowDown".into(),
                },
            )
            .unwrap();
        let due_now = store.replication_due(4_999, 10, 1000).unwrap();
        assert_eq!(due_now.len(), 1, "{due_now:?}");
        assert_eq!(due_now[0].1.version_id, v3.version_id);
        let later = store.replication_due(5_000, 10, 1000).unwrap();
        assert_eq!(later[0].1.attempts, 1);
        assert_eq!(later[0].1.last_error.as_deref(), Some("SlowDown"));
        store
            .replication_delivered(later[0].0, Delivery::Done)
            .unwrap();
        store
            .replication_delivered(
                later[1].0,
                Delivery::Failed {
                    error: "AccessDenied".into(),
                },
            )
            .unwrap();
        let get = |k: &str, v: &str| store.get_version("src", k, Some(v)).unwrap().replication;
        assert_eq!(
            get("reports/a", &v1.version_id),
            Some(ReplicationStatus::Completed)
        );
        assert_eq!(
            get("reports/c", &v3.version_id),
            Some(ReplicationStatus::Failed)
        );
        assert_eq!(
            get("reports/a", &v2.version_id),
            Some(ReplicationStatus::Pending)
        );
        let failed = store.replication_failures(10).unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].last_error.as_deref(), Some("AccessDenied"));
        let next: Vec<bool> = store
            .replication_due(i64::MAX, 10, 1000)
            .unwrap()
            .iter()
            .map(|(_, t)| t.delete_marker)
            .collect();
        assert_eq!(next, [false, true], "v2, then the marker");
    }

    #[test]
    fn a_replica_delivered_twice_is_stored_once() {
        let (_d, store) = store_with(rules());
        let first = put(&store, "dst", "reports/a", Some("src/v1"));
        assert!(!first.replayed);
        assert_eq!(first.version.replication, Some(ReplicationStatus::Replica));
        let again = put(&store, "dst", "reports/a", Some("src/v1"));
        assert!(again.replayed);
        assert_eq!(again.version.version_id, first.version.version_id);
        let next = put(&store, "dst", "reports/a", Some("src/v2"));
        assert_ne!(next.version.version_id, first.version.version_id);
        let m1 = store
            .delete_as_replica("dst", "reports/a", "src/m1")
            .unwrap();
        let m2 = store
            .delete_as_replica("dst", "reports/a", "src/m1")
            .unwrap();
        assert_eq!(m1, m2);
        let versions = store
            .list_versions(
                "dst",
                &crate::ListVersionsQuery {
                    max_keys: 100,
                    ..crate::ListVersionsQuery::default()
                },
            )
            .unwrap();
        assert_eq!(versions.versions.len(), 3, "two replicas and one marker");
        // A replica is not queued again (no ReplicaModifications).
        assert_eq!(store.replication_backlog().unwrap().operations, 0);
    }

    #[test]
    fn existing_objects_are_queued_by_a_resumable_batch_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let open = || Store::open(dir.path(), None).unwrap();
        let store = open();
        for name in ["src", "dst"] {
            store
                .create_bucket(&BucketRecord {
                    name: name.into(),
                    created_ms: 0,
                    region: "us-east-1".into(),
                    versioning: VersioningState::Enabled,
                    documents: BTreeMap::new(),
                })
                .unwrap();
        }
        let a1 = put(&store, "src", "reports/a", None).version;
        let a2 = put(&store, "src", "reports/a", None).version;
        let b = put(&store, "src", "reports/b", None).version;
        put(&store, "src", "other/c", None);
        let touched_old = put(&store, "src", "reports/d", None).version;
        let mut doc = rules()["replication"].clone();
        doc["Rules"][0]["ExistingObjectReplication"] = serde_json::json!({"Status": "Enabled"});
        store
            .set_replication("src", Some(doc), true, "unversioned")
            .unwrap();
        // Written since the configuration: its own task; its key's history is left alone.
        let touched_new = put(&store, "src", "reports/d", None).version;
        assert_eq!(store.replication_backfills().unwrap(), ["src"]);
        // Whole keys per step (other/c, then both of reports/a), resumed by a new store.
        assert_eq!(store.replication_backfill_step("src", 1).unwrap(), 1);
        assert_eq!(store.replication_backfill_step("src", 1).unwrap(), 2);
        drop(store);
        let store = open();
        while store.replication_backfill_step("src", 1).unwrap() > 0 {}
        assert!(store.replication_backfills().unwrap().is_empty());
        let due: Vec<String> = {
            let mut out = Vec::new();
            loop {
                let batch = store.replication_due(i64::MAX, 10, 1000).unwrap();
                if batch.is_empty() {
                    break out;
                }
                for (n, t) in batch {
                    out.push(t.version_id.clone());
                    store.replication_delivered(n, Delivery::Done).unwrap();
                }
            }
        };
        assert_eq!(due.len(), 4, "{due:?}");
        assert!(due.contains(&touched_new.version_id) && !due.contains(&touched_old.version_id));
        let pos = |v: &str| due.iter().position(|d| d == v).unwrap();
        assert!(pos(&a1.version_id) < pos(&a2.version_id), "oldest first");
        assert!(due.contains(&b.version_id));
        // A configuration without ExistingObjectReplication queues nothing old; removing it
        // ends a batch.
        store
            .set_replication("src", None, false, "unversioned")
            .unwrap();
        assert!(store.bucket_replication("src").unwrap().is_none());
    }
}
