//! Access keys: each an access key id, a secret and an identity policy (IAM JSON).
//!
//! The key store is `<data-dir>/keys.json` (0600). Secrets in it are sealed under the master
//! key (AES-256-GCM, bound to the access key id), never stored or logged in the clear.
//! `<data-dir>/credentials` is the *client* side: an AWS shared-credentials file with the
//! profiles of keys made here, so `AWS_SHARED_CREDENTIALS_FILE` and `leadshop env` can use
//! them. The server never reads it (except once, to adopt keys from a data directory made
//! before keys.json existed); deleting it revokes nothing.
//!
//! `leadshop keys create|list|delete|rotate` change keys.json while the server runs: writers
//! take `<data-dir>/keys.lock`, write a new file and rename it into place; the server notices
//! the new file (its identity changes) at the next request and reloads it.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use leadshop_spec::credentials::{parse_profiles, render_profiles};
use leadshop_spec::policy::Policy;
use leadshop_store::crypto;
use leadshop_store::{MasterKey, MasterKeys};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::master_key::MasterSource;
use crate::record_file::{FileError, RecordFile};
use crate::secret_file;

/// The admin key's identity policy: every S3 action.
pub const ADMIN_POLICY: &str = include_str!("../../../config/iam/admin-policy.json");
/// The application key's identity policy: objects in and listing of `leadshop-assets`, nothing
/// else.
pub const APP_POLICY: &str = include_str!("../../../config/iam/app-policy.json");

/// The profiles bootstrap creates, with their identity policies.
pub const BOOTSTRAP_KEYS: [(&str, &str); 2] = [("admin", ADMIN_POLICY), ("app", APP_POLICY)];

const FORMAT: u32 = 1;

/// One access key as the server uses it: secret opened, policy parsed.
#[derive(Clone)]
pub struct Identity {
    /// Key name; the IAM user name (`aws:username`).
    pub name: String,
    /// Access key id (`AKIA…`).
    pub access_key_id: String,
    /// Stable user id (`aws:userid`), kept across rotations.
    pub user_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// The identity policy.
    pub policy: Arc<Policy>,
    /// Whether the policy tests `s3:ExistingObjectTag/…` (the object's tags are then looked
    /// up for each request it governs).
    pub reads_object_tags: bool,
}

impl Identity {
    /// The key's IAM user ARN in `account_id` (`aws:PrincipalArn`, policy principals).
    #[must_use]
    pub fn arn(&self, account_id: &str) -> String {
        format!("arn:aws:iam::{account_id}:user/{}", self.name)
    }
}

impl std::fmt::Debug for Identity {
    // Never print secrets, not even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("name", &self.name)
            .field("access_key_id", &self.access_key_id)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// One entry of keys.json.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyRecord {
    /// Key name (unique).
    pub name: String,
    /// Access key id.
    pub access_key_id: String,
    /// Stable user id.
    pub user_id: String,
    /// Which master key sealed the secret (`mk-…`).
    pub master_key_id: String,
    /// The secret, sealed: hex of nonce ‖ ciphertext ‖ tag.
    pub sealed_secret: String,
    /// The identity policy, as given.
    pub policy: serde_json::Value,
    /// When the key (or its current secret) was made, ms since the epoch.
    pub created_ms: i64,
}

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// File-system trouble.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Cause.
        source: io::Error,
    },
    /// keys.json is damaged or was sealed under another master key.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The identity policy was refused.
    #[error("identity policy: {0}")]
    Policy(String),
    /// No key of that name.
    #[error("no key named {0:?} (see `leadshop keys list`)")]
    NoSuchKey(String),
    /// The name is taken or not allowed.
    #[error("{0}")]
    BadName(String),
}

impl From<FileError> for KeyError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::Io { context, source } => Self::Io { context, source },
            FileError::Invalid { path, message } => Self::Invalid { path, message },
        }
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> KeyError {
    let context = context.into();
    move |source| KeyError::Io { context, source }
}

/// Parses and checks an identity policy.
///
/// # Errors
/// [`KeyError::Policy`] naming the problem.
pub fn parse_identity_policy(text: &str) -> Result<Policy, KeyError> {
    let p = Policy::parse(text).map_err(|e| KeyError::Policy(e.to_string()))?;
    p.check_identity_policy()
        .map_err(|e| KeyError::Policy(e.to_string()))?;
    Ok(p)
}

