//! The buckets of the spec documents (built in, or `buckets_dir`), created at start-up when
//! they do not exist yet.

use std::collections::BTreeMap;
use std::path::Path;

use leadshop_spec::BucketSpec;
use leadshop_store::{BucketRecord, Store, VersioningState};

use crate::config::Config;
use crate::start_error::{StartError, io_ctx};

/// Creates the buckets of the spec documents that do not exist yet. Existing buckets keep
/// their (possibly changed) configuration: the documents are a bootstrap, not a reset.
pub(crate) fn bootstrap_buckets(store: &Store, config: &Config) -> Result<(), StartError> {
    let vars = leadshop_spec::TemplateVars::new(&config.account_id);
    let specs = match &config.buckets_dir {
        None => BucketSpec::builtin(&vars)?,
        Some(dir) => load_spec_dir(dir, &vars)?,
    };
    for spec in specs {
        if store.bucket(&spec.name).is_ok() {
            continue;
        }
        let versioning = match spec.versioning.as_ref().map(|v| v.status) {
            Some(leadshop_spec::VersioningStatus::Enabled) => VersioningState::Enabled,
            Some(leadshop_spec::VersioningStatus::Suspended) => VersioningState::Suspended,
            None => VersioningState::Unversioned,
        };
        let rec = BucketRecord {
            name: spec.name.clone(),
            created_ms: store.clock().now_ms(),
            region: config.region.clone(),
            versioning,
            documents: bucket_documents(&spec),
        };
        store
            .create_bucket(&rec)
            .map_err(|source| StartError::Store {
                path: config.data_dir.clone(),
                source,
            })?;
        tracing::info!(bucket = %spec.name, "created bucket from its spec documents");
    }
    Ok(())
}

/// The documents a bucket record keeps, from a spec.
fn bucket_documents(spec: &BucketSpec) -> BTreeMap<String, serde_json::Value> {
    let mut docs = BTreeMap::new();
    if let Some(e) = &spec.encryption {
        docs.insert(
            crate::bucket_config::ENCRYPTION_DOC.to_string(),
            serde_json::to_value(e).expect("serialisable"),
        );
    }
    if let Some(p) = &spec.policy {
        docs.insert(
            crate::bucket_config::POLICY_DOC.to_string(),
            serde_json::Value::String(p.clone()),
        );
    }
    if let Some(c) = &spec.cors {
        docs.insert(
            crate::bucket_config::CORS_DOC.to_string(),
            serde_json::to_value(c).expect("serialisable"),
        );
    }
    if let Some(l) = &spec.lifecycle {
        docs.insert(
            crate::bucket_config::LIFECYCLE_DOC.to_string(),
            serde_json::to_value(l).expect("serialisable"),
        );
    }
    if let Some(l) = &spec.logging {
        docs.insert(
            crate::bucket_config::LOGGING_DOC.to_string(),
            serde_json::to_value(l).expect("serialisable"),
        );
    }
    if let Some(m) = &spec.metrics {
        docs.insert(
            crate::bucket_config::METRICS_DOC.to_string(),
            serde_json::Value::Object(
                m.configurations
                    .iter()
                    .map(|c| (c.id.clone(), serde_json::to_value(c).expect("serialisable")))
                    .collect(),
            ),
        );
    }
    if let Some(pab) = &spec.public_access_block {
        docs.insert(
            crate::bucket_config::PUBLIC_ACCESS_BLOCK_DOC.to_string(),
            serde_json::to_value(pab).expect("serialisable"),
        );
    }
    docs
}

fn load_spec_dir(
    dir: &Path,
    vars: &leadshop_spec::TemplateVars,
) -> Result<Vec<BucketSpec>, StartError> {
    let read_dir =
        |p: &Path| std::fs::read_dir(p).map_err(io_ctx(format!("reading {}", p.display())));
    let mut specs = Vec::new();
    let mut buckets: Vec<_> = read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .collect();
    buckets.sort_by_key(std::fs::DirEntry::file_name);
    for bucket in buckets {
        let name = bucket.file_name().to_string_lossy().into_owned();
        let docs = BucketSpec::read_documents(&bucket.path())
            .map_err(io_ctx(format!("reading {}", bucket.path().display())))?;
        specs.push(BucketSpec::parse(
            &name,
            docs.iter().map(|(f, t)| (f.as_str(), t.as_str())),
            vars,
        )?);
    }
    Ok(specs)
}
