//! The usage worker, every second: stores the request usage the usage subscriber accumulated
//! (`events::usage`), samples every bucket's storage by class every
//! `metrics.storage_sample_seconds` (`AWS/S3` `BucketSizeBytes` per `StorageType` and
//! `NumberOfObjects`, at the day's start, as CloudWatch's daily storage metrics; a later
//! sample of the same day replaces the earlier), prunes datapoints past their retention once a day,
//! prices the month (`monitoring::cost`) and fires the budget alarm ([`alarm`]).

pub mod alarm;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leadshop_spec::budget::PriceTable;
use leadshop_store::{ClassUsage, Stat, Store, StoreError};

use super::{Stop, Worker};
use crate::events::usage::Usage;
use crate::monitoring::cost::{self, Estimate};
use crate::monitoring::series::{self, Metric};
use crate::state::AppState;
use alarm::Alarms;

const TICK: Duration = Duration::from_secs(1);

/// What the worker last saw (console `/metrics` and dashboard).
#[derive(Debug, Default)]
pub struct UsageStatus {
    /// Storage by bucket and class, at the latest sample.
    pub storage: Mutex<BTreeMap<String, BTreeMap<String, ClassUsage>>>,
    /// The latest cost estimate.
    pub estimate: Mutex<Option<Estimate>>,
    /// When the last round finished (ms).
    pub last_round_ms: std::sync::atomic::AtomicI64,
}

/// The worker.
pub struct UsageWorker {
    state: Arc<AppState>,
    usage: Arc<Usage>,
    prices: Arc<PriceTable>,
    alarms: Arc<Alarms>,
    sampled: Mutex<Option<(i64, i64)>>,
    pruned_day: Mutex<Option<i64>>,
}

impl UsageWorker {
    /// A worker storing `usage`'s records and pricing with `prices`.
    #[must_use]
    pub fn new(state: Arc<AppState>, usage: Arc<Usage>) -> Self {
        let alarms = state.alarms.clone();
        Self {
            prices: state.prices.clone(),
            state,
            usage,
            alarms,
            sampled: Mutex::new(None),
            pruned_day: Mutex::new(None),
        }
    }

