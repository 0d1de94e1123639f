//! Object data files.
//!
//! Layout under the data directory (format 1, DO NOT CHANGE without a migration):
//! - `objects/<first two hex digits>/<32 hex digits>`: one file per object version segment or
//!   multipart part, named by a random 128-bit [`FileId`]. Each starts with an 8-byte header
//!   (`LSDATA`, format version, reserved byte) so a future format is recognised.
//! - `tmp/<32 hex digits>`: files being written; anything found here at start-up is garbage.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::crypto::{self, ChunkCipher, CryptoError, Key};

mod read;
use crate::record::{Envelope, SseAlgorithm};
pub use read::Plain;
pub(crate) use read::read_segment;

/// Header of every plaintext data file. DO NOT CHANGE: existing files carry it.
pub const DATA_HEADER: [u8; 8] = *b"LSDATA\x01\x00";
/// Header of an encrypted data file (chunked AES-256-GCM, [`crate::crypto`] format 1). The
/// last byte is a flags byte: 1 = encrypted. DO NOT CHANGE.
pub const DATA_HEADER_ENCRYPTED: [u8; 8] = *b"LSDATA\x01\x01";
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

    /// Its 16 bytes, big-endian (what record format 2 stores).
    pub(crate) const fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    /// The id of [`FileId::to_bytes`]' bytes.
    pub(crate) const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(u128::from_be_bytes(bytes))
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

/// Creates a directory (0700) if it is missing; a new one is made durable in its parent, so
/// a file renamed into it after a crash is not lost with the directory entry.
pub(crate) fn private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    if let Some(parent) = dir.parent() {
        File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// Paths of the data directory.
#[derive(Debug, Clone)]
pub(crate) struct DataDirs {
    pub(crate) objects: PathBuf,
    pub(crate) tmp: PathBuf,
    /// While a backup copies data files, removals wait here (`Some`) until it is done, so a
    /// file its metadata snapshot references is never removed under it.
    held: std::sync::Arc<std::sync::Mutex<Held>>,
    /// While the orphan sweep runs (`Some`): the data files created since the store opened,
    /// which the sweep's metadata snapshot may not reference yet and must leave alone.
    pub(crate) born: std::sync::Arc<std::sync::Mutex<Option<std::collections::HashSet<FileId>>>>,
}

/// Removals held back by backups in progress.
#[derive(Debug, Default)]
struct Held {
    backups: usize,
    files: Vec<FileId>,
}

/// Holds data-file removals back until dropped ([`DataDirs::hold_removals`]).
#[derive(Debug)]
pub(crate) struct RemovalHold {
    dirs: DataDirs,
}

impl Drop for RemovalHold {
    fn drop(&mut self) {
        let files = {
            let mut held = self.dirs.held.lock().expect("removal hold");
            held.backups -= 1;
            if held.backups > 0 {
                return;
            }
            std::mem::take(&mut held.files)
        };
        for id in files {
            self.dirs.remove(id);
        }
    }
}

impl DataDirs {
    pub(crate) fn create(root: &Path) -> io::Result<Self> {
        let dirs = Self {
            objects: root.join("objects"),
            tmp: root.join("tmp"),
            held: std::sync::Arc::default(),
            born: std::sync::Arc::default(),
        };
        private_dir(&dirs.objects)?;
        private_dir(&dirs.tmp)?;
        Ok(dirs)
    }

    pub(crate) fn path(&self, id: FileId) -> PathBuf {
        let name = id.to_string();
        self.objects.join(&name[..2]).join(name)
    }

    fn tmp_path(&self, id: FileId) -> PathBuf {
        self.tmp.join(id.to_string())
    }

    /// Defers every removal until the hold is dropped (a crash meanwhile leaves orphans,
    /// which the next start removes).
    pub(crate) fn hold_removals(&self) -> RemovalHold {
        self.held.lock().expect("removal hold").backups += 1;
        RemovalHold { dirs: self.clone() }
    }

    pub(crate) fn remove(&self, id: FileId) {
        {
            let mut held = self.held.lock().expect("removal hold");
            if held.backups > 0 {
                held.files.push(id);
                return;
            }
        }
        if let Err(e) = fs::remove_file(self.path(id))
            && e.kind() != io::ErrorKind::NotFound
        {
            // Not fatal: the file is unreferenced and start-up cleanup will take it.
            tracing::warn!(file = %id, error = %e, "could not remove a data file");
        }
    }
}

/// Seals plaintext into chunks as it arrives; the last chunk is held back until
/// [`DataWriter::seal`] knows it is the last.
struct Sealer {
    cipher: ChunkCipher,
    /// The second layer of dual-layer (`aws:kms:dsse`) data.
    outer: Option<ChunkCipher>,
    envelope: Envelope,
    pending: Vec<u8>,
    index: u64,
}

/// A data file being written. Dropping it without [`DataWriter::seal`] deletes the temp file.
/// With a master key, bytes are encrypted before they reach the file (temp files included).
pub struct DataWriter {
    id: FileId,
    out: Out,
    dest: PathBuf,
    len: u64,
    sealer: Option<Sealer>,
}

/// Objects up to this many bytes may be kept inline in the metadata, committed with their
/// version ([`crate::Store::object_writer`]): no file, no file fsync, no directory fsync.
pub const INLINE_MAX: u64 = 16 * 1024;

/// Where a writer's bytes go: memory while they may still be kept inline, else the temp file
/// (opened when the bytes outgrow the inline limit, or at once for a writer that may not
/// inline). `None` in both: sealed.
struct Out {
    file: Option<File>,
    memory: Option<Vec<u8>>,
    tmp: PathBuf,
}

impl Out {
    /// The most bytes (header, data, tags) kept in memory before they go to a file.
    const MEMORY_MAX: usize = DATA_HEADER.len() + INLINE_MAX as usize + 2 * crypto::TAG_LEN;

    fn open_tmp(tmp: &Path) -> io::Result<File> {
        let mut options = File::options();
        options.write(true).create_new(true);
        // Object data is private to the server's user, even encrypted.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(tmp)
    }

    /// Moves what is held in memory to the temp file, which takes every later byte.
    fn spill(&mut self) -> io::Result<()> {
        if let Some(held) = self.memory.take() {
            let mut file = Self::open_tmp(&self.tmp)?;
            let written = file.write_all(&held);
            self.file = Some(file);
            written?;
        }
        Ok(())
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some(m) = self.memory.as_mut() {
            if m.len() + bytes.len() <= Self::MEMORY_MAX {
                m.extend_from_slice(bytes);
                return Ok(());
            }
            self.spill()?;
        }
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("writer already sealed"))?
            .write_all(bytes)
    }
}

