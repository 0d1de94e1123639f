//! The console/admin listener: a status page that tells nothing about the data (no bucket or
//! object names without signing in; the signed-in console comes with the browser-upload
//! work), and `/metrics`: the counters of the shell's limits and of requests (an event
//! subscriber) in Prometheus text format.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::{Method, Request, Response, StatusCode, header};

use crate::shell::limits::{Listener, ShellStats};
use crate::state::AppState;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<s3s::Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-store")
        .body(s3s::Body::from(body))
        .expect("valid")
}

/// Answers one console request.
pub async fn handle<B>(req: &Request<B>, state: &Arc<AppState>) -> Response<s3s::Body> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "method not allowed\n".into(),
        );
    }
    match req.uri().path() {
        "/" => status_page(state),
        "/metrics" => text(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            format!(
                "{}{}{}",
                metrics(&state.shell_stats),
                state.request_metrics.render(),
                dropped(&state.events)
            ),
        ),
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found\n".into(),
        ),
    }
}

fn status_page(state: &AppState) -> Response<s3s::Body> {
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>leadshop</title></head><body>",
    );
    let _ = write!(
        html,
        "<h1>leadshop</h1><p>S3 endpoint: <code>{}</code> (HTTPS; trust the development CA \
         <code>tls/ca.pem</code> of the data directory). Point a client at it with \
         <code>eval \"$(leadshop env)\"</code>.</p><p>Buckets and objects are shown only to \
         signed-in users.</p>",
        escape(&state.endpoints.s3),
    );
    html.push_str("</body></html>\n");
    text(StatusCode::OK, "text/html; charset=utf-8", html)
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
