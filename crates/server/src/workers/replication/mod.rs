//! The replication worker: takes due tasks from the store's queue (one per key at a time,
//! oldest first), delivers up to `[replication] workers` at once, and records each outcome in
//! the store: COMPLETED; a retry with backoff (doubling from one second to
//! `max_backoff_seconds`) while a destination is unreachable or failing, the version staying
//! PENDING; FAILED once a destination has refused it `max_refusals` times (a wrong key, a
//! bucket that is gone or not versioned), kept with its reason for `leadshop replication
//! status` — never an endless loop.
//!
//! A destination is a bucket of this server (written in-process, `s3::replica`) or an endpoint
//! `[replication.destinations]` names (`remote.rs`, the official SDK). A delivery whose answer
//! is lost is safe to repeat: the replica records the source version it copies, and a second
//! delivery is recognised (by a leadshop destination in its write's transaction; elsewhere by
//! looking at the destination's current version first).

#[cfg(feature = "remote-replication")]
mod remote;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use leadshop_store::{Delivery, MasterKeys, ReplicationTask, Stat, Store};

use super::{Stop, Worker};
use crate::config::Replication;
use crate::monitoring::series::{self, Metric};
use crate::observability::replication::{ReplicationStatus, RuleStatus};
use crate::s3::Leadshop;
use crate::s3::replica::{self, Undelivered};

/// Queue entries looked at per round (a key's later tasks wait behind its first).
const SCAN: usize = 100_000;
/// Versions an existing-object batch looks at per step (one transaction).
const BACKFILL_STEP: usize = 1000;
/// FAILED tasks read back per round for the status (by reason).
const FAILED_READ: usize = 100_000;

/// The worker, and what it uses.
pub struct ReplicationWorker {
    /// Reads sources and writes same-server replicas through the S3 layer's own paths.
    pub api: Leadshop,
    /// The queue.
    pub store: Arc<Store>,
    /// `[replication]`.
    pub config: Replication,
    /// Where the destinations' sealed keys are.
    pub data_dir: PathBuf,
    /// What opens them.
    pub masters: MasterKeys,
    /// What it shows.
    pub status: Arc<ReplicationStatus>,
    /// Per (bucket, rule) counts since start; kept here so a restarted worker keeps them.
    counts: std::sync::Mutex<BTreeMap<(String, String), RuleStatus>>,
    /// Clients of remote destinations, by name.
    #[cfg(feature = "remote-replication")]
    clients: remote::Clients,
    /// CloudWatch datapoints (latency, failures) not stored yet.
    points: std::sync::Mutex<Vec<(String, i64, Stat)>>,
}

/// The series key of a replication metric of one rule.
fn rule_metric(source: &str, destination_arn: &str, rule: &str, name: &str) -> String {
    let dest =
        leadshop_spec::replication::bucket_of_arn(destination_arn).unwrap_or(destination_arn);
    Metric::new(
        series::S3,
        name,
        &[
            ("SourceBucket", source),
            ("DestinationBucket", dest),
            ("RuleId", rule),
        ],
    )
    .key()
}

fn minute(ms: i64) -> i64 {
    ms - ms.rem_euclid(60_000)
}

impl ReplicationWorker {
    /// A worker over these parts.
    #[must_use]
    pub fn new(
        api: Leadshop,
        store: Arc<Store>,
        config: Replication,
        data_dir: PathBuf,
        masters: MasterKeys,
        status: Arc<ReplicationStatus>,
    ) -> Self {
        Self {
            api,
            store,
            config,
            data_dir,
            masters,
            status,
            counts: std::sync::Mutex::default(),
            #[cfg(feature = "remote-replication")]
            clients: remote::Clients::default(),
            points: std::sync::Mutex::default(),
        }
    }

    fn backoff_ms(&self, attempts: u32) -> i64 {
        let max = self.config.max_backoff_seconds.saturating_mul(1000);
        let ms = 1000u64.saturating_mul(1u64 << attempts.min(30)).min(max);
        i64::try_from(ms).unwrap_or(i64::MAX)
    }

    /// Delivers one task somewhere, within the delivery timeout.
    async fn deliver(&self, task: &ReplicationTask) -> Result<(), Undelivered> {
        let timeout = Duration::from_secs(self.config.delivery_timeout_seconds);
        let delivery = async {
            let kms = self.replica_kms_key(task).await;
            match self.config.destination_for(&task.destination) {
                #[cfg(feature = "remote-replication")]
                Some((name, dest)) => {
                    let client = self
                        .clients
                        .get(name, dest, &self.data_dir, &self.masters)
                        .await?;
                    remote::deliver(&self.api, &client, dest, task, kms.as_deref()).await
                }
                #[cfg(not(feature = "remote-replication"))]
                Some(_) => Err(Undelivered::refused(
                    "this build replicates only to buckets of this server",
                )),
                None => {
                    let bucket = leadshop_spec::replication::bucket_of_arn(&task.destination)
                        .unwrap_or_default();
                    replica::deliver_local(&self.api, task, bucket, kms.as_deref()).await
                }
            }
        };
        match tokio::time::timeout(timeout, delivery).await {
            Ok(r) => r,
            Err(_) => Err(Undelivered::later("the delivery timed out")),
        }
    }

