//! What one client may hold of the server: connection caps per listener and per client
//! address, and the counters that show each limit at work (served on the console's
//! `/metrics`). What a connection is doing, for its watchdog and for the caps, is in
//! [`super::activity`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leadshop_spec::policy::Cidr;

use super::activity::ConnActivity;
use crate::clients::canonical;

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
    /// Connections closed because their responses stopped being read (every stream waiting
    /// on the client, no progress for `idle_timeout_secs`, PINGs notwithstanding).
    pub stalled_closed: AtomicU64,
    /// Idle connections closed to make room for a new one at a listener's cap.
    pub evicted_idle: AtomicU64,
    /// Requests refused with 503 SlowDown because their address held `max_requests_per_ip`.
    pub refused_requests_per_ip: AtomicU64,
    /// Requests refused with 503 SlowDown because their address held its share of buffered
    /// request documents.
    pub refused_document_budget: AtomicU64,
    /// Responses ended because their address's buffer stayed full for the body timeout.
    pub budget_timeouts: Arc<AtomicU64>,
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
    /// The log lines of requests refused with SlowDown.
    pub slow_down_log: LogLimiter,
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
///
/// At the cap a new connection does not simply lose to the ones already open: an idle
/// connection (no request in progress, no response being sent, or a TLS handshake never
/// finished) of the address holding the most is closed to make room. The last
/// `max_total / 8` places are kept for addresses holding fewer than [`LIGHT`] connections, so
/// a client that opens many cannot take them all, and a new client gets in whatever the
/// others hold open.
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

/// Addresses holding fewer connections than this may use a listener's reserved places.
pub const LIGHT: usize = 8;

#[derive(Debug, Default)]
struct LimiterState {
    total: usize,
    /// Connections told to close that have not closed yet (their places are free).
    evicting: usize,
    per_ip: HashMap<IpAddr, usize>,
    conns: HashMap<u64, (IpAddr, Arc<ConnActivity>)>,
    next_id: u64,
}

/// One admitted connection; dropping it frees its places.
#[derive(Debug)]
pub struct ConnPermit {
    limiter: Arc<ConnLimiter>,
    ip: IpAddr,
    id: u64,
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

