//! `leadshop verify`: a live bucket against its spec documents (`config/buckets/<bucket>/`).
//!
//! Each setting is read with the SDK (the local server, AWS or any S3-compatible endpoint) and
//! brought into the documents' AWS JSON shape, passed through the same `leadshop-spec` types
//! the documents are parsed into, and normalised where S3 allows one meaning to be written
//! several ways (a policy's `"Action": "s3:*"` or `["s3:*"]`, a CORS rule's method order, a
//! lifecycle rule's empty prefix). `Null` is "not configured" on either side.

use std::collections::BTreeMap;

use aws_sdk_s3::types::{LifecycleRule, MetricsFilter, Tag};
use leadshop_spec::BucketSpec;
use leadshop_spec::cors::CorsConfiguration;
use leadshop_spec::lifecycle::LifecycleConfiguration;
use leadshop_spec::logging::LoggingEnabled;
use serde_json::{Map, Value, json};

use crate::remote::{Remote, RemoteError, not_configured};

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
/// S3's default transition minimum since September 2024.
const DEFAULT_MIN_SIZE: &str = "all_storage_classes_128K";

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

impl Remote {
    /// Reads every setting of [`SETTINGS`] from the endpoint.
    ///
    /// # Errors
    /// [`RemoteError::Service`] for anything but the "not configured" answers.
    pub async fn live_settings(&self) -> Result<BTreeMap<&'static str, Value>, RemoteError> {
        let c = &self.client;
        let b = self.bucket.as_str();
        let mut out = BTreeMap::new();

        let policy = not_configured(
            c.get_bucket_policy().bucket(b).send().await,
            "GetBucketPolicy",
            "NoSuchBucketPolicy",
        )?;
        out.insert(
            "policy",
            policy
                .and_then(|p| p.policy)
                .and_then(|p| serde_json::from_str(&p).ok())
                .map_or(Value::Null, normalise_policy),
        );

        let pab = not_configured(
            c.get_public_access_block().bucket(b).send().await,
            "GetPublicAccessBlock",
            "NoSuchPublicAccessBlockConfiguration",
        )?;
        out.insert(
            "public-access-block",
            pab.and_then(|p| p.public_access_block_configuration)
                .map_or(Value::Null, |p| {
                    json!({
                        "BlockPublicAcls": p.block_public_acls.unwrap_or(false),
                        "IgnorePublicAcls": p.ignore_public_acls.unwrap_or(false),
                        "BlockPublicPolicy": p.block_public_policy.unwrap_or(false),
                        "RestrictPublicBuckets": p.restrict_public_buckets.unwrap_or(false),
                    })
                }),
        );

        let ownership = not_configured(
            c.get_bucket_ownership_controls().bucket(b).send().await,
            "GetBucketOwnershipControls",
            "OwnershipControlsNotFoundError",
        )?;
        out.insert(
            "ownership",
            ownership
                .and_then(|o| o.ownership_controls)
                .and_then(|o| o.rules.first().map(|r| json!(r.object_ownership.as_str())))
                .unwrap_or(Value::Null),
        );

        let enc = not_configured(
            c.get_bucket_encryption().bucket(b).send().await,
            "GetBucketEncryption",
            "ServerSideEncryptionConfigurationNotFoundError",
        )?;
        out.insert(
            "encryption",
            enc.and_then(|e| e.server_side_encryption_configuration)
                .map_or(Value::Null, |e| {
                    Value::Array(
                        e.rules
                            .iter()
                            .map(|r| {
                                let d = r.apply_server_side_encryption_by_default();
                                encryption_rule(
                                    d.map_or("", |d| d.sse_algorithm().as_str()),
                                    d.and_then(|d| d.kms_master_key_id()),
                                    r.bucket_key_enabled(),
                                )
                            })
                            .collect(),
                    )
                }),
        );

        let versioning = c
            .get_bucket_versioning()
            .bucket(b)
            .send()
            .await
            .map_err(crate::remote::service("GetBucketVersioning"))?;
        out.insert(
            "versioning",
            versioning
                .status()
                .map_or(Value::Null, |s| json!({"Status": s.as_str()})),
        );

