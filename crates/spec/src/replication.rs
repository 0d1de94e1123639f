//! The replication configuration (`PutBucketReplication`) in AWS JSON shape, its validation as
//! AWS validates it, and which rule (if any) replicates a given object version.
//!
//! `{"Role": "arn:aws:iam::<account>:role/<name>", "Rules": [{"ID", "Priority", "Status",
//! "Filter": {"Prefix" | "Tag" | "And": {"Prefix", "Tags"}}, "Prefix" (the older schema, instead
//! of "Filter"), "DeleteMarkerReplication": {"Status"}, "ExistingObjectReplication": {"Status"},
//! "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status"}, "ReplicaModifications":
//! {"Status"}}, "Destination": {"Bucket": "arn:aws:s3:::<bucket>", "Account", "StorageClass",
//! "AccessControlTranslation": {"Owner": "Destination"}, "EncryptionConfiguration":
//! {"ReplicaKmsKeyID"}, "ReplicationTime": {"Status", "Time": {"Minutes": 15}}, "Metrics":
//! {"Status", "EventThreshold": {"Minutes": 15}}}}]}`, as `aws s3api put-bucket-replication`
//! and Terraform's `aws_s3_bucket_replication_configuration` send it.
//!
//! What replicates (as on AWS): new versions the rule's filter selects, delete markers when
//! the rule enables `DeleteMarkerReplication` (the older, `Prefix`-only schema always
//! replicates them), never the deletion of a specific version. Objects encrypted with SSE-KMS
//! only with `SourceSelectionCriteria.SseKmsEncryptedObjects` enabled; SSE-C objects never.
//! Among matching rules the one with the highest `Priority` wins.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::refusal::Refusal;
use crate::storage_class::StorageClass;

/// At most this many rules, as on AWS.
pub const MAX_RULES: usize = 1000;
/// A rule id's longest length.
pub const MAX_ID_LEN: usize = 255;
/// The one value AWS accepts for `ReplicationTime.Time.Minutes` and
/// `Metrics.EventThreshold.Minutes`.
pub const RTC_MINUTES: i32 = 15;

/// The header a leadshop destination reads on a replica's PutObject or DeleteObject: the
/// source version it copies (`<source bucket>/<version id>`). It asks for
/// `s3:ReplicateObject` / `s3:ReplicateDelete`; a second delivery of the same source version is
/// answered with the first replica instead of stored again.
pub const REPLICA_HEADER: &str = "x-leadshop-replica-of";

const ENABLED: &str = "Enabled";
const DISABLED: &str = "Disabled";

/// A bucket's replication configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct ReplicationConfiguration {
    /// The IAM role S3 would assume (validated; leadshop replicates as itself).
    pub role: String,
    /// The rules.
    pub rules: Vec<Rule>,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Rule {
    /// Its id (at most 255 characters; S3 makes one up when absent).
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Higher wins when rules overlap (the `Filter` schema).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// `Enabled` or `Disabled`.
    pub status: String,
    /// Which objects (the current schema).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    /// Which objects (the older schema, instead of `Filter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Whether delete markers replicate (required with `Filter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_marker_replication: Option<StatusOnly>,
    /// Whether objects written before the configuration replicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_object_replication: Option<StatusOnly>,
    /// SSE-KMS objects, replica modifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_selection_criteria: Option<SourceSelectionCriteria>,
    /// Where replicas go.
    pub destination: Destination,
}

/// `{"Status": "Enabled" | "Disabled"}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct StatusOnly {
    /// `Enabled` or `Disabled`.
    pub status: String,
}

impl StatusOnly {
    fn enabled(this: Option<&Self>) -> bool {
        this.is_some_and(|s| s.status == ENABLED)
    }
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
    /// A prefix and tags, all of which must hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub and: Option<And>,
}

/// `Filter.And`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct And {
    /// Key prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Tags the object must carry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// A tag (the lifecycle configuration's, the same shape).
pub use crate::lifecycle::Tag;

/// `SourceSelectionCriteria`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct SourceSelectionCriteria {
    /// Whether SSE-KMS objects replicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse_kms_encrypted_objects: Option<StatusOnly>,
    /// Whether changes made to replicas replicate back (two-way replication).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_modifications: Option<StatusOnly>,
}

