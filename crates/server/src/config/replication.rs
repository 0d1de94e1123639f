//! `[replication]`: how the replication worker delivers, and where destination buckets that
//! are not on this server are (`[replication.destinations.<name>]`).
//!
//! ```toml
//! [replication.destinations.backup]
//! bucket = "arn:aws:s3:::leadshop-assets-replica"   # the ARN a rule's Destination names
//! endpoint = "https://backup.example.com:9443"      # another leadshop, AWS, any S3 store
//! region = "eu-west-1"
//! ca_bundle = "/etc/leadshop/backup-ca.pem"          # optional: trust this CA as well
//! leadshop = true                                    # the destination is a leadshop server
//! # Credentials: a profile of an AWS shared-credentials file, or (neither set) the key stored
//! # sealed in the data directory by `leadshop replication credentials set backup`.
//! credentials_file = "/etc/leadshop/backup.credentials"
//! profile = "replication"
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[replication]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Replication {
    /// Deliveries in progress at once.
    pub workers: usize,
    /// A destination's refusal (4xx) of a version is tried this many times before the version
    /// is FAILED (a key or a bucket being fixed meanwhile gets it through).
    pub max_refusals: u32,
    /// The longest wait between two tries of an unreachable or failing destination, in
    /// seconds; the wait doubles from one second up to it, and the version stays PENDING.
    pub max_backoff_seconds: u64,
    /// How often the queue is looked at when it was empty, in milliseconds.
    pub poll_ms: u64,
    /// A delivery taking longer than this is abandoned and tried again, in seconds.
    pub delivery_timeout_seconds: u64,
    /// Destinations by name.
    pub destinations: BTreeMap<String, Destination>,
}

impl Default for Replication {
    fn default() -> Self {
        Self {
            workers: 4,
            max_refusals: 3,
            max_backoff_seconds: 300,
            poll_ms: 200,
            delivery_timeout_seconds: 600,
            destinations: BTreeMap::new(),
        }
    }
}

/// `[replication.destinations.<name>]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// The destination bucket's ARN (`arn:aws:s3:::<bucket>`).
    pub bucket: String,
    /// Its S3 endpoint URL.
    pub endpoint: String,
    /// Its region (SigV4).
    #[serde(default = "default_region")]
    pub region: String,
    /// A PEM file of CA certificates trusted for this endpoint besides the system's.
    #[serde(default)]
    pub ca_bundle: Option<PathBuf>,
    /// The destination is a leadshop server: replicas carry `x-leadshop-replica-of`, show
    /// `REPLICA`, and a second delivery is recognised by the destination itself. Otherwise a
    /// replica's user metadata carries the source version (`x-amz-meta-leadshop-replica-of`)
    /// and the worker looks before it writes.
    #[serde(default)]
    pub leadshop: bool,
    /// An AWS shared-credentials file holding `profile`.
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
    /// The profile of `credentials_file` to sign with.
    #[serde(default)]
    pub profile: Option<String>,
    /// Path-style requests (`https://host/bucket/key`); virtual-hosted otherwise.
    #[serde(default = "yes")]
    pub path_style: bool,
}

fn default_region() -> String {
    "us-east-1".into()
}

fn yes() -> bool {
    true
}

impl Replication {
    /// The destination a bucket ARN is mapped to, with its name.
    #[must_use]
    pub fn destination_for(&self, bucket_arn: &str) -> Option<(&str, &Destination)> {
        self.destinations
            .iter()
            .find(|(_, d)| d.bucket == bucket_arn)
            .map(|(n, d)| (n.as_str(), d))
    }

    /// Checks the section.
    ///
    /// # Errors
    /// What is wrong, naming the destination.
    pub fn validate(&self) -> Result<(), String> {
        if self.workers == 0 || self.workers > 256 {
            return Err("[replication] workers must be 1 to 256".into());
        }
        if self.poll_ms == 0 || self.max_backoff_seconds == 0 || self.delivery_timeout_seconds == 0
        {
            return Err(
                "[replication] poll_ms, max_backoff_seconds and delivery_timeout_seconds must be at least 1"
                    .into(),
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        for (name, d) in &self.destinations {
            if leadshop_spec::replication::bucket_of_arn(&d.bucket).is_none() {
                return Err(format!(
                    "[replication.destinations.{name}] bucket must be a bucket ARN (arn:aws:s3:::<bucket>), not {:?}",
                    d.bucket
                ));
            }
            if !seen.insert(d.bucket.as_str()) {
                return Err(format!(
                    "[replication.destinations.{name}] maps {} a second time",
                    d.bucket
                ));
            }
            if !(d.endpoint.starts_with("https://") || d.endpoint.starts_with("http://")) {
                return Err(format!(
                    "[replication.destinations.{name}] endpoint must be an http(s) URL"
                ));
            }
            if d.profile.is_some() != d.credentials_file.is_some() {
                return Err(format!(
                    "[replication.destinations.{name}] profile and credentials_file go together"
                ));
            }
        }
        Ok(())
    }
}
