//! `/metrics`: the counters of the shell's limits and of requests (an event subscriber) in
//! Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::shell::limits::{Listener, ShellStats};
use crate::state::AppState;

/// Everything `/metrics` serves: the shell's limits, request counters, dropped records.
#[must_use]
pub fn render(state: &AppState) -> String {
    format!(
        "{}{}{}{}{}{}{}{}",
        metrics(&state.observability.shell_stats),
        orphan_sweep(&state.core.store),
        state.observability.request_metrics.render(),
        dropped(&state.observability.events),
        crate::workers::lifecycle::render_metrics(&state.observability.lifecycle),
        crate::workers::health::render_metrics(&state.observability.health),
        state
            .observability
            .replication
            .render(state.core.config.metrics.bucket_labels),
        usage(state)
    )
}

/// The shell's counters in Prometheus text exposition format.
#[must_use]
pub fn metrics(s: &ShellStats) -> String {
    let mut out = String::new();
    let counter = |out: &mut String, name: &str, help: &str, lines: &[(&str, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (labels, v) in lines {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    counter(
        &mut out,
        "leadshop_connections_refused_total",
        "Connections closed at once because a cap was reached.",
        &[
            ("{reason=\"listener_full\"}", get(&s.refused_listener_full)),
            ("{reason=\"per_ip\"}", get(&s.refused_per_ip)),
        ],
    );
    counter(
        &mut out,
        "leadshop_connections_evicted_total",
        "Idle connections closed to make room for a new one at a listener's cap.",
        &[("", get(&s.evicted_idle))],
    );
    counter(
        &mut out,
        "leadshop_connections_closed_total",
        "Connections closed by a timeout.",
        &[
            ("{reason=\"header_timeout\"}", get(&s.header_timeouts)),
            ("{reason=\"idle\"}", get(&s.idle_closed)),
            ("{reason=\"stalled\"}", get(&s.stalled_closed)),
            ("{reason=\"tls_handshake\"}", get(&s.tls_handshake_failures)),
        ],
    );
    counter(
        &mut out,
        "leadshop_requests_refused_total",
        "Requests refused by a shell limit.",
        &[
            ("{reason=\"body_timeout\"}", get(&s.body_timeouts)),
            ("{reason=\"header_too_large\"}", get(&s.header_too_large)),
            (
                "{reason=\"requests_per_ip\"}",
                get(&s.refused_requests_per_ip),
            ),
            ("{reason=\"response_budget\"}", get(&s.budget_timeouts)),
            (
                "{reason=\"document_budget\"}",
                get(&s.refused_document_budget),
            ),
        ],
    );
    counter(
        &mut out,
        "leadshop_request_panics_total",
        "Requests whose handling panicked: each was answered 500 and the server kept serving.",
        &[("", get(&s.panics))],
    );
    let _ = writeln!(
        out,
        "# HELP leadshop_connections_open Connections open now.\n# TYPE leadshop_connections_open gauge"
    );
    for l in [Listener::S3, Listener::Http, Listener::Console] {
        let _ = writeln!(
            out,
            "leadshop_connections_open{{listener=\"{}\"}} {}",
            l.name(),
            s.open[l as usize].load(Ordering::Relaxed)
        );
    }
    out
}

/// Request records a subscriber missed because its queue was full.
fn dropped(events: &crate::events::Events) -> String {
    let mut out = String::from(
        "# HELP leadshop_events_dropped_total Request records dropped because a subscriber's queue was full.\n# TYPE leadshop_events_dropped_total counter\n",
    );
    for (name, n) in events.dropped() {
        let _ = writeln!(
            out,
            "leadshop_events_dropped_total{{subscriber=\"{name}\"}} {n}"
        );
    }
    out
}

/// Storage, cost, budget and access-log delivery in Prometheus text format.
/// The start-up orphan sweep, which runs beside serving: whether it is done, and what it did.
fn orphan_sweep(store: &leadshop_store::Store) -> String {
    let (state, r) = match store.orphan_sweep() {
        None => (0, leadshop_store::SweepReport::default()),
        Some(Ok(r)) => (1, r),
        Some(Err(_)) => (2, leadshop_store::SweepReport::default()),
    };
    format!(
        "# HELP leadshop_orphan_sweep_state The start-up sweep of data files left by interrupted writes: 0 running, 1 done, 2 failed.\n# TYPE leadshop_orphan_sweep_state gauge\nleadshop_orphan_sweep_state {state}\n# HELP leadshop_orphan_sweep_files_removed Orphan data files the sweep removed.\n# TYPE leadshop_orphan_sweep_files_removed gauge\nleadshop_orphan_sweep_files_removed {}\n# HELP leadshop_orphan_sweep_files Data files the sweep found.\n# TYPE leadshop_orphan_sweep_files gauge\nleadshop_orphan_sweep_files {}\n# HELP leadshop_orphan_sweep_seconds How long the sweep took.\n# TYPE leadshop_orphan_sweep_seconds gauge\nleadshop_orphan_sweep_seconds {:.3}\n",
        r.removed,
        r.files,
        r.millis as f64 / 1000.0
    )
}

fn usage(s: &AppState) -> String {
    let mut out = String::new();
    let gauge = |out: &mut String, name: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    };
    gauge(
        &mut out,
        "leadshop_bucket_bytes",
        "Bytes stored, by bucket and storage class (every version), at the latest daily sample.",
    );
    // Bucket names only with `[metrics] bucket_labels` (/metrics needs no key).
    let labels = s.core.config.metrics.bucket_labels;
    let mut storage = s
        .observability
        .usage_status
        .storage
        .lock()
        .expect("lock")
        .clone();
    if !labels {
        let mut all: std::collections::BTreeMap<String, leadshop_store::ClassUsage> =
            std::collections::BTreeMap::new();
        for classes in storage.values() {
            for (c, u) in classes {
                let a = all.entry(c.clone()).or_default();
                a.bytes += u.bytes;
                a.objects += u.objects;
            }
        }
        storage = std::collections::BTreeMap::from([("all".to_string(), all)]);
    }
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
    let limit = s.observability.alarms.budget().limit();
    gauge(
        &mut out,
        "leadshop_budget_limit_dollars",
        "The monthly budget.",
    );
    let _ = writeln!(out, "leadshop_budget_limit_dollars {limit}");
    if let Some(est) = s
        .observability
        .usage_status
        .estimate
        .lock()
        .expect("lock")
        .clone()
    {
        gauge(
            &mut out,
            "leadshop_cost_month_to_date_dollars",
            "Estimated S3 cost of the month so far, by bucket.",
        );
        if labels {
            for (b, c) in &est.buckets {
                let _ = writeln!(
                    out,
                    "leadshop_cost_month_to_date_dollars{{bucket=\"{b}\"}} {:.6}",
                    c.total()
                );
            }
        } else {
            let _ = writeln!(
                out,
                "leadshop_cost_month_to_date_dollars{{bucket=\"all\"}} {:.6}",
                est.actual
            );
        }
        gauge(
            &mut out,
            "leadshop_cost_forecast_dollars",
            "Estimated S3 cost of the whole month.",
        );
        let _ = writeln!(out, "leadshop_cost_forecast_dollars {:.6}", est.forecast);
    }
    let alarm = s.observability.alarms.state();
    gauge(
        &mut out,
        "leadshop_budget_alarm",
        "1 when a budget threshold has fired this month.",
    );
    for n in &s.observability.alarms.budget().notifications {
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
    let log = &s.observability.access_log.stats;
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
    let _ = writeln!(
        out,
        "# HELP leadshop_access_log_segments_damaged_total Spool segments whose header could not be read, set aside as .damaged (not delivered).\n# TYPE leadshop_access_log_segments_damaged_total counter\nleadshop_access_log_segments_damaged_total {}",
        get(&log.segments_damaged)
    );
    gauge(
        &mut out,
        "leadshop_access_log_delivery_lag_seconds",
        "Age of the oldest access-log record not yet delivered (0 when none waits).",
    );
    let lag = s
        .observability
        .access_log
        .oldest_pending_ms()
        .map_or(0.0, |t| (s.core.clock.now_ms() - t).max(0) as f64 / 1000.0);
    let _ = writeln!(out, "leadshop_access_log_delivery_lag_seconds {lag:.3}");
    gauge(
        &mut out,
        "leadshop_usage_last_round_timestamp_seconds",
        "When the usage worker last finished a round (0: never).",
    );
    let _ = writeln!(
        out,
        "leadshop_usage_last_round_timestamp_seconds {:.3}",
        s.observability
            .usage_status
            .last_round_ms
            .load(std::sync::atomic::Ordering::Relaxed) as f64
            / 1000.0
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_prometheus_text() {
        let s = ShellStats::default();
        ShellStats::bump(&s.refused_per_ip);
        s.open[Listener::Http as usize].store(3, Ordering::Relaxed);
        let m = metrics(&s);
        assert!(m.contains("leadshop_connections_refused_total{reason=\"per_ip\"} 1\n"));
        assert!(m.contains("leadshop_connections_open{listener=\"http\"} 3\n"));
        assert!(m.contains("# TYPE leadshop_connections_open gauge\n"));
    }
}
