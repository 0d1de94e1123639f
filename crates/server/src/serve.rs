//! The three listeners, served: the S3 API over TLS (the shell around s3s, CloudWatch reads
//! beside it), plain HTTP (browsers redirected to HTTPS, API requests through the same shell,
//! where access control refuses them), and the console. Each is an accept loop on one task
//! tracker; a panic in a request is answered with a 500 (`shell::guard`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::service::service_fn;
use s3s::service::{S3Service, S3ServiceBuilder};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;

use crate::access::{AccessHook, Authenticator};
use crate::config::{Config, Limits};
use crate::observability::health::Health;
use crate::s3::Leadshop;
use crate::shell::limits::{ConnLimiter, Listener};
use crate::shell::{ListenerSetup, S3Shell, Timeouts, accept_loop, guard};
use crate::start_error::{StartError, io_ctx};
use crate::state::{AppState, Core, Endpoints};
use crate::{console, plain_http};

/// The three listeners, bound.
pub(crate) struct Bound {
    /// The S3 API (HTTPS).
    pub(crate) s3: TcpListener,
    /// Plain HTTP (redirects and refusals).
    pub(crate) http: TcpListener,
    /// The console.
    pub(crate) console: TcpListener,
}

impl Bound {
    pub(crate) async fn bind(config: &Config) -> Result<Self, StartError> {
        Ok(Self {
            s3: bind(config.s3_addr).await?,
            http: bind(config.http_addr).await?,
            console: bind(config.console_addr).await?,
        })
    }

    /// The URLs they answer on.
    pub(crate) fn endpoints(&self) -> Result<Endpoints, StartError> {
        Ok(Endpoints {
            s3: format!("https://{}", url_host(local_addr(&self.s3)?)),
            http: format!("http://{}", url_host(local_addr(&self.http)?)),
            console: format!("http://{}", url_host(local_addr(&self.console)?)),
        })
    }
}

/// Starts the accept loops; returns the shutdown signal and the tracker of every connection.
pub(crate) fn serve(
    state: &Arc<AppState>,
    bound: Bound,
    acceptor: TlsAcceptor,
    limits: &Limits,
) -> (watch::Sender<bool>, TaskTracker) {
    let (shutdown, _) = watch::channel(false);
    let tracker = TaskTracker::new();
    let s3 = build_s3_service(&state.core, &state.observability.health);
    let (core, seen) = (&state.core, &state.observability);
    let Bound {
        s3: s3_listener,
        http: http_listener,
        console: console_listener,
    } = bound;
    let stats = seen.shell_stats.clone();
    let trusted: Vec<_> = core
        .config
        .trusted_proxies
        .iter()
        .filter_map(|p| leadshop_spec::policy::Cidr::parse(p))
        .collect();
    let timeouts = Timeouts::from(limits);
    let clients = Arc::new(crate::clients::Clients::new(
        crate::clients::ClientLimits {
            max_requests: limits.max_requests_per_ip,
            max_buffered: limits.max_response_buffer_per_ip,
            // Four documents of the largest size in flight at once per address.
            max_documents: limits.max_xml_body_bytes.saturating_mul(4),
            wait: std::time::Duration::from_secs(limits.body_timeout_secs),
        },
        trusted.clone(),
        stats.budget_timeouts.clone(),
    ));
    let setup = |listener, tls, which| ListenerSetup {
        listener,
        tls,
        limiter: Arc::new(ConnLimiter::new(
            which,
            limits.max_connections,
            limits.max_connections_per_ip,
            trusted.clone(),
            stats.clone(),
        )),
        timeouts,
        stats: stats.clone(),
        clients: clients.clone(),
    };
    let s3_shell = Arc::new(S3Shell {
        s3,
        limits: limits.clone(),
        stats: stats.clone(),
        keys: core.keys.clone(),
        events: seen.events.clone(),
        clock: core.clock.clone(),
        configs: core.bucket_configs.clone(),
        base_domain: core.config.base_domain.clone(),
        monitoring: Arc::new(crate::monitoring::Monitoring {
            store: core.store.clone(),
            keys: core.keys.clone(),
            clock: core.clock.clone(),
            account_id: core.config.account_id.clone(),
            region: core.config.region.clone(),
        }),
    });
    let http_shell = s3_shell.clone();
    let console_shell = s3_shell.clone();
    tracker.spawn(accept_loop(
        setup(s3_listener, Some(acceptor), Listener::S3),
        shutdown.subscribe(),
        tracker.clone(),
        move |conn, activity| {
            let shell = s3_shell.clone();
            service_fn(move |req| {
                let shell = shell.clone();
                let conn = conn.clone();
                let activity = activity.clone();
                async move {
                    let panics = &shell.stats.panics;
                    Ok::<_, Infallible>(
                        guard::answer(shell.handle(req, conn, activity), panics).await,
                    )
                }
            })
        },
    ));
    let https_base = core.endpoints.s3.clone();
    tracker.spawn(accept_loop(
        setup(http_listener, None, Listener::Http),
        shutdown.subscribe(),
        tracker.clone(),
        move |conn, activity| {
            let base = https_base.clone();
            let shell = http_shell.clone();
            service_fn(move |req| {
                let base = base.clone();
                let shell = shell.clone();
                let conn = conn.clone();
                let activity = activity.clone();
                async move {
                    // Browsers are sent to HTTPS; API requests go through access control
                    // with aws:SecureTransport = false, which refuses them.
                    Ok::<_, Infallible>(match plain_http::redirect(&req, &base) {
                        Some(resp) => resp,
                        None => {
                            let panics = &shell.stats.panics;
                            guard::answer(shell.handle(req, conn, activity), panics).await
                        }
                    })
                }
            })
        },
    ));
    let console = Arc::new(console::Console::new(state.clone(), console_shell));
    tracker.spawn(accept_loop(
        setup(console_listener, None, Listener::Console),
        shutdown.subscribe(),
        tracker.clone(),
        move |conn, activity| {
            let console = console.clone();
            service_fn(move |req| {
                let console = console.clone();
                let conn = conn.clone();
                let activity = activity.clone();
                async move {
                    let panics = &console.shell.stats.panics;
                    Ok::<_, Infallible>(
                        guard::answer(console.handle(req, conn, activity), panics).await,
                    )
                }
            })
        },
    ));

    (shutdown, tracker)
}

