//! Access keys: the admin and application keys, kept in `<data-dir>/credentials` (0600) in the
//! AWS shared-credentials format, so `AWS_SHARED_CREDENTIALS_FILE` can point at it.
//!
//! Identity policies per key arrive with the access-control work; until then every key that
//! signs correctly is authenticated and the access hook decides.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use rand::Rng;
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

use crate::secret_file;

/// One access key.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// Profile name (`admin`, `app`).
    pub name: String,
    /// Access key id (`AKIA…`).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
}

impl std::fmt::Debug for AccessKey {
    // Never print secrets, not even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("name", &self.name)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl AccessKey {
    /// A new random key: 20-character id, 40-character secret, as AWS issues them.
    #[must_use]
    pub fn generate(name: &str) -> Self {
        const ID_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        const SECRET_CHARS: &[u8] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut rng = rand::rng();
        let id: String = (0..16)
            .map(|_| ID_CHARS[rng.random_range(0..ID_CHARS.len())] as char)
            .collect();
        let secret: String = (0..40)
            .map(|_| SECRET_CHARS[rng.random_range(0..SECRET_CHARS.len())] as char)
            .collect();
        Self {
            name: name.into(),
            access_key_id: format!("AKIA{id}"),
            secret_access_key: secret,
        }
    }
}

/// The keys the server accepts.
#[derive(Debug, Clone, Default)]
pub struct KeyStore {
    by_id: BTreeMap<String, AccessKey>,
}

/// The profiles bootstrap creates.
pub const BOOTSTRAP_PROFILES: [&str; 2] = ["admin", "app"];

impl KeyStore {
    /// Loads `<data-dir>/credentials`, creating it with an admin and an app key at first start.
    ///
    /// # Errors
    /// I/O errors, a file others can read, or a malformed file.
    pub fn load_or_bootstrap(path: &Path) -> io::Result<Self> {
        if !path.exists() {
            let keys: Vec<AccessKey> = BOOTSTRAP_PROFILES
                .iter()
                .map(|n| AccessKey::generate(n))
                .collect();
            secret_file::write(path, render(&keys).as_bytes())?;
            tracing::info!(path = %path.display(), "created the admin and app access keys");
        }
        secret_file::check_private(path)?;
        let text = std::fs::read_to_string(path)?;
        let keys = parse(&text).map_err(|m| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {m}", path.display()),
            )
        })?;
        Ok(Self {
            by_id: keys
                .into_iter()
                .map(|k| (k.access_key_id.clone(), k))
                .collect(),
        })
    }

    /// The key with this profile name.
    #[must_use]
    pub fn by_name(&self, name: &str) -> Option<&AccessKey> {
        self.by_id.values().find(|k| k.name == name)
    }

    /// The key with this access key id.
    #[must_use]
    pub fn by_id(&self, id: &str) -> Option<&AccessKey> {
        self.by_id.get(id)
    }
}

#[async_trait::async_trait]
impl S3Auth for KeyStore {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.by_id.get(access_key) {
            Some(k) => Ok(SecretKey::from(k.secret_access_key.clone())),
            None => Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            )),
        }
    }
}

/// Renders keys in the AWS shared-credentials (INI) format.
#[must_use]
pub fn render(keys: &[AccessKey]) -> String {
    let mut out = String::from(
        "# leadshop access keys (AWS shared-credentials format). Keep this file private.\n",
    );
    for k in keys {
        out.push_str(&format!(
            "\n[{}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            k.name, k.access_key_id, k.secret_access_key
        ));
    }
    out
}

/// Parses the AWS shared-credentials format (profiles with the two key fields).
///
/// # Errors
/// A message naming the line.
pub fn parse(text: &str) -> Result<Vec<AccessKey>, String> {
    let mut keys = Vec::new();
    let mut current: Option<(String, Option<String>, Option<String>)> = None;
    let finish = |c: Option<(String, Option<String>, Option<String>)>,
                  keys: &mut Vec<AccessKey>| match c {
        None => Ok(()),
        Some((name, Some(id), Some(secret))) => {
            keys.push(AccessKey {
                name,
                access_key_id: id,
                secret_access_key: secret,
            });
            Ok(())
        }
        Some((name, _, _)) => Err(format!(
            "profile [{name}] lacks aws_access_key_id or aws_secret_access_key"
        )),
    };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            finish(current.take(), &mut keys)?;
            current = Some((name.trim().to_string(), None, None));
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: expected key = value", n + 1))?;
        let entry = current
            .as_mut()
            .ok_or_else(|| format!("line {}: value outside a [profile]", n + 1))?;
        match k.trim() {
            "aws_access_key_id" => entry.1 = Some(v.trim().to_string()),
            "aws_secret_access_key" => entry.2 = Some(v.trim().to_string()),
            _ => {}
        }
    }
    finish(current, &mut keys)?;
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_round_trip_and_never_debug_print_secrets() {
        let keys = vec![AccessKey::generate("admin"), AccessKey::generate("app")];
        assert_eq!(parse(&render(&keys)).unwrap(), keys);
        assert!(keys[0].access_key_id.starts_with("AKIA") && keys[0].access_key_id.len() == 20);
        assert_eq!(keys[0].secret_access_key.len(), 40);
        assert!(!format!("{:?}", keys[0]).contains(&keys[0].secret_access_key));
        assert!(parse("[x]\naws_access_key_id = A\n").is_err());
    }
}