        let cors = not_configured(
            c.get_bucket_cors().bucket(b).send().await,
            "GetBucketCors",
            "NoSuchCORSConfiguration",
        )?;
        out.insert(
            "cors",
            cors.map_or(Value::Null, |cors| {
                let rules: Vec<Value> = cors
                    .cors_rules()
                    .iter()
                    .map(|r| {
                        let mut m = Map::new();
                        if let Some(id) = r.id() {
                            m.insert("ID".into(), json!(id));
                        }
                        m.insert("AllowedOrigins".into(), json!(r.allowed_origins()));
                        m.insert("AllowedMethods".into(), json!(r.allowed_methods()));
                        m.insert("AllowedHeaders".into(), json!(r.allowed_headers()));
                        m.insert("ExposeHeaders".into(), json!(r.expose_headers()));
                        if let Some(age) = r.max_age_seconds() {
                            m.insert("MaxAgeSeconds".into(), json!(age));
                        }
                        Value::Object(m)
                    })
                    .collect();
                serde_json::from_value::<CorsConfiguration>(json!({"CORSRules": rules}))
                    .map_or_else(
                        |e| json!({"unreadable": e.to_string()}),
                        |c| normalise_cors(&c),
                    )
            }),
        );

        let lifecycle = not_configured(
            c.get_bucket_lifecycle_configuration()
                .bucket(b)
                .send()
                .await,
            "GetBucketLifecycleConfiguration",
            "NoSuchLifecycleConfiguration",
        )?;
        out.insert(
            "lifecycle",
            lifecycle.map_or(Value::Null, |l| {
                let mut doc =
                    json!({"Rules": l.rules().iter().map(lifecycle_rule).collect::<Vec<_>>()});
                if let Some(m) = l.transition_default_minimum_object_size() {
                    doc["TransitionDefaultMinimumObjectSize"] = json!(m.as_str());
                }
                serde_json::from_value::<LifecycleConfiguration>(doc).map_or_else(
                    |e| json!({"unreadable": e.to_string()}),
                    |l| normalise_lifecycle(&l),
                )
            }),
        );

        let logging = c
            .get_bucket_logging()
            .bucket(b)
            .send()
            .await
            .map_err(crate::remote::service("GetBucketLogging"))?;
        out.insert(
            "logging",
            logging.logging_enabled().map_or(Value::Null, |l| {
                let mut m = Map::new();
                m.insert("TargetBucket".into(), json!(l.target_bucket()));
                m.insert("TargetPrefix".into(), json!(l.target_prefix()));
                if let Some(f) = l.target_object_key_format() {
                    let mut k = Map::new();
                    if f.simple_prefix().is_some() {
                        k.insert("SimplePrefix".into(), json!({}));
                    }
                    if let Some(p) = f.partitioned_prefix() {
                        k.insert(
                            "PartitionedPrefix".into(),
                            p.partition_date_source()
                                .map_or(json!({}), |s| json!({"PartitionDateSource": s.as_str()})),
                        );
                    }
                    m.insert("TargetObjectKeyFormat".into(), Value::Object(k));
                }
                serde_json::from_value::<LoggingEnabled>(Value::Object(m)).map_or_else(
                    |e| json!({"unreadable": e.to_string()}),
                    |l| to_value(Some(&l)),
                )
            }),
        );

