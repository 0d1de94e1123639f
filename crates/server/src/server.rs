//! Start-up and shutdown: opens the store, bootstraps keys, TLS and buckets, binds the
//! listeners and hands them to the [`shell`](crate::shell); stops them gracefully.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use leadshop_keys::KeyStore;
use leadshop_store::{MasterKeys, SharedClock, Store, SystemClock};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;

use crate::access::AccessControl;
use crate::bucket_config::BucketConfigs;
use crate::cert_reload::{CertSource, ReloadableCert};
use crate::config::Config;
use crate::events::access_log::AccessLog;
use crate::events::access_log::spool::Spool;
use crate::events::metrics::RequestMetrics;
use crate::events::usage::Usage;
use crate::events::{Events, QUEUE_CAPACITY, Subscriber};
use crate::serve::Bound;
use crate::shell::limits::ShellStats;
pub use crate::start_error::StartError;
use crate::start_error::io_ctx;
use crate::state::{AppState, Core, Endpoints, Observability};
use crate::supervisor::Supervisor;
use crate::tls::{self, DevTlsPaths};
use crate::workers::backup::BackupWatcher;
use crate::workers::health::disk::DiskWatcher;
use crate::workers::health::scrub::{Scrubber, ScrubberUses};
use crate::workers::lifecycle::LifecycleWorker;
use crate::workers::log_delivery::LogDelivery;
use crate::workers::replication::ReplicationWorker;
use crate::workers::rotation::RotationWatcher;
use crate::workers::tls_reload::TlsReloader;
use crate::workers::usage::{UsageWorker, UsageWorkerUses};

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
        &self.state.core.endpoints
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
        let grace = Duration::from_secs(self.state.core.config.shutdown_grace_secs);
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("in-flight requests did not finish within {grace:?}; closing them");
        }
        // Workers last: the records of the last requests reach their subscribers.
        self.workers.shutdown(grace).await;
        // Nothing listens there any more: tools reading endpoints.json must not connect.
        let endpoints = self.state.core.config.data_dir.join("endpoints.json");
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

/// [`start`] with a clock and extra event subscribers. Start-up is a sequence of named steps,
/// each a function below, in this order.
///
/// # Errors
/// As [`start`].
pub async fn start_with(config: Config, options: StartOptions) -> Result<ServerHandle, StartError> {
    let StartOptions { clock, subscribers } = options;
    config.validate()?;
    // Listen first: a busy port stops the start before anything is made in the data directory.
    let bound = Bound::bind(&config).await?;
    let masters = open_master_keys(&config)?;
    let store = open_store(&config, data_master(masters.clone()), clock.clone()).await?;
    crate::bootstrap::bootstrap_buckets(&store, &config)?;
    let (acceptor, certs) = tls_acceptor(&config)?;
    let limits = fit_to_open_files(
        &config.limits,
        crate::shell::limits::raise_open_files_limit(),
    );
    let endpoints = bound.endpoints()?;
    let workers = Supervisor::new();
    let (state, usage) = assemble_state(Parts {
        config,
        clock,
        store,
        masters: masters.clone(),
        endpoints,
        max_parallel_writes: limits.max_parallel_writes,
        subscribers,
        workers: &workers,
    })
    .await?;
    spawn_workers(&workers, &state, usage, masters, certs);
    let (shutdown, tracker) = crate::serve::serve(&state, bound, acceptor, &limits);
    announce(&state.core)?;
    Ok(ServerHandle {
        state,
        shutdown,
        tracker,
        workers,
    })
}

/// Creates the data directory (0700) and loads the master key, made on a first start; with
/// `<master>.next` present a rotation is unfinished: both keys are loaded, the new one
/// current, and the rotation watcher finishes it.
fn open_master_keys(config: &Config) -> Result<MasterKeys, StartError> {
    let data_dir = &config.data_dir;
    crate::private_dir::create(data_dir)
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
    leadshop_keys::master_key::load_with_next(&master_path).map_err(io_ctx(format!(
        "loading the master key {} (and {})",
        master_path.display(),
        leadshop_keys::master_key::next_path(&master_path).display()
    )))
}

/// The keys object data is encrypted under: the master keys (benchmark builds can measure
/// the server without encryption; normal builds cannot).
#[allow(clippy::unnecessary_wraps)]
fn data_master(masters: MasterKeys) -> Option<MasterKeys> {
    #[cfg(feature = "bench-unencrypted")]
    if std::env::var_os("LEADSHOP_BENCH_UNENCRYPTED").is_some() {
        tracing::warn!("benchmark build: object data is stored UNENCRYPTED");
        return None;
    }
    Some(masters)
}

/// Opens the engine (metadata, data files); the walk of every data file for orphans of
/// interrupted writes starts beside serving (start-up does not grow with the object count;
/// `/metrics` says when it is done), and every file of the data directory is made 0600.
async fn open_store(
    config: &Config,
    data_master: Option<MasterKeys>,
    clock: SharedClock,
) -> Result<Arc<Store>, StartError> {
    let data_dir = config.data_dir.clone();
    let store = {
        let dir = data_dir.clone();
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
    let dir = data_dir.clone();
    tokio::task::spawn_blocking(move || crate::private_dir::tighten(&dir))
        .await
        .expect("tighten does not panic")
        .map_err(io_ctx(format!(
            "restricting the permissions of {}",
            data_dir.display()
        )))?;
    Ok(store)
}

/// The configured certificate, or the development CA's per-bucket-host certificates.
fn tls_acceptor(config: &Config) -> Result<(TlsAcceptor, Arc<ReloadableCert>), StartError> {
    let source = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => CertSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        },
        _ => CertSource::Dev {
            paths: DevTlsPaths::new(&config.data_dir),
            base_domain: config.base_domain.clone(),
        },
    };
    let certs = ReloadableCert::load(source)?;
    let tls_config = tls::server_config_with(certs.clone())?;
    Ok((TlsAcceptor::from(tls_config), certs))
}

