//! Server access logging (`PutBucketLogging`'s `BucketLoggingStatus`) in AWS JSON shape, as
//! `config/buckets/<bucket>/logging.json` and Terraform's `aws_s3_bucket_logging` hold it,
//! and how AWS names the log objects it delivers.
//!
//! `{"LoggingEnabled": {"TargetBucket", "TargetPrefix", "TargetObjectKeyFormat":
//! {"SimplePrefix": {}} | {"PartitionedPrefix": {"PartitionDateSource": "EventTime" |
//! "DeliveryTime"}}}}`; `{}` turns logging off.

use crate::refusal::{ErrorCode, Refusal};
use serde::{Deserialize, Serialize};

/// The service principal a target bucket's policy must let write log objects.
pub const LOGGING_SERVICE: &str = "logging.s3.amazonaws.com";

/// A bucket's logging status; `logging_enabled: None` is off.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct BucketLoggingStatus {
    /// Where the logs go, when logging is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging_enabled: Option<LoggingEnabled>,
}

/// Where and how log objects are delivered.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct LoggingEnabled {
    /// The bucket log objects are written to.
    pub target_bucket: String,
    /// Prepended to every log object's key (may be empty).
    #[serde(default)]
    pub target_prefix: String,
    /// How log object keys are made; `None` is `SimplePrefix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_object_key_format: Option<TargetObjectKeyFormat>,
}

/// `TargetObjectKeyFormat`: one of its two members.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct TargetObjectKeyFormat {
    /// `{}`: `[prefix]YYYY-mm-DD-HH-MM-SS-[unique]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simple_prefix: Option<serde_json::Map<String, serde_json::Value>>,
    /// `[prefix][account]/[region]/[bucket]/YYYY/mm/DD/YYYY-mm-DD-HH-MM-SS-[unique]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitioned_prefix: Option<PartitionedPrefix>,
}

/// The partitioned key format's date source.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct PartitionedPrefix {
    /// `EventTime` (the records' time) or `DeliveryTime` (when the object is written);
    /// AWS's default is `DeliveryTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_date_source: Option<String>,
}

/// The parts of a log object's key that come from the source bucket and the delivery.
#[derive(Debug, Clone, Copy)]
pub struct LogObject<'a> {
    /// The source bucket's account id.
    pub account_id: &'a str,
    /// The source bucket's region.
    pub region: &'a str,
    /// The source bucket.
    pub bucket: &'a str,
    /// The time of the object's first record, seconds since the epoch.
    pub event_secs: i64,
    /// The time the object is written, seconds since the epoch.
    pub delivery_secs: i64,
    /// A string unique to this object (AWS: 16 hex digits).
    pub unique: &'a str,
}

impl BucketLoggingStatus {
    /// Parses and validates a `logging.json` document.
    ///
    /// # Errors
    /// [`Refusal`] with the code S3 answers.
    pub fn parse(text: &str) -> Result<Self, Refusal> {
        let doc: Self = serde_json::from_str(text)
            .map_err(|e| Refusal::new(ErrorCode::MalformedXML, e.to_string()))?;
        doc.validate()?;
        Ok(doc)
    }

    /// AWS's checks of the document itself (the target bucket's are the server's).
    ///
    /// # Errors
    /// [`Refusal`] with the code S3 answers.
    pub fn validate(&self) -> Result<(), Refusal> {
        let Some(l) = &self.logging_enabled else {
            return Ok(());
        };
        if l.target_bucket.is_empty() {
            return Err(Refusal::new(
                ErrorCode::MalformedXML,
                "TargetBucket is required",
            ));
        }
        if l.target_prefix.len() > 900 {
            return Err(Refusal::invalid_argument("The target prefix is too long"));
        }
        if let Some(f) = &l.target_object_key_format {
            match (&f.simple_prefix, &f.partitioned_prefix) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(Refusal::new(
                        ErrorCode::MalformedXML,
                        "TargetObjectKeyFormat needs exactly one of SimplePrefix and PartitionedPrefix",
                    ));
                }
                (None, Some(p)) => {
                    if let Some(s) = &p.partition_date_source
                        && s != "EventTime"
                        && s != "DeliveryTime"
                    {
                        return Err(Refusal::new(
                            ErrorCode::MalformedXML,
                            format!("PartitionDateSource {s:?} is not EventTime or DeliveryTime"),
                        ));
                    }
                }
                (Some(_), None) => {}
            }
        }
        Ok(())
    }
}