    /// Admits a connection from `ip` (whose activity is `activity`), making room at the cap
    /// by closing an idle one, or says why not (and counts and logs the refusal).
    ///
    /// # Errors
    /// The [`Refusal`] when a cap is reached and no room can be made.
    pub fn admit(
        self: &Arc<Self>,
        ip: IpAddr,
        activity: &Arc<ConnActivity>,
    ) -> Result<ConnPermit, Refusal> {
        let ip = canonical(ip);
        let exempt = self.exempt.iter().any(|c| c.contains(ip));
        let admitted = {
            let mut st = self.state.lock().expect("limiter lock");
            let held = st.per_ip.get(&ip).copied().unwrap_or(0);
            let open = st.total - st.evicting;
            let reserve = (self.max_total / 8).max(1);
            let light = held < LIGHT || exempt;
            if !exempt && held >= self.max_per_ip {
                Err(Refusal::PerIp)
            } else if open >= self.max_total || (!light && open + reserve >= self.max_total) {
                // Room only by closing an idle connection of the heaviest address (never the
                // newcomer's own, if it is light: it would only be trading places).
                let skip = light.then_some(ip);
                if st.evict_idle(skip) {
                    ShellStats::bump(&self.stats.evicted_idle);
                    Ok(st.add(ip, activity))
                } else {
                    Err(Refusal::ListenerFull)
                }
            } else {
                Ok(st.add(ip, activity))
            }
        };
        match admitted {
            Ok(id) => {
                self.stats.open[self.listener as usize].fetch_add(1, Ordering::Relaxed);
                Ok(ConnPermit {
                    limiter: self.clone(),
                    ip,
                    id,
                })
            }
            Err(r) => {
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
            Refusal::ListenerFull => (
                "the listener holds max_connections, none of them idle",
                self.max_total,
            ),
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

impl LimiterState {
    fn add(&mut self, ip: IpAddr, activity: &Arc<ConnActivity>) -> u64 {
        self.total += 1;
        *self.per_ip.entry(ip).or_insert(0) += 1;
        self.next_id += 1;
        self.conns.insert(self.next_id, (ip, activity.clone()));
        self.next_id
    }

    /// Tells one idle connection to close: of the address holding the most (other than
    /// `skip`), the one quiet longest. False when none is idle.
    fn evict_idle(&mut self, skip: Option<IpAddr>) -> bool {
        let per_ip = &self.per_ip;
        let victim = self
            .conns
            .values()
            .filter(|(ip, a)| Some(*ip) != skip && a.is_idle() && !a.is_evicted())
            .max_by_key(|(ip, a)| {
                (
                    per_ip.get(ip).copied().unwrap_or(0),
                    std::cmp::Reverse(a.last_io_ms()),
                )
            })
            .map(|(_, a)| a.clone());
        match victim {
            Some(a) => {
                a.evict();
                self.evicting += 1;
                true
            }
            None => false,
        }
    }
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        let l = &self.limiter;
        l.stats.open[l.listener as usize].fetch_sub(1, Ordering::Relaxed);
        let mut st = l.state.lock().expect("limiter lock");
        st.total -= 1;
        if let Some((_, a)) = st.conns.remove(&self.id)
            && a.is_evicted()
        {
            st.evicting -= 1;
        }
        if let Some(n) = st.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                st.per_ip.remove(&self.ip);
            }
        }
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
    use crate::shell::activity::InFlight;

    fn limiter(total: usize, per_ip: usize, exempt: &[&str]) -> Arc<ConnLimiter> {
        Arc::new(ConnLimiter::new(
            Listener::S3,
            total,
            per_ip,
            exempt.iter().map(|c| Cidr::parse(c).unwrap()).collect(),
            Arc::new(ShellStats::default()),
        ))
    }

    /// A connection with a request in progress (never evicted).
    fn busy() -> (Arc<ConnActivity>, InFlight) {
        let a = Arc::new(ConnActivity::default());
        let r = a.request();
        (a, r)
    }

    #[test]
    fn caps_per_address_and_per_listener_and_frees_on_drop() {
        let l = limiter(3, 2, &["10.0.0.1"]);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let (act, _r) = busy();
        let p1 = l.admit(a, &act).unwrap();
        let _p2 = l.admit(a, &act).unwrap();
        assert_eq!(l.admit(a, &act).unwrap_err(), Refusal::PerIp);
        // The same address as IPv4-mapped IPv6 is the same client.
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(l.admit(mapped, &act).unwrap_err(), Refusal::PerIp);
        let _p3 = l.admit(b, &act).unwrap();
        // Full, and every connection busy: nothing can be closed to make room.
        assert_eq!(l.admit(b, &act).unwrap_err(), Refusal::ListenerFull);
        drop(p1);
        let _p4 = l.admit(a, &act).unwrap();
        assert_eq!(l.stats.refused_per_ip.load(Ordering::Relaxed), 2);
        assert_eq!(l.stats.refused_listener_full.load(Ordering::Relaxed), 1);
        assert_eq!(l.stats.open[0].load(Ordering::Relaxed), 3);
    }

    #[test]
    fn trusted_proxies_count_only_towards_the_total() {
        let l = limiter(4, 1, &["10.0.0.0/8"]);
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let (act, _r) = busy();
        let held: Vec<_> = (0..4).map(|_| l.admit(proxy, &act).unwrap()).collect();
        assert_eq!(l.admit(proxy, &act).unwrap_err(), Refusal::ListenerFull);
        drop(held);
        assert_eq!(l.stats.open[0].load(Ordering::Relaxed), 0);
    }

    #[test]
    fn at_the_cap_an_idle_connection_of_the_heaviest_address_makes_room() {
        // 16 places, the last 2 kept for light addresses (fewer than 8 connections).
        let l = limiter(16, 256, &[]);
        let heavy: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let newcomer: IpAddr = "192.0.2.3".parse().unwrap();
        let idle: Vec<Arc<ConnActivity>> =
            (0..14).map(|_| Arc::new(ConnActivity::default())).collect();
        let mut permits: Vec<ConnPermit> = idle[..10]
            .iter()
            .map(|a| l.admit(heavy, a).unwrap())
            .collect();
        permits.extend(idle[10..].iter().map(|a| l.admit(other, a).unwrap()));
        // The heavy address may not take the reserved places: it trades one of its own
        // idle connections for the new one.
        let extra = Arc::new(ConnActivity::default());
        permits.push(l.admit(heavy, &extra).unwrap());
        assert_eq!(idle.iter().filter(|a| a.is_evicted()).count(), 1);
        assert!(idle[..10].iter().any(|a| a.is_evicted()), "the heavy one's");
        // A light newcomer takes a reserved place without closing anything...
        let n1 = Arc::new(ConnActivity::default());
        permits.push(l.admit(newcomer, &n1).unwrap());
        let n2 = Arc::new(ConnActivity::default());
        permits.push(l.admit(newcomer, &n2).unwrap());
        assert_eq!(idle.iter().filter(|a| a.is_evicted()).count(), 1);
        // ...and at the hard cap an idle connection of the heaviest address makes room.
        let n3 = Arc::new(ConnActivity::default());
        permits.push(l.admit(newcomer, &n3).unwrap());
        let heavy_evicted = idle[..10].iter().chain([&extra]).filter(|a| a.is_evicted());
        assert_eq!(heavy_evicted.count(), 2);
        assert!(
            !n1.is_evicted() && !n2.is_evicted(),
            "never the newcomer's own"
        );
        assert_eq!(l.stats.evicted_idle.load(Ordering::Relaxed), 2);
        // Busy connections are never closed: with none idle, the newcomer is refused.
        let l = limiter(2, 256, &[]);
        let (act, _r) = busy();
        let _held = (l.admit(heavy, &act).unwrap(), l.admit(heavy, &act).unwrap());
        assert_eq!(
            l.admit(newcomer, &Arc::new(ConnActivity::default()))
                .unwrap_err(),
            Refusal::ListenerFull
        );
    }
}
