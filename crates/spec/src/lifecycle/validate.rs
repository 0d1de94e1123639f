//! AWS's checks of a lifecycle configuration, with AWS's codes and messages.

use crate::storage_class::StorageClass;

use super::{
    LifecycleConfiguration, MAX_RULES, MIN_SIZE_ALL_128K, MIN_SIZE_VARIES, Rule, parse_date,
};
use crate::refusal::Refusal;

impl LifecycleConfiguration {
    /// AWS's checks.
    ///
    /// # Errors
    /// [`Refusal`] naming the first problem.
    pub fn validate(&self) -> Result<(), Refusal> {
        if self.rules.is_empty() {
            return Err(Refusal::malformed_xml());
        }
        if self.rules.len() > MAX_RULES {
            return Err(Refusal::invalid_argument(format!(
                "The number of lifecycle rules should not exceed allowed limit of {MAX_RULES} rules"
            )));
        }
        if let Some(m) = &self.transition_default_minimum_object_size
            && m != MIN_SIZE_ALL_128K
            && m != MIN_SIZE_VARIES
        {
            return Err(Refusal::invalid_argument(format!(
                "Invalid value for x-amz-transition-default-minimum-object-size: {m}"
            )));
        }
        let mut ids = std::collections::HashSet::new();
        for rule in &self.rules {
            rule.validate()?;
            if let Some(id) = &rule.id
                && !ids.insert(id.as_str())
            {
                return Err(Refusal::invalid_argument(
                    "Rule ID must be unique. Found same ID for more than one rule",
                ));
            }
        }
        Ok(())
    }
}

