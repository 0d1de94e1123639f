//! Master-key rotation: replaces the master key without rewriting object data, online (while
//! `leadshop serve` runs) or offline.
//!
//! `leadshop kms rotate-master` writes the new key to `<master>.next` (0600, fsynced); while
//! that file exists a rotation is unfinished. Then, in the server (which watches for the file)
//! or in the CLI (when no server holds the data directory):
//! 1. the new key is installed as current: new data keys and secrets are wrapped by it, while
//!    the old key stays loaded for reading;
//! 2. every data key under the old key is re-wrapped, in batches that share group commits with
//!    ongoing writes ([`Store::rewrap_to_current`]);
//! 3. access-key secrets (keys.json) and keyring keys (kms.json) are re-sealed, under their
//!    files' locks;
//! 4. the old key is copied to `<master>.retired-<id>` (backups taken before the rotation need
//!    it), `<master>.next` is renamed over `<master>`, and a report goes to
//!    `<data-dir>/rotation.json`.
//!
//! Every step is idempotent and every envelope is always under the old or the new key, both
//! loaded while `.next` exists: a crash anywhere is finished by the next start of the server
//! (or a rerun of the command).

use std::path::{Path, PathBuf};
use std::time::Duration;

use leadshop_store::{MasterKeys, REWRAP_BATCH, Rewrapped, Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::access_keys::{self as keys, KeyPaths};
use crate::master_key;

/// Where a data directory's master key and rotation report are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locations {
    /// The data directory (keys.json, kms.json, the metadata).
    pub data_dir: PathBuf,
    /// The master key file (`<data-dir>/master.key` unless configured elsewhere).
    pub master_key: PathBuf,
}

impl Locations {
    /// The locations of a data directory, with its master key file where configured.
    #[must_use]
    pub fn new(data_dir: &Path, master_key_file: Option<&Path>) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
            master_key: master_key_file
                .map_or_else(|| data_dir.join("master.key"), Path::to_path_buf),
        }
    }

    /// Where the last rotation's report is written.
    #[must_use]
    pub fn report(&self) -> PathBuf {
        self.data_dir.join("rotation.json")
    }
}

/// What a rotation did (also written to `<data-dir>/rotation.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// Whether a running server did it.
    pub online: bool,
    /// When it finished (ms since the epoch).
    pub finished_ms: i64,
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
    /// The metadata database could not be opened.
    #[error("opening the metadata in {path}: {source}")]
    Store {
        /// Data directory.
        path: PathBuf,
        /// Cause.
        source: StoreError,
    },
    /// Re-wrapping failed.
    #[error("re-wrapping data keys: {0}")]
    Rewrap(StoreError),
    /// Re-sealing key secrets failed.
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    /// The running server has not finished within the wait.
    #[error(
        "the running server has not finished the rotation to {new_id} within {waited:?}; it goes on in the background (rerun the command to wait again, or see the server's log)"
    )]
    Pending {
        /// The new key's id.
        new_id: String,
        /// How long the command waited.
        waited: Duration,
    },
}

pub(crate) fn io(context: String) -> impl FnOnce(std::io::Error) -> RotateError {
    move |source| RotateError::Io { context, source }
}

/// Rotates (or finishes rotating) the master key of a data directory. When a server holds
/// the directory, the rotation is handed to it and this waits up to `wait` for its report.
///
/// # Errors
/// [`RotateError`]; rerunning after fixing the cause completes the rotation.
pub fn rotate_master(loc: &Locations, wait: Duration) -> Result<Rotation, RotateError> {
    rotate_master_with(loc, wait, &mut |_| {})
}

/// Where a rotation is, for a progress line.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// Data keys re-wrapped so far (this command does the work: no server holds the data).
    Rewrapping(Rewrapped),
    /// A running server does the work; this long has been waited for its report.
    WaitingForServer(Duration),
}

/// [`rotate_master`], telling `progress` where it is.
///
/// # Errors
/// As [`rotate_master`].
pub fn rotate_master_with(
    loc: &Locations,
    wait: Duration,
    progress: &mut dyn FnMut(Step),
) -> Result<Rotation, RotateError> {
    let path = loc.master_key.clone();
    let next = master_key::next_path(&path);
    let old = master_key::load(&path).map_err(io(format!("loading {}", path.display())))?;
    let masters = MasterKeys::new(old);
    // Open the metadata first: if a server holds it, the server does the work.
    let store = match Store::open(&loc.data_dir, Some(masters.clone())) {
        Ok(store) => store,
        Err(e) if e.is_held_elsewhere() => return hand_to_server(loc, &next, wait, progress),
        Err(source) => {
            return Err(RotateError::Store {
                path: loc.data_dir.clone(),
                source,
            });
        }
    };
    let resumed = next.exists();
    let new = if resumed {
        master_key::load(&next).map_err(io(format!("loading {}", next.display())))?
    } else {
        master_key::create(&next).map_err(io(format!("writing {}", next.display())))?
    };
    let next_text = std::fs::read(&next).map_err(io(format!("reading {}", next.display())))?;
    masters.install(new);
    finish(
        loc,
        &store,
        &masters,
        &next_text,
        resumed,
        false,
        &mut |r| progress(Step::Rewrapping(r)),
    )
}

