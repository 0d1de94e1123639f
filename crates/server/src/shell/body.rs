//! Request bodies as the shell hands them on: a body that stops making progress fails after
//! `body_timeout_secs` (so a stalled upload holds nothing for long), and bytes the shell has
//! already read (a POST form's fields) are given back before the rest.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::activity::ConnActivity;
use super::limits::ShellStats;

/// The error a stalled body fails with; the S3 handlers' body reader and the shell map it to
/// 400 RequestTimeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body made no progress for {0:?}")]
pub struct BodyTimeout(pub Duration);

/// The error a body beyond its limit fails with.
#[derive(Debug, thiserror::Error)]
#[error("the request body exceeds {0} bytes")]
pub struct BodyTooLarge(pub u64);

/// The error a document body fails with when its address holds too many bytes of
/// documents already.
#[derive(Debug, thiserror::Error)]
#[error("the client's address holds its share of buffered request documents")]
pub struct BodyOverBudget;

/// Where a document body's bytes are counted against its address's budget, and the space
/// they hold until the request is answered.
pub type DocumentHold = (
    crate::clients::Budget,
    Arc<std::sync::Mutex<Vec<tokio::sync::OwnedSemaphorePermit>>>,
);

/// What happened to a request's body, so the shell answers RequestTimeout,
/// MaxMessageLengthExceeded or SlowDown whatever error the layer that was reading made of it.
#[derive(Debug, Default)]
pub struct BodyOutcome {
    timed_out: AtomicBool,
    too_large: AtomicBool,
    over_budget: AtomicBool,
    bytes_read: AtomicU64,
}

impl BodyOutcome {
    /// Whether the body timed out.
    #[must_use]
    pub fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::Relaxed)
    }

    /// Whether the body went beyond its limit.
    #[must_use]
    pub fn too_large(&self) -> bool {
        self.too_large.load(Ordering::Relaxed)
    }

    /// Whether the body found no room in its address's document budget.
    #[must_use]
    pub fn over_budget(&self) -> bool {
        self.over_budget.load(Ordering::Relaxed)
    }

    /// Body bytes read so far.
    #[must_use]
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A body that fails with [`BodyTimeout`] when no data arrives for `timeout` while it is
/// being read (time spent while nobody reads, the handler busy writing, does not count), and
/// with [`BodyTooLarge`] beyond an optional byte limit.
pub struct TimedBody<B> {
    inner: B,
    timeout: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    limit: Option<u64>,
    hold: Option<DocumentHold>,
    seen: u64,
    outcome: Arc<BodyOutcome>,
    activity: Arc<ConnActivity>,
    stats: Arc<ShellStats>,
}

impl<B> TimedBody<B> {
    /// Wraps `inner`; `outcome` records a timeout.
    pub fn new(
        inner: B,
        timeout: Duration,
        outcome: Arc<BodyOutcome>,
        activity: Arc<ConnActivity>,
        stats: Arc<ShellStats>,
    ) -> Self {
        Self {
            inner,
            timeout,
            sleep: None,
            limit: None,
            hold: None,
            seen: 0,
            outcome,
            activity,
            stats,
        }
    }

    /// Fails the body (and records it) beyond `limit` bytes.
    #[must_use]
    pub fn limited(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Counts the body's bytes against a document budget as they arrive (the space is held
    /// until the holder is dropped), failing it when there is no room.
    #[must_use]
    pub fn held(mut self, hold: DocumentHold) -> Self {
        self.hold = Some(hold);
        self
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.sleep = None;
                this.activity.touch();
                if let Some(Ok(f)) = &frame {
                    let n = f.data_ref().map_or(0, |d| d.len() as u64);
                    this.outcome.bytes_read.fetch_add(n, Ordering::Relaxed);
                }
                if let (Some(limit), Some(Ok(f))) = (this.limit, &frame) {
                    this.seen += f.data_ref().map_or(0, |d| d.len() as u64);
                    if this.seen > limit {
                        this.outcome.too_large.store(true, Ordering::Relaxed);
                        return Poll::Ready(Some(Err(Box::new(BodyTooLarge(limit)))));
                    }
                }
                if let (Some((budget, holder)), Some(Ok(f))) = (&this.hold, &frame)
                    && let Some(d) = f.data_ref()
                    && !d.is_empty()
                {
                    match budget.try_reserve(d.len()) {
                        Some(p) => holder.lock().unwrap_or_else(|e| e.into_inner()).push(p),
                        None => {
                            this.outcome.over_budget.store(true, Ordering::Relaxed);
                            return Poll::Ready(Some(Err(Box::new(BodyOverBudget))));
                        }
                    }
                }
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if sleep.as_mut().poll(cx).is_ready() {
                    this.sleep = None;
                    if !this.outcome.timed_out.swap(true, Ordering::Relaxed) {
                        ShellStats::bump(&this.stats.body_timeouts);
                    }
                    return Poll::Ready(Some(Err(Box::new(BodyTimeout(timeout)))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Bytes already read from a body, then the rest of it.
pub struct PrefixedBody<B> {
    prefix: VecDeque<Bytes>,
    prefix_len: u64,
    inner: B,
}

impl<B> PrefixedBody<B> {
    /// `prefix` was read from the front of `inner`.
    pub fn new(prefix: Vec<Bytes>, inner: B) -> Self {
        let prefix_len = prefix.iter().map(|b| b.len() as u64).sum();
        Self {
            prefix: prefix.into(),
            prefix_len,
            inner,
        }
    }
}

impl<B> Body for PrefixedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        if let Some(b) = self.prefix.pop_front() {
            self.prefix_len -= b.len() as u64;
            return Poll::Ready(Some(Ok(Frame::data(b))));
        }
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.inner.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + self.prefix_len);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + self.prefix_len);
        }
        hint
    }
}

/// A body that, when dropped before its end, leaves what is left of it in `slot`: the shell
/// gets back a body that s3s or a refusal did not read, to drain it.
pub struct GiveBack<B: Body> {
    inner: Option<B>,
    slot: Arc<std::sync::Mutex<Option<B>>>,
}

impl<B: Body> GiveBack<B> {
    /// Wraps `inner`; its unread rest lands in `slot` when this is dropped.
    pub fn new(inner: B, slot: Arc<std::sync::Mutex<Option<B>>>) -> Self {
        Self {
            inner: Some(inner),
            slot,
        }
    }
}

impl<B: Body> Drop for GiveBack<B> {
    fn drop(&mut self) {
        if let Some(b) = self.inner.take()
            && !b.is_end_stream()
            && let Ok(mut slot) = self.slot.lock()
        {
            *slot = Some(b);
        }
    }
}

impl<B> Body for GiveBack<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.inner.as_mut() {
            Some(b) => Pin::new(b).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

/// Reads and drops what is left of a body a refusal did not read, so that a client still
/// sending gets to read the answer (closing a socket with unread bytes resets it, and the
/// client sees a broken connection it will retry instead of the error). At most `max` bytes,
/// and each read within `stall`; then the connection is simply closed.
pub async fn drain<B>(mut body: B, max: u64, stall: Duration) -> bool
where
    B: Body<Data = Bytes> + Unpin,
{
    let mut seen = 0u64;
    loop {
        let next = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx));
        match tokio::time::timeout(stall, next).await {
            Ok(None) => return true,
            Ok(Some(Ok(frame))) => {
                seen += frame.data_ref().map_or(0, |d| d.len() as u64);
                if seen > max {
                    return false;
                }
            }
            Ok(Some(Err(_))) | Err(_) => return false,
        }
    }
}

