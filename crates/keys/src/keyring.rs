//! The local keyring for SSE-KMS: named 256-bit keys, each sealed under the master key in
//! `<data-dir>/kms.json` (0600), with aliases and an enabled flag.
//!
//! `leadshop kms create-key|list-keys|disable-key|enable-key` change the file while the server
//! runs (under `kms.lock`, atomic replace); the server reloads it when it changes, so a disabled
//! key stops reads and writes of its objects at the next request (KMS.DisabledException) until
//! it is enabled again. Keys are never deleted here: a deleted key would make its objects
//! unreadable forever. Master-key rotation re-seals the keyring.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use leadshop_store::MasterKeys;
use leadshop_store::crypto::{self, Key};
use serde::{Deserialize, Serialize};

use crate::master_key::MasterSource;
use crate::record_file::{FileError, RecordFile};
use crate::snapshot::Snapshot;

const FORMAT: u32 = 1;

/// One keyring key as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KmsRecord {
    /// Key id (a UUID, as AWS KMS ids look).
    pub key_id: String,
    /// Aliases without the `alias/` prefix.
    pub aliases: Vec<String>,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Disabled keys neither encrypt nor decrypt.
    pub enabled: bool,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
    /// The master key that sealed the key material.
    pub master_key_id: String,
    /// Key material sealed under the master key (hex), bound to the key id.
    pub sealed_key: String,
}

/// Keyring errors, in the words of AWS KMS where a client sees them.
#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    /// No key with that id, alias or ARN.
    #[error("Invalid keyId {0}")]
    NotFound(String),
    /// The key is disabled.
    #[error("{0} is disabled.")]
    Disabled(String),
    /// An alias is taken or malformed.
    #[error("{0}")]
    BadAlias(String),
    /// The file is damaged or sealed under another master key.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// I/O.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Cause.
        source: io::Error,
    },
}

impl From<FileError> for KmsError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::Io { context, source } => Self::Io { context, source },
            FileError::Invalid { path, message } => Self::Invalid { path, message },
        }
    }
}

fn io_err(context: String) -> impl FnOnce(io::Error) -> KmsError {
    move |source| KmsError::Io { context, source }
}

/// The keyring files of a data directory.
#[derive(Debug, Clone)]
pub struct KmsPaths {
    /// `kms.json`.
    pub file: PathBuf,
    /// `kms.lock`.
    pub lock: PathBuf,
}

impl KmsPaths {
    /// The paths under `data_dir`.
    #[must_use]
    pub fn new(data_dir: &Path) -> Self {
        Self {
            file: data_dir.join("kms.json"),
            lock: data_dir.join("kms.lock"),
        }
    }

    /// kms.json as a record file.
    #[must_use]
    pub fn record_file(&self) -> RecordFile {
        RecordFile {
            path: self.file.clone(),
            lock: self.lock.clone(),
            format: FORMAT,
        }
    }
}

/// The ARN of a key, as SSEKMSKeyId reports it.
#[must_use]
pub fn key_arn(region: &str, account: &str, key_id: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:key/{key_id}")
}

fn read(paths: &KmsPaths) -> Result<Vec<KmsRecord>, KmsError> {
    Ok(paths.record_file().read()?)
}

fn modify<T>(
    paths: &KmsPaths,
    change: impl FnOnce(&mut Vec<KmsRecord>) -> Result<T, KmsError>,
) -> Result<T, KmsError> {
    paths.record_file().modify(change)
}

fn position(keys: &[KmsRecord], wanted: &str) -> Option<usize> {
    let id = normalise(wanted);
    keys.iter().position(|k| match &id {
        Wanted::Id(i) => k.key_id == *i,
        Wanted::Alias(a) => k.aliases.iter().any(|x| x == a),
    })
}

enum Wanted {
    Id(String),
    Alias(String),
}

/// `1234abcd-…`, `arn:aws:kms:…:key/1234abcd-…`, `alias/name`, `arn:aws:kms:…:alias/name`.
fn normalise(wanted: &str) -> Wanted {
    let tail = wanted
        .strip_prefix("arn:")
        .and_then(|r| r.rsplit_once(':'))
        .map_or(wanted, |(_, t)| t);
    if let Some(a) = tail.strip_prefix("alias/") {
        Wanted::Alias(a.to_string())
    } else {
        Wanted::Id(tail.strip_prefix("key/").unwrap_or(tail).to_string())
    }
}

/// Creates a key, optionally with an alias.
///
/// # Errors
/// A taken or malformed alias; I/O.
pub fn create_key(
    paths: &KmsPaths,
    master: &MasterSource,
    alias: Option<&str>,
    description: &str,
) -> Result<KmsRecord, KmsError> {
    let alias = alias.map(|a| a.strip_prefix("alias/").unwrap_or(a).to_string());
    if let Some(a) = &alias {
        let ok = !a.is_empty()
            && a.len() <= 250
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c));
        if !ok {
            return Err(KmsError::BadAlias(format!(
                "invalid alias {a:?}: letters, digits, / _ -"
            )));
        }
    }
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    let key_id = format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    );
    let material: [u8; 32] = rand::random();
    modify(paths, |keys| {
        if let Some(a) = &alias
            && keys.iter().any(|k| k.aliases.contains(a))
        {
            return Err(KmsError::BadAlias(format!("alias/{a} already exists")));
        }
        // Read under the lock: a master-key rotation re-seals under the same lock.
        let master = master
            .keys()
            .map_err(io_err("loading the master key to seal the key with".into()))?
            .current();
        let sealed = crypto::seal_secret(&master.key, &key_id, &material).map_err(|e| {
            KmsError::Invalid {
                path: paths.file.clone(),
                message: e.to_string(),
            }
        })?;
        let rec = KmsRecord {
            key_id,
            aliases: alias.iter().cloned().collect(),
            description: description.to_string(),
            enabled: true,
            created_ms: leadshop_store::Clock::now_ms(&leadshop_store::SystemClock),
            master_key_id: master.id.clone(),
            sealed_key: hex::encode(sealed),
        };
        keys.push(rec.clone());
        Ok(rec)
    })
}

