//! Request metrics, an event subscriber: requests, bytes and time by operation and status,
//! served on the console's `/metrics` in Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use super::{RequestRecord, Subscriber};

#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    requests: u64,
    bytes_in: u64,
    bytes_out: u64,
    seconds: f64,
}

/// Counters of every request, by operation (`-` when unknown) and HTTP status.
#[derive(Debug, Default)]
pub struct RequestMetrics {
    by: Mutex<BTreeMap<(&'static str, u16), Totals>>,
}

impl Subscriber for RequestMetrics {
    fn name(&self) -> &'static str {
        "metrics"
    }

    fn on_request(&self, r: &RequestRecord) {
        let op = r.operation.map_or("-", leadshop_spec::Operation::name);
        let mut by = self.by.lock().expect("metrics lock");
        let t = by.entry((op, r.status)).or_default();
        t.requests += 1;
        t.bytes_in += r.bytes_in;
        t.bytes_out += r.bytes_out;
        t.seconds += r.total_time.as_secs_f64();
    }
}

impl RequestMetrics {
    /// The counters in Prometheus text exposition format.
    #[must_use]
    pub fn render(&self) -> String {
        let by = self.by.lock().expect("metrics lock").clone();
        let mut out = String::new();
        let family =
            |out: &mut String, name: &str, help: &str, value: &dyn Fn(&Totals) -> String| {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
                for ((op, status), t) in &by {
                    let _ = writeln!(
                        out,
                        "{name}{{operation=\"{op}\",status=\"{status}\"}} {}",
                        value(t)
                    );
                }
            };
        family(
            &mut out,
            "leadshop_requests_total",
            "S3 requests answered, by operation and HTTP status.",
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
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadshop_spec::Operation;
    use std::time::Duration;

    #[test]
    fn counts_by_operation_and_status() {
        let m = RequestMetrics::default();
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
            ..RequestRecord::default()
        });
        let text = m.render();
        assert!(
            text.contains("leadshop_requests_total{operation=\"GetObject\",status=\"200\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "leadshop_request_bytes_out_total{operation=\"GetObject\",status=\"200\"} 20\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("leadshop_requests_total{operation=\"-\",status=\"403\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "leadshop_request_seconds_total{operation=\"GetObject\",status=\"200\"} 0.010000\n"
            ),
            "{text}"
        );
    }
}