/// Where a rule's replicas go.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Destination {
    /// The destination bucket's ARN (`arn:aws:s3:::<bucket>`).
    pub bucket: String,
    /// The destination bucket owner's account (with `AccessControlTranslation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The replicas' storage class; absent: the source's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// `{"Owner": "Destination"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_control_translation: Option<AccessControlTranslation>,
    /// `{"ReplicaKmsKeyID"}`: the key SSE-KMS replicas are encrypted with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_configuration: Option<EncryptionConfiguration>,
    /// S3 Replication Time Control.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_time: Option<ReplicationTime>,
    /// Replication metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
}

/// `AccessControlTranslation`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct AccessControlTranslation {
    /// `Destination`.
    pub owner: String,
}

/// `EncryptionConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionConfiguration {
    /// The KMS key for SSE-KMS replicas.
    #[serde(
        rename = "ReplicaKmsKeyID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub replica_kms_key_id: Option<String>,
}

/// `ReplicationTime`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct ReplicationTime {
    /// `Enabled` or `Disabled`.
    pub status: String,
    /// `{"Minutes": 15}`.
    pub time: Minutes,
}

/// `Metrics`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Metrics {
    /// `Enabled` or `Disabled`.
    pub status: String,
    /// `{"Minutes": 15}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_threshold: Option<Minutes>,
}

/// `{"Minutes": n}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Minutes {
    /// Minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<i32>,
}

/// The object version a rule is asked about.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// Object key.
    pub key: &'a str,
    /// Its tags.
    pub tags: &'a BTreeMap<String, String>,
    /// A delete marker.
    pub delete_marker: bool,
    /// Encrypted with SSE-KMS (or DSSE-KMS).
    pub kms: bool,
    /// Encrypted with a customer's key (never replicated, as on AWS).
    pub customer_key: bool,
    /// Itself a replica (replicates only with `ReplicaModifications`).
    pub replica: bool,
}

/// The bucket name of an S3 bucket ARN (`arn:aws:s3:::<bucket>`, any partition), if it is one.
#[must_use]
pub fn bucket_of_arn(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    let bucket = rest.strip_prefix("s3:::")?;
    let ok = matches!(partition, "aws" | "aws-cn" | "aws-us-gov")
        && (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    ok.then_some(bucket)
}

fn is_role_arn(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:") else {
        return false;
    };
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    let [partition, "iam", "", account, resource] = parts.as_slice() else {
        return false;
    };
    let name = resource.strip_prefix("role/").unwrap_or_default();
    matches!(*partition, "aws" | "aws-cn" | "aws-us-gov")
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty()
        && name.len() <= 512
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
}

fn check_status(status: &str) -> Result<(), Refusal> {
    if status == ENABLED || status == DISABLED {
        Ok(())
    } else {
        Err(Refusal::malformed_xml())
    }
}

impl ReplicationConfiguration {
    /// Parses the JSON document.
    ///
    /// # Errors
    /// `MalformedXML` for a document that is not one.
    pub fn parse(json: &str) -> Result<Self, Refusal> {
        serde_json::from_str(json).map_err(|_| Refusal::malformed_xml())
    }

