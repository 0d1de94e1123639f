//! The access keys the replication worker signs with at destinations that are not this server:
//! `<data-dir>/replication-keys.json` (0600), one record per destination name, the secret sealed
//! under the master key like every other secret, bound to the destination's name.
//!
//! `leadshop replication credentials set|remove|list` change the file (under
//! `replication-keys.lock`, atomic replace); the worker reads it at each delivery round, so a
//! key set or replaced while the server runs is used from the next round. Master-key rotation
//! re-seals it.

use std::path::{Path, PathBuf};

use leadshop_store::MasterKeys;
use leadshop_store::crypto;
use serde::{Deserialize, Serialize};

use crate::master_key::MasterSource;
use crate::record_file::{FileError, RecordFile};

const FORMAT: u32 = 1;

/// One destination's key as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredKey {
    /// The destination's name (`[replication.destinations.<name>]`).
    pub destination: String,
    /// Access key id.
    pub access_key_id: String,
    /// The master key that sealed the secret.
    pub master_key_id: String,
    /// The secret access key sealed under the master key (hex), bound to the destination.
    pub sealed_secret: String,
}

/// A destination's key, opened. Not `Debug`: secrets never reach logs.
#[derive(Clone)]
pub struct DestinationKey {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
}

/// Why the file could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum ReplicationKeyError {
    /// I/O, a damaged file, or a secret that does not open.
    #[error("{0}")]
    File(String),
    /// No key for that destination.
    #[error("no key is stored for replication destination {0:?}")]
    NotFound(String),
}

impl From<FileError> for ReplicationKeyError {
    fn from(e: FileError) -> Self {
        Self::File(match e {
            FileError::Io { context, source } => format!("{context}: {source}"),
            FileError::Invalid { path, message } => format!("{}: {message}", path.display()),
        })
    }
}

/// The file of a data directory.
#[must_use]
pub fn record_file(data_dir: &Path) -> RecordFile {
    RecordFile {
        path: data_dir.join("replication-keys.json"),
        lock: data_dir.join("replication-keys.lock"),
        format: FORMAT,
    }
}

fn context(destination: &str) -> String {
    format!("replication-destination:{destination}")
}

/// Stores (or replaces) the key of `destination`.
///
/// # Errors
/// The master key cannot be read; I/O.
pub fn set(
    data_dir: &Path,
    master: &MasterSource,
    destination: &str,
    access_key_id: &str,
    secret_access_key: &str,
) -> Result<(), ReplicationKeyError> {
    record_file(data_dir).modify(|keys: &mut Vec<StoredKey>| {
        // Read under the lock: a master-key rotation re-seals under the same lock.
        let master = master
            .keys()
            .map_err(|e| ReplicationKeyError::File(format!("loading the master key: {e}")))?
            .current();
        let sealed = crypto::seal_secret(
            &master.key,
            &context(destination),
            secret_access_key.as_bytes(),
        )
        .map_err(|e| ReplicationKeyError::File(e.to_string()))?;
        keys.retain(|k| k.destination != destination);
        keys.push(StoredKey {
            destination: destination.to_string(),
            access_key_id: access_key_id.to_string(),
            master_key_id: master.id.clone(),
            sealed_secret: hex::encode(sealed),
        });
        keys.sort_by(|a, b| a.destination.cmp(&b.destination));
        Ok(())
    })
}

/// Removes the key of `destination`.
///
/// # Errors
/// [`ReplicationKeyError::NotFound`]; I/O.
pub fn remove(data_dir: &Path, destination: &str) -> Result<(), ReplicationKeyError> {
    record_file(data_dir).modify(|keys: &mut Vec<StoredKey>| {
        let before = keys.len();
        keys.retain(|k| k.destination != destination);
        if keys.len() == before {
            return Err(ReplicationKeyError::NotFound(destination.into()));
        }
        Ok(())
    })
}

/// The stored keys (never their secrets).
///
/// # Errors
/// I/O or a damaged file.
pub fn list(data_dir: &Path) -> Result<Vec<StoredKey>, ReplicationKeyError> {
    Ok(record_file(data_dir).read()?)
}

