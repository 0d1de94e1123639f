//! Object versions: commit, read, update (tags), delete (markers, versions), and the
//! version-id and precondition rules they share.

use super::replication as replica;
#[allow(clippy::wildcard_imports)]
use super::*;

/// A version found: its table key and record.
type Found = Option<(Vec<u8>, VersionRecord)>;

pub(super) fn newest_version(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    bucket: &str,
    key: &str,
) -> Result<Found, StoreError> {
    let start = keys::key_prefix(bucket, key);
    let end = keys::after_key(bucket, key);
    let mut range = table.range(start.as_slice()..end.as_slice())?;
    match range.next() {
        Some(entry) => {
            let (k, v) = entry?;
            Ok(Some((k.value().to_vec(), record::decode(v.value())?)))
        }
        None => Ok(None),
    }
}

pub(super) fn find_version(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> Result<Found, StoreError> {
    if version_id == NULL_VERSION_ID {
        let start = keys::key_prefix(bucket, key);
        let end = keys::after_key(bucket, key);
        for entry in table.range(start.as_slice()..end.as_slice())? {
            let (k, v) = entry?;
            let rec: VersionRecord = record::decode(v.value())?;
            if rec.version_id == NULL_VERSION_ID {
                return Ok(Some((k.value().to_vec(), rec)));
            }
        }
        return Ok(None);
    }
    let Some(seq) = parse_version_id(version_id) else {
        return Ok(None);
    };
    let table_key = keys::version_key(bucket, key, seq);
    match table.get(table_key.as_slice())? {
        Some(v) => {
            let rec: VersionRecord = record::decode(v.value())?;
            Ok((rec.version_id == version_id).then_some((table_key, rec)))
        }
        None => Ok(None),
    }
}

/// Version ids are `seq(16 hex) random(16 hex)`: the sequence number locates the version in
/// the table without a second index, the random half makes ids unguessable.
pub(super) fn new_version_id(seq: u64) -> String {
    format!("{seq:016x}{:016x}", rand::random::<u64>())
}

pub(super) fn parse_version_id(id: &str) -> Option<u64> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(&id[..16], 16).ok()
}

/// Gives `rec` its version id for the bucket's state; with versioning off or suspended the
/// existing `null` version is removed and its files returned for deletion after commit.
pub(super) fn assign_version(
    versions: &mut VersionsMut<'_>,
    bucket: &str,
    state: VersioningState,
    seq: u64,
    rec: &mut VersionRecord,
) -> Result<Vec<FileId>, StoreError> {
    if state == VersioningState::Enabled {
        rec.version_id = new_version_id(seq);
        return Ok(Vec::new());
    }
    rec.version_id = NULL_VERSION_ID.into();
    match find_version(versions.table(), bucket, &rec.key, NULL_VERSION_ID)? {
        Some((table_key, old)) => {
            versions.remove(table_key.as_slice())?;
            Ok(old.segments.iter().map(|s| s.file).collect())
        }
        None => Ok(Vec::new()),
    }
}

fn check_precondition(
    pre: Option<&WritePrecondition>,
    current: Option<&VersionRecord>,
) -> Result<(), StoreError> {
    let live = current.filter(|r| !r.delete_marker);
    match (pre, live) {
        (Some(WritePrecondition::IfNoneMatchAny), Some(_)) => Err(StoreError::PreconditionFailed(
            "an object with this key exists (If-None-Match: *)",
        )),
        (Some(WritePrecondition::IfMatch(_) | WritePrecondition::IfMatchAny), None) => {
            Err(StoreError::NoSuchKey {
                key: String::new(),
                delete_marker: None,
            })
        }
        (Some(WritePrecondition::IfMatch(etag)), Some(r)) if *etag != r.etag => Err(
            StoreError::PreconditionFailed("the ETag does not match (If-Match)"),
        ),
        _ => Ok(()),
    }
}

/// A NoSuchKey from [`check_precondition`] names the key.
fn with_key(e: StoreError, key: &str) -> StoreError {
    match e {
        StoreError::NoSuchKey { delete_marker, .. } => StoreError::NoSuchKey {
            key: key.to_string(),
            delete_marker,
        },
        other => other,
    }
}

impl Store {
    /// Commits a new version of `rec.key` whose data files are already sealed. The version id
    /// is assigned here according to the bucket's versioning state; a replaced `null` version's
    /// files are deleted after the commit. Concurrent writes share one commit.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`], [`StoreError::PreconditionFailed`], database errors. On
    /// error the caller still owns (and should discard) the data files.
    pub fn put_version(
        &self,
        bucket: &str,
        rec: VersionRecord,
        precondition: Option<WritePrecondition>,
    ) -> Result<PutOutcome, StoreError> {
        self.put_version_with(bucket, rec, precondition, None)
    }

