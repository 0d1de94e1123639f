//! Object Lock on a version: its retention, and what can protect it from deletion
//! (`VersionRecord::protection` decides which does now).

use serde::{Deserialize, Serialize};

/// An Object Lock retention: no one deletes the version before `until_ms`; a GOVERNANCE one
/// may be lifted by a caller allowed `s3:BypassGovernanceRetention` who asks to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// `GOVERNANCE` or `COMPLIANCE`.
    pub mode: String,
    /// Until when (ms since the epoch).
    pub until_ms: i64,
}

/// What protects a version from deletion now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// Nothing.
    None,
    /// GOVERNANCE retention in force.
    Governance,
    /// COMPLIANCE retention in force.
    Compliance,
    /// A legal hold.
    LegalHold,
}
