//! Request bodies into data files: hashed on the way (MD5 for the ETag, the checksums asked
//! for), verified before anything becomes visible; the reading side is [`super::reader`].

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use futures::StreamExt;
use http::HeaderMap;
use leadshop_store::{ChecksumAlgorithm, Checksums, DataWriter, SealedData, Store};
use md5::{Digest, Md5};
use s3s::checksum::ChecksumHasher;
use s3s::dto::StreamingBlob;
use s3s::{S3Error, S3ErrorCode, S3Result, TrailingHeaders, s3_error};

use super::error;

/// Bytes gathered before one write to the data file (bounds memory per upload).
const WRITE_BATCH: usize = 1024 * 1024;

/// Which checksums a write asked for and which values it announced.
#[derive(Debug, Default, Clone)]
pub(crate) struct ChecksumPlan {
    /// Algorithms to compute.
    algorithms: Vec<ChecksumAlgorithm>,
    /// Values sent as headers, by algorithm.
    expected: Vec<(ChecksumAlgorithm, String)>,
    /// The checksum `x-amz-trailer` announces: the body must end with it.
    trailer: Option<ChecksumAlgorithm>,
}

impl ChecksumPlan {
    /// Reads `x-amz-checksum-*`, `x-amz-sdk-checksum-algorithm` and `x-amz-trailer`.
    /// When none is given, CRC64NVME is computed, as AWS does since 2025.
    pub(crate) fn from_headers(headers: &HeaderMap) -> S3Result<Self> {
        let mut plan = Self::default();
        let add = |alg: &str, plan: &mut Self| -> S3Result<ChecksumAlgorithm> {
            let Some(known) = ChecksumAlgorithm::parse(alg) else {
                return Err(s3_error!(
                    InvalidRequest,
                    "Checksum algorithm {} is not supported",
                    alg.to_ascii_lowercase()
                ));
            };
            if !plan.algorithms.contains(&known) {
                plan.algorithms.push(known);
            }
            Ok(known)
        };
        for (name, value) in headers {
            let Some(alg) = name.as_str().strip_prefix("x-amz-checksum-") else {
                continue;
            };
            if alg == "type" || alg == "algorithm" || alg == "mode" {
                continue;
            }
            let known = add(alg, &mut plan)?;
            let value = value
                .to_str()
                .map_err(|_| s3_error!(InvalidRequest, "Invalid checksum header"))?;
            plan.expected.push((known, value.to_string()));
        }
        if let Some(alg) = headers
            .get("x-amz-sdk-checksum-algorithm")
            .and_then(|v| v.to_str().ok())
        {
            add(alg, &mut plan)?;
        }
        if let Some(trailer) = headers.get("x-amz-trailer").and_then(|v| v.to_str().ok()) {
            for t in trailer.split(',') {
                if let Some(alg) = t.trim().strip_prefix("x-amz-checksum-") {
                    plan.trailer = Some(add(alg, &mut plan)?);
                }
            }
        }
        if plan.expected.len() > 1 {
            return Err(s3_error!(
                InvalidRequest,
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
            ));
        }
        if plan.algorithms.is_empty() {
            plan.algorithms.push(ChecksumAlgorithm::Crc64Nvme);
        }
        Ok(plan)
    }

    /// A plan that computes `algorithm` (for copies and multipart parts of such uploads), or
    /// CRC64NVME when it names none S3 knows.
    pub(crate) fn computing(algorithm: Option<&str>) -> Self {
        Self {
            algorithms: vec![
                algorithm
                    .and_then(ChecksumAlgorithm::parse)
                    .unwrap_or(ChecksumAlgorithm::Crc64Nvme),
            ],
            ..Self::default()
        }
    }

    /// The algorithms this plan computes.
    pub(crate) fn algorithms(&self) -> &[ChecksumAlgorithm] {
        &self.algorithms
    }

    fn hasher(&self) -> ChecksumHasher {
        let mut h = ChecksumHasher::default();
        for a in &self.algorithms {
            match a {
                ChecksumAlgorithm::Crc32 => h.crc32 = Some(Default::default()),
                ChecksumAlgorithm::Crc32c => h.crc32c = Some(Default::default()),
                ChecksumAlgorithm::Crc64Nvme => h.crc64nvme = Some(Default::default()),
                ChecksumAlgorithm::Sha1 => h.sha1 = Some(Default::default()),
                ChecksumAlgorithm::Sha256 => h.sha256 = Some(Default::default()),
            }
        }
        h
    }
}