    /// [`Store::put_version`], with the bytes of its inline segment (`file`'s) written to the
    /// `inline` table in the same transaction.
    pub(crate) fn put_version_with(
        &self,
        bucket: &str,
        rec: VersionRecord,
        precondition: Option<WritePrecondition>,
        inline: Option<(FileId, Vec<u8>)>,
    ) -> Result<PutOutcome, StoreError> {
        let bucket = bucket.to_string();
        let masters = self.master.clone();
        let (outcome, garbage) = self.group.run(&self.db, move |tx| {
            let done =
                Self::insert_version(tx, masters.as_ref(), &bucket, rec, precondition.as_ref())?;
            if let Some((file, bytes)) = inline.filter(|_| !done.0.replayed) {
                tx.open_table(super::INLINE)?
                    .insert(file.to_bytes().as_slice(), bytes.as_slice())?;
            }
            Ok(done)
        })?;
        self.remove_files(garbage);
        Ok(outcome)
    }

    /// Inside a write transaction: checks `precondition` against the key's current version,
    /// moves the new version's envelopes under the current master key, and inserts it as the
    /// key's newest version (replacing the `null` version where versioning is not enabled).
    /// Returns the outcome and the data files the replaced version leaves behind, to remove
    /// once the transaction is durable. Nothing is changed when it refuses.
    pub(super) fn insert_version(
        tx: &WriteTransaction,
        masters: Option<&MasterKeys>,
        bucket: &str,
        mut rec: VersionRecord,
        precondition: Option<&WritePrecondition>,
    ) -> Result<(PutOutcome, Vec<FileId>), StoreError> {
        let (versioning, replication) = Self::bucket_facts_in(tx, bucket)?;
        let mut versions = VersionsMut::open(tx)?;
        if let Some(source) = &rec.replica_of
            && let Some(stored) = replica::replica_in(versions.table(), bucket, &rec.key, source)?
        {
            // A second delivery of a version this bucket already holds a replica of (the
            // answer to the first was lost): that replica is the answer, nothing is stored.
            return Ok((
                PutOutcome {
                    version: stored,
                    versioning,
                    replayed: true,
                },
                rec.segments.iter().map(|s| s.file).collect(),
            ));
        }
        let current = newest_version(versions.table(), bucket, &rec.key)?;
        check_precondition(precondition, current.as_ref().map(|(_, r)| r))?;
        // Everything that can refuse the write has been checked: now change tables.
        masters::to_current(
            masters,
            rec.segments.iter_mut().filter_map(|s| s.envelope.as_mut()),
        )?;
        let seq = Self::next_seq(tx)?;
        let garbage = assign_version(&mut versions, bucket, versioning, seq, &mut rec)?;
        if rec.replica_of.is_some() {
            rec.replication = Some(crate::record::ReplicationStatus::Replica);
        }
        if let Some(mut task) =
            replica::task_for(replication.as_ref(), bucket, &rec, rec.last_modified_ms)
        {
            replica::enqueue(tx, &mut rec, &mut task)?;
        }
        versions.insert(keys::version_key(bucket, &rec.key, seq).as_slice(), &rec)?;
        Ok((
            PutOutcome {
                version: rec,
                versioning,
                replayed: false,
            },
            garbage,
        ))
    }

    /// Whether [`Store::get_version`] of `version_id` is a point lookup (a descent of the
    /// B-tree: the current version, or a numbered one) rather than a walk over the key's
    /// versions (the `null` version, which has no number to seek to).
    #[must_use]
    pub fn version_lookup_is_point(version_id: Option<&str>) -> bool {
        version_id != Some(NULL_VERSION_ID)
    }

    /// The current version of a key, or a given version.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`], [`StoreError::NoSuchKey`] (also when the current version is
    /// a delete marker), [`StoreError::NoSuchVersion`], [`StoreError::MethodNotAllowed`] when a
    /// version id names a delete marker.
    pub fn get_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<VersionRecord, StoreError> {
        let tx = self.db.begin_read()?;
        Self::version_in(&tx, bucket, key, version_id)
    }