    /// The rule's ReplicaKmsKeyID, if it names one.
    async fn replica_kms_key(&self, task: &ReplicationTask) -> Option<String> {
        replica::configuration(&self.api, &task.bucket)
            .await?
            .rule(&task.rule)?
            .destination
            .encryption_configuration
            .as_ref()?
            .replica_kms_key_id
            .clone()
    }

    /// Whether the task's rule publishes CloudWatch metrics (its destination's `Metrics`).
    async fn publishes_metrics(&self, task: &ReplicationTask) -> bool {
        replica::configuration(&self.api, &task.bucket)
            .await
            .and_then(|c| {
                c.rule(&task.rule)
                    .map(leadshop_spec::replication::Rule::metrics_enabled)
            })
            .unwrap_or(false)
    }

    /// What became of a delivery, for the store.
    fn outcome(&self, task: &ReplicationTask, result: Result<(), Undelivered>) -> Delivery {
        let now = self.store.clock().now_ms();
        match result {
            Ok(()) => Delivery::Done,
            Err(u) if u.retry || task.attempts + 1 < self.config.max_refusals => Delivery::Retry {
                not_before_ms: now.saturating_add(self.backoff_ms(task.attempts)),
                error: u.reason,
            },
            Err(u) => Delivery::Failed { error: u.reason },
        }
    }