impl Rule {
    fn validate(&self) -> Result<(), Refusal> {
        if self.status != "Enabled" && self.status != "Disabled" {
            return Err(Refusal::malformed_xml());
        }
        if self.id.as_ref().is_some_and(|id| id.len() > 255) {
            return Err(Refusal::invalid_argument(
                "ID length should not exceed allowed limit of 255",
            ));
        }
        if self.filter.is_some() && self.prefix.is_some() {
            return Err(Refusal::malformed_xml());
        }
        if let Some(f) = &self.filter {
            let set = usize::from(f.prefix.is_some())
                + usize::from(f.tag.is_some())
                + usize::from(f.and.is_some())
                + usize::from(f.object_size_greater_than.is_some())
                + usize::from(f.object_size_less_than.is_some());
            if set > 1 {
                return Err(Refusal::malformed_xml());
            }
        }
        let (gt, lt) = self.size_bounds();
        if gt.is_some_and(|g| g < 0) || lt.is_some_and(|l| l <= 0) {
            return Err(Refusal::invalid_argument(
                "Object size in the filter must be a non-negative number",
            ));
        }
        if let (Some(g), Some(l)) = (gt, lt)
            && g >= l
        {
            return Err(Refusal::invalid_argument(
                "ObjectSizeGreaterThan must be less than ObjectSizeLessThan",
            ));
        }
        let tags = self.tags();
        let mut keys = std::collections::HashSet::new();
        if tags.iter().any(|t| !keys.insert(t.key.as_str())) {
            return Err(Refusal::invalid_argument(
                "Duplicate Tag Keys are not allowed.",
            ));
        }
        if self.transitions.is_empty()
            && self.expiration.is_none()
            && self.noncurrent_version_transitions.is_empty()
            && self.noncurrent_version_expiration.is_none()
            && self.abort_incomplete_multipart_upload.is_none()
        {
            return Err(Refusal::invalid_request(
                "At least one action needs to be specified in a rule",
            ));
        }
        if let Some(a) = &self.abort_incomplete_multipart_upload {
            if !tags.is_empty() || self.has_size_filter() {
                return Err(Refusal::invalid_request(
                    "AbortIncompleteMultipartUpload cannot be specified with Tags.",
                ));
            }
            if a.days_after_initiation <= 0 {
                return Err(Refusal::invalid_argument(
                    "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
                ));
            }
        }
        let mut transition_days = None;
        if let Some(e) = &self.expiration {
            let set = usize::from(e.days.is_some())
                + usize::from(e.date.is_some())
                + usize::from(e.expired_object_delete_marker.is_some());
            if set != 1 {
                return Err(Refusal::malformed_xml());
            }
            if e.days.is_some_and(|d| d <= 0) {
                return Err(Refusal::invalid_argument(
                    "'Days' for Expiration action must be a positive integer",
                ));
            }
            if let Some(d) = &e.date {
                parse_date(d)?;
            }
            if e.expired_object_delete_marker.is_some() && !tags.is_empty() {
                return Err(Refusal::invalid_request(
                    "ExpiredObjectDeleteMarker cannot be specified with Tags.",
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for t in &self.transitions {
            check_class(&t.storage_class)?;
            if !seen.insert(t.storage_class.as_str()) {
                return Err(Refusal::invalid_argument(format!(
                    "'StorageClass' must be different for 'Transition' actions in same 'Rule' with prefix '{}'",
                    self.key_prefix()
                )));
            }
            match (t.days, &t.date) {
                (Some(d), None) => {
                    if d < 0 {
                        return Err(Refusal::invalid_argument(
                            "'Days' in Transition action must be nonnegative",
                        ));
                    }
                    if StorageClass::parse(&t.storage_class)
                        .is_some_and(StorageClass::is_infrequent_access)
                        && d < 30
                    {
                        return Err(Refusal::invalid_argument(format!(
                            "'Days' in Transition action must be greater than or equal to 30 for storageClass '{}'",
                            t.storage_class
                        )));
                    }
                    transition_days = transition_days.max(Some(d));
                }
                (None, Some(date)) => {
                    parse_date(date)?;
                }
                _ => return Err(Refusal::malformed_xml()),
            }
        }
        if self.transitions.iter().any(|t| t.days.is_some())
            && self.transitions.iter().any(|t| t.date.is_some())
        {
            return Err(Refusal::invalid_argument(
                "Found mixed 'Date' and 'Days' based Transition actions in lifecycle rule",
            ));
        }
        if let (Some(td), Some(ed)) = (
            transition_days,
            self.expiration.as_ref().and_then(|e| e.days),
        ) && ed <= td
        {
            return Err(Refusal::invalid_argument(format!(
                "'Days' in the Expiration action for filter '{}' must be greater than 'Days' in the Transition action",
                self.key_prefix()
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for t in &self.noncurrent_version_transitions {
            check_class(&t.storage_class)?;
            if !seen.insert(t.storage_class.as_str()) {
                return Err(Refusal::invalid_argument(
                    "'StorageClass' must be different for 'NoncurrentVersionTransition' actions in same 'Rule'",
                ));
            }
            let Some(d) = t.noncurrent_days else {
                return Err(Refusal::malformed_xml());
            };
            if d < 0 {
                return Err(Refusal::invalid_argument(
                    "'NoncurrentDays' in NoncurrentVersionTransition action must be nonnegative",
                ));
            }
            if StorageClass::parse(&t.storage_class).is_some_and(StorageClass::is_infrequent_access)
                && d < 30
            {
                return Err(Refusal::invalid_argument(format!(
                    "'NoncurrentDays' in NoncurrentVersionTransition action must be greater than or equal to 30 for storageClass '{}'",
                    t.storage_class
                )));
            }
            check_newer(t.newer_noncurrent_versions)?;
        }
        if let Some(e) = &self.noncurrent_version_expiration {
            match e.noncurrent_days {
                Some(d) if d > 0 => {}
                Some(_) => {
                    return Err(Refusal::invalid_argument(
                        "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
                    ));
                }
                None => return Err(Refusal::malformed_xml()),
            }
            check_newer(e.newer_noncurrent_versions)?;
        }
        Ok(())
    }
}

fn check_class(class: &str) -> Result<(), Refusal> {
    if StorageClass::parse(class)
        .and_then(StorageClass::waterfall_depth)
        .is_none()
    {
        return Err(Refusal::malformed_xml());
    }
    Ok(())
}

fn check_newer(n: Option<i32>) -> Result<(), Refusal> {
    if n.is_some_and(|n| !(1..=100).contains(&n)) {
        return Err(Refusal::invalid_argument(
            "NewerNoncurrentVersions must be a positive integer up to 100",
        ));
    }
    Ok(())
}
