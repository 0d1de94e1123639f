//! Backup and restore of a whole server: `leadshop backup` and `leadshop restore`.
//!
//! A backup is two directories, kept apart:
//! - the **data** (`BACKUP.json`, `meta.redb`, `objects/…`, the undelivered access-log
//!   segments, the budget alarm's state): a consistent snapshot of the metadata and every data
//!   file it references ([`Store::backup_to`]), taken while the server keeps serving. Data
//!   files stay as they are on disk, encrypted: without the keys they are noise.
//! - the **keys** (`KEYS.json`, `master.key`, `kms.json`, `keys.json`, `replication-keys.json`, `credentials`,
//!   `tls/`): everything secret. A thief of one directory reads nothing; both together are
//!   the server. The operator stores them in different places (another volume, a secret
//!   manager); the backup refuses to put one inside the other or inside the data directory.
//!
//! `BACKUP.json` is written last: a directory without it is an unfinished backup, which
//! [`restore`] refuses. Both manifests carry the size and SHA-256 of every file and the same
//! backup id; [`restore`] checks all of it before it writes anything.
//!
//! Consistency with keys: the backup refuses to start during an unfinished master-key rotation
//! and fails if one began before it ended (the master key it copies must be the one every
//! SSE-S3 envelope of the snapshot names). SSE-KMS keyring keys are never deleted, and
//! `kms.json` is copied after the snapshot, so every keyring key the snapshot needs is in it.
//!
//! Online, the CLI hands the backup to the server that holds the data directory
//! (`backup.request`, answered in `backup-report.json`, as a rotation is handed over); the
//! server closes its open access-log segments first, so their log objects get the same keys
//! in the restored server and are never delivered twice.

use std::path::{Component, Path, PathBuf};

use leadshop_keys::Locations;
use leadshop_keys::master_key;
use leadshop_store::{BackupFile, Store, StoreError, copy_file, hash_file, sync_dir};
use serde::{Deserialize, Serialize};

use crate::events::access_log::spool::Spool;

/// The data side's manifest, written last.
pub const MANIFEST: &str = "BACKUP.json";
/// The keys side's manifest.
pub const KEYS_MANIFEST: &str = "KEYS.json";
/// A backup asked of the running server.
pub const REQUEST_FILE: &str = "backup.request";
/// The running server's answer.
pub const REPORT_FILE: &str = "backup-report.json";
/// Format of both manifests.
const FORMAT: u32 = 1;

/// Files of a data directory that are state, copied with the data when present.
const STATE_FILES: [&str; 1] = ["budget-alarms.json"];
/// Secret files of a data directory, copied with the keys when present (the master key, which
/// may live elsewhere, is copied from where it is configured).
const KEY_FILES: [&str; 4] = [
    "kms.json",
    "keys.json",
    "credentials",
    "replication-keys.json",
];
/// The spool directory of access logs.
const SPOOL_DIR: &str = "access-logs";
/// The development CA and certificates (secret keys among them).
const TLS_DIR: &str = "tls";

/// Where a backup goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The data side.
    pub data: PathBuf,
    /// The keys side.
    pub keys: PathBuf,
}

/// The data side's manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format.
    pub format: u32,
    /// This backup's id (the keys side names it too).
    pub id: String,
    /// When the snapshot was taken (ms since the epoch).
    pub created_ms: i64,
    /// The leadshop that took it.
    pub leadshop_version: String,
    /// Taken by a running server (`true`) or from a stopped one.
    pub online: bool,
    /// Buckets, object versions (delete markers included), parts of unfinished uploads.
    pub buckets: u64,
    /// See `buckets`.
    pub versions: u64,
    /// See `buckets`.
    pub parts: u64,
    /// The master key the data needs (its id); it is in the keys side, not here.
    pub master_key_id: String,
    /// Keyring keys the data needs (SSE-KMS), in the keys side's `kms.json`.
    pub kms_keys: Vec<String>,
    /// What is where.
    pub keys: String,
    /// Every file of the data side, with its size and SHA-256.
    pub files: Vec<BackupFile>,
}

/// The keys side's manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeysManifest {
    /// Manifest format.
    pub format: u32,
    /// The backup these keys open.
    pub backup_id: String,
    /// The master key's id.
    pub master_key_id: String,
    /// Every file of the keys side, with its size and SHA-256.
    pub files: Vec<BackupFile>,
}

/// A backup asked of the running server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    /// Matches the report to the request.
    pub id: String,
    /// Where it goes.
    pub target: Target,
}

