//! Server configuration: one TOML file, every field documented; flags and `LEADSHOP_*`
//! environment variables override it (the CLI applies those).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod replication;
pub use replication::{Destination as ReplicationDestination, Replication};

/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./data";
/// Default HTTPS S3 endpoint.
pub const DEFAULT_S3_ADDR: &str = "127.0.0.1:9443";
/// Default plain-HTTP listener (redirects browsers, refuses API requests).
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:9080";
/// Default console/admin address. Never 3000: that is LeadFactory's own front-end (and one of
/// the bucket's CORS origins).
pub const DEFAULT_CONSOLE_ADDR: &str = "127.0.0.1:9001";
/// Default region, as in the seed.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Default account id: the owner of every bucket and key (`${account_id}` in spec documents).
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";

/// The canonical user id of the owner of every bucket and object (ACLs, access logs).
pub const OWNER_CANONICAL_ID: &str =
    "6c656164736f70000000000000000000000000000000000000000000000000";

/// Everything `leadshop serve` needs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where metadata, object data, TLS material and credentials live.
    pub data_dir: PathBuf,
    /// HTTPS listener for the S3 API (`host:port`, the host a name or an address; port 0
    /// picks a free port).
    #[serde(deserialize_with = "deserialize_addr")]
    pub s3_addr: SocketAddr,
    /// Plain-HTTP listener: browsers are redirected to HTTPS, API requests refused.
    #[serde(deserialize_with = "deserialize_addr")]
    pub http_addr: SocketAddr,
    /// Console listener: the web console and `/metrics` (plain HTTP; keep it on loopback).
    #[serde(deserialize_with = "deserialize_addr")]
    pub console_addr: SocketAddr,
    /// Region buckets are created in and requests are signed for.
    pub region: String,
    /// Virtual-hosted-style addressing: a request to `<bucket>.<base_domain>` names its bucket
    /// in the host, as browsers and the JavaScript SDK send by default; requests to the base
    /// domain itself or to an address are path-style. With the development certificate, each
    /// bucket host under `localhost` gets its own certificate on first use.
    pub base_domain: String,
    /// PEM certificate chain to serve instead of the generated development certificate.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// The master key file (64 hex digits, mode 0600) that wraps every object's data key;
    /// `<data_dir>/master.key`, created at first start, when unset. Back it up: without it
    /// no object can be read.
    pub master_key_file: Option<PathBuf>,
    /// Directory of bucket spec documents (`<bucket>/*.json`) to bootstrap from; the
    /// documents built into the binary (`config/buckets`) when unset.
    pub buckets_dir: Option<PathBuf>,
    /// Seconds in-flight requests get to finish at shutdown before connections are cut.
    pub shutdown_grace_secs: u64,
    /// Largest object accepted by a single PUT or part upload, in bytes (AWS: 5 GiB).
    pub max_put_size: u64,
    /// Buckets the account may hold; CreateBucket beyond it answers 400 TooManyBuckets
    /// (AWS: 10,000 by default).
    pub max_buckets: usize,
    /// Largest presigned URL lifetime accepted, in seconds (AWS: 7 days).
    pub presigned_max_expires_secs: u32,
    /// Seconds in a lifecycle and billing "day" (86400). Lower it only in tests and demos, to
    /// run 30 days of expirations in minutes; policy conditions and timestamps are unaffected.
    pub day_seconds: u64,
    /// Accept Signature Version 2 on presigned URLs and POST forms. botocore (boto3, the AWS
    /// CLI) presigns with SigV2 by default in us-east-1, and AWS accepts it there; SigV2 in an
    /// `Authorization` header is always refused. Set false to require SigV4 everywhere.
    pub sigv2_presigned: bool,
    /// The 12-digit account that owns the buckets and keys: `${account_id}` in the spec
    /// documents, `aws:PrincipalAccount` of every key, part of key ARNs.
    pub account_id: String,
    /// Peers (addresses or CIDR ranges) trusted to report the client in `X-Forwarded-For`
    /// and `X-Forwarded-Proto`; from anyone else those headers are ignored.
    pub trusted_proxies: Vec<String>,
    /// Let S3 API requests on the plain-HTTP listener through when no policy denies them
    /// (as AWS does). Off: they are refused even where a bucket has no policy.
    pub plain_http_api: bool,
    /// Robustness limits: timeouts, connection caps, request sizes (`[limits]`).
    pub limits: Limits,
    /// Server access-log delivery (`[access_logs]`).
    pub access_logs: AccessLogs,
    /// CloudWatch-compatible metrics: how long datapoints are kept (`[metrics]`).
    pub metrics: Metrics,
    /// The cost estimate and its alarm (`[budget]`).
    pub budget: BudgetConfig,
    /// The scrubber: every object's data read back and checked (`[scrub]`).
    pub scrub: Scrub,
    /// Free space of the data directory's file system (`[disk]`).
    pub disk: Disk,
    /// The storage engine (`[store]`).
    pub store: StoreConfig,
    /// Bucket replication (`[replication]`).
    pub replication: Replication,
}

