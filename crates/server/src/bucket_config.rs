//! A bucket's configuration, typed: parsed once from the documents its record keeps, cached,
//! and dropped from the cache by the store whenever the bucket changes (created, a document
//! put or deleted, versioning changed, deleted) — no handler invalidates anything.
//!
//! The documents stay in the record as AWS's JSON shapes (`BucketRecord.documents`, readable
//! by every earlier version); their names are the constants here. CORS, lifecycle, logging and
//! metrics configurations get a typed field here when their features arrive.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};

use leadshop_spec::PublicAccessBlock;
use leadshop_spec::acl::Acl;
use leadshop_spec::cors::CorsConfiguration;
use leadshop_spec::encryption::EncryptionConfiguration;
use leadshop_spec::lifecycle::LifecycleConfiguration;
use leadshop_spec::logging::{BucketLoggingStatus, LoggingEnabled};
use leadshop_spec::object_lock::ObjectLockConfiguration;
use leadshop_spec::policy::Policy;
use leadshop_spec::replication::ReplicationConfiguration;
use leadshop_store::{BucketRecord, Store, StoreError, VersioningState};

/// The bucket policy document (the policy's JSON text, as a string).
pub const POLICY_DOC: &str = "policy";
/// The Public Access Block document.
pub const PUBLIC_ACCESS_BLOCK_DOC: &str = "public-access-block";
/// The default-encryption document (`PutBucketEncryption`).
pub const ENCRYPTION_DOC: &str = "encryption";
/// The CORS configuration (`PutBucketCors`), in AWS JSON shape.
pub const CORS_DOC: &str = "cors";
/// The lifecycle configuration (`PutBucketLifecycleConfiguration`), in AWS JSON shape.
pub const LIFECYCLE_DOC: &str = "lifecycle";
/// Object Ownership (`BucketOwnerEnforced`, `ObjectWriter`, `BucketOwnerPreferred`, or `None`
/// after DeleteBucketOwnershipControls); absent: `BucketOwnerEnforced`, AWS's default.
pub const OWNERSHIP_DOC: &str = "ownership";
/// The bucket ACL (buckets whose ownership enables ACLs), in `spec::acl` shape.
pub const ACL_DOC: &str = "acl";
/// The Object Lock configuration, in AWS JSON shape; present only on buckets with Object Lock.
pub const OBJECT_LOCK_DOC: &str = "object-lock";
/// Server access logging (`PutBucketLogging`), in AWS JSON shape (`BucketLoggingStatus`).
pub const LOGGING_DOC: &str = "logging";
/// Request-metrics configurations (`PutBucketMetricsConfiguration`), `{"<id>": {"Id",
/// "Filter"}}`.
pub const METRICS_DOC: &str = "metrics";
/// The replication configuration (`PutBucketReplication`), in AWS JSON shape; the store reads
/// it too, in the transaction of every write (`leadshop_store::REPLICATION_DOC`).
pub const REPLICATION_DOC: &str = leadshop_store::REPLICATION_DOC;

/// One bucket's configuration.
#[derive(Debug, Default)]
pub struct BucketConfig {
    /// The bucket's name.
    pub name: String,
    /// Versioning.
    pub versioning: VersioningState,
    /// The bucket policy.
    pub policy: Option<Arc<Policy>>,
    /// The policy as RestrictPublicBuckets leaves it for anonymous callers.
    restricted: Option<Arc<Policy>>,
    /// Public Access Block (all off when the bucket has none).
    pub public_access_block: PublicAccessBlock,
    /// Whether the policy tests `s3:ExistingObjectTag/…`.
    pub reads_object_tags: bool,
    /// Default encryption; `None` is AWS's default (SSE-S3).
    pub encryption: Option<EncryptionConfiguration>,
    /// CORS rules; `None`: cross-origin requests get no CORS headers and preflights 403.
    pub cors: Option<Arc<CorsConfiguration>>,
    /// Lifecycle rules, applied by the lifecycle worker; `None`: no lifecycle.
    pub lifecycle: Option<Arc<LifecycleConfiguration>>,
    /// Object Ownership as stored (`None` when never set: `BucketOwnerEnforced`).
    pub ownership: Option<String>,
    /// The bucket ACL, where ownership enables ACLs.
    pub acl: Option<Arc<Acl>>,
    /// Object Lock (and its default retention); `None`: the bucket was made without it.
    pub object_lock: Option<Arc<ObjectLockConfiguration>>,
    /// Where its access logs go; `None`: not logged.
    pub logging: Option<Arc<LoggingEnabled>>,
    /// Request-metrics configurations (one-minute request metrics per `FilterId`).
    pub request_metrics: Vec<MetricsFilter>,
    /// The replication configuration.
    pub replication: Option<Arc<ReplicationConfiguration>>,
    /// A stored access document (policy, Public Access Block) does not parse: every request
    /// to the bucket is refused rather than run without its Deny statements.
    pub damaged: bool,
}

