//! Delivery to an endpoint `[replication.destinations.<name>]` names — another leadshop, AWS
//! S3, any S3-compatible store — with the official SDK at its defaults (SigV4, checksums).
//!
//! The source's plaintext is streamed from its data files (decrypted with the source's keys)
//! into a PutObject with its metadata, content headers, tags and storage class; the destination
//! encrypts it under its own settings. A leadshop destination gets `x-leadshop-replica-of` and
//! recognises a second delivery itself; elsewhere the replica's user metadata carries
//! `leadshop-replica-of` and the current version is looked at before writing, so a retry after
//! a lost answer writes no second version.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use futures::TryStreamExt as _;
use leadshop_spec::replication::{REPLICA_HEADER, bucket_of_arn};
use leadshop_store::{MasterKeys, ReplicationTask};
use tokio::sync::Mutex;

use crate::config::ReplicationDestination;
use crate::s3::Leadshop;
use crate::s3::replica::{self, Undelivered};

/// The user-metadata name that marks a replica at a destination that is not leadshop.
const MARKER: &str = "leadshop-replica-of";
/// How long a destination's versioning answer is trusted.
const VERSIONING_TTL: Duration = Duration::from_secs(30);

/// A destination's client, built with the key it was built with.
pub(super) struct Remote {
    client: Client,
    key_id: String,
    /// When versioning was last seen enabled at the destination bucket.
    versioning_seen: std::sync::Mutex<Option<Instant>>,
}

/// Clients by destination name, rebuilt when the destination's key changes.
#[derive(Default)]
pub(super) struct Clients(Mutex<HashMap<String, Arc<Remote>>>);

fn credentials(
    dest: &ReplicationDestination,
    data_dir: &Path,
    masters: &MasterKeys,
    name: &str,
) -> Result<(String, String), Undelivered> {
    if let (Some(file), Some(profile)) = (&dest.credentials_file, &dest.profile) {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Undelivered::later(format!("{}: {e}", file.display())))?;
        let profiles = leadshop_spec::credentials::parse_profiles(&text)
            .map_err(|e| Undelivered::later(format!("{}: {e}", file.display())))?;
        return profiles
            .into_iter()
            .find(|(n, _, _)| n == profile)
            .map(|(_, id, secret)| (id, secret))
            .ok_or_else(|| {
                Undelivered::later(format!("{}: no profile [{profile}]", file.display()))
            });
    }
    // A key not stored yet may be stored while the server runs: retried, not FAILED.
    leadshop_keys::replication_keys::get(data_dir, masters, name)
        .map(|k| (k.access_key_id, k.secret_access_key))
        .map_err(|e| Undelivered::later(e.to_string()))
}

fn build(dest: &ReplicationDestination, id: String, secret: String) -> Result<Client, Undelivered> {
    let mut trust = TrustStore::default();
    if let Some(ca) = &dest.ca_bundle {
        let pem = std::fs::read(ca)
            .map_err(|e| Undelivered::later(format!("ca_bundle {}: {e}", ca.display())))?;
        trust = trust.with_pem_certificate(pem);
    }
    let tls_context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| Undelivered::later(format!("TLS setup: {e}")))?;
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .tls_context(tls_context)
        .build_https();
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(dest.region.clone()))
        .endpoint_url(&dest.endpoint)
        .force_path_style(dest.path_style)
        .credentials_provider(Credentials::new(
            id,
            secret,
            None,
            None,
            "leadshop-replication",
        ))
        .http_client(http)
        .build();
    Ok(Client::from_conf(conf))
}

impl Clients {
    /// The client of destination `name`, built (again) when its key changed.
    pub(super) async fn get(
        &self,
        name: &str,
        dest: &ReplicationDestination,
        data_dir: &Path,
        masters: &MasterKeys,
    ) -> Result<Arc<Remote>, Undelivered> {
        let (id, secret) = {
            let (dest, data_dir, masters, name) = (
                dest.clone(),
                data_dir.to_path_buf(),
                masters.clone(),
                name.to_string(),
            );
            tokio::task::spawn_blocking(move || credentials(&dest, &data_dir, &masters, &name))
                .await
                .map_err(|e| Undelivered::later(e.to_string()))??
        };
        let mut clients = self.0.lock().await;
        if let Some(c) = clients.get(name).filter(|c| c.key_id == id) {
            return Ok(c.clone());
        }
        let remote = Arc::new(Remote {
            client: build(dest, id.clone(), secret)?,
            key_id: id,
            versioning_seen: std::sync::Mutex::new(None),
        });
        clients.insert(name.to_string(), remote.clone());
        Ok(remote)
    }
}