    /// [`Store::get_version`], and in the same read transaction the stored bytes of the
    /// version's data when they are inline (one segment kept in the metadata): a GET of a small
    /// object then decrypts them with [`Store::read_inline_in_place`] and needs no second read.
    ///
    /// # Errors
    /// As [`Store::get_version`]; a record whose inline data is missing comes back without it
    /// (the read that follows reports the loss).
    pub fn get_version_with_inline(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<(VersionRecord, Option<Vec<u8>>), StoreError> {
        let tx = self.db.begin_read()?;
        let rec = Self::version_in(&tx, bucket, key, version_id)?;
        let inline = match rec.segments.as_slice() {
            [only] if only.inline => tx
                .open_table(super::INLINE)?
                .get(only.file.to_bytes().as_slice())?
                .map(|v| v.value().to_vec()),
            _ => None,
        };
        Ok((rec, inline))
    }

    /// The version [`Store::get_version`] answers, within a read transaction.
    fn version_in(
        tx: &redb::ReadTransaction,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<VersionRecord, StoreError> {
        if tx.open_table(BUCKETS)?.get(bucket)?.is_none() {
            return Err(StoreError::NoSuchBucket(bucket.into()));
        }
        let versions = tx.open_table(VERSIONS)?;
        match version_id {
            None => match newest_version(&versions, bucket, key)? {
                Some((_, rec)) if rec.delete_marker => Err(StoreError::NoSuchKey {
                    key: key.into(),
                    delete_marker: Some(rec.version_id),
                }),
                Some((_, rec)) => Ok(rec),
                None => Err(StoreError::NoSuchKey {
                    key: key.into(),
                    delete_marker: None,
                }),
            },
            Some(vid) => match find_version(&versions, bucket, key, vid)? {
                Some((_, rec)) if rec.delete_marker => {
                    Err(StoreError::MethodNotAllowed(vid.into()))
                }
                Some((_, rec)) => Ok(rec),
                None => Err(StoreError::NoSuchVersion(vid.into())),
            },
        }
    }

    /// Changes one version's record in place (tags). Data and identity stay as they are.
    ///
    /// # Errors
    /// As [`Store::get_version`], or what `change` returns.
    pub fn update_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        change: impl FnOnce(&mut VersionRecord) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<VersionRecord, StoreError> {
        let (bucket, key, version_id) = (
            bucket.to_string(),
            key.to_string(),
            version_id.map(str::to_string),
        );
        self.group.run(&self.db, move |tx| {
            let (bucket, key, version_id) = (bucket.as_str(), key.as_str(), version_id.as_deref());
            Self::bucket_in(tx, bucket)?;
            let mut versions = VersionsMut::open(tx)?;
            let found = match version_id {
                None => newest_version(versions.table(), bucket, key)?,
                Some(vid) => find_version(versions.table(), bucket, key, vid)?,
            };
            let (table_key, mut rec) = match found {
                Some((_, rec)) if rec.delete_marker => {
                    return Err(match version_id {
                        Some(v) => StoreError::MethodNotAllowed(v.into()),
                        None => StoreError::NoSuchKey {
                            key: key.into(),
                            delete_marker: Some(rec.version_id),
                        },
                    });
                }
                Some(found) => found,
                None => {
                    return Err(match version_id {
                        Some(v) => StoreError::NoSuchVersion(v.into()),
                        None => StoreError::NoSuchKey {
                            key: key.into(),
                            delete_marker: None,
                        },
                    });
                }
            };
            change(&mut rec)?;
            versions.insert(table_key.as_slice(), &rec)?;
            Ok(rec)
        })
    }

    /// DeleteObject: removes a version (with `version_id`), or the current object as S3 does for
    /// the bucket's versioning state (a delete marker when versioned).
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`], [`StoreError::InvalidArgument`] for a malformed version id.
    pub fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<DeleteOutcome, StoreError> {
        self.delete_object_if(bucket, key, version_id, None, false)
    }

    /// [`Store::delete_object`] only if `precondition` holds (`If-Match`), checked in the same
    /// transaction as the delete: against the named version, else the current one (a delete
    /// marker is no object). A version under Object Lock is not deleted: a legal hold or a
    /// COMPLIANCE retention never, a GOVERNANCE retention only with `bypass_governance`.
    ///
    /// # Errors
    /// As [`Store::delete_object`]; [`StoreError::PreconditionFailed`] when the ETag differs,
    /// [`StoreError::NoSuchKey`] when there is no object to compare with,
    /// [`StoreError::ObjectLocked`].
    pub fn delete_object_if(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        precondition: Option<WritePrecondition>,
        bypass_governance: bool,
    ) -> Result<DeleteOutcome, StoreError> {
        self.delete_inner(
            bucket,
            key,
            version_id,
            precondition,
            bypass_governance,
            None,
        )
    }

    /// A delete marker replicated from `source` (`<bucket>/<version id>` of the source's
    /// marker): made once; a second delivery answers the marker made by the first.
    ///
    /// # Errors
    /// As [`Store::delete_object`].
    pub fn delete_as_replica(
        &self,
        bucket: &str,
        key: &str,
        source: &str,
    ) -> Result<DeleteOutcome, StoreError> {
        self.delete_inner(bucket, key, None, None, false, Some(source.to_string()))
    }

    fn delete_inner(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        precondition: Option<WritePrecondition>,
        bypass_governance: bool,
        replica_of: Option<String>,
    ) -> Result<DeleteOutcome, StoreError> {
        let (bucket, key, version_id) = (
            bucket.to_string(),
            key.to_string(),
            version_id.map(str::to_string),
        );
        let clock = self.clock.clone();
        let (outcome, garbage) = self.group.run(&self.db, move |tx| {
            let (bucket, key, version_id) = (bucket.as_str(), key.as_str(), version_id.as_deref());
            let (versioning, replication) = Self::bucket_facts_in(tx, bucket)?;
            let mut versions = VersionsMut::open(tx)?;
            if let Some(source) = &replica_of
                && let Some(stored) = replica::replica_in(versions.table(), bucket, key, source)?
            {
                return Ok((
                    DeleteOutcome {
                        version_id: Some(stored.version_id),
                        delete_marker: stored.delete_marker,
                    },
                    Vec::new(),
                ));
            }
            if let Some(vid) = version_id {
                if vid != NULL_VERSION_ID && parse_version_id(vid).is_none() {
                    return Err(StoreError::InvalidArgument(
                        "Invalid version id specified".into(),
                    ));
                }
                let found = find_version(versions.table(), bucket, key, vid)?;
                if precondition.is_some() {
                    check_precondition(precondition.as_ref(), found.as_ref().map(|(_, r)| r))
                        .map_err(|e| with_key(e, key))?;
                }
                if let Some((_, rec)) = &found {
                    match rec.protection(clock.now_ms()) {
                        crate::Protection::None => {}
                        crate::Protection::Governance if bypass_governance => {}
                        _ => return Err(StoreError::ObjectLocked),
                    }
                }
                return Ok(match found {
                    Some((table_key, rec)) => {
                        versions.remove(table_key.as_slice())?;
                        let files = rec.segments.iter().map(|s| s.file).collect();
                        (
                            DeleteOutcome {
                                version_id: Some(vid.into()),
                                delete_marker: rec.delete_marker,
                            },
                            files,
                        )
                    }
                    None => (
                        DeleteOutcome {
                            version_id: Some(vid.into()),
                            delete_marker: false,
                        },
                        Vec::new(),
                    ),
                });
            }
            if precondition.is_some() {
                let current = newest_version(versions.table(), bucket, key)?;
                check_precondition(precondition.as_ref(), current.as_ref().map(|(_, r)| r))
                    .map_err(|e| with_key(e, key))?;
            }
            if versioning == VersioningState::Unversioned {
                return Ok(
                    match find_version(versions.table(), bucket, key, NULL_VERSION_ID)? {
                        Some((table_key, rec)) => {
                            versions.remove(table_key.as_slice())?;
                            (
                                DeleteOutcome::default(),
                                rec.segments.iter().map(|s| s.file).collect(),
                            )
                        }
                        None => (DeleteOutcome::default(), Vec::new()),
                    },
                );
            }
            let seq = Self::next_seq(tx)?;
            let mut marker = VersionRecord::delete_marker(key, clock.now_ms());
            let garbage = assign_version(&mut versions, bucket, versioning, seq, &mut marker)?;
            if replica_of.is_some() {
                marker.replication = Some(crate::record::ReplicationStatus::Replica);
                marker.replica_of = replica_of;
            } else if let Some(mut task) = replica::task_for(
                replication.as_ref(),
                bucket,
                &marker,
                marker.last_modified_ms,
            ) {
                replica::enqueue(tx, &mut marker, &mut task)?;
            }
            versions.insert(keys::version_key(bucket, key, seq).as_slice(), &marker)?;
            Ok((
                DeleteOutcome {
                    version_id: Some(marker.version_id),
                    delete_marker: true,
                },
                garbage,
            ))
        })?;
        self.remove_files(garbage);
        Ok(outcome)
    }
}