/// Writes `.next` (unless a rotation is already pending) and waits for the server's report.
fn hand_to_server(
    loc: &Locations,
    next: &Path,
    wait: Duration,
    progress: &mut dyn FnMut(Step),
) -> Result<Rotation, RotateError> {
    let resumed = next.exists();
    let new = if resumed {
        master_key::load(next).map_err(io(format!("loading {}", next.display())))?
    } else {
        master_key::create(next).map_err(io(format!("writing {}", next.display())))?
    };
    let started = std::time::Instant::now();
    loop {
        if !next.exists()
            && let Some(r) = read_report(loc).filter(|r| r.new_id == new.id)
        {
            return Ok(r);
        }
        if started.elapsed() >= wait {
            return Err(RotateError::Pending {
                new_id: new.id,
                waited: wait,
            });
        }
        progress(Step::WaitingForServer(started.elapsed()));
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The last rotation's report, if any.
#[must_use]
pub fn read_report(loc: &Locations) -> Option<Rotation> {
    let text = std::fs::read_to_string(loc.report()).ok()?;
    serde_json::from_str(&text).ok()
}

/// Steps 2–4, once the new key is current in `masters` (which still holds the old one).
/// `next_text` is the new key file's contents: it becomes the master key file even if
/// `.next` vanished meanwhile.
///
/// `on_batch` is told the data keys re-wrapped so far, after every commit (a progress line).
///
/// # Errors
/// [`RotateError`]; running it again finishes the rotation.
pub fn finish(
    loc: &Locations,
    store: &Store,
    masters: &MasterKeys,
    next_text: &[u8],
    resumed: bool,
    online: bool,
    on_batch: &mut dyn FnMut(Rewrapped),
) -> Result<Rotation, RotateError> {
    let path = loc.master_key.clone();
    let next = master_key::next_path(&path);
    let new_id = masters.current().id.clone();
    let data_keys = store
        .rewrap_to_current_with(REWRAP_BATCH, on_batch)
        .map_err(RotateError::Rewrap)?;
    let secrets = keys::reseal(&KeyPaths::new(&loc.data_dir), masters)?;
    let kms_keys = crate::keyring::reseal(&crate::keyring::KmsPaths::new(&loc.data_dir), masters)
        .map_err(|e| RotateError::Io {
        context: "re-sealing the SSE-KMS keyring".into(),
        source: std::io::Error::other(e.to_string()),
    })?;

    crate::replication_keys::reseal(&loc.data_dir, masters).map_err(|e| RotateError::Io {
        context: "re-sealing the replication destinations' keys".into(),
        source: std::io::Error::other(e.to_string()),
    })?;

    let old = master_key::load(&path).map_err(io(format!("loading {}", path.display())))?;
    let retired = path.with_file_name(format!(
        "{}.retired-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        old.id
    ));
    if old.id != new_id {
        let old_text = std::fs::read(&path).map_err(io(format!("reading {}", path.display())))?;
        crate::secret_file::write(&retired, &old_text)
            .map_err(io(format!("writing {}", retired.display())))?;
    }
    let rotation = Rotation {
        old_id: old.id,
        new_id,
        data_keys,
        secrets,
        kms_keys,
        retired,
        resumed,
        online,
        finished_ms: leadshop_store::Clock::now_ms(&leadshop_store::SystemClock),
    };
    // The report first: once `.next` is gone, a waiting command finds it.
    let report = serde_json::to_string_pretty(&rotation).expect("serialisable");
    crate::secret_file::write(&loc.report(), report.as_bytes())
        .map_err(io(format!("writing {}", loc.report().display())))?;
    match std::fs::rename(&next, &path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Someone removed `.next` during the rotation: everything is under the new key
            // now, so it must become the master key all the same.
            tracing::warn!(path = %next.display(), "the new master key file vanished during the rotation; writing it to the master key file");
            crate::secret_file::write(&path, next_text)
                .map_err(io(format!("writing {}", path.display())))?;
        }
        Err(e) => {
            return Err(io(format!(
                "renaming {} to {}",
                next.display(),
                path.display()
            ))(e));
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(format!("syncing {}", dir.display())))?;
    }
    Ok(rotation)
}
