//! Start-up and shutdown: opens the store, bootstraps keys, TLS and buckets, binds the
//! listeners and hands them to the [`shell`](crate::shell); stops them gracefully.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use leadshop_store::{SharedClock, Store, SystemClock};
use s3s::service::{S3Service, S3ServiceBuilder};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;

use crate::access::Authenticator;
use crate::access::{AccessControl, AccessHook};
use crate::bucket_config::BucketConfigs;
use crate::config::Config;
use crate::events::access_log::AccessLog;
use crate::events::access_log::spool::Spool;
use crate::events::metrics::RequestMetrics;
use crate::events::usage::Usage;
use crate::events::{Events, QUEUE_CAPACITY, Subscriber};
use crate::s3::Leadshop;
use crate::shell::limits::{ConnLimiter, Listener, ShellStats};
use crate::shell::{ListenerSetup, S3Shell, Timeouts, accept_loop, guard};
pub use crate::start_error::StartError;
use crate::start_error::io_ctx;
use crate::state::{AppState, Endpoints};
use crate::supervisor::Supervisor;
use crate::tls::{self, DevTlsPaths};
use crate::workers::backup::BackupWatcher;
use crate::workers::health::disk::DiskWatcher;
use crate::workers::health::scrub::Scrubber;
use crate::workers::lifecycle::LifecycleWorker;
use crate::workers::log_delivery::LogDelivery;
use crate::workers::rotation::RotationWatcher;
use crate::workers::usage::UsageWorker;
use crate::{console, plain_http};
use leadshop_keys::KeyStore;

/// A running server.
#[derive(Debug)]
pub struct ServerHandle {
    state: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    tracker: TaskTracker,
    workers: Supervisor,
}

impl ServerHandle {
    /// Where the server listens.
    #[must_use]
    pub fn endpoints(&self) -> &Endpoints {
        &self.state.endpoints
    }

    /// The shared state (for embedding and tests).
    #[must_use]
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Stops accepting, lets in-flight requests finish (up to `shutdown_grace_secs`), then
    /// returns. The metadata database is closed when the last reference drops.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        self.tracker.close();
        let grace = Duration::from_secs(self.state.config.shutdown_grace_secs);
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("in-flight requests did not finish within {grace:?}; closing them");
        }
        // Workers last: the records of the last requests reach their subscribers.
        self.workers.shutdown(grace).await;
        // Nothing listens there any more: tools reading endpoints.json must not connect.
        let endpoints = self.state.config.data_dir.join("endpoints.json");
        if let Err(e) = std::fs::remove_file(&endpoints)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %endpoints.display(), error = %e, "could not remove endpoints.json");
        }
    }
}

/// Starts the server: opens the store, bootstraps keys, TLS and buckets, binds the listeners
/// and writes `<data-dir>/endpoints.json` once it is ready to serve.
///
/// # Errors
/// [`StartError`] naming what failed and how to fix it.
pub async fn start(config: Config) -> Result<ServerHandle, StartError> {
    start_with(config, StartOptions::default()).await
}

/// What an embedding program or a test adds to a server: its clock and event subscribers.
pub struct StartOptions {
    /// Where the store, handlers and workers take the time from (a
    /// [`TestClock`](leadshop_store::TestClock) in tests).
    pub clock: SharedClock,
    /// Subscribers to request records, beside the server's own metrics.
    pub subscribers: Vec<Arc<dyn Subscriber>>,
}

impl Default for StartOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            subscribers: Vec::new(),
        }
    }
}

