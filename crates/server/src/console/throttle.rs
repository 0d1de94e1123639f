//! Backoff for console sign-in guesses: per client address and per access key id. After
//! [`FREE`] failures, each further attempt must wait twice as long as the last (from one
//! second, at most [`MAX_ADDRESS_WAIT`] for an address and [`MAX_KEY_WAIT`] for a key: a key
//! guessed at from many addresses slows down, without letting anyone lock its owner out for
//! long). An attempt while waiting is refused (429) before the secret is compared. A
//! successful sign-in clears its address and key.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before backoff starts.
pub const FREE: u32 = 5;
/// The longest wait of an address.
pub const MAX_ADDRESS_WAIT: Duration = Duration::from_secs(15 * 60);
/// The longest wait of a key.
pub const MAX_KEY_WAIT: Duration = Duration::from_secs(30);
/// Entries remembered at most per table; past it the oldest quiet ones go.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    until: Instant,
}

/// The sign-in backoff of one console.
#[derive(Debug, Default)]
pub struct Throttle {
    addresses: Mutex<HashMap<IpAddr, Failures>>,
    keys: Mutex<HashMap<String, Failures>>,
}

fn wait_for(count: u32, max: Duration) -> Duration {
    if count < FREE {
        return Duration::ZERO;
    }
    let exp = (count - FREE).min(20);
    Duration::from_secs(1u64 << exp).min(max)
}

fn remaining<K: std::hash::Hash + Eq>(
    map: &Mutex<HashMap<K, Failures>>,
    k: &K,
    now: Instant,
) -> Duration {
    map.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(k)
        .map_or(Duration::ZERO, |f| f.until.saturating_duration_since(now))
}

fn fail<K: std::hash::Hash + Eq + Clone>(
    map: &Mutex<HashMap<K, Failures>>,
    k: &K,
    now: Instant,
    max: Duration,
) {
    let mut m = map
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if m.len() >= MAX_ENTRIES {
        m.retain(|_, f| f.until > now);
    }
    let f = m.entry(k.clone()).or_insert(Failures {
        count: 0,
        until: now,
    });
    f.count = f.count.saturating_add(1);
    f.until = now + wait_for(f.count, max);
}

impl Throttle {
    /// How long `ip` (or `key`) must still wait before its next attempt; zero when it may try.
    #[must_use]
    pub fn wait(&self, ip: IpAddr, key: &str, now: Instant) -> Duration {
        remaining(&self.addresses, &ip, now).max(remaining(&self.keys, &key.to_string(), now))
    }

    /// A failed attempt.
    pub fn failed(&self, ip: IpAddr, key: &str, now: Instant) {
        fail(&self.addresses, &ip, now, MAX_ADDRESS_WAIT);
        fail(&self.keys, &key.to_string(), now, MAX_KEY_WAIT);
    }

    /// A successful sign-in: its address and key start afresh.
    pub fn succeeded(&self, ip: IpAddr, key: &str) {
        self.addresses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&ip);
        self.keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_back_off_per_address_and_per_key() {
        let t = Throttle::default();
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..FREE - 1 {
            t.failed(a, "AKIA1", t0);
            assert_eq!(t.wait(a, "AKIA1", t0), Duration::ZERO);
        }
        t.failed(a, "AKIA1", t0);
        assert_eq!(t.wait(a, "AKIA1", t0), Duration::from_secs(1));
        t.failed(a, "AKIA1", t0);
        assert_eq!(t.wait(a, "AKIA1", t0), Duration::from_secs(2));
        // The address waits whatever key it tries; another address waits for this key only.
        assert_eq!(t.wait(a, "AKIA2", t0), Duration::from_secs(2));
        assert_eq!(t.wait(b, "AKIA2", t0), Duration::ZERO);
        assert_eq!(t.wait(b, "AKIA1", t0), Duration::from_secs(2));
        // It grows, to its cap.
        for _ in 0..40 {
            t.failed(a, "AKIA1", t0);
        }
        assert_eq!(t.wait(a, "AKIA3", t0), MAX_ADDRESS_WAIT);
        assert_eq!(t.wait(b, "AKIA1", t0), MAX_KEY_WAIT);
        assert_eq!(t.wait(b, "AKIA1", t0 + MAX_KEY_WAIT), Duration::ZERO);
        t.succeeded(a, "AKIA1");
        assert_eq!(t.wait(a, "AKIA1", t0), Duration::ZERO);
    }
}
