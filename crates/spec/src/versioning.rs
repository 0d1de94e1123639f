//! The versioning document (`PutBucketVersioning`'s `VersioningConfiguration`), AWS JSON shape:
//! `{"Status": "Enabled" | "Suspended", "MFADelete": "Disabled"}`.

use serde::{Deserialize, Serialize};

/// `Status` of a versioning configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VersioningStatus {
    /// Versioning on.
    Enabled,
    /// Versioning paused; existing versions kept.
    Suspended,
}

/// A bucket's versioning document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersioningConfiguration {
    /// Enabled or Suspended.
    #[serde(rename = "Status")]
    pub status: VersioningStatus,
    /// MFA delete; only `Disabled` is supported (there is no MFA device locally).
    #[serde(rename = "MFADelete", default, skip_serializing_if = "Option::is_none")]
    pub mfa_delete: Option<String>,
}

impl VersioningConfiguration {
    /// Checks what serde cannot: MFA delete must stay disabled.
    ///
    /// # Errors
    /// A message naming the problem.
    pub fn validate(&self) -> Result<(), String> {
        match self.mfa_delete.as_deref() {
            None | Some("Disabled") => Ok(()),
            Some(other) => Err(format!(
                "MFADelete {other:?} is not supported; use \"Disabled\""
            )),
        }
    }
}