/// A request-metrics configuration as the usage subscriber applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsFilter {
    /// `FilterId`.
    pub id: String,
    /// The key prefix it counts (`None`: every request).
    pub prefix: Option<String>,
    /// Whether it filters on an access point (leadshop has none: it counts nothing).
    pub access_point: bool,
}

impl MetricsFilter {
    fn of(v: &serde_json::Value) -> Self {
        let filter = v.get("Filter");
        let and = filter.and_then(|f| f.get("And"));
        let prefix = filter
            .and_then(|f| f.get("Prefix"))
            .or_else(|| and.and_then(|a| a.get("Prefix")))
            .and_then(serde_json::Value::as_str)
            .map(str::to_string);
        let access_point = filter
            .and_then(|f| f.get("AccessPointArn"))
            .or_else(|| and.and_then(|a| a.get("AccessPointArn")))
            .is_some();
        Self {
            id: v
                .get("Id")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string(),
            prefix,
            access_point,
        }
    }

    /// Whether a request for `key` (none: a bucket-level request) counts under it. Tag
    /// conditions are not evaluated per request (docs/S3-API.md): a filter counts by prefix.
    #[must_use]
    pub fn counts(&self, key: Option<&str>) -> bool {
        !self.access_point
            && self
                .prefix
                .as_deref()
                .is_none_or(|p| p.is_empty() || key.is_some_and(|k| k.starts_with(p)))
    }
}

impl BucketConfig {
    /// The configuration of a bucket whose record cannot be read: every request refused.
    #[must_use]
    pub fn unreadable(bucket: &str) -> Self {
        Self {
            name: bucket.to_string(),
            damaged: true,
            ..Self::default()
        }
    }

    /// Parses a record's documents. Only valid documents are ever stored, so one that does not
    /// parse means a damaged record: it is logged, and access to the bucket fails closed.
    #[must_use]
    pub fn from_record(rec: &BucketRecord) -> Self {
        let mut damaged = false;
        let mut fail = |doc: &str, e: &dyn std::fmt::Display| {
            tracing::error!(bucket = %rec.name, document = doc, error = %e, "stored bucket document does not parse");
            damaged = true;
        };
        let policy = match rec.documents.get(POLICY_DOC) {
            None => None,
            Some(v) => match v.as_str().map(Policy::parse) {
                Some(Ok(p)) => Some(Arc::new(p)),
                Some(Err(e)) => {
                    fail(POLICY_DOC, &e);
                    None
                }
                None => {
                    fail(POLICY_DOC, &"not a string");
                    None
                }
            },
        };
        let public_access_block = match rec.documents.get(PUBLIC_ACCESS_BLOCK_DOC) {
            None => PublicAccessBlock::default(),
            Some(v) => serde_json::from_value(v.clone()).unwrap_or_else(|e| {
                fail(PUBLIC_ACCESS_BLOCK_DOC, &e);
                // Fail closed: everything blocked.
                PublicAccessBlock {
                    block_public_acls: true,
                    ignore_public_acls: true,
                    block_public_policy: true,
                    restrict_public_buckets: true,
                }
            }),
        };
        // A damaged encryption document cannot open anything up: every object is encrypted
        // with SSE-S3 whatever it says. It is logged and read as absent.
        let encryption = rec.documents.get(ENCRYPTION_DOC).and_then(|v| {
            serde_json::from_value(v.clone())
                .inspect_err(|e| {
                    tracing::error!(bucket = %rec.name, document = ENCRYPTION_DOC, error = %e, "stored bucket document does not parse");
                })
                .ok()
        });
        // A damaged CORS document allows no cross-origin request (as if absent).
        let cors = rec.documents.get(CORS_DOC).and_then(|v| {
            serde_json::from_value::<CorsConfiguration>(v.clone())
                .inspect_err(|e| {
                    tracing::error!(bucket = %rec.name, document = CORS_DOC, error = %e, "stored bucket document does not parse");
                })
                .ok()
                .map(Arc::new)
        });
        // A damaged lifecycle document does nothing (no object is transitioned or expired
        // on the strength of a document that does not parse).
        let lifecycle = rec.documents.get(LIFECYCLE_DOC).and_then(|v| {
            serde_json::from_value::<LifecycleConfiguration>(v.clone())
                .inspect_err(|e| {
                    tracing::error!(bucket = %rec.name, document = LIFECYCLE_DOC, error = %e, "stored bucket document does not parse");
                })
                .ok()
                .map(Arc::new)
        });
        // Object Lock protects data: a damaged document fails closed like an access document.
        let object_lock = match rec.documents.get(OBJECT_LOCK_DOC) {
            None => None,
            Some(v) => match serde_json::from_value::<ObjectLockConfiguration>(v.clone()) {
                Ok(c) => Some(Arc::new(c)),
                Err(e) => {
                    fail(OBJECT_LOCK_DOC, &e);
                    None
                }
            },
        };
        let ownership = rec
            .documents
            .get(OWNERSHIP_DOC)
            .and_then(|v| v.as_str())
            .map(str::to_string);
        // An ACL only ever widens access: a damaged one is read as the owner's alone.
        let acl = rec.documents.get(ACL_DOC).and_then(|v| {
            serde_json::from_value::<Acl>(v.clone())
                .inspect_err(|e| {
                    tracing::error!(bucket = %rec.name, document = ACL_DOC, error = %e, "stored bucket document does not parse");
                })
                .ok()
                .map(Arc::new)
        });
        // A damaged logging document logs nothing (logged as an error).
        let logging = rec.documents.get(LOGGING_DOC).and_then(|v| {
            serde_json::from_value::<BucketLoggingStatus>(v.clone())
                .inspect_err(|e| {
                    tracing::error!(bucket = %rec.name, document = LOGGING_DOC, error = %e, "stored bucket document does not parse");
                })
                .ok()?
                .logging_enabled
                .map(Arc::new)
        });
        let request_metrics = rec
            .documents
            .get(METRICS_DOC)
            .and_then(serde_json::Value::as_object)
            .map(|m| m.values().map(MetricsFilter::of).collect())
            .unwrap_or_default();
        // The store reads the same document in every write's transaction, where a damaged one
        // refuses the write: it is only ever stored validated.
        let replication = rec.documents.get(REPLICATION_DOC).and_then(|v| {
            serde_json::from_value::<ReplicationConfiguration>(v.clone())
                .inspect_err(|e| {
                    tracing::error!(bucket = %rec.name, document = REPLICATION_DOC, error = %e, "stored bucket document does not parse");
                })
                .ok()
                .map(Arc::new)
        });
        let restricted = match &policy {
            Some(p) if public_access_block.restrict_public_buckets && p.is_public() => {
                Some(Arc::new(p.without_public_grants()))
            }
            _ => None,
        };
        Self {
            name: rec.name.clone(),
            versioning: rec.versioning,
            reads_object_tags: policy
                .as_ref()
                .is_some_and(|p| p.uses_condition_key(leadshop_spec::policy::EXISTING_OBJECT_TAG)),
            policy,
            restricted,
            public_access_block,
            encryption,
            cors,
            lifecycle,
            ownership,
            acl,
            object_lock,
            logging,
            request_metrics,
            replication,
            damaged,
        }
    }