/// A body received and verified, with its digests; not yet durable.
pub(crate) struct Ingested {
    data: Data,
    pub md5: [u8; 16],
    pub checksums: Checksums,
}

/// Where an ingested body's bytes are.
enum Data {
    /// In a data writer (a data file, or a buffer that may stay inline), batch by batch.
    Written(Box<DataWriter>),
    /// A small body that may stay inline, received whole and hashed on the async side: it is
    /// written where it is sealed, in the blocking task that also commits it — one hand-off
    /// to the blocking pool per small PUT instead of three (write, seal, commit).
    Received { sink: Box<Sink>, chunks: Vec<Bytes> },
}

impl Ingested {
    /// Makes the data durable; after this only a metadata commit is missing. Blocking: call it
    /// in the blocking task that commits the data, so a write is one trip to the pool.
    pub(crate) fn seal(self) -> std::io::Result<SealedData> {
        match self.data {
            Data::Written(writer) => writer.seal(),
            Data::Received { mut sink, chunks } => sink.write(&chunks)?.seal(),
        }
    }

    /// The ETag of a single-part object.
    pub(crate) fn etag(&self) -> String {
        hex::encode(self.md5)
    }
}

/// Whether a small body may be kept inline in the metadata: yes for a whole object's data
/// (PutObject, CopyObject), no for a part (its record holds a file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inline {
    /// Up to `leadshop_store::data::INLINE_MAX` bytes are committed with the version.
    Allowed,
    /// Always a data file.
    Never,
}

/// A key other than the master key to wrap a new object's data key (SSE-C, SSE-KMS).
#[derive(Clone)]
pub(crate) struct OwnedWrapping {
    pub key: Arc<leadshop_store::crypto::Key>,
    pub algorithm: leadshop_store::SseAlgorithm,
    pub key_id: String,
    pub context: Option<String>,
}

impl OwnedWrapping {
    fn as_wrapping(&self) -> leadshop_store::Wrapping<'_> {
        leadshop_store::Wrapping {
            key: &self.key,
            algorithm: self.algorithm,
            key_id: &self.key_id,
            context: self.context.as_deref(),
        }
    }

    /// An SSE-C key.
    pub fn customer(key: Arc<leadshop_store::crypto::Key>) -> Self {
        Self {
            key,
            algorithm: leadshop_store::SseAlgorithm::Customer,
            key_id: leadshop_store::SSE_C_KEY_ID.to_string(),
            context: None,
        }
    }
}

/// What a data file being written has seen so far: the file and the running digests. It
/// moves to the blocking pool for one batch at a time and comes back. The file is opened with
/// the first batch, so an upload that has sent nothing yet holds no file and no buffer.
struct Sink {
    writer: Option<DataWriter>,
    /// Where and how to open the file, until it is open (and whether a small object may stay
    /// inline in the metadata).
    open: Option<(Arc<Store>, Option<OwnedWrapping>, bool)>,
    md5: Md5,
    hasher: ChecksumHasher,
}

impl Sink {
    fn absorb(mut self, batch: &[Bytes]) -> std::io::Result<Self> {
        self.hash(batch);
        self.writer = Some(self.write(batch)?);
        Ok(self)
    }

    fn hash(&mut self, batch: &[Bytes]) {
        for buf in batch {
            self.md5.update(buf);
            self.hasher.update(buf);
        }
    }

    /// Writes `batch` (opening the writer first if it is not open yet), and hands the writer
    /// back once all is written.
    fn write(&mut self, batch: &[Bytes]) -> std::io::Result<DataWriter> {
        if let Some((store, wrapping, inline)) = self.open.take() {
            self.writer = Some(match (wrapping, inline) {
                (w, true) => store.object_writer(w.as_ref().map(OwnedWrapping::as_wrapping))?,
                (Some(w), false) => store.writer_wrapped(w.as_wrapping())?,
                (None, false) => store.writer()?,
            });
        }
        let mut writer = self
            .writer
            .take()
            .ok_or_else(|| std::io::Error::other("the upload's data file is not open"))?;
        for buf in batch {
            writer.write(buf)?;
        }
        Ok(writer)
    }
}

/// Received chunks waiting to be written, as they came (no copy, no buffer allocated ahead:
/// a client that sends 10 bytes and stalls holds 10 bytes).
#[derive(Default)]
struct Batch {
    chunks: Vec<Bytes>,
    len: usize,
}

impl Batch {
    fn push(&mut self, chunk: Bytes) {
        self.len += chunk.len();
        self.chunks.push(chunk);
    }

