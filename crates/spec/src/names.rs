//! Names: the limits S3 puts on object keys, and the bucket names AWS reserves.
//!
//! Bucket names are validated by the protocol layer (s3s follows the AWS character and length
//! rules); the prefixes and suffixes AWS reserves for its own features are refused here, at
//! CreateBucket. Keys are checked here because their limits shape the storage engine.

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

/// Prefixes AWS reserves for bucket names
/// (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html>).
const RESERVED_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
/// Suffixes AWS reserves: access point aliases, Object Lambda, Multi-Region Access Points,
/// directory and table buckets.
const RESERVED_SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/// Whether a new bucket may take this name under AWS's reserved prefixes and suffixes (the
/// character and length rules are the protocol layer's).
#[must_use]
pub fn bucket_name_is_reserved(name: &str) -> bool {
    RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
        || RESERVED_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Why AWS refuses this name for a new bucket beyond the protocol layer's character, length
/// and `..` rules: a reserved prefix or suffix, or a dash beside a period (`-.`, `.-`, which no
/// DNS label may hold at its edge; AWS answers `InvalidBucketName`). `None` when it may be created.
#[must_use]
pub fn bucket_name_refusal(name: &str) -> Option<&'static str> {
    if bucket_name_is_reserved(name) {
        Some("The specified bucket is not valid: AWS reserves this prefix or suffix.")
    } else if name.contains("-.") || name.contains(".-") {
        Some("The specified bucket is not valid: a period may not be next to a dash.")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_reserved_bucket_names() {
        for reserved in [
            "logs-s3alias",
            "sthree-x",
            "xn--bucket",
            "amzn-s3-demo-bucket",
            "b--ol-s3",
            "b.mrap",
            "b--x-s3",
            "b--table-s3",
        ] {
            assert!(bucket_name_is_reserved(reserved), "{reserved}");
        }
        for ok in ["leadshop-assets", "s3alias-first", "my-sthree", "alias"] {
            assert!(!bucket_name_is_reserved(ok), "{ok}");
        }
    }

    #[test]
    fn a_dash_beside_a_period_is_refused() {
        for bad in ["my-.bucket", "my.-bucket", "a.-b", "logs-s3alias"] {
            assert!(bucket_name_refusal(bad).is_some(), "{bad}");
        }
        for ok in ["my.bucket", "my-bucket", "a.b-c", "leadshop-assets-dev"] {
            assert_eq!(bucket_name_refusal(ok), None, "{ok}");
        }
    }

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
