//! Runbook operations on any S3 endpoint — AWS, `leadshop serve`, or another S3-compatible
//! cluster — with the official SDK, configured from the standard environment
//! (`AWS_ENDPOINT_URL`, `AWS_CA_BUNDLE`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, `AWS_REGION`/`AWS_DEFAULT_REGION`), as `leadshop env` exports it.
//! See docs/OPERATIONS.md.

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::types::PublicAccessBlockConfiguration;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// Missing or unusable settings.
    #[error("{0}")]
    Config(String),
    /// The endpoint refused or failed a request.
    #[error("{operation}: {code}: {message}")]
    Service {
        /// The S3 operation.
        operation: &'static str,
        /// S3 error code (or the transport error).
        code: String,
        /// Its message.
        message: String,
    },
    /// Nothing to do.
    #[error("{0}")]
    Nothing(String),
    /// The endpoint could not be reached or its certificate was not trusted: said in words,
    /// with what to set, never as the SDK's debug dump.
    #[error("{0}")]
    Transport(String),
}

/// The code given to an answer that is neither an S3 error nor the response expected.
pub const UNEXPECTED_RESPONSE: &str = "UnexpectedResponse";

/// DisplayErrorContext prints the causes, then the whole error's Debug form: the causes.
fn causes(chain: &str) -> &str {
    [
        "(DispatchFailure(",
        "(TimeoutError(",
        "(ServiceError(",
        "(ResponseError(",
    ]
    .iter()
    .find_map(|m| chain.find(m))
    .map_or(chain, |i| &chain[..i])
    .trim_end()
}

/// The innermost cause of a chain, without the SDK's debug form.
fn first_cause(chain: &str) -> &str {
    let chain = causes(chain);
    chain.rsplit(": ").next().unwrap_or(chain).trim()
}

/// What a connection failure means and what to set, from the SDK's error chain.
fn transport_message(operation: &str, chain: &str) -> String {
    let chain = causes(chain);
    let lower = chain.to_ascii_lowercase();
    let (what, fix) = if lower.contains("unknownissuer")
        || lower.contains("certificate")
        || lower.contains("invalidcertificate")
    {
        (
            "the endpoint's TLS certificate is not trusted",
            "set AWS_CA_BUNDLE to the CA that signed it (for a local server: the `AWS_CA_BUNDLE` line of `leadshop env`; for AWS S3 unset it)",
        )
    } else if lower.contains("connection refused") || lower.contains("connect") {
        (
            "nothing answered at the endpoint",
            "check AWS_ENDPOINT_URL (or --endpoint) and that the server is running (`leadshop serve`; `leadshop env` prints its URL)",
        )
    } else if lower.contains("dns") || lower.contains("resolve") || lower.contains("lookup") {
        (
            "the endpoint's host name does not resolve",
            "check AWS_ENDPOINT_URL (or --endpoint)",
        )
    } else if lower.contains("timeout") || lower.contains("timed out") {
        (
            "the endpoint did not answer in time",
            "check AWS_ENDPOINT_URL and the network",
        )
    } else {
        (
            "the request could not be sent",
            "check AWS_ENDPOINT_URL and AWS_CA_BUNDLE",
        )
    };
    // The innermost cause, one line, for whoever needs it.
    let cause = first_cause(chain);
    format!("{operation}: {what}; {fix} (cause: {cause:.200})")
}

pub(crate) fn service<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    operation: &'static str,
) -> impl FnOnce(aws_sdk_s3::error::SdkError<E, R>) -> RemoteError {
    move |e| {
        if matches!(
            e,
            aws_sdk_s3::error::SdkError::DispatchFailure(_)
                | aws_sdk_s3::error::SdkError::TimeoutError(_)
        ) {
            return RemoteError::Transport(transport_message(
                operation,
                &DisplayErrorContext(&e).to_string(),
            ));
        }
        match e.code() {
            Some(code) => RemoteError::Service {
                operation,
                code: code.to_string(),
                message: e
                    .message()
                    .map_or_else(|| DisplayErrorContext(&e).to_string(), str::to_string),
            },
            // An answer that is no S3 error and no S3 response: a store that does not
            // implement the API answering something else (moto's ListBucketResult for
            // ?metrics). One line of the cause, never the SDK's debug dump.
            None => RemoteError::Service {
                operation,
                code: UNEXPECTED_RESPONSE.to_string(),
                message: format!(
                    "the endpoint answered something that is not {operation}'s response"
                ),
            },
        }
    }
}

/// `Ok(None)` for the error code that means "not configured" (`NoSuchCORSConfiguration`, …).
pub(crate) fn not_configured<T, E, R>(
    result: Result<T, aws_sdk_s3::error::SdkError<E, R>>,
    operation: &'static str,
    code: &str,
) -> Result<Option<T>, RemoteError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code() == Some(code) => Ok(None),
        Err(e) => Err(service(operation)(e)),
    }
}

/// One bucket on one endpoint.
#[derive(Debug, Clone)]
pub struct Remote {
    pub(crate) client: Client,
    /// The bucket acted on.
    pub bucket: String,
    /// The endpoint (`AWS S3` when the SDK resolves it).
    pub endpoint: String,
}

