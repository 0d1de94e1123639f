//! What the lifecycle worker needs of the engine: batched scans of the versions and uploads
//! tables, and one operation that applies a batch of decisions together with the worker's
//! progress, so a crash leaves either the whole batch and its progress or neither.
//!
//! The engine knows no rules: the worker decides, and every action here re-checks, inside the
//! transaction, that the version it was decided for is still in the state it was decided in
//! (a write that lands between the scan and the commit wins; the action is skipped).

use super::objects::{find_version, newest_version};
#[allow(clippy::wildcard_imports)]
use super::*;

/// The worker's progress record (opaque to the engine).
pub(super) const LIFECYCLE: TableDefinition<&str, &[u8]> = TableDefinition::new("lifecycle");
const PROGRESS: &str = "progress";

/// One decision of the lifecycle worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LifecycleAction {
    /// Set the storage class of a version still of class `from`.
    Transition {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// The version.
        version_id: String,
        /// Its class when decided.
        from: crate::StorageClass,
        /// The new class.
        to: crate::StorageClass,
    },
    /// Expire the current version if it is still `version_id`: a delete marker where
    /// versioning is enabled (a `null` one where suspended), removal where unversioned.
    ExpireCurrent {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// The current version when decided.
        version_id: String,
    },
    /// Delete a version for good if it is still noncurrent.
    DeleteNoncurrent {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// The version.
        version_id: String,
    },
    /// Remove a delete marker if it is still the key's only version.
    RemoveDeleteMarker {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// The marker.
        version_id: String,
    },
    /// Abort a multipart upload.
    AbortUpload {
        /// The upload.
        upload_id: String,
    },
}

impl Store {
    /// Up to `limit` versions from table key `from` (inclusive), in table order, with their
    /// table keys. Reads one snapshot; memory is bounded by `limit`.
    ///
    /// # Errors
    /// Database errors, a record that does not decode.
    pub fn scan_versions(
        &self,
        from: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, VersionRecord)>, StoreError> {
        let tx = self.db.begin_read()?;
        let versions = tx.open_table(VERSIONS)?;
        let mut out = Vec::with_capacity(limit.min(4096));
        for entry in versions.range::<&[u8]>(from..)?.take(limit) {
            let (k, v) = entry?;
            out.push((k.value().to_vec(), record::decode(v.value())?));
        }
        Ok(out)
    }

    /// Up to `limit` uploads in progress with ids after `after`, in id order.
    ///
    /// # Errors
    /// Database errors, a record that does not decode.
    pub fn scan_uploads(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<UploadRecord>, StoreError> {
        let tx = self.db.begin_read()?;
        let uploads = tx.open_table(UPLOADS)?;
        let range = match after {
            Some(a) => uploads.range::<&str>((Bound::Excluded(a), Bound::Unbounded))?,
            None => uploads.range::<&str>(..)?,
        };
        let mut out = Vec::new();
        for entry in range.take(limit) {
            out.push(record::decode(entry?.1.value())?);
        }
        Ok(out)
    }

    /// The lifecycle worker's saved progress, if any.
    ///
    /// # Errors
    /// Database errors.
    pub fn lifecycle_progress(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = match tx.open_table(LIFECYCLE) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(table.get(PROGRESS)?.map(|v| v.value().to_vec()))
    }

    /// Applies `actions` and saves the progress `progress` makes of which of them applied
    /// (false: the version changed since it was decided, so it was left alone), in one
    /// transaction; returns what `progress` returned beside the bytes to save. Data files of
    /// removed versions and parts are deleted after the commit.
    ///
    /// # Errors
    /// Database errors (nothing is applied and the progress is not saved).
    pub fn apply_lifecycle<P: Send + 'static>(
        &self,
        actions: Vec<LifecycleAction>,
        progress: impl FnOnce(&[bool]) -> (Vec<u8>, P) + Send + 'static,
    ) -> Result<P, StoreError> {
        let clock = self.clock.clone();
        let (out, garbage) = self.group.run(&self.db, move |tx| {
            // Refusals are impossible past this point: every check below skips instead, so
            // the shared transaction is never left half-changed by a refusal.
            let mut applied = Vec::with_capacity(actions.len());
            let mut garbage = Vec::new();
            for a in &actions {
                applied.push(Self::apply_one(tx, a, clock.now_ms(), &mut garbage)?);
            }
            let (bytes, out) = progress(&applied);
            tx.open_table(LIFECYCLE)?
                .insert(PROGRESS, bytes.as_slice())?;
            Ok((out, garbage))
        })?;
        self.remove_files(garbage);
        Ok(out)
    }

