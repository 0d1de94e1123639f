//! Multipart uploads: create, parts, complete (one version from the chosen parts), abort.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) fn read_parts(
    parts: &impl ReadableTable<&'static [u8], &'static [u8]>,
    upload_id: &str,
) -> Result<Vec<PartRecord>, StoreError> {
    let start = keys::part_key(upload_id, 0);
    let end = keys::part_key(upload_id, i32::MAX);
    let mut out = Vec::new();
    for entry in parts.range(start.as_slice()..=end.as_slice())? {
        out.push(record::decode(entry?.1.value())?);
    }
    Ok(out)
}

impl Store {
    /// Starts a multipart upload.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`].
    pub fn create_upload(&self, rec: &UploadRecord) -> Result<(), StoreError> {
        let rec = rec.clone();
        self.group.run(&self.db, move |tx| {
            Self::bucket_in(tx, &rec.bucket)?;
            tx.open_table(UPLOADS)?
                .insert(rec.upload_id.as_str(), record::encode(&rec).as_slice())?;
            Ok(())
        })
    }

    /// One multipart upload.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUpload`].
    pub fn upload(&self, upload_id: &str) -> Result<UploadRecord, StoreError> {
        let tx = self.db.begin_read()?;
        let uploads = tx.open_table(UPLOADS)?;
        let rec = uploads
            .get(upload_id)?
            .ok_or_else(|| StoreError::NoSuchUpload(upload_id.into()))?;
        record::decode(rec.value())
    }

    /// Records an uploaded part (its data file already sealed), replacing an earlier upload
    /// of the same part number.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUpload`] (the caller then discards the file).
    pub fn put_part(&self, upload_id: &str, part: &PartRecord) -> Result<(), StoreError> {
        let (upload_id, mut part) = (upload_id.to_string(), part.clone());
        let masters = self.master.clone();
        let replaced = self.group.run(&self.db, move |tx| {
            if tx.open_table(UPLOADS)?.get(upload_id.as_str())?.is_none() {
                return Err(StoreError::NoSuchUpload(upload_id));
            }
            masters::to_current(masters.as_ref(), part.envelope.as_mut())?;
            let mut parts = tx.open_table(PARTS)?;
            let key = keys::part_key(&upload_id, part.part_number);
            let old = parts.insert(key.as_slice(), record::encode(&part).as_slice())?;
            old.map(|o| record::decode::<PartRecord>(o.value()))
                .transpose()
        })?;
        if let Some(old) = replaced {
            self.dirs.remove(old.file);
        }
        Ok(())
    }

    /// The parts of an upload, by part number.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUpload`].
    pub fn parts(&self, upload_id: &str) -> Result<Vec<PartRecord>, StoreError> {
        let tx = self.db.begin_read()?;
        if tx.open_table(UPLOADS)?.get(upload_id)?.is_none() {
            return Err(StoreError::NoSuchUpload(upload_id.into()));
        }
        let parts = tx.open_table(PARTS)?;
        read_parts(&parts, upload_id)
    }

    /// All uploads in progress in a bucket, by key then initiation time.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`].
    pub fn uploads(&self, bucket: &str) -> Result<Vec<UploadRecord>, StoreError> {
        let tx = self.db.begin_read()?;
        if tx.open_table(BUCKETS)?.get(bucket)?.is_none() {
            return Err(StoreError::NoSuchBucket(bucket.into()));
        }
        let mut out = Vec::new();
        for entry in tx.open_table(UPLOADS)?.iter()? {
            let rec: UploadRecord = record::decode(entry?.1.value())?;
            if rec.bucket == bucket {
                out.push(rec);
            }
        }
        out.sort_by(|a, b| {
            (&a.key, a.initiated_ms, &a.upload_id).cmp(&(&b.key, b.initiated_ms, &b.upload_id))
        });
        Ok(out)
    }

