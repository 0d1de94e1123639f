//! Browser POST uploads (`multipart/form-data` to a bucket): the form's fields are read by the
//! shell before s3s sees the request, so that access control can authorise the upload on
//! everything the form asks for — the key, its `acl`, `tagging`, encryption and metadata —
//! and so that the fields before the file are bounded (AWS: 20 KB,
//! `MaxPostPreDataLengthExceeded`) before anything is buffered.
//!
//! The fields are parsed with `s3s-multipart`, the parser s3s itself uses, field by field as
//! s3s does (names lower-cased, the last `Content-Disposition` wins), so both read the same
//! form. The bytes read are handed back in front of the rest of the body.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use http_body::Body;
use s3s_multipart::{Boundary, Error as ParserError, Multipart, parse_content_disposition};

/// AWS's limit on the form fields that precede the file.
pub const MAX_PRE_DATA: usize = 20 * 1024;
/// Bytes the shell may hold while finding the file part: the fields plus one network read.
const MAX_BUFFERED: usize = MAX_PRE_DATA + 256 * 1024;

/// The fields of a POST upload form, as the browser sent them.
#[derive(Debug, Clone, Default)]
pub struct PostForm {
    /// `(lower-cased name, value)` in form order.
    pub fields: Vec<(String, String)>,
    /// The file part's `filename` (for `${filename}` in the key).
    pub file_name: Option<String>,
}

impl PostForm {
    /// The last value of a field (names are lower case).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why the form could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    /// More than [`MAX_PRE_DATA`] bytes before the file.
    #[error("the POST form's fields before the file exceed {MAX_PRE_DATA} bytes")]
    TooLarge,
    /// Not a multipart form s3s could read either.
    #[error("the POST body is not a well-formed multipart form: {0}")]
    Malformed(String),
    /// The body failed (timed out, connection lost).
    #[error("reading the POST body: {0}")]
    Body(Box<dyn std::error::Error + Send + Sync>),
}

/// Reads `body` up to the start of the `file` part. Returns the form and every chunk read,
/// to be given back to s3s in front of the rest of the body.
///
/// # Errors
/// [`FormError`].
pub async fn read<B>(body: &mut B, boundary: &str) -> Result<(PostForm, Vec<Bytes>), FormError>
where
    B: Body<Data = Bytes> + Unpin + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let boundary =
        Boundary::new(boundary.as_bytes()).map_err(|e| FormError::Malformed(e.to_string()))?;
    let mut tee = Tee {
        body,
        read: Vec::new(),
        len: 0,
        body_error: None,
    };
    let result = parse_fields(&mut tee, &boundary).await;
    let Tee {
        read, body_error, ..
    } = tee;
    if let Some(e) = body_error {
        return Err(e);
    }
    result.map(|form| (form, read))
}

async fn parse_fields<S>(stream: &mut S, boundary: &Boundary) -> Result<PostForm, FormError>
where
    S: Stream<Item = Result<Bytes, ParserError>> + Send + Unpin,
{
    let malformed = |e: ParserError| match e {
        ParserError::StreamReadFailed(_) => FormError::TooLarge, // replaced by the tee's own error
        other => FormError::Malformed(other.to_string()),
    };
    let mut parser = Multipart::new(stream, boundary, MAX_PRE_DATA);
    let mut form = PostForm::default();
    let mut pre_data = 0usize;
    loop {
        let Some(mut part) = parser.next_part().await.map_err(malformed)? else {
            return Err(FormError::Malformed("the form has no file".into()));
        };
        let (mut name, mut file_name) = (None, None);
        while let Some(h) = part.next_header().await.map_err(malformed)? {
            if h.name.eq_ignore_ascii_case("content-disposition") {
                let cd = parse_content_disposition(h.value);
                name = cd.and_then(|cd| cd.name).map(utf8).transpose()?;
                file_name = cd.and_then(|cd| cd.file_name).map(utf8).transpose()?;
            }
        }
        let Some(name) = name else {
            return Err(FormError::Malformed(
                "a form part has no Content-Disposition name".into(),
            ));
        };
        if name.eq_ignore_ascii_case("file") {
            form.file_name = file_name.or(Some(name));
            return Ok(form);
        }
        let mut value = Vec::new();
        pre_data += name.len();
        while let Some(chunk) = part.next_data().await.map_err(malformed)? {
            pre_data += chunk.len();
            if pre_data > MAX_PRE_DATA {
                return Err(FormError::TooLarge);
            }
            value.extend_from_slice(&chunk);
        }
        form.fields
            .push((name.to_ascii_lowercase(), utf8(&value)?.to_string()));
    }
}

