//! Storage usage as running totals: bytes and objects per bucket and storage class, kept in
//! the `usage` table and changed in the same transaction as the version that changes them, so
//! they are exact at every commit and reading them costs nothing per object.
//!
//! Every write to the versions table goes through [`VersionsMut`], which updates the totals
//! from the record it inserts and the one it replaces or removes (a delete marker counts
//! nothing), and removes the inline data ([`super::INLINE`]) of a record it replaces or
//! removes that the new record does not reference. A data directory written before the totals existed (no `usage_counted` mark in
//! `meta`) is counted once at open ([`Store::recount_usage`]), which also repairs them.

use std::collections::BTreeMap;
use std::ops::Deref;

use redb::{ReadableDatabase as _, ReadableTable as _, TableDefinition, WriteTransaction};

use super::{BUCKETS, INLINE, META, Store, VERSIONS};
use crate::keys::bucket_of;
use crate::record::{self, VersionRecord};
use crate::{ClassUsage, StoreError};

/// (bucket, storage class) → (bytes, objects).
pub(super) const USAGE: TableDefinition<(&str, &str), (u64, u64)> = TableDefinition::new("usage");

/// Set in `meta` once the totals have been counted from the versions table.
const COUNTED: &str = "usage_counted";

type Versions<'tx> = redb::Table<'tx, &'static [u8], &'static [u8]>;

/// (bucket, class) → (bytes, objects).
type Totals = BTreeMap<(String, String), (u64, u64)>;

/// The versions table, for writing: every insert and removal keeps the usage totals in step.
/// Reads go through [`Deref`] (the table itself); writes only through its methods.
pub(crate) struct VersionsMut<'tx> {
    versions: Versions<'tx>,
    usage: redb::Table<'tx, (&'static str, &'static str), (u64, u64)>,
    inline: redb::Table<'tx, &'static [u8], &'static [u8]>,
}

impl<'tx> Deref for VersionsMut<'tx> {
    type Target = Versions<'tx>;
    fn deref(&self) -> &Self::Target {
        &self.versions
    }
}

fn class_of(rec: &VersionRecord) -> &'static str {
    rec.storage_class.name()
}

impl<'tx> VersionsMut<'tx> {
    /// Opens both tables in `tx`.
    ///
    /// # Errors
    /// Database errors.
    pub(crate) fn open(tx: &'tx WriteTransaction) -> Result<Self, StoreError> {
        Ok(Self {
            versions: tx.open_table(VERSIONS)?,
            usage: tx.open_table(USAGE)?,
            inline: tx.open_table(INLINE)?,
        })
    }

    /// The table, for functions that read it.
    pub(crate) fn table(&self) -> &Versions<'tx> {
        &self.versions
    }

    /// Inserts (or replaces) the version at `table_key`.
    ///
    /// # Errors
    /// Database errors, a replaced record that does not decode.
    pub(crate) fn insert(
        &mut self,
        table_key: &[u8],
        rec: &VersionRecord,
    ) -> Result<(), StoreError> {
        let old = self
            .versions
            .insert(table_key, record::encode(rec).as_slice())?
            .map(|g| record::decode::<VersionRecord>(g.value()))
            .transpose()?;
        let bucket = bucket_of(table_key);
        if let Some(old) = old {
            self.adjust(bucket, &old, false)?;
            self.drop_inline(&old, Some(rec))?;
        }
        self.adjust(bucket, rec, true)
    }

    /// Removes the version at `table_key`; returns it.
    ///
    /// # Errors
    /// Database errors, a record that does not decode.
    pub(crate) fn remove(&mut self, table_key: &[u8]) -> Result<Option<VersionRecord>, StoreError> {
        let old = self
            .versions
            .remove(table_key)?
            .map(|g| record::decode::<VersionRecord>(g.value()))
            .transpose()?;
        if let Some(old) = &old {
            self.adjust(bucket_of(table_key), old, false)?;
            self.drop_inline(old, None)?;
        }
        Ok(old)
    }

    /// Removes the inline data of `old`'s segments that `new` (the record replacing it, if
    /// any) does not reference any more.
    fn drop_inline(
        &mut self,
        old: &VersionRecord,
        new: Option<&VersionRecord>,
    ) -> Result<(), StoreError> {
        for s in old.segments.iter().filter(|s| s.inline) {
            let kept = new.is_some_and(|n| n.segments.iter().any(|k| k.inline && k.file == s.file));
            if !kept {
                self.inline.remove(s.file.to_bytes().as_slice())?;
            }
        }
        Ok(())
    }

    fn adjust(&mut self, bucket: &str, rec: &VersionRecord, add: bool) -> Result<(), StoreError> {
        if rec.delete_marker {
            return Ok(());
        }
        let class = class_of(rec);
        let (bytes, objects) = self
            .usage
            .get((bucket, class))?
            .map_or((0, 0), |g| g.value());
        let next = if add {
            (bytes.saturating_add(rec.size), objects.saturating_add(1))
        } else {
            (bytes.saturating_sub(rec.size), objects.saturating_sub(1))
        };
        if next == (0, 0) {
            self.usage.remove((bucket, class))?;
        } else {
            self.usage.insert((bucket, class), next)?;
        }
        Ok(())
    }
}

