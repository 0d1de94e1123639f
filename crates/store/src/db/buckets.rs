//! Buckets: create, read, update (versioning, configuration documents), delete.

#[allow(clippy::wildcard_imports)]
use super::*;
use redb::ReadableTableMetadata as _;

impl Store {
    /// Calls `watcher` with a bucket's name after every committed change to the bucket
    /// (created, its record updated, deleted): caches of bucket configuration invalidate here,
    /// so no handler has to remember to.
    pub fn watch_buckets(&self, watcher: impl Fn(&str) + Send + Sync + 'static) {
        if let Ok(mut w) = self.bucket_watchers.0.write() {
            w.push(Box::new(watcher));
        }
    }

    pub(super) fn bucket_changed(&self, name: &str) {
        if let Ok(w) = self.bucket_watchers.0.read() {
            for watcher in w.iter() {
                watcher(name);
            }
        }
    }

    /// Creates a bucket.
    ///
    /// # Errors
    /// [`StoreError::BucketAlreadyExists`] if the name is taken.
    pub fn create_bucket(&self, rec: &BucketRecord) -> Result<(), StoreError> {
        self.create_bucket_within(rec, usize::MAX)
    }

    /// Creates a bucket if fewer than `max` exist, checked in the creating transaction.
    ///
    /// # Errors
    /// [`StoreError::BucketAlreadyExists`], [`StoreError::TooManyBuckets`].
    pub fn create_bucket_within(&self, rec: &BucketRecord, max: usize) -> Result<(), StoreError> {
        let name = rec.name.clone();
        let rec = rec.clone();
        self.group.run(&self.db, move |tx| {
            let mut buckets = tx.open_table(BUCKETS)?;
            if buckets.get(rec.name.as_str())?.is_some() {
                return Err(StoreError::BucketAlreadyExists(rec.name.clone()));
            }
            if usize::try_from(buckets.len()?).unwrap_or(usize::MAX) >= max {
                return Err(StoreError::TooManyBuckets(max));
            }
            buckets.insert(rec.name.as_str(), record::encode(&rec).as_slice())?;
            Ok(())
        })?;
        self.bucket_changed(&name);
        Ok(())
    }

    /// One bucket.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`].
    pub fn bucket(&self, name: &str) -> Result<BucketRecord, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(BUCKETS)?;
        let rec = table
            .get(name)?
            .ok_or_else(|| StoreError::NoSuchBucket(name.into()))?;
        record::decode(rec.value())
    }

    /// All buckets, by name.
    ///
    /// # Errors
    /// Database errors.
    pub fn buckets(&self) -> Result<Vec<BucketRecord>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(BUCKETS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            out.push(record::decode(entry?.1.value())?);
        }
        Ok(out)
    }

    /// Changes a bucket's record (versioning, configuration documents) atomically.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`], or what `change` returns.
    pub fn update_bucket(
        &self,
        name: &str,
        change: impl FnOnce(&mut BucketRecord) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<BucketRecord, StoreError> {
        let owned = name.to_string();
        let rec = self.group.run(&self.db, move |tx| {
            let name = owned;
            let mut buckets = tx.open_table(BUCKETS)?;
            let mut rec: BucketRecord = match buckets.get(name.as_str())? {
                Some(v) => record::decode(v.value())?,
                None => return Err(StoreError::NoSuchBucket(name)),
            };
            change(&mut rec)?;
            buckets.insert(name.as_str(), record::encode(&rec).as_slice())?;
            Ok(rec)
        })?;
        self.bucket_changed(name);
        Ok(rec)
    }

    /// Deletes an empty bucket.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`], [`StoreError::BucketNotEmpty`] if any version, delete
    /// marker or multipart upload remains.
    pub fn delete_bucket(&self, name: &str) -> Result<(), StoreError> {
        let owned = name.to_string();
        self.group.run(&self.db, move |tx| {
            let name = owned.as_str();
            let mut buckets = tx.open_table(BUCKETS)?;
            if buckets.get(name)?.is_none() {
                return Err(StoreError::NoSuchBucket(name.into()));
            }
            let versions = tx.open_table(VERSIONS)?;
            let start = keys::bucket_prefix(name);
            let end = keys::bucket_end(name);
            if versions
                .range(start.as_slice()..end.as_slice())?
                .next()
                .is_some()
            {
                return Err(StoreError::BucketNotEmpty(name.into()));
            }
            let uploads = tx.open_table(UPLOADS)?;
            for entry in uploads.iter()? {
                let rec: UploadRecord = record::decode(entry?.1.value())?;
                if rec.bucket == name {
                    return Err(StoreError::BucketNotEmpty(name.into()));
                }
            }
            buckets.remove(name)?;
            Ok(())
        })?;
        self.bucket_changed(name);
        Ok(())
    }
}
