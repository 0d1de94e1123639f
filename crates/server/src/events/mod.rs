//! Events: the request shell makes one [`RequestRecord`] per S3 request, once its response has
//! been sent (or the client went away), and [`Events::publish`] hands it to every subscriber
//! off the request path.
//!
//! Each subscriber has a bounded queue and its own worker ([`crate::supervisor`]); a request never
//! waits for a subscriber. A queue that is full drops the record and counts it
//! (`leadshop_events_dropped_total`), so a slow subscriber cannot slow or stall requests. At
//! shutdown the workers stop after the last connection: what is queued is delivered.
//!
//! A new subscriber (access logs, usage accounting) implements [`Subscriber`] and is passed
//! to [`Events::new`] in `server::start`.

pub mod access_log;
pub mod metrics;
pub mod usage;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use leadshop_spec::Operation;
use tokio::sync::{Mutex, mpsc};

use crate::supervisor::{Stop, Worker};

/// What one S3 request did, as access logs and metrics need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestRecord {
    /// `x-amz-request-id`.
    pub request_id: String,
    /// When the request arrived, milliseconds since the epoch (the server's clock).
    pub time_ms: i64,
    /// The S3 operation; `None` when the request was refused before it was known (bad
    /// signature, a shell limit).
    pub operation: Option<Operation>,
    /// HTTP method.
    pub method: http::Method,
    /// The request's path and query, as sent.
    pub uri: String,
    /// `HTTP/1.1`, `HTTP/2.0`, ….
    pub http_version: &'static str,
    /// The bucket named, if any.
    pub bucket: Option<String>,
    /// The key named, if any.
    pub key: Option<String>,
    /// The caller's ARN; `None` when anonymous or not authenticated.
    pub principal: Option<String>,
    /// The access key id used, if the request was signed.
    pub access_key_id: Option<String>,
    /// HTTP status sent.
    pub status: u16,
    /// The S3 error code, for an error response.
    pub error_code: Option<String>,
    /// Body bytes received from the client (as sent, aws-chunked framing included).
    pub bytes_in: u64,
    /// Body bytes sent to the client.
    pub bytes_out: u64,
    /// The size of the object read or written, where the request names one.
    pub object_size: Option<u64>,
    /// The version id of the object read or written (`x-amz-version-id`).
    pub version_id: Option<String>,
    /// From arrival to the last byte of the response.
    pub total_time: Duration,
    /// From arrival to the response headers.
    pub first_byte_time: Duration,
    /// The client's address (the peer; `aws:SourceIp` applies trusted proxies).
    pub remote_ip: Option<IpAddr>,
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// `Referer`.
    pub referer: Option<String>,
    /// `SigV4`, `SigV2`, or `None` for an anonymous request.
    pub signature_version: Option<&'static str>,
    /// How it was authenticated: `AuthHeader`, `QueryString` (presigned) or `POST` (form).
    pub auth_type: Option<&'static str>,
    /// e.g. `TLSv1.3`; `None` on plain HTTP.
    pub tls_version: Option<String>,
    /// e.g. `TLS13_AES_256_GCM_SHA384`.
    pub tls_cipher: Option<String>,
    /// The `Host` header (HTTP/2: the `:authority`).
    pub host: Option<String>,
    /// Its billable usage was counted on the request path ([`Subscriber::count`]).
    pub billed: bool,
}

/// Receives every request record, on its own worker.
pub trait Subscriber: Send + Sync + 'static {
    /// A short name (`metrics`, `access-log`).
    fn name(&self) -> &'static str;

    /// Takes one record. Runs on the subscriber's worker, never on the request path; may
    /// block briefly (file appends), but slow work should batch.
    fn on_request(&self, record: &RequestRecord);

    /// Counts what must never be lost (billable usage) on the request path, before the record
    /// is queued: a full queue drops records, not this. Must be cheap and never block.
    fn count(&self, _record: &mut RequestRecord) {}

    /// Whether it takes [`on_response_started`](Self::on_response_started) too.
    fn wants_response_started(&self) -> bool {
        false
    }

    /// Takes the record of a response whose body is about to be sent (status known, bytes
    /// sent not yet): the response's first byte waits until this returns, so what it writes
    /// survives a crash during the transfer. The same request's [`on_request`](Self::on_request)
    /// follows when the body ends.
    fn on_response_started(&self, _record: &RequestRecord) {}
}

/// What a subscriber's queue carries.
enum Event {
    /// A response is about to send its body; the sender is dropped once it is handled.
    Started(Arc<RequestRecord>, tokio::sync::oneshot::Sender<()>),
    /// A request is over.
    Finished(Arc<RequestRecord>),
}

/// How many records wait for a subscriber before new ones are dropped.
pub const QUEUE_CAPACITY: usize = 16_384;

struct Queue {
    name: &'static str,
    tx: mpsc::Sender<Event>,
    wants_started: bool,
    dropped: AtomicU64,
}

