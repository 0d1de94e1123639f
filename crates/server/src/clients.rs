//! What one client address may hold across all its connections and streams: requests in
//! progress (an HTTP/2 connection multiplexes many) and bytes of response data buffered for
//! it (read from disk, not yet written to its socket). Both are per address and server-wide,
//! so opening more connections or streams gives a client nothing more.
//!
//! Response bytes are counted exactly: each chunk a GET reads carries the permits it took
//! ([`Budget::hold`]), and they return when the chunk is dropped — after the socket took its
//! last byte, or when the stream ends. A client that does not read (an HTTP/2 flow-control
//! window of 0) stops its own downloads once its budget is spent, and holds nothing more.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use leadshop_spec::policy::Cidr;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// An address as a client: IPv4-mapped IPv6 peers count as their IPv4 address.
#[must_use]
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// The per-address limits.
#[derive(Debug, Clone, Copy)]
pub struct ClientLimits {
    /// Requests in progress at once (a request lasts until its response has been sent).
    pub max_requests: usize,
    /// Bytes of response data buffered for the address.
    pub max_buffered: usize,
    /// Bytes of request documents (XML bodies, buffered whole before they are parsed) held
    /// for the address at once.
    pub max_documents: usize,
    /// How long a response may wait for buffer space before it is ended.
    pub wait: Duration,
}

/// Every client address seen on any listener, while it holds a connection.
#[derive(Debug)]
pub struct Clients {
    limits: ClientLimits,
    exempt: Vec<Cidr>,
    map: Mutex<HashMap<IpAddr, Weak<Client>>>,
    /// Responses ended for want of room (the shell's counter on `/metrics`).
    timeouts: Arc<AtomicU64>,
}

impl Clients {
    /// The registry; addresses in `exempt` (trusted proxies, which carry many clients) are
    /// not limited.
    #[must_use]
    pub fn new(limits: ClientLimits, exempt: Vec<Cidr>, timeouts: Arc<AtomicU64>) -> Self {
        Self {
            limits,
            exempt,
            map: Mutex::default(),
            timeouts,
        }
    }

    /// The state of `ip`, shared by all its connections (made on its first).
    pub fn get(&self, ip: IpAddr) -> Arc<Client> {
        let ip = canonical(ip);
        let mut map = self.map.lock().expect("clients lock");
        if let Some(c) = map.get(&ip).and_then(Weak::upgrade) {
            return c;
        }
        // Forget addresses with no connection left, now and then (amortised over inserts).
        if map.len() >= 64 && map.len().is_power_of_two() {
            map.retain(|_, c| c.strong_count() > 0);
        }
        let limits = if self.exempt.iter().any(|c| c.contains(ip)) {
            ClientLimits {
                max_requests: usize::MAX,
                max_buffered: Semaphore::MAX_PERMITS,
                max_documents: Semaphore::MAX_PERMITS,
                ..self.limits
            }
        } else {
            self.limits
        };
        let c = Arc::new(Client::new(limits, self.timeouts.clone()));
        map.insert(ip, Arc::downgrade(&c));
        c
    }
}

/// One client address.
#[derive(Debug)]
pub struct Client {
    limits: ClientLimits,
    requests: AtomicUsize,
    buffered: Arc<Semaphore>,
    documents: Arc<Semaphore>,
    timeouts: Arc<AtomicU64>,
}

impl Client {
    /// A client with these limits (tests and in-process callers; servers use [`Clients::get`]).
    #[must_use]
    pub fn new(limits: ClientLimits, timeouts: Arc<AtomicU64>) -> Self {
        let permits = limits.max_buffered.min(Semaphore::MAX_PERMITS);
        Self {
            limits,
            requests: AtomicUsize::new(0),
            buffered: Arc::new(Semaphore::new(permits)),
            documents: Arc::new(Semaphore::new(
                limits.max_documents.min(Semaphore::MAX_PERMITS),
            )),
            timeouts,
        }
    }

    /// A client without limits.
    #[must_use]
    pub fn unlimited() -> Arc<Self> {
        Arc::new(Self::new(
            ClientLimits {
                max_requests: usize::MAX,
                max_buffered: Semaphore::MAX_PERMITS,
                max_documents: Semaphore::MAX_PERMITS,
                wait: Duration::from_secs(60),
            },
            Arc::default(),
        ))
    }

    /// A place for one more request in progress, or `None` when the address holds
    /// `max_requests`.
    pub fn admit_request(self: &Arc<Self>) -> Option<RequestSlot> {
        let mut n = self.requests.load(Ordering::Relaxed);
        loop {
            if n >= self.limits.max_requests {
                return None;
            }
            match self
                .requests
                .compare_exchange_weak(n, n + 1, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Some(RequestSlot(self.clone())),
                Err(now) => n = now,
            }
        }
    }