        let mut metrics = Vec::new();
        let mut token = None;
        loop {
            let page = c
                .list_bucket_metrics_configurations()
                .bucket(b)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(crate::remote::service("ListBucketMetricsConfigurations"))?;
            for m in page.metrics_configuration_list() {
                let mut v = Map::new();
                v.insert("Id".into(), json!(m.id()));
                if let Some(f) = m.filter() {
                    v.insert("Filter".into(), metrics_filter(f));
                }
                metrics.push(Value::Object(v));
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        out.insert(
            "metrics",
            if metrics.is_empty() {
                Value::Null
            } else {
                normalise_metrics(metrics)
            },
        );
        Ok(out)
    }
}

fn to_value<T: serde::Serialize>(v: Option<&T>) -> Value {
    v.map_or(Value::Null, |v| {
        serde_json::to_value(v).unwrap_or(Value::Null)
    })
}

fn encryption_rule(algorithm: &str, kms_key: Option<&str>, bucket_key: Option<bool>) -> Value {
    let mut d = Map::new();
    d.insert("SSEAlgorithm".into(), json!(algorithm));
    if let Some(k) = kms_key {
        d.insert("KMSMasterKeyID".into(), json!(k));
    }
    json!({
        "ApplyServerSideEncryptionByDefault": d,
        "BucketKeyEnabled": bucket_key.unwrap_or(false),
    })
}

fn tag(t: &Tag) -> Value {
    json!({"Key": t.key(), "Value": t.value()})
}

fn lifecycle_rule(r: &LifecycleRule) -> Value {
    let mut m = Map::new();
    if let Some(id) = r.id() {
        m.insert("ID".into(), json!(id));
    }
    m.insert("Status".into(), json!(r.status().as_str()));
    if let Some(f) = r.filter() {
        let mut fm = Map::new();
        if let Some(p) = f.prefix() {
            fm.insert("Prefix".into(), json!(p));
        }
        if let Some(t) = f.tag() {
            fm.insert("Tag".into(), tag(t));
        }
        if let Some(n) = f.object_size_greater_than() {
            fm.insert("ObjectSizeGreaterThan".into(), json!(n));
        }
        if let Some(n) = f.object_size_less_than() {
            fm.insert("ObjectSizeLessThan".into(), json!(n));
        }
        if let Some(a) = f.and() {
            let mut am = Map::new();
            if let Some(p) = a.prefix() {
                am.insert("Prefix".into(), json!(p));
            }
            if !a.tags().is_empty() {
                am.insert(
                    "Tags".into(),
                    Value::Array(a.tags().iter().map(tag).collect()),
                );
            }
            if let Some(n) = a.object_size_greater_than() {
                am.insert("ObjectSizeGreaterThan".into(), json!(n));
            }
            if let Some(n) = a.object_size_less_than() {
                am.insert("ObjectSizeLessThan".into(), json!(n));
            }
            fm.insert("And".into(), Value::Object(am));
        }
        m.insert("Filter".into(), Value::Object(fm));
    }
    #[allow(deprecated)]
    if let Some(p) = r.prefix() {
        m.insert("Prefix".into(), json!(p));
    }
    let date = |d: &aws_sdk_s3::primitives::DateTime| {
        d.fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime)
            .unwrap_or_default()
    };
    let transitions: Vec<Value> = r
        .transitions()
        .iter()
        .map(|t| {
            let mut tm = Map::new();
            if let Some(d) = t.days() {
                tm.insert("Days".into(), json!(d));
            }
            if let Some(d) = t.date() {
                tm.insert("Date".into(), json!(date(d)));
            }
            tm.insert(
                "StorageClass".into(),
                json!(t.storage_class().map_or("", |s| s.as_str())),
            );
            Value::Object(tm)
        })
        .collect();
    if !transitions.is_empty() {
        m.insert("Transitions".into(), Value::Array(transitions));
    }
    if let Some(e) = r.expiration() {
        let mut em = Map::new();
        if let Some(d) = e.days() {
            em.insert("Days".into(), json!(d));
        }
        if let Some(d) = e.date() {
            em.insert("Date".into(), json!(date(d)));
        }
        if let Some(d) = e.expired_object_delete_marker() {
            em.insert("ExpiredObjectDeleteMarker".into(), json!(d));
        }
        m.insert("Expiration".into(), Value::Object(em));
    }
    let nvt: Vec<Value> = r
        .noncurrent_version_transitions()
        .iter()
        .map(|t| {
            let mut tm = Map::new();
            if let Some(d) = t.noncurrent_days() {
                tm.insert("NoncurrentDays".into(), json!(d));
            }
            if let Some(n) = t.newer_noncurrent_versions() {
                tm.insert("NewerNoncurrentVersions".into(), json!(n));
            }
            tm.insert(
                "StorageClass".into(),
                json!(t.storage_class().map_or("", |s| s.as_str())),
            );
            Value::Object(tm)
        })
        .collect();
    if !nvt.is_empty() {
        m.insert("NoncurrentVersionTransitions".into(), Value::Array(nvt));
    }
    if let Some(e) = r.noncurrent_version_expiration() {
        let mut em = Map::new();
        if let Some(d) = e.noncurrent_days() {
            em.insert("NoncurrentDays".into(), json!(d));
        }
        if let Some(n) = e.newer_noncurrent_versions() {
            em.insert("NewerNoncurrentVersions".into(), json!(n));
        }
        m.insert("NoncurrentVersionExpiration".into(), Value::Object(em));
    }
    if let Some(a) = r.abort_incomplete_multipart_upload() {
        m.insert(
            "AbortIncompleteMultipartUpload".into(),
            json!({"DaysAfterInitiation": a.days_after_initiation().unwrap_or(0)}),
        );
    }
    Value::Object(m)
}

