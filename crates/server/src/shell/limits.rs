//! What one client may hold of the server: connection caps per listener and per client
//! address, the activity watchdog of a connection, and the counters that show each limit at
//! work (served on the console's `/metrics`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leadshop_spec::policy::Cidr;

/// At most one log line per interval for events a client can cause at will, with the count of
/// events since the last line: a flood shows in the log without flooding it.
#[derive(Debug, Default)]
pub struct LogLimiter(Mutex<(Option<Instant>, u64)>);

impl LogLimiter {
    /// The interval between lines.
    pub const INTERVAL: Duration = Duration::from_secs(5);

    /// Counts one event; returns how many to report if a line is due now.
    pub fn admit(&self) -> Option<u64> {
        let mut last = self.0.lock().expect("log lock");
        last.1 += 1;
        if last.0.is_some_and(|t| t.elapsed() < Self::INTERVAL) {
            return None;
        }
        last.0 = Some(Instant::now());
        Some(std::mem::take(&mut last.1))
    }
}

/// Counters of the shell's limits, one set per server. Read by `/metrics`.
#[derive(Debug, Default)]
pub struct ShellStats {
    /// Connections closed at once because the listener was full.
    pub refused_listener_full: AtomicU64,
    /// Connections closed at once because their address held too many.
    pub refused_per_ip: AtomicU64,
    /// Connections closed because headers did not arrive in time (or an HTTP/1.1
    /// keep-alive connection stayed idle past it).
    pub header_timeouts: AtomicU64,
    /// Connections closed by the idle watchdog.
    pub idle_closed: AtomicU64,
    /// Requests failed with 400 RequestTimeout because their body stalled.
    pub body_timeouts: AtomicU64,
    /// Requests refused with 400 RequestHeaderSectionTooLarge.
    pub header_too_large: AtomicU64,
    /// TLS handshakes that failed or timed out.
    pub tls_handshake_failures: AtomicU64,
    /// Requests whose handling panicked (answered 500; the server went on).
    pub panics: AtomicU64,
    /// Connections open now, per listener (S3 HTTPS, plain HTTP, console).
    pub open: [AtomicUsize; 3],
    /// The log lines of stalled bodies.
    pub body_timeout_log: LogLimiter,
    /// The log lines of oversized headers and bodies.
    pub too_large_log: LogLimiter,
}

impl ShellStats {
    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Which listener a connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// The HTTPS S3 API.
    S3 = 0,
    /// The plain-HTTP listener.
    Http = 1,
    /// The console/admin listener.
    Console = 2,
}

impl Listener {
    /// The name used in logs and metrics.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::S3 => "s3",
            Self::Http => "http",
            Self::Console => "console",
        }
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The listener holds `max_connections`.
    ListenerFull,
    /// The client's address holds `max_connections_per_ip`.
    PerIp,
}

/// Connection caps of one listener.
#[derive(Debug)]
pub struct ConnLimiter {
    listener: Listener,
    max_total: usize,
    max_per_ip: usize,
    exempt: Vec<Cidr>,
    state: Mutex<LimiterState>,
    stats: Arc<ShellStats>,
    /// The "connection refused" lines.
    log: LogLimiter,
}

#[derive(Debug, Default)]
struct LimiterState {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it frees its places.
#[derive(Debug)]
pub struct ConnPermit {
    limiter: Arc<ConnLimiter>,
    ip: IpAddr,
}

impl ConnLimiter {
    /// Caps for one listener; addresses in `exempt` (trusted proxies) count only towards
    /// the listener's total.
    #[must_use]
    pub fn new(
        listener: Listener,
        max_total: usize,
        max_per_ip: usize,
        exempt: Vec<Cidr>,
        stats: Arc<ShellStats>,
    ) -> Self {
        Self {
            listener,
            max_total,
            max_per_ip,
            exempt,
            state: Mutex::new(LimiterState::default()),
            stats,
            log: LogLimiter::default(),
        }
    }

    /// Admits a connection from `ip`, or says why not (and counts and logs the refusal).
    ///
    /// # Errors
    /// The [`Refusal`] when a cap is reached.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnPermit, Refusal> {
        let ip = canonical(ip);
        let exempt = self.exempt.iter().any(|c| c.contains(ip));
        let refusal = {
            let mut st = self.state.lock().expect("limiter lock");
            let held = st.per_ip.get(&ip).copied().unwrap_or(0);
            if st.total >= self.max_total {
                Some(Refusal::ListenerFull)
            } else if !exempt && held >= self.max_per_ip {
                Some(Refusal::PerIp)
            } else {
                st.total += 1;
                *st.per_ip.entry(ip).or_insert(0) += 1;
                None
            }
        };
        match refusal {
            None => {
                self.stats.open[self.listener as usize].fetch_add(1, Ordering::Relaxed);
                Ok(ConnPermit {
                    limiter: self.clone(),
                    ip,
                })
            }
            Some(r) => {
                ShellStats::bump(match r {
                    Refusal::ListenerFull => &self.stats.refused_listener_full,
                    Refusal::PerIp => &self.stats.refused_per_ip,
                });
                self.log_refusal(r, ip);
                Err(r)
            }
        }
    }

