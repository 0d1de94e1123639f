//! Online backup of the engine ([`Store::backup_to`]): one read transaction is the point in
//! time; its tables are copied into a fresh database, and every data file its records
//! reference is copied beside it, while writes go on. Removals of data files wait until the
//! copy is done ([`DataDirs::hold_removals`](crate::data)), so none of those files can vanish
//! under it; a data file never changes once written, so its copy is the file the snapshot
//! knows. The copy holds data files as they are on disk: encrypted, useless without the
//! master key (and keyring) they are wrapped with, which the caller keeps apart.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::Path;

use redb::{
    Key, ReadTransaction, ReadableDatabase as _, ReadableTable as _, TableHandle as _, Value,
};
use serde::{Deserialize, Serialize};

use super::{
    BUCKETS, INLINE, META, PARTS, UPLOADS, VERSIONS,
    datapoints::DATAPOINTS,
    lifecycle::LIFECYCLE,
    replication::{REPLICATION_BACKFILL, REPLICATION_FAILED, REPLICATION_QUEUE},
    usage::USAGE,
};
use crate::record::{self, Envelope, PartRecord, SseAlgorithm, VersionRecord};
use crate::{Store, StoreError};

/// Every table of the metadata database. A table that is not here makes a backup fail
/// rather than leave it out (the test `every_table_is_backed_up` keeps this list whole).
pub(super) const TABLES: [&str; 12] = [
    "meta",
    "replication_queue",
    "replication_failed",
    "replication_backfill",
    "buckets",
    "versions",
    "uploads",
    "parts",
    "lifecycle",
    "datapoints",
    "usage",
    "inline",
];

/// Name of the metadata database in a data directory and in a backup.
pub const METADATA_FILE: &str = "meta.redb";

/// One file of a backup: its path relative to the backup, size and SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupFile {
    /// Relative path (`/`-separated).
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the contents, lower-case hex.
    pub sha256: String,
}

/// What [`Store::backup_to`] copied.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EngineBackup {
    /// The metadata database and every data file.
    pub files: Vec<BackupFile>,
    /// Buckets in the snapshot.
    pub buckets: u64,
    /// Object versions in it, delete markers included.
    pub versions: u64,
    /// Parts of multipart uploads in progress.
    pub parts: u64,
    /// Master keys (ids) that wrap data keys in it (SSE-S3).
    pub master_keys: BTreeSet<String>,
    /// Keyring keys (ids) that wrap data keys in it (SSE-KMS).
    pub kms_keys: BTreeSet<String>,
}

impl Store {
    /// Copies a consistent snapshot of the metadata and every data file it references into
    /// `dest` (which must not hold a metadata database yet), while writes go on.
    ///
    /// # Errors
    /// The destination cannot be written, a data file cannot be read, or the database holds a
    /// table this build does not know how to back up.
    pub fn backup_to(&self, dest: &Path) -> Result<EngineBackup, StoreError> {
        let _hold = self.dirs.hold_removals();
        let tx = self.db.begin_read()?;
        for table in tx.list_tables()? {
            if !TABLES.contains(&table.name()) {
                return Err(StoreError::Corrupt(format!(
                    "the metadata holds a table {:?} this build cannot back up",
                    table.name()
                )));
            }
        }
        crate::data::private_dir(dest)?;
        let meta_path = dest.join(METADATA_FILE);
        if meta_path.exists() {
            return Err(StoreError::Io(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists: a backup goes to a new directory",
                    meta_path.display()
                ),
            )));
        }
        let mut out = EngineBackup::default();
        {
            let copy = redb::Database::create(&meta_path)?;
            let w = copy.begin_write()?;
            copy_table(&tx, &w, META)?;
            out.buckets = copy_table(&tx, &w, BUCKETS)?;
            copy_table(&tx, &w, VERSIONS)?;
            copy_table(&tx, &w, UPLOADS)?;
            copy_table(&tx, &w, PARTS)?;
            copy_table(&tx, &w, LIFECYCLE)?;
            copy_table(&tx, &w, DATAPOINTS)?;
            copy_table(&tx, &w, USAGE)?;
            copy_table(&tx, &w, INLINE)?;
            copy_table(&tx, &w, REPLICATION_QUEUE)?;
            copy_table(&tx, &w, REPLICATION_FAILED)?;
            copy_table(&tx, &w, REPLICATION_BACKFILL)?;
            w.commit()?;
        }
        set_private(&meta_path)?;
        let (bytes, sha256) = hash_file(&meta_path)?;
        out.files.push(BackupFile {
            path: METADATA_FILE.into(),
            bytes,
            sha256,
        });
        let mut files = Vec::new();
        for entry in tx.open_table(VERSIONS)?.iter()? {
            let rec: VersionRecord = record::decode(entry?.1.value())?;
            out.versions += 1;
            for s in &rec.segments {
                note_key(&mut out, s.envelope.as_ref());
                // Inline data is in the metadata copied above.
                if !s.inline {
                    files.push(s.file);
                }
            }
        }
        for entry in tx.open_table(PARTS)?.iter()? {
            let rec: PartRecord = record::decode(entry?.1.value())?;
            out.parts += 1;
            note_key(&mut out, rec.envelope.as_ref());
            files.push(rec.file);
        }
        drop(tx);
        files.sort_unstable();
        files.dedup();
        for id in files {
            let name = id.to_string();
            let rel = format!("objects/{}/{name}", &name[..2]);
            let (bytes, sha256) = copy_file(&self.dirs.path(id), &dest.join(&rel))?;
            out.files.push(BackupFile {
                path: rel,
                bytes,
                sha256,
            });
        }
        sync_dir(dest)?;
        Ok(out)
    }
}