impl Remote {
    /// A client from the environment; `endpoint` and `bucket` override `AWS_ENDPOINT_URL` and
    /// `AWS_S3_BUCKET_NAME`. Without an endpoint the SDK talks to AWS S3 in the region.
    ///
    /// # Errors
    /// [`RemoteError::Config`] naming what is missing.
    pub fn from_env(endpoint: Option<String>, bucket: Option<String>) -> Result<Self, RemoteError> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let bucket = bucket
            .or_else(|| var("AWS_S3_BUCKET_NAME"))
            .ok_or_else(|| {
                RemoteError::Config("no bucket: pass --bucket or set AWS_S3_BUCKET_NAME".into())
            })?;
        let (Some(id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
        else {
            return Err(RemoteError::Config(
                "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (for a local server: eval \"$(leadshop env)\")".into(),
            ));
        };
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".into());
        let endpoint = endpoint.or_else(|| var("AWS_ENDPOINT_URL"));
        let mut conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region))
            .credentials_provider(Credentials::new(
                id,
                secret,
                var("AWS_SESSION_TOKEN"),
                None,
                "environment",
            ));
        if let Some(url) = &endpoint {
            conf = conf.endpoint_url(url).force_path_style(true);
        }
        let mut trust = TrustStore::default();
        if let Some(ca) = var("AWS_CA_BUNDLE") {
            let pem = std::fs::read(&ca)
                .map_err(|e| RemoteError::Config(format!("AWS_CA_BUNDLE {ca}: {e}")))?;
            trust = TrustStore::empty().with_pem_certificate(pem);
        }
        let tls_context = TlsContext::builder()
            .with_trust_store(trust)
            .build()
            .map_err(|e| RemoteError::Config(format!("TLS setup: {e}")))?;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .tls_context(tls_context)
            .build_https();
        Ok(Self {
            client: Client::from_conf(conf.http_client(http).build()),
            bucket,
            endpoint: endpoint.unwrap_or_else(|| "AWS S3".into()),
        })
    }

    /// Security incident: turns all four Public Access Block settings on and reads them back.
    ///
    /// # Errors
    /// [`RemoteError::Service`], or [`RemoteError::Nothing`] if the read-back differs.
    pub async fn lockdown(&self) -> Result<PublicAccessBlockConfiguration, RemoteError> {
        let all_on = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        self.client
            .put_public_access_block()
            .bucket(&self.bucket)
            .public_access_block_configuration(all_on.clone())
            .send()
            .await
            .map_err(service("PutPublicAccessBlock"))?;
        let got = self
            .client
            .get_public_access_block()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(service("GetPublicAccessBlock"))?
            .public_access_block_configuration
            .unwrap_or_else(|| PublicAccessBlockConfiguration::builder().build());
        if got != all_on {
            return Err(RemoteError::Nothing(format!(
                "the endpoint accepted the lockdown but reports {got:?}"
            )));
        }
        Ok(got)
    }

    /// Data recovery: makes an earlier version of `key` current again. With `version_id`, that
    /// version is copied over the key (a new version; history is kept). Without, the newest
    /// delete marker is removed if it is current, else the previous version is copied back.
    ///
    /// # Errors
    /// [`RemoteError::Nothing`] when the key has no earlier version; service errors.
    pub async fn recover(
        &self,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<String, RemoteError> {
        if let Some(v) = version_id {
            let out = self
                .client
                .copy_object()
                .bucket(&self.bucket)
                .key(key)
                .copy_source(format!(
                    "{}/{}?versionId={}",
                    self.bucket,
                    encode_key(key),
                    encode_key(v)
                ))
                .send()
                .await
                .map_err(service("CopyObject"))?;
            return Ok(format!(
                "copied version {v} of {key} over the current one (new version {})",
                out.version_id().unwrap_or("null")
            ));
        }
        // Newest first, versions and delete markers of exactly this key.
        let listing = self
            .client
            .list_object_versions()
            .bucket(&self.bucket)
            .prefix(key)
            .send()
            .await
            .map_err(service("ListObjectVersions"))?;
        let marker = listing
            .delete_markers()
            .iter()
            .find(|m| m.key() == Some(key) && m.is_latest() == Some(true));
        if let Some(m) = marker {
            let vid = m.version_id().unwrap_or("null").to_string();
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .version_id(&vid)
                .send()
                .await
                .map_err(service("DeleteObject"))?;
            return Ok(format!(
                "removed delete marker {vid}: {key} is visible again"
            ));
        }
        let versions: Vec<_> = listing
            .versions()
            .iter()
            .filter(|v| v.key() == Some(key))
            .collect();
        let previous = versions
            .iter()
            .find(|v| v.is_latest() != Some(true))
            .and_then(|v| v.version_id())
            .ok_or_else(|| {
                RemoteError::Nothing(format!(
                    "{key} has no earlier version in {} to recover",
                    self.bucket
                ))
            })?
            .to_string();
        Box::pin(self.recover(key, Some(&previous))).await
    }
}

