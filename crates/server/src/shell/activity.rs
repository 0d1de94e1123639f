//! What one connection is doing, for its watchdog (idle and stalled connections are closed)
//! and for the listener caps (only an idle connection is closed to make room): requests in
//! progress, response bodies being sent and whether they wait on the client, and when a
//! request last moved. Bytes alone (an HTTP/2 PING, a window update) are not activity.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

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

    /// Milliseconds after the connection began when a request last moved.
    pub(crate) fn last_io_ms(&self) -> u64 {
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

#[cfg(test)]
mod tests {
    use super::*;

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
