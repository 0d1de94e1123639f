//! The command line: every subcommand, flag and environment variable (clap).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use leadshop_server::Config;

#[derive(Parser)]
#[command(
    name = "leadshop",
    version = env!("LEADSHOP_VERSION"),
    about = "leadshop: the leadshop-assets S3 stack on any machine"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run the S3 server (HTTPS), the plain-HTTP listener and the console.
    Serve(ServeArgs),
    /// Print `export` lines that point boto3, the AWS CLI and SDKs at a running instance.
    Env(EnvArgs),
    /// Manage access keys and their identity policies (takes effect at once, also while the
    /// server runs).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Encryption keys: master-key rotation.
    #[command(subcommand)]
    Kms(KmsCommand),
    /// Lifecycle: what the lifecycle worker of a data directory did and will do.
    #[command(subcommand)]
    Lifecycle(LifecycleCommand),
    /// Integrity: what the scrubber (every object's data read back and checked) found.
    #[command(subcommand)]
    Scrub(ScrubCommand),
    /// Bucket replication: the backlog and failures, and the keys used at other endpoints.
    #[command(subcommand)]
    Replication(ReplicationCommand),
    /// Security incident: turn on all four Public Access Block settings of a bucket on any S3
    /// endpoint (AWS or local) and read them back.
    Lockdown {
        #[command(flatten)]
        remote: RemoteArgs,
        /// Print the settings read back as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Data recovery: make an earlier version of an object current again (the newest delete
    /// marker is removed, or the previous or the given version is copied back).
    Recover {
        #[command(flatten)]
        remote: RemoteArgs,
        /// Object key.
        #[arg(long)]
        key: String,
        /// The version to restore [default: undo the latest delete or overwrite].
        #[arg(long)]
        version_id: Option<String>,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Drift check: compare a live bucket's policy, Public Access Block, ownership,
    /// encryption, versioning, CORS, lifecycle, logging and metrics configurations with its
    /// spec documents; print a diff and exit 1 when they differ, 2 when it cannot read them
    /// all (a setting the endpoint does not implement is a row "unsupported by this endpoint").
    Verify(VerifyArgs),
    /// Benchmark any S3 endpoint (this server, an AWS bucket, another store): for each object
    /// size and concurrency, PUT for --seconds, then GET back and compare every byte; a table
    /// (or --json) of MB/s, requests/s and p50/p99 latency. Writes under leadshop-bench/ in
    /// the bucket and removes it all (every version) at the end.
    Bench(BenchArgs),
    /// Rebuild a stopped server's metadata (meta.redb) in key order: pages that concurrent
    /// writers' splits left half full are packed again (about half the size). Refused while a
    /// server holds the data directory; crash-safe (a kill meanwhile leaves the old file).
    Compact {
        #[command(flatten)]
        instance: InstanceArgs,
    },
    /// Backup of a whole server: a consistent copy of its metadata and object data (--to) and,
    /// kept apart, its keys (--keys-to: master key, keyring, access keys, TLS). Taken by the
    /// running server while it serves, or from a stopped one. Restore with `leadshop restore`.
    Backup {
        #[command(flatten)]
        instance: InstanceArgs,
        /// New directory for the data (metadata, object files, undelivered access logs).
        #[arg(long)]
        to: PathBuf,
        /// New directory for the keys, away from the data (another volume or machine).
        #[arg(long)]
        keys_to: PathBuf,
        /// With a server running: how long to wait for it to finish.
        #[arg(long, default_value_t = 3600)]
        wait_secs: u64,
    },
    /// Restore a backup into a new data directory (every file checked against the backup's
    /// manifests first), then start it with `leadshop serve --data-dir`.
    Restore {
        /// The backup's data directory (with BACKUP.json).
        #[arg(long)]
        from: PathBuf,
        /// The backup's keys directory (with KEYS.json).
        #[arg(long)]
        keys_from: PathBuf,
        /// The new data directory (must not exist, or be empty).
        #[arg(long, env = "LEADSHOP_DATA_DIR")]
        data_dir: PathBuf,
    },
    /// Cost overrun: delete every object under a prefix now and, with --noncurrent, old
    /// versions and incomplete uploads for good (what a stricter lifecycle would do later).
    Cleanup {
        #[command(flatten)]
        remote: RemoteArgs,
        /// Key prefix, e.g. tmp/ (required: an empty prefix would empty the bucket).
        #[arg(long)]
        prefix: String,
        /// Remove every version (current ones too) and delete marker permanently, so the
        /// space is freed on a versioned bucket, and abort incomplete multipart uploads.
        #[arg(long)]
        noncurrent: bool,
        /// Only count what would be removed.
        #[arg(long)]
        dry_run: bool,
        /// Print the counts as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script to stdout, e.g. `leadshop completions bash >
    /// /etc/bash_completion.d/leadshop` (or `source <(leadshop completions bash)`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to stdout: `leadshop man > leadshop.1 && man -l leadshop.1`.
    Man,
}

/// Where a runbook verb acts: the standard AWS environment (`eval "$(leadshop env)"` for a
/// local server), with overrides.
#[derive(clap::Args)]
pub(crate) struct RemoteArgs {
    /// S3 endpoint URL [default: AWS_ENDPOINT_URL, else AWS S3 in AWS_REGION].
    #[arg(long)]
    pub(crate) endpoint: Option<String>,
    /// Bucket [default: AWS_S3_BUCKET_NAME].
    #[arg(long)]
    pub(crate) bucket: Option<String>,
}

#[derive(clap::Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// The documents to compare with: the directory config/buckets/<SPEC> [default: the
    /// bucket's own name, else that name without an environment suffix -dev, -staging or
    /// -prod (leadshop-assets-dev → leadshop-assets)].
    #[arg(long)]
    pub(crate) spec: Option<String>,
    /// Directory of spec documents [default: the ones built into this binary, which are
    /// config/buckets of its source].
    #[arg(long)]
    pub(crate) spec_dir: Option<PathBuf>,
    /// `${account_id}` of the documents: the account that owns the buckets.
    #[arg(long, default_value = leadshop_server::config::DEFAULT_ACCOUNT_ID)]
    pub(crate) account_id: String,
    /// `${log_bucket}`: the bucket receiving the access logs.
    #[arg(long, default_value = leadshop_spec::bucket::LOG_BUCKET)]
    pub(crate) log_bucket: String,
    /// `${source_bucket}`: the bucket whose access logs a log bucket receives.
    #[arg(long, default_value = leadshop_spec::bucket::ASSETS_BUCKET)]
    pub(crate) source_bucket: String,
    /// Expected CORS origins instead of the document's (Terraform's cors_origins of the
    /// environment, e.g. prod's); repeat for several.
    #[arg(long = "cors-origin")]
    pub(crate) cors_origins: Vec<String>,
    /// A setting not to compare (policy, public-access-block, ownership, encryption,
    /// versioning, cors, lifecycle, logging, metrics), e.g. metrics where Terraform's
    /// enable_request_metrics is off; repeat for several.
    #[arg(long = "skip", value_name = "SETTING", value_parser = clap::builder::PossibleValuesParser::new(leadshop_client::verify::SETTINGS))]
    pub(crate) skip: Vec<String>,
    /// Print the expected and live settings as JSON instead of a diff.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(clap::Args)]
pub(crate) struct BenchArgs {
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// Object sizes, comma-separated (K, M, G are powers of 1024).
    #[arg(long, default_value = "4K,1M,10M")]
    pub(crate) size: String,
    /// Concurrent requests, comma-separated.
    #[arg(long, default_value = "1,4,16")]
    pub(crate) concurrency: String,
    /// Seconds each phase (PUT, then GET) of each size and concurrency runs.
    #[arg(long, default_value_t = 5.0)]
    pub(crate) seconds: f64,
    /// Print the results as JSON (for comparing runs and stores).
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(clap::Args)]
pub(crate) struct InstanceArgs {
    /// TOML configuration file (see config/leadshop.toml for every field).
    #[arg(long, env = "LEADSHOP_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Data directory [default: ./data].
    #[arg(long, env = "LEADSHOP_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Master key file (64 hex digits, 0600) [default: <data-dir>/master.key, created if missing].
    #[arg(long, env = "LEADSHOP_MASTER_KEY_FILE")]
    pub(crate) master_key_file: Option<PathBuf>,
}

impl InstanceArgs {
    /// The configuration these flags name (file, then flags over it).
    pub(crate) fn config(&self) -> Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(v) = &self.data_dir {
            config.data_dir.clone_from(v);
        }
        if let Some(v) = &self.master_key_file {
            config.master_key_file = Some(v.clone());
        }
        Ok(config)
    }
}

#[derive(Subcommand)]
pub(crate) enum LifecycleCommand {
    /// The last pass (when, versions looked at, what each rule did), the next pass, and the
    /// totals since the data directory was made.
    Status {
        #[command(flatten)]
        instance: InstanceArgs,
        /// Print the status document as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum ScrubCommand {
    /// The running and the last pass: versions checked, skipped, and every damaged version
    /// (bucket, key, version, what failed). Exits 1 when a pass has found damage.
    Status {
        #[command(flatten)]
        instance: InstanceArgs,
        /// Print the status document as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum ReplicationCommand {
    /// The backlog (versions and bytes waiting, the oldest), what each rule replicated and
    /// failed, and the failures by reason.
    Status {
        #[command(flatten)]
        instance: InstanceArgs,
        /// Print the status document as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The access keys replication signs with at `[replication.destinations.<name>]`.
    #[command(subcommand)]
    Credentials(ReplicationCredentialsCommand),
}

#[derive(Subcommand)]
pub(crate) enum ReplicationCredentialsCommand {
    /// Stores a destination's key, sealed under the master key; the secret access key is read
    /// from standard input. A running server uses it from its next delivery.
    Set {
        #[command(flatten)]
        instance: InstanceArgs,
        /// The destination's name (`[replication.destinations.<name>]`).
        destination: String,
        /// Access key id.
        #[arg(long)]
        access_key_id: String,
    },
    /// The stored keys (destination and access key id; never a secret).
    List {
        #[command(flatten)]
        instance: InstanceArgs,
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Removes a destination's stored key.
    Remove {
        #[command(flatten)]
        instance: InstanceArgs,
        /// The destination's name.
        destination: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum KmsCommand {
    /// Create a keyring key for SSE-KMS (prints its id and ARN).
    CreateKey {
        #[command(flatten)]
        instance: InstanceArgs,
        /// Alias, e.g. leadshop-assets (used as alias/leadshop-assets).
        #[arg(long)]
        alias: Option<String>,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List keyring keys (never their material).
    ListKeys {
        #[command(flatten)]
        instance: InstanceArgs,
        /// Print the keys as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Disable a key: its objects cannot be read or written (KMS.DisabledException) until it
    /// is enabled again.
    DisableKey {
        #[command(flatten)]
        instance: InstanceArgs,
        /// Key id, alias/NAME or ARN.
        #[arg(long)]
        key_id: String,
    },
    /// Enable a disabled key.
    EnableKey {
        #[command(flatten)]
        instance: InstanceArgs,
        /// Key id, alias/NAME or ARN.
        #[arg(long)]
        key_id: String,
    },
    /// Replace the master key: re-wrap every object's data key, access-key secret and keyring
    /// key under a new one, without rewriting object data. Works while `leadshop serve` runs
    /// (the server does it, requests go on) or with it stopped. Crash-safe: an interrupted
    /// rotation is finished by the next server start or by running this again.
    RotateMaster {
        #[command(flatten)]
        instance: InstanceArgs,
        /// With a server running: how long to wait for it to finish.
        #[arg(long, default_value_t = 600)]
        wait_secs: u64,
    },
}

#[derive(Subcommand)]
pub(crate) enum KeysCommand {
    /// Create a key with an identity policy (IAM JSON). Prints the secret once and adds the
    /// profile to <data-dir>/credentials.
    Create {
        #[command(flatten)]
        instance: InstanceArgs,
        /// Key name (the IAM user name, aws:username).
        #[arg(long)]
        name: String,
        /// Identity policy file, e.g. config/iam/app-policy.json.
        #[arg(long)]
        policy: PathBuf,
    },
    /// List keys (never secrets).
    List {
        #[command(flatten)]
        instance: InstanceArgs,
        /// Print the keys as JSON (never their secrets).
        #[arg(long)]
        json: bool,
    },
    /// Delete a key: requests signed with it fail with InvalidAccessKeyId at once.
    Delete {
        #[command(flatten)]
        instance: InstanceArgs,
        /// Key name.
        #[arg(long)]
        name: String,
    },
    /// Give a key a new id and secret (policy and user id stay); the old pair stops working.
    Rotate {
        #[command(flatten)]
        instance: InstanceArgs,
        /// Key name.
        #[arg(long)]
        name: String,
    },
    /// Replace a key's identity policy.
    SetPolicy {
        #[command(flatten)]
        instance: InstanceArgs,
        /// Key name.
        #[arg(long)]
        name: String,
        /// Identity policy file.
        #[arg(long)]
        policy: PathBuf,
    },
}

#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// The configuration file, data directory and master key.
    #[command(flatten)]
    pub(crate) instance: InstanceArgs,
    /// HTTPS S3 listener, host:port (port 0: any free port) [default: 127.0.0.1:9443].
    #[arg(long, env = "LEADSHOP_S3_ADDR", value_parser = leadshop_server::config::resolve_addr)]
    pub(crate) s3_addr: Option<SocketAddr>,
    /// Plain-HTTP listener, host:port [default: 127.0.0.1:9080].
    #[arg(long, env = "LEADSHOP_HTTP_ADDR", value_parser = leadshop_server::config::resolve_addr)]
    pub(crate) http_addr: Option<SocketAddr>,
    /// Console/admin listener (the web console, /metrics), host:port [default: 127.0.0.1:9001].
    #[arg(long, env = "LEADSHOP_CONSOLE_ADDR", value_parser = leadshop_server::config::resolve_addr)]
    pub(crate) console_addr: Option<SocketAddr>,
    /// Region [default: us-east-1].
    #[arg(long, env = "LEADSHOP_REGION")]
    pub(crate) region: Option<String>,
    /// Certificate chain (PEM) to serve instead of the generated development certificate.
    #[arg(long, env = "LEADSHOP_TLS_CERT", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(long, env = "LEADSHOP_TLS_KEY", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
}

#[derive(clap::Args)]
pub(crate) struct EnvArgs {
    /// Data directory of the instance [default: ./data].
    #[arg(long, env = "LEADSHOP_DATA_DIR", default_value = "./data")]
    pub(crate) data_dir: PathBuf,
    /// Which key: admin (everything) or app (the application's least-privilege key).
    #[arg(long, default_value = "admin")]
    pub(crate) key: String,
    /// Region to export.
    #[arg(long, env = "LEADSHOP_REGION", default_value = "us-east-1")]
    pub(crate) region: String,
    /// Bucket to export as AWS_S3_BUCKET_NAME.
    #[arg(long, default_value = "leadshop-assets")]
    pub(crate) bucket: String,
    /// Print a `.env` file (`KEY="value"` lines, for python-dotenv) instead of `export` lines.
    #[arg(long)]
    pub(crate) dotenv: bool,
}