/// What [`assemble_state`] is made from.
struct Parts<'a> {
    config: Config,
    clock: SharedClock,
    store: Arc<Store>,
    masters: MasterKeys,
    endpoints: Endpoints,
    max_parallel_writes: usize,
    subscribers: Vec<Arc<dyn Subscriber>>,
    workers: &'a Supervisor,
}

/// The shared state: keys and the SSE-KMS keyring, access control, bucket configurations,
/// the access-log spool, the budget alarm, and the event subscribers (whose consumers start
/// on `workers`). Returns the usage subscriber too, which the usage worker drains.
async fn assemble_state(p: Parts<'_>) -> Result<(Arc<AppState>, Arc<Usage>), StartError> {
    let Parts {
        config,
        clock,
        store,
        masters,
        endpoints,
        max_parallel_writes,
        mut subscribers,
        workers,
    } = p;
    let data_dir = config.data_dir.clone();
    let keyring = Arc::new(
        leadshop_keys::keyring::Keyring::open(&data_dir, masters.clone()).map_err(|e| {
            StartError::Io {
                context: "loading the SSE-KMS keyring".into(),
                source: std::io::Error::other(e.to_string()),
            }
        })?,
    );
    let keys = Arc::new(KeyStore::open(&data_dir, masters)?);
    let bucket_configs = BucketConfigs::new(store.clone());
    let access = Arc::new(AccessControl::new(
        keys.clone(),
        store.clone(),
        bucket_configs.clone(),
        &config,
    ));
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
    let core = Arc::new(Core {
        store,
        clock,
        bucket_configs,
        config,
        keys,
        access,
        keyring,
        endpoints,
        write_turns: Arc::new(tokio::sync::Semaphore::new(max_parallel_writes)),
    });
    let observability = Arc::new(Observability {
        shell_stats: Arc::new(ShellStats::default()),
        events: Arc::new(events),
        request_metrics,
        lifecycle: Arc::default(),
        health: Arc::default(),
        replication: Arc::default(),
        access_log,
        usage_status: Arc::default(),
        prices: Arc::new(prices),
        alarms,
    });
    Ok((
        Arc::new(AppState {
            core,
            observability,
        }),
        usage,
    ))
}

/// The background workers, each given only what it uses: lifecycle, log delivery, backups,
/// the scrubber and the disk watcher, usage accounting, the master-key rotation watcher, the
/// TLS certificate reloader.
fn spawn_workers(
    workers: &Supervisor,
    state: &AppState,
    usage: Arc<Usage>,
    masters: MasterKeys,
    certs: Arc<ReloadableCert>,
) {
    let (core, seen) = (&state.core, &state.observability);
    let config = &core.config;
    workers.spawn(Arc::new(LifecycleWorker {
        store: core.store.clone(),
        configs: core.bucket_configs.clone(),
        day_ms: config.day_ms(),
        data_dir: config.data_dir.clone(),
        status: seen.lifecycle.clone(),
    }));
    workers.spawn(Arc::new(LogDelivery {
        store: core.store.clone(),
        configs: core.bucket_configs.clone(),
        spool: seen.access_log.clone(),
        flush_ms: i64::try_from(config.access_logs.flush_seconds.saturating_mul(1000))
            .unwrap_or(i64::MAX),
        account_id: config.account_id.clone(),
        region: config.region.clone(),
    }));
    workers.spawn(Arc::new(BackupWatcher {
        store: core.store.clone(),
        locations: config.key_locations(),
        spool: seen.access_log.clone(),
    }));
    workers.spawn(Arc::new(Scrubber::new(ScrubberUses {
        store: core.store.clone(),
        keyring: core.keyring.clone(),
        config: config.scrub.clone(),
        data_dir: config.data_dir.clone(),
        health: seen.health.clone(),
    })));
    workers.spawn(Arc::new(DiskWatcher {
        data_dir: config.data_dir.clone(),
        config: config.disk.clone(),
        clock: core.clock.clone(),
        health: seen.health.clone(),
        alarms: seen.alarms.clone(),
    }));
    workers.spawn(Arc::new(UsageWorker::new(UsageWorkerUses {
        store: core.store.clone(),
        usage,
        day_ms: config.day_ms(),
        metrics: config.metrics.clone(),
        prices: seen.prices.clone(),
        alarms: seen.alarms.clone(),
        status: seen.usage_status.clone(),
    })));
    workers.spawn(Arc::new(RotationWatcher::new(
        core.store.clone(),
        core.keys.clone(),
        config.key_locations(),
        masters.clone(),
    )));
    workers.spawn(Arc::new(ReplicationWorker::new(
        crate::s3::Leadshop::new(state.core.clone(), seen.health.clone()),
        core.store.clone(),
        config.replication.clone(),
        config.data_dir.clone(),
        masters,
        seen.replication.clone(),
    )));
    workers.spawn(Arc::new(TlsReloader { certs }));
}

/// Writes `<data-dir>/endpoints.json` (the server is ready) and says so.
fn announce(state: &Core) -> Result<(), StartError> {
    write_endpoints(&state.config.data_dir, &state.endpoints).map_err(io_ctx(format!(
        "writing {}",
        state.config.data_dir.join("endpoints.json").display()
    )))?;
    tracing::info!(s3 = %state.endpoints.s3, http = %state.endpoints.http, console = %state.endpoints.console, "leadshop is ready");
    Ok(())
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
