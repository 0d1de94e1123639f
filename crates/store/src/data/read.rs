//! Reading a segment's data back: from its file, or from its bytes kept inline in the
//! metadata; the same format either way.

use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;

use super::{
    DATA_HEADER, DATA_HEADER_ENCRYPTED, DATA_HEADER_LEN, SSE_C_KEY_ID, binding, outer_binding,
    wrap_binding,
};
use crate::crypto::{self, ChunkCipher, Key};
use crate::record::{Segment, SseAlgorithm};

/// Plaintext read from a segment, decrypted where it was read: one buffer, and the ranges of
/// it that hold the bytes asked for, in order (each chunk's authentication tags stay between
/// them). A GET sends the ranges as they are, so the bytes are not copied again on their way
/// to the connection.
#[derive(Debug)]
pub struct Plain {
    /// The buffer the data was read and decrypted in.
    pub buf: Vec<u8>,
    /// Where in `buf` the plaintext is, in order.
    pub ranges: Vec<Range<usize>>,
}

impl Plain {
    /// The plaintext as one vector (the ranges moved together: one copy within the buffer).
    #[must_use]
    pub fn into_vec(self) -> Vec<u8> {
        let Self { mut buf, ranges } = self;
        let mut at = 0;
        for r in ranges {
            let n = r.len();
            if r.start != at {
                buf.copy_within(r, at);
            }
            at += n;
        }
        buf.truncate(at);
        buf
    }

    /// Plaintext bytes held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ranges.iter().map(Range::len).sum()
    }

    /// Whether no plaintext is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads `len` plaintext bytes at `offset` of a segment, decrypting the chunks they span in
/// the buffer they were read into.
///
/// # Errors
/// I/O errors; `InvalidData` for an unknown file format, a header that disagrees with the
/// envelope, or data that fails authentication (altered, truncated, swapped).
pub(crate) fn read_segment(
    mut file: impl Read + Seek,
    place: &dyn std::fmt::Display,
    segment: &Segment,
    master: Option<&crate::MasterKeys>,
    wrapping_key: Option<&Key>,
    offset: u64,
    len: usize,
) -> io::Result<Plain> {
    let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidData, format!("{place}: {m}"));
    if len == 0 {
        return Ok(Plain {
            buf: Vec::new(),
            ranges: Vec::new(),
        });
    }
    let mut header = [0u8; DATA_HEADER.len()];
    file.read_exact(&mut header)?;
    match (&segment.envelope, header) {
        (None, DATA_HEADER) => {
            file.seek(SeekFrom::Start(DATA_HEADER_LEN + offset))?;
            let mut buf = Vec::with_capacity(len);
            (&mut file).take(len as u64).read_to_end(&mut buf)?;
            if buf.len() < len {
                return Err(invalid("object data shorter than its recorded size".into()));
            }
            Ok(Plain {
                buf,
                ranges: std::iter::once(0..len).collect(),
            })
        }
        (Some(env), DATA_HEADER_ENCRYPTED) => {
            let wrapped =
                hex::decode(&env.wrapped_key).map_err(|_| invalid("malformed envelope".into()))?;
            let dek = if env.algorithm == SseAlgorithm::Customer {
                // A missing or wrong customer key is the caller's error, not damaged data.
                let key = wrapping_key.ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        "the object is encrypted with a customer-provided key (SSE-C); send it",
                    )
                })?;
                crypto::unwrap_key(key, SSE_C_KEY_ID, &wrapped).map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        "the customer-provided key does not open this object",
                    )
                })?
            } else if env.algorithm.is_keyring() {
                let key = wrapping_key.ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        format!("the object is encrypted under keyring key {}", env.key_id),
                    )
                })?;
                crypto::unwrap_key(
                    key,
                    &wrap_binding(&env.key_id, env.context.as_deref()),
                    &wrapped,
                )
                .map_err(|e| invalid(format!("unwrapping with keyring key {}: {e}", env.key_id)))?
            } else {
                let master = master.and_then(|m| m.get(&env.key_id)).ok_or_else(|| {
                    invalid(format!(
                        "encrypted under master key {:?}, which is not loaded",
                        env.key_id
                    ))
                })?;
                crypto::unwrap_key(&master.key, &master.id, &wrapped)
                    .map_err(|e| invalid(e.to_string()))?
            };
            let id = segment.file;
            let cipher = ChunkCipher::new(&dek, binding(id));
            // Format 2 (DSSE-KMS): the outer layer's key is wrapped by the same keyring key.
            let outer = match (env.format, &env.outer_wrapped_key) {
                (crypto::FORMAT, None) => None,
                (crypto::FORMAT_DUAL, Some(w)) if env.algorithm.is_keyring() => {
                    let w = hex::decode(w).map_err(|_| invalid("malformed envelope".into()))?;
                    let key = wrapping_key.expect("checked above for keyring algorithms");
                    let outer_dek = crypto::unwrap_key(
                        key,
                        &outer_binding(&env.key_id, env.context.as_deref()),
                        &w,
                    )
                    .map_err(|e| invalid(format!("unwrapping the outer data key: {e}")))?;
                    Some(ChunkCipher::outer(&outer_dek, binding(id)))
                }
                (f, _) => return Err(invalid(format!("unknown envelope format {f}"))),
            };
            let layers = 1 + u64::from(outer.is_some());
            let tags = crypto::TAG_LEN * (1 + usize::from(outer.is_some()));
            let end = offset + len as u64;
            let (first, last, cipher_offset, skip) =
                crypto::chunk_range(offset, end, segment.len, layers);
            let n = crypto::chunk_count(segment.len);
            file.seek(SeekFrom::Start(DATA_HEADER_LEN + cipher_offset))?;
            let plain_len = |i: u64| {
                usize::try_from(
                    (segment.len - i * crypto::CHUNK_LEN as u64).min(crypto::CHUNK_LEN as u64),
                )
                .unwrap_or(0)
            };
            let total: usize = (first..=last).map(|i| plain_len(i) + tags).sum();
            // One read of every chunk the range spans, into a buffer that is not zeroed first.
            let mut buf = Vec::with_capacity(total);
            (&mut file).take(total as u64).read_to_end(&mut buf)?;
            if buf.len() < total {
                return Err(invalid("object data shorter than its recorded size".into()));
            }
            let mut ranges = Vec::with_capacity(usize::try_from(last - first + 1).unwrap_or(1));
            let (mut at, mut skip, mut want) = (0, skip, len);
            for i in first..=last {
                let chunk = &mut buf[at..at + plain_len(i) + tags];
                let inner = match &outer {
                    Some(o) => o
                        .open(i, i == n - 1, chunk)
                        .map_err(|e| invalid(format!("chunk {i}, outer layer: {e}")))?,
                    None => chunk,
                };
                let plain = cipher
                    .open(i, i == n - 1, inner)
                    .map_err(|e| invalid(format!("chunk {i}: {e}")))?
                    .len();
                let take = plain.saturating_sub(skip).min(want);
                if take > 0 {
                    ranges.push(at + skip..at + skip + take);
                }
                want -= take;
                skip = skip.saturating_sub(plain);
                at += plain_len(i) + tags;
            }
            if want > 0 {
                return Err(invalid("object data shorter than its recorded size".into()));
            }
            Ok(Plain { buf, ranges })
        }
        _ => Err(invalid(
            "not a leadshop data file of the format its record names".into(),
        )),
    }
}
