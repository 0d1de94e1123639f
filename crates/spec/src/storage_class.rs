//! The S3 storage classes leadshop stores, once: each one's AWS name (what requests, records,
//! lifecycle rules and the price table say), its CloudWatch `StorageType`, its place in the
//! lifecycle waterfall, and whether it is archived (read only after a restore). Requests,
//! lifecycle rules, the usage metrics and the cost estimate all read this list.

use serde::{Deserialize, Serialize};

/// A storage class (serialised as its AWS name; an empty name, which early records of delete
/// markers carried, reads as `STANDARD`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StorageClass {
    /// `STANDARD`.
    #[default]
    #[serde(alias = "")]
    Standard,
    /// `STANDARD_IA`.
    StandardIa,
    /// `ONEZONE_IA`.
    OnezoneIa,
    /// `INTELLIGENT_TIERING`.
    IntelligentTiering,
    /// `GLACIER_IR`.
    GlacierIr,
    /// `GLACIER`.
    Glacier,
    /// `DEEP_ARCHIVE`.
    DeepArchive,
    /// `REDUCED_REDUNDANCY`.
    ReducedRedundancy,
}

impl StorageClass {
    /// Every class leadshop stores and returns.
    pub const ALL: [StorageClass; 8] = [
        StorageClass::Standard,
        StorageClass::StandardIa,
        StorageClass::OnezoneIa,
        StorageClass::IntelligentTiering,
        StorageClass::GlacierIr,
        StorageClass::Glacier,
        StorageClass::DeepArchive,
        StorageClass::ReducedRedundancy,
    ];

    /// The AWS name, e.g. `STANDARD_IA`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            StorageClass::Standard => "STANDARD",
            StorageClass::StandardIa => "STANDARD_IA",
            StorageClass::OnezoneIa => "ONEZONE_IA",
            StorageClass::IntelligentTiering => "INTELLIGENT_TIERING",
            StorageClass::GlacierIr => "GLACIER_IR",
            StorageClass::Glacier => "GLACIER",
            StorageClass::DeepArchive => "DEEP_ARCHIVE",
            StorageClass::ReducedRedundancy => "REDUCED_REDUNDANCY",
        }
    }

    /// The class of an AWS name; `None` for one leadshop does not store.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// CloudWatch's `StorageType` dimension for it (`BucketSizeBytes`).
    #[must_use]
    pub const fn storage_type(self) -> &'static str {
        match self {
            StorageClass::Standard => "StandardStorage",
            StorageClass::StandardIa => "StandardIAStorage",
            StorageClass::OnezoneIa => "OneZoneIAStorage",
            StorageClass::IntelligentTiering => "IntelligentTieringFAStorage",
            StorageClass::GlacierIr => "GlacierInstantRetrievalStorage",
            StorageClass::Glacier => "GlacierStorage",
            StorageClass::DeepArchive => "DeepArchiveStorage",
            StorageClass::ReducedRedundancy => "ReducedRedundancyStorage",
        }
    }

    /// Its depth in AWS's lifecycle waterfall (deeper is cheaper); `None` for a class no
    /// transition may name.
    #[must_use]
    pub const fn waterfall_depth(self) -> Option<usize> {
        match self {
            StorageClass::StandardIa => Some(0),
            StorageClass::IntelligentTiering => Some(1),
            StorageClass::OnezoneIa => Some(2),
            StorageClass::GlacierIr => Some(3),
            StorageClass::Glacier => Some(4),
            StorageClass::DeepArchive => Some(5),
            StorageClass::Standard | StorageClass::ReducedRedundancy => None,
        }
    }

    /// Whether S3 lifecycle moves an object of this class to `to`: only down the waterfall,
    /// and ONEZONE_IA never to GLACIER_IR.
    #[must_use]
    pub const fn can_transition_to(self, to: StorageClass) -> bool {
        let Some(to_depth) = to.waterfall_depth() else {
            return false;
        };
        match (self, to) {
            (StorageClass::Standard | StorageClass::ReducedRedundancy, _) => true,
            (StorageClass::OnezoneIa, StorageClass::GlacierIr) => false,
            _ => match self.waterfall_depth() {
                Some(d) => d < to_depth,
                None => false,
            },
        }
    }

    /// Whether it is archived: its data is read only after RestoreObject (GLACIER,
    /// DEEP_ARCHIVE).
    #[must_use]
    pub const fn is_archive(self) -> bool {
        matches!(self, StorageClass::Glacier | StorageClass::DeepArchive)
    }

    /// Whether it is an infrequent-access class, which a lifecycle transition may reach only
    /// 30 days after creation (STANDARD_IA, ONEZONE_IA).
    #[must_use]
    pub const fn is_infrequent_access(self) -> bool {
        matches!(self, StorageClass::StandardIa | StorageClass::OnezoneIa)
    }
}

impl std::fmt::Display for StorageClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::StorageClass as C;

    #[test]
    fn the_serialised_form_is_the_aws_name() {
        for c in C::ALL {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.name()));
            assert_eq!(serde_json::from_str::<C>(&json).unwrap(), c);
        }
        assert_eq!(serde_json::from_str::<C>("\"\"").unwrap(), C::Standard);
        assert!(serde_json::from_str::<C>("\"standard\"").is_err());
    }

    #[test]
    fn names_round_trip_and_nothing_else_parses() {
        for c in C::ALL {
            assert_eq!(C::parse(c.name()), Some(c));
        }
        assert_eq!(C::parse("standard"), None);
        assert_eq!(C::parse("EXPRESS_ONEZONE"), None);
    }

    #[test]
    fn the_waterfall_runs_down_only() {
        assert!(C::Standard.can_transition_to(C::StandardIa));
        assert!(C::StandardIa.can_transition_to(C::DeepArchive));
        assert!(!C::Glacier.can_transition_to(C::StandardIa));
        assert!(!C::OnezoneIa.can_transition_to(C::GlacierIr));
        assert!(!C::Standard.can_transition_to(C::Standard));
        assert!(!C::StandardIa.can_transition_to(C::ReducedRedundancy));
    }
}