impl std::fmt::Debug for DataWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataWriter")
            .field("id", &self.id)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// A data file that is durable on disk and ready to be referenced by a metadata commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedData {
    /// The file.
    pub file: FileId,
    /// Object bytes written (plaintext length).
    pub len: u64,
    /// The encryption envelope, when the file is encrypted.
    pub envelope: Option<Envelope>,
    /// An inline writer's small object: the bytes a file would hold, which the version's
    /// commit stores in the metadata; `None`: the data is the durable file `file`.
    pub inline: Option<Vec<u8>>,
}

/// The wrap binding of the outer layer's data key (format 2).
#[must_use]
pub fn outer_binding(key_id: &str, context: Option<&str>) -> String {
    format!("{}\nouter", wrap_binding(key_id, context))
}

/// A key other than the master key that wraps a new data file's data key.
#[derive(Clone, Copy)]
pub struct Wrapping<'a> {
    /// The wrapping key.
    pub key: &'a Key,
    /// [`SseAlgorithm::Customer`], [`SseAlgorithm::Kms`] or [`SseAlgorithm::KmsDsse`] (which
    /// adds a second layer).
    pub algorithm: SseAlgorithm,
    /// Recorded in the envelope: [`SSE_C_KEY_ID`] or the keyring key's id.
    pub key_id: &'a str,
    /// SSE-KMS encryption context (canonical JSON), bound into the wrapping.
    pub context: Option<&'a str>,
}

/// What a data key's wrapping is bound to: the key id, and the encryption context if any.
#[must_use]
pub fn wrap_binding(key_id: &str, context: Option<&str>) -> String {
    match context {
        None => key_id.to_string(),
        Some(c) => format!("{key_id}\n{c}"),
    }
}

/// `Envelope.key_id` (and wrap binding) for SSE-C: the key itself is never stored.
pub const SSE_C_KEY_ID: &str = "customer";

