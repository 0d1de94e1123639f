//! The live half: every setting read with the SDK and written in the documents' AWS JSON
//! shape, then passed through the `leadshop-spec` types.

use std::collections::BTreeMap;

use aws_sdk_s3::types::{LifecycleRule, MetricsFilter, Tag};
use leadshop_spec::cors::CorsConfiguration;
use leadshop_spec::lifecycle::LifecycleConfiguration;
use leadshop_spec::logging::LoggingEnabled;
use serde_json::{Map, Value, json};

use super::normalise::{
    encryption_rule, normalise_cors, normalise_lifecycle, normalise_metrics, normalise_policy,
    to_value,
};
use crate::remote::{Remote, RemoteError, not_configured};

/// Sets `key` when the SDK has a value for it (S3 omits unset members).
fn put(m: &mut Map<String, Value>, key: &str, v: Option<impl Into<Value>>) {
    if let Some(v) = v {
        m.insert(key.into(), v.into());
    }
}

/// What the endpoint gave for each setting of [`super::SETTINGS`].
#[derive(Debug, Default)]
pub struct LiveSettings {
    /// The settings read, in the documents' shape (`Null`: not configured there).
    pub values: BTreeMap<&'static str, Value>,
    /// The settings the endpoint would not give, and why: "unsupported by this endpoint" for
    /// an API it does not implement (Garage, some S3-compatible stores), else its refusal.
    pub unreadable: BTreeMap<&'static str, String>,
}

/// Error codes that mean the whole bucket cannot be read, not one setting.
const FATAL: [&str; 5] = [
    "NoSuchBucket",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AuthorizationHeaderMalformed",
    "PermanentRedirect",
];
/// Error codes that mean the endpoint has no such API.
const UNSUPPORTED: [&str; 4] = [
    "NotImplemented",
    "MethodNotAllowed",
    "UnsupportedOperation",
    crate::remote::UNEXPECTED_RESPONSE,
];