fn note_key(out: &mut EngineBackup, envelope: Option<&Envelope>) {
    let Some(e) = envelope else { return };
    match e.algorithm {
        SseAlgorithm::S3 => {
            out.master_keys.insert(e.key_id.clone());
        }
        SseAlgorithm::Kms | SseAlgorithm::KmsDsse => {
            out.kms_keys.insert(e.key_id.clone());
        }
        SseAlgorithm::Customer => {}
    }
}

pub(super) fn copy_table<K: Key + 'static, V: Value + 'static>(
    from: &ReadTransaction,
    to: &redb::WriteTransaction,
    def: redb::TableDefinition<K, V>,
) -> Result<u64, StoreError> {
    let src = match from.open_table(def) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut dst = to.open_table(def)?;
    let mut n = 0;
    for entry in src.iter()? {
        let (k, v) = entry?;
        dst.insert(k.value(), v.value())?;
        n += 1;
    }
    Ok(n)
}

#[cfg(unix)]
fn set_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

/// Flushes a directory's entries to disk.
///
/// # Errors
/// It cannot be opened or synced.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Size and SHA-256 (hex) of a file.
///
/// # Errors
/// It cannot be read.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    copy_hashed(File::open(path)?, None)
}

/// Copies `from` to a new file `to` (0600; its directory made 0700 if missing), fsynced;
/// returns its size and SHA-256 (hex).
///
/// # Errors
/// `from` cannot be read, or `to` exists or cannot be written.
pub fn copy_file(from: &Path, to: &Path) -> std::io::Result<(u64, String)> {
    // The source first: one that is gone leaves nothing behind at `to`.
    let src = File::open(from)?;
    if let Some(dir) = to.parent() {
        crate::data::private_dir(dir)?;
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(to)?;
    let out = copy_hashed(src, Some(&mut file))?;
    file.sync_all()?;
    Ok(out)
}

fn copy_hashed(mut src: File, mut to: Option<&mut File>) -> std::io::Result<(u64, String)> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 256 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
        if let Some(f) = to.as_deref_mut() {
            f.write_all(&buf[..n])?;
        }
        bytes += n as u64;
    }
    Ok((bytes, hex::encode(ctx.finish())))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::record::{BucketRecord, VersioningState};
    use crate::write::NewVersion;

    fn put(store: &Store, key: &str, body: &[u8]) -> String {
        let mut w = store.writer().unwrap();
        w.write(body).unwrap();
        let sealed = w.seal().unwrap();
        let new = NewVersion {
            key: key.into(),
            etag: "e".into(),
            storage_class: crate::StorageClass::Standard,
            ..NewVersion::default()
        };
        store
            .commit_version("b", new, sealed, None)
            .unwrap()
            .version
            .version_id
    }

    #[test]
    fn every_table_in_the_source_is_backed_up() {
        // Every table the crate defines (TableDefinition::new with a name) is in TABLES.
        let mut found = Vec::new();
        let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for part in text.split("TableDefinition::new(\"").skip(1) {
                    found.push(part.split('"').next().unwrap().to_string());
                }
            }
        }
        found.sort();
        let mut tables: Vec<String> = TABLES.iter().map(|t| (*t).to_string()).collect();
        tables.sort();
        assert_eq!(found, tables);
    }

    #[test]
    fn a_backup_is_the_snapshot_and_its_files_even_when_they_are_deleted_during_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data"), None).unwrap();
        store
            .create_bucket(&BucketRecord {
                name: "b".into(),
                created_ms: 0,
                region: "us-east-1".into(),
                versioning: VersioningState::Enabled,
                documents: BTreeMap::new(),
            })
            .unwrap();
        let v1 = put(&store, "k", b"one");
        let v1_file = store.get_version("b", "k", Some(&v1)).unwrap().segments[0].file;
        // Removals wait while a backup holds them (as `backup_to` does while it copies).
        let hold = store.dirs.hold_removals();
        let v2 = put(&store, "k", b"two");
        store.delete_object("b", "k", Some(&v1)).unwrap();
        assert!(store.dirs.path(v1_file).exists(), "held back");
        let dest = dir.path().join("backup");
        let out = store.backup_to(&dest).unwrap();
        drop(hold);
        assert!(
            !store.dirs.path(v1_file).exists(),
            "removed once the hold is gone"
        );
        assert_eq!((out.buckets, out.versions), (1, 1));
        assert_eq!(out.files.len(), 2, "the database and v2's file");
        for f in &out.files {
            assert_eq!(
                hash_file(&dest.join(&f.path)).unwrap(),
                (f.bytes, f.sha256.clone())
            );
        }
        assert!(
            store.backup_to(&dest).is_err(),
            "never over an earlier backup"
        );
        // The copy opens as a store, with the version and its bytes.
        drop(store);
        let copy = Store::open(&dest, None).unwrap();
        let got = copy.get_version("b", "k", None).unwrap();
        assert_eq!(got.version_id, v2);
        assert_eq!(
            copy.read_segment(&got.segments[0], None, 0, 3).unwrap(),
            b"two"
        );
    }
}
