//! Accepting connections: the caps per listener and per address, TLS, hyper's settings and
//! timeouts, and the idle watchdog of each connection.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_util::either::Either;
use tokio_util::task::TaskTracker;

use super::activity::{Close, ConnActivity};
use super::limits::{ConnLimiter, ShellStats};
use crate::clients::Clients;
use crate::config::Limits;
use crate::context::{ConnInfo, TlsInfo};

/// The service of one connection: hyper's, answering every request (errors are responses).
pub trait ConnService:
    hyper::service::Service<
        Request<Incoming>,
        Response = Response<s3s::Body>,
        Error = Infallible,
        Future: Send + 'static,
    > + Send
    + 'static
{
}

impl<T> ConnService for T where
    T: hyper::service::Service<
            Request<Incoming>,
            Response = Response<s3s::Body>,
            Error = Infallible,
            Future: Send + 'static,
        > + Send
        + 'static
{
}

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// hyper's read buffer per HTTP/1.1 connection: bounds a request head (431 beyond it).
const MAX_BUF: usize = 64 * 1024;
/// HTTP/2 receive windows: what a client may send ahead of our reading, per stream and per
/// connection (hyper's defaults, stated: request bodies are read in 1 MiB batches).
const H2_STREAM_WINDOW: u32 = 1024 * 1024;
const H2_CONN_WINDOW: u32 = 1024 * 1024;
/// What h2 queues per stream beyond the client's window before it stops asking for more
/// (hyper's default is 400 KB); the client's response budget bounds the rest.
const H2_SEND_BUF: usize = 64 * 1024;

/// The per-connection timeouts of a listener.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Request headers (and HTTP/1.1 keep-alive idleness).
    pub header_read: Duration,
    /// No bytes moving and no request in progress.
    pub idle: Duration,
    /// A request body that stopped making progress.
    pub body: Duration,
    /// Concurrent HTTP/2 streams per connection.
    pub max_streams: u32,
}

impl From<&Limits> for Timeouts {
    fn from(l: &Limits) -> Self {
        Self {
            header_read: Duration::from_secs(l.header_read_timeout_secs),
            idle: Duration::from_secs(l.idle_timeout_secs),
            body: Duration::from_secs(l.body_timeout_secs),
            max_streams: l.max_streams_per_connection,
        }
    }
}

/// One accepting listener and what it needs.
pub struct ListenerSetup {
    /// The bound socket.
    pub listener: TcpListener,
    /// TLS, or `None` for plain HTTP.
    pub tls: Option<TlsAcceptor>,
    /// Its connection caps.
    pub limiter: Arc<ConnLimiter>,
    /// Its timeouts.
    pub timeouts: Timeouts,
    /// The shared counters.
    pub stats: Arc<ShellStats>,
    /// What each client address holds, across listeners.
    pub clients: Arc<Clients>,
}

/// Accepts connections until `shutdown`, serving each with a service from `make_service`.
pub async fn accept_loop<F, S>(
    setup: ListenerSetup,
    mut shutdown: watch::Receiver<bool>,
    tracker: TaskTracker,
    make_service: F,
) where
    F: Fn(Arc<ConnInfo>, Arc<ConnActivity>) -> S + Send + Sync + 'static,
    S: ConnService,
{
    let ListenerSetup {
        listener,
        tls,
        limiter,
        timeouts,
        stats,
        clients,
    } = setup;
    let make_service = Arc::new(make_service);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        // Over a cap: close at once, before any byte is read or any buffer allocated.
        let activity = Arc::new(ConnActivity::default());
        let Ok(permit) = limiter.admit(remote.ip(), &activity) else {
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let tls = tls.clone();
        let shutdown = shutdown.clone();
        let make_service = make_service.clone();
        let stats = stats.clone();
        let client = clients.get(remote.ip());
        tracker.spawn(async move {
            let _permit = permit;
            let local = tcp.local_addr().unwrap_or(remote);
            let (io, tls) = match tls {
                None => (Either::Right(tcp), None),
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
                    let stream = tokio::select! {
                        done = handshake => match done {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                ShellStats::bump(&stats.tls_handshake_failures);
                                tracing::debug!(%remote, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                ShellStats::bump(&stats.tls_handshake_failures);
                                tracing::debug!(%remote, "TLS handshake timed out");
                                return;
                            }
                        },
                        // Its place went to a new connection while it dawdled.
                        () = activity.evicted() => return,
                    };
                    let info = tls_info(stream.get_ref().1);
                    (Either::Left(stream), Some(info))
                }
            };
            let conn = Arc::new(ConnInfo {
                remote,
                local,
                tls,
                loopback_console: false,
                client,
            });
            let service = make_service(conn, activity.clone());
            serve_connection(
                TokioIo::new(io),
                service,
                shutdown,
                activity,
                timeouts,
                &stats,
            )
            .await;
        });
    }
}

/// What a TLS session negotiated, for the request context.
fn tls_info(session: &rustls::ServerConnection) -> TlsInfo {
    TlsInfo {
        version: session
            .protocol_version()
            .map_or_else(String::new, |v| match v {
                rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
                rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
                other => format!("{other:?}"),
            }),
        cipher: session
            .negotiated_cipher_suite()
            .map_or_else(String::new, |c| format!("{:?}", c.suite())),
        sni: session.server_name().map(str::to_string),
    }
}

/// The HTTP/1.1 and HTTP/2 settings every listener shares.
fn http_builder(timeouts: Timeouts) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read)
        .max_buf_size(MAX_BUF)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(timeouts.max_streams)
        .initial_stream_window_size(H2_STREAM_WINDOW)
        .initial_connection_window_size(H2_CONN_WINDOW)
        .max_send_buf_size(H2_SEND_BUF)
        .max_header_list_size(u32::try_from(MAX_BUF).expect("small"))
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

async fn serve_connection<I, S>(
    io: I,
    service: S,
    mut shutdown: watch::Receiver<bool>,
    activity: Arc<ConnActivity>,
    timeouts: Timeouts,
    stats: &ShellStats,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: ConnService,
{
    let builder = http_builder(timeouts);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    // Closes a connection on which no request moves and nothing is in progress (before the
    // first request after `header_read`: the HTTP/2 preface has no timer of its own; later
    // after `idle`), or whose responses wait on a client that does not read them. Bytes alone
    // (PINGs, window updates) keep nothing open.
    let watchdog = async {
        loop {
            match activity.deadline(timeouts.header_read, timeouts.idle) {
                Ok(wait) => tokio::time::sleep(wait).await,
                Err(why) => return why,
            }
        }
    };
    tokio::select! {
        res = conn.as_mut() => {
            if let Err(e) = res {
                let timed_out = e
                    .downcast_ref::<hyper::Error>()
                    .is_some_and(hyper::Error::is_timeout);
                if timed_out {
                    ShellStats::bump(&stats.header_timeouts);
                }
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        why = watchdog => {
            match why {
                Close::Idle => {
                    ShellStats::bump(&stats.idle_closed);
                    tracing::debug!("closing an idle connection");
                }
                Close::Stalled => {
                    ShellStats::bump(&stats.stalled_closed);
                    tracing::debug!("closing a connection whose responses are not being read");
                }
            }
        }
        () = activity.evicted() => {
            tracing::debug!("closing an idle connection to make room for a new one");
        }
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
