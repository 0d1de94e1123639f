//! Names: the limits S3 puts on object keys.
//!
//! Bucket names are validated by the protocol layer (s3s follows the AWS rules); keys are
//! checked here because their limits shape the storage engine.

/// The longest key S3 accepts, in UTF-8 bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// Why a key is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Longer than [`MAX_KEY_LEN`] bytes (S3: `KeyTooLongError`).
    #[error("the key is {0} bytes long; the maximum is 1024")]
    TooLong(usize),
    /// Empty key.
    #[error("the key is empty")]
    Empty,
    /// Contains U+0000, which S3's XML responses cannot carry.
    #[error("the key contains a NUL character")]
    Nul,
}

/// Checks an object key. Everything else — `..`, `//`, a leading `/`, any Unicode — is a
/// valid key, stored and returned byte for byte; keys never become file paths.
///
/// # Errors
/// [`KeyError`] naming the rule broken.
pub fn validate_key(key: &str) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(KeyError::TooLong(key.len()));
    }
    if key.contains('\0') {
        return Err(KeyError::Nul);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_s3_limits() {
        assert_eq!(validate_key(""), Err(KeyError::Empty));
        assert!(validate_key(&"a".repeat(1024)).is_ok());
        assert_eq!(
            validate_key(&"a".repeat(1025)),
            Err(KeyError::TooLong(1025))
        );
        // 1024 bytes of 2-byte characters is 512 characters, still valid.
        assert!(validate_key(&"\u{e9}".repeat(512)).is_ok());
        assert!(validate_key(&"\u{e9}".repeat(513)).is_err());
        for ok in ["../../etc/passwd", "a//b", "/leading", "\u{1f600}/x", "."] {
            assert!(validate_key(ok).is_ok(), "{ok}");
        }
        assert_eq!(validate_key("a\0b"), Err(KeyError::Nul));
    }
}
