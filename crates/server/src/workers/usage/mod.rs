//! The usage worker, every second: stores the request usage the usage subscriber accumulated
//! (`events::usage`), samples every bucket's storage by class every
//! `metrics.storage_sample_seconds` (`AWS/S3` `BucketSizeBytes` per `StorageType` and
//! `NumberOfObjects`, at the day's start, as CloudWatch's daily storage metrics; a later
//! sample of the same day replaces the earlier), prunes datapoints past their retention once a day,
//! prices the month (`monitoring::cost`) and fires the budget alarm ([`alarm`]).

pub use crate::observability::{alarm, usage as status};

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leadshop_spec::budget::PriceTable;
use leadshop_store::{ClassUsage, Stat, Store, StoreError};

use super::{Stop, Worker};
use crate::config::Metrics as MetricsConfig;
use crate::events::usage::Usage;
use crate::monitoring::cost;
use crate::monitoring::series::{self, Metric};
use alarm::Alarms;
pub use status::UsageStatus;

const TICK: Duration = Duration::from_secs(1);

/// The worker.
pub struct UsageWorker {
    uses: UsageWorkerUses,
    sampled: Mutex<Option<(i64, i64)>>,
    pruned_day: Mutex<Option<i64>>,
}

/// What the usage worker reads, and where its results go.
pub struct UsageWorkerUses {
    /// Where datapoints are stored and storage is sampled.
    pub store: Arc<Store>,
    /// The request usage the event subscriber accumulates.
    pub usage: Arc<Usage>,
    /// Milliseconds in a day (`day_seconds`).
    pub day_ms: i64,
    /// Sampling and retention (`[metrics]`).
    pub metrics: MetricsConfig,
    /// The prices the month is estimated with.
    pub prices: Arc<PriceTable>,
    /// The budget alarm the estimate is evaluated against.
    pub alarms: Arc<Alarms>,
    /// What it last saw (console, `/metrics`).
    pub status: Arc<UsageStatus>,
}

impl UsageWorker {
    /// A worker storing `uses.usage`'s records and pricing with `uses.prices`.
    #[must_use]
    pub fn new(uses: UsageWorkerUses) -> Self {
        Self {
            uses,
            sampled: Mutex::new(None),
            pruned_day: Mutex::new(None),
        }
    }

    async fn round(&self) -> Result<(), StoreError> {
        let s = &self.uses;
        let day_ms = s.day_ms;
        let now = s.store.clock().now_ms();
        let day = now.div_euclid(day_ms);
        let points = s.usage.take();
        if !points.is_empty() {
            let store = s.store.clone();
            let kept = points.clone();
            let stored = tokio::task::spawn_blocking(move || store.record_datapoints(points, true))
                .await
                .map_err(|e| StoreError::CommitFailed(e.to_string()))?;
            if let Err(e) = stored {
                s.usage.give_back(kept);
                return Err(e);
            }
        }
        let every_ms =
            i64::try_from(s.metrics.storage_sample_seconds.max(1) * 1000).unwrap_or(i64::MAX);
        let sampled = *self.sampled.lock().expect("lock");
        if sampled.is_none_or(|(d, at)| d != day || now - at >= every_ms) {
            let store = s.store.clone();
            let usage = tokio::task::spawn_blocking(move || sample(&store, day * day_ms))
                .await
                .map_err(|e| StoreError::CommitFailed(e.to_string()))??;
            *s.status.storage.lock().expect("lock") = usage;
            *self.sampled.lock().expect("lock") = Some((day, now));
        }
        let pruned = *self.pruned_day.lock().expect("lock");
        if pruned != Some(day) {
            let store = s.store.clone();
            let keep = i64::try_from(s.metrics.retention_days).unwrap_or(i64::MAX / 2);
            let keep_requests =
                i64::try_from(s.metrics.request_retention_days).unwrap_or(i64::MAX / 2);
            let removed = tokio::task::spawn_blocking(move || {
                store.prune_datapoints(move |series_key| {
                    let per_minute = Metric::parse(series_key).is_some_and(|m| {
                        m.namespace == series::S3
                            && (m.dimension("FilterId").is_some()
                                || m.dimension("RuleId").is_some())
                    });
                    let days = if per_minute { keep_requests } else { keep };
                    now.saturating_sub(days.saturating_mul(day_ms))
                })
            })
            .await
            .map_err(|e| StoreError::CommitFailed(e.to_string()))??;
            if removed > 0 {
                tracing::info!(removed, "datapoints past their retention removed");
            }
            *self.pruned_day.lock().expect("lock") = Some(day);
        }
        let store = s.store.clone();
        let prices = s.prices.clone();
        let est = tokio::task::spawn_blocking(move || cost::estimate(&store, &prices, now, day_ms))
            .await
            .map_err(|e| StoreError::CommitFailed(e.to_string()))??;
        if let Err(e) = s.alarms.evaluate(&est, now) {
            tracing::error!(error = %e, "cannot save the budget alarm state; the alarm is evaluated again next round");
        }
        *s.status.estimate.lock().expect("lock") = Some(est);
        s.alarms.deliver(now).await;
        s.status
            .last_round_ms
            .store(now, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

/// Samples every bucket's storage into daily datapoints at `day_start_ms` (replacing a
/// sample of the same day).
fn sample(
    store: &Store,
    day_start_ms: i64,
) -> Result<BTreeMap<String, BTreeMap<String, ClassUsage>>, StoreError> {
    let usage = store.storage_usage()?;
    let mut points = Vec::new();
    for (bucket, classes) in &usage {
        let mut objects = 0;
        let mut total = 0;
        // StandardStorage is reported even for an empty bucket, as on AWS.
        let mut by_type: BTreeMap<&str, u64> = BTreeMap::from([("StandardStorage", 0)]);
        for (class, u) in classes {
            *by_type.entry(series::storage_type(class)).or_default() += u.bytes;
            objects += u.objects;
            total += u.bytes;
        }
        // Beyond AWS: the bucket's total under BucketName alone, which the seed's validation
        // command asks for (AWS publishes BucketSizeBytes only per StorageType).
        points.push((
            Metric::new(
                series::S3,
                series::BUCKET_SIZE_BYTES,
                &[("BucketName", bucket)],
            )
            .key(),
            day_start_ms,
            Stat::one(total as f64),
        ));
        for (storage_type, bytes) in by_type {
            points.push((
                Metric::new(
                    series::S3,
                    series::BUCKET_SIZE_BYTES,
                    &[("BucketName", bucket), ("StorageType", storage_type)],
                )
                .key(),
                day_start_ms,
                Stat::one(bytes as f64),
            ));
        }
        points.push((
            Metric::new(
                series::S3,
                series::NUMBER_OF_OBJECTS,
                &[("BucketName", bucket), ("StorageType", "AllStorageTypes")],
            )
            .key(),
            day_start_ms,
            Stat::one(objects as f64),
        ));
    }
    store.record_datapoints(points, false)?;
    Ok(usage)
}

#[async_trait::async_trait]
impl Worker for UsageWorker {
    fn name(&self) -> String {
        "usage".into()
    }

    async fn run(&self, mut stop: Stop) {
        loop {
            if let Err(e) = self.round().await {
                tracing::error!(error = %e, "usage round failed; retrying");
            }
            tokio::select! {
                () = tokio::time::sleep(TICK) => {}
                () = stop.stopped() => {
                    // What the last requests added is stored before the server stops.
                    let _ = self.round().await;
                    return;
                }
            }
        }
    }
}
