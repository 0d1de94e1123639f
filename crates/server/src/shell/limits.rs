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

/// IPv4-mapped IPv6 peers count as their IPv4 address.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// What the idle watchdog of one connection knows: when a request last moved (began, ended,
/// or its body moved on), how many requests are being handled, whether any request has been
/// seen, and whether its responses are being read. Bytes alone (an HTTP/2 PING, a window
/// update) are not activity: a connection kept busy with them and no request is idle.
#[derive(Debug)]
pub struct ConnActivity {
    started: Instant,
    /// Milliseconds after `started` when a request last moved.
    last_io_ms: AtomicU64,
    in_flight: AtomicUsize,
    served: AtomicBool,
    /// Response bodies still being sent.
    open_bodies: AtomicUsize,
    /// Response bodies that handed the connection a chunk it has not come back for: waiting
    /// on the client to read (or on its flow-control window).
    waiting_on_client: AtomicUsize,
    /// Milliseconds after `started` when a response body last moved on.
    last_progress_ms: AtomicU64,
    /// Set when the limiter closes this connection to make room.
    evicted: AtomicBool,
    evict: tokio::sync::Notify,
}

impl Default for ConnActivity {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            last_io_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            open_bodies: AtomicUsize::new(0),
            waiting_on_client: AtomicUsize::new(0),
            last_progress_ms: AtomicU64::new(0),
            evicted: AtomicBool::new(false),
            evict: tokio::sync::Notify::new(),
        }
    }
}

/// Why the watchdog closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// Nothing moved and nothing was in progress.
    Idle,
    /// Its responses were handed out and not read, with no progress for the idle timeout.
    Stalled,
}

impl ConnActivity {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A request moved (began, ended, or its body moved on).
    pub fn touch(&self) {
        self.last_io_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    fn last_io_ms(&self) -> u64 {
        self.last_io_ms.load(Ordering::Relaxed)
    }

    /// A request starts; the guard ends it.
    #[must_use]
    pub fn request(self: &Arc<Self>) -> InFlight {
        self.served.store(true, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.touch();
        InFlight(self.clone())
    }

    /// A response body starts being sent; [`BodyProgress`] reports on it until dropped.
    #[must_use]
    pub fn body(self: &Arc<Self>) -> BodyProgress {
        self.open_bodies.fetch_add(1, Ordering::Relaxed);
        self.last_progress_ms
            .store(self.now_ms(), Ordering::Relaxed);
        BodyProgress {
            activity: self.clone(),
            waiting: false,
        }
    }

    /// Nothing in progress: no request handled, no response being sent.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0 && self.open_bodies.load(Ordering::Relaxed) == 0
    }

    /// Tells the connection to close (it is idle, and its place is needed).
    pub fn evict(&self) {
        self.evicted.store(true, Ordering::Relaxed);
        self.evict.notify_one();
    }

    /// Whether the connection was told to close.
    #[must_use]
    pub fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Resolves when the connection is told to close.
    pub async fn evicted(&self) {
        let notified = self.evict.notified();
        if self.is_evicted() {
            return;
        }
        notified.await;
    }

    /// How long until the connection should be closed, or why it should be now. Before the
    /// first request the allowance is `first`, after it `idle`; a connection whose responses
    /// wait on the client is closed once none has moved on for `idle`, whatever else
    /// (PINGs, window updates) crosses it.
    ///
    /// # Errors
    /// The [`Close`] reason when the connection should be closed now.
    pub fn deadline(&self, first: Duration, idle: Duration) -> Result<Duration, Close> {
        let now = self.now_ms();
        if self.waiting_on_client.load(Ordering::Relaxed) > 0 {
            let quiet = Duration::from_millis(
                now.saturating_sub(self.last_progress_ms.load(Ordering::Relaxed)),
            );
            return idle
                .checked_sub(quiet)
                .filter(|d| !d.is_zero())
                .ok_or(Close::Stalled);
        }
        if !self.is_idle() {
            return Ok(idle);
        }
        let allowance = if self.served.load(Ordering::Relaxed) {
            idle
        } else {
            first
        };
        let quiet = Duration::from_millis(now.saturating_sub(self.last_io_ms()));
        allowance
            .checked_sub(quiet)
            .filter(|d| !d.is_zero())
            .ok_or(Close::Idle)
    }
}

/// One response body being sent on a connection: [`handed_out`](Self::handed_out) when it
/// gave the connection a chunk, [`came_back`](Self::came_back) when asked for the next.
#[derive(Debug)]
pub struct BodyProgress {
    activity: Arc<ConnActivity>,
    waiting: bool,
}

impl BodyProgress {
    /// The connection was handed a chunk: until it asks for the next, the body waits on it.
    pub fn handed_out(&mut self) {
        if !self.waiting {
            self.waiting = true;
            self.activity
                .waiting_on_client
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The connection asked for more: the last chunk moved on.
    pub fn came_back(&mut self) {
        if self.waiting {
            self.waiting = false;
            self.activity
                .waiting_on_client
                .fetch_sub(1, Ordering::Relaxed);
            let now = self.activity.now_ms();
            self.activity.last_progress_ms.store(now, Ordering::Relaxed);
        }
    }
}

impl Drop for BodyProgress {
    fn drop(&mut self) {
        self.came_back();
        self.activity.open_bodies.fetch_sub(1, Ordering::Relaxed);
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

    #[test]
    fn idle_allowance_is_shorter_before_the_first_request() {
        let a = Arc::new(ConnActivity::default());
        let first = Duration::from_millis(50);
        let idle = Duration::from_secs(60);
        assert!(a.deadline(first, idle).is_ok());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(
            a.deadline(first, idle),
            Err(Close::Idle),
            "no request in time"
        );
        let req = a.request();
        assert_eq!(a.deadline(first, idle), Ok(idle), "busy is never idle");
        drop(req);
        assert!(a.deadline(first, idle).unwrap() > Duration::from_secs(59));
    }

    #[test]
    fn a_response_waiting_on_the_client_stalls_the_connection_whatever_else_moves() {
        let a = Arc::new(ConnActivity::default());
        let idle = Duration::from_millis(50);
        let mut body = a.body();
        assert_eq!(a.deadline(idle, idle), Ok(idle), "sending: busy");
        body.handed_out();
        std::thread::sleep(Duration::from_millis(60));
        // Another request moving (a new stream) is not this response moving on.
        a.touch();
        assert_eq!(a.deadline(idle, idle), Err(Close::Stalled));
        body.came_back();
        assert!(a.deadline(idle, idle).is_ok(), "the client read on");
        drop(body);
        assert!(a.is_idle());
    }
}
