//! `leadshop verify`: a live bucket against its spec documents (`config/buckets/<bucket>/`).
//!
//! Each setting is read with the SDK (the local server, AWS or any S3-compatible endpoint) and
//! brought into the documents' AWS JSON shape, passed through the same `leadshop-spec` types
//! the documents are parsed into, and normalised where S3 allows one meaning to be written
//! several ways (a policy's `"Action": "s3:*"` or `["s3:*"]`, a CORS rule's method order, a
//! lifecycle rule's empty prefix). `Null` is "not configured" on either side.

use std::collections::BTreeMap;

use leadshop_spec::BucketSpec;
use serde_json::{Value, json};

use normalise::{
    encryption_rule, line_diff, normalise_cors, normalise_lifecycle, normalise_metrics,
    normalise_policy, to_value,
};

mod live;
mod normalise;

/// The settings compared, in the order they are printed.
pub const SETTINGS: [&str; 9] = [
    "policy",
    "public-access-block",
    "ownership",
    "encryption",
    "versioning",
    "cors",
    "lifecycle",
    "logging",
    "metrics",
];

/// The only object ownership the baseline (and the local server) knows.
const OWNERSHIP: &str = "BucketOwnerEnforced";

/// One setting, expected and live.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// One of [`SETTINGS`].
    pub name: &'static str,
    /// From the documents (`Null`: the documents configure none).
    pub expected: Value,
    /// From the endpoint (`Null`: not configured there).
    pub live: Value,
}

impl Setting {
    /// Whether the live bucket differs.
    #[must_use]
    pub fn drifted(&self) -> bool {
        self.expected != self.live
    }

    /// A line diff of the two, pretty-printed: `-` expected, `+` live.
    #[must_use]
    pub fn diff(&self) -> String {
        let show = |v: &Value| -> Vec<String> {
            if v.is_null() {
                vec!["(not configured)".into()]
            } else {
                serde_json::to_string_pretty(v)
                    .unwrap_or_default()
                    .lines()
                    .map(str::to_string)
                    .collect()
            }
        };
        line_diff(&show(&self.expected), &show(&self.live))
    }
}

/// What the documents say, with `cors_origins` replacing every CORS rule's origins (what
/// Terraform's `cors_origins` variable does per environment).
#[must_use]
pub fn expected(
    spec: &BucketSpec,
    cors_origins: Option<&[String]>,
) -> BTreeMap<&'static str, Value> {
    let mut out = BTreeMap::new();
    out.insert(
        "policy",
        spec.policy
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .map_or(Value::Null, normalise_policy),
    );
    out.insert(
        "public-access-block",
        to_value(spec.public_access_block.as_ref()),
    );
    out.insert("ownership", json!(OWNERSHIP));
    out.insert(
        "encryption",
        spec.encryption.as_ref().map_or(Value::Null, |e| {
            Value::Array(
                e.rules
                    .iter()
                    .map(|r| {
                        encryption_rule(
                            &r.default.sse_algorithm,
                            r.default.kms_master_key_id.as_deref(),
                            r.bucket_key_enabled,
                        )
                    })
                    .collect(),
            )
        }),
    );
    out.insert(
        "versioning",
        spec.versioning.as_ref().map_or(
            Value::Null,
            |v| json!({"Status": to_value(Some(&v.status))}),
        ),
    );
    out.insert(
        "cors",
        spec.cors.as_ref().map_or(Value::Null, |c| {
            let mut c = c.clone();
            if let Some(origins) = cors_origins {
                for rule in &mut c.rules {
                    rule.allowed_origins = origins.to_vec();
                }
            }
            normalise_cors(&c)
        }),
    );
    out.insert(
        "lifecycle",
        spec.lifecycle
            .as_ref()
            .map_or(Value::Null, normalise_lifecycle),
    );
    out.insert(
        "logging",
        spec.logging
            .as_ref()
            .and_then(|l| l.logging_enabled.as_ref())
            .map_or(Value::Null, |l| to_value(Some(l))),
    );
    out.insert(
        "metrics",
        spec.metrics.as_ref().map_or(Value::Null, |m| {
            normalise_metrics(m.configurations.iter().map(|c| to_value(Some(c))).collect())
        }),
    );
    out
}

/// Expected against live, in [`SETTINGS`] order.
#[must_use]
pub fn compare(
    expected: &BTreeMap<&'static str, Value>,
    live: &BTreeMap<&'static str, Value>,
) -> Vec<Setting> {
    SETTINGS
        .iter()
        .map(|name| Setting {
            name,
            expected: expected.get(name).cloned().unwrap_or(Value::Null),
            live: live.get(name).cloned().unwrap_or(Value::Null),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadshop_spec::lifecycle::LifecycleConfiguration;

    #[test]
    fn policies_written_two_ways_are_one() {
        let a = json!({"Version": "2012-10-17", "Statement": {"Sid": "A", "Effect": "Deny", "Principal": "*",
            "Action": "s3:*", "Resource": ["arn:aws:s3:::b/*", "arn:aws:s3:::b"],
            "Condition": {"Bool": {"aws:SecureTransport": false}}}});
        let b = json!({"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Deny", "Principal": "*",
            "Action": ["s3:*"], "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
            "Condition": {"Bool": {"aws:SecureTransport": ["false"]}}}]});
        assert_eq!(normalise_policy(a.clone()), normalise_policy(b));
        let c = json!({"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow", "Principal": "*",
            "Action": "s3:*", "Resource": "arn:aws:s3:::b"}]});
        assert_ne!(normalise_policy(a), normalise_policy(c));
    }

    #[test]
    fn lifecycle_prefix_forms_are_one() {
        let parse = |s: &str| normalise_lifecycle(&LifecycleConfiguration::parse(s).unwrap());
        let a = parse(
            r#"{"Rules":[{"ID":"r","Status":"Enabled","Filter":{},"Expiration":{"Days":1}}]}"#,
        );
        let b = parse(
            r#"{"Rules":[{"ID":"r","Status":"Enabled","Filter":{"Prefix":""},"Expiration":{"Days":1}}]}"#,
        );
        let c = parse(
            r#"{"Rules":[{"ID":"r","Status":"Enabled","Prefix":"","Expiration":{"Days":1}}]}"#,
        );
        assert_eq!(a, b);
        assert_eq!(b, c);
        let d = parse(
            r#"{"Rules":[{"ID":"r","Status":"Enabled","Filter":{"Prefix":"tmp/"},"Expiration":{"Days":1}}]}"#,
        );
        assert_ne!(a, d);
    }

    #[test]
    fn the_diff_marks_both_sides() {
        let s = Setting {
            name: "cors",
            expected: json!({"AllowedOrigins": ["https://a"]}),
            live: json!({"AllowedOrigins": ["*"]}),
        };
        assert!(s.drifted());
        let d = s.diff();
        assert!(
            d.contains("- ")
                && d.contains("\"https://a\"")
                && d.contains("+ ")
                && d.contains("\"*\""),
            "{d}"
        );
        let none = Setting {
            name: "cors",
            expected: Value::Null,
            live: json!({"a": 1}),
        };
        assert!(none.diff().contains("- (not configured)"));
    }

    #[test]
    fn the_builtin_documents_compare_equal_to_themselves() {
        let specs = BucketSpec::builtin(&leadshop_spec::TemplateVars::new("123456789012")).unwrap();
        for spec in specs {
            let e = expected(&spec, None);
            assert!(compare(&e, &e).iter().all(|s| !s.drifted()));
            assert_eq!(e["ownership"], json!("BucketOwnerEnforced"));
        }
    }
}