/// The subscribers' queues.
pub struct Events {
    queues: Vec<Queue>,
    subscribers: Vec<Arc<dyn Subscriber>>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field(
                "subscribers",
                &self.queues.iter().map(|q| q.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Events {
    /// Queues for these subscribers, and the workers that feed them (to be run by the
    /// [`Supervisor`](crate::supervisor::Supervisor)).
    #[must_use]
    pub fn new(
        subscribers: Vec<Arc<dyn Subscriber>>,
        capacity: usize,
    ) -> (Self, Vec<Arc<dyn Worker>>) {
        let mut queues = Vec::new();
        let mut workers: Vec<Arc<dyn Worker>> = Vec::new();
        let all = subscribers.clone();
        for sub in subscribers {
            let (tx, rx) = mpsc::channel(capacity.max(1));
            queues.push(Queue {
                name: sub.name(),
                tx,
                wants_started: sub.wants_response_started(),
                dropped: AtomicU64::new(0),
            });
            workers.push(Arc::new(Delivery {
                sub,
                rx: Mutex::new(rx),
            }));
        }
        (
            Self {
                queues,
                subscribers: all,
            },
            workers,
        )
    }

    /// Hands a record to every subscriber without waiting; a full queue drops it (counted).
    /// What must not be lost is counted first, here ([`Subscriber::count`]).
    pub fn publish(&self, mut record: RequestRecord) {
        for sub in &self.subscribers {
            sub.count(&mut record);
        }
        let record = Arc::new(record);
        for q in &self.queues {
            if q.tx.try_send(Event::Finished(record.clone())).is_err() {
                q.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Hands the record of a response about to send its body to the subscribers that want
    /// it; each receiver completes once its subscriber has handled it (or could not: a full
    /// queue, a stopped worker).
    pub fn publish_started(
        &self,
        record: &RequestRecord,
    ) -> Vec<tokio::sync::oneshot::Receiver<()>> {
        let mut waits = Vec::new();
        let mut shared = None;
        for q in self.queues.iter().filter(|q| q.wants_started) {
            let record = shared
                .get_or_insert_with(|| Arc::new(record.clone()))
                .clone();
            let (done, wait) = tokio::sync::oneshot::channel();
            if q.tx.try_send(Event::Started(record, done)).is_ok() {
                waits.push(wait);
            } else {
                q.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        waits
    }

    /// Records dropped per subscriber because its queue was full or closed.
    #[must_use]
    pub fn dropped(&self) -> Vec<(&'static str, u64)> {
        self.queues
            .iter()
            .map(|q| (q.name, q.dropped.load(Ordering::Relaxed)))
            .collect()
    }
}

/// The worker that feeds one subscriber.
struct Delivery {
    sub: Arc<dyn Subscriber>,
    /// Survives a restart after a panic in the subscriber.
    rx: Mutex<mpsc::Receiver<Event>>,
}

impl Delivery {
    fn handle(&self, event: Event) {
        match event {
            Event::Finished(rec) => self.sub.on_request(&rec),
            // The sender is dropped when this returns: the response may go on.
            Event::Started(rec, _done) => self.sub.on_response_started(&rec),
        }
    }
}

#[async_trait::async_trait]
impl Worker for Delivery {
    fn name(&self) -> String {
        format!("events:{}", self.sub.name())
    }

    async fn run(&self, mut stop: Stop) {
        let mut rx = self.rx.lock().await;
        loop {
            tokio::select! {
                biased;
                event = rx.recv() => match event {
                    Some(event) => self.handle(event),
                    None => return,
                },
                () = stop.stopped() => break,
            }
        }
        // Stopping: no new records; deliver what is queued.
        rx.close();
        while let Some(event) = rx.recv().await {
            self.handle(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::Supervisor;

    #[derive(Default)]
    struct Collect(std::sync::Mutex<Vec<String>>);

    impl Subscriber for Collect {
        fn name(&self) -> &'static str {
            "collect"
        }
        fn on_request(&self, record: &RequestRecord) {
            self.0.lock().unwrap().push(record.request_id.clone());
        }
    }

    fn rec(id: &str) -> RequestRecord {
        RequestRecord {
            request_id: id.into(),
            ..RequestRecord::default()
        }
    }

    #[tokio::test]
    async fn records_reach_subscribers_and_a_full_queue_drops_without_waiting() {
        let sub = Arc::new(Collect::default());
        let (events, workers) = Events::new(vec![sub.clone()], 2);
        // No worker yet: the queue fills, the third record is dropped, publish never waits.
        events.publish(rec("a"));
        events.publish(rec("b"));
        events.publish(rec("c"));
        assert_eq!(events.dropped(), vec![("collect", 1)]);
        let sup = Supervisor::new();
        for w in workers {
            sup.spawn(w);
        }
        // Shutdown delivers what is queued before the workers return.
        sup.shutdown(Duration::from_secs(5)).await;
        assert_eq!(*sub.0.lock().unwrap(), vec!["a", "b"]);
        // After shutdown the queue is closed: records are counted as dropped.
        events.publish(rec("d"));
        assert_eq!(events.dropped(), vec![("collect", 2)]);
    }
}
