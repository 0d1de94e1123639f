//! Access-log delivery: closes spool segments by age (`access_logs.flush_seconds`) and writes
//! each closed segment as one log object into its target bucket, through the store (so the
//! object is encrypted, versioned and lifecycle-managed like any other), then removes it.
//!
//! Exactly once: a segment's log object key is fixed when the segment closes, and a segment
//! whose object already exists (written just before a crash) is removed without writing it
//! again. A segment without its header line (a crash right after creating it) holds no record
//! and is removed; one whose header is unreadable is set aside (`.damaged`), so that no segment
//! holds back the ones after it but a failure of the store. A segment whose target bucket is gone, or whose policy no longer lets the logging
//! service write, is dropped and counted, as AWS drops such logs.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine as _;
use leadshop_spec::logging::LogObject;
use leadshop_store::{Checksums, ContentHeaders, NewVersion, Store, StoreError};
use md5::Digest as _;

use super::{Stop, Worker};
use crate::bucket_config::BucketConfigs;
use crate::events::access_log::spool::Spool;
use crate::events::access_log::spool::{Ready, Segment};

/// How often closed segments are looked for when none closed by count.
const TICK: Duration = Duration::from_millis(500);

/// The delivery worker, and what it uses.
#[derive(Clone)]
pub struct LogDelivery {
    /// The engine the log objects are written through.
    pub store: Arc<Store>,
    /// The target buckets' policies.
    pub configs: Arc<BucketConfigs>,
    /// The spool whose segments it delivers.
    pub spool: Arc<Spool>,
    /// How old a segment may grow before it is closed (`access_logs.flush_seconds`).
    pub flush_ms: i64,
    /// The account and region log object keys name.
    pub account_id: String,
    /// See `account_id`.
    pub region: String,
}

impl LogDelivery {
    /// Closes segments old enough and delivers every closed one.
    async fn round(&self) {
        let s = self;
        let now = s.store.clock().now_ms();
        s.spool.close_older(now.saturating_sub(s.flush_ms), now);
        let ready = match s.spool.ready() {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "cannot list the access-log spool");
                return;
            }
        };
        for segment in ready {
            let this = s.clone();
            let outcome = tokio::task::spawn_blocking(move || deliver(&this, &segment)).await;
            if !matches!(outcome, Ok(Ok(()))) {
                s.spool
                    .stats
                    .delivery_failures
                    .fetch_add(1, Ordering::Relaxed);
                match outcome {
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "access-log delivery failed; retrying")
                    }
                    Err(e) => tracing::error!(error = %e, "access-log delivery panicked; retrying"),
                    Ok(Ok(())) => {}
                }
                // The rest waits for the next round, in order.
                return;
            }
        }
    }
}

/// Writes one closed segment as its log object (unless it is there already), then removes it.
fn deliver(s: &LogDelivery, segment: &Ready) -> Result<(), StoreError> {
    let stats = &s.spool.stats;
    let contents = match segment.read()? {
        Segment::Records(c) if c.records > 0 => c,
        Segment::Records(_) | Segment::Empty => {
            segment.remove()?;
            return Ok(());
        }
        Segment::Damaged(why) => {
            // Retried, it would hold every later segment back for ever.
            let aside = segment.set_aside()?;
            stats.segments_damaged.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                path = %aside.display(), error = %why,
                "an access-log segment's header is not a logging configuration; set aside, not delivered"
            );
            return Ok(());
        }
    };
    let unique = {
        let digest = sha2::Sha256::digest(format!("{}~{}", segment.seq, segment.bucket));
        hex::encode_upper(&digest[..8])
    };
    let logging = &contents.logging;
    let key = logging.object_key(&LogObject {
        account_id: &s.account_id,
        region: &s.region,
        bucket: &segment.bucket,
        event_secs: segment.first_ms.div_euclid(1000),
        delivery_secs: segment.closed_ms.div_euclid(1000),
        unique: &unique,
    });
    let target = &logging.target_bucket;
    // A bucket that is gone drops its logs; one whose record cannot be read now is retried.
    let allowed = s.configs.try_get_blocking(target)?.is_some_and(|c| {
        crate::access::log_delivery::logging_may_write(&c, &segment.bucket, &key, &s.account_id)
    });
    if !allowed {
        tracing::warn!(
            source = %segment.bucket, target = %target, records = contents.records,
            "access logs dropped: the target bucket is gone or its policy does not let logging.s3.amazonaws.com write"
        );
        stats
            .records_refused
            .fetch_add(contents.records, Ordering::Relaxed);
        segment.remove()?;
        return Ok(());
    }
    match s.store.get_version(target, &key, None) {
        // Written before a crash that left the segment behind: not again.
        Ok(_) => {}
        Err(StoreError::NoSuchKey { .. } | StoreError::NoSuchVersion(_)) => {
            let mut writer = s.store.writer()?;
            writer.write(&contents.body)?;
            let sealed = writer.seal()?;
            let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, &contents.body);
            let new = NewVersion {
                key: key.clone(),
                etag: hex::encode(md5::Md5::digest(&contents.body)),
                storage_class: leadshop_store::StorageClass::Standard,
                checksums: Checksums {
                    crc64nvme: Some(
                        base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes()),
                    ),
                    checksum_type: Some(leadshop_store::ChecksumType::FullObject),
                    ..Checksums::default()
                },
                headers: ContentHeaders {
                    content_type: Some("text/plain".into()),
                    ..ContentHeaders::default()
                },
                ..NewVersion::default()
            };
            s.store.commit_version(target, new, sealed, None)?;
            stats.objects_delivered.fetch_add(1, Ordering::Relaxed);
            stats
                .records_delivered
                .fetch_add(contents.records, Ordering::Relaxed);
        }
        Err(e) => return Err(e),
    }
    segment.remove()?;
    Ok(())
}

#[async_trait::async_trait]
impl Worker for LogDelivery {
    fn name(&self) -> String {
        "log-delivery".into()
    }

    async fn run(&self, mut stop: Stop) {
        loop {
            self.round().await;
            tokio::select! {
                () = tokio::time::sleep(TICK) => {}
                () = self.spool.closed.notified() => {}
                () = stop.stopped() => return,
            }
        }
    }
}