    /// The bucket policy that applies to a caller (RestrictPublicBuckets: its public grants do
    /// nothing for anonymous callers).
    #[must_use]
    pub fn policy_for(&self, anonymous: bool) -> Option<&Arc<Policy>> {
        if anonymous && self.restricted.is_some() {
            self.restricted.as_ref()
        } else {
            self.policy.as_ref()
        }
    }

    /// Object Ownership in force (`BucketOwnerEnforced` unless set otherwise; `ObjectWriter`
    /// after DeleteBucketOwnershipControls, as on AWS).
    #[must_use]
    pub fn object_ownership(&self) -> &str {
        match self.ownership.as_deref() {
            None => "BucketOwnerEnforced",
            Some("None") => "ObjectWriter",
            Some(o) => o,
        }
    }

    /// Whether ACLs are in force (Object Ownership other than `BucketOwnerEnforced`).
    #[must_use]
    pub fn acls_enabled(&self) -> bool {
        self.object_ownership() != "BucketOwnerEnforced"
    }

    /// Whether SSE-C uploads are unblocked (AWS blocks them by default since 2026).
    #[must_use]
    pub fn sse_c_allowed(&self) -> bool {
        self.encryption
            .as_ref()
            .is_some_and(EncryptionConfiguration::sse_c_allowed)
    }
}

/// The cache of bucket configurations.
#[derive(Debug)]
pub struct BucketConfigs {
    store: Arc<Store>,
    cache: RwLock<HashMap<String, Arc<BucketConfig>>>,
    /// Bumped by every invalidation, so a read that raced with a change does not cache what it
    /// read before the change.
    generation: AtomicU64,
}

impl BucketConfigs {
    /// A cache over `store`, which it asks to be told of every bucket change.
    #[must_use]
    pub fn new(store: Arc<Store>) -> Arc<Self> {
        let configs = Arc::new(Self {
            store: store.clone(),
            cache: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
        });
        let weak: Weak<Self> = Arc::downgrade(&configs);
        store.watch_buckets(move |bucket| {
            if let Some(c) = weak.upgrade() {
                c.invalidate(bucket);
            }
        });
        configs
    }