/// The running server's answer to a [`Request`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// The request's id.
    pub id: String,
    /// The backup's manifest, or why there is none.
    pub result: Result<Manifest, String>,
}

/// Why a backup or a restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Refused before anything was written (or what was written is not a backup).
    #[error("{0}")]
    Refused(String),
    /// File-system trouble.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The engine failed.
    #[error("copying the metadata and data files: {0}")]
    Store(#[from] StoreError),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let context = context.into();
    move |source| BackupError::Io { context, source }
}

fn refused(why: impl Into<String>) -> BackupError {
    BackupError::Refused(why.into())
}

/// `path` made absolute and free of `.`/`..`, without touching the file system (it may not
/// exist yet).
fn normalise(path: &Path) -> Result<PathBuf, BackupError> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(io("reading the current directory"))?
            .join(path)
    };
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    // Resolve symbolic links of the part that exists, so two spellings compare equal.
    let mut existing = out.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (
            existing.file_name().map(ToOwned::to_owned),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => return Ok(out),
        }
    }
    let mut real = existing
        .canonicalize()
        .map_err(io(format!("resolving {}", existing.display())))?;
    for name in rest.into_iter().rev() {
        real.push(name);
    }
    Ok(real)
}

/// Checks where a backup may go: two new (or empty) directories, neither inside the other
/// nor inside the data directory. Returns them normalised.
///
/// # Errors
/// [`BackupError::Refused`], naming the rule.
pub fn check_target(target: &Target, data_dir: &Path) -> Result<Target, BackupError> {
    let data = normalise(&target.data)?;
    let keys = normalise(&target.keys)?;
    let data_dir = normalise(data_dir)?;
    if data.starts_with(&keys) || keys.starts_with(&data) {
        return Err(refused(format!(
            "the keys ({}) and the data ({}) of a backup are kept apart: one directory may not hold the other (store the keys on another volume or in a secret manager)",
            keys.display(),
            data.display()
        )));
    }
    for (what, dir) in [("data", &data), ("keys", &keys)] {
        if dir.starts_with(&data_dir) || data_dir.starts_with(dir) {
            return Err(refused(format!(
                "the backup's {what} directory {} overlaps the data directory {}: a backup goes elsewhere",
                dir.display(),
                data_dir.display()
            )));
        }
        if !empty_or_missing(dir)? {
            return Err(refused(format!(
                "the backup's {what} directory {} is not empty: a backup goes to a new directory",
                dir.display()
            )));
        }
    }
    Ok(Target { data, keys })
}

fn empty_or_missing(dir: &Path) -> Result<bool, BackupError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(io(format!("reading {}", dir.display()))(e)),
    }
}

/// What a backup reads.
pub struct Source<'a> {
    /// The engine.
    pub store: &'a Store,
    /// The data directory and the master key file.
    pub locations: Locations,
    /// The running server's access-log spool (its open segments are closed first); `None`
    /// offline, where the spool's files are copied as they are.
    pub spool: Option<&'a Spool>,
    /// Now (ms since the epoch).
    pub now_ms: i64,
}

