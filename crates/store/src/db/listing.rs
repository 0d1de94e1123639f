//! Listings: ListObjects(V2) and ListObjectVersions, with prefixes, delimiters and
//! continuation.

use super::objects::{find_version, newest_version};
#[allow(clippy::wildcard_imports)]
use super::*;

impl Store {
    /// ListObjects / ListObjectsV2: current versions (not delete markers) and common prefixes.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`], database errors.
    pub fn list_objects(&self, bucket: &str, q: &ListQuery) -> Result<ListPage, StoreError> {
        let tx = self.db.begin_read()?;
        let (mut start, end) = listing_range(&tx, bucket, &q.prefix)?;
        let versions = tx.open_table(VERSIONS)?;
        if let Some(after) = &q.start_after {
            start = start.max(keys::after_key(bucket, after));
        }
        let mut page = ListPage::default();
        let mut count = 0usize;
        loop {
            let mut range = versions.range(start.as_slice()..end.as_slice())?;
            let Some(entry) = range.next() else { break };
            let (k, v) = entry?;
            let Some((key, _)) = keys::split_version_key(bucket, k.value()) else {
                return Err(StoreError::Corrupt("malformed version key".into()));
            };
            if let Some(cp) = common_prefix(&key, &q.prefix, q.delimiter.as_deref()) {
                let here = k.value().to_vec();
                start = keys::after_prefix(bucket, cp);
                if q.start_after.as_deref().is_some_and(|after| cp <= after) {
                    continue;
                }
                // As on AWS, a prefix whose every key is deleted (a delete marker is its
                // newest version) is no folder: only versions listings still show it.
                if !has_current_object(&versions, bucket, here, &start)? {
                    continue;
                }
                if count == q.max_keys {
                    page.truncated = true;
                    break;
                }
                page.common_prefixes.push(cp.to_string());
                page.last = Some(cp.to_string());
                count += 1;
                continue;
            }
            start = keys::after_key(bucket, &key);
            let rec: VersionRecord = record::decode(v.value())?;
            if rec.delete_marker {
                continue;
            }
            if count == q.max_keys {
                page.truncated = true;
                break;
            }
            page.last = Some(key);
            page.objects.push(rec);
            count += 1;
        }
        Ok(page)
    }

    /// ListObjectVersions: every version and delete marker, keys ascending, newest first.
    ///
    /// # Errors
    /// [`StoreError::NoSuchBucket`], database errors.
    pub fn list_versions(
        &self,
        bucket: &str,
        q: &ListVersionsQuery,
    ) -> Result<ListVersionsPage, StoreError> {
        let tx = self.db.begin_read()?;
        let (start, end) = listing_range(&tx, bucket, &q.prefix)?;
        let versions = tx.open_table(VERSIONS)?;
        let mut start_bound = Bound::Included(start.clone());
        if let Some(marker) = &q.key_marker {
            let after = match q.version_id_marker.as_deref() {
                Some(vid) => match find_version(&versions, bucket, marker, vid)? {
                    Some((table_key, _)) => Bound::Excluded(table_key),
                    None => Bound::Included(keys::after_key(bucket, marker)),
                },
                None => Bound::Included(keys::after_key(bucket, marker)),
            };
            let after_key = match &after {
                Bound::Included(k) | Bound::Excluded(k) => k.clone(),
                Bound::Unbounded => unreachable!(),
            };
            if after_key >= start {
                start_bound = after;
            }
        }
        let mut page = ListVersionsPage::default();
        let mut count = 0usize;
        let mut newest_of: Option<(String, u64)> = None;
        'scan: loop {
            let bounds = (
                start_bound.as_ref().map(Vec::as_slice),
                Bound::Excluded(end.as_slice()),
            );
            let range = versions.range::<&[u8]>(bounds)?;
            for entry in range {
                let (k, v) = entry?;
                let raw = k.value().to_vec();
                let Some((key, seq)) = keys::split_version_key(bucket, &raw) else {
                    return Err(StoreError::Corrupt("malformed version key".into()));
                };
                if let Some(cp) = common_prefix(&key, &q.prefix, q.delimiter.as_deref()) {
                    let cp = cp.to_string();
                    start_bound = Bound::Included(keys::after_prefix(bucket, &cp));
                    if q.key_marker.as_deref().is_some_and(|m| cp.as_str() <= m) {
                        continue 'scan;
                    }
                    if count == q.max_keys {
                        page.truncated = true;
                        break 'scan;
                    }
                    page.common_prefixes.push(cp.clone());
                    page.next = Some((cp, None));
                    count += 1;
                    continue 'scan;
                }
                if count == q.max_keys {
                    page.truncated = true;
                    break 'scan;
                }
                let newest = match &newest_of {
                    Some((k, s)) if *k == key => *s,
                    _ => {
                        let s = newest_version(&versions, bucket, &key)?
                            .and_then(|(tk, _)| {
                                keys::split_version_key(bucket, &tk).map(|(_, s)| s)
                            })
                            .unwrap_or(seq);
                        newest_of = Some((key.clone(), s));
                        s
                    }
                };
                let rec: VersionRecord = record::decode(v.value())?;
                page.next = Some((key, Some(rec.version_id.clone())));
                page.versions.push((rec, seq == newest));
                count += 1;
            }
            break;
        }
        Ok(page)
    }

    // ---- multipart -----------------------------------------------------------------------
}

/// The table keys a listing of `prefix` in `bucket` walks, from the prefix itself (it may be a
/// key) to past its last key; NoSuchBucket when the bucket does not exist.
fn listing_range(
    tx: &redb::ReadTransaction,
    bucket: &str,
    prefix: &str,
) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
    if tx.open_table(BUCKETS)?.get(bucket)?.is_none() {
        return Err(StoreError::NoSuchBucket(bucket.into()));
    }
    let end = if prefix.is_empty() {
        keys::bucket_end(bucket)
    } else {
        keys::after_prefix(bucket, prefix)
    };
    let mut start = keys::key_prefix(bucket, prefix);
    start.pop(); // `bucket 0 prefix`
    Ok((start, end))
}

/// Whether a key in `from..end` (table keys, `from` at the newest version of a key) has a
/// current version that is not a delete marker. Looks at one entry per key and stops at the
/// first live one, so a folder of live objects costs one read.
fn has_current_object(
    versions: &redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
    bucket: &str,
    mut from: Vec<u8>,
    end: &[u8],
) -> Result<bool, StoreError> {
    loop {
        let mut range = versions.range(from.as_slice()..end)?;
        let Some(entry) = range.next() else {
            return Ok(false);
        };
        let (k, v) = entry?;
        let Some((key, _)) = keys::split_version_key(bucket, k.value()) else {
            return Err(StoreError::Corrupt("malformed version key".into()));
        };
        let rec: VersionRecord = record::decode(v.value())?;
        if !rec.delete_marker {
            return Ok(true);
        }
        from = keys::after_key(bucket, &key);
    }
}

/// The common prefix `key` rolls up into, if a delimiter occurs after the prefix.
pub(super) fn common_prefix<'k>(
    key: &'k str,
    prefix: &str,
    delimiter: Option<&str>,
) -> Option<&'k str> {
    let delimiter = delimiter.filter(|d| !d.is_empty())?;
    let rest = key.get(prefix.len()..)?;
    let at = rest.find(delimiter)?;
    Some(&key[..prefix.len() + at + delimiter.len()])
}