    fn take(&mut self) -> Vec<Bytes> {
        self.len = 0;
        std::mem::take(&mut self.chunks)
    }
}

/// One batch hashed and written on the blocking pool, holding a write turn.
async fn absorb(
    s: &super::Leadshop,
    sink: Sink,
    batch: Vec<Bytes>,
) -> S3Result<tokio::task::JoinHandle<std::io::Result<Sink>>> {
    let turn = s
        .core
        .write_turns
        .clone()
        .acquire_owned()
        .await
        .map_err(S3Error::internal_error)?;
    Ok(tokio::task::spawn_blocking(move || {
        let _turn = turn;
        sink.absorb(&batch)
    }))
}

async fn finish(handle: tokio::task::JoinHandle<std::io::Result<Sink>>) -> S3Result<Sink> {
    handle
        .await
        .map_err(S3Error::internal_error)?
        .map_err(error::io)
}

/// Streams `body` into a new data file, hashing as it goes, then checks Content-MD5, the
/// announced checksums (headers or aws-chunked trailers) and the length. Nothing is visible
/// to readers until the caller seals and commits.
///
/// Waiting for the client costs no thread: the body is received on the async side in
/// `WRITE_BATCH` batches, and only hashing and writing a received batch runs on the blocking
/// pool (one batch per upload at a time, within `limits.max_parallel_writes`), overlapping
/// with receiving the next. A client that stalls holds a little memory until the shell's
/// body timeout ends the request.
pub(crate) async fn ingest(
    s: &super::Leadshop,
    body: Option<StreamingBlob>,
    plan: &ChecksumPlan,
    content_md5: Option<&str>,
    trailers: Option<&TrailingHeaders>,
    wrapping: Option<OwnedWrapping>,
    inline: Inline,
) -> S3Result<Ingested> {
    let expected_md5 = content_md5
        .map(|m| {
            base64::engine::general_purpose::STANDARD
                .decode(m)
                .ok()
                .filter(|d| d.len() == 16)
                .ok_or_else(|| {
                    s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid.")
                })
        })
        .transpose()?;

    let mut sink = Some(Sink {
        writer: None,
        open: Some((s.store().clone(), wrapping, inline == Inline::Allowed)),
        md5: Md5::new(),
        hasher: plan.hasher(),
    });
    let mut writing = None;
    let mut batch = Batch::default();
    if let Some(mut body) = body {
        while let Some(chunk) = body.next().await {
            // On an error the data file is dropped (and removed) with the sink.
            let chunk = chunk.map_err(body_stream_error)?;
            batch.push(chunk);
            if batch.len >= WRITE_BATCH {
                if let Some(h) = writing.take() {
                    match finish(h).await {
                        Ok(back) => sink = Some(back),
                        Err(e) => return Err(drain(body, e).await),
                    }
                }
                let next = sink.take().expect("the sink is back");
                writing = Some(absorb(s, next, batch.take()).await?);
            }
        }
    }
    let received_whole = writing.is_none()
        && inline == Inline::Allowed
        && batch.len as u64 <= leadshop_store::data::INLINE_MAX;
    if let Some(h) = writing.take() {
        sink = Some(finish(h).await?);
    }
    let mut sink = sink.expect("the sink is back");
    let (data, (md5, hasher)) = if received_whole {
        // A small body, whole: hashed here (microseconds), written where it is committed.
        let chunks = batch.take();
        sink.hash(&chunks);
        let digests = (
            std::mem::take(&mut sink.md5),
            std::mem::take(&mut sink.hasher),
        );
        (
            Data::Received {
                sink: Box::new(sink),
                chunks,
            },
            digests,
        )
    } else {
        // The last batch; an empty body still opens (and so makes) its empty data file.
        if batch.len > 0 || sink.writer.is_none() {
            sink = finish(absorb(s, sink, batch.take()).await?).await?;
        }
        let Sink {
            writer: Some(writer),
            md5,
            hasher,
            ..
        } = sink
        else {
            return Err(s3_error!(
                InternalError,
                "the upload's data file was never opened"
            ));
        };
        (Data::Written(Box::new(writer)), (md5, hasher))
    };

    let md5: [u8; 16] = md5.finalize().into();
    if let Some(expected) = expected_md5
        && expected != md5
    {
        return Err(s3_error!(
            BadDigest,
            "The Content-MD5 you specified did not match what we received."
        ));
    }
    let computed = hasher.finalize();
    let checksums = Checksums {
        crc32: computed.checksum_crc32,
        crc32c: computed.checksum_crc32c,
        crc64nvme: computed.checksum_crc64nvme,
        sha1: computed.checksum_sha1,
        sha256: computed.checksum_sha256,
        checksum_type: Some(leadshop_store::ChecksumType::FullObject),
    };
    let mut announced = plan.expected.clone();
    announced.extend(trailer_checksum(plan, trailers)?);
    for (alg, value) in announced {
        if checksums.get(alg) != Some(value.as_str()) {
            return Err(S3Error::with_message(
                S3ErrorCode::BadDigest,
                format!(
                    "The {} you specified did not match the calculated checksum.",
                    alg.upper()
                ),
            ));
        }
    }
    Ok(Ingested {
        data,
        md5,
        checksums,
    })
}

