//! The state every request and worker shares, and where the server listens.

use std::sync::Arc;

use leadshop_store::{SharedClock, Store};
use serde::{Deserialize, Serialize};

use crate::access::AccessControl;
use crate::config::Config;
use crate::shell::limits::ShellStats;
use leadshop_keys::KeyStore;

/// The state a running server shares: its core services, and what it observes about itself.
/// The S3 API holds only the core; the console and `/metrics` read both; each worker is
/// given the few parts it uses (`server::spawn_workers`).
#[derive(Debug)]
pub struct AppState {
    /// The services requests act on.
    pub core: Arc<Core>,
    /// Events, counters and what the workers last saw.
    pub observability: Arc<Observability>,
}

/// The services requests act on: the engine, keys, access control, bucket configurations and
/// the clock.
#[derive(Debug)]
pub struct Core {
    /// The storage engine.
    pub store: Arc<Store>,
    /// Wall-clock time (the store's clock: the system's, or a test's).
    pub clock: SharedClock,
    /// Each bucket's configuration, typed and cached (the store refreshes it on change).
    pub bucket_configs: Arc<crate::bucket_config::BucketConfigs>,
    /// The configuration the server was started with.
    pub config: Config,
    /// Accepted access keys.
    pub keys: Arc<KeyStore>,
    /// Policy evaluation (keys, bucket policies, Public Access Block).
    pub access: Arc<AccessControl>,
    /// The SSE-KMS keyring.
    pub keyring: Arc<leadshop_keys::keyring::Keyring>,
    /// Where the server listens.
    pub endpoints: Endpoints,
    /// Turns for data-file writes on the blocking pool (`limits.max_parallel_writes`).
    pub write_turns: Arc<tokio::sync::Semaphore>,
}

/// What the server observes about itself: request events and counters, the access-log
/// spool, and what each worker last saw (console, `/metrics`, the CLI's status commands).
#[derive(Debug)]
pub struct Observability {
    /// Counters of the shell's limits (console `/metrics`).
    pub shell_stats: Arc<ShellStats>,
    /// Where request records go (access logs, metrics subscribe).
    pub events: Arc<crate::events::Events>,
    /// Request counters (an event subscriber), served on the console's `/metrics`.
    pub request_metrics: Arc<crate::events::metrics::RequestMetrics>,
    /// The lifecycle worker's progress (console `/metrics`).
    pub lifecycle: Arc<crate::observability::lifecycle::LifecycleStatus>,
    /// The access-log spool (records waiting for delivery) and its counters.
    pub access_log: Arc<crate::events::access_log::spool::Spool>,
    /// What the usage worker last saw: storage, the cost estimate.
    pub usage_status: Arc<crate::observability::usage::UsageStatus>,
    /// The price table the cost estimate uses.
    pub prices: Arc<leadshop_spec::budget::PriceTable>,
    /// The budget alarm.
    pub alarms: Arc<crate::observability::alarm::Alarms>,
    /// What the scrubber and the disk watcher last saw.
    pub health: Arc<crate::observability::health::Health>,
    /// The replication backlog and outcomes.
    pub replication: Arc<crate::observability::replication::ReplicationStatus>,
}

/// The bound URLs, as written to `<data-dir>/endpoints.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Endpoints {
    /// HTTPS S3 API.
    pub s3: String,
    /// Plain HTTP (redirects and refusals only).
    pub http: String,
    /// Console.
    pub console: String,
}
