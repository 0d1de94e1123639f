//! Usage, an event subscriber: what CloudWatch's request metrics and the cost estimate need
//! of each request, accumulated in memory and taken by the usage worker
//! (`workers::usage`) every second into the store's datapoints.
//!
//! - For a bucket with request-metrics configurations: one-minute `AWS/S3` request metrics
//!   per `FilterId` (`AllRequests`, `GetRequests`, …, `4xxErrors` as 0 or 1 per request so
//!   that Average is the error rate, as on AWS, latencies in milliseconds).
//! - For every bucket: billable requests by pricing tier and bytes sent, per clock day
//!   (namespace `leadshop/Billing`).
//!
//! Billable usage is counted on the request path ([`Subscriber::count`]) for a bucket whose
//! configuration is cached (every request the access hook let through loaded it), so a flood
//! that fills the event queue drops no billing; a record whose bucket is not cached is billed
//! by the subscriber's worker, which can read it. Request metrics are counted there too, and a
//! full queue drops them (counted in `leadshop_events_dropped_total{subscriber="usage"}`).
//!
//! What is accumulated and not yet taken is lost to a `kill -9` (at most a second of
//! metrics); access logs, not metrics, are the durable record of requests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http::Method;
use leadshop_spec::Operation;
use leadshop_spec::operations::RequestMetric;
use leadshop_store::Stat;

use super::{RequestRecord, Subscriber};
use crate::bucket_config::BucketConfigs;
use crate::monitoring::series::{self, Metric, RequestSeries};

/// The usage subscriber.
#[derive(Debug)]
pub struct Usage {
    configs: Arc<BucketConfigs>,
    day_ms: i64,
    pending: Mutex<HashMap<(String, i64), Stat>>,
}

/// AWS's pricing tier of a request, as the usage metric it adds to (its operation's
/// [`Tier`](leadshop_spec::operations::Tier)). A request refused before s3s named its
/// operation, or one leadshop does not serve, goes by its method: PUT and POST are tier 1,
/// DELETE is free, the rest tier 2.
#[must_use]
pub fn tier(op: Option<Operation>, method: &Method) -> Option<&'static str> {
    match op {
        Some(op) => op.describe().tier.metric(),
        None if method == Method::PUT || method == Method::POST => Some("Tier1Requests"),
        None if method == Method::DELETE => None,
        None => Some("Tier2Requests"),
    }
}

/// The request metric a request adds to (besides `AllRequests` and the rest every request
/// adds to): its operation's; a POST whose operation is unknown is a `PostRequests`.
fn kind(op: Option<Operation>, method: &Method) -> Option<&'static str> {
    match op {
        Some(op) => op.describe().metric.map(RequestMetric::name),
        None => (method == Method::POST).then_some("PostRequests"),
    }
}

