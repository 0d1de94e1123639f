//! TLS: the development CA and server certificate, and the rustls server configuration.
//!
//! At first start a CA and a certificate for `localhost`, `127.0.0.1` and `::1` signed by it
//! are written to `<data-dir>/tls/` (directory 0700, files 0600). Clients trust `tls/ca.pem`
//! (`AWS_CA_BUNDLE`). A developer may add that CA to a browser's trust store, so it is made
//! harmless elsewhere: name constraints limit it to `localhost` (and `*.localhost`),
//! 127.0.0.0/8 and ::1, and it lives three years. It is renewed at start when it has less
//! than 30 days left, or when it predates these rules (`tls/dev-ca.json` records its format
//! and expiry); clients then need the new `ca.pem`. A configured certificate and key replace
//! the generated pair.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose, NameConstraints,
};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// Where the generated TLS material lives.
#[derive(Debug, Clone)]
pub struct DevTlsPaths {
    /// The development CA certificate clients should trust.
    pub ca_cert: PathBuf,
    /// The CA's private key (0600).
    pub ca_key: PathBuf,
    /// The server certificate chain.
    pub server_cert: PathBuf,
    /// The server's private key (0600).
    pub server_key: PathBuf,
    /// What was generated, and until when it is valid.
    pub meta: PathBuf,
}

/// The generation rules of the development CA. DO NOT LOWER: a CA without them is
/// replaced at start. 2 = name constraints and a three-year lifetime.
const DEV_CA_FORMAT: u32 = 2;
/// How long the CA and the server certificate live.
const LIFETIME: Duration = Duration::days(3 * 365);
/// Renewed at start when less than this is left.
const RENEW_BEFORE: Duration = Duration::days(30);

/// `tls/dev-ca.json`.
#[derive(Debug, Serialize, Deserialize)]
struct DevCaMeta {
    format: u32,
    /// Unix seconds after which the CA and the certificate are invalid.
    not_after: i64,
}

impl DevTlsPaths {
    /// Paths under `<data_dir>/tls`.
    #[must_use]
    pub fn new(data_dir: &Path) -> Self {
        let dir = data_dir.join("tls");
        Self {
            ca_cert: dir.join("ca.pem"),
            ca_key: dir.join("ca-key.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server-key.pem"),
            meta: dir.join("dev-ca.json"),
        }
    }
}

/// Errors creating or loading TLS material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Certificate generation failed.
    #[error("generating the development certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The PEM could not be used.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the certificate/key pair.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Creates the development CA and server certificate unless a current set exists; renews a
/// set that expires within 30 days or predates the name constraints.
///
/// # Errors
/// [`TlsError`] if generation or writing fails.
pub fn ensure_dev_certificate(paths: &DevTlsPaths) -> Result<(), TlsError> {
    ensure_dev_certificate_at(paths, OffsetDateTime::now_utc())
}

/// [`ensure_dev_certificate`] as if it were `now`.
///
/// # Errors
/// [`TlsError`] if generation or writing fails.
pub fn ensure_dev_certificate_at(paths: &DevTlsPaths, now: OffsetDateTime) -> Result<(), TlsError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Io { path, source }
    };
    let complete = [
        &paths.server_cert,
        &paths.server_key,
        &paths.ca_cert,
        &paths.ca_key,
    ]
    .iter()
    .all(|p| p.exists());
    let meta: Option<DevCaMeta> = std::fs::read(&paths.meta)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    match &meta {
        Some(m)
            if complete
                && m.format >= DEV_CA_FORMAT
                && m.not_after - now.unix_timestamp() > RENEW_BEFORE.whole_seconds() =>
        {
            return Ok(());
        }
        Some(_) => {
            tracing::warn!(ca = %paths.ca_cert.display(), "the development CA expires within 30 days: made a new one; clients must trust the new ca.pem")
        }
        None if complete => {
            tracing::warn!(ca = %paths.ca_cert.display(), "the development CA predates its name constraints and limited lifetime: made a new one; clients must trust the new ca.pem")
        }
        None => {}
    }
    let dir = paths.ca_cert.parent().expect("tls paths have a directory");
    crate::private_dir::create(dir).map_err(io_err(dir))?;

    let not_before = now - Duration::days(1);
    let not_after = now + LIFETIME;
    let ca_key = KeyPair::generate()?;
    let mut ca = ca_params()?;
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_cert = ca.self_signed(&ca_key)?;

    let server_key = KeyPair::generate()?;
    let mut leaf = leaf_params(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ])?;
    leaf.not_before = not_before;
    leaf.not_after = not_after - Duration::days(1);
    let issuer = Issuer::new(ca, ca_key);
    let leaf_cert = leaf.signed_by(&server_key, &issuer)?;

    let write = |path: &Path, bytes: &[u8]| {
        leadshop_keys::secret_file::write(path, bytes).map_err(io_err(path))
    };
    // The previous set is unusable from here on: drop its marker first, so a crash midway
    // leaves an incomplete set that the next start makes again.
    let _ = std::fs::remove_file(&paths.meta);
    write(&paths.ca_key, issuer.key().serialize_pem().as_bytes())?;
    write(&paths.server_key, server_key.serialize_pem().as_bytes())?;
    write(
        &paths.server_cert,
        format!("{}{}", leaf_cert.pem(), ca_cert.pem()).as_bytes(),
    )?;
    write(&paths.ca_cert, ca_cert.pem().as_bytes())?;
    // Written last: its presence marks the set complete.
    let meta = DevCaMeta {
        format: DEV_CA_FORMAT,
        not_after: (not_after - Duration::days(1)).unix_timestamp(),
    };
    write(
        &paths.meta,
        &serde_json::to_vec_pretty(&meta).expect("serialisable"),
    )?;
    tracing::info!(ca = %paths.ca_cert.display(), valid_until = %(not_after - Duration::days(1)).date(), "created a development CA (localhost only) and a certificate for localhost");
    Ok(())
}