    async fn round(&self) -> Result<(), StoreError> {
        let s = &self.state;
        let day_ms = s.config.day_ms();
        let now = s.clock.now_ms();
        let day = now.div_euclid(day_ms);
        let points = self.usage.take();
        if !points.is_empty() {
            let store = s.store.clone();
            let kept = points.clone();
            let stored = tokio::task::spawn_blocking(move || store.record_datapoints(points, true))
                .await
                .map_err(|e| StoreError::CommitFailed(e.to_string()))?;
            if let Err(e) = stored {
                self.usage.give_back(kept);
                return Err(e);
            }
        }
        let every_ms = i64::try_from(s.config.metrics.storage_sample_seconds.max(1) * 1000)
            .unwrap_or(i64::MAX);
        let sampled = *self.sampled.lock().expect("lock");
        if sampled.is_none_or(|(d, at)| d != day || now - at >= every_ms) {
            let store = s.store.clone();
            let usage = tokio::task::spawn_blocking(move || sample(&store, day * day_ms))
                .await
                .map_err(|e| StoreError::CommitFailed(e.to_string()))??;
            *s.usage_status.storage.lock().expect("lock") = usage;
            *self.sampled.lock().expect("lock") = Some((day, now));
        }
        let pruned = *self.pruned_day.lock().expect("lock");
        if pruned != Some(day) {
            let store = s.store.clone();
            let keep = i64::try_from(s.config.metrics.retention_days).unwrap_or(i64::MAX / 2);
            let keep_requests =
                i64::try_from(s.config.metrics.request_retention_days).unwrap_or(i64::MAX / 2);
            let removed = tokio::task::spawn_blocking(move || {
                store.prune_datapoints(move |series_key| {
                    let per_minute = Metric::parse(series_key).is_some_and(|m| {
                        m.namespace == series::S3 && m.dimension("FilterId").is_some()
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
        let prices = self.prices.clone();
        let est = tokio::task::spawn_blocking(move || cost::estimate(&store, &prices, now, day_ms))
            .await
            .map_err(|e| StoreError::CommitFailed(e.to_string()))??;
        if let Err(e) = self.alarms.evaluate(&est, now) {
            tracing::error!(error = %e, "cannot save the budget alarm state; the alarm is evaluated again next round");
        }
        *s.usage_status.estimate.lock().expect("lock") = Some(est);
        self.alarms.deliver(now).await;
        s.usage_status
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

/// Storage, cost, budget and access-log delivery in Prometheus text format.
#[must_use]
pub fn render_metrics(s: &AppState) -> String {
    let mut out = String::new();
    let gauge = |out: &mut String, name: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    };
    gauge(
        &mut out,
        "leadshop_bucket_bytes",
        "Bytes stored, by bucket and storage class (every version), at the latest daily sample.",
    );
    let storage = s.usage_status.storage.lock().expect("lock").clone();
    for (b, classes) in &storage {
        for (c, u) in classes {
            let _ = writeln!(
                out,
                "leadshop_bucket_bytes{{bucket=\"{b}\",storage_class=\"{c}\"}} {}",
                u.bytes
            );
        }
    }
    gauge(
        &mut out,
        "leadshop_bucket_objects",
        "Object versions stored, by bucket and storage class, at the latest daily sample.",
    );
    for (b, classes) in &storage {
        for (c, u) in classes {
            let _ = writeln!(
                out,
                "leadshop_bucket_objects{{bucket=\"{b}\",storage_class=\"{c}\"}} {}",
                u.objects
            );
        }
    }
    let limit = s.alarms.budget().limit();
    gauge(
        &mut out,
        "leadshop_budget_limit_dollars",
        "The monthly budget.",
    );
    let _ = writeln!(out, "leadshop_budget_limit_dollars {limit}");
    if let Some(est) = s.usage_status.estimate.lock().expect("lock").clone() {
        gauge(
            &mut out,
            "leadshop_cost_month_to_date_dollars",
            "Estimated S3 cost of the month so far, by bucket.",
        );
        for (b, c) in &est.buckets {
            let _ = writeln!(
                out,
                "leadshop_cost_month_to_date_dollars{{bucket=\"{b}\"}} {:.6}",
                c.total()
            );
        }
        gauge(
            &mut out,
            "leadshop_cost_forecast_dollars",
            "Estimated S3 cost of the whole month.",
        );
        let _ = writeln!(out, "leadshop_cost_forecast_dollars {:.6}", est.forecast);
    }
    let alarm = s.alarms.state();
    gauge(
        &mut out,
        "leadshop_budget_alarm",
        "1 when a budget threshold has fired this month.",
    );
    for n in &s.alarms.budget().notifications {
        let name = format!("{}>{}", n.notification_type, n.threshold);
        let _ = writeln!(
            out,
            "leadshop_budget_alarm{{type=\"{}\",threshold=\"{}\"}} {}",
            n.notification_type,
            n.threshold,
            u8::from(alarm.fired.contains(&name))
        );
    }
    let _ = writeln!(
        out,
        "# HELP leadshop_budget_alarms_total Budget alarms fired.\n# TYPE leadshop_budget_alarms_total counter"
    );
    for (name, n) in &alarm.total {
        let (t, th) = name.split_once('>').unwrap_or((name, ""));
        let _ = writeln!(
            out,
            "leadshop_budget_alarms_total{{type=\"{t}\",threshold=\"{th}\"}} {n}"
        );
    }
    gauge(
        &mut out,
        "leadshop_budget_notifications_pending",
        "Alarm notifications not yet accepted by the webhook.",
    );
    let _ = writeln!(
        out,
        "leadshop_budget_notifications_pending {}",
        alarm.outbox.len()
    );
    let log = &s.access_log.stats;
    let get = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    let _ = writeln!(
        out,
        "# HELP leadshop_access_log_records_total Access-log records, by what became of them.\n# TYPE leadshop_access_log_records_total counter"
    );
    for (what, n) in [
        ("spooled", get(&log.spooled)),
        ("delivered", get(&log.records_delivered)),
        ("refused_by_target", get(&log.records_refused)),
        ("spool_write_failed", get(&log.write_failures)),
    ] {
        let _ = writeln!(
            out,
            "leadshop_access_log_records_total{{outcome=\"{what}\"}} {n}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP leadshop_access_log_objects_total Log objects written to target buckets.\n# TYPE leadshop_access_log_objects_total counter\nleadshop_access_log_objects_total {}",
        get(&log.objects_delivered)
    );
    let _ = writeln!(
        out,
        "# HELP leadshop_access_log_delivery_failures_total Delivery attempts that failed (retried).\n# TYPE leadshop_access_log_delivery_failures_total counter\nleadshop_access_log_delivery_failures_total {}",
        get(&log.delivery_failures)
    );
    gauge(
        &mut out,
        "leadshop_access_log_delivery_lag_seconds",
        "Age of the oldest access-log record not yet delivered (0 when none waits).",
    );
    let lag = s
        .access_log
        .oldest_pending_ms()
        .map_or(0.0, |t| (s.clock.now_ms() - t).max(0) as f64 / 1000.0);
    let _ = writeln!(out, "leadshop_access_log_delivery_lag_seconds {lag:.3}");
    gauge(
        &mut out,
        "leadshop_usage_last_round_timestamp_seconds",
        "When the usage worker last finished a round (0: never).",
    );
    let _ = writeln!(
        out,
        "leadshop_usage_last_round_timestamp_seconds {:.3}",
        s.usage_status
            .last_round_ms
            .load(std::sync::atomic::Ordering::Relaxed) as f64
            / 1000.0
    );
    out
}
