//! The lifecycle configuration (`PutBucketLifecycleConfiguration`) in AWS JSON shape, its
//! validation, and the decision S3 makes for one object version on a given day.
//!
//! `{"Rules": [{"ID", "Status", "Filter": {"Prefix" | "Tag" | "And" | "ObjectSizeGreaterThan"
//! | "ObjectSizeLessThan"}, "Transitions", "Expiration", "NoncurrentVersionTransitions",
//! "NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload"}]}`, as
//! `config/buckets/<bucket>/lifecycle.json`, `aws s3api put-bucket-lifecycle-configuration`
//! and Terraform's `aws_s3_bucket_lifecycle_configuration` use it.
//!
//! Days follow AWS: an action with `Days = n` is due at the first midnight (UTC) at or after
//! creation + n days; a noncurrent version's days count from when the next version was
//! written. The length of a day is a parameter so tests can make it short.

use crate::refusal::{ErrorCode, Refusal};
use serde::{Deserialize, Serialize};

/// At most this many rules, as on AWS.
pub const MAX_RULES: usize = 1000;
/// AWS's default minimum size for transitions (since September 2024): 128 KiB.
pub const MIN_TRANSITION_SIZE: u64 = 128 * 1024;
/// `x-amz-transition-default-minimum-object-size` values.
pub const MIN_SIZE_ALL_128K: &str = "all_storage_classes_128K";
/// The pre-2024 behaviour: small objects may still go to GLACIER and DEEP_ARCHIVE.
pub const MIN_SIZE_VARIES: &str = "varies_by_storage_class";

/// A bucket's lifecycle configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleConfiguration {
    /// The rules.
    #[serde(rename = "Rules")]
    pub rules: Vec<Rule>,
    /// `x-amz-transition-default-minimum-object-size`; absent means AWS's default,
    /// [`MIN_SIZE_ALL_128K`].
    #[serde(
        rename = "TransitionDefaultMinimumObjectSize",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transition_default_minimum_object_size: Option<String>,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Rule {
    /// Its id (at most 255 characters; S3 makes one up when absent).
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `Enabled` or `Disabled`.
    pub status: String,
    /// Which objects the rule applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    /// The deprecated rule-level prefix (instead of `Filter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Transitions of current versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transitions: Vec<Transition>,
    /// Expiration of current versions (or of expired delete markers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Expiration>,
    /// Transitions of noncurrent versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub noncurrent_version_transitions: Vec<NoncurrentVersionTransition>,
    /// Expiration (permanent deletion) of noncurrent versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_version_expiration: Option<NoncurrentVersionExpiration>,
    /// Abort of multipart uploads left incomplete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_incomplete_multipart_upload: Option<AbortIncompleteMultipartUpload>,
}

/// A rule's filter: one predicate, or `And` of several.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Filter {
    /// Key prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// One tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Tag>,
    /// Several predicates, all of which must hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub and: Option<And>,
    /// Objects larger than this many bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_size_greater_than: Option<i64>,
    /// Objects smaller than this many bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_size_less_than: Option<i64>,
}

/// `Filter.And`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct And {
    /// Key prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Tags, all of which the object must carry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// Objects larger than this many bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_size_greater_than: Option<i64>,
    /// Objects smaller than this many bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_size_less_than: Option<i64>,
}

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// A transition of current versions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Transition {
    /// Days after creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<i32>,
    /// A date (midnight UTC, ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// The class to move to.
    pub storage_class: String,
}

/// Expiration of current versions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Expiration {
    /// Days after creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<i32>,
    /// A date (midnight UTC, ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Remove delete markers that no longer hide any version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_object_delete_marker: Option<bool>,
}

/// A transition of noncurrent versions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct NoncurrentVersionTransition {
    /// Days after the version became noncurrent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_days: Option<i32>,
    /// The class to move to.
    pub storage_class: String,
    /// Only versions with at least this many newer noncurrent versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_noncurrent_versions: Option<i32>,
}

/// Expiration of noncurrent versions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct NoncurrentVersionExpiration {
    /// Days after the version became noncurrent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_days: Option<i32>,
    /// Keep this many newer noncurrent versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_noncurrent_versions: Option<i32>,
}