    /// A bucket's configuration; `None` when the bucket does not exist. A cache miss reads
    /// the bucket's record on the blocking pool, never on an async thread; a read that fails
    /// there fails closed (a damaged configuration refuses every request).
    pub async fn load(self: &Arc<Self>, bucket: &str) -> Option<Arc<BucketConfig>> {
        if let Some(c) = self.cached(bucket) {
            return Some(c);
        }
        let (configs, name) = (self.clone(), bucket.to_string());
        match tokio::task::spawn_blocking(move || configs.get(&name)).await {
            Ok(config) => config,
            Err(e) => {
                tracing::error!(bucket, error = %e, "reading the bucket's configuration failed; refusing its requests");
                Some(Arc::new(BucketConfig::unreadable(bucket)))
            }
        }
    }

    /// A bucket's configuration if it is in the cache now (never reads the store).
    #[must_use]
    pub fn cached(&self, bucket: &str) -> Option<Arc<BucketConfig>> {
        self.cache.read().expect("cache lock").get(bucket).cloned()
    }

    /// [`BucketConfigs::load`] for code that may block (the blocking pool, a subscriber's
    /// worker): a cache hit, or the record read on a miss.
    pub fn get_blocking(&self, bucket: &str) -> Option<Arc<BucketConfig>> {
        self.get(bucket)
    }

    /// [`BucketConfigs::get_blocking`] for work that can wait and try again (log delivery):
    /// `Ok(None)` only when the bucket does not exist, a store failure is an error.
    ///
    /// # Errors
    /// The bucket's record cannot be read.
    pub fn try_get_blocking(&self, bucket: &str) -> Result<Option<Arc<BucketConfig>>, StoreError> {
        if let Some(c) = self.cached(bucket) {
            return Ok(Some(c));
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let record = match self.store.bucket(bucket) {
            Ok(r) => r,
            Err(StoreError::NoSuchBucket(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let config = Arc::new(BucketConfig::from_record(&record));
        let mut cache = self.cache.write().expect("cache lock");
        if self.generation.load(Ordering::SeqCst) == generation {
            cache.insert(bucket.to_string(), config.clone());
        }
        Ok(Some(config))
    }

    /// [`BucketConfigs::load`]'s work, on the blocking pool: the record read on a cache miss;
    /// a record that cannot be read fails closed (a damaged configuration).
    fn get(&self, bucket: &str) -> Option<Arc<BucketConfig>> {
        match self.try_get_blocking(bucket) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(bucket, error = %e, "reading the bucket's configuration failed; refusing its requests");
                Some(Arc::new(BucketConfig::unreadable(bucket)))
            }
        }
    }

    fn invalidate(&self, bucket: &str) {
        let mut cache = self.cache.write().expect("cache lock");
        self.generation.fetch_add(1, Ordering::SeqCst);
        cache.remove(bucket);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(docs: &[(&str, serde_json::Value)]) -> BucketRecord {
        BucketRecord {
            name: "b".into(),
            created_ms: 0,
            region: "us-east-1".into(),
            versioning: VersioningState::Enabled,
            documents: docs
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect(),
        }
    }

    #[test]
    fn a_document_that_does_not_parse_fails_closed() {
        let ok = BucketConfig::from_record(&record(&[]));
        assert!(!ok.damaged && ok.policy.is_none() && ok.encryption.is_none());
        let bad_policy =
            BucketConfig::from_record(&record(&[(POLICY_DOC, serde_json::json!("{not json"))]));
        assert!(bad_policy.damaged);
        let bad_pab = BucketConfig::from_record(&record(&[(
            PUBLIC_ACCESS_BLOCK_DOC,
            serde_json::json!({"BlockPublicAcls": "maybe"}),
        )]));
        assert!(bad_pab.damaged);
        assert!(bad_pab.public_access_block.restrict_public_buckets);
    }

    #[test]
    fn the_store_invalidates_the_cache_when_a_bucket_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), None).unwrap());
        let configs = BucketConfigs::new(store.clone());
        assert!(configs.get("b").is_none(), "no such bucket");
        store.create_bucket(&record(&[])).unwrap();
        let before = configs.get("b").expect("created");
        assert!(before.encryption.is_none());
        store
            .update_bucket("b", |r| {
                r.documents.insert(
                    ENCRYPTION_DOC.into(),
                    serde_json::to_value(EncryptionConfiguration::sse_s3(true)).unwrap(),
                );
                Ok(())
            })
            .unwrap();
        assert!(
            configs.get("b").unwrap().encryption.is_some(),
            "the change is seen"
        );
        store.delete_bucket("b").unwrap();
        assert!(configs.get("b").is_none(), "the deletion is seen");
    }
}
