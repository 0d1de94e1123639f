//! TLS: the development CA and server certificate, and the rustls server configuration.
//!
//! At first start a CA and a certificate for `localhost`, `127.0.0.1` and `::1` signed by it
//! are written to `<data-dir>/tls/` (keys 0600). Clients trust `tls/ca.pem`
//! (`AWS_CA_BUNDLE`). A configured certificate and key replace the generated pair.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::secret_file;

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

/// Creates the development CA and server certificate unless they exist.
///
/// # Errors
/// [`TlsError`] if generation or writing fails.
pub fn ensure_dev_certificate(paths: &DevTlsPaths) -> Result<(), TlsError> {
    if paths.server_cert.exists() && paths.server_key.exists() && paths.ca_cert.exists() {
        return Ok(());
    }
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Io { path, source }
    };
    let dir = paths.ca_cert.parent().expect("tls paths have a directory");
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;

    let ca_key = KeyPair::generate()?;
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
    let ca_cert = ca.self_signed(&ca_key)?;

    let server_key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ])?;
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    let issuer = Issuer::new(ca, ca_key);
    let leaf_cert = leaf.signed_by(&server_key, &issuer)?;

    secret_file::write(&paths.ca_key, issuer.key().serialize_pem().as_bytes())
        .map_err(io_err(&paths.ca_key))?;
    secret_file::write(&paths.server_key, server_key.serialize_pem().as_bytes())
        .map_err(io_err(&paths.server_key))?;
    let chain = format!("{}{}", leaf_cert.pem(), ca_cert.pem());
    std::fs::write(&paths.server_cert, chain).map_err(io_err(&paths.server_cert))?;
    // Written last: its presence marks the set complete.
    std::fs::write(&paths.ca_cert, ca_cert.pem()).map_err(io_err(&paths.ca_cert))?;
    tracing::info!(ca = %paths.ca_cert.display(), "created a development CA and a certificate for localhost");
    Ok(())
}

/// A rustls server configuration for the certificate chain and key: TLS 1.2 and 1.3 only,
/// HTTP/2 and HTTP/1.1 by ALPN.
///
/// # Errors
/// [`TlsError`] if the files cannot be read or do not form a valid pair.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let pem_err = |path: &Path| {
        let path = path.to_path_buf();
        move |e: rustls::pki_types::pem::Error| TlsError::Pem {
            path,
            message: e.to_string(),
        }
    };
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(pem_err(cert))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_err(cert))?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: cert.into(),
            message: "no certificate in the file".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(pem_err(key))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