    /// Requests in progress now.
    #[must_use]
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// Bytes of response data buffered for the address now.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.limits
            .max_buffered
            .min(Semaphore::MAX_PERMITS)
            .saturating_sub(self.buffered.available_permits())
    }

    /// The budget its request documents draw from (never waited for: a request that finds
    /// no room is refused with SlowDown).
    #[must_use]
    pub fn document_budget(&self) -> Budget {
        Budget {
            semaphore: self.documents.clone(),
            max: self.limits.max_documents.min(Semaphore::MAX_PERMITS),
            wait: Duration::ZERO,
            timeouts: self.timeouts.clone(),
        }
    }

    /// The response-buffer budget its downloads draw from.
    #[must_use]
    pub fn budget(&self) -> Budget {
        Budget {
            semaphore: self.buffered.clone(),
            max: self.limits.max_buffered.min(Semaphore::MAX_PERMITS),
            wait: self.limits.wait,
            timeouts: self.timeouts.clone(),
        }
    }
}

/// One request in progress of a client; dropping it frees the place.
#[derive(Debug)]
pub struct RequestSlot(Arc<Client>);

impl Drop for RequestSlot {
    fn drop(&mut self) {
        self.0.requests.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Buffer space for response data, in bytes.
#[derive(Debug, Clone)]
pub struct Budget {
    semaphore: Arc<Semaphore>,
    max: usize,
    /// How long a read may wait for space.
    pub wait: Duration,
    timeouts: Arc<AtomicU64>,
}

impl Budget {
    /// Waits for space for `len` bytes (at most the whole budget, so one large read can
    /// always proceed once everything else is returned).
    ///
    /// # Errors
    /// When the semaphore is closed (never, in practice).
    pub async fn reserve(&self, len: usize) -> Result<OwnedSemaphorePermit, ()> {
        let n = u32::try_from(len.clamp(1, self.max)).unwrap_or(u32::MAX);
        self.semaphore
            .clone()
            .acquire_many_owned(n)
            .await
            .map_err(|_| ())
    }

    /// Space for `len` bytes if it is free now.
    #[must_use]
    pub fn try_reserve(&self, len: usize) -> Option<OwnedSemaphorePermit> {
        let n = u32::try_from(len.clamp(1, self.max)).unwrap_or(u32::MAX);
        self.semaphore.clone().try_acquire_many_owned(n).ok()
    }

    /// Counts a response ended because no room came in time.
    pub fn timed_out(&self) {
        self.timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// Bytes that give their space back when the last reference to them is dropped.
    #[must_use]
    pub fn hold(data: Vec<u8>, permit: OwnedSemaphorePermit) -> Bytes {
        Bytes::from_owner(Held {
            data,
            _permit: permit,
        })
    }
}

/// A chunk of response data and the budget it holds.
struct Held {
    data: Vec<u8>,
    _permit: OwnedSemaphorePermit,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(requests: usize, bytes: usize) -> ClientLimits {
        ClientLimits {
            max_requests: requests,
            max_buffered: bytes,
            max_documents: bytes,
            wait: Duration::from_secs(1),
        }
    }

    #[test]
    fn requests_are_capped_per_address_across_connections() {
        let clients = Clients::new(
            limits(2, 1024),
            vec![Cidr::parse("10.0.0.0/8").unwrap()],
            Arc::default(),
        );
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        // Two connections of one address share one count.
        let (c1, c2) = (clients.get(a), clients.get(a));
        let s1 = c1.admit_request().unwrap();
        let _s2 = c2.admit_request().unwrap();
        assert!(c1.admit_request().is_none());
        assert!(
            clients
                .get("192.0.2.2".parse().unwrap())
                .admit_request()
                .is_some()
        );
        drop(s1);
        assert!(c2.admit_request().is_some());
        // A trusted proxy carries many clients: not capped.
        let proxy = clients.get("10.1.2.3".parse().unwrap());
        let held: Vec<_> = (0..10).map(|_| proxy.admit_request().unwrap()).collect();
        assert_eq!(proxy.requests(), held.len());
    }

    #[tokio::test]
    async fn buffered_bytes_return_when_the_chunk_is_dropped() {
        let c = Arc::new(Client::new(limits(10, 1000), Arc::default()));
        let budget = c.budget();
        let chunk = Budget::hold(vec![7; 600], budget.reserve(600).await.unwrap());
        let shared = chunk.clone();
        assert_eq!(c.buffered(), 600);
        assert!(budget.try_reserve(600).is_none(), "only 400 left");
        drop(chunk);
        assert_eq!(c.buffered(), 600, "a clone still holds it");
        drop(shared);
        assert_eq!(c.buffered(), 0);
        // A read larger than the whole budget takes all of it, not forever.
        let all = budget.reserve(5000).await.unwrap();
        assert_eq!(c.buffered(), 1000);
        drop(all);
    }
}