/// [`start`] with a clock and extra event subscribers.
///
/// # Errors
/// As [`start`].
pub async fn start_with(config: Config, options: StartOptions) -> Result<ServerHandle, StartError> {
    let StartOptions { clock, subscribers } = options;
    config.validate()?;
    // Listen first: a busy port stops the start before anything is made in the data directory.
    let s3_listener = bind(config.s3_addr).await?;
    let http_listener = bind(config.http_addr).await?;
    let console_listener = bind(config.console_addr).await?;
    let data_dir = config.data_dir.clone();
    crate::private_dir::create(&data_dir)
        .map_err(io_ctx(format!("creating {}", data_dir.display())))?;

    let master_path = config.key_locations().master_key;
    // A data directory with metadata but no master key would get a fresh key that opens
    // nothing: refuse, so the operator restores the key instead.
    if !master_path.exists() && data_dir.join("meta.redb").exists() {
        return Err(StartError::Io {
            context: format!("the master key {} is missing", master_path.display()),
            source: std::io::Error::other(
                "this data directory holds data encrypted under it; restore the key from your backup",
            ),
        });
    }
    leadshop_keys::master_key::load_or_create(&master_path).map_err(io_ctx(format!(
        "loading the master key {}",
        master_path.display()
    )))?;
    // With `<master>.next` present a rotation is unfinished: both keys are loaded, the new
    // one current, and the rotation watcher finishes it.
    let masters =
        leadshop_keys::master_key::load_with_next(&master_path).map_err(io_ctx(format!(
            "loading the master key {} (and {})",
            master_path.display(),
            leadshop_keys::master_key::next_path(&master_path).display()
        )))?;
    let master_for_keys = masters.clone();
    let data_master = Some(masters);
    // Benchmark builds can measure the server without encryption; normal builds cannot.
    #[cfg(feature = "bench-unencrypted")]
    let data_master = if std::env::var_os("LEADSHOP_BENCH_UNENCRYPTED").is_some() {
        tracing::warn!("benchmark build: object data is stored UNENCRYPTED");
        None
    } else {
        data_master
    };
    let store = {
        let dir = data_dir.clone();
        let clock = clock.clone();
        let cache = usize::try_from(config.store.metadata_cache_mib << 20).unwrap_or(usize::MAX);
        tokio::task::spawn_blocking(move || {
            Store::open_deferring_sweep(&dir, data_master, clock, cache)
        })
        .await
        .expect("store open does not panic")
        .map_err(|source| StartError::Store {
            path: data_dir.clone(),
            source,
        })?
    };
    let store = Arc::new(store);
    // The walk of every data file (orphans of interrupted writes) runs beside serving, so
    // start-up does not grow with the object count; `/metrics` says when it is done.
    {
        let store = store.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = store.sweep_orphans() {
                tracing::error!(error = %e, "the orphan sweep failed; data files of interrupted writes stay until the next start");
            }
        });
    }
    // Metadata, object names and tags are nobody else's business: the data directory is
    // 0700 and every file in it 0600, also in directories made by earlier versions.
    {
        let dir = data_dir.clone();
        tokio::task::spawn_blocking(move || crate::private_dir::tighten(&dir))
            .await
            .expect("tighten does not panic")
            .map_err(io_ctx(format!(
                "restricting the permissions of {}",
                data_dir.display()
            )))?;
    }
    crate::bootstrap::bootstrap_buckets(&store, &config)?;
    let keyring = Arc::new(
        leadshop_keys::keyring::Keyring::open(&data_dir, master_for_keys.clone()).map_err(|e| {
            StartError::Io {
                context: "loading the SSE-KMS keyring".into(),
                source: std::io::Error::other(e.to_string()),
            }
        })?,
    );
    let master_for_keys_watch = master_for_keys.clone();
    let keys = Arc::new(KeyStore::open(&data_dir, master_for_keys)?);
    let bucket_configs = BucketConfigs::new(store.clone());
    let access = Arc::new(AccessControl::new(
        keys.clone(),
        store.clone(),
        bucket_configs.clone(),
        &config,
    ));

    let tls_config = match (&config.tls_cert, &config.tls_key) {
        (Some(c), Some(k)) => tls::server_config(c, k)?,
        _ => {
            let paths = DevTlsPaths::new(&data_dir);
            tls::ensure_dev_certificate(&paths)?;
            crate::sni_certs::dev_server_config(&paths, &config.base_domain)?
        }
    };
    let acceptor = TlsAcceptor::from(tls_config);

    let open_files = crate::shell::limits::raise_open_files_limit();
    let limits = fit_to_open_files(&config.limits, open_files);
    let s3_addr = local_addr(&s3_listener)?;
    let endpoints = Endpoints {
        s3: format!("https://{}", url_host(s3_addr)),
        http: format!("http://{}", url_host(local_addr(&http_listener)?)),
        console: format!("http://{}", url_host(local_addr(&console_listener)?)),
    };
    let write_turns = Arc::new(tokio::sync::Semaphore::new(limits.max_parallel_writes));
    let workers = Supervisor::new();
    let request_metrics = Arc::new(RequestMetrics::new(
        config.metrics.bucket_labels.then(|| bucket_configs.clone()),
    ));
    let access_log = {
        let dir = data_dir.join("access-logs");
        let max = config.access_logs.max_records;
        let now = clock.now_ms();
        Arc::new(
            tokio::task::spawn_blocking(move || Spool::open(&dir, max, now))
                .await
                .expect("spool open does not panic")
                .map_err(io_ctx(format!(
                    "opening the access-log spool in {}",
                    data_dir.join("access-logs").display()
                )))?,
        )
    };
    let (budget, prices) = config.load_budget()?;
    let alarms = Arc::new(crate::observability::alarm::Alarms::open(
        &data_dir,
        budget,
        config
            .budget
            .webhook_url
            .as_deref()
            .and_then(crate::webhook::Webhook::parse),
        format!(
            "arn:aws:sns:{}:{}:leadshop-budget-alerts",
            config.region, config.account_id
        ),
    ));
    let usage = Arc::new(Usage::new(bucket_configs.clone(), config.day_ms()));
    let mut subscribers = subscribers;
    subscribers.push(request_metrics.clone());
    subscribers.push(usage.clone());
    subscribers.push(Arc::new(AccessLog::new(
        bucket_configs.clone(),
        access_log.clone(),
        clock.clone(),
    )));
    let (events, deliveries) = Events::new(subscribers, QUEUE_CAPACITY);
    for delivery in deliveries {
        workers.spawn(delivery);
    }
    let state = Arc::new(AppState {
        store,
        clock,
        bucket_configs,
        config,
        keys,
        access,
        keyring,
        endpoints,
        shell_stats: Arc::new(ShellStats::default()),
        events: Arc::new(events),
        request_metrics,
        lifecycle: Arc::default(),
        health: Arc::default(),
        access_log,
        usage_status: Arc::default(),
        prices: Arc::new(prices),
        alarms,
        write_turns,
    });

    let s3 = build_s3_service(&state);
    let (shutdown, _) = watch::channel(false);
    let tracker = TaskTracker::new();
    workers.spawn(Arc::new(LifecycleWorker::new(state.clone())));
    workers.spawn(Arc::new(LogDelivery::new(state.clone())));
    workers.spawn(Arc::new(BackupWatcher::new(state.clone())));
    workers.spawn(Arc::new(Scrubber::new(state.clone())));
    workers.spawn(Arc::new(DiskWatcher::new(state.clone())));
    workers.spawn(Arc::new(UsageWorker::new(state.clone(), usage)));
    workers.spawn(Arc::new(RotationWatcher::new(
        state.clone(),
        master_for_keys_watch,
    )));

    let stats = state.shell_stats.clone();
    let trusted: Vec<_> = state
        .config
        .trusted_proxies
        .iter()
        .filter_map(|p| leadshop_spec::policy::Cidr::parse(p))
        .collect();
    let timeouts = Timeouts::from(&limits);
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
        keys: state.keys.clone(),
        events: state.events.clone(),
        clock: state.clock.clone(),
        configs: state.bucket_configs.clone(),
        base_domain: state.config.base_domain.clone(),
        monitoring: Arc::new(crate::monitoring::Monitoring {
            store: state.store.clone(),
            keys: state.keys.clone(),
            clock: state.clock.clone(),
            account_id: state.config.account_id.clone(),
            region: state.config.region.clone(),
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
    let https_base = state.endpoints.s3.clone();
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

    write_endpoints(&state.config.data_dir, &state.endpoints).map_err(io_ctx(format!(
        "writing {}",
        state.config.data_dir.join("endpoints.json").display()
    )))?;
    tracing::info!(s3 = %state.endpoints.s3, http = %state.endpoints.http, console = %state.endpoints.console, "leadshop is ready");
    Ok(ServerHandle {
        state,
        shutdown,
        tracker,
        workers,
    })
}

fn build_s3_service(state: &Arc<AppState>) -> S3Service {
    let mut s3_config = s3s::config::S3Config::default();
    s3_config.put_object_max_size = Some(state.config.max_put_size);
    s3_config.presigned_url_max_expires_secs = state.config.presigned_max_expires_secs;
    // POST uploads must carry a Content-Length (the shell refuses them otherwise), so s3s
    // streams the file instead of buffering it; AWS's limit for one POST is 5 GiB.
    s3_config.post_object_max_file_size = state.config.max_put_size;
    // The fields before the file: the shell has already bounded them to AWS's 20 KB.
    s3_config.form_max_field_size = crate::shell::post_form::MAX_PRE_DATA;
    s3_config.form_max_fields_size = crate::shell::post_form::MAX_PRE_DATA;
    s3_config.form_max_parts = 100;
    // Signed aws-chunked chunks are buffered whole to check their signature.
    s3_config.aws_chunked_stream_max_chunk_size = 16 * 1024 * 1024;
    s3_config.xml_max_body_size = state.config.limits.max_xml_body_bytes;
    // A credential scope for another region is malformed, as on AWS.
    s3_config.expected_region = Some(
        s3s::region::Region::new(state.config.region.clone().into()).expect("validated region"),
    );
    // SigV2 reaches only presigned URLs and POST forms: the access hook refuses it in headers.
    s3_config.enable_sig_v2 = state.config.sigv2_presigned;

    let mut builder = S3ServiceBuilder::new(Leadshop::new(state.clone()));
    builder.set_config(Arc::new(s3s::config::StaticConfigProvider::new(Arc::new(
        s3_config,
    ))));
    builder.set_auth(Authenticator(state.keys.clone()));
    builder.set_access(AccessHook(state.access.clone()));
    // `<bucket>.<base_domain>` is virtual-hosted; any other host (the base domain, an address,
    // a name outside it) is path-style, never taken for a bucket name.
    builder.set_host(
        s3s::host::SingleDomain::new(&state.config.base_domain)
            .expect("validated base_domain")
            .with_cname_fallback(false),
    );
    builder.build()
}

fn write_endpoints(data_dir: &Path, endpoints: &Endpoints) -> std::io::Result<()> {
    leadshop_keys::secret_file::write(
        &data_dir.join("endpoints.json"),
        &serde_json::to_vec_pretty(endpoints).expect("serialisable"),
    )
}

/// The limits, with the connection caps lowered when the open-files limit could not hold
/// them (three listeners, plus room for data files and the database).
fn fit_to_open_files(
    limits: &crate::config::Limits,
    open_files: Option<u64>,
) -> crate::config::Limits {
    let mut out = limits.clone();
    if let Some(n) = open_files {
        let room = usize::try_from(n.saturating_sub(512) / 3)
            .unwrap_or(usize::MAX)
            .max(16);
        if out.max_connections > room {
            tracing::warn!(
                open_files = n,
                max_connections = out.max_connections,
                lowered_to = room,
                "the open-files limit (ulimit -n) cannot hold max_connections on three listeners; lowering it"
            );
            out.max_connections = room;
            out.max_connections_per_ip = out.max_connections_per_ip.min(room);
        }
    }
    out
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
