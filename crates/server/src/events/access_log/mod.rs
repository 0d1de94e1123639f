//! Server access logs, an event subscriber: every request to a bucket whose logging is on
//! (`PutBucketLogging`, or `logging.json` at bootstrap) — allowed, refused or anonymous —
//! becomes one line of AWS's format ([`format`]), appended to the bucket's spool segment
//! ([`spool`]). The log-delivery worker (`workers::log_delivery`) writes closed segments to
//! the target bucket through the store.
//!
//! The record reaches the spool on the subscriber's worker, off the request path, right
//! after the response's last byte; a full event queue drops records and counts them
//! (`leadshop_events_dropped_total{subscriber="access-log"}`). A response with a streamed
//! body (a GET of an object) is spooled twice: a provisional line before its first byte is
//! sent (the shell waits for it), so a crash during the transfer still leaves one line, and
//! the finished line, which replaces it at delivery ([`spool::Line`]).

pub mod format;
pub mod spool;

use std::sync::Arc;

use leadshop_store::SharedClock;

use super::{RequestRecord, Subscriber};
use crate::bucket_config::BucketConfigs;
use spool::Spool;

/// The access-log subscriber.
#[derive(Debug)]
pub struct AccessLog {
    configs: Arc<BucketConfigs>,
    spool: Arc<Spool>,
    clock: SharedClock,
}

impl AccessLog {
    /// Spools records of buckets whose configuration (from `configs`) turns logging on.
    #[must_use]
    pub fn new(configs: Arc<BucketConfigs>, spool: Arc<Spool>, clock: SharedClock) -> Self {
        Self {
            configs,
            spool,
            clock,
        }
    }
}

impl AccessLog {
    /// Spools one line of `record`, if its bucket's logging is on.
    fn spool(&self, record: &RequestRecord, line: spool::Line<'_>) {
        let Some(bucket) = record.bucket.as_deref() else {
            return;
        };
        // A cache hit, or one read of the bucket's record (this runs on the subscriber's
        // worker, never on a request).
        let Some(logging) = self
            .configs
            .get_blocking(bucket)
            .and_then(|c| c.logging.clone())
        else {
            return;
        };
        self.spool
            .append(bucket, &logging, line, record.time_ms, self.clock.now_ms());
    }
}

impl Subscriber for AccessLog {
    fn name(&self) -> &'static str {
        "access-log"
    }

    fn on_request(&self, record: &RequestRecord) {
        let line = format::line(record, crate::config::OWNER_CANONICAL_ID);
        let id = &record.request_id;
        self.spool(record, spool::Line::Finished { id, line: &line });
    }

    fn wants_response_started(&self) -> bool {
        true
    }

    fn on_response_started(&self, record: &RequestRecord) {
        let line = format::started_line(record, crate::config::OWNER_CANONICAL_ID);
        let id = &record.request_id;
        self.spool(record, spool::Line::Started { id, line: &line });
    }
}