fn open(
    masters: &MasterKeys,
    path: &Path,
    k: &StoredKey,
) -> Result<DestinationKey, ReplicationKeyError> {
    let invalid = |m: String| ReplicationKeyError::File(format!("{}: {m}", path.display()));
    let master = masters.get(&k.master_key_id).ok_or_else(|| {
        invalid(format!(
            "the key of {} is sealed under master key {}, which this server does not hold",
            k.destination, k.master_key_id
        ))
    })?;
    let sealed =
        hex::decode(&k.sealed_secret).map_err(|_| invalid("sealed_secret is not hex".into()))?;
    let secret = crypto::open_secret(&master.key, &context(&k.destination), &sealed)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| invalid(format!("the key of {} does not open", k.destination)))?;
    Ok(DestinationKey {
        access_key_id: k.access_key_id.clone(),
        secret_access_key: secret,
    })
}

/// The opened key of `destination`.
///
/// # Errors
/// [`ReplicationKeyError::NotFound`], a secret that does not open, I/O.
pub fn get(
    data_dir: &Path,
    masters: &MasterKeys,
    destination: &str,
) -> Result<DestinationKey, ReplicationKeyError> {
    let file = record_file(data_dir);
    let keys: Vec<StoredKey> = file.read()?;
    let k = keys
        .iter()
        .find(|k| k.destination == destination)
        .ok_or_else(|| ReplicationKeyError::NotFound(destination.into()))?;
    open(masters, &file.path, k)
}

/// Re-seals secrets not sealed under the current master key (master-key rotation).
///
/// # Errors
/// A secret under a key `masters` does not hold, or that does not open; I/O.
pub fn reseal(data_dir: &Path, masters: &MasterKeys) -> Result<usize, ReplicationKeyError> {
    let file = record_file(data_dir);
    if !file.path.exists() {
        return Ok(0);
    }
    let path: PathBuf = file.path.clone();
    let new = masters.current();
    file.modify(|keys: &mut Vec<StoredKey>| {
        let mut n = 0;
        for k in keys.iter_mut().filter(|k| k.master_key_id != new.id) {
            let opened = open(masters, &path, k)?;
            let sealed = crypto::seal_secret(
                &new.key,
                &context(&k.destination),
                opened.secret_access_key.as_bytes(),
            )
            .map_err(|e| ReplicationKeyError::File(e.to_string()))?;
            k.sealed_secret = hex::encode(sealed);
            k.master_key_id.clone_from(&new.id);
            n += 1;
        }
        Ok(n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_stored_sealed_opened_and_resealed() {
        let dir = tempfile::tempdir().unwrap();
        let masters = MasterKeys::new(leadshop_store::MasterKey {
            id: "mk-test".into(),
            key: crypto::Key::generate().unwrap(),
        });
        let source = MasterSource::Held(masters.clone());
        set(
            dir.path(),
            &source,
            "backup",
            "AKIAEXAMPLE",
            "s3cret/with+chars",
        )
        .unwrap();
        let text = std::fs::read_to_string(dir.path().join("replication-keys.json")).unwrap();
        assert!(!text.contains("s3cret"), "the secret is sealed: {text}");
        let k = get(dir.path(), &masters, "backup").unwrap();
        assert_eq!(k.access_key_id, "AKIAEXAMPLE");
        assert_eq!(k.secret_access_key, "s3cret/with+chars");
        assert!(matches!(
            get(dir.path(), &masters, "other"),
            Err(ReplicationKeyError::NotFound(_))
        ));
        // A record moved to another destination's name does not open (bound to its name).
        let mut keys = list(dir.path()).unwrap();
        keys[0].destination = "stolen".into();
        record_file(dir.path()).write(&keys).unwrap();
        assert!(get(dir.path(), &masters, "stolen").is_err());
        remove(dir.path(), "stolen").unwrap();
        assert!(list(dir.path()).unwrap().is_empty());
        assert_eq!(reseal(dir.path(), &masters).unwrap(), 0);
    }
}