/// The storage engine's memory: the metadata's page cache is the one cache that grows with
/// the object count, so it is bounded here (docs/BENCHMARKS.md has RSS by size).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// MiB of metadata pages (`meta.redb`) kept in memory. Beyond it pages are read from the
    /// OS's file cache again: 32 holds the upper levels of a 1,000,000-object tree.
    pub metadata_cache_mib: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            metadata_cache_mib: 32,
        }
    }
}

/// The scrubber reads every object version's data back at a bounded pace, checking every
/// chunk's authentication tag and the stored checksums.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Scrub {
    /// Off: no pass runs (the status says so).
    pub enabled: bool,
    /// Seconds from the start of one pass to the start of the next (a pass that takes longer
    /// is followed by the next at once).
    pub interval_seconds: u64,
    /// Bytes of object data read per second at most: the scrubber's share of the disk (each
    /// version counts 4 KiB beside its data).
    pub bytes_per_second: u64,
}

impl Default for Scrub {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_seconds: 7 * 86_400,
            bytes_per_second: 32 * 1024 * 1024,
        }
    }
}

/// Thresholds of free space on the data directory's file system, checked every
/// `check_seconds`: below `warn_free_percent` a warning (log, `/metrics`, console), below
/// `alarm_free_percent` an alarm sent like the budget alarm (its webhook), once per crossing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Disk {
    /// Seconds between two checks.
    pub check_seconds: u64,
    /// Warn below this share of free space (percent of the file system).
    pub warn_free_percent: u8,
    /// Alarm below this share (percent), before writes start failing with 507.
    pub alarm_free_percent: u8,
}

impl Default for Disk {
    fn default() -> Self {
        Self {
            check_seconds: 30,
            warn_free_percent: 15,
            alarm_free_percent: 5,
        }
    }
}

/// How long datapoints are kept, in (clock) days.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Metrics {
    /// Daily storage metrics and billing usage (CloudWatch: 15 months).
    pub retention_days: u64,
    /// One-minute request metrics (CloudWatch: 15 days).
    pub request_retention_days: u64,
    /// Seconds between samples of bucket storage: each replaces the day's datapoint, so the
    /// day's `BucketSizeBytes` is its latest measurement (a sample reads the store's running
    /// totals: its cost does not grow with the number of objects).
    pub storage_sample_seconds: u64,
    /// Label `/metrics` series with bucket names. Off by default: `/metrics` answers without
    /// signing in, and bucket names are nobody else's business; series then carry
    /// `bucket="all"`. Per-bucket figures are always in CloudWatch and the dashboard, which
    /// need a key.
    pub bucket_labels: bool,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            retention_days: 455,
            request_retention_days: 15,
            storage_sample_seconds: 10,
            bucket_labels: false,
        }
    }
}

