//! Request metrics, an event subscriber: requests, bytes and time by bucket, operation and
//! status, errors by S3 error code, and a latency histogram by operation, served on the
//! console's `/metrics` in Prometheus text format.
//!
//! Bucket names label the series only with `[metrics] bucket_labels` (`/metrics` answers
//! without signing in); otherwise every series says `bucket="all"`. With labels, a bucket is
//! one only once it exists (a request naming any other counts under `bucket="-"`), so a client
//! cannot make the series grow without bound.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use super::{RequestRecord, Subscriber};
use crate::bucket_config::BucketConfigs;

/// The latency histogram's upper bounds, in seconds.
const BOUNDS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    requests: u64,
    bytes_in: u64,
    bytes_out: u64,
    seconds: f64,
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BOUNDS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Inner {
    by: BTreeMap<(String, &'static str, u16), Totals>,
    errors: BTreeMap<(String, String), u64>,
    latency: BTreeMap<&'static str, Histogram>,
}

/// Counters of every request.
#[derive(Debug, Default)]
pub struct RequestMetrics {
    configs: Option<Arc<BucketConfigs>>,
    inner: Mutex<Inner>,
}

impl RequestMetrics {
    /// Metrics whose bucket labels are the buckets `configs` knows; `configs: None` labels
    /// every series `bucket="all"`.
    #[must_use]
    pub fn new(configs: Option<Arc<BucketConfigs>>) -> Self {
        Self {
            configs,
            inner: Mutex::default(),
        }
    }

    fn bucket_label(&self, r: &RequestRecord) -> String {
        match (&r.bucket, &self.configs) {
            (_, None) => "all".into(),
            (Some(b), Some(c)) if c.get_blocking(b).is_some() => b.clone(),
            _ => "-".into(),
        }
    }
}

impl Subscriber for RequestMetrics {
    fn name(&self) -> &'static str {
        "metrics"
    }

    fn on_request(&self, r: &RequestRecord) {
        let op = r.operation.map_or("-", leadshop_spec::Operation::name);
        let bucket = self.bucket_label(r);
        let secs = r.total_time.as_secs_f64();
        let mut inner = self.inner.lock().expect("metrics lock");
        let t = inner.by.entry((bucket.clone(), op, r.status)).or_default();
        t.requests += 1;
        t.bytes_in += r.bytes_in;
        t.bytes_out += r.bytes_out;
        t.seconds += secs;
        if let Some(code) = &r.error_code {
            *inner.errors.entry((bucket, code.clone())).or_default() += 1;
        }
        let h = inner.latency.entry(op).or_default();
        h.count += 1;
        h.sum += secs;
        for (i, b) in BOUNDS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
    }
}

impl RequestMetrics {
    /// The counters in Prometheus text exposition format.
    #[must_use]
    pub fn render(&self) -> String {
        let (by, errors, latency) = {
            let inner = self.inner.lock().expect("metrics lock");
            (
                inner.by.clone(),
                inner.errors.clone(),
                inner.latency.clone(),
            )
        };
        let mut out = String::new();
        let family =
            |out: &mut String, name: &str, help: &str, value: &dyn Fn(&Totals) -> String| {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
                for ((bucket, op, status), t) in &by {
                    let _ = writeln!(
                        out,
                        "{name}{{bucket=\"{bucket}\",operation=\"{op}\",status=\"{status}\"}} {}",
                        value(t)
                    );
                }
            };
        family(
            &mut out,
            "leadshop_requests_total",
            "S3 requests answered, by bucket, operation and HTTP status.",
            &|t| t.requests.to_string(),
        );
        family(
            &mut out,
            "leadshop_request_bytes_in_total",
            "Request body bytes received.",
            &|t| t.bytes_in.to_string(),
        );
        family(
            &mut out,
            "leadshop_request_bytes_out_total",
            "Response body bytes sent.",
            &|t| t.bytes_out.to_string(),
        );
        family(
            &mut out,
            "leadshop_request_seconds_total",
            "Time from arrival to the last response byte, summed.",
            &|t| format!("{:.6}", t.seconds),
        );
        let _ = writeln!(
            out,
            "# HELP leadshop_request_errors_total Error responses, by bucket and S3 error code.\n# TYPE leadshop_request_errors_total counter"
        );
        for ((bucket, code), n) in &errors {
            let _ = writeln!(
                out,
                "leadshop_request_errors_total{{bucket=\"{bucket}\",code=\"{code}\"}} {n}"
            );
        }
        let name = "leadshop_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from arrival to the last response byte, by operation.\n# TYPE {name} histogram"
        );
        for (op, h) in &latency {
            for (b, n) in BOUNDS.iter().zip(h.counts) {
                let _ = writeln!(out, "{name}_bucket{{operation=\"{op}\",le=\"{b}\"}} {n}");
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{operation=\"{op}\",le=\"+Inf\"}} {}\n{name}_sum{{operation=\"{op}\"}} {:.6}\n{name}_count{{operation=\"{op}\"}} {}",
                h.count, h.sum, h.count
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadshop_spec::Operation;
    use std::time::Duration;

    #[test]
    fn counts_by_operation_status_code_and_latency() {
        let m = RequestMetrics::new(None);
        let get = RequestRecord {
            operation: Some(Operation::GetObject),
            status: 200,
            bytes_out: 10,
            total_time: Duration::from_millis(5),
            ..RequestRecord::default()
        };
        m.on_request(&get);
        m.on_request(&get);
        m.on_request(&RequestRecord {
            status: 403,
            error_code: Some("AccessDenied".into()),
            bucket: Some("not-a-known-bucket".into()),
            ..RequestRecord::default()
        });
        let text = m.render();
        for want in [
            "leadshop_requests_total{bucket=\"all\",operation=\"GetObject\",status=\"200\"} 2\n",
            "leadshop_request_bytes_out_total{bucket=\"all\",operation=\"GetObject\",status=\"200\"} 20\n",
            "leadshop_requests_total{bucket=\"all\",operation=\"-\",status=\"403\"} 1\n",
            "leadshop_request_seconds_total{bucket=\"all\",operation=\"GetObject\",status=\"200\"} 0.010000\n",
            "leadshop_request_errors_total{bucket=\"all\",code=\"AccessDenied\"} 1\n",
            "leadshop_request_duration_seconds_bucket{operation=\"GetObject\",le=\"0.005\"} 2\n",
            "leadshop_request_duration_seconds_bucket{operation=\"GetObject\",le=\"0.0025\"} 0\n",
            "leadshop_request_duration_seconds_count{operation=\"GetObject\"} 2\n",
        ] {
            assert!(text.contains(want), "{want} in\n{text}");
        }
    }
}