impl LoggingEnabled {
    /// The key of a log object, as AWS names it.
    #[must_use]
    pub fn object_key(&self, o: &LogObject<'_>) -> String {
        let at = |secs: i64| {
            time::OffsetDateTime::from_unix_timestamp(secs)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        };
        let d = at(o.delivery_secs);
        let name = format!(
            "{:04}-{:02}-{:02}-{:02}-{:02}-{:02}-{}",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second(),
            o.unique
        );
        let partitioned = self
            .target_object_key_format
            .as_ref()
            .and_then(|f| f.partitioned_prefix.as_ref());
        match partitioned {
            None => format!("{}{name}", self.target_prefix),
            Some(p) => {
                let date_secs = if p.partition_date_source.as_deref() == Some("EventTime") {
                    o.event_secs
                } else {
                    o.delivery_secs
                };
                format!(
                    "{}{}/{}/{}/{}/{name}",
                    self.target_prefix,
                    o.account_id,
                    o.region,
                    o.bucket,
                    {
                        let p = at(date_secs);
                        format!("{:04}/{:02}/{:02}", p.year(), u8::from(p.month()), p.day())
                    }
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASELINE: &str = r#"{"LoggingEnabled": {"TargetBucket": "logs", "TargetPrefix": "s3-access/src/",
        "TargetObjectKeyFormat": {"PartitionedPrefix": {"PartitionDateSource": "EventTime"}}}}"#;

    fn object() -> LogObject<'static> {
        LogObject {
            account_id: "000000000000",
            region: "us-east-1",
            bucket: "src",
            // 2026-11-30T23:59:59Z and 2026-12-01T00:00:05Z.
            event_secs: 1_796_083_199,
            delivery_secs: 1_796_083_205,
            unique: "0123456789ABCDEF",
        }
    }

    #[test]
    fn keys_are_named_as_aws_names_them() {
        let status = BucketLoggingStatus::parse(BASELINE).unwrap();
        let l = status.logging_enabled.unwrap();
        assert_eq!(
            l.object_key(&object()),
            "s3-access/src/000000000000/us-east-1/src/2026/11/30/2026-12-01-00-00-05-0123456789ABCDEF"
        );
        let delivery = LoggingEnabled {
            target_object_key_format: Some(TargetObjectKeyFormat {
                partitioned_prefix: Some(PartitionedPrefix::default()),
                ..TargetObjectKeyFormat::default()
            }),
            ..l.clone()
        };
        assert!(
            delivery
                .object_key(&object())
                .contains("/src/2026/12/01/2026-12-01-00-00-05-")
        );
        let simple = LoggingEnabled {
            target_object_key_format: None,
            ..l
        };
        assert_eq!(
            simple.object_key(&object()),
            "s3-access/src/2026-12-01-00-00-05-0123456789ABCDEF"
        );
    }

    #[test]
    fn malformed_documents_are_refused() {
        assert_eq!(
            BucketLoggingStatus::parse("{}").unwrap(),
            BucketLoggingStatus::default()
        );
        for bad in [
            r#"{"LoggingEnabled": {"TargetBucket": "", "TargetPrefix": ""}}"#,
            r#"{"LoggingEnabled": {"TargetBucket": "l", "TargetObjectKeyFormat": {}}}"#,
            r#"{"LoggingEnabled": {"TargetBucket": "l", "TargetObjectKeyFormat": {"SimplePrefix": {}, "PartitionedPrefix": {}}}}"#,
            r#"{"LoggingEnabled": {"TargetBucket": "l", "TargetObjectKeyFormat": {"PartitionedPrefix": {"PartitionDateSource": "Now"}}}}"#,
            r#"{"LoggingEnabled": {"TargetBucket": "l", "TargetGrants": []}}"#,
        ] {
            assert!(BucketLoggingStatus::parse(bad).is_err(), "{bad}");
        }
    }
}