/// Abort of incomplete multipart uploads.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct AbortIncompleteMultipartUpload {
    /// Days after the upload was initiated.
    pub days_after_initiation: i32,
}

/// Milliseconds since the epoch of a lifecycle `Date`, which must be midnight UTC
/// (`2026-01-01T00:00:00Z`, `…00.000Z`, or `2026-01-01`).
///
/// # Errors
/// `InvalidArgument` as AWS words it.
pub fn parse_date(text: &str) -> Result<i64, Refusal> {
    use time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| time::OffsetDateTime::parse(&format!("{text}T00:00:00Z"), &Rfc3339))
        .map_err(|_| Refusal::malformed_xml())?
        .to_offset(time::UtcOffset::UTC);
    if t.time() != time::Time::MIDNIGHT {
        return Err(Refusal::invalid_argument("'Date' must be at midnight GMT"));
    }
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).map_err(|_| Refusal::malformed_xml())
}

mod decide;
mod validate;

pub use decide::{Decision, State, Subject, Version};

impl LifecycleConfiguration {
    /// Parses and validates the JSON document.
    ///
    /// # Errors
    /// [`Refusal`] as S3 answers PutBucketLifecycleConfiguration.
    pub fn parse(json: &str) -> Result<Self, Refusal> {
        let c: Self = serde_json::from_str(json).map_err(|e| {
            Refusal::new(
                ErrorCode::MalformedXML,
                format!("The lifecycle configuration does not parse: {e}"),
            )
        })?;
        c.validate()?;
        Ok(c)
    }

    /// The minimum-size behaviour in force.
    #[must_use]
    pub fn min_size_behaviour(&self) -> &str {
        self.transition_default_minimum_object_size
            .as_deref()
            .unwrap_or(MIN_SIZE_ALL_128K)
    }
}

/// The first midnight (a multiple of `day_ms` since the epoch) at or after `base + days`.
#[must_use]
pub fn due_after(base_ms: i64, days: i32, day_ms: i64) -> i64 {
    let t = base_ms.saturating_add(i64::from(days).saturating_mul(day_ms));
    let rem = t.rem_euclid(day_ms);
    if rem == 0 {
        t
    } else {
        t.saturating_add(day_ms - rem)
    }
}
impl Rule {
    /// Whether the rule is on.
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.status == "Enabled"
    }

    /// The rule's ID, or the name used in counters when it has none.
    #[must_use]
    pub fn label(&self) -> String {
        self.id.clone().unwrap_or_else(|| "(no id)".into())
    }

    /// The key prefix the rule applies to (empty: every key).
    #[must_use]
    pub fn key_prefix(&self) -> &str {
        let f = self.filter.as_ref();
        f.and_then(|f| f.prefix.as_deref())
            .or_else(|| f.and_then(|f| f.and.as_ref()?.prefix.as_deref()))
            .or(self.prefix.as_deref())
            .unwrap_or("")
    }

    fn tags(&self) -> Vec<&Tag> {
        let Some(f) = &self.filter else {
            return Vec::new();
        };
        let mut t: Vec<&Tag> = f.tag.iter().collect();
        if let Some(a) = &f.and {
            t.extend(&a.tags);
        }
        t
    }

    fn size_bounds(&self) -> (Option<i64>, Option<i64>) {
        let Some(f) = &self.filter else {
            return (None, None);
        };
        let a = f.and.as_ref();
        (
            f.object_size_greater_than
                .or_else(|| a?.object_size_greater_than),
            f.object_size_less_than.or_else(|| a?.object_size_less_than),
        )
    }

    fn has_size_filter(&self) -> bool {
        let (gt, lt) = self.size_bounds();
        gt.is_some() || lt.is_some()
    }

    /// Whether the filter selects this object.
    #[must_use]
    pub fn matches(&self, obj: &Subject<'_>) -> bool {
        let size = i64::try_from(obj.size).unwrap_or(i64::MAX);
        let (gt, lt) = self.size_bounds();
        obj.key.starts_with(self.key_prefix())
            && gt.is_none_or(|g| size > g)
            && lt.is_none_or(|l| size < l)
            && self
                .tags()
                .iter()
                .all(|t| obj.tags.get(&t.key) == Some(&t.value))
    }
}

#[cfg(test)]
mod tests;
