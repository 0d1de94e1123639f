//! The master key that wraps every object's data key (SSE-S3): 256 bits, hex in a 0600 file,
//! created at first start. A key file others can read is refused. Its id is derived from the
//! key itself (`mk-` + 8 hex digits of its SHA-256), so envelopes name the key they need.

use std::io;
use std::path::Path;

use leadshop_store::crypto::Key;
pub use leadshop_store::{MasterKey, MasterKeys};
use sha2::Digest;

use crate::secret_file;

/// Loads the master key from `path`, creating it if the file does not exist.
///
/// # Errors
/// I/O errors, a file others can read, or a file that is not 64 hex digits.
pub fn load_or_create(path: &Path) -> io::Result<MasterKey> {
    if !path.exists() {
        // rand's thread RNG is a CSPRNG seeded from the OS.
        let bytes: [u8; 32] = rand::random();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        secret_file::write(path, format!("{}\n", hex::encode(bytes)).as_bytes())?;
        tracing::info!(path = %path.display(), "created the master key (keep it: without it no object can be read)");
    }
    load(path)
}

/// The file a rotation writes the next master key to before anything is re-wrapped: while it
/// exists, a rotation is unfinished (`leadshop kms rotate-master` completes it).
#[must_use]
pub fn next_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".next");
    path.with_file_name(name)
}

/// The keys of a master key file and, while a rotation is unfinished, of its `.next` file,
/// which is then current (new secrets are sealed under it).
///
/// `.next` is read first: a rotation that finishes meanwhile renames it over the key file,
/// so the key file then holds the same key, and no key a rotation has retired is ever current.
///
/// # Errors
/// As [`load`].
pub fn load_with_next(path: &Path) -> io::Result<MasterKeys> {
    let next = match load(&next_path(path)) {
        Ok(k) => Some(k),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let keys = MasterKeys::new(load(path)?);
    if let Some(next) = next {
        keys.install(next);
    }
    Ok(keys)
}

/// Where code that seals secrets (access keys, keyring keys) gets its master keys.
#[derive(Debug, Clone)]
pub enum MasterSource {
    /// The keys a running server holds: its rotation installs the new key in them.
    Held(MasterKeys),
    /// Read from the key files ([`load_with_next`]) each time, under the lock of the file
    /// being changed, so a rotation running meanwhile re-seals what is written or seals it
    /// under the new key itself (the CLI).
    File(std::path::PathBuf),
}

impl MasterSource {
    /// The keys to seal (current) and open (any held) with.
    ///
    /// # Errors
    /// The key files cannot be read.
    pub fn keys(&self) -> io::Result<MasterKeys> {
        match self {
            Self::Held(k) => Ok(k.clone()),
            Self::File(path) => load_with_next(path),
        }
    }
}

/// Creates a new random master key file (0600, fsynced) at `path`.
///
/// # Errors
/// I/O errors.
pub fn create(path: &Path) -> io::Result<MasterKey> {
    let bytes: [u8; 32] = rand::random();
    secret_file::write(path, format!("{}\n", hex::encode(bytes)).as_bytes())?;
    load(path)
}

/// Loads an existing master key file.
///
/// # Errors
/// I/O errors, a file others can read, or a file that is not 64 hex digits.
pub fn load(path: &Path) -> io::Result<MasterKey> {
    secret_file::check_private(path)?;
    parse(path, &std::fs::read(path)?)
}

/// A master key from the contents of its file (`path` is for messages).
///
/// # Errors
/// Contents that are not 64 hex digits.
pub fn parse(path: &Path, contents: &[u8]) -> io::Result<MasterKey> {
    let text = String::from_utf8_lossy(contents);
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: expected 64 hex digits (a 256-bit key)", path.display()),
            )
        })?;
    let digest = sha2::Sha256::digest(bytes);
    Ok(MasterKey {
        id: format!("mk-{}", hex::encode(&digest[..4])),
        key: Key::from_bytes(bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_private_reloaded_and_refused_when_readable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let first = load_or_create(&path).unwrap();
        let again = load_or_create(&path).unwrap();
        assert_eq!(first.id, again.id);
        assert!(first.id.starts_with("mk-") && first.id.len() == 11);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = load_or_create(&path).unwrap_err();
            assert!(e.to_string().contains("chmod 600"), "{e}");
        }
    }
}
