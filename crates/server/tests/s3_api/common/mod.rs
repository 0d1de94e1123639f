//! A server on 127.0.0.1 port 0 in a temp directory, and official aws-sdk-s3 clients for it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use leadshop_server::{Config, ServerHandle};

pub struct TestServer {
    pub handle: ServerHandle,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let handle = leadshop_server::start(test_config(dir.path()))
            .await
            .expect("server starts");
        Self { handle, dir }
    }

    /// A server on an existing data directory, with its own configuration.
    pub async fn start_in(dir: tempfile::TempDir, cfg: Config) -> Self {
        let handle = leadshop_server::start(cfg).await.expect("server starts");
        Self { handle, dir }
    }

    /// Shuts the server down gracefully and hands back its data directory.
    pub async fn stop(self) -> tempfile::TempDir {
        self.handle.shutdown().await;
        self.dir
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn endpoint(&self) -> String {
        self.handle.endpoints().s3.clone()
    }

    /// A client with the named bootstrap key (`admin`, `app`).
    pub fn client(&self, key: &str) -> Client {
        let k = self
            .handle
            .state()
            .core
            .keys
            .by_name(key)
            .expect("bootstrap key");
        self.client_with(&k.access_key_id, &k.secret_access_key, None)
    }

    pub fn admin(&self) -> Client {
        self.client("admin")
    }

    /// A client with any credentials, optionally with a clock that is off.
    pub fn client_with(&self, id: &str, secret: &str, clock: Option<SystemTime>) -> Client {
        self.client_at(&self.endpoint(), id, secret, clock)
    }

    /// A client with the named key for the plain-HTTP listener.
    pub fn plain_http_client(&self, key: &str) -> Client {
        let k = self
            .handle
            .state()
            .core
            .keys
            .by_name(key)
            .expect("bootstrap key");
        let http = self.handle.endpoints().http.clone();
        self.client_at(&http, &k.access_key_id, &k.secret_access_key, None)
    }

    /// A raw HTTPS/1.1 exchange with the S3 listener (for anonymous and presigned requests):
    /// returns the status and the whole response text.
    pub async fn https_raw(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
    ) -> (u16, String) {
        let addr = self.endpoint().trim_start_matches("https://").to_string();
        self.exchange("localhost", &addr, method, path_and_query, headers, &[])
            .await
    }

    /// [`TestServer::https_raw`] to a host name (sent as SNI, verified against the dev CA, and
    /// in the Host header with the listener's port), with a body.
    pub async fn https_raw_to(
        &self,
        host: &str,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        let addr = self.endpoint().trim_start_matches("https://").to_string();
        let port = addr.rsplit_once(':').expect("port").1.to_string();
        let host_header = format!("{host}:{port}");
        self.exchange(host, &host_header, method, path_and_query, headers, body)
            .await
    }

    async fn exchange(
        &self,
        host: &str,
        host_header: &str,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        let addr = self.endpoint().trim_start_matches("https://").to_string();
        let pem = std::fs::read(self.data_dir().join("tls/ca.pem")).expect("dev CA");
        let mut request = format!(
            "{method} {path_and_query} HTTP/1.1\r\nHost: {host_header}\r\nConnection: close\r\n"
        );
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() {
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        let mut request = request.into_bytes();
        request.extend_from_slice(body);
        let host = host.to_string();
        tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut roots = rustls::RootCertStore::empty();
            for c in rustls_pemfile_certs(&pem) {
                roots.add(c).expect("CA cert");
            }
            let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
            let name = rustls::pki_types::ServerName::try_from(host).unwrap();
            let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
            let tcp = std::net::TcpStream::connect(&addr).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            tls.write_all(&request).unwrap();
            let mut out = Vec::new();
            let _ = tls.read_to_end(&mut out);
            let text = String::from_utf8_lossy(&out).into_owned();
            let status = text
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            (status, text)
        })
        .await
        .unwrap()
    }

    /// A client for any endpoint with any credentials, optionally with a clock that is off.
    pub fn client_at(
        &self,
        endpoint: &str,
        id: &str,
        secret: &str,
        clock: Option<SystemTime>,
    ) -> Client {
        let pem = std::fs::read(self.data_dir().join("tls/ca.pem")).expect("dev CA");
        let tls_context = TlsContext::builder()
            .with_trust_store(TrustStore::empty().with_pem_certificate(pem))
            .build()
            .expect("tls context");
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .tls_context(tls_context)
            .build_https();
        let mut conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new(id, secret, None, None, "test"))
            .force_path_style(true)
            .http_client(http);
        if let Some(t) = clock {
            // The SDK corrects its clock from the server's Date header and retries; without
            // retries the first, skewed attempt is what the test sees.
            conf = conf
                .time_source(aws_smithy_async::time::StaticTimeSource::new(t))
                .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled());
        }
        Client::from_conf(conf.build())
    }
}