/// The development CA's parameters (its name, and constraints that limit it to local names).
pub(crate) fn ca_params() -> Result<CertificateParams, rcgen::Error> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "leadshop development CA");
    ca.distinguished_name
        .push(DnType::OrganizationName, "leadshop");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    // A leaked CA key can sign nothing but local names (RFC 5280 §4.2.1.10: "localhost"
    // also covers its subdomains).
    ca.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![
            GeneralSubtree::DnsName("localhost".into()),
            GeneralSubtree::IpAddress(CidrSubnet::from_v4_prefix([127, 0, 0, 0], 8)),
            GeneralSubtree::IpAddress(CidrSubnet::from_v6_prefix(
                std::net::Ipv6Addr::LOCALHOST.octets(),
                128,
            )),
        ],
        excluded_subtrees: Vec::new(),
    });
    Ok(ca)
}

/// A server certificate's parameters for these names (validity left to the caller).
pub(crate) fn leaf_params(names: Vec<String>) -> Result<CertificateParams, rcgen::Error> {
    let mut leaf = CertificateParams::new(names.clone())?;
    leaf.distinguished_name.push(
        DnType::CommonName,
        names.first().map_or("localhost", String::as_str),
    );
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    Ok(leaf)
}

/// A PEM certificate chain and its private key, as a certificate rustls can present (a chain
/// of at least one certificate; the key is not checked against it here).
///
/// # Errors
/// [`TlsError`] if a file cannot be read or parsed, or the key type is not supported.
pub(crate) fn read_certified(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let pem = |path: &Path| {
        let path = path.to_path_buf();
        move |e: rustls::pki_types::pem::Error| TlsError::Pem {
            path,
            message: e.to_string(),
        }
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(pem(cert))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem(cert))?;
    if chain.is_empty() {
        return Err(TlsError::Pem {
            path: cert.to_path_buf(),
            message: "no certificate in the file".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(pem(key))?;
    Ok(certified(chain, &key)?)
}

/// A chain and its key as a certificate rustls can present.
///
/// # Errors
/// The key type is not supported.
pub(crate) fn certified(
    chain: Vec<CertificateDer<'static>>,
    key: &PrivateKeyDer<'_>,
) -> Result<CertifiedKey, rustls::Error> {
    let signing = rustls::crypto::ring::sign::any_supported_type(key)?;
    Ok(CertifiedKey::new(chain, signing))
}

/// The rustls server configuration: TLS 1.2 and 1.3 only, HTTP/1.1 and HTTP/2 by ALPN, the
/// certificate picked per handshake by `resolver` (`cert_reload::ReloadableCert`: a
/// configured pair or the development certificates, read again on `SIGHUP`).
///
/// # Errors
/// [`TlsError`] if rustls refuses the protocol versions.
pub fn server_config_with(
    resolver: Arc<dyn rustls::server::ResolvesServerCert>,
) -> Result<Arc<ServerConfig>, TlsError> {
    Ok(finish(builder()?.with_cert_resolver(resolver)))
}

/// TLS 1.3 and 1.2 with ring, no client certificates.
fn builder()
-> Result<rustls::ConfigBuilder<ServerConfig, rustls::server::WantsServerCert>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth())
}

/// HTTP/1.1, HTTP/2 and HTTP/1.0 by ALPN, in the server's order of preference: a client that
/// offers HTTP/1.1 speaks it, as with AWS S3 (which serves only HTTP/1.1). The SDKs offer both
/// and, given HTTP/2, multiplex every request onto one connection and its single task: 10 MiB
/// GETs at four at a time measured 0.74x, small requests 0.9x of the same client over HTTP/1.1
/// (docs/BENCHMARKS.md). A client that offers only `h2` still gets it; one that offers only
/// `http/1.0`, as curl `--http1.0` does, gets an answer instead of a TLS alert (AWS serves it).
fn finish(mut config: ServerConfig) -> Arc<ServerConfig> {
    config.alpn_protocols = vec![b"http/1.1".to_vec(), b"h2".to_vec(), b"http/1.0".to_vec()];
    Arc::new(config)
}