/// The master key that wraps data keys, with its id.
#[derive(Clone)]
pub struct MasterKey {
    /// Id recorded in every envelope it wraps (for rotation).
    pub id: String,
    /// The key.
    pub key: Key,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn binding(id: FileId) -> [u8; 16] {
    id.0.to_be_bytes()
}

fn crypto_err(e: CryptoError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl DataWriter {
    /// A writer; with `inline`, the bytes stay in memory while they fit [`INLINE_MAX`] and
    /// [`DataWriter::seal`] returns them instead of making a file.
    pub(crate) fn create(
        dirs: &DataDirs,
        master: Option<&MasterKey>,
        other: Option<Wrapping<'_>>,
        inline: bool,
    ) -> io::Result<Self> {
        let id = FileId::random();
        dirs.note_born(id);
        // The data key is wrapped by a customer (SSE-C) or keyring (SSE-KMS) key, else by the
        // master key (SSE-S3).
        let wrapping = other.or_else(|| {
            master.map(|m| Wrapping {
                key: &m.key,
                algorithm: SseAlgorithm::S3,
                key_id: &m.id,
                context: None,
            })
        });
        let sealer = match wrapping {
            None => None,
            Some(w) => {
                let dek = Key::generate().map_err(crypto_err)?;
                let wrapped = crypto::wrap_key(w.key, &wrap_binding(w.key_id, w.context), &dek)
                    .map_err(crypto_err)?;
                let outer = if w.algorithm == SseAlgorithm::KmsDsse {
                    let outer_dek = Key::generate().map_err(crypto_err)?;
                    let outer_wrapped =
                        crypto::wrap_key(w.key, &outer_binding(w.key_id, w.context), &outer_dek)
                            .map_err(crypto_err)?;
                    Some((ChunkCipher::outer(&outer_dek, binding(id)), outer_wrapped))
                } else {
                    None
                };
                Some(Sealer {
                    cipher: ChunkCipher::new(&dek, binding(id)),
                    envelope: Envelope {
                        format: if outer.is_some() {
                            crypto::FORMAT_DUAL
                        } else {
                            crypto::FORMAT
                        },
                        algorithm: w.algorithm,
                        key_id: w.key_id.into(),
                        wrapped_key: hex::encode(wrapped),
                        context: w.context.map(str::to_string),
                        outer_wrapped_key: outer.as_ref().map(|(_, k)| hex::encode(k)),
                    },
                    outer: outer.map(|(c, _)| c),
                    // A whole chunk for a file; an inline writer's few KiB grow as they come
                    // (64 KiB allocated and freed per small PUT showed in the profile).
                    pending: Vec::with_capacity(if inline {
                        0
                    } else {
                        crypto::CHUNK_LEN + 2 * crypto::TAG_LEN
                    }),
                    index: 0,
                })
            }
        };
        let mut out = Out {
            file: None,
            memory: None,
            tmp: dirs.tmp_path(id),
        };
        if inline {
            out.memory = Some(Vec::with_capacity(256));
        } else {
            out.file = Some(Out::open_tmp(&out.tmp)?);
        }
        out.write_all(if sealer.is_some() {
            &DATA_HEADER_ENCRYPTED
        } else {
            &DATA_HEADER
        })?;
        Ok(Self {
            id,
            out,
            dest: dirs.path(id),
            len: 0,
            sealer,
        })
    }

    /// Appends object bytes.
    ///
    /// # Errors
    /// Any I/O error of the underlying file.
    pub fn write(&mut self, mut buf: &[u8]) -> io::Result<()> {
        if self.out.file.is_none() && self.out.memory.is_none() {
            return Err(io::Error::other("writer already sealed"));
        }
        self.len += buf.len() as u64;
        if self.len > INLINE_MAX {
            self.out.spill()?;
        }
        let file = &mut self.out;
        let Some(s) = self.sealer.as_mut() else {
            return file.write_all(buf);
        };
        while !buf.is_empty() {
            // A full pending chunk is written only once more data shows it is not the last.
            if s.pending.len() == crypto::CHUNK_LEN {
                s.seal_pending(false);
                file.write_all(&s.pending)?;
                s.pending.clear();
                s.index += 1;
            }
            let take = (crypto::CHUNK_LEN - s.pending.len()).min(buf.len());
            s.pending.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
        }
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

    /// Writes the final chunk, fsyncs the file, renames it into `objects/` and fsyncs that
    /// directory, so the file survives a crash once the metadata commit that references it
    /// has happened. Bytes still in memory (an inline writer's small object) are returned
    /// instead, for that commit to hold.
    ///
    /// # Errors
    /// Any I/O error; the temp file is removed.
    pub fn seal(mut self) -> io::Result<SealedData> {
        let envelope = match self.sealer.take() {
            None => None,
            Some(mut s) => {
                s.seal_pending(true);
                if let Err(e) = self.out.write_all(&s.pending) {
                    if self.out.file.take().is_some() {
                        let _ = fs::remove_file(&self.out.tmp);
                    }
                    return Err(e);
                }
                Some(s.envelope)
            }
        };
        if let Some(bytes) = self.out.memory.take() {
            return Ok(SealedData {
                file: self.id,
                len: self.len,
                envelope,
                inline: Some(bytes),
            });
        }
        let file = self
            .out
            .file
            .take()
            .ok_or_else(|| io::Error::other("writer already sealed"))?;
        let tmp = self.out.tmp.clone();
        let result = (|| {
            file.sync_all()?;
            drop(file);
            let dir = self
                .dest
                .parent()
                .expect("data paths have a shard directory");
            private_dir(dir)?;
            fs::rename(&tmp, &self.dest)?;
            File::open(dir)?.sync_all()
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(SealedData {
            file: self.id,
            len: self.len,
            envelope,
            inline: None,
        })
    }
}

impl Sealer {
    /// Encrypts the pending chunk in place: the inner layer, then the outer one if any.
    fn seal_pending(&mut self, last: bool) {
        self.cipher.seal(self.index, last, &mut self.pending);
        if let Some(outer) = &self.outer {
            outer.seal(self.index, last, &mut self.pending);
        }
    }
}

impl Drop for DataWriter {
    fn drop(&mut self) {
        if self.out.file.take().is_some() {
            let _ = fs::remove_file(&self.out.tmp);
        }
    }
}