    /// Completes an upload: checks the parts list, lets `finish` build the object's record
    /// from the upload and the chosen parts (in order), then commits that version, drops the
    /// upload and deletes the files of parts not used — all in one transaction.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUpload`], [`StoreError::InvalidPartOrder`], [`StoreError::InvalidPart`],
    /// [`StoreError::EntityTooSmall`], [`StoreError::PreconditionFailed`], or what `finish` returns.
    pub fn complete_upload(
        &self,
        upload_id: &str,
        wanted: Vec<CompletePart>,
        precondition: Option<WritePrecondition>,
        finish: impl FnOnce(&UploadRecord, &[PartRecord]) -> Result<CompletedObject, StoreError>
        + Send
        + 'static,
    ) -> Result<PutOutcome, StoreError> {
        let upload_id = upload_id.to_string();
        let masters = self.master.clone();
        let clock = self.clock.clone();
        let (outcome, garbage) = self.group.run(&self.db, move |tx| {
            let upload_id = upload_id.as_str();
            let upload: UploadRecord = {
                let uploads = tx.open_table(UPLOADS)?;
                let rec = uploads
                    .get(upload_id)?
                    .ok_or_else(|| StoreError::NoSuchUpload(upload_id.into()))?;
                record::decode(rec.value())?
            };
            let mut parts_table = tx.open_table(PARTS)?;
            let stored = read_parts(&parts_table, upload_id)?;
            if wanted.is_empty() {
                return Err(StoreError::InvalidArgument(
                    "You must specify at least one part".into(),
                ));
            }
            if wanted
                .windows(2)
                .any(|w| w[0].part_number >= w[1].part_number)
            {
                return Err(StoreError::InvalidPartOrder);
            }
            let mut chosen = Vec::with_capacity(wanted.len());
            for w in &wanted {
                let part = stored
                    .iter()
                    .find(|p| p.part_number == w.part_number && p.etag == w.etag)
                    .ok_or(StoreError::InvalidPart(w.part_number))?;
                chosen.push(part.clone());
            }
            if let Some(small) = chosen[..chosen.len() - 1]
                .iter()
                .find(|p| p.size < MIN_PART_SIZE)
            {
                return Err(StoreError::EntityTooSmall(small.part_number));
            }
            // A conditional completion of an upload whose key was deleted after the upload
            // began: AWS answers 409 ConditionalRequestConflict (start a new upload), not a
            // precondition result computed against a state the upload never saw.
            if precondition.is_some()
                && let Some((_, newest)) = super::objects::newest_version(
                    &tx.open_table(VERSIONS)?,
                    &upload.bucket,
                    &upload.key,
                )?
                && newest.delete_marker
                && newest.last_modified_ms > upload.initiated_ms
            {
                return Err(StoreError::ConditionalRequestConflict);
            }
            let done = finish(&upload, &chosen)?;
            let rec = VersionRecord {
                key: upload.key.clone(),
                version_id: String::new(),
                delete_marker: false,
                last_modified_ms: clock.now_ms(),
                size: chosen.iter().map(|p| p.size).sum(),
                etag: done.etag,
                storage_class: upload.storage_class,
                checksums: done.checksums,
                headers: upload.headers.clone(),
                metadata: upload.metadata.clone(),
                tags: upload.tags.clone(),
                segments: chosen
                    .iter()
                    .map(|p| Segment {
                        file: p.file,
                        len: p.size,
                        envelope: p.envelope.clone(),
                        part_checksums: Some(p.checksums.clone()),
                        inline: false,
                    })
                    .collect(),
                encryption: None,
                restore: None,
                retention: upload.retention.clone(),
                legal_hold: upload.legal_hold,
                acl: upload.acl.clone(),
                replication: None,
                replica_of: None,
            };

            let (outcome, mut garbage) = Self::insert_version(
                tx,
                masters.as_ref(),
                &upload.bucket,
                rec,
                precondition.as_ref(),
            )?;
            for p in &stored {
                parts_table.remove(keys::part_key(upload_id, p.part_number).as_slice())?;
            }
            tx.open_table(UPLOADS)?.remove(upload_id)?;
            garbage.extend(
                stored
                    .iter()
                    .filter(|p| !chosen.iter().any(|c| c.file == p.file))
                    .map(|p| p.file),
            );
            Ok((outcome, garbage))
        })?;
        self.remove_files(garbage);
        Ok(outcome)
    }

    /// Aborts an upload and deletes its parts.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUpload`].
    pub fn abort_upload(&self, upload_id: &str) -> Result<(), StoreError> {
        let upload_id = upload_id.to_string();
        let garbage: Vec<FileId> = self.group.run(&self.db, move |tx| {
            let upload_id = upload_id.as_str();
            if tx.open_table(UPLOADS)?.get(upload_id)?.is_none() {
                return Err(StoreError::NoSuchUpload(upload_id.into()));
            }
            tx.open_table(UPLOADS)?.remove(upload_id)?;
            let mut parts = tx.open_table(PARTS)?;
            let stored = read_parts(&parts, upload_id)?;
            for p in &stored {
                parts.remove(keys::part_key(upload_id, p.part_number).as_slice())?;
            }
            Ok(stored.into_iter().map(|p| p.file).collect())
        })?;
        self.remove_files(garbage);
        Ok(())
    }
}