/// Every bucket's usage by class, counted from the versions table of `tx` (what the running
/// totals must equal).
fn count(
    versions: &impl redb::ReadableTable<&'static [u8], &'static [u8]>,
) -> Result<Totals, StoreError> {
    let mut out = Totals::new();
    for entry in versions.iter()? {
        let (k, v) = entry?;
        let rec: VersionRecord = record::decode(v.value())?;
        if rec.delete_marker {
            continue;
        }
        let u = out
            .entry((bucket_of(k.value()).to_string(), class_of(&rec).to_string()))
            .or_default();
        u.0 += rec.size;
        u.1 += 1;
    }
    Ok(out)
}

impl Store {
    /// Every bucket's storage by storage class: the running totals (no version is read).
    /// Buckets without objects are listed with no classes.
    ///
    /// # Errors
    /// Database errors.
    pub fn storage_usage(
        &self,
    ) -> Result<BTreeMap<String, BTreeMap<String, ClassUsage>>, StoreError> {
        let tx = self.db.begin_read()?;
        let mut out: BTreeMap<String, BTreeMap<String, ClassUsage>> = BTreeMap::new();
        for rec in tx.open_table(BUCKETS)?.iter()? {
            out.insert(rec?.0.value().to_string(), BTreeMap::new());
        }
        let usage = match tx.open_table(USAGE) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(out),
            Err(e) => return Err(e.into()),
        };
        for entry in usage.iter()? {
            let (k, v) = entry?;
            let (bucket, class) = k.value();
            let (bytes, objects) = v.value();
            out.entry(bucket.to_string())
                .or_default()
                .insert(class.to_string(), ClassUsage { bytes, objects });
        }
        Ok(out)
    }

    /// Counts the totals again from every version and replaces them (at open, for a data
    /// directory written before they existed; by hand to repair). Returns whether they had to
    /// change.
    ///
    /// # Errors
    /// Database errors, a record that does not decode.
    pub fn recount_usage(&self) -> Result<bool, StoreError> {
        let tx = self.db.begin_write()?;
        let changed = {
            let counted = count(&tx.open_table(VERSIONS)?)?;
            let mut usage = tx.open_table(USAGE)?;
            let mut kept = BTreeMap::new();
            for entry in usage.iter()? {
                let (k, v) = entry?;
                let (b, c) = k.value();
                kept.insert((b.to_string(), c.to_string()), v.value());
            }
            let changed = kept != counted;
            if changed {
                usage.retain(|_, _| false)?;
                for ((b, c), v) in &counted {
                    usage.insert((b.as_str(), c.as_str()), *v)?;
                }
            }
            tx.open_table(META)?.insert(COUNTED, 1)?;
            changed
        };
        tx.commit()?;
        Ok(changed)
    }

    /// Counts the totals at open when they have never been counted.
    pub(super) fn count_usage_once(&self) -> Result<(), StoreError> {
        let tx = self.db.begin_read()?;
        let counted = tx.open_table(META)?.get(COUNTED)?.is_some();
        drop(tx);
        if !counted && self.recount_usage()? {
            tracing::info!("counted the storage usage totals of every bucket");
        }
        Ok(())
    }
}