/// Whether an error (or anything in its source chain) is a [`BodyTimeout`].
#[must_use]
pub fn is_body_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<BodyTimeout>() {
            return true;
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    fn stats() -> (Arc<BodyOutcome>, Arc<ConnActivity>, Arc<ShellStats>) {
        (
            Arc::new(BodyOutcome::default()),
            Arc::new(ConnActivity::default()),
            Arc::new(ShellStats::default()),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_fails_after_the_timeout_and_a_flowing_one_never() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(4);
        let stream = tokio_stream_from(rx);
        let (flag, activity, st) = stats();
        let mut body = TimedBody::new(
            StreamBody::new(stream),
            Duration::from_secs(20),
            flag.clone(),
            activity,
            st.clone(),
        );
        // Data every 15 s keeps it alive for a minute.
        let sender = tokio::spawn(async move {
            for _ in 0..4 {
                tokio::time::sleep(Duration::from_secs(15)).await;
                tx.send(Ok(Frame::data(Bytes::from_static(b"x"))))
                    .await
                    .unwrap();
            }
            // Then it stalls, holding the sender open.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            drop(tx);
        });
        for _ in 0..4 {
            let f = body.frame().await.unwrap().unwrap();
            assert_eq!(f.into_data().unwrap(), "x");
        }
        let started = tokio::time::Instant::now();
        let err = body.frame().await.unwrap().unwrap_err();
        assert!(is_body_timeout(err.as_ref()), "{err}");
        assert_eq!(started.elapsed(), Duration::from_secs(20));
        assert!(flag.timed_out());
        assert_eq!(st.body_timeouts.load(Ordering::Relaxed), 1);
        sender.abort();
    }

    #[tokio::test]
    async fn a_body_beyond_its_limit_fails_and_says_so() {
        let (outcome, activity, st) = stats();
        let body = TimedBody::new(
            http_body_util::Full::new(Bytes::from(vec![b'x'; 100])),
            Duration::from_secs(20),
            outcome.clone(),
            activity,
            st,
        )
        .limited(99);
        let err = body.collect().await.unwrap_err();
        assert!(err.is::<BodyTooLarge>());
        assert!(outcome.too_large() && !outcome.timed_out());
    }

    #[tokio::test]
    async fn an_unread_body_is_given_back_and_drained() {
        let slot = Arc::new(std::sync::Mutex::new(None));
        let body = GiveBack::new(
            http_body_util::Full::new(Bytes::from(vec![b'x'; 1000])),
            slot.clone(),
        );
        drop(body);
        let rest = slot.lock().unwrap().take().expect("given back");
        assert!(drain(rest, 10_000, Duration::from_secs(1)).await);
        // Read to its end: nothing is given back.
        let mut read = GiveBack::new(
            http_body_util::Full::new(Bytes::from_static(b"y")),
            slot.clone(),
        );
        while read.frame().await.is_some() {}
        drop(read);
        assert!(slot.lock().unwrap().is_none());
        // Beyond the cap, draining stops.
        let big = http_body_util::Full::new(Bytes::from(vec![0u8; 100]));
        assert!(!drain(big, 10, Duration::from_secs(1)).await);
    }

    #[tokio::test]
    async fn a_prefix_is_given_back_before_the_rest_and_counted_in_the_size() {
        let rest = http_body_util::Full::new(Bytes::from_static(b"world"));
        let body = PrefixedBody::new(vec![Bytes::from_static(b"hello, ")], rest);
        assert_eq!(body.size_hint().exact(), Some(12));
        let all = body.collect().await.unwrap().to_bytes();
        assert_eq!(all, "hello, world");
    }

    fn tokio_stream_from(
        mut rx: tokio::sync::mpsc::Receiver<Result<Frame<Bytes>, BoxError>>,
    ) -> impl futures::Stream<Item = Result<Frame<Bytes>, BoxError>> {
        futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }
}
