//! Object data back out: a data file range as a bounded-memory stream, read on the blocking
//! pool and decrypted chunk by chunk.
//!
//! A download reads only as its client takes the data: the first read is one encryption
//! chunk (64 KiB), reads grow to [`READ_CHUNK`] while the client keeps asking, and the next
//! chunk is read ahead only once the client has come back for a second. Every chunk holds its
//! size in the client address's response budget ([`Budget`]) until the connection has
//! written it; a read waits for room, and a response that finds none within the body timeout
//! ends, so a client that opens streams and never reads them holds at most its budget.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use leadshop_store::{Segment, Store};
use s3s::dto::StreamingBlob;
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinHandle;

use crate::clients::Budget;

/// The largest read of a GET response: a whole number of encryption chunks, so aligned
/// reads never share a chunk.
const READ_CHUNK: usize = 4 * leadshop_store::crypto::CHUNK_LEN;
/// The first read of a response: one encryption chunk.
const FIRST_READ: usize = leadshop_store::crypto::CHUNK_LEN;

type Reserving = Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, ()>> + Send>>;

/// Reads `range` (half-open, in object coordinates) of an object made of `segments`, up to
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
    pending: Option<JoinHandle<std::io::Result<Vec<Bytes>>>>,
    /// Pieces of the last read not yet handed out: a read decrypts its chunks where they
    /// were read and each chunk's plaintext goes out as a slice of that one buffer.
    ready: VecDeque<Bytes>,
    /// The SSE-C key, for objects written with one.
    customer_key: Option<Arc<leadshop_store::crypto::Key>>,
    /// The client's response budget (none for server-side copies).
    budget: Option<Budget>,
    /// Waiting for room in the budget, until the deadline (in a mutex only to be `Sync`, as
    /// response bodies must be; it is reached through `&mut self`, never locked).
    reserving: Option<std::sync::Mutex<(Reserving, Pin<Box<tokio::time::Sleep>>)>>,
    /// The size of the next read.
    next_len: usize,
    /// Chunks handed out so far.
    delivered: u64,
    /// The stored bytes of the only segment when it is inline, read with the version's record:
    /// decrypted where the read is planned, without a trip to the blocking pool.
    inline: Option<Vec<u8>>,
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
            ready: VecDeque::new(),
            customer_key: None,
            budget: None,
            reserving: None,
            next_len: READ_CHUNK,
            delivered: 0,
            inline: None,
        }
    }

    /// Reads into the client's response budget, starting small (a download to a client).
    pub(crate) fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = Some(budget);
        self.next_len = FIRST_READ;
        self
    }

    /// Reads with a customer-provided key (SSE-C objects).
    pub(crate) fn with_customer_key(
        mut self,
        key: Option<Arc<leadshop_store::crypto::Key>>,
    ) -> Self {
        self.customer_key = key;
        self
    }

    /// Reads from the stored bytes of an inline object's only segment, already in hand
    /// ([`leadshop_store::Store::get_version_with_inline`]), instead of the metadata.
    pub(crate) fn with_inline(mut self, stored: Option<Vec<u8>>) -> Self {
        self.inline = stored.filter(|_| matches!(self.segments.as_slice(), [only] if only.inline));
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
    /// The next read, `(segment, offset, length)`, or `None` at the end of the range; an
    /// error when the object's segments are shorter than its size.
    fn plan(&mut self) -> std::io::Result<Option<(Segment, u64, usize)>> {
        loop {
            if self.remaining == 0 {
                return Ok(None);
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
                self.next_len as u64 - self.offset % leadshop_store::crypto::CHUNK_LEN as u64;
            let want = usize::try_from(
                (segment.len - self.offset)
                    .min(self.remaining)
                    .min(to_boundary),
            )
            .unwrap_or(READ_CHUNK);
            return Ok(Some((segment, self.offset, want)));
        }
    }

    /// Starts the planned read on the blocking pool, holding `permit` in its bytes.
    fn start(
        &mut self,
        segment: Segment,
        offset: u64,
        want: usize,
        permit: Option<OwnedSemaphorePermit>,
    ) {
        let store = self.store.clone();
        let customer_key = self.customer_key.clone();
        // Account for the chunk now, so the read after it can be started right away.
        self.offset += want as u64;
        self.remaining -= want as u64;
        self.pending = Some(tokio::task::spawn_blocking(move || {
            store
                .read_segment_in_place(&segment, customer_key.as_deref(), offset, want)
                .map(|plain| pieces(plain, permit))
        }));
    }

    /// The planned read from the inline bytes in hand: at most [`leadshop_store::data::INLINE_MAX`]
    /// bytes to decrypt, done here rather than on the blocking pool.
    fn read_inline(
        &mut self,
        stored: Vec<u8>,
        segment: &Segment,
        offset: u64,
        want: usize,
        permit: Option<OwnedSemaphorePermit>,
    ) -> std::io::Result<Vec<Bytes>> {
        self.offset += want as u64;
        self.remaining -= want as u64;
        self.store
            .read_inline_in_place(segment, stored, self.customer_key.as_deref(), offset, want)
            .map(|plain| pieces(plain, permit))
    }

    /// Starts the next read if there is one and room for it without waiting (read-ahead).
    fn read_ahead(&mut self) {
        match self.plan() {
            Ok(Some((segment, offset, want))) => {
                let permit = match &self.budget {
                    None => None,
                    Some(b) => match b.try_reserve(want) {
                        Some(p) => Some(p),
                        // No room now: the next poll waits for it instead.
                        None => return,
                    },
                };
                self.start(segment, offset, want, permit);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "object data is shorter than its recorded size"),
        }
    }

    /// Room in the budget for `want` bytes: at once, after waiting, or an error when none came
    /// within the budget's wait.
    fn poll_room(
        &mut self,
        cx: &mut Context<'_>,
        want: usize,
    ) -> Poll<std::io::Result<Option<OwnedSemaphorePermit>>> {
        let Some(budget) = &self.budget else {
            return Poll::Ready(Ok(None));
        };
        if self.reserving.is_none() {
            if let Some(p) = budget.try_reserve(want) {
                return Poll::Ready(Ok(Some(p)));
            }
            let b = budget.clone();
            let wait = Box::pin(async move { b.reserve(want).await });
            let deadline = Box::pin(tokio::time::sleep(budget.wait));
            self.reserving = Some(std::sync::Mutex::new((wait, deadline)));
        }
        let slot = self.reserving.as_mut().expect("set above");
        let (wait, deadline) = match slot.get_mut() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Poll::Ready(got) = wait.as_mut().poll(cx) {
            self.reserving = None;
            return Poll::Ready(
                got.map(Some)
                    .map_err(|()| std::io::Error::other("the response budget was closed")),
            );
        }
        if deadline.as_mut().poll(cx).is_ready() {
            self.reserving = None;
            budget.timed_out();
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client did not read its earlier responses in time",
            )));
        }
        Poll::Pending
    }
}

