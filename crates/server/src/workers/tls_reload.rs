//! The certificate reloader: on `SIGHUP` the S3 listener's certificate is read again
//! ([`crate::cert_reload`]), as a web server does after its certificate is renewed (certbot's
//! deploy hook, `systemctl reload leadshop`). Connections already open are not touched.

use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};

use super::{Stop, Worker};
use crate::cert_reload::ReloadableCert;

/// The reloader, and the certificate it reloads.
pub struct TlsReloader {
    /// The certificate the S3 listener presents.
    pub certs: Arc<ReloadableCert>,
}

#[async_trait::async_trait]
impl Worker for TlsReloader {
    fn name(&self) -> String {
        "tls-reload".into()
    }

    async fn run(&self, mut stop: Stop) {
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGHUP; the certificate is read only at start");
                return;
            }
        };
        loop {
            tokio::select! {
                got = hangups.recv() => {
                    if got.is_none() {
                        return;
                    }
                }
                () = stop.stopped() => return,
            }
            let certs = self.certs.clone();
            match tokio::task::spawn_blocking(move || certs.reload()).await {
                Ok(Ok(())) => tracing::info!(
                    source = ?self.certs.source(),
                    "SIGHUP: the TLS certificate was read again; new connections get it"
                ),
                Ok(Err(e)) => tracing::error!(
                    error = %e,
                    "SIGHUP: the TLS certificate could not be read again; the one in use stays"
                ),
                Err(e) => tracing::error!(error = %e, "SIGHUP: the certificate reload panicked"),
            }
        }
    }
}