/// Where the budget and prices come from, and where alarms are sent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetConfig {
    /// The budget document (`config/budget.json`, built in, when unset): the amount and the
    /// ACTUAL/FORECASTED thresholds, as Terraform's `budget.tf` reads them.
    pub document: Option<PathBuf>,
    /// The price table (`config/pricing/s3-us-east-1.json`, built in, when unset).
    pub prices: Option<PathBuf>,
    /// An `http://` URL each alarm is POSTed to as an SNS-style JSON notification (retried
    /// until it answers 2xx); none: alarms are logged, counted and shown only.
    pub webhook_url: Option<String>,
}

/// When spooled access-log records are written to their target bucket as a log object: when
/// a bucket's segment holds `max_records`, or its first record is `flush_seconds` old.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct AccessLogs {
    /// Seconds a record may wait in the spool (AWS: "usually within a few hours").
    pub flush_seconds: u64,
    /// Records per log object at most.
    pub max_records: usize,
}

impl Default for AccessLogs {
    fn default() -> Self {
        Self {
            flush_seconds: 60,
            max_records: 10_000,
        }
    }
}

/// What one client may hold of the server: every limit has a safe default, and what happens
/// when it is reached is documented in docs/SECURITY.md.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Seconds a client has to send a request's headers; on HTTP/1.1 this is also how long
    /// an idle keep-alive connection is kept open. The connection is closed when it passes.
    pub header_read_timeout_secs: u64,
    /// Seconds a connection may stay open with no bytes moving and no request in progress
    /// (HTTP/2, and responses a client stopped reading). The connection is closed.
    pub idle_timeout_secs: u64,
    /// Seconds a request body may stop making progress before the request fails with 400
    /// RequestTimeout (as S3 answers a stalled upload) and nothing of it is stored.
    pub body_timeout_secs: u64,
    /// Open connections per listener; a connection beyond it is closed at once.
    pub max_connections: usize,
    /// Open connections per client address (the TCP peer; `trusted_proxies` are exempt); a
    /// connection beyond it is closed at once.
    pub max_connections_per_ip: usize,
    /// Bytes of request headers accepted (names and values, `Cookie` excepted); beyond it
    /// 400 RequestHeaderSectionTooLarge (AWS: 8 KB).
    pub max_header_bytes: usize,
    /// Bytes of an XML request body (DeleteObjects, CompleteMultipartUpload, configuration
    /// documents); beyond it 400 MaxMessageLengthExceeded.
    pub max_xml_body_bytes: usize,
    /// Data-file writes (hashing, encrypting, writing one batch of an upload) running at once
    /// on the blocking pool; the rest wait their turn, so uploads never starve metadata work.
    pub max_parallel_writes: usize,
    /// Concurrent HTTP/2 streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS).
    pub max_streams_per_connection: u32,
    /// Requests in progress at once per client address, over all its connections and
    /// streams (a request lasts until its response is sent); beyond it 503 SlowDown.
    /// `trusted_proxies` are exempt.
    pub max_requests_per_ip: usize,
    /// Bytes of response data (read, not yet taken by the client's socket) buffered per
    /// client address; a download waits for room, and ends after `body_timeout_secs` without.
    /// `trusted_proxies` are exempt.
    pub max_response_buffer_per_ip: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout_secs: 20,
            idle_timeout_secs: 60,
            body_timeout_secs: 20,
            max_connections: 4096,
            max_connections_per_ip: 256,
            max_header_bytes: 8 * 1024,
            max_xml_body_bytes: 4 * 1024 * 1024,
            max_parallel_writes: 64,
            max_streams_per_connection: 100,
            max_requests_per_ip: 512,
            max_response_buffer_per_ip: 32 * 1024 * 1024,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            s3_addr: DEFAULT_S3_ADDR.parse().expect("valid default"),
            http_addr: DEFAULT_HTTP_ADDR.parse().expect("valid default"),
            console_addr: DEFAULT_CONSOLE_ADDR.parse().expect("valid default"),
            region: DEFAULT_REGION.into(),
            base_domain: "localhost".into(),
            tls_cert: None,
            tls_key: None,
            master_key_file: None,
            buckets_dir: None,
            shutdown_grace_secs: 10,
            max_put_size: 5 * 1024 * 1024 * 1024,
            max_buckets: 10_000,
            presigned_max_expires_secs: 7 * 24 * 3600,
            day_seconds: 86_400,
            sigv2_presigned: true,
            account_id: DEFAULT_ACCOUNT_ID.into(),
            trusted_proxies: Vec::new(),
            plain_http_api: false,
            limits: Limits::default(),
            access_logs: AccessLogs::default(),
            metrics: Metrics::default(),
            budget: BudgetConfig::default(),
            scrub: Scrub::default(),
            store: StoreConfig::default(),
            disk: Disk::default(),
            replication: Replication::default(),
        }
    }
}