impl Remote {
    /// Reads every setting of [`super::SETTINGS`] from the endpoint, one at a time: a setting
    /// the endpoint refuses or does not implement is reported in
    /// [`LiveSettings::unreadable`] and the others are still read.
    ///
    /// # Errors
    /// [`RemoteError::Transport`] when the endpoint cannot be reached, and the answers that
    /// concern the whole bucket (no such bucket, a credential refused).
    pub async fn live_settings(&self) -> Result<LiveSettings, RemoteError> {
        let mut live = LiveSettings::default();
        for name in super::SETTINGS {
            let read = match name {
                "policy" => self.read_policy().await,
                "public-access-block" => self.read_public_access_block().await,
                "ownership" => self.read_ownership().await,
                "encryption" => self.read_encryption().await,
                "versioning" => self.read_versioning().await,
                "cors" => self.read_cors().await,
                "lifecycle" => self.read_lifecycle().await,
                "logging" => self.read_logging().await,
                _ => self.read_metrics().await,
            };
            match read {
                Ok(v) => {
                    live.values.insert(name, v);
                }
                Err(RemoteError::Service {
                    operation,
                    code,
                    message,
                }) if !FATAL.contains(&code.as_str()) => {
                    let why = if UNSUPPORTED.contains(&code.as_str()) {
                        format!("unsupported by this endpoint ({operation}: {code}: {message})")
                    } else {
                        format!("{operation}: {code}: {message}")
                    };
                    live.unreadable.insert(name, why);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(live)
    }

    async fn read_policy(&self) -> Result<Value, RemoteError> {
        let c = &self.client;
        let b = self.bucket.as_str();
        let policy = not_configured(
            c.get_bucket_policy().bucket(b).send().await,
            "GetBucketPolicy",
            "NoSuchBucketPolicy",
        )?;
        Ok(policy
            .and_then(|p| p.policy)
            .and_then(|p| serde_json::from_str(&p).ok())
            .map_or(Value::Null, normalise_policy))
    }

    async fn read_public_access_block(&self) -> Result<Value, RemoteError> {
        let c = &self.client;
        let b = self.bucket.as_str();
        let pab = not_configured(
            c.get_public_access_block().bucket(b).send().await,
            "GetPublicAccessBlock",
            "NoSuchPublicAccessBlockConfiguration",
        )?;
        Ok(pab
            .and_then(|p| p.public_access_block_configuration)
            .map_or(Value::Null, |p| {
                json!({
                    "BlockPublicAcls": p.block_public_acls.unwrap_or(false),
                    "IgnorePublicAcls": p.ignore_public_acls.unwrap_or(false),
                    "BlockPublicPolicy": p.block_public_policy.unwrap_or(false),
                    "RestrictPublicBuckets": p.restrict_public_buckets.unwrap_or(false),
                })
            }))
    }

    async fn read_ownership(&self) -> Result<Value, RemoteError> {
        let c = &self.client;
        let b = self.bucket.as_str();
        let ownership = not_configured(
            c.get_bucket_ownership_controls().bucket(b).send().await,
            "GetBucketOwnershipControls",
            "OwnershipControlsNotFoundError",
        )?;
        Ok(ownership
            .and_then(|o| o.ownership_controls)
            .and_then(|o| o.rules.first().map(|r| json!(r.object_ownership.as_str())))
            .unwrap_or(Value::Null))
    }

    async fn read_encryption(&self) -> Result<Value, RemoteError> {
        let c = &self.client;
        let b = self.bucket.as_str();
        let enc = not_configured(
            c.get_bucket_encryption().bucket(b).send().await,
            "GetBucketEncryption",
            "ServerSideEncryptionConfigurationNotFoundError",
        )?;
        Ok(enc
            .and_then(|e| e.server_side_encryption_configuration)
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
            }))
    }

    async fn read_versioning(&self) -> Result<Value, RemoteError> {
        let c = &self.client;
        let b = self.bucket.as_str();
        let versioning = c
            .get_bucket_versioning()
            .bucket(b)
            .send()
            .await
            .map_err(crate::remote::service("GetBucketVersioning"))?;
        Ok(versioning
            .status()
            .map_or(Value::Null, |s| json!({"Status": s.as_str()})))
    }

    async fn read_cors(&self) -> Result<Value, RemoteError> {
        let c = &self.client;
        let b = self.bucket.as_str();
        let cors = not_configured(
            c.get_bucket_cors().bucket(b).send().await,
            "GetBucketCors",
            "NoSuchCORSConfiguration",
        )?;
        Ok(cors.map_or(Value::Null, |cors| {
            let rules: Vec<Value> = cors
                .cors_rules()
                .iter()
                .map(|r| {
                    let mut m = Map::new();
                    put(&mut m, "ID", r.id());
                    m.insert("AllowedOrigins".into(), json!(r.allowed_origins()));
                    m.insert("AllowedMethods".into(), json!(r.allowed_methods()));
                    m.insert("AllowedHeaders".into(), json!(r.allowed_headers()));
                    m.insert("ExposeHeaders".into(), json!(r.expose_headers()));
                    put(&mut m, "MaxAgeSeconds", r.max_age_seconds());
                    Value::Object(m)
                })
                .collect();
            serde_json::from_value::<CorsConfiguration>(json!({"CORSRules": rules})).map_or_else(
                |e| json!({"unreadable": e.to_string()}),
                |c| normalise_cors(&c),
            )
        }))
    }

    async fn read_lifecycle(&self) -> Result<Value, RemoteError> {
        let c = &self.client;
        let b = self.bucket.as_str();
        let lifecycle = not_configured(
            c.get_bucket_lifecycle_configuration()
                .bucket(b)
                .send()
                .await,
            "GetBucketLifecycleConfiguration",
            "NoSuchLifecycleConfiguration",
        )?;
        Ok(lifecycle.map_or(Value::Null, |l| {
            let mut doc =
                json!({"Rules": l.rules().iter().map(lifecycle_rule).collect::<Vec<_>>()});
            if let Some(m) = l.transition_default_minimum_object_size() {
                doc["TransitionDefaultMinimumObjectSize"] = json!(m.as_str());
            }
            serde_json::from_value::<LifecycleConfiguration>(doc).map_or_else(
                |e| json!({"unreadable": e.to_string()}),
                |l| normalise_lifecycle(&l),
            )
        }))
    }

    async fn read_logging(&self) -> Result<Value, RemoteError> {
        let c = &self.client;
        let b = self.bucket.as_str();
        let logging = c
            .get_bucket_logging()
            .bucket(b)
            .send()
            .await
            .map_err(crate::remote::service("GetBucketLogging"))?;
        Ok(logging.logging_enabled().map_or(Value::Null, |l| {
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
        }))
    }

    async fn read_metrics(&self) -> Result<Value, RemoteError> {
        let c = &self.client;
        let b = self.bucket.as_str();
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
        Ok(if metrics.is_empty() {
            Value::Null
        } else {
            normalise_metrics(metrics)
        })
    }
}

fn tag(t: &Tag) -> Value {
    json!({"Key": t.key(), "Value": t.value()})
}

fn lifecycle_rule(r: &LifecycleRule) -> Value {
    let mut m = Map::new();
    put(&mut m, "ID", r.id());
    m.insert("Status".into(), json!(r.status().as_str()));
    if let Some(f) = r.filter() {
        let mut fm = Map::new();
        put(&mut fm, "Prefix", f.prefix());
        if let Some(t) = f.tag() {
            fm.insert("Tag".into(), tag(t));
        }
        put(
            &mut fm,
            "ObjectSizeGreaterThan",
            f.object_size_greater_than(),
        );
        put(&mut fm, "ObjectSizeLessThan", f.object_size_less_than());
        if let Some(a) = f.and() {
            let mut am = Map::new();
            put(&mut am, "Prefix", a.prefix());
            if !a.tags().is_empty() {
                am.insert(
                    "Tags".into(),
                    Value::Array(a.tags().iter().map(tag).collect()),
                );
            }
            put(
                &mut am,
                "ObjectSizeGreaterThan",
                a.object_size_greater_than(),
            );
            put(&mut am, "ObjectSizeLessThan", a.object_size_less_than());
            fm.insert("And".into(), Value::Object(am));
        }
        m.insert("Filter".into(), Value::Object(fm));
    }
    #[allow(deprecated)]
    put(&mut m, "Prefix", r.prefix());
    let date = |d: &aws_sdk_s3::primitives::DateTime| {
        d.fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime)
            .unwrap_or_default()
    };
    let transitions: Vec<Value> = r
        .transitions()
        .iter()
        .map(|t| {
            let mut tm = Map::new();
            put(&mut tm, "Days", t.days());
            put(&mut tm, "Date", t.date().map(date));
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
        put(&mut em, "Days", e.days());
        put(&mut em, "Date", e.date().map(date));
        put(
            &mut em,
            "ExpiredObjectDeleteMarker",
            e.expired_object_delete_marker(),
        );
        m.insert("Expiration".into(), Value::Object(em));
    }
    let nvt: Vec<Value> = r
        .noncurrent_version_transitions()
        .iter()
        .map(|t| {
            let mut tm = Map::new();
            put(&mut tm, "NoncurrentDays", t.noncurrent_days());
            put(
                &mut tm,
                "NewerNoncurrentVersions",
                t.newer_noncurrent_versions(),
            );
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
        put(&mut em, "NoncurrentDays", e.noncurrent_days());
        put(
            &mut em,
            "NewerNoncurrentVersions",
            e.newer_noncurrent_versions(),
        );
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
            put(&mut m, "Prefix", a.prefix());
            if !a.tags().is_empty() {
                m.insert(
                    "Tags".into(),
                    Value::Array(a.tags().iter().map(tag).collect()),
                );
            }
            put(&mut m, "AccessPointArn", a.access_point_arn());
            json!({"And": m})
        }
        _ => json!({"unknown": format!("{f:?}")}),
    }
}