fn build_s3_service(core: &Arc<Core>, health: &Arc<Health>) -> S3Service {
    let mut s3_config = s3s::config::S3Config::default();
    s3_config.put_object_max_size = Some(core.config.max_put_size);
    s3_config.presigned_url_max_expires_secs = core.config.presigned_max_expires_secs;
    // POST uploads must carry a Content-Length (the shell refuses them otherwise), so s3s
    // streams the file instead of buffering it; AWS's limit for one POST is 5 GiB.
    s3_config.post_object_max_file_size = core.config.max_put_size;
    // The fields before the file: the shell has already bounded them to AWS's 20 KB.
    s3_config.form_max_field_size = crate::shell::post_form::MAX_PRE_DATA;
    s3_config.form_max_fields_size = crate::shell::post_form::MAX_PRE_DATA;
    s3_config.form_max_parts = 100;
    // Signed aws-chunked chunks are buffered whole to check their signature.
    s3_config.aws_chunked_stream_max_chunk_size = 16 * 1024 * 1024;
    s3_config.xml_max_body_size = core.config.limits.max_xml_body_bytes;
    // A credential scope for another region is malformed, as on AWS.
    s3_config.expected_region = Some(
        s3s::region::Region::new(core.config.region.clone().into()).expect("validated region"),
    );
    // SigV2 reaches only presigned URLs and POST forms: the access hook refuses it in headers.
    s3_config.enable_sig_v2 = core.config.sigv2_presigned;

    let mut builder = S3ServiceBuilder::new(Leadshop::new(core.clone(), health.clone()));
    builder.set_config(Arc::new(s3s::config::StaticConfigProvider::new(Arc::new(
        s3_config,
    ))));
    builder.set_auth(Authenticator(core.keys.clone()));
    builder.set_access(AccessHook(core.access.clone()));
    // `<bucket>.<base_domain>` is virtual-hosted; any other host (the base domain, an address,
    // a name outside it) is path-style, never taken for a bucket name.
    builder.set_host(
        s3s::host::SingleDomain::new(&core.config.base_domain)
            .expect("validated base_domain")
            .with_cname_fallback(false),
    );
    builder.build()
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr, StartError> {
    listener
        .local_addr()
        .map_err(io_ctx("reading a listener's address"))
}

fn url_host(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}