fn random_chars(n: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

const ID_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A new access key id (20 characters, as AWS issues them).
fn new_access_key_id() -> String {
    format!("AKIA{}", random_chars(16, ID_CHARS))
}

/// A new secret (40 characters, as AWS issues them).
fn new_secret() -> String {
    random_chars(
        40,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    )
}

fn check_name(name: &str) -> Result<(), KeyError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(KeyError::BadName(format!(
            "invalid key name {name:?}: 1-64 characters of A-Z a-z 0-9 +=,.@_-"
        )))
    }
}

fn seal(master: &MasterKey, access_key_id: &str, secret: &str) -> Result<String, KeyError> {
    crypto::seal_secret(&master.key, access_key_id, secret.as_bytes())
        .map(hex::encode)
        .map_err(|e| KeyError::Policy(format!("sealing the secret: {e}")))
}

fn open(masters: &MasterKeys, path: &Path, rec: &KeyRecord) -> Result<Identity, KeyError> {
    let invalid = |message: String| KeyError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let Some(master) = masters.get(&rec.master_key_id) else {
        return Err(invalid(format!(
            "key {:?} is sealed under master key {}, but the master key in use is {}",
            rec.name,
            rec.master_key_id,
            masters.current().id
        )));
    };
    let sealed = hex::decode(&rec.sealed_secret)
        .map_err(|_| invalid(format!("key {:?}: sealed_secret is not hex", rec.name)))?;
    let secret = crypto::open_secret(&master.key, &rec.access_key_id, &sealed)
        .ok()
        .and_then(|s| String::from_utf8(s).ok())
        .ok_or_else(|| invalid(format!("key {:?}: the secret does not open", rec.name)))?;
    let policy = parse_identity_policy(&rec.policy.to_string())
        .map_err(|e| invalid(format!("key {:?}: {e}", rec.name)))?;
    Ok(Identity {
        name: rec.name.clone(),
        access_key_id: rec.access_key_id.clone(),
        user_id: rec.user_id.clone(),
        secret_access_key: secret,
        reads_object_tags: policy.uses_condition_key(leadshop_spec::policy::EXISTING_OBJECT_TAG),
        policy: Arc::new(policy),
    })
}

/// The key files of one data directory.
#[derive(Debug, Clone)]
pub struct KeyPaths {
    /// `keys.json`.
    pub keys: PathBuf,
    /// `keys.lock`.
    pub lock: PathBuf,
    /// `credentials` (client profiles).
    pub credentials: PathBuf,
}

impl KeyPaths {
    /// The paths under `data_dir`.
    #[must_use]
    pub fn new(data_dir: &Path) -> Self {
        Self {
            keys: data_dir.join("keys.json"),
            lock: data_dir.join("keys.lock"),
            credentials: data_dir.join("credentials"),
        }
    }

    /// keys.json as a record file.
    #[must_use]
    pub fn file(&self) -> RecordFile {
        RecordFile {
            path: self.keys.clone(),
            lock: self.lock.clone(),
            format: FORMAT,
        }
    }
}

/// Changes keys.json under its lock. `change` gets the records and returns a value.
fn modify<T>(
    paths: &KeyPaths,
    change: impl FnOnce(&mut Vec<KeyRecord>) -> Result<T, KeyError>,
) -> Result<T, KeyError> {
    paths.file().modify(change)
}

/// The master keys to seal with, read from `source` (call it under keys.lock).
fn sealing_keys(source: &MasterSource) -> Result<MasterKeys, KeyError> {
    source
        .keys()
        .map_err(io_err("loading the master key to seal the secret with"))
}

fn record(
    master: &MasterKey,
    name: &str,
    user_id: String,
    access_key_id: String,
    secret: &str,
    policy: serde_json::Value,
) -> Result<KeyRecord, KeyError> {
    Ok(KeyRecord {
        name: name.to_string(),
        sealed_secret: seal(master, &access_key_id, secret)?,
        access_key_id,
        user_id,
        master_key_id: master.id.clone(),
        policy,
        created_ms: leadshop_store::Clock::now_ms(&leadshop_store::SystemClock),
    })
}

fn policy_value(text: &str) -> Result<serde_json::Value, KeyError> {
    parse_identity_policy(text)?;
    serde_json::from_str(text).map_err(|e| KeyError::Policy(e.to_string()))
}

/// Creates a key with an identity policy and adds its profile to the credentials file.
///
/// # Errors
/// [`KeyError`]: a taken or bad name, a refused policy, I/O.
pub fn create(
    paths: &KeyPaths,
    master: &MasterSource,
    name: &str,
    policy_text: &str,
) -> Result<Identity, KeyError> {
    check_name(name)?;
    let policy = policy_value(policy_text)?;
    let identity = modify(paths, |records| {
        if records.iter().any(|r| r.name == name) {
            return Err(KeyError::BadName(format!("a key named {name:?} exists")));
        }
        // Read under the lock: a master-key rotation re-seals under the same lock.
        let masters = sealing_keys(master)?;
        let user_id = format!("AIDA{}", random_chars(17, ID_CHARS));
        let rec = record(
            &masters.current(),
            name,
            user_id,
            new_access_key_id(),
            &new_secret(),
            policy,
        )?;
        let identity = open(&masters, &paths.keys, &rec)?;
        records.push(rec);
        Ok(identity)
    })?;
    update_profile(paths, name, Some(&identity))?;
    Ok(identity)
}