fn utf8(b: &[u8]) -> Result<String, FormError> {
    std::str::from_utf8(b)
        .map(str::to_owned)
        .map_err(|_| FormError::Malformed("a form field is not UTF-8".into()))
}

/// Feeds the parser from the body, keeping every chunk, and stops at [`MAX_PRE_DATA`].
struct Tee<'b, B> {
    body: &'b mut B,
    read: Vec<Bytes>,
    len: usize,
    body_error: Option<FormError>,
}

impl<B> Stream for Tee<'_, B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Item = Result<Bytes, ParserError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.len > MAX_BUFFERED {
            this.body_error = Some(FormError::TooLarge);
            return Poll::Ready(Some(Err(ParserError::stream_read_failed("too large"))));
        }
        loop {
            let frame = match futures::ready!(Pin::new(&mut *this.body).poll_frame(cx)) {
                None => return Poll::Ready(None),
                Some(Err(e)) => {
                    let e = e.into();
                    this.body_error = Some(FormError::Body(e));
                    return Poll::Ready(Some(Err(ParserError::stream_read_failed("body failed"))));
                }
                Some(Ok(f)) => f,
            };
            let Ok(data) = frame.into_data() else {
                continue; // trailers: nothing for the form
            };
            this.len += data.len();
            this.read.push(data.clone());
            return Poll::Ready(Some(Ok(data)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    fn form(parts: &[(&str, &str)], file: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, value) in parts {
            out.extend_from_slice(
                format!(
                    "--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        out.extend_from_slice(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n",
        );
        out.extend_from_slice(file);
        out.extend_from_slice(b"\r\n--XyZ--\r\n");
        out
    }

    #[tokio::test]
    async fn reads_the_fields_and_gives_every_byte_back() {
        let raw = form(
            &[("key", "uploads/${filename}"), ("ACL", "public-read")],
            b"PNGDATA",
        );
        let mut body = Full::new(Bytes::from(raw.clone()));
        let (form, read) = read(&mut body, "XyZ").await.unwrap();
        assert_eq!(form.get("key"), Some("uploads/${filename}"));
        assert_eq!(
            form.get("acl"),
            Some("public-read"),
            "names are lower-cased"
        );
        assert_eq!(form.file_name.as_deref(), Some("a.png"));
        let mut back: Vec<u8> = read.concat();
        back.extend_from_slice(
            &http_body_util::BodyExt::collect(body)
                .await
                .unwrap()
                .to_bytes(),
        );
        assert_eq!(back, raw);
    }

    #[tokio::test]
    async fn fields_beyond_20_kb_are_refused_before_the_file() {
        let big = "x".repeat(MAX_PRE_DATA + 10);
        let raw = form(&[("key", "k"), ("x-amz-meta-big", &big)], b"f");
        let mut body = Full::new(Bytes::from(raw));
        assert!(matches!(
            read(&mut body, "XyZ").await.unwrap_err(),
            FormError::TooLarge
        ));
    }

    #[tokio::test]
    async fn a_form_without_a_file_is_malformed() {
        let raw = b"--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--XyZ--\r\n";
        let mut body = Full::new(Bytes::from_static(raw));
        assert!(matches!(
            read(&mut body, "XyZ").await.unwrap_err(),
            FormError::Malformed(_)
        ));
    }
}