#[cfg(test)]
pub(super) fn counted_now(store: &Store) -> Totals {
    let tx = store.db.begin_read().unwrap();
    count(&tx.open_table(VERSIONS).unwrap()).unwrap()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::StorageClass;
    use crate::db::LifecycleAction;
    use crate::record::{BucketRecord, VersioningState};
    use crate::write::NewVersion;

    fn bucket(store: &Store, name: &str, versioning: VersioningState) {
        store
            .create_bucket(&BucketRecord {
                name: name.into(),
                created_ms: 0,
                region: "us-east-1".into(),
                versioning,
                documents: BTreeMap::new(),
            })
            .unwrap();
    }

    fn put(store: &Store, b: &str, key: &str, len: usize, class: StorageClass) -> String {
        let mut w = store.writer().unwrap();
        w.write(&vec![7u8; len]).unwrap();
        let new = NewVersion {
            key: key.into(),
            etag: "e".into(),
            storage_class: class,
            ..NewVersion::default()
        };
        store
            .commit_version(b, new, w.seal().unwrap(), None)
            .unwrap()
            .version
            .version_id
    }

    /// The totals, as the walk counts them.
    fn totals(store: &Store) -> Totals {
        let mut out = Totals::new();
        for (b, classes) in store.storage_usage().unwrap() {
            for (c, u) in classes {
                out.insert((b.clone(), c), (u.bytes, u.objects));
            }
        }
        out
    }

    fn same(store: &Store, step: &str) {
        assert_eq!(totals(store), counted_now(store), "after {step}");
    }

    #[test]
    fn the_running_totals_equal_a_count_after_every_kind_of_change() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), None).unwrap();
        bucket(&store, "v", VersioningState::Enabled);
        bucket(&store, "u", VersioningState::Unversioned);
        let a1 = put(&store, "v", "a", 100, StorageClass::Standard);
        let a2 = put(&store, "v", "a", 50, StorageClass::default());
        same(&store, "two versions");
        assert_eq!(totals(&store)[&("v".into(), "STANDARD".into())], (150, 2));
        put(&store, "u", "x", 10, StorageClass::Standard);
        put(&store, "u", "x", 30, StorageClass::Standard);
        same(&store, "the null version replaced");
        assert_eq!(totals(&store)[&("u".into(), "STANDARD".into())], (30, 1));
        store.delete_object("v", "a", None).unwrap();
        same(&store, "a delete marker");
        store
            .update_version("v", "a", Some(&a1), |r| {
                r.storage_class = StorageClass::Glacier;
                Ok(())
            })
            .unwrap();
        same(&store, "a class changed in place");
        store
            .apply_lifecycle(
                vec![
                    LifecycleAction::Transition {
                        bucket: "v".into(),
                        key: "a".into(),
                        version_id: a2.clone(),
                        from: StorageClass::Standard,
                        to: StorageClass::StandardIa,
                    },
                    LifecycleAction::DeleteNoncurrent {
                        bucket: "v".into(),
                        key: "a".into(),
                        version_id: a1,
                    },
                ],
                |_| (Vec::new(), ()),
            )
            .unwrap();
        same(&store, "a lifecycle transition and a noncurrent deletion");
        assert_eq!(totals(&store)[&("v".into(), "STANDARD_IA".into())], (50, 1));
        store.delete_object("v", "a", Some(&a2)).unwrap();
        store.delete_object("u", "x", None).unwrap();
        same(&store, "every object deleted");
        assert!(totals(&store).is_empty(), "{:?}", totals(&store));
        assert_eq!(
            store.storage_usage().unwrap().len(),
            2,
            "buckets are listed, empty"
        );
    }

    #[test]
    fn a_data_directory_without_totals_is_counted_at_open_and_a_recount_repairs_them() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), None).unwrap();
            bucket(&store, "v", VersioningState::Enabled);
            put(&store, "v", "a", 100, StorageClass::Standard);
            put(&store, "v", "b", 20, StorageClass::Glacier);
            // As written before the totals existed: no table, no mark.
            let tx = store.db.begin_write().unwrap();
            tx.delete_table(USAGE).unwrap();
            tx.open_table(META).unwrap().remove(COUNTED).unwrap();
            tx.commit().unwrap();
            assert!(totals(&store).is_empty());
        }
        let store = Store::open(dir.path(), None).unwrap();
        same(&store, "the count at open");
        assert_eq!(totals(&store).len(), 2);
        // Damaged by hand: a recount puts them right and says so.
        {
            let tx = store.db.begin_write().unwrap();
            tx.open_table(USAGE)
                .unwrap()
                .insert(("v", "STANDARD"), (1, 1))
                .unwrap();
            tx.commit().unwrap();
        }
        assert!(store.recount_usage().unwrap());
        same(&store, "a recount");
        assert!(!store.recount_usage().unwrap(), "nothing to repair");
    }
}