/// Replaces a key's id and secret (its name, user id and policy stay); the old pair stops
/// working at once.
///
/// # Errors
/// [`KeyError::NoSuchKey`], I/O.
pub fn rotate(paths: &KeyPaths, master: &MasterSource, name: &str) -> Result<Identity, KeyError> {
    let identity = modify(paths, |records| {
        let r = records
            .iter_mut()
            .find(|r| r.name == name)
            .ok_or_else(|| KeyError::NoSuchKey(name.into()))?;
        let masters = sealing_keys(master)?;
        *r = record(
            &masters.current(),
            name,
            r.user_id.clone(),
            new_access_key_id(),
            &new_secret(),
            r.policy.clone(),
        )?;
        open(&masters, &paths.keys, r)
    })?;
    update_profile(paths, name, Some(&identity))?;
    Ok(identity)
}

/// Deletes a key and its profile.
///
/// # Errors
/// [`KeyError::NoSuchKey`], I/O.
pub fn delete(paths: &KeyPaths, name: &str) -> Result<(), KeyError> {
    modify(paths, |records| {
        let before = records.len();
        records.retain(|r| r.name != name);
        if records.len() == before {
            return Err(KeyError::NoSuchKey(name.into()));
        }
        Ok(())
    })?;
    update_profile(paths, name, None)
}

/// Replaces a key's identity policy.
///
/// # Errors
/// [`KeyError::NoSuchKey`], a refused policy, I/O.
pub fn set_policy(paths: &KeyPaths, name: &str, policy_text: &str) -> Result<(), KeyError> {
    let policy = policy_value(policy_text)?;
    modify(paths, |records| {
        let r = records
            .iter_mut()
            .find(|r| r.name == name)
            .ok_or_else(|| KeyError::NoSuchKey(name.into()))?;
        r.policy = policy;
        Ok(())
    })
}

/// Re-seals every secret not sealed under the current master key with it (master-key
/// rotation); secrets already under it are left alone, so an interrupted rotation can run
/// again.
///
/// # Errors
/// A secret under a key `masters` does not hold, or one that does not open; I/O.
pub fn reseal(paths: &KeyPaths, masters: &MasterKeys) -> Result<usize, KeyError> {
    if !paths.keys.exists() {
        return Ok(0);
    }
    let new = masters.current();
    modify(paths, |records| {
        let mut n = 0;
        for r in records.iter_mut().filter(|r| r.master_key_id != new.id) {
            let identity = open(masters, &paths.keys, r)?;
            r.sealed_secret = seal(&new, &r.access_key_id, &identity.secret_access_key)?;
            r.master_key_id.clone_from(&new.id);
            n += 1;
        }
        Ok(n)
    })
}

/// The keys, without secrets.
///
/// # Errors
/// I/O or a damaged file.
pub fn list(paths: &KeyPaths) -> Result<Vec<KeyRecord>, KeyError> {
    Ok(paths.file().read()?)
}

/// Opens every key of keys.json: what `leadshop env` and the server use.
///
/// # Errors
/// I/O, a damaged file, or a secret sealed under another master key.
pub fn load(paths: &KeyPaths, master: &MasterKeys) -> Result<Vec<Identity>, KeyError> {
    list(paths)?
        .iter()
        .map(|r| open(master, &paths.keys, r))
        .collect()
}

/// Sets (or removes) one profile of the credentials file, keeping the others.
fn update_profile(paths: &KeyPaths, name: &str, key: Option<&Identity>) -> Result<(), KeyError> {
    let path = &paths.credentials;
    let mut profiles = if path.exists() {
        let text =
            std::fs::read_to_string(path).map_err(io_err(format!("reading {}", path.display())))?;
        parse_profiles(&text).map_err(|message| KeyError::Invalid {
            path: path.clone(),
            message,
        })?
    } else {
        Vec::new()
    };
    profiles.retain(|p| p.0 != name);
    if let Some(k) = key {
        profiles.push((
            name.to_string(),
            k.access_key_id.clone(),
            k.secret_access_key.clone(),
        ));
    }
    secret_file::write(path, render_profiles(&profiles).as_bytes())
        .map_err(io_err(format!("writing {}", path.display())))
}

