//! [`ChecksumType`]: whether a stored checksum is of the whole object or of its parts.

use serde::{Deserialize, Serialize};

/// Whether an object's checksum is of its whole data or of its parts' checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChecksumType {
    /// `FULL_OBJECT`: the checksum of the whole data (every single-part object's).
    #[serde(rename = "FULL_OBJECT")]
    FullObject,
    /// `COMPOSITE`: the checksum of the parts' checksums, `-N` after it.
    #[serde(rename = "COMPOSITE")]
    Composite,
}

impl ChecksumType {
    /// S3's name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ChecksumType::FullObject => "FULL_OBJECT",
            ChecksumType::Composite => "COMPOSITE",
        }
    }

    /// The type of S3's name; `None` for another text.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "FULL_OBJECT" => Some(ChecksumType::FullObject),
            "COMPOSITE" => Some(ChecksumType::Composite),
            _ => None,
        }
    }
}