/// Enables or disables a key (by id, alias or ARN).
///
/// # Errors
/// [`KmsError::NotFound`]; I/O.
pub fn set_enabled(paths: &KmsPaths, wanted: &str, enabled: bool) -> Result<KmsRecord, KmsError> {
    modify(paths, |keys| {
        let i = position(keys, wanted).ok_or_else(|| KmsError::NotFound(wanted.into()))?;
        keys[i].enabled = enabled;
        Ok(keys[i].clone())
    })
}

/// The keys (never their material).
///
/// # Errors
/// I/O or a damaged file.
pub fn list(paths: &KmsPaths) -> Result<Vec<KmsRecord>, KmsError> {
    read(paths)
}

/// Re-seals key material not sealed under the current master key with it (master-key
/// rotation); what is already under it is left alone.
///
/// # Errors
/// Material under a key `masters` does not hold, or that does not open; I/O.
pub fn reseal(paths: &KmsPaths, masters: &MasterKeys) -> Result<usize, KmsError> {
    if !paths.file.exists() {
        return Ok(0);
    }
    let new = masters.current();
    modify(paths, |keys| {
        let mut n = 0;
        for k in keys.iter_mut().filter(|k| k.master_key_id != new.id) {
            let material = open(masters, &paths.file, k)?;
            let sealed = crypto::seal_secret(&new.key, &k.key_id, &material.0).map_err(|e| {
                KmsError::Invalid {
                    path: paths.file.clone(),
                    message: e.to_string(),
                }
            })?;
            k.sealed_key = hex::encode(sealed);
            k.master_key_id.clone_from(&new.id);
            n += 1;
        }
        Ok(n)
    })
}

/// Key material, opened. Not `Debug`: keys never reach logs.
pub struct Material([u8; 32]);

fn open(masters: &MasterKeys, path: &Path, k: &KmsRecord) -> Result<Material, KmsError> {
    let invalid = |message: String| KmsError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let Some(master) = masters.get(&k.master_key_id) else {
        return Err(invalid(format!(
            "key {} is sealed under master key {}, not {}",
            k.key_id,
            k.master_key_id,
            masters.current().id
        )));
    };
    let sealed = hex::decode(&k.sealed_key).map_err(|_| invalid("sealed_key is not hex".into()))?;
    let bytes = crypto::open_secret(&master.key, &k.key_id, &sealed)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| invalid(format!("key {} does not open", k.key_id)))?;
    Ok(Material(bytes))
}

/// A usable keyring key.
pub struct KmsKey {
    /// Key id.
    pub key_id: String,
    /// The key.
    pub key: Arc<Key>,
}

/// The keyring as the server uses it, reloaded when kms.json changes.
#[derive(Debug)]
pub struct Keyring {
    paths: KmsPaths,
    master: MasterKeys,
    current: Snapshot<Vec<KmsRecord>>,
}

impl Keyring {
    /// The keyring of a data directory (empty until a key is made).
    ///
    /// # Errors
    /// A damaged kms.json.
    pub fn open(data_dir: &Path, master: MasterKeys) -> Result<Self, KmsError> {
        let paths = KmsPaths::new(data_dir);
        let current = Snapshot::load(paths.file.clone(), "SSE-KMS keyring", || read(&paths))?;
        Ok(Self {
            current,
            paths,
            master,
        })
    }

    fn records(&self) -> Arc<Vec<KmsRecord>> {
        self.current.get(|| read(&self.paths))
    }

    /// The key for an id, alias or ARN, if it exists and is enabled.
    ///
    /// # Errors
    /// [`KmsError::NotFound`], [`KmsError::Disabled`], or a key that does not open.
    pub fn resolve(&self, wanted: &str) -> Result<KmsKey, KmsError> {
        let records = self.records();
        let k = position(&records, wanted)
            .map(|i| &records[i])
            .ok_or_else(|| KmsError::NotFound(wanted.into()))?;
        if !k.enabled {
            return Err(KmsError::Disabled(format!(
                "arn:aws:kms:::key/{}",
                k.key_id
            )));
        }
        let m = open(&self.master, &self.paths.file, k)?;
        Ok(KmsKey {
            key_id: k.key_id.clone(),
            key: Arc::new(Key::from_bytes(m.0)),
        })
    }

    /// Creates the AWS-managed-style default key `alias/aws/s3` if it does not exist, and
    /// returns it (used when a request asks for aws:kms without naming a key).
    ///
    /// # Errors
    /// As [`Keyring::resolve`], or I/O.
    pub fn default_key(&self) -> Result<KmsKey, KmsError> {
        match self.resolve("alias/aws/s3") {
            Err(KmsError::NotFound(_)) => {
                // Two requests may race here: the alias check under the lock keeps one key.
                match create_key(
                    &self.paths,
                    &MasterSource::Held(self.master.clone()),
                    Some("aws/s3"),
                    "default key for SSE-KMS",
                ) {
                    Ok(_) | Err(KmsError::BadAlias(_)) => self.resolve("alias/aws/s3"),
                    Err(e) => Err(e),
                }
            }
            other => other,
        }
    }
}
