//! The default-encryption document (`PutBucketEncryption`'s `ServerSideEncryptionConfiguration`)
//! in AWS JSON shape: `{"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm":
//! "AES256"}, "BucketKeyEnabled": true}]}`.

use serde::{Deserialize, Serialize};

/// A bucket's default encryption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionConfiguration {
    /// Exactly one rule, as AWS allows.
    #[serde(rename = "Rules")]
    pub rules: Vec<EncryptionRule>,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionRule {
    /// The default.
    #[serde(rename = "ApplyServerSideEncryptionByDefault")]
    pub default: EncryptionDefault,
    /// S3 Bucket Keys (reported as configured; locally every object has its own data key).
    #[serde(
        rename = "BucketKeyEnabled",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub bucket_key_enabled: Option<bool>,
    /// Encryption types refused for new objects (AWS, 2026): `SSE-C` blocks customer-provided
    /// keys, `NONE` allows them. Absent means blocked, as on buckets made since April 2026.
    #[serde(
        rename = "BlockedEncryptionTypes",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub blocked_encryption_types: Option<BlockedEncryptionTypes>,
}

/// `BlockedEncryptionTypes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockedEncryptionTypes {
    /// `NONE` or `SSE-C`.
    #[serde(rename = "EncryptionType", default)]
    pub encryption_type: Vec<String>,
}

/// `ApplyServerSideEncryptionByDefault`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionDefault {
    /// `AES256` or `aws:kms`.
    #[serde(rename = "SSEAlgorithm")]
    pub sse_algorithm: String,
    /// KMS key for `aws:kms`.
    #[serde(
        rename = "KMSMasterKeyID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub kms_master_key_id: Option<String>,
}

impl EncryptionConfiguration {
    /// Checks what serde cannot.
    ///
    /// # Errors
    /// A message naming the problem.
    pub fn validate(&self) -> Result<(), String> {
        let [rule] = self.rules.as_slice() else {
            return Err("exactly one rule is required".into());
        };
        if let Some(b) = &rule.blocked_encryption_types
            && let Some(t) = b
                .encryption_type
                .iter()
                .find(|t| !matches!(t.as_str(), "NONE" | "SSE-C"))
        {
            return Err(format!("unknown EncryptionType {t:?} (NONE or SSE-C)"));
        }
        match rule.default.sse_algorithm.as_str() {
            "AES256" if rule.default.kms_master_key_id.is_none() => Ok(()),
            "AES256" => Err("KMSMasterKeyID is only valid with aws:kms".into()),
            "aws:kms" | "aws:kms:dsse" => Ok(()),
            other => Err(format!("unknown SSEAlgorithm {other:?}")),
        }
    }

    /// Whether uploads with customer-provided keys (SSE-C) are allowed: only when a rule
    /// unblocks them explicitly (`BlockedEncryptionTypes: {EncryptionType: [NONE]}`).
    #[must_use]
    pub fn sse_c_allowed(&self) -> bool {
        self.rules.iter().any(|r| {
            r.blocked_encryption_types.as_ref().is_some_and(|b| {
                b.encryption_type.iter().any(|t| t == "NONE")
                    && !b.encryption_type.iter().any(|t| t == "SSE-C")
            })
        })
    }

    /// SSE-S3 with the given bucket-key flag: what AWS applies to every bucket by default.
    #[must_use]
    pub fn sse_s3(bucket_key_enabled: bool) -> Self {
        Self {
            rules: vec![EncryptionRule {
                default: EncryptionDefault {
                    sse_algorithm: "AES256".into(),
                    kms_master_key_id: None,
                },
                bucket_key_enabled: Some(bucket_key_enabled),
                blocked_encryption_types: None,
            }],
        }
    }
}