impl Usage {
    /// Accumulates usage of buckets whose configuration comes from `configs`; billing days are
    /// `day_ms` long.
    #[must_use]
    pub fn new(configs: Arc<BucketConfigs>, day_ms: i64) -> Self {
        Self {
            configs,
            day_ms,
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Takes what was accumulated: `(series, timestamp, statistic set)` to merge into the
    /// store.
    pub fn take(&self) -> Vec<(String, i64, Stat)> {
        std::mem::take(&mut *self.pending.lock().expect("usage lock"))
            .into_iter()
            .map(|((s, ts), stat)| (s, ts, stat))
            .collect()
    }

    /// Puts back what could not be stored, to be tried again.
    pub fn give_back(&self, points: Vec<(String, i64, Stat)>) {
        self.add(points);
    }

    fn add(&self, points: Vec<(String, i64, Stat)>) {
        let mut pending = self.pending.lock().expect("usage lock");
        for (s, ts, stat) in points {
            pending
                .entry((s, ts))
                .and_modify(|p| *p = p.merge(stat))
                .or_insert(stat);
        }
    }
}

impl Usage {
    /// The billable usage of a request to `bucket`: its pricing tier's request and the bytes it
    /// sent, in the day's series. AWS does not bill requests refused as unauthorised, nor
    /// its own errors.
    fn billing(&self, r: &RequestRecord, bucket: &str, points: &mut Vec<(String, i64, Stat)>) {
        let day = r.time_ms.div_euclid(self.day_ms) * self.day_ms;
        if r.status == 403 || r.status >= 500 {
            return;
        }
        if let Some(t) = tier(r.operation, &r.method) {
            points.push((
                Metric::new(series::BILLING, t, &[("BucketName", bucket)]).key(),
                day,
                Stat::one(1.0),
            ));
        }
        if r.bytes_out > 0 {
            points.push((
                Metric::new(series::BILLING, "BytesOut", &[("BucketName", bucket)]).key(),
                day,
                Stat::one(r.bytes_out as f64),
            ));
        }
    }
}

impl Subscriber for Usage {
    fn name(&self) -> &'static str {
        "usage"
    }

    fn count(&self, r: &mut RequestRecord) {
        let Some(bucket) = r.bucket.as_deref() else {
            return;
        };
        // Only an existing bucket is billed; the cache knows without blocking.
        if self.configs.cached(bucket).is_none() {
            return;
        }
        let mut points = Vec::new();
        self.billing(r, bucket, &mut points);
        if !points.is_empty() {
            self.add(points);
        }
        r.billed = true;
    }

    fn on_request(&self, r: &RequestRecord) {
        let Some(bucket) = r.bucket.as_deref() else {
            return;
        };
        let Some(config) = self.configs.get_blocking(bucket) else {
            return;
        };
        let mut points: Vec<(String, i64, Stat)> = Vec::new();
        if !r.billed {
            self.billing(r, bucket, &mut points);
        }
        let minute = r.time_ms.div_euclid(60_000) * 60_000;
        for filter in config
            .request_metrics
            .iter()
            .filter(|f| f.counts(r.key.as_deref()))
        {
            // The key Metric::new(S3, name, [BucketName, FilterId]).key() makes, without its
            // sorting and allocations on every request.
            let mut add = |name: &'static str, v: f64| {
                points.push((
                    format!(
                        "{}\t{name}\tBucketName={bucket}\tFilterId={}",
                        series::S3,
                        filter.id
                    ),
                    minute,
                    Stat::one(v),
                ));
            };
            add(RequestSeries::AllRequests.name(), 1.0);
            if let Some(k) = kind(r.operation, &r.method) {
                add(k, 1.0);
            }
            add(
                RequestSeries::Errors4xx.name(),
                f64::from(u8::from((400..500).contains(&r.status))),
            );
            add(
                RequestSeries::Errors5xx.name(),
                f64::from(u8::from(r.status >= 500)),
            );
            // Object data sent (error documents are not downloads).
            if r.bytes_out > 0 && r.method == Method::GET && r.status < 400 {
                add(RequestSeries::BytesDownloaded.name(), r.bytes_out as f64);
            }
            if r.bytes_in > 0 && (r.method == Method::PUT || r.method == Method::POST) {
                // The object's bytes where the request declared them (aws-chunked framing and
                // trailers are not upload data), else the body's.
                add(
                    RequestSeries::BytesUploaded.name(),
                    r.object_size.unwrap_or(r.bytes_in) as f64,
                );
            }
            add(
                RequestSeries::FirstByteLatency.name(),
                r.first_byte_time.as_secs_f64() * 1000.0,
            );
            add(
                RequestSeries::TotalRequestLatency.name(),
                r.total_time.as_secs_f64() * 1000.0,
            );
        }
        if !points.is_empty() {
            self.add(points);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Events;
    use leadshop_store::{BucketRecord, Store, VersioningState};

    #[test]
    fn billing_is_counted_at_the_source_even_when_the_queue_drops_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), None).unwrap());
        store
            .create_bucket(&BucketRecord {
                name: "b".into(),
                created_ms: 0,
                region: "us-east-1".into(),
                versioning: VersioningState::Enabled,
                documents: std::collections::BTreeMap::new(),
            })
            .unwrap();
        let configs = BucketConfigs::new(store);
        // The access hook has loaded the bucket's configuration, as for every request it let
        // through.
        assert!(configs.get_blocking("b").is_some());
        let usage = Arc::new(Usage::new(configs, 86_400_000));
        // A queue of two and no worker: every record but two is dropped from the queue.
        let (events, _workers) = Events::new(vec![usage.clone()], 2);
        for i in 0..1000 {
            events.publish(RequestRecord {
                request_id: format!("r{i}"),
                time_ms: 1_000,
                operation: Some(Operation::GetObject),
                method: Method::GET,
                bucket: Some("b".into()),
                status: 200,
                bytes_out: 10,
                ..RequestRecord::default()
            });
        }
        assert_eq!(events.dropped(), vec![("usage", 998)]);
        let taken = usage.take();
        let sum = |name: &str| {
            taken
                .iter()
                .filter(|(k, _, _)| k.contains(name))
                .map(|(_, _, s)| s.sum)
                .sum::<f64>()
        };
        assert_eq!(sum("Tier2Requests"), 1000.0);
        assert_eq!(sum("BytesOut"), 10_000.0);
    }
}