/// An SDK error as a delivery outcome: the destination's refusal (4xx) is its code, anything
/// else (unreachable, 5xx, throttled, a timeout) is tried again.
fn undelivered<E: ProvideErrorMetadata + std::fmt::Debug>(
    e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Undelivered {
    match e {
        SdkError::ServiceError(ctx) => {
            let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
            let code = ctx
                .err()
                .code()
                .map_or_else(|| format!("HTTP {status}"), str::to_string);
            if status >= 500 || code == "SlowDown" || code == "RequestTimeout" {
                Undelivered::later(code)
            } else {
                Undelivered::refused(code)
            }
        }
        other => Undelivered::later(format!("unreachable: {}", first_line(other))),
    }
}

fn first_line(e: &dyn std::fmt::Debug) -> String {
    let text = format!("{e:?}");
    text.chars().take(200).collect()
}

/// Refuses a destination bucket whose versioning is not enabled (asked again after
/// [`VERSIONING_TTL`]).
async fn check_versioning(remote: &Remote, bucket: &str) -> Result<(), Undelivered> {
    let fresh = remote
        .versioning_seen
        .lock()
        .ok()
        .and_then(|t| *t)
        .is_some_and(|t| t.elapsed() < VERSIONING_TTL);
    if fresh {
        return Ok(());
    }
    let status = match remote
        .client
        .get_bucket_versioning()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(out) => out.status().map(|s| s.as_str().to_string()),
        // A 200 whose document the SDK cannot read (moto answers GetBucketVersioningResponse,
        // not VersioningConfiguration): the answer is unknown, not a refusal; the replica's
        // own write is what can still refuse.
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 200) => {
            tracing::debug!(
                bucket,
                "the destination's versioning answer does not decode; not checked"
            );
            Some("Enabled".into())
        }
        Err(e) => return Err(undelivered(&e)),
    };
    if status.as_deref() != Some("Enabled") {
        return Err(Undelivered::refused(
            "InvalidRequest: the destination bucket's versioning is not enabled",
        ));
    }
    if let Ok(mut t) = remote.versioning_seen.lock() {
        *t = Some(Instant::now());
    }
    Ok(())
}

/// Delivers `task` to `dest`; an object under `replica_kms_key` (the rule's ReplicaKmsKeyID,
/// a key of the destination's KMS) when there is one, else under the destination's default.
pub(super) async fn deliver(
    api: &Leadshop,
    remote: &Remote,
    dest: &ReplicationDestination,
    task: &ReplicationTask,
    replica_kms_key: Option<&str>,
) -> Result<(), Undelivered> {
    let bucket = bucket_of_arn(&dest.bucket).unwrap_or_default();
    let source = replica::source_id(task);
    check_versioning(remote, bucket).await?;
    let client = &remote.client;
    if task.delete_marker {
        if !dest.leadshop && current_is_marker(client, bucket, &task.key).await? {
            return Ok(());
        }
        let mut op = client
            .delete_object()
            .bucket(bucket)
            .key(&task.key)
            .customize();
        if dest.leadshop {
            let source = source.clone();
            op = op.mutate_request(move |req| {
                req.headers_mut().insert(REPLICA_HEADER, source.clone());
            });
        }
        op.send().await.map_err(|e| undelivered(&e))?;
        return Ok(());
    }
    if !dest.leadshop && current_is_replica_of(client, bucket, &task.key, &source).await? {
        return Ok(());
    }
    let Some((v, reader)) = replica::open_source(api, task).await? else {
        return Ok(());
    };
    let mut metadata = v.metadata.clone();
    if !dest.leadshop {
        metadata.insert(MARKER.into(), source.clone());
    }
    let body = http_body_util::StreamBody::new(reader.map_ok(hyper::body::Frame::data));
    let h = &v.headers;
    let tagging = (!v.tags.is_empty()).then(|| {
        serde_urlencoded::to_string(v.tags.iter().collect::<Vec<_>>()).unwrap_or_default()
    });
    let class = task
        .storage_class
        .clone()
        .unwrap_or_else(|| v.storage_class.name().to_string());
    let op = client
        .put_object()
        .bucket(bucket)
        .key(&task.key)
        .content_length(i64::try_from(v.size).unwrap_or(i64::MAX))
        .body(ByteStream::from_body_1_x(body))
        .set_metadata((!metadata.is_empty()).then(|| metadata.into_iter().collect()))
        .set_content_type(h.content_type.clone())
        .set_content_encoding(h.content_encoding.clone())
        .set_content_disposition(h.content_disposition.clone())
        .set_content_language(h.content_language.clone())
        .set_cache_control(h.cache_control.clone())
        .set_website_redirect_location(h.website_redirect_location.clone())
        .set_tagging(tagging)
        .set_server_side_encryption(
            replica_kms_key.map(|_| aws_sdk_s3::types::ServerSideEncryption::AwsKms),
        )
        .set_ssekms_key_id(replica_kms_key.map(str::to_string))
        .storage_class(aws_sdk_s3::types::StorageClass::from(class.as_str()));
    let leadshop = dest.leadshop;
    let typed = h.content_type.is_some();
    op.customize()
        .mutate_request(move |req| {
            if leadshop {
                req.headers_mut().insert(REPLICA_HEADER, source.clone());
            }
            // The SDK names a body without a type application/octet-stream; the replica has
            // the source's headers, and the source had none.
            if !typed {
                req.headers_mut().remove("content-type");
            }
        })
        .send()
        .await
        .map_err(|e| undelivered(&e))?;
    Ok(())
}

/// Whether the key's current version at the destination is a delete marker.
async fn current_is_marker(client: &Client, bucket: &str, key: &str) -> Result<bool, Undelivered> {
    match client.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => Ok(false),
        Err(e) => {
            let marker = e
                .raw_response()
                .and_then(|r| r.headers().get("x-amz-delete-marker"))
                .is_some_and(|v| v == "true");
            let status = e.raw_response().map(|r| r.status().as_u16());
            match status {
                Some(404) => Ok(marker),
                _ => Err(undelivered(&e)),
            }
        }
    }
}

/// Whether the key's current version at the destination is already the replica of `source`.
async fn current_is_replica_of(
    client: &Client,
    bucket: &str,
    key: &str,
    source: &str,
) -> Result<bool, Undelivered> {
    match client.head_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(out
            .metadata()
            .and_then(|m| m.get(MARKER))
            .is_some_and(|v| v == source)),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(false),
        Err(e) => Err(undelivered(&e)),
    }
}
