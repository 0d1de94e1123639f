//! The one store behind `keys.json` and `kms.json`: a private JSON file of records
//! (`{"format": N, "keys": [...]}`), changed under an OS lock by any process (the server, the
//! CLI), written atomically. A server holds a [`crate::snapshot::Snapshot`] of it.

use std::io;
use std::path::PathBuf;

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