    fn apply_one(
        tx: &WriteTransaction,
        action: &LifecycleAction,
        now_ms: i64,
        garbage: &mut Vec<FileId>,
    ) -> Result<bool, StoreError> {
        let bucket_state = |bucket: &str| -> Result<Option<VersioningState>, StoreError> {
            let buckets = tx.open_table(BUCKETS)?;
            let Some(rec) = buckets.get(bucket)? else {
                return Ok(None);
            };
            Ok(Some(
                record::decode::<BucketRecord>(rec.value())?.versioning,
            ))
        };
        match action {
            LifecycleAction::Transition {
                bucket,
                key,
                version_id,
                from,
                to,
            } => {
                let mut versions = VersionsMut::open(tx)?;
                let Some((table_key, mut rec)) =
                    find_version(versions.table(), bucket, key, version_id)?
                else {
                    return Ok(false);
                };
                if rec.delete_marker || rec.storage_class != *from {
                    return Ok(false);
                }
                rec.storage_class = *to;
                rec.restore = None;
                versions.insert(table_key.as_slice(), &rec)?;
                Ok(true)
            }
            LifecycleAction::ExpireCurrent {
                bucket,
                key,
                version_id,
            } => {
                let Some(state) = bucket_state(bucket)? else {
                    return Ok(false);
                };
                let mut versions = VersionsMut::open(tx)?;
                let Some((table_key, current)) = newest_version(versions.table(), bucket, key)?
                else {
                    return Ok(false);
                };
                if current.version_id != *version_id || current.delete_marker {
                    return Ok(false);
                }
                if state == VersioningState::Unversioned {
                    versions.remove(table_key.as_slice())?;
                    garbage.extend(current.segments.iter().map(|s| s.file));
                    return Ok(true);
                }
                // A delete marker, versioned as any write is: a new id, or (suspended) the
                // null marker replacing the null version.
                let seq = Self::next_seq(tx)?;
                let mut marker = VersionRecord::delete_marker(key, now_ms);
                garbage.extend(super::objects::assign_version(
                    &mut versions,
                    bucket,
                    state,
                    seq,
                    &mut marker,
                )?);
                versions.insert(keys::version_key(bucket, key, seq).as_slice(), &marker)?;
                Ok(true)
            }
            LifecycleAction::DeleteNoncurrent {
                bucket,
                key,
                version_id,
            } => {
                let mut versions = VersionsMut::open(tx)?;
                let Some((newest_key, _)) = newest_version(versions.table(), bucket, key)? else {
                    return Ok(false);
                };
                let Some((table_key, rec)) =
                    find_version(versions.table(), bucket, key, version_id)?
                else {
                    return Ok(false);
                };
                // Noncurrent and not under Object Lock (lifecycle never lifts a retention).
                if table_key == newest_key || rec.protection(now_ms) != crate::Protection::None {
                    return Ok(false);
                }
                versions.remove(table_key.as_slice())?;
                garbage.extend(rec.segments.iter().map(|s| s.file));
                Ok(true)
            }
            LifecycleAction::RemoveDeleteMarker {
                bucket,
                key,
                version_id,
            } => {
                let mut versions = VersionsMut::open(tx)?;
                let start = keys::key_prefix(bucket, key);
                let end = keys::after_key(bucket, key);
                let mut all = versions.range(start.as_slice()..end.as_slice())?;
                let only = match (all.next(), all.next()) {
                    (Some(first), None) => {
                        let (k, v) = first?;
                        let rec: VersionRecord = record::decode(v.value())?;
                        (rec.delete_marker && rec.version_id == *version_id)
                            .then(|| k.value().to_vec())
                    }
                    _ => None,
                };
                drop(all);
                let Some(table_key) = only else {
                    return Ok(false);
                };
                versions.remove(table_key.as_slice())?;
                Ok(true)
            }
            LifecycleAction::AbortUpload { upload_id } => {
                let mut uploads = tx.open_table(UPLOADS)?;
                if uploads.remove(upload_id.as_str())?.is_none() {
                    return Ok(false);
                }
                drop(uploads);
                let mut parts = tx.open_table(PARTS)?;
                let stored = super::multipart::read_parts(&parts, upload_id)?;
                for p in &stored {
                    parts.remove(keys::part_key(upload_id, p.part_number).as_slice())?;
                    garbage.push(p.file);
                }
                Ok(true)
            }
        }
    }
}
