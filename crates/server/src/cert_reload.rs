//! The certificate the S3 listener presents, reloadable while the server runs: on `SIGHUP`
//! ([`crate::workers::tls_reload`]) the configured certificate and key are read again (or the
//! development ones, renewed if due) and every handshake after that presents them. The
//! rustls configuration and the listener stay; connections already open keep the session
//! they have and are not dropped. A reload that fails (a file half-written, a key that does
//! not match) keeps the certificate in use and says why.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::sni_certs::SniCerts;
use crate::tls::{DevTlsPaths, TlsError};

/// Where the certificate comes from.
#[derive(Debug, Clone)]
pub enum CertSource {
    /// A configured chain and key (`tls_cert`, `tls_key`).
    Files {
        /// The PEM chain.
        cert: PathBuf,
        /// The PEM private key.
        key: PathBuf,
    },
    /// The development CA's certificates (`<data-dir>/tls/`).
    Dev {
        /// The files.
        paths: DevTlsPaths,
        /// The base domain whose bucket hosts get certificates of their own.
        base_domain: String,
    },
}

/// The certificate in use, and where to read it again.
pub struct ReloadableCert {
    source: CertSource,
    current: RwLock<Current>,
}

/// What answers a handshake now.
#[derive(Clone)]
enum Current {
    /// One certificate for every name.
    Single(Arc<CertifiedKey>),
    /// The development certificates (one per bucket host).
    Dev(Arc<SniCerts>),
}

impl std::fmt::Debug for ReloadableCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadableCert")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl ReloadableCert {
    /// Reads the certificate from `source` (making the development one first if needed).
    ///
    /// # Errors
    /// [`TlsError`]: a file cannot be read, does not parse, or the key does not match.
    pub fn load(source: CertSource) -> Result<Arc<Self>, TlsError> {
        let current = read(&source)?;
        Ok(Arc::new(Self {
            source,
            current: RwLock::new(current),
        }))
    }

    /// Reads the certificate again; on success new handshakes present it, on failure the one
    /// in use stays. Blocking (file reads, perhaps a renewal of the development certificate).
    ///
    /// # Errors
    /// As [`Self::load`].
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = read(&self.source)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }

    /// Where it is read from.
    #[must_use]
    pub fn source(&self) -> &CertSource {
        &self.source
    }

    /// The certificate a handshake naming `server_name` gets now.
    #[must_use]
    pub fn presented(&self, server_name: Option<&str>) -> Arc<CertifiedKey> {
        let current = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match current {
            Current::Single(c) => c,
            Current::Dev(certs) => certs.for_name(server_name),
        }
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.presented(hello.server_name()))
    }
}

fn read(source: &CertSource) -> Result<Current, TlsError> {
    match source {
        CertSource::Files { cert, key } => Ok(Current::Single(read_pair(cert, key)?)),
        CertSource::Dev { paths, base_domain } => {
            crate::tls::ensure_dev_certificate(paths)?;
            Ok(Current::Dev(Arc::new(SniCerts::load(paths, base_domain)?)))
        }
    }
}

/// A PEM chain and its key, checked to belong together.
fn read_pair(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let certified = crate::tls::read_certified(cert, key)?;
    certified.keys_match()?;
    Ok(Arc::new(certified))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    /// A self-signed certificate and key for `127.0.0.1`, as PEM.
    fn pair() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn leaf(pem: &str) -> Vec<u8> {
        CertificateDer::from_pem_slice(pem.as_bytes())
            .unwrap()
            .to_vec()
    }

    fn presented(r: &ReloadableCert) -> Vec<u8> {
        r.presented(None).cert[0].to_vec()
    }

    #[test]
    fn a_failed_reload_keeps_the_certificate_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let (c1, k1) = pair();
        std::fs::write(&cert, &c1).unwrap();
        std::fs::write(&key, &k1).unwrap();
        let r = ReloadableCert::load(CertSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        })
        .unwrap();
        assert_eq!(presented(&r), leaf(&c1));
        // A key of another certificate: refused, the old pair stays.
        let (c2, k2) = pair();
        std::fs::write(&cert, &c2).unwrap();
        assert!(matches!(r.reload(), Err(TlsError::Rustls(_))));
        assert_eq!(presented(&r), leaf(&c1), "the pair in use stays");
        std::fs::write(&cert, b"not a certificate").unwrap();
        assert!(r.reload().is_err());
        assert_eq!(presented(&r), leaf(&c1));
        // Both halves of the new pair: taken.
        std::fs::write(&cert, &c2).unwrap();
        std::fs::write(&key, &k2).unwrap();
        r.reload().unwrap();
        assert_eq!(presented(&r), leaf(&c2));
    }
}
