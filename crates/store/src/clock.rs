//! The one source of wall-clock time: record timestamps, policy conditions (`aws:CurrentTime`),
//! presigned expiry, and (later) lifecycle and billing days all ask a [`Clock`].
//!
//! Production uses [`SystemClock`]; tests use [`TestClock`], which stands still until the test
//! advances it, so a test of "30 days later" runs in microseconds and never sleeps.
//!
//! Durations that bound I/O (timeouts, idle connections) stay on tokio's monotonic timer: they
//! measure waiting, not the calendar.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wall-clock time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// Seconds since the Unix epoch.
    fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// The time as a [`SystemTime`].
    fn now(&self) -> SystemTime {
        let ms = self.now_ms();
        match u64::try_from(ms) {
            Ok(ms) => UNIX_EPOCH + Duration::from_millis(ms),
            Err(_) => UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs()),
        }
    }
}

/// A shared clock, as held by the store, the handlers and the workers.
pub type SharedClock = Arc<dyn Clock>;

/// The system's real-time clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A clock that moves only when told to: tests set it and advance it.
#[derive(Debug)]
pub struct TestClock {
    ms: AtomicI64,
}

impl TestClock {
    /// A clock standing at `start`.
    #[must_use]
    pub fn at(start: SystemTime) -> Arc<Self> {
        let ms = start
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Arc::new(Self {
            ms: AtomicI64::new(ms),
        })
    }

    /// A clock standing at the system's time now.
    #[must_use]
    pub fn starting_now() -> Arc<Self> {
        Self::at(SystemTime::now())
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock to `to` (backwards too: clocks on real machines do jump).
    pub fn set(&self, to: SystemTime) {
        let ms = to
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self.ms.store(ms, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.ms.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_clock_moves_only_when_advanced() {
        let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let clock = TestClock::at(start);
        assert_eq!(clock.now(), start);
        assert_eq!(clock.now_secs(), 1_700_000_000);
        clock.advance(Duration::from_secs(30 * 86_400));
        assert_eq!(clock.now(), start + Duration::from_secs(30 * 86_400));
        clock.set(start);
        assert_eq!(clock.now_ms(), 1_700_000_000_000);
    }

    #[test]
    fn system_clock_is_the_system_time() {
        let before = SystemTime::now();
        let now = SystemClock.now();
        let after = SystemTime::now();
        // Millisecond truncation: now may be up to 1 ms before `before`.
        assert!(now + Duration::from_millis(1) >= before && now <= after);
    }
}