/// A listen address from `host:port`, where the host is an IP address or a name (`localhost`):
/// a name is resolved, and its first IPv4 address taken (else its first address).
///
/// # Errors
/// A message naming the address and why it is not one.
pub fn resolve_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    let addrs: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(s)
        .map_err(|e| format!("{s:?} is not host:port ({e})"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| format!("{s:?} resolves to no address"))
}

fn deserialize_addr<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let s = String::deserialize(d)?;
    resolve_addr(&s).map_err(serde::de::Error::custom)
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for [`Config`].
    #[error("config file {path} is invalid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
    /// A combination of settings that cannot work.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Reads a TOML config file; missing fields take their defaults.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file and the problem.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.into(),
            message: e.to_string(),
        })
    }

    /// Milliseconds in a lifecycle and billing day (`day_seconds`).
    #[must_use]
    pub fn day_ms(&self) -> i64 {
        i64::try_from(self.day_seconds)
            .unwrap_or(86_400)
            .saturating_mul(1000)
    }

    /// Where this configuration's master key, key files and rotation report are.
    #[must_use]
    pub fn key_locations(&self) -> leadshop_keys::Locations {
        leadshop_keys::Locations::new(&self.data_dir, self.master_key_file.as_deref())
    }

    /// The budget and price table: the configured documents, else the built-in ones.
    ///
    /// # Errors
    /// A document that cannot be read or does not parse.
    pub fn load_budget(
        &self,
    ) -> Result<
        (
            leadshop_spec::budget::Budget,
            leadshop_spec::budget::PriceTable,
        ),
        ConfigError,
    > {
        use leadshop_spec::budget::{BUILTIN_BUDGET, BUILTIN_PRICES, Budget, PriceTable};
        let read = |p: &Option<PathBuf>, builtin: &str| -> Result<(String, String), ConfigError> {
            match p {
                None => Ok(("the built-in document".into(), builtin.to_string())),
                Some(p) => std::fs::read_to_string(p)
                    .map(|t| (p.display().to_string(), t))
                    .map_err(|e| ConfigError::Invalid(format!("reading {}: {e}", p.display()))),
            }
        };
        let (name, text) = read(&self.budget.document, BUILTIN_BUDGET)?;
        let budget = Budget::parse(&text)
            .map_err(|e| ConfigError::Invalid(format!("budget document {name}: {e}")))?;
        let (name, text) = read(&self.budget.prices, BUILTIN_PRICES)?;
        let prices = PriceTable::parse(&text)
            .map_err(|e| ConfigError::Invalid(format!("price table {name}: {e}")))?;
        Ok((budget, prices))
    }

    /// Checks settings that depend on each other.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.day_seconds == 0 {
            return Err(ConfigError::Invalid(
                "day_seconds must be at least 1 (86400 is a real day)".into(),
            ));
        }
        if !(4..=65_536).contains(&self.store.metadata_cache_mib) {
            return Err(ConfigError::Invalid(
                "[store] metadata_cache_mib must be from 4 to 65536".into(),
            ));
        }
        if self.scrub.bytes_per_second == 0 || self.scrub.interval_seconds == 0 {
            return Err(ConfigError::Invalid(
                "[scrub] bytes_per_second and interval_seconds must be at least 1 (enabled = false turns the scrubber off)".into(),
            ));
        }
        let d = &self.disk;
        if d.check_seconds == 0
            || d.alarm_free_percent > d.warn_free_percent
            || d.warn_free_percent > 100
        {
            return Err(ConfigError::Invalid(format!(
                "[disk] needs check_seconds >= 1 and alarm_free_percent ({}) <= warn_free_percent ({}) <= 100",
                d.alarm_free_percent, d.warn_free_percent
            )));
        }
        if s3s::host::SingleDomain::new(&self.base_domain).is_err() {
            return Err(ConfigError::Invalid(format!(
                "base_domain {:?} is not a domain name",
                self.base_domain
            )));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::Invalid(
                "tls_cert and tls_key must be given together".into(),
            ));
        }
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::Invalid(format!(
                "account_id must be 12 digits, not {:?}",
                self.account_id
            )));
        }
        if let Some(p) = self
            .trusted_proxies
            .iter()
            .find(|p| leadshop_spec::policy::Cidr::parse(p).is_none())
        {
            return Err(ConfigError::Invalid(format!(
                "trusted_proxies: {p:?} is not an address or CIDR range"
            )));
        }
        if self
            .budget
            .webhook_url
            .as_deref()
            .is_some_and(|u| crate::webhook::Webhook::parse(u).is_none())
        {
            return Err(ConfigError::Invalid(
                "budget.webhook_url must be an http://host:port/path URL".into(),
            ));
        }
        if self.access_logs.flush_seconds == 0 || self.access_logs.max_records == 0 {
            return Err(ConfigError::Invalid(
                "access_logs: flush_seconds and max_records must be at least 1".into(),
            ));
        }
        self.load_budget()?;
        let l = &self.limits;
        if l.header_read_timeout_secs == 0 || l.idle_timeout_secs == 0 || l.body_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "limits: timeouts must be at least 1 second".into(),
            ));
        }
        if l.max_connections == 0 || l.max_connections_per_ip == 0 || l.max_parallel_writes == 0 {
            return Err(ConfigError::Invalid(
                "limits: max_connections, max_connections_per_ip and max_parallel_writes must be at least 1".into(),
            ));
        }
        if l.max_streams_per_connection == 0 || l.max_requests_per_ip == 0 {
            return Err(ConfigError::Invalid(
                "limits: max_streams_per_connection and max_requests_per_ip must be at least 1"
                    .into(),
            ));
        }
        if l.max_response_buffer_per_ip < 1024 * 1024 {
            return Err(ConfigError::Invalid(
                "limits: max_response_buffer_per_ip must be at least 1 MiB (one download reads 256 KiB at a time)".into(),
            ));
        }
        if l.max_header_bytes < 2048 {
            return Err(ConfigError::Invalid(
                "limits: max_header_bytes must be at least 2048 (a signed request needs about 1 KB)".into(),
            ));
        }
        if self.region.is_empty() {
            return Err(ConfigError::Invalid("region must not be empty".into()));
        }
        self.replication.validate().map_err(ConfigError::Invalid)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_take_host_names() {
        assert_eq!(resolve_addr("127.0.0.1:9443").unwrap().port(), 9443);
        let local = resolve_addr("localhost:0").unwrap();
        assert!(local.ip().is_loopback(), "{local}");
        let cfg: Config = toml::from_str("s3_addr = \"localhost:9443\"").unwrap();
        assert!(cfg.s3_addr.ip().is_loopback() && cfg.s3_addr.port() == 9443);
        assert!(resolve_addr("localhost").is_err(), "a port is required");
        assert!(toml::from_str::<Config>("s3_addr = \"no-such-host.invalid:1\"").is_err());
    }

    #[test]
    fn shipped_example_config_matches_defaults() {
        let text = include_str!("../../../../config/leadshop.toml");
        let parsed: Config = toml::from_str(text).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = toml::from_str::<Config>("data_dri = \"x\"").unwrap_err();
        assert!(err.to_string().contains("data_dri"), "{err}");
    }
}