/// The rest of a body whose upload already failed (a full disk), read and dropped so the
/// client, still sending, gets to read the error instead of a reset connection it would retry.
/// The shell's body timeout still bounds a client that stops.
async fn drain(mut body: StreamingBlob, e: S3Error) -> S3Error {
    while let Some(chunk) = body.next().await {
        if chunk.is_err() {
            break;
        }
    }
    e
}

/// The checksum the body's trailer carries. The trailer must be exactly what `x-amz-trailer`
/// announced: missing, unannounced or unreadable is `MalformedTrailerError`, as on AWS (with
/// the unsigned-trailer uploads boto3 and the AWS CLI send by default, it is the only
/// integrity check there is).
fn trailer_checksum(
    plan: &ChecksumPlan,
    trailers: Option<&TrailingHeaders>,
) -> S3Result<Option<(ChecksumAlgorithm, String)>> {
    let malformed = || {
        error::custom(
            "MalformedTrailerError",
            "The request contained trailing data that was not well-formed or did not conform to our published schema.",
            http::StatusCode::BAD_REQUEST,
        )
    };
    let map = trailers.and_then(TrailingHeaders::take);
    let mut sent = None;
    if let Some(map) = &map {
        for (name, value) in map {
            let Some(alg) = name.as_str().strip_prefix("x-amz-checksum-") else {
                continue;
            };
            if sent.is_some() || plan.trailer != ChecksumAlgorithm::parse(alg) {
                return Err(malformed());
            }
            let v = value.to_str().map_err(|_| malformed())?;
            sent = Some((plan.trailer.expect("compared above"), v.to_string()));
        }
    }
    if plan.trailer.is_some() && sent.is_none() {
        return Err(malformed());
    }
    Ok(sent)
}

/// The S3 error for a request body that failed while it was being received.
fn body_stream_error(e: s3s::StdError) -> S3Error {
    use s3s::stream::aws_chunked_stream::AwsChunkedStreamError as Chunked;
    use s3s::stream::upload_stream::UploadStreamError as Upload;
    if crate::shell::body::is_body_timeout(e.as_ref()) {
        return s3_error!(
            RequestTimeout,
            "Your socket connection to the server was not read from or written to within the timeout period."
        );
    }
    if e.downcast_ref::<s3s::BodySizeLimitExceeded>().is_some() {
        return s3_error!(
            EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed size"
        );
    }
    let (code, message) = match (e.downcast_ref::<Chunked>(), e.downcast_ref::<Upload>()) {
        (Some(Chunked::SignatureMismatch), _) => (
            S3ErrorCode::SignatureDoesNotMatch,
            "The chunk signature we calculated does not match the signature you provided.",
        ),
        (
            Some(
                Chunked::FormatError
                | Chunked::ChunkMetaTooLarge(..)
                | Chunked::ChunkDataTooLarge(..)
                | Chunked::TrailersTooLarge(..)
                | Chunked::TooManyTrailerHeaders(..),
            ),
            _,
        ) => (
            S3ErrorCode::InvalidRequest,
            "The aws-chunked request body is malformed.",
        ),
        (_, Some(Upload::Sha256Mismatch)) => {
            let mut err = error::custom(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                http::StatusCode::BAD_REQUEST,
            );
            err.set_source(e);
            return err;
        }
        _ => (
            S3ErrorCode::IncompleteBody,
            "The request body ended early or could not be read.",
        ),
    };
    let mut err = S3Error::with_message(code, message);
    err.set_source(e);
    err
}

impl ChecksumPlan {
    /// Also computes `algorithm` (a multipart upload's algorithm for each of its parts).
    pub(crate) fn ensure(&mut self, algorithm: &str) {
        if let Some(k) = ChecksumAlgorithm::parse(algorithm)
            && !self.algorithms.contains(&k)
        {
            self.algorithms.push(k);
        }
    }
}
