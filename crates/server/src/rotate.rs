//! `leadshop kms rotate-master`: replaces the master key without rewriting object data.
//!
//! Steps, each safe to crash after, and the whole idempotent:
//! 1. the new key is written to `<master>.next` (0600, fsynced) — or, if that file exists, an
//!    interrupted rotation is resumed with it; the server refuses to start while it exists;
//! 2. every data key under the old key is re-wrapped in one metadata transaction;
//! 3. access-key secrets in keys.json and keyring keys in kms.json are re-sealed (atomic file
//!    replaces);
//! 4. the old key is copied to `<master>.retired-<id>` (backups taken before the rotation
//!    need it), then `<master>.next` is renamed over `<master>`.
//!
//! The server must be stopped (the metadata database is opened exclusively).

use std::path::PathBuf;

use leadshop_store::{Rewrapped, Store};

use crate::config::Config;
use crate::keys::{self, KeyPaths};
use crate::master_key;

/// What a rotation did.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// The old key's id.
    pub old_id: String,
    /// The new key's id.
    pub new_id: String,
    /// Data keys re-wrapped, and those already done or not under the master key.
    pub data_keys: Rewrapped,
    /// Access-key secrets re-sealed.
    pub secrets: usize,
    /// Keyring (SSE-KMS) keys re-sealed.
    pub kms_keys: usize,
    /// Where the old key was kept.
    pub retired: PathBuf,
    /// Whether an interrupted rotation was resumed.
    pub resumed: bool,
}

/// Why a rotation failed (nothing unreadable is left behind: rerun it).
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    /// File-system trouble with a key file.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The metadata database (often: the server is still running).
    #[error("opening the metadata in {path}: {source} (stop `leadshop serve` first)")]
    Store {
        /// Data directory.
        path: PathBuf,
        /// Cause.
        source: leadshop_store::StoreError,
    },
    /// Re-wrapping failed.
    #[error("re-wrapping data keys: {0}")]
    Rewrap(leadshop_store::StoreError),
    /// Re-sealing key secrets failed.
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> RotateError {
    move |source| RotateError::Io { context, source }
}

/// The master key file a configuration uses.
#[must_use]
pub fn master_path(config: &Config) -> PathBuf {
    config
        .master_key_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join("master.key"))
}

/// Rotates (or finishes rotating) the master key of a stopped server's data directory.
///
/// # Errors
/// [`RotateError`]; rerunning after fixing the cause completes the rotation.
pub fn rotate_master(config: &Config) -> Result<Rotation, RotateError> {
    let path = master_path(config);
    let next = master_key::next_path(&path);
    let old = master_key::load(&path).map_err(io(format!("loading {}", path.display())))?;
    // Open the metadata first: if the server still runs this fails, before anything is written.
    let store =
        Store::open(&config.data_dir, Some(old.clone())).map_err(|source| RotateError::Store {
            path: config.data_dir.clone(),
            source,
        })?;
    let resumed = next.exists();
    let new = if resumed {
        master_key::load(&next).map_err(io(format!("loading {}", next.display())))?
    } else {
        master_key::create(&next).map_err(io(format!("writing {}", next.display())))?
    };
    let data_keys = store
        .rewrap_master(&old, &new)
        .map_err(RotateError::Rewrap)?;
    drop(store);
    let secrets = keys::reseal(&KeyPaths::new(&config.data_dir), &old, &new)?;
    let kms_keys = crate::kms::reseal(&crate::kms::KmsPaths::new(&config.data_dir), &old, &new)
        .map_err(|e| RotateError::Io {
            context: "re-sealing the SSE-KMS keyring".into(),
            source: std::io::Error::other(e.to_string()),
        })?;

    let retired = path.with_file_name(format!(
        "{}.retired-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        old.id
    ));
    let old_text = std::fs::read(&path).map_err(io(format!("reading {}", path.display())))?;
    crate::secret_file::write(&retired, &old_text)
        .map_err(io(format!("writing {}", retired.display())))?;
    std::fs::rename(&next, &path).map_err(io(format!(
        "renaming {} to {}",
        next.display(),
        path.display()
    )))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(format!("syncing {}", dir.display())))?;
    }
    Ok(Rotation {
        old_id: old.id,
        new_id: new.id,
        data_keys,
        secrets,
        kms_keys,
        retired,
        resumed,
    })
}
