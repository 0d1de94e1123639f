//! Object data files.
//!
//! Layout under the data directory (format 1, DO NOT CHANGE without a migration):
//! - `objects/<first two hex digits>/<32 hex digits>`: one file per object version segment or
//!   multipart part, named by a random 128-bit [`FileId`]. Each starts with an 8-byte header
//!   (`LSDATA`, format version, reserved byte) so a future format is recognised.
//! - `tmp/<32 hex digits>`: files being written; anything found here at start-up is garbage.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Header of every data file. DO NOT CHANGE: existing files carry it.
pub const DATA_HEADER: [u8; 8] = *b"LSDATA\x01\x00";
/// Length of [`DATA_HEADER`]; object bytes start at this offset.
pub const DATA_HEADER_LEN: u64 = DATA_HEADER.len() as u64;

/// The random name of one data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct FileId(u128);

impl FileId {
    pub(crate) fn random() -> Self {
        Self(rand::random())
    }
}

impl std::fmt::Display for FileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl From<FileId> for String {
    fn from(id: FileId) -> Self {
        id.to_string()
    }
}

impl TryFrom<String> for FileId {
    type Error = std::num::ParseIntError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        u128::from_str_radix(&s, 16).map(Self)
    }
}

/// Paths of the data directory.
#[derive(Debug, Clone)]
pub(crate) struct DataDirs {
    objects: PathBuf,
    tmp: PathBuf,
}

impl DataDirs {
    pub(crate) fn create(root: &Path) -> io::Result<Self> {
        let dirs = Self {
            objects: root.join("objects"),
            tmp: root.join("tmp"),
        };
        fs::create_dir_all(&dirs.objects)?;
        fs::create_dir_all(&dirs.tmp)?;
        Ok(dirs)
    }

    pub(crate) fn path(&self, id: FileId) -> PathBuf {
        let name = id.to_string();
        self.objects.join(&name[..2]).join(name)
    }

    fn tmp_path(&self, id: FileId) -> PathBuf {
        self.tmp.join(id.to_string())
    }

    /// Empties `tmp/` and deletes every data file `is_referenced` does not claim.
    /// Returns how many files were removed.
    pub(crate) fn remove_orphans(
        &self,
        is_referenced: impl Fn(FileId) -> bool,
    ) -> io::Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.tmp)? {
            fs::remove_file(entry?.path())?;
            removed += 1;
        }
        for shard in fs::read_dir(&self.objects)? {
            let shard = shard?.path();
            if !shard.is_dir() {
                continue;
            }
            for entry in fs::read_dir(&shard)? {
                let path = entry?.path();
                let id = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| FileId::try_from(n.to_string()).ok());
                match id {
                    Some(id) if is_referenced(id) => {}
                    Some(_) => {
                        fs::remove_file(&path)?;
                        removed += 1;
                    }
                    None => {
                        tracing::warn!(path = %path.display(), "unexpected file in the data directory, left alone")
                    }
                }
            }
        }
        Ok(removed)
    }

    pub(crate) fn remove(&self, id: FileId) {
        if let Err(e) = fs::remove_file(self.path(id))
            && e.kind() != io::ErrorKind::NotFound
        {
            // Not fatal: the file is unreferenced and start-up cleanup will take it.
            tracing::warn!(file = %id, error = %e, "could not remove a data file");
        }
    }
}

/// A data file being written. Dropping it without [`DataWriter::seal`] deletes the temp file.
#[derive(Debug)]
pub struct DataWriter {
    id: FileId,
    file: Option<File>,
    tmp: PathBuf,
    dest: PathBuf,
    len: u64,
}

/// A data file that is durable on disk and ready to be referenced by a metadata commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedData {
    /// The file.
    pub file: FileId,
    /// Object bytes written.
    pub len: u64,
}

impl DataWriter {
    pub(crate) fn create(dirs: &DataDirs) -> io::Result<Self> {
        let id = FileId::random();
        let tmp = dirs.tmp_path(id);
        let mut file = File::options().write(true).create_new(true).open(&tmp)?;
        file.write_all(&DATA_HEADER)?;
        Ok(Self {
            id,
            file: Some(file),
            tmp,
            dest: dirs.path(id),
            len: 0,
        })
    }

    /// Appends object bytes.
    ///
    /// # Errors
    /// Any I/O error of the underlying file.
    pub fn write(&mut self, buf: &[u8]) -> io::Result<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("writer already sealed"))?;
        file.write_all(buf)?;
        self.len += buf.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing has been written.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// fsyncs the file, renames it into `objects/` and fsyncs that directory, so the file
    /// survives a crash once the metadata commit that references it has happened.
    ///
    /// # Errors
    /// Any I/O error; the temp file is removed.
    pub fn seal(mut self) -> io::Result<SealedData> {
        let file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("writer already sealed"))?;
        file.sync_all()?;
        drop(file);
        let dir = self
            .dest
            .parent()
            .expect("data paths have a shard directory");
        fs::create_dir_all(dir)?;
        fs::rename(&self.tmp, &self.dest)?;
        File::open(dir)?.sync_all()?;
        Ok(SealedData {
            file: self.id,
            len: self.len,
        })
    }
}

impl Drop for DataWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Opens a data file for reading object bytes from `offset`, checking its header.
///
/// # Errors
/// I/O errors, or `InvalidData` when the header is not a known format.
pub(crate) fn open_at(path: &Path, offset: u64) -> io::Result<File> {
    let mut file = File::open(path)?;
    let mut header = [0u8; DATA_HEADER.len()];
    file.read_exact(&mut header)?;
    if header != DATA_HEADER {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{}: not a leadshop data file of a known format",
                path.display()
            ),
        ));
    }
    file.seek(SeekFrom::Start(DATA_HEADER_LEN + offset))?;
    Ok(file)
}