    /// One round: the due tasks delivered, their outcomes recorded. Returns how many were due.
    async fn round(&self) -> usize {
        let now = self.store.clock().now_ms();
        let batch = self.config.workers.saturating_mul(4);
        let store = self.store.clone();
        let due = match tokio::task::spawn_blocking(move || store.replication_due(now, batch, SCAN))
            .await
        {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot read the replication queue");
                return 0;
            }
            Err(e) => {
                tracing::error!(error = %e, "reading the replication queue panicked");
                return 0;
            }
        };
        let n = due.len();
        let results: Vec<_> = futures::stream::iter(due)
            .map(|(id, task)| async move {
                let result = self.deliver(&task).await;
                (id, task, result)
            })
            .buffer_unordered(self.config.workers)
            .collect()
            .await;
        for (id, task, result) in results {
            self.record(id, task, result).await;
        }
        n
    }

    async fn record(&self, id: u64, task: ReplicationTask, result: Result<(), Undelivered>) {
        let failure = result.as_ref().err().cloned();
        let delivery = self.outcome(&task, result);
        let (done, failed, retry) = match &delivery {
            Delivery::Done => (true, false, false),
            Delivery::Failed { .. } => (false, true, false),
            Delivery::Retry { .. } => (false, false, true),
        };
        if let Some(u) = &failure {
            tracing::warn!(bucket = %task.bucket, key = %task.key, version = %task.version_id,
                destination = %task.destination, reason = %u.reason, failed,
                "replication delivery did not go through");
        }
        let store = self.store.clone();
        let saved =
            tokio::task::spawn_blocking(move || store.replication_delivered(id, delivery)).await;
        if !matches!(saved, Ok(Ok(()))) {
            tracing::error!(
                ?saved,
                "cannot record a replication outcome; it will be delivered again"
            );
            return;
        }
        let now = self.store.clock().now_ms();
        if (done || failed) && self.publishes_metrics(&task).await {
            let (name, value) = if done {
                (
                    series::REPLICATION_LATENCY,
                    (now - task.queued_ms).max(0) as f64 / 1000.0,
                )
            } else {
                (series::OPERATIONS_FAILED_REPLICATION, 1.0)
            };
            let key = rule_metric(&task.bucket, &task.destination, &task.rule, name);
            if let Ok(mut points) = self.points.lock() {
                points.push((key, minute(now), Stat::one(value)));
            }
        }
        if let Ok(mut counts) = self.counts.lock() {
            let c = counts
                .entry((task.bucket.clone(), task.rule.clone()))
                .or_insert_with(|| RuleStatus {
                    bucket: task.bucket.clone(),
                    rule: task.rule.clone(),
                    ..RuleStatus::default()
                });
            if done {
                c.completed += 1;
                c.last_latency_seconds = Some((now - task.queued_ms).max(0) as f64 / 1000.0);
            }
            if failed {
                c.failed += 1;
            }
        }
        self.status.update(|s| {
            s.completed += u64::from(done);
            s.retries += u64::from(retry);
            if let Some(u) = failure {
                s.last_error = Some(format!("{}: {}", task.destination, u.reason));
            }
        });
    }

    /// One step of each bucket's existing-object batch (`ExistingObjectReplication`): the
    /// versions looked at.
    async fn backfill(&self) -> usize {
        let store = self.store.clone();
        let stepped = tokio::task::spawn_blocking(move || {
            let mut looked = 0;
            for bucket in store.replication_backfills()? {
                looked += store.replication_backfill_step(&bucket, BACKFILL_STEP)?;
            }
            Ok::<_, leadshop_store::StoreError>(looked)
        })
        .await;
        match stepped {
            Ok(Ok(n)) => n,
            other => {
                tracing::error!(
                    ?other,
                    "the existing-object replication batch failed a step; it resumes where it was"
                );
                0
            }
        }
    }

    /// Stores the CloudWatch datapoints of rules that enable metrics: the pending gauges of
    /// this minute (sampled again each count) and the latencies and failures recorded since.
    async fn store_metrics(&self, rules: &BTreeMap<(String, String), RuleStatus>, now: i64) {
        let mut gauges = Vec::new();
        for ((bucket, rule), r) in rules {
            let Some(config) = replica::configuration(&self.api, bucket).await else {
                continue;
            };
            let Some(found) = config.rule(rule).filter(|r| r.metrics_enabled()) else {
                continue;
            };
            let dest = &found.destination.bucket;
            for (name, v) in [
                (series::OPERATIONS_PENDING_REPLICATION, r.pending_operations),
                (series::BYTES_PENDING_REPLICATION, r.pending_bytes),
            ] {
                gauges.push((
                    rule_metric(bucket, dest, rule, name),
                    minute(now),
                    Stat::one(v as f64),
                ));
            }
        }
        let points = self
            .points
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default();
        let store = self.store.clone();
        let stored = tokio::task::spawn_blocking(move || {
            store.record_datapoints(gauges, false)?;
            store.record_datapoints(points, true)
        })
        .await;
        if !matches!(stored, Ok(Ok(()))) {
            tracing::warn!(?stored, "cannot store replication metrics");
        }
    }

    /// Counts the backlog and the FAILED versions into the status, and saves it.
    async fn refresh_status(&self) {
        let store = self.store.clone();
        let counted = tokio::task::spawn_blocking(move || {
            Ok::<_, leadshop_store::StoreError>((
                store.replication_backlog()?,
                store.replication_failures(FAILED_READ)?,
                store.replication_backfills()?,
            ))
        })
        .await;
        let Ok(Ok((backlog, failed, backfills))) = counted else {
            tracing::error!("cannot count the replication backlog");
            return;
        };
        let mut by_reason = BTreeMap::new();
        for t in failed {
            *by_reason
                .entry(t.last_error.unwrap_or_default())
                .or_insert(0u64) += 1;
        }
        let mut rules = self.counts.lock().map(|c| c.clone()).unwrap_or_default();
        for r in rules.values_mut() {
            r.pending_operations = 0;
            r.pending_bytes = 0;
        }
        for ((bucket, rule), (ops, bytes)) in backlog.by_rule {
            let r = rules
                .entry((bucket.clone(), rule.clone()))
                .or_insert_with(|| RuleStatus {
                    bucket,
                    rule,
                    ..RuleStatus::default()
                });
            r.pending_operations = ops;
            r.pending_bytes = bytes;
        }
        let now = self.store.clock().now_ms();
        self.store_metrics(&rules, now).await;
        self.status.update(|s| {
            s.updated_ms = now;
            s.pending_operations = backlog.operations;
            s.pending_bytes = backlog.bytes;
            s.oldest_pending_ms = backlog.oldest_queued_ms;
            s.failed_by_reason = by_reason;
            s.backfills = backfills;
            s.rules = rules.into_values().collect();
        });
        if let Err(e) = self.status.save(&self.data_dir) {
            tracing::warn!(error = %e, "cannot write the replication status file");
        }
    }
}

#[async_trait::async_trait]
impl Worker for ReplicationWorker {
    fn name(&self) -> String {
        "replication".into()
    }

    async fn run(&self, mut stop: Stop) {
        let poll = Duration::from_millis(self.config.poll_ms);
        let mut last_status = None::<tokio::time::Instant>;
        loop {
            let due = tokio::select! {
                n = async { self.backfill().await + self.round().await } => n,
                () = stop.stopped() => return,
            };
            if last_status.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                self.refresh_status().await;
                last_status = Some(tokio::time::Instant::now());
            }
            if due == 0 {
                tokio::select! {
                    () = tokio::time::sleep(poll) => {}
                    () = stop.stopped() => return,
                }
            }
        }
    }
}