/// Takes a backup of `source` into `target` (see the module's notes).
///
/// # Errors
/// [`BackupError`]; what was written of a failed backup has no `BACKUP.json` and is refused
/// by [`restore`].
pub fn backup(source: &Source<'_>, target: &Target) -> Result<Manifest, BackupError> {
    let loc = &source.locations;
    let target = check_target(target, &loc.data_dir)?;
    let next = master_key::next_path(&loc.master_key);
    if next.exists() {
        return Err(refused(format!(
            "a master-key rotation is unfinished ({} exists): let it finish, then back up",
            next.display()
        )));
    }
    let master_text = std::fs::read(&loc.master_key)
        .map_err(io(format!("reading {}", loc.master_key.display())))?;
    let master = master_key::parse(&loc.master_key, &master_text)
        .map_err(io(format!("loading {}", loc.master_key.display())))?;
    let mut files = Vec::new();
    // The spool first: a segment delivered after this copy has its log object in the
    // snapshot or not, and is delivered again only when not (its key is fixed when closed).
    let spool_dir = loc.data_dir.join(SPOOL_DIR);
    if let Some(spool) = source.spool {
        spool.close_older(i64::MAX, source.now_ms);
    }
    if spool_dir.is_dir() {
        for entry in std::fs::read_dir(&spool_dir).map_err(io("reading the access-log spool"))? {
            let entry = entry.map_err(io("reading the access-log spool"))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(name.ends_with(".ready") || name.ends_with(".open")) {
                continue;
            }
            let rel = format!("{SPOOL_DIR}/{name}");
            match copy_file(&entry.path(), &target.data.join(&rel)) {
                Ok((bytes, sha256)) => files.push(BackupFile {
                    path: rel,
                    bytes,
                    sha256,
                }),
                // Delivered and removed meanwhile: its log object is in the snapshot.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(format!("copying {}", entry.path().display()))(e)),
            }
        }
    }
    let engine = source.store.backup_to(&target.data)?;
    if let Some(other) = engine.master_keys.iter().find(|id| **id != master.id) {
        return Err(refused(format!(
            "the snapshot holds data keys under master key {other}, not the current {}: a rotation ran during the backup; run it again",
            master.id
        )));
    }
    files.extend(engine.files);
    copy_named(&loc.data_dir, &target.data, &STATE_FILES, &mut files)?;
    // The keys, after the snapshot: every keyring key it needs exists by now.
    let mut key_files = Vec::new();
    let master_rel = "master.key";
    write_new(&target.keys.join(master_rel), &master_text)?;
    let (bytes, sha256) =
        hash_file(&target.keys.join(master_rel)).map_err(io("reading the copied master key"))?;
    key_files.push(BackupFile {
        path: master_rel.into(),
        bytes,
        sha256,
    });
    copy_named(&loc.data_dir, &target.keys, &KEY_FILES, &mut key_files)?;
    let tls = loc.data_dir.join(TLS_DIR);
    if tls.is_dir() {
        let names: Vec<String> = std::fs::read_dir(&tls)
            .map_err(io("reading tls/"))?
            .filter_map(Result::ok)
            .filter(|e| e.path().is_file())
            .map(|e| format!("{TLS_DIR}/{}", e.file_name().to_string_lossy()))
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        copy_named(&loc.data_dir, &target.keys, &names, &mut key_files)?;
    }
    // A rotation that began meanwhile would have left keys.json or kms.json under a key
    // this backup does not hold.
    let now_text = std::fs::read(&loc.master_key).unwrap_or_default();
    if next.exists() || now_text != master_text {
        return Err(refused(
            "a master-key rotation began during the backup: run it again once it has finished",
        ));
    }
    let id = format!(
        "{}-{}",
        source.now_ms,
        hex::encode(rand::random::<[u8; 4]>())
    );
    let keys_manifest = KeysManifest {
        format: FORMAT,
        backup_id: id.clone(),
        master_key_id: master.id.clone(),
        files: key_files,
    };
    write_json(&target.keys.join(KEYS_MANIFEST), &keys_manifest)?;
    let manifest = Manifest {
        format: FORMAT,
        id,
        created_ms: source.now_ms,
        leadshop_version: env!("CARGO_PKG_VERSION").into(),
        online: source.spool.is_some(),
        buckets: engine.buckets,
        versions: engine.versions,
        parts: engine.parts,
        master_key_id: master.id,
        kms_keys: engine.kms_keys.into_iter().collect(),
        keys: format!(
            "The keys are not here: master.key (without it nothing here can be read), kms.json, keys.json, credentials and tls/ were written to {} with KEYS.json naming this backup. Keep the two apart.",
            target.keys.display()
        ),
        files,
    };
    write_json(&target.data.join(MANIFEST), &manifest)?;
    Ok(manifest)
}

/// Copies the files `names` (relative paths) of `from` that exist into `to`.
fn copy_named(
    from: &Path,
    to: &Path,
    names: &[&str],
    out: &mut Vec<BackupFile>,
) -> Result<(), BackupError> {
    for name in names {
        let src = from.join(name);
        match copy_file(&src, &to.join(name)) {
            Ok((bytes, sha256)) => out.push(BackupFile {
                path: (*name).to_string(),
                bytes,
                sha256,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !src.exists() => {}
            Err(e) => return Err(io(format!("copying {}", src.display()))(e)),
        }
    }
    Ok(())
}

/// Writes a new file (0600, fsynced, its directory made 0700 and synced).
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::private_dir::create(dir).map_err(io(format!("creating {}", dir.display())))?;
    leadshop_keys::secret_file::write(path, bytes)
        .map_err(io(format!("writing {}", path.display())))?;
    sync_dir(dir).map_err(io(format!("syncing {}", dir.display())))
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), BackupError> {
    let mut text = serde_json::to_vec_pretty(value).expect("serialisable");
    text.push(b'\n');
    write_new(path, &text)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path, missing: &str) -> Result<T, BackupError> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(refused(missing)),
        Err(e) => return Err(io(format!("reading {}", path.display()))(e)),
    };
    serde_json::from_slice(&text)
        .map_err(|e| refused(format!("{} is not a backup manifest: {e}", path.display())))
}

