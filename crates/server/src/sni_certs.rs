//! Virtual-hosted-style addressing over TLS with the development CA: a certificate for each
//! bucket host (`leadshop-assets.localhost`), minted the first time a client names it (SNI),
//! signed by the development CA, and cached.
//!
//! Clients refuse a `*.localhost` wildcard (curl, Python and browsers treat `localhost` as a
//! public suffix), so each host gets its own name. Only single-label bucket names directly
//! under a base domain inside the CA's name constraints (`localhost`, `*.localhost`) are
//! minted, at most [`MAX_NAMES`] of them; anything else gets the `localhost` certificate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rcgen::{Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use time::{Duration, OffsetDateTime};

use crate::tls::{DevTlsPaths, TlsError, ca_params, certified, leaf_params, read_certified};

/// At most this many bucket hosts get a certificate (a client naming random hosts cannot make
/// the server mint without end).
pub const MAX_NAMES: usize = 1024;
/// A minted certificate lives this long; it is minted again after `REMINT_AFTER`.
const LIFETIME: Duration = Duration::days(7);
const REMINT_AFTER: Duration = Duration::days(6);

/// The certificate resolver of the development TLS configuration.
pub struct SniCerts {
    default: Arc<CertifiedKey>,
    issuer: Issuer<'static, KeyPair>,
    ca: CertificateDer<'static>,
    suffix: Option<String>,
    minted: Mutex<HashMap<String, (OffsetDateTime, Arc<CertifiedKey>)>>,
}

impl std::fmt::Debug for SniCerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SniCerts")
            .field("suffix", &self.suffix)
            .finish_non_exhaustive()
    }
}

impl SniCerts {
    /// Loads the development CA and the `localhost` certificate from `paths`.
    ///
    /// # Errors
    /// [`TlsError`] if a file cannot be read or parsed.
    pub fn load(paths: &DevTlsPaths, base_domain: &str) -> Result<Self, TlsError> {
        let pem = |path: &std::path::Path, e: rustls::pki_types::pem::Error| TlsError::Pem {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let default = Arc::new(read_certified(&paths.server_cert, &paths.server_key)?);
        let ca =
            CertificateDer::from_pem_file(&paths.ca_cert).map_err(|e| pem(&paths.ca_cert, e))?;
        let ca_key_pem = std::fs::read_to_string(&paths.ca_key).map_err(|source| TlsError::Io {
            path: paths.ca_key.clone(),
            source,
        })?;
        let ca_key = KeyPair::from_pem(&ca_key_pem)?;
        let base = base_domain.trim_end_matches('.').to_ascii_lowercase();
        // Outside `localhost` the CA's name constraints make its certificates worthless.
        let suffix =
            (base == "localhost" || base.ends_with(".localhost")).then(|| format!(".{base}"));
        Ok(Self {
            default,
            issuer: Issuer::new(ca_params()?, ca_key),
            ca,
            suffix,
            minted: Mutex::new(HashMap::new()),
        })
    }

    /// The certificate for a server name: minted for a bucket host, else `localhost`'s.
    pub fn for_name(&self, name: Option<&str>) -> Arc<CertifiedKey> {
        let Some(name) = name.map(str::to_ascii_lowercase) else {
            return self.default.clone();
        };
        let is_bucket_host = self.suffix.as_deref().is_some_and(|suffix| {
            name.strip_suffix(suffix)
                .is_some_and(|b| !b.contains('.') && s3s::path::check_bucket_name(b))
        });
        if !is_bucket_host {
            return self.default.clone();
        }
        let now = OffsetDateTime::now_utc();
        let mut minted = self.minted.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, c)) = minted.get(&name)
            && now - *at < REMINT_AFTER
        {
            return c.clone();
        }
        if minted.len() >= MAX_NAMES && !minted.contains_key(&name) {
            return self.default.clone();
        }
        match self.mint(&name, now) {
            Ok(c) => {
                minted.insert(name, (now, c.clone()));
                c
            }
            Err(e) => {
                tracing::warn!(name, error = %e, "could not make a certificate for this host");
                self.default.clone()
            }
        }
    }

    fn mint(&self, name: &str, now: OffsetDateTime) -> Result<Arc<CertifiedKey>, TlsError> {
        let key = KeyPair::generate()?;
        let mut params = leaf_params(vec![name.to_string()])?;
        params.not_before = now - Duration::days(1);
        params.not_after = now + LIFETIME;
        let cert = params.signed_by(&key, &self.issuer)?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok(Arc::new(certified(
            vec![cert.der().clone(), self.ca.clone()],
            &key_der,
        )?))
    }
}

impl ResolvesServerCert for SniCerts {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.for_name(hello.server_name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bucket_hosts_under_localhost_get_a_certificate_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let paths = DevTlsPaths::new(dir.path());
        crate::tls::ensure_dev_certificate(&paths).unwrap();
        let certs = SniCerts::load(&paths, "localhost").unwrap();
        let default = certs.for_name(None);
        let own = certs.for_name(Some("leadshop-assets.localhost"));
        assert!(!Arc::ptr_eq(&own, &default));
        assert!(
            Arc::ptr_eq(&own, &certs.for_name(Some("LEADSHOP-ASSETS.localhost"))),
            "cached"
        );
        for other in [
            "evil.example",
            "a.b.localhost",
            "x.localhost",
            "localhost",
            "Bad_Name.localhost",
        ] {
            assert!(
                Arc::ptr_eq(&certs.for_name(Some(other)), &default),
                "{other}"
            );
        }
        // A base domain outside the CA's constraints never mints.
        let outside = SniCerts::load(&paths, "s3.example.com").unwrap();
        assert!(Arc::ptr_eq(
            &outside.for_name(Some("leadshop-assets.s3.example.com")),
            &outside.for_name(None)
        ));
    }
}