impl Stream for ObjectReader {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(piece) = this.ready.pop_front() {
            return Poll::Ready(Some(Ok(piece)));
        }
        if this.pending.is_none() {
            let (segment, offset, want) = match this.plan() {
                Ok(Some(next)) => next,
                Ok(None) => return Poll::Ready(None),
                Err(e) => return Poll::Ready(Some(Err(e))),
            };
            match futures::ready!(this.poll_room(cx, want)) {
                Ok(permit) => match this.inline.take() {
                    Some(stored) => {
                        let read = this.read_inline(stored, &segment, offset, want, permit);
                        return Poll::Ready(this.deliver(read));
                    }
                    None => this.start(segment, offset, want, permit),
                },
                Err(e) => {
                    this.remaining = 0;
                    tracing::debug!(object = %this.label, error = %e, "download ended");
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
        let pending = this.pending.as_mut().expect("a read is in flight");
        let result = futures::ready!(Pin::new(pending).poll(cx));
        this.pending = None;
        match result {
            Err(join) => Poll::Ready(Some(Err(std::io::Error::other(join)))),
            Ok(read) => Poll::Ready(this.deliver(read)),
        }
    }
}

/// A read's plaintext as slices of the buffer it was decrypted in, the budget (when there is
/// one) held until the last slice has been written out.
fn pieces(plain: leadshop_store::data::Plain, permit: Option<OwnedSemaphorePermit>) -> Vec<Bytes> {
    let leadshop_store::data::Plain { buf, ranges } = plain;
    let whole = match permit {
        Some(p) => Budget::hold(buf, p),
        None => Bytes::from(buf),
    };
    ranges.into_iter().map(|r| whole.slice(r)).collect()
}

impl ObjectReader {
    /// Hands out the first piece of a finished read and starts the next one.
    fn deliver(&mut self, read: std::io::Result<Vec<Bytes>>) -> Option<std::io::Result<Bytes>> {
        match read {
            Err(e) => {
                self.remaining = 0;
                self.report(&e);
                Some(Err(e))
            }
            Ok(pieces) => {
                self.ready = pieces.into();
                let bytes = self.ready.pop_front().unwrap_or_default();
                self.delivered += 1;
                self.next_len = (self.next_len * 2).min(READ_CHUNK);
                // Read ahead (the next chunk comes off the disk while this one is sent) once
                // the client has come back for more at least once.
                if self.budget.is_none() || self.delivered >= 2 {
                    self.read_ahead();
                }
                Some(Ok(bytes))
            }
        }
    }
}