    /// Checks the configuration as AWS does before storing it (what the destination must be —
    /// an existing, versioned bucket — is the server's to check).
    ///
    /// # Errors
    /// `InvalidArgument`, `InvalidRequest` or `MalformedXML`, worded as AWS words them.
    pub fn validate(&self) -> Result<(), Refusal> {
        if !is_role_arn(&self.role) {
            return Err(Refusal::invalid_argument(
                "Invalid ReplicationConfiguration Role",
            ));
        }
        if self.rules.is_empty() || self.rules.len() > MAX_RULES {
            return Err(Refusal::malformed_xml());
        }
        let filtered = self.rules.iter().filter(|r| r.filter.is_some()).count();
        if filtered != 0 && filtered != self.rules.len() {
            return Err(Refusal::invalid_request(
                "Rules using Filter and rules using Prefix may not be mixed in one configuration",
            ));
        }
        let mut ids = std::collections::BTreeSet::new();
        let mut priorities = std::collections::BTreeSet::new();
        for rule in &self.rules {
            rule.validate()?;
            if let Some(id) = &rule.id
                && !ids.insert(id.as_str())
            {
                return Err(Refusal::invalid_argument("Rule Id must be unique"));
            }
            if rule.filter.is_some() {
                let p = rule.priority.unwrap_or(0);
                if !priorities.insert(p) {
                    return Err(Refusal::invalid_request(
                        "Found overlapping priorities. Priority must be unique for each rule",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The rule that replicates `subject` and its index: the enabled matching rule with the
    /// highest priority (among equals, the first). `None`: it does not replicate.
    #[must_use]
    pub fn rule_for(&self, subject: &Subject<'_>) -> Option<(usize, &Rule)> {
        self.rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.replicates(subject))
            .fold(None, |best: Option<(usize, &Rule)>, (i, r)| match best {
                Some((_, b)) if b.priority.unwrap_or(0) >= r.priority.unwrap_or(0) => best,
                _ => Some((i, r)),
            })
    }

    /// The rule with this id (as [`Rule::label`] names it).
    #[must_use]
    pub fn rule(&self, label: &str) -> Option<&Rule> {
        self.rules
            .iter()
            .enumerate()
            .find(|(i, r)| r.label(*i) == label)
            .map(|(_, r)| r)
    }
}

impl Rule {
    /// Its id, or `rule-<n>` (1-based) when it has none.
    #[must_use]
    pub fn label(&self, index: usize) -> String {
        self.id
            .clone()
            .unwrap_or_else(|| format!("rule-{}", index + 1))
    }

    /// Whether the rule is enabled.
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.status == ENABLED
    }

    /// Whether delete markers replicate under this rule (the older schema: always).
    #[must_use]
    pub fn replicates_delete_markers(&self) -> bool {
        self.filter.is_none() || StatusOnly::enabled(self.delete_marker_replication.as_ref())
    }

    /// Whether existing objects replicate under this rule.
    #[must_use]
    pub fn replicates_existing(&self) -> bool {
        StatusOnly::enabled(self.existing_object_replication.as_ref())
    }

    /// Whether the rule enables replication metrics.
    #[must_use]
    pub fn metrics_enabled(&self) -> bool {
        self.destination
            .metrics
            .as_ref()
            .is_some_and(|m| m.status == ENABLED)
    }

    /// The destination bucket's name.
    #[must_use]
    pub fn destination_bucket(&self) -> &str {
        bucket_of_arn(&self.destination.bucket).unwrap_or_default()
    }

    /// The replicas' storage class, if the rule sets one.
    #[must_use]
    pub fn storage_class(&self) -> Option<StorageClass> {
        self.destination
            .storage_class
            .as_deref()
            .and_then(StorageClass::parse)
    }

    fn prefix(&self) -> &str {
        match &self.filter {
            Some(f) => f
                .prefix
                .as_deref()
                .or_else(|| f.and.as_ref().and_then(|a| a.prefix.as_deref()))
                .unwrap_or_default(),
            None => self.prefix.as_deref().unwrap_or_default(),
        }
    }

    fn tags(&self) -> Vec<&Tag> {
        match &self.filter {
            Some(f) => f
                .tag
                .iter()
                .chain(f.and.iter().flat_map(|a| a.tags.iter()))
                .collect(),
            None => Vec::new(),
        }
    }

    /// Whether this rule replicates `s`.
    #[must_use]
    pub fn replicates(&self, s: &Subject<'_>) -> bool {
        let sse_kms = self
            .source_selection_criteria
            .as_ref()
            .and_then(|c| c.sse_kms_encrypted_objects.as_ref());
        let replica_modifications = self
            .source_selection_criteria
            .as_ref()
            .and_then(|c| c.replica_modifications.as_ref());
        self.enabled()
            && s.key.starts_with(self.prefix())
            && (!s.delete_marker || self.replicates_delete_markers())
            // A delete marker carries no tags: a rule that filters on tags never sends one.
            && (s.delete_marker && self.tags().is_empty()
                || !s.delete_marker
                    && self
                        .tags()
                        .iter()
                        .all(|t| s.tags.get(&t.key) == Some(&t.value)))
            && !s.customer_key
            && (!s.kms || StatusOnly::enabled(sse_kms))
            && (!s.replica || StatusOnly::enabled(replica_modifications))
    }

    fn validate(&self) -> Result<(), Refusal> {
        if self.id.as_ref().is_some_and(|id| id.len() > MAX_ID_LEN) {
            return Err(Refusal::invalid_argument(
                "ID length should not exceed allowed limit of 255",
            ));
        }
        check_status(&self.status)?;
        if let Some(f) = &self.filter {
            let predicates = usize::from(f.prefix.is_some())
                + usize::from(f.tag.is_some())
                + usize::from(f.and.is_some());
            if predicates > 1 {
                return Err(Refusal::malformed_xml());
            }
            if self.prefix.is_some() {
                return Err(Refusal::malformed_xml());
            }
            if self.delete_marker_replication.is_none() {
                return Err(Refusal::invalid_request(
                    "DeleteMarkerReplication must be specified for this version of Cross Region Replication configuration schema.",
                ));
            }
            let mut keys = std::collections::BTreeSet::new();
            for t in self.tags() {
                if t.key.is_empty() || t.key.len() > 128 || t.value.len() > 256 {
                    return Err(Refusal::invalid_argument("Invalid Tag in the Filter"));
                }
                if !keys.insert(t.key.as_str()) {
                    return Err(Refusal::invalid_argument(
                        "Duplicate Tag Keys are not allowed.",
                    ));
                }
            }
            if !self.tags().is_empty() && self.replicates_delete_markers() {
                return Err(Refusal::invalid_request(
                    "Delete marker replication is not supported if any Tag filter is specified.",
                ));
            }
        } else {
            if self.priority.is_some() || self.existing_object_replication.is_some() {
                return Err(Refusal::invalid_request(
                    "Priority and ExistingObjectReplication need the Filter schema (a rule with Filter, not Prefix)",
                ));
            }
            if self.delete_marker_replication.is_some() {
                return Err(Refusal::invalid_request(
                    "DeleteMarkerReplication cannot be specified for this version of Cross Region Replication configuration schema.",
                ));
            }
        }
        for s in [
            self.delete_marker_replication.as_ref(),
            self.existing_object_replication.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            check_status(&s.status)?;
        }
        let criteria = self.source_selection_criteria.clone().unwrap_or_default();
        for s in [
            criteria.sse_kms_encrypted_objects.as_ref(),
            criteria.replica_modifications.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            check_status(&s.status)?;
        }
        self.validate_destination(StatusOnly::enabled(
            criteria.sse_kms_encrypted_objects.as_ref(),
        ))
    }

    fn validate_destination(&self, sse_kms: bool) -> Result<(), Refusal> {
        let d = &self.destination;
        if bucket_of_arn(&d.bucket).is_none() {
            return Err(Refusal::invalid_argument("Invalid bucket ARN."));
        }
        if let Some(class) = &d.storage_class {
            match StorageClass::parse(class) {
                Some(_) => {}
                None => {
                    return Err(Refusal::invalid_argument(format!(
                        "Invalid storage class {class} for the destination"
                    )));
                }
            }
        }
        if let Some(account) = &d.account
            && !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(Refusal::invalid_argument("Invalid Account Id"));
        }
        if let Some(t) = &d.access_control_translation {
            if t.owner != "Destination" {
                return Err(Refusal::malformed_xml());
            }
            if d.account.is_none() {
                return Err(Refusal::invalid_request(
                    "Account must be specified when AccessControlTranslation is specified",
                ));
            }
        }
        let replica_key = d
            .encryption_configuration
            .as_ref()
            .and_then(|e| e.replica_kms_key_id.as_deref());
        match (sse_kms, replica_key) {
            (true, None) => {
                return Err(Refusal::invalid_request(
                    "ReplicaKmsKeyID must be specified if SseKmsEncryptedObjects tag is present.",
                ));
            }
            (false, Some(_)) => {
                return Err(Refusal::invalid_request(
                    "SseKmsEncryptedObjects must be specified if EncryptionConfiguration is present.",
                ));
            }
            _ => {}
        }
        for (status, minutes, what) in [
            d.replication_time
                .as_ref()
                .map(|t| (t.status.as_str(), t.time.minutes, "ReplicationTime")),
            d.metrics.as_ref().map(|m| {
                (
                    m.status.as_str(),
                    m.event_threshold.as_ref().and_then(|t| t.minutes),
                    "Metrics",
                )
            }),
        ]
        .into_iter()
        .flatten()
        {
            check_status(status)?;
            let required = what == "ReplicationTime";
            if status == ENABLED
                && (minutes.is_some_and(|m| m != RTC_MINUTES) || required && minutes.is_none())
            {
                return Err(Refusal::invalid_argument(format!(
                    "{what} Minutes must be {RTC_MINUTES}"
                )));
            }
        }
        let rtc = d
            .replication_time
            .as_ref()
            .is_some_and(|t| t.status == ENABLED);
        if rtc && !self.metrics_enabled() {
            return Err(Refusal::invalid_request(
                "Replication Time Control (RTC) must be specified with Metrics enabled.",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::123456789012:role/leadshop-replication";

    fn rule(json: serde_json::Value) -> Rule {
        serde_json::from_value(json).unwrap()
    }

    fn config(rules: Vec<serde_json::Value>) -> ReplicationConfiguration {
        ReplicationConfiguration {
            role: ROLE.into(),
            rules: rules.into_iter().map(rule).collect(),
        }
    }

    fn filtered(id: &str, priority: i32, filter: serde_json::Value) -> serde_json::Value {
        serde_json::json!({
            "ID": id, "Priority": priority, "Status": "Enabled", "Filter": filter,
            "DeleteMarkerReplication": {"Status": "Enabled"},
            "Destination": {"Bucket": "arn:aws:s3:::replica"}
        })
    }

    fn subject<'a>(key: &'a str, tags: &'a BTreeMap<String, String>) -> Subject<'a> {
        Subject {
            key,
            tags,
            delete_marker: false,
            kms: false,
            customer_key: false,
            replica: false,
        }
    }

    fn refused(c: &ReplicationConfiguration) -> String {
        let r = c.validate().unwrap_err();
        format!("{} {}", r.code.as_str(), r.message)
    }

    #[test]
    fn a_configuration_as_terraform_sends_it_is_accepted() {
        let c = config(vec![serde_json::json!({
            "ID": "all", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": ""},
            "DeleteMarkerReplication": {"Status": "Enabled"},
            "ExistingObjectReplication": {"Status": "Disabled"},
            "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
            "Destination": {
                "Bucket": "arn:aws:s3:::leadshop-assets-replica", "StorageClass": "STANDARD_IA",
                "EncryptionConfiguration": {"ReplicaKmsKeyID": "alias/replica"},
                "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
                "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}
            }
        })]);
        c.validate().unwrap();
        assert_eq!(c.rules[0].destination_bucket(), "leadshop-assets-replica");
        assert_eq!(c.rules[0].storage_class(), Some(StorageClass::StandardIa));
    }

    #[test]
    fn what_aws_refuses_is_refused() {
        let mut c = config(vec![filtered("a", 1, serde_json::json!({"Prefix": ""}))]);
        c.role = "arn:aws:iam::123:role/x".into();
        assert!(
            refused(&c).starts_with("InvalidArgument"),
            "{}",
            refused(&c)
        );
        let c = config(vec![
            filtered("a", 1, serde_json::json!({"Prefix": "a/"})),
            filtered("a", 2, serde_json::json!({"Prefix": "b/"})),
        ]);
        assert!(refused(&c).contains("unique"));
        let c = config(vec![
            filtered("a", 1, serde_json::json!({"Prefix": "a/"})),
            filtered("b", 1, serde_json::json!({"Prefix": "b/"})),
        ]);
        assert!(refused(&c).starts_with("InvalidRequest"));
        let mut r = filtered("a", 1, serde_json::json!({"Prefix": ""}));
        r.as_object_mut().unwrap().remove("DeleteMarkerReplication");
        assert!(refused(&config(vec![r])).contains("DeleteMarkerReplication must be specified"));
        let mut r = filtered("a", 1, serde_json::json!({"Prefix": ""}));
        r["Destination"]["Bucket"] = "leadshop-assets-replica".into();
        assert!(refused(&config(vec![r])).contains("Invalid bucket ARN"));
        let mut r = filtered("a", 1, serde_json::json!({"Prefix": ""}));
        r["Destination"]["AccessControlTranslation"] = serde_json::json!({"Owner": "Destination"});
        assert!(refused(&config(vec![r])).contains("Account must be specified"));
        let mut r = filtered("a", 1, serde_json::json!({"Prefix": ""}));
        r["Destination"]["ReplicationTime"] =
            serde_json::json!({"Status": "Enabled", "Time": {"Minutes": 15}});
        assert!(refused(&config(vec![r])).contains("Metrics enabled"));
        let mut r = filtered("a", 1, serde_json::json!({"Prefix": ""}));
        r["Destination"]["Metrics"] =
            serde_json::json!({"Status": "Enabled", "EventThreshold": {"Minutes": 10}});
        assert!(refused(&config(vec![r])).contains("Minutes must be 15"));
        let mut r = filtered("a", 1, serde_json::json!({"Prefix": ""}));
        r["SourceSelectionCriteria"] =
            serde_json::json!({"SseKmsEncryptedObjects": {"Status": "Enabled"}});
        assert!(refused(&config(vec![r])).contains("ReplicaKmsKeyID must be specified"));
        let mut r = filtered(
            "a",
            1,
            serde_json::json!({"Tag": {"Key": "k", "Value": "v"}}),
        );
        assert!(refused(&config(vec![r.clone()])).contains("Tag filter"));
        r["DeleteMarkerReplication"]["Status"] = "Disabled".into();
        config(vec![r]).validate().unwrap();
        let mut r = filtered("a", 1, serde_json::json!({"Prefix": ""}));
        r["Destination"]["StorageClass"] = "FAST".into();
        assert!(refused(&config(vec![r])).contains("Invalid storage class"));
        assert!(
            ReplicationConfiguration::parse(r#"{"Role": "x", "Rules": [], "Extra": 1}"#).is_err()
        );
        assert!(refused(&config(vec![])).starts_with("MalformedXML"));
    }

    #[test]
    fn the_highest_priority_matching_rule_replicates() {
        let mut r2 = filtered(
            "tagged",
            5,
            serde_json::json!({"And": {"Prefix": "reports/", "Tags": [{"Key": "keep", "Value": "yes"}]}}),
        );
        r2["DeleteMarkerReplication"]["Status"] = "Disabled".into();
        let c = config(vec![
            filtered("all", 1, serde_json::json!({"Prefix": ""})),
            r2,
        ]);
        c.validate().unwrap();
        let none = BTreeMap::new();
        let keep = BTreeMap::from([("keep".to_string(), "yes".to_string())]);
        assert_eq!(
            c.rule_for(&subject("reports/a", &keep)).unwrap().1.label(1),
            "tagged"
        );
        assert_eq!(
            c.rule_for(&subject("reports/a", &none)).unwrap().1.label(0),
            "all"
        );
        let marker = Subject {
            delete_marker: true,
            ..subject("reports/a", &none)
        };
        assert_eq!(c.rule_for(&marker).unwrap().1.label(0), "all");
        let ssec = Subject {
            customer_key: true,
            ..subject("x", &none)
        };
        assert!(c.rule_for(&ssec).is_none());
        let kms = Subject {
            kms: true,
            ..subject("x", &none)
        };
        assert!(
            c.rule_for(&kms).is_none(),
            "SSE-KMS only with SseKmsEncryptedObjects"
        );
        let replica = Subject {
            replica: true,
            ..subject("x", &none)
        };
        assert!(
            c.rule_for(&replica).is_none(),
            "replicas only with ReplicaModifications"
        );
        let mut disabled = c.clone();
        for r in &mut disabled.rules {
            r.status = "Disabled".into();
        }
        assert!(disabled.rule_for(&subject("reports/a", &keep)).is_none());
    }

    #[test]
    fn the_older_schema_replicates_delete_markers_and_takes_no_priority() {
        let c = config(vec![serde_json::json!({
            "ID": "old", "Status": "Enabled", "Prefix": "logs/",
            "Destination": {"Bucket": "arn:aws:s3:::replica"}
        })]);
        c.validate().unwrap();
        let none = BTreeMap::new();
        let marker = Subject {
            delete_marker: true,
            ..subject("logs/x", &none)
        };
        assert!(c.rule_for(&marker).is_some());
        assert!(c.rule_for(&subject("other", &none)).is_none());
        let mut with_priority = c.clone();
        with_priority.rules[0].priority = Some(1);
        assert!(with_priority.validate().is_err());
    }
}
