//! The Object Lock configuration (`PutObjectLockConfiguration`) in AWS JSON shape, and the
//! retention rules S3 applies to a locked version.
//!
//! `{"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE" |
//! "COMPLIANCE", "Days": n | "Years": n}}}`.

use crate::refusal::Refusal;
use serde::{Deserialize, Serialize};

/// Milliseconds in a retention day (calendar days: retention is not scaled by `day_seconds`).
pub const DAY_MS: i64 = 86_400_000;

/// A bucket's Object Lock configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct ObjectLockConfiguration {
    /// Always `Enabled` (Object Lock cannot be turned off).
    pub object_lock_enabled: String,
    /// The default retention of new versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<LockRule>,
}

/// `Rule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct LockRule {
    /// `DefaultRetention`.
    pub default_retention: DefaultRetention,
}

/// `DefaultRetention`: a mode and exactly one of days and years.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct DefaultRetention {
    /// `GOVERNANCE` or `COMPLIANCE`.
    pub mode: String,
    /// Days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<i32>,
    /// Years.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<i32>,
}

/// Whether `mode` is a retention mode.
#[must_use]
pub fn is_mode(mode: &str) -> bool {
    mode == "GOVERNANCE" || mode == "COMPLIANCE"
}

impl ObjectLockConfiguration {
    /// The configuration of a bucket created with Object Lock and no default retention.
    #[must_use]
    pub fn enabled() -> Self {
        Self {
            object_lock_enabled: "Enabled".into(),
            rule: None,
        }
    }

    /// AWS's checks.
    ///
    /// # Errors
    /// [`Refusal`].
    pub fn validate(&self) -> Result<(), Refusal> {
        if self.object_lock_enabled != "Enabled" {
            return Err(Refusal::malformed_xml());
        }
        if let Some(rule) = &self.rule {
            let d = &rule.default_retention;
            if !is_mode(&d.mode) {
                return Err(Refusal::malformed_xml());
            }
            match (d.days, d.years) {
                (Some(n), None) | (None, Some(n)) if n > 0 => {}
                (Some(_), None) | (None, Some(_)) => {
                    return Err(Refusal::invalid_argument(
                        "Default retention period must be a positive integer value",
                    ));
                }
                _ => return Err(Refusal::malformed_xml()),
            }
        }
        Ok(())
    }

    /// The default retention of a version written at `now_ms`: its mode and until when.
    #[must_use]
    pub fn default_retention(&self, now_ms: i64) -> Option<(String, i64)> {
        let d = &self.rule.as_ref()?.default_retention;
        let days = match (d.days, d.years) {
            (Some(days), _) => i64::from(days),
            (None, Some(years)) => i64::from(years) * 365,
            (None, None) => return None,
        };
        Some((
            d.mode.clone(),
            now_ms.saturating_add(days.saturating_mul(DAY_MS)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_are_checked_and_defaults_computed() {
        let c: ObjectLockConfiguration = serde_json::from_str(
            r#"{"ObjectLockEnabled":"Enabled","Rule":{"DefaultRetention":{"Mode":"GOVERNANCE","Days":2}}}"#,
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(
            c.default_retention(1000),
            Some(("GOVERNANCE".into(), 1000 + 2 * DAY_MS))
        );
        let mut bad = c.clone();
        bad.rule.as_mut().unwrap().default_retention.years = Some(1);
        assert_eq!(bad.validate().unwrap_err().code, "MalformedXML");
        let mut bad = c.clone();
        bad.rule.as_mut().unwrap().default_retention.days = Some(0);
        assert_eq!(bad.validate().unwrap_err().code, "InvalidArgument");
        let mut bad = c;
        bad.rule.as_mut().unwrap().default_retention.mode = "SOMETIMES".into();
        assert_eq!(bad.validate().unwrap_err().code, "MalformedXML");
        assert_eq!(
            ObjectLockConfiguration::enabled().default_retention(5),
            None
        );
    }
}