/// What [`Remote::cleanup`] did (or would do, in a dry run).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Cleanup {
    /// Current objects deleted (a delete marker each, in a versioned bucket).
    pub current: usize,
    /// Noncurrent versions and delete markers removed for good.
    pub noncurrent: usize,
    /// Their bytes.
    pub noncurrent_bytes: i64,
    /// Incomplete multipart uploads aborted.
    pub uploads: usize,
}

impl Remote {
    /// Cost overrun: deletes every current object under `prefix` (as `aws s3 rm --recursive`
    /// does: a delete marker where versioned) and, with `noncurrent`, removes every version
    /// (current ones included) and delete marker for good and aborts incomplete multipart
    /// uploads — what a stricter lifecycle would do days later,
    /// now. `dry_run` only counts.
    ///
    /// # Errors
    /// Service errors, including per-key errors of DeleteObjects.
    pub async fn cleanup(
        &self,
        prefix: &str,
        noncurrent: bool,
        dry_run: bool,
    ) -> Result<Cleanup, RemoteError> {
        self.cleanup_with(prefix, noncurrent, dry_run, &mut |_| {})
            .await
    }

    /// [`Self::cleanup`], telling `on_page` the counts so far after each listing page.
    ///
    /// # Errors
    /// As [`Self::cleanup`].
    pub async fn cleanup_with(
        &self,
        prefix: &str,
        noncurrent: bool,
        dry_run: bool,
        on_page: &mut (dyn FnMut(&Cleanup) + Send),
    ) -> Result<Cleanup, RemoteError> {
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        let mut report = Cleanup::default();
        let mut batch: Vec<ObjectIdentifier> = Vec::new();
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(service("ListObjectVersions"))?;
            for v in page.versions() {
                let Some(key) = v.key() else { continue };
                let id = if v.is_latest() == Some(true) {
                    report.current += 1;
                    // With --noncurrent the current version goes for good too: deleting it
                    // by key alone would only add a delete marker over it on a versioned
                    // bucket, and free nothing.
                    let version = noncurrent.then(|| v.version_id().map(str::to_string));
                    ObjectIdentifier::builder()
                        .key(key)
                        .set_version_id(version.flatten())
                        .build()
                } else if noncurrent {
                    report.noncurrent += 1;
                    report.noncurrent_bytes += v.size().unwrap_or(0);
                    ObjectIdentifier::builder()
                        .key(key)
                        .set_version_id(v.version_id().map(str::to_string))
                        .build()
                } else {
                    continue;
                };
                batch.push(id.map_err(|e| RemoteError::Config(e.to_string()))?);
            }
            if noncurrent {
                for m in page.delete_markers() {
                    let Some(key) = m.key() else { continue };
                    report.noncurrent += 1;
                    batch.push(
                        ObjectIdentifier::builder()
                            .key(key)
                            .set_version_id(m.version_id().map(str::to_string))
                            .build()
                            .map_err(|e| RemoteError::Config(e.to_string()))?,
                    );
                }
            }
            while batch.len() >= 1000 || (!batch.is_empty() && page.is_truncated() != Some(true)) {
                let chunk: Vec<_> = batch.drain(..batch.len().min(1000)).collect();
                if !dry_run {
                    self.delete_batch(chunk, Delete::builder()).await?;
                }
            }
            on_page(&report);
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
        }
        if noncurrent {
            let uploads = self
                .client
                .list_multipart_uploads()
                .bucket(&self.bucket)
                .prefix(prefix)
                .send()
                .await
                .map_err(service("ListMultipartUploads"))?;
            for u in uploads.uploads() {
                report.uploads += 1;
                if !dry_run {
                    self.client
                        .abort_multipart_upload()
                        .bucket(&self.bucket)
                        .set_key(u.key().map(str::to_string))
                        .set_upload_id(u.upload_id().map(str::to_string))
                        .send()
                        .await
                        .map_err(service("AbortMultipartUpload"))?;
                }
            }
        }
        Ok(report)
    }

    pub(crate) async fn delete_batch(
        &self,
        objects: Vec<aws_sdk_s3::types::ObjectIdentifier>,
        builder: aws_sdk_s3::types::builders::DeleteBuilder,
    ) -> Result<(), RemoteError> {
        let delete = builder
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| RemoteError::Config(e.to_string()))?;
        let out = self
            .client
            .delete_objects()
            .bucket(&self.bucket)
            .delete(delete)
            .send()
            .await
            .map_err(service("DeleteObjects"))?;
        if let Some(e) = out.errors().first() {
            return Err(RemoteError::Service {
                operation: "DeleteObjects",
                code: e.code().unwrap_or("Error").to_string(),
                message: format!(
                    "{} (key {}; {} of the batch failed)",
                    e.message().unwrap_or_default(),
                    e.key().unwrap_or_default(),
                    out.errors().len()
                ),
            });
        }
        Ok(())
    }
}

/// Percent-encodes a key for `x-amz-copy-source` (slashes kept).
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn copy_source_keys_are_encoded() {
        assert_eq!(super::encode_key("a b/ü?.pdf"), "a%20b/%C3%BC%3F.pdf");
    }
}