pub fn test_config(dir: &Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        s3_addr: "127.0.0.1:0".parse().unwrap(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        console_addr: "127.0.0.1:0".parse().unwrap(),
        shutdown_grace_secs: 2,
        ..Config::default()
    }
}

/// The S3 error code of a failed SDK call.
pub fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("<none>").to_string()
}

/// The HTTP status of a failed SDK call.
pub fn status<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> u16
where
    R: HasStatus,
{
    e.raw_response().map_or(0, HasStatus::status)
}

pub trait HasStatus {
    fn status(&self) -> u16;
}

impl HasStatus for aws_smithy_runtime_api::http::Response {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
}

/// A unique bucket name for a test.
pub fn bucket(test: &str) -> String {
    format!("t-{}-{:08x}", test.replace('_', "-"), rand::random::<u32>())
}

/// Deterministic pseudo-random bytes.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Every regular file under `dir`.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Files under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|f| {
            std::fs::read(f)
                .map(|data| data.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        })
        .collect()
}

/// The "nothing in the clear on disk" scan, with its positive control: an object named
/// `<control>` is written first, and object names are kept in the clear in the metadata, so
/// the scan must find `control` (in meta.redb) — a scan that reads nothing, or reads before
/// the data is on disk, fails here — and must find none of `secrets`.
pub async fn assert_nothing_in_the_clear(srv: &TestServer, secrets: &[(&str, Vec<u8>)]) {
    let control = format!("scan-control-{:016x}", rand::random::<u64>());
    srv.admin()
        .put_object()
        .bucket("leadshop-assets")
        .key(&control)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"c"))
        .send()
        .await
        .expect("control object");
    let found = files_containing(srv.data_dir(), control.as_bytes());
    assert!(
        found.iter().any(|f| f.ends_with("meta.redb")),
        "positive control: the scan must see the key name in meta.redb, saw it in {found:?}"
    );
    for (what, needle) in secrets {
        let found = files_containing(srv.data_dir(), needle);
        assert!(found.is_empty(), "{what} found in the clear in {found:?}");
    }
}

/// The raw bytes of a key and the forms it travels in (base64 in headers, hex in logs).
pub fn key_forms(what: &str, key: &[u8]) -> Vec<(String, Vec<u8>)> {
    use base64::Engine as _;
    vec![
        (format!("{what} (raw)"), key.to_vec()),
        (
            format!("{what} (base64)"),
            base64::engine::general_purpose::STANDARD
                .encode(key)
                .into_bytes(),
        ),
        (format!("{what} (hex)"), hex::encode(key).into_bytes()),
    ]
}

/// The certificates of a PEM bundle.
fn rustls_pemfile_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .map(|c| c.expect("PEM certificate"))
        .collect()
}

/// CompleteMultipartUpload with the parts' ETags in order (part numbers 1, 2, …).
pub async fn complete_upload(
    client: &Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
    etags: &[&str],
) -> aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput {
    let parts = etags
        .iter()
        .zip(1..)
        .map(|(etag, n)| {
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(n)
                .e_tag(*etag)
                .build()
        })
        .collect();
    client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("completing {key}: {e:?}"))
}