/// Checks every file of a manifest under `root`: present, of its size and SHA-256.
fn verify(root: &Path, files: &[BackupFile]) -> Result<(), BackupError> {
    for f in files {
        let rel = Path::new(&f.path);
        if rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(refused(format!(
                "the manifest names a path outside the backup: {}",
                f.path
            )));
        }
        let got = hash_file(&root.join(rel)).map_err(io(format!(
            "reading {} of the backup",
            root.join(rel).display()
        )))?;
        if got != (f.bytes, f.sha256.clone()) {
            return Err(refused(format!(
                "{} of the backup is damaged: {} bytes with SHA-256 {}, the manifest says {} bytes with {}",
                root.join(rel).display(),
                got.0,
                got.1,
                f.bytes,
                f.sha256
            )));
        }
    }
    Ok(())
}

/// Restores a backup (its data and keys sides) into `data_dir`, a new or empty directory:
/// every file is checked against the manifests before anything is written, copied, and
/// checked again; then the metadata is opened with the restored master key.
///
/// # Errors
/// [`BackupError`]: an unfinished or damaged backup, keys of another backup, a data directory
/// that is not empty.
pub fn restore(from: &Target, data_dir: &Path) -> Result<Manifest, BackupError> {
    let manifest: Manifest = read_json(
        &from.data.join(MANIFEST),
        &format!(
            "{} has no {MANIFEST}: not a backup, or one that did not finish",
            from.data.display()
        ),
    )?;
    let keys: KeysManifest = read_json(
        &from.keys.join(KEYS_MANIFEST),
        &format!(
            "{} has no {KEYS_MANIFEST}: not the keys of a backup",
            from.keys.display()
        ),
    )?;
    if manifest.format != FORMAT || keys.format != FORMAT {
        return Err(refused(format!(
            "backup format {}/{} is not known to this build (expects {FORMAT})",
            manifest.format, keys.format
        )));
    }
    if keys.backup_id != manifest.id {
        return Err(refused(format!(
            "the keys in {} belong to backup {}, the data in {} is backup {}",
            from.keys.display(),
            keys.backup_id,
            from.data.display(),
            manifest.id
        )));
    }
    if !empty_or_missing(data_dir)? {
        return Err(refused(format!(
            "{} is not empty: a restore goes to a new data directory",
            data_dir.display()
        )));
    }
    verify(&from.data, &manifest.files)?;
    verify(&from.keys, &keys.files)?;
    let master_path = from.keys.join("master.key");
    let master =
        master_key::load(&master_path).map_err(io(format!("loading {}", master_path.display())))?;
    if master.id != manifest.master_key_id {
        return Err(refused(format!(
            "{} is master key {}, the data needs {}",
            master_path.display(),
            master.id,
            manifest.master_key_id
        )));
    }
    crate::private_dir::create(data_dir).map_err(io(format!("creating {}", data_dir.display())))?;
    for (root, files) in [(&from.data, &manifest.files), (&from.keys, &keys.files)] {
        for f in files {
            let got = copy_file(&root.join(&f.path), &data_dir.join(&f.path))
                .map_err(io(format!("copying {}", f.path)))?;
            if got != (f.bytes, f.sha256.clone()) {
                return Err(refused(format!("{} changed while it was restored", f.path)));
            }
        }
    }
    sync_dir(data_dir).map_err(io("syncing the data directory"))?;
    // The metadata opens, under the restored key.
    let store = Store::open(data_dir, Some(leadshop_store::MasterKeys::new(master)))?;
    drop(store);
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_kept_apart_from_each_other_and_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let data_dir = d.join("data");
        let t = |data: &str, keys: &str| Target {
            data: d.join(data),
            keys: d.join(keys),
        };
        assert!(check_target(&t("b", "k"), &data_dir).is_ok());
        for (data, keys) in [
            ("b", "b/keys"),
            ("b/data", "b"),
            ("b", "b"),
            ("data/b", "k"),
            ("b", "data/k"),
            ("b", "k/../b/x"),
        ] {
            let e = check_target(&t(data, keys), &data_dir).unwrap_err();
            assert!(matches!(e, BackupError::Refused(_)), "{data} {keys}: {e}");
        }
        std::fs::create_dir_all(d.join("full")).unwrap();
        std::fs::write(d.join("full/x"), b"x").unwrap();
        assert!(check_target(&t("full", "k"), &data_dir).is_err());
    }
}