    fn log_refusal(&self, r: Refusal, ip: IpAddr) {
        let Some(count) = self.log.admit() else {
            return;
        };
        let (why, cap) = match r {
            Refusal::ListenerFull => ("the listener holds max_connections", self.max_total),
            Refusal::PerIp => ("the address holds max_connections_per_ip", self.max_per_ip),
        };
        tracing::warn!(
            listener = self.listener.name(),
            %ip,
            cap,
            refused_since_last_line = count,
            "connection refused: {why}"
        );
    }
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        let l = &self.limiter;
        l.stats.open[l.listener as usize].fetch_sub(1, Ordering::Relaxed);
        let mut st = l.state.lock().expect("limiter lock");
        st.total -= 1;
        if let Some(n) = st.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                st.per_ip.remove(&self.ip);
            }
        }
    }
}

/// IPv4-mapped IPv6 peers count as their IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// What the idle watchdog of one connection knows: when bytes last moved, how many requests
/// are being handled, and whether any request has been seen.
#[derive(Debug)]
pub struct ConnActivity {
    started: Instant,
    /// Milliseconds after `started` when bytes last moved.
    last_io_ms: AtomicU64,
    in_flight: AtomicUsize,
    served: AtomicBool,
}

impl Default for ConnActivity {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            last_io_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
        }
    }
}

impl ConnActivity {
    /// Bytes moved.
    pub fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_io_ms.store(ms, Ordering::Relaxed);
    }

    /// A request starts; the guard ends it.
    #[must_use]
    pub fn request(self: &Arc<Self>) -> InFlight {
        self.served.store(true, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.touch();
        InFlight(self.clone())
    }

    /// How long until the connection counts as idle (`None`: it is idle now). Before the
    /// first request the allowance is `first`, after it `idle`.
    #[must_use]
    pub fn idle_deadline(&self, first: Duration, idle: Duration) -> Option<Duration> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return Some(idle);
        }
        let allowance = if self.served.load(Ordering::Relaxed) {
            idle
        } else {
            first
        };
        let last = Duration::from_millis(self.last_io_ms.load(Ordering::Relaxed));
        let quiet = self.started.elapsed().saturating_sub(last);
        allowance.checked_sub(quiet).filter(|d| !d.is_zero())
    }
}

/// A request in progress on a connection.
#[derive(Debug)]
pub struct InFlight(Arc<ConnActivity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Raises the soft limit of open files to the hard limit (as Go and most servers do at
/// start), and returns the soft limit now in force.
#[must_use]
pub fn raise_open_files_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        let raised = rustix::process::Rlimit {
            current: lim.maximum,
            maximum: lim.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return lim.maximum.or(Some(u64::MAX));
        }
    }
    Some(lim.current.unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(total: usize, per_ip: usize, exempt: &[&str]) -> Arc<ConnLimiter> {
        Arc::new(ConnLimiter::new(
            Listener::S3,
            total,
            per_ip,
            exempt.iter().map(|c| Cidr::parse(c).unwrap()).collect(),
            Arc::new(ShellStats::default()),
        ))
    }

    #[test]
    fn caps_per_address_and_per_listener_and_frees_on_drop() {
        let l = limiter(3, 2, &["10.0.0.1"]);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let p1 = l.admit(a).unwrap();
        let _p2 = l.admit(a).unwrap();
        assert_eq!(l.admit(a).unwrap_err(), Refusal::PerIp);
        // The same address as IPv4-mapped IPv6 is the same client.
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(l.admit(mapped).unwrap_err(), Refusal::PerIp);
        let _p3 = l.admit(b).unwrap();
        assert_eq!(l.admit(b).unwrap_err(), Refusal::ListenerFull);
        drop(p1);
        let _p4 = l.admit(a).unwrap();
        assert_eq!(l.stats.refused_per_ip.load(Ordering::Relaxed), 2);
        assert_eq!(l.stats.refused_listener_full.load(Ordering::Relaxed), 1);
        assert_eq!(l.stats.open[0].load(Ordering::Relaxed), 3);
    }

    #[test]
    fn trusted_proxies_count_only_towards_the_total() {
        let l = limiter(4, 1, &["10.0.0.0/8"]);
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let held: Vec<_> = (0..4).map(|_| l.admit(proxy).unwrap()).collect();
        assert_eq!(l.admit(proxy).unwrap_err(), Refusal::ListenerFull);
        drop(held);
        assert_eq!(l.stats.open[0].load(Ordering::Relaxed), 0);
    }

    #[test]
    fn idle_allowance_is_shorter_before_the_first_request() {
        let a = Arc::new(ConnActivity::default());
        let first = Duration::from_millis(50);
        let idle = Duration::from_secs(60);
        assert!(a.idle_deadline(first, idle).is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(a.idle_deadline(first, idle), None, "no request in time");
        let req = a.request();
        assert_eq!(
            a.idle_deadline(first, idle),
            Some(idle),
            "busy is never idle"
        );
        drop(req);
        assert!(a.idle_deadline(first, idle).unwrap() > Duration::from_secs(59));
    }
}