fn metrics_filter(f: &MetricsFilter) -> Value {
    match f {
        MetricsFilter::Prefix(p) => json!({"Prefix": p}),
        MetricsFilter::Tag(t) => json!({"Tag": tag(t)}),
        MetricsFilter::AccessPointArn(a) => json!({"AccessPointArn": a}),
        MetricsFilter::And(a) => {
            let mut m = Map::new();
            if let Some(p) = a.prefix() {
                m.insert("Prefix".into(), json!(p));
            }
            if !a.tags().is_empty() {
                m.insert(
                    "Tags".into(),
                    Value::Array(a.tags().iter().map(tag).collect()),
                );
            }
            if let Some(arn) = a.access_point_arn() {
                m.insert("AccessPointArn".into(), json!(arn));
            }
            json!({"And": m})
        }
        _ => json!({"unknown": format!("{f:?}")}),
    }
}

/// One meaning, one form: lists where S3 takes a string or a list (sorted: their order has no
/// meaning), one statement list, statements in Sid order.
fn normalise_policy(mut p: Value) -> Value {
    fn as_sorted_list(v: &mut Value) {
        let mut items = match v.take() {
            Value::Array(a) => a,
            other => vec![other],
        };
        items.sort_by_key(Value::to_string);
        items.dedup();
        *v = Value::Array(items);
    }
    let Some(obj) = p.as_object_mut() else {
        return p;
    };
    if let Some(st) = obj.get_mut("Statement") {
        if st.is_object() {
            *st = Value::Array(vec![st.take()]);
        }
        if let Some(list) = st.as_array_mut() {
            for s in list.iter_mut() {
                let Some(s) = s.as_object_mut() else { continue };
                for key in ["Action", "NotAction", "Resource", "NotResource"] {
                    if let Some(v) = s.get_mut(key) {
                        as_sorted_list(v);
                    }
                }
                for key in ["Principal", "NotPrincipal"] {
                    if let Some(Value::Object(m)) = s.get_mut(key) {
                        for v in m.values_mut() {
                            as_sorted_list(v);
                        }
                    }
                }
                if let Some(Value::Object(ops)) = s.get_mut("Condition") {
                    for keys in ops.values_mut() {
                        if let Value::Object(keys) = keys {
                            for v in keys.values_mut() {
                                as_sorted_list(v);
                                // Conditions compare text: `false` and "false" are one value.
                                if let Value::Array(a) = v {
                                    for x in a.iter_mut() {
                                        if !x.is_string() {
                                            *x = Value::String(x.to_string());
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            list.sort_by_key(|s| s.get("Sid").map(Value::to_string).unwrap_or_default());
        }
    }
    p
}

fn normalise_cors(c: &CorsConfiguration) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    if let Some(rules) = v.get_mut("CORSRules").and_then(Value::as_array_mut) {
        for r in rules {
            for key in [
                "AllowedOrigins",
                "AllowedMethods",
                "AllowedHeaders",
                "ExposeHeaders",
            ] {
                if let Some(Value::Array(a)) = r.get_mut(key) {
                    a.sort_by_key(Value::to_string);
                }
            }
        }
    }
    v
}

fn normalise_lifecycle(l: &LifecycleConfiguration) -> Value {
    let mut v = serde_json::to_value(l).unwrap_or(Value::Null);
    let min_size = l.transition_default_minimum_object_size.clone();
    if let Some(rules) = v.get_mut("Rules").and_then(Value::as_array_mut) {
        for r in rules.iter_mut() {
            let Some(r) = r.as_object_mut() else { continue };
            // A rule's legacy top-level Prefix, a Filter of {} and a Filter of {"Prefix": ""}
            // all select every object.
            let legacy = r.remove("Prefix");
            let filter = r.entry("Filter").or_insert_with(|| json!({}));
            if let (Some(p), Some(f)) = (legacy, filter.as_object_mut()) {
                f.entry("Prefix").or_insert(p);
            }
            if filter.as_object().is_some_and(Map::is_empty) {
                *filter = json!({"Prefix": ""});
            }
        }
        rules.sort_by_key(|r| r.get("ID").map(Value::to_string).unwrap_or_default());
    }
    if let Some(m) = v.as_object_mut() {
        m.insert(
            "TransitionDefaultMinimumObjectSize".into(),
            json!(min_size.as_deref().unwrap_or(DEFAULT_MIN_SIZE)),
        );
    }
    v
}

fn normalise_metrics(mut list: Vec<Value>) -> Value {
    list.sort_by_key(|m| m.get("Id").map(Value::to_string).unwrap_or_default());
    Value::Array(list)
}

/// A minimal line diff (longest common subsequence): unchanged lines start with two spaces,
/// expected-only lines with `- `, live-only lines with `+ `.
fn line_diff(a: &[String], b: &[String]) -> String {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push_str(&format!("  {}\n", a[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("+ {}\n", b[j]));
            j += 1;
        } else {
            out.push_str(&format!("- {}\n", a[i]));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
