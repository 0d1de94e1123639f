//! Object data back out: a data file range as a bounded-memory stream, read on the blocking
//! pool and decrypted chunk by chunk.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use leadshop_store::{Segment, Store};
use s3s::dto::StreamingBlob;
use tokio::task::JoinHandle;

/// Bytes read from a data file per chunk of a GET response: a whole number of encryption
/// chunks, so aligned reads never share a chunk.
const READ_CHUNK: usize = 4 * leadshop_store::crypto::CHUNK_LEN;

/// Reads `range` (half-open, in object coordinates) of an object made of `segments`,
/// `READ_CHUNK` bytes at a time on the blocking pool.
pub(crate) struct ObjectReader {
    store: Arc<Store>,
    /// `bucket/key@version`, for the log line when the data fails its integrity check.
    label: Arc<str>,
    segments: Vec<Segment>,
    /// Index of the current segment.
    seg: usize,
    /// Offset within the current segment.
    offset: u64,
    /// Bytes still to send.
    remaining: u64,
    pending: Option<JoinHandle<std::io::Result<Bytes>>>,
    /// The SSE-C key, for objects written with one.
    customer_key: Option<Arc<leadshop_store::crypto::Key>>,
}

impl ObjectReader {
    pub(crate) fn new(store: Arc<Store>, segments: Vec<Segment>, start: u64, end: u64) -> Self {
        let mut seg = 0;
        let mut offset = start;
        while seg < segments.len() && offset >= segments[seg].len && segments[seg].len > 0 {
            offset -= segments[seg].len;
            seg += 1;
        }
        Self {
            store,
            label: Arc::from(""),
            segments,
            seg,
            offset,
            remaining: end.saturating_sub(start),
            pending: None,
            customer_key: None,
        }
    }

    /// Reads with a customer-provided key (SSE-C objects).
    pub(crate) fn with_customer_key(
        mut self,
        key: Option<Arc<leadshop_store::crypto::Key>>,
    ) -> Self {
        self.customer_key = key;
        self
    }

    /// Names the object in the log line written if its data fails authentication.
    pub(crate) fn named(mut self, bucket: &str, key: &str, version_id: &str) -> Self {
        self.label = Arc::from(format!("{bucket}/{key}@{version_id}"));
        self
    }

    fn report(&self, e: &std::io::Error) {
        if e.kind() == std::io::ErrorKind::InvalidData {
            tracing::warn!(object = %self.label, error = %e, "object data failed its integrity check; the read was aborted");
        } else {
            tracing::warn!(object = %self.label, error = %e, "reading object data failed");
        }
    }

    pub(crate) fn into_blob(self) -> StreamingBlob {
        StreamingBlob::wrap(self)
    }
}

impl ObjectReader {
    /// Starts reading the next chunk on the blocking pool. Returns false at the end of the
    /// range, or an error when the object's segments are shorter than its size.
    fn spawn_next(&mut self) -> std::io::Result<bool> {
        loop {
            if self.remaining == 0 {
                return Ok(false);
            }
            let Some(segment) = self.segments.get(self.seg).cloned() else {
                return Err(std::io::Error::other(
                    "object data shorter than its recorded size",
                ));
            };
            if self.offset >= segment.len {
                self.seg += 1;
                self.offset = 0;
                continue;
            }
            // End every read on an encryption-chunk boundary: a range that starts mid-chunk
            // would otherwise make each read straddle two chunks and decrypt the shared one twice.
            let to_boundary =
                READ_CHUNK as u64 - self.offset % leadshop_store::crypto::CHUNK_LEN as u64;
            let want = usize::try_from(
                (segment.len - self.offset)
                    .min(self.remaining)
                    .min(to_boundary),
            )
            .unwrap_or(READ_CHUNK);
            let (store, offset) = (self.store.clone(), self.offset);
            let customer_key = self.customer_key.clone();
            // Account for the chunk now, so the read after it can be started right away.
            self.offset += want as u64;
            self.remaining -= want as u64;
            self.pending = Some(tokio::task::spawn_blocking(move || {
                store
                    .read_segment(&segment, customer_key.as_deref(), offset, want)
                    .map(Bytes::from)
            }));
            return Ok(true);
        }
    }
}

impl Stream for ObjectReader {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.pending.is_none() {
            match this.spawn_next() {
                Ok(true) => {}
                Ok(false) => return Poll::Ready(None),
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
        let pending = this.pending.as_mut().expect("a read is in flight");
        let result = futures::ready!(Pin::new(pending).poll(cx));
        this.pending = None;
        match result {
            Err(join) => Poll::Ready(Some(Err(std::io::Error::other(join)))),
            Ok(Err(e)) => {
                this.remaining = 0;
                this.report(&e);
                Poll::Ready(Some(Err(e)))
            }
            Ok(Ok(bytes)) => {
                // Read ahead: the next chunk comes off the disk while this one is sent.
                if let Err(e) = this.spawn_next() {
                    tracing::warn!(error = %e, "object data is shorter than its recorded size");
                }
                Poll::Ready(Some(Ok(bytes)))
            }
        }
    }
}

use std::future::Future as _;