/// Makes keys.json at first start: the admin and app keys with their policies. A data
/// directory from before keys.json existed keeps the ids and secrets of its credentials file.
///
/// # Errors
/// I/O, or a damaged credentials file.
pub fn bootstrap(paths: &KeyPaths, master: &MasterSource) -> Result<(), KeyError> {
    if paths.keys.exists() {
        return Ok(());
    }
    let file = paths.file();
    let _guard = file.lock()?;
    if paths.keys.exists() {
        return Ok(());
    }
    let masters = sealing_keys(master)?;
    let existing = if paths.credentials.exists() {
        let text = std::fs::read_to_string(&paths.credentials)
            .map_err(io_err(format!("reading {}", paths.credentials.display())))?;
        parse_profiles(&text).map_err(|message| KeyError::Invalid {
            path: paths.credentials.clone(),
            message,
        })?
    } else {
        Vec::new()
    };
    let mut records = Vec::new();
    for (name, policy) in BOOTSTRAP_KEYS {
        let (id, secret) = existing.iter().find(|p| p.0 == name).map_or_else(
            || (new_access_key_id(), new_secret()),
            |p| (p.1.clone(), p.2.clone()),
        );
        let user_id = format!("AIDA{}", random_chars(17, ID_CHARS));
        records.push(record(
            &masters.current(),
            name,
            user_id,
            id,
            &secret,
            policy_value(policy)?,
        )?);
    }
    let identities: Vec<Identity> = records
        .iter()
        .map(|r| open(&masters, &paths.keys, r))
        .collect::<Result<_, _>>()?;
    file.write(&records)?;
    for i in &identities {
        update_profile(paths, &i.name, Some(i))?;
    }
    tracing::info!(path = %paths.keys.display(), "created the admin and app access keys");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadshop_store::crypto::Key;

    fn master() -> MasterKeys {
        MasterKeys::new(MasterKey {
            id: "mk-test".into(),
            key: Key::generate().unwrap(),
        })
    }

    #[test]
    fn keys_are_sealed_reloaded_rotated_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let m = master();
        let store = crate::key_store::KeyStore::open(dir.path(), m.clone()).unwrap();
        let m = MasterSource::Held(m);
        let app = store.by_name("app").unwrap();
        let paths = KeyPaths::new(dir.path());
        let on_disk = std::fs::read_to_string(&paths.keys).unwrap();
        assert!(
            !on_disk.contains(&app.secret_access_key),
            "secret stored in the clear"
        );
        assert!(!format!("{app:?}").contains(&app.secret_access_key));
        let creds = std::fs::read_to_string(&paths.credentials).unwrap();
        assert!(creds.contains(&app.secret_access_key) && creds.contains("[admin]"));

        let ci = create(&paths, &m, "ci", APP_POLICY).unwrap();
        assert_eq!(store.by_id(&ci.access_key_id).unwrap().name, "ci");
        assert!(
            create(&paths, &m, "ci", APP_POLICY).is_err(),
            "names are unique"
        );
        assert!(matches!(
            create(
                &paths,
                &m,
                "x",
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}"#
            ),
            Err(KeyError::Policy(_))
        ));
        let rotated = rotate(&paths, &m, "ci").unwrap();
        assert!(store.by_id(&ci.access_key_id).is_none(), "old id revoked");
        assert_eq!(
            store.by_id(&rotated.access_key_id).unwrap().user_id,
            ci.user_id
        );
        delete(&paths, "ci").unwrap();
        assert!(store.by_name("ci").is_none());
        assert!(
            !std::fs::read_to_string(&paths.credentials)
                .unwrap()
                .contains("[ci]")
        );

        // Another master key cannot open the secrets.
        let Err(KeyError::Invalid { message, .. }) = load(&paths, &master()) else {
            panic!("secrets opened under another master key");
        };
        assert!(
            message.contains("master key") || message.contains("open"),
            "{message}"
        );
    }

    #[test]
    fn a_credentials_file_from_before_keys_json_is_adopted() {
        let dir = tempfile::tempdir().unwrap();
        let paths = KeyPaths::new(dir.path());
        let old = render_profiles(&[("app".into(), "AKIAOLD".into(), "oldsecret".into())]);
        secret_file::write(&paths.credentials, old.as_bytes()).unwrap();
        let store = crate::key_store::KeyStore::open(dir.path(), master()).unwrap();
        assert_eq!(
            store.by_id("AKIAOLD").unwrap().secret_access_key,
            "oldsecret"
        );
        assert!(store.by_name("admin").is_some());
    }
}
