//! The one store behind `keys.json` and `kms.json`: a private JSON file of records
//! (`{"format": N, "keys": [...]}`), changed under an OS lock by any process (the server, the
//! CLI), written atomically; and the [`Snapshot`] a server holds of it, reloaded when the file
//! changes.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::secret_file;

/// Why a record file could not be read or written.
#[derive(Debug)]
pub enum FileError {
    /// File-system trouble.
    Io {
        /// What was being done.
        context: String,
        /// Cause.
        source: io::Error,
    },
    /// The file is damaged, or of another format version.
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn io_err(context: String) -> impl FnOnce(io::Error) -> FileError {
    move |source| FileError::Io { context, source }
}

#[derive(Deserialize)]
struct Contents<T> {
    format: u32,
    keys: Vec<T>,
}

#[derive(Serialize)]
struct ContentsRef<'a, T> {
    format: u32,
    keys: &'a [T],
}

/// A record file and its lock file.
#[derive(Debug, Clone)]
pub struct RecordFile {
    /// The records (0600).
    pub path: PathBuf,
    /// Held exclusively while a process changes the records.
    pub lock: PathBuf,
    /// The format version this build reads and writes.
    pub format: u32,
}

/// Holds a record file's lock; released when dropped.
pub struct WriteLock(#[allow(dead_code)] std::fs::File);

impl RecordFile {
    /// The records; none when the file does not exist.
    ///
    /// # Errors
    /// A file others can read, I/O, or a damaged file.
    pub fn read<T: DeserializeOwned>(&self) -> Result<Vec<T>, FileError> {
        let path = &self.path;
        if !path.exists() {
            return Ok(Vec::new());
        }
        secret_file::check_private(path).map_err(io_err(format!("checking {}", path.display())))?;
        let text =
            std::fs::read_to_string(path).map_err(io_err(format!("reading {}", path.display())))?;
        let file: Contents<T> = serde_json::from_str(&text).map_err(|e| FileError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if file.format != self.format {
            return Err(FileError::Invalid {
                path: path.clone(),
                message: format!(
                    "format {} is not supported (expected {})",
                    file.format, self.format
                ),
            });
        }
        Ok(file.keys)
    }

    /// Replaces the records (atomically, durably); call it holding [`RecordFile::lock`].
    ///
    /// # Errors
    /// I/O.
    pub fn write<T: Serialize>(&self, records: &[T]) -> Result<(), FileError> {
        let text = serde_json::to_string_pretty(&ContentsRef {
            format: self.format,
            keys: records,
        })
        .expect("serialisable");
        secret_file::write(&self.path, text.as_bytes())
            .map_err(io_err(format!("writing {}", self.path.display())))
    }

    /// Takes the exclusive lock (the lock file is created 0600), held until the guard drops.
    ///
    /// # Errors
    /// I/O.
    pub fn lock(&self) -> Result<WriteLock, FileError> {
        let mut options = std::fs::File::options();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options
            .open(&self.lock)
            .and_then(|f| f.lock().map(|()| f))
            .map_err(io_err(format!("locking {}", self.lock.display())))?;
        Ok(WriteLock(file))
    }

    /// Changes the records under the lock: reads them, lets `change` edit them, writes them.
    ///
    /// # Errors
    /// What `change` returns, or the file's errors.
    pub fn modify<T, R, E>(&self, change: impl FnOnce(&mut Vec<T>) -> Result<R, E>) -> Result<R, E>
    where
        T: Serialize + DeserializeOwned,
        E: From<FileError>,
    {
        let _guard = self.lock()?;
        let mut records = self.read()?;
        let out = change(&mut records)?;
        self.write(&records)?;
        Ok(out)
    }
}

/// What identifies one version of a file on disk (a rename makes a new inode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<std::time::SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: m.modified().ok(),
        len: m.len(),
        #[cfg(unix)]
        inode: std::os::unix::fs::MetadataExt::ino(&m),
    })
}

/// What a server has loaded from a file, reloaded when the file changes (checked by a `stat`
/// at each look, so a change made by another process applies to the next request). A file
/// that fails to load keeps the previous value in force, and is logged: a broken edit cannot
/// lock everyone out or let anyone in.
#[derive(Debug)]
pub struct Snapshot<T> {
    path: PathBuf,
    what: &'static str,
    current: RwLock<(Option<Stamp>, Arc<T>)>,
}

impl<T> Snapshot<T> {
    /// A snapshot of `path` holding `value` (just loaded from it); `what` names it in logs.
    #[must_use]
    pub fn new(path: PathBuf, what: &'static str, value: T) -> Self {
        let st = stamp(&path);
        Self {
            path,
            what,
            current: RwLock::new((st, Arc::new(value))),
        }
    }

    /// The value, reloaded with `load` first if the file changed since the last look.
    pub fn get<E: std::fmt::Display>(&self, load: impl FnOnce() -> Result<T, E>) -> Arc<T> {
        let now = stamp(&self.path);
        {
            let cur = self.current.read().expect("snapshot lock");
            if cur.0 == now {
                return cur.1.clone();
            }
        }
        let mut cur = self.current.write().expect("snapshot lock");
        if cur.0 != now {
            match load() {
                Ok(v) => {
                    tracing::info!(file = %self.path.display(), "reloaded {}", self.what);
                    *cur = (now, Arc::new(v));
                }
                Err(e) => {
                    tracing::error!(file = %self.path.display(), error = %e, "changed but cannot be loaded; keeping the previous {}", self.what);
                    cur.0 = now;
                }
            }
        }
        cur.1.clone()
    }

    /// Reloads at the next look even if the file did not change (a new master key may open
    /// what the last load could not).
    pub fn force_reload(&self) {
        self.current.write().expect("snapshot lock").0 = None;
    }
}
