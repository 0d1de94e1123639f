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
        "{}{}{}{}{}",
        metrics(&state.shell_stats),
        state.request_metrics.render(),
        dropped(&state.events),
        crate::workers::lifecycle::render_metrics(&state.lifecycle),
        crate::workers::usage::render_metrics(state)
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
        "leadshop_connections_closed_total",
        "Connections closed by a timeout.",
        &[
            ("{reason=\"header_timeout\"}", get(&s.header_timeouts)),
            ("{reason=\"idle\"}", get(&s.idle_closed)),
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
        ],
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
