//! Why the server could not start: each error names what failed and how to fix it.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::tls;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The storage engine could not open.
    #[error("opening the data directory {path}: {source}")]
    Store {
        /// Data directory.
        path: PathBuf,
        /// Cause.
        source: leadshop_store::StoreError,
    },
    /// TLS material could not be made or loaded.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The access keys could not be loaded.
    #[error("access keys: {0}")]
    Keys(#[from] leadshop_keys::KeyError),
    /// A bucket spec document is invalid.
    #[error("bucket spec: {0}")]
    Spec(#[from] leadshop_spec::SpecError),
    /// A listener could not bind.
    #[error(
        "cannot listen on {addr}: {source} (is another server running? use another address or port 0)"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// Other I/O.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Cause.
        source: std::io::Error,
    },
}

pub(crate) fn io_ctx(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StartError {
    let context = context.into();
    move |source| StartError::Io { context, source }
}
