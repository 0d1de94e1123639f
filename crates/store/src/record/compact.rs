//! Record format 2: a [`VersionRecord`] as tagged binary fields, about a quarter of its JSON
//! (format 1) size. Versions are the one record kept per object, so their size is the
//! metadata's size (docs/BENCHMARKS.md); buckets, uploads and parts stay JSON.
//!
//! Layout: `RECORD_TAG, 2`, then fields in any order, each `tag (1 byte), length (LEB128),
//! payload`. An absent field has its default (`false`, `0`, empty, `None`; the storage class
//! `STANDARD`). Integers are LEB128 (signed ones zig-zagged); text is UTF-8; a text that is
//! lower-case hex of even length (version ids, ETags, wrapped keys) is stored as its bytes
//! under a tag of its own; nested values (checksums, headers, segments, envelopes, map
//! entries) are fields of the same shape inside a payload; the rare structured fields
//! (retention, restore, ACL, the legacy encryption value) are their JSON text.
//!
//! DO NOT CHANGE the meaning of a tag: existing databases carry them. A field this build does
//! not know is an error (a newer build wrote it), never silently dropped.

use std::collections::BTreeMap;

use super::{
    ChecksumType, Checksums, ContentHeaders, Envelope, ReplicationStatus, Segment, SseAlgorithm,
    VersionRecord,
};
use crate::{FileId, StorageClass, StoreError};

// Version record fields.
const KEY: u8 = 1;
const VERSION_ID_HEX: u8 = 2;
const VERSION_ID: u8 = 3;
const DELETE_MARKER: u8 = 4;
const LAST_MODIFIED_MS: u8 = 5;
const SIZE: u8 = 6;
const ETAG_HEX: u8 = 7;
const ETAG: u8 = 8;
const STORAGE_CLASS: u8 = 9;
const CHECKSUMS: u8 = 10;
const HEADERS: u8 = 11;
const METADATA_ENTRY: u8 = 12;
const TAG_ENTRY: u8 = 13;
const SEGMENT: u8 = 14;
const ENCRYPTION_JSON: u8 = 15;
const RESTORE_JSON: u8 = 16;
const RETENTION_JSON: u8 = 17;
const LEGAL_HOLD: u8 = 18;
const ACL_JSON: u8 = 19;
const REPLICATION_STATUS: u8 = 20;
const REPLICA_OF: u8 = 21;

// Map entry fields.
const ENTRY_NAME: u8 = 1;
const ENTRY_VALUE: u8 = 2;

// Segment fields.
const SEG_FILE: u8 = 1;
const SEG_LEN: u8 = 2;
const SEG_ENVELOPE: u8 = 3;
const SEG_PART_CHECKSUMS: u8 = 4;
const SEG_INLINE: u8 = 5;

// Envelope fields.
const ENV_FORMAT: u8 = 1;
const ENV_ALGORITHM: u8 = 2;
const ENV_KEY_ID: u8 = 3;
const ENV_WRAPPED_HEX: u8 = 4;
const ENV_WRAPPED: u8 = 5;
const ENV_CONTEXT: u8 = 6;
const ENV_OUTER_HEX: u8 = 7;
const ENV_OUTER: u8 = 8;

// Checksums fields: the algorithms in `ChecksumAlgorithm::ALL` order, then the type.
const SUM_CRC32: u8 = 1;
const SUM_CRC32C: u8 = 2;
const SUM_CRC64NVME: u8 = 3;
const SUM_SHA1: u8 = 4;
const SUM_SHA256: u8 = 5;
const SUM_TYPE: u8 = 6;

// Content headers fields.
const H_CONTENT_TYPE: u8 = 1;
const H_CONTENT_ENCODING: u8 = 2;
const H_CONTENT_DISPOSITION: u8 = 3;
const H_CONTENT_LANGUAGE: u8 = 4;
const H_CACHE_CONTROL: u8 = 5;
const H_EXPIRES: u8 = 6;
const H_WEBSITE_REDIRECT: u8 = 7;

/// Encodes `rec` after the two header bytes `header`.
pub(super) fn encode_version(header: [u8; 2], rec: &VersionRecord) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(256));
    w.0.extend_from_slice(&header);
    w.text(KEY, &rec.key);
    w.hex_or_text(VERSION_ID_HEX, VERSION_ID, &rec.version_id);
    w.flag(DELETE_MARKER, rec.delete_marker);
    w.int(LAST_MODIFIED_MS, rec.last_modified_ms);
    w.uint(SIZE, rec.size);
    w.hex_or_text(ETAG_HEX, ETAG, &rec.etag);
    if rec.storage_class != StorageClass::Standard {
        w.text(STORAGE_CLASS, rec.storage_class.name());
    }
    w.nested(CHECKSUMS, |w| checksums(w, &rec.checksums));
    w.nested(HEADERS, |w| headers(w, &rec.headers));
    for (tag, map) in [(METADATA_ENTRY, &rec.metadata), (TAG_ENTRY, &rec.tags)] {
        for (name, value) in map {
            w.nested_always(tag, |w| {
                w.text(ENTRY_NAME, name);
                w.text(ENTRY_VALUE, value);
            });
        }
    }
    for s in &rec.segments {
        w.nested_always(SEGMENT, |w| segment(w, s));
    }
    w.json(ENCRYPTION_JSON, rec.encryption.as_ref());
    w.json(RESTORE_JSON, rec.restore.as_ref());
    w.json(RETENTION_JSON, rec.retention.as_ref());
    w.flag(LEGAL_HOLD, rec.legal_hold);
    w.json(ACL_JSON, rec.acl.as_ref());
    w.opt_text(
        REPLICATION_STATUS,
        rec.replication.map(ReplicationStatus::as_str),
    );
    w.opt_text(REPLICA_OF, rec.replica_of.as_deref());
    w.0
}

/// Decodes the fields after the two header bytes.
pub(super) fn decode_version(body: &[u8]) -> Result<VersionRecord, StoreError> {
    let mut rec = VersionRecord::delete_marker("", 0);
    rec.delete_marker = false;
    for field in Fields(body) {
        let (tag, p) = field?;
        match tag {
            KEY => rec.key = text(p)?,
            VERSION_ID_HEX => rec.version_id = hex::encode(p),
            VERSION_ID => rec.version_id = text(p)?,
            DELETE_MARKER => rec.delete_marker = true,
            LAST_MODIFIED_MS => rec.last_modified_ms = int(p)?,
            SIZE => rec.size = uint(p)?,
            ETAG_HEX => rec.etag = hex::encode(p),
            ETAG => rec.etag = text(p)?,
            STORAGE_CLASS => {
                let name = text(p)?;
                // Empty in early delete markers' records: STANDARD, as they were counted.
                rec.storage_class = if name.is_empty() {
                    StorageClass::Standard
                } else {
                    StorageClass::parse(&name)
                        .ok_or_else(|| corrupt(&format!("a storage class {name:?}")))?
                };
            }
            CHECKSUMS => rec.checksums = read_checksums(p)?,
            HEADERS => rec.headers = read_headers(p)?,
            METADATA_ENTRY => entry(p, &mut rec.metadata)?,
            TAG_ENTRY => entry(p, &mut rec.tags)?,
            SEGMENT => rec.segments.push(read_segment(p)?),
            ENCRYPTION_JSON => rec.encryption = Some(json(p)?),
            RESTORE_JSON => rec.restore = Some(json(p)?),
            RETENTION_JSON => rec.retention = Some(json(p)?),
            LEGAL_HOLD => rec.legal_hold = true,
            ACL_JSON => rec.acl = Some(json(p)?),
            REPLICATION_STATUS => {
                let name = text(p)?;
                rec.replication = Some(
                    ReplicationStatus::parse(&name)
                        .ok_or_else(|| corrupt("an unknown replication status"))?,
                );
            }
            REPLICA_OF => rec.replica_of = Some(text(p)?),
            other => return Err(unknown("version", other)),
        }
    }
    Ok(rec)
}

fn checksums(w: &mut Writer, c: &Checksums) {
    for (tag, v) in [
        (SUM_CRC32, &c.crc32),
        (SUM_CRC32C, &c.crc32c),
        (SUM_CRC64NVME, &c.crc64nvme),
        (SUM_SHA1, &c.sha1),
        (SUM_SHA256, &c.sha256),
    ] {
        w.opt_text(tag, v.as_deref());
    }
    // Kept as S3's name, as every record so far holds it.
    w.opt_text(SUM_TYPE, c.checksum_type.map(ChecksumType::as_str));
}

fn read_checksums(p: &[u8]) -> Result<Checksums, StoreError> {
    let mut c = Checksums::default();
    for field in Fields(p) {
        let (tag, v) = field?;
        let slot = match tag {
            SUM_CRC32 => &mut c.crc32,
            SUM_CRC32C => &mut c.crc32c,
            SUM_CRC64NVME => &mut c.crc64nvme,
            SUM_SHA1 => &mut c.sha1,
            SUM_SHA256 => &mut c.sha256,
            SUM_TYPE => {
                let name = text(v)?;
                c.checksum_type = Some(
                    ChecksumType::parse(&name)
                        .ok_or_else(|| corrupt("a checksum type other than S3's two"))?,
                );
                continue;
            }
            other => return Err(unknown("checksums", other)),
        };
        *slot = Some(text(v)?);
    }
    Ok(c)
}

fn headers(w: &mut Writer, h: &ContentHeaders) {
    for (tag, v) in [
        (H_CONTENT_TYPE, &h.content_type),
        (H_CONTENT_ENCODING, &h.content_encoding),
        (H_CONTENT_DISPOSITION, &h.content_disposition),
        (H_CONTENT_LANGUAGE, &h.content_language),
        (H_CACHE_CONTROL, &h.cache_control),
        (H_EXPIRES, &h.expires),
        (H_WEBSITE_REDIRECT, &h.website_redirect_location),
    ] {
        w.opt_text(tag, v.as_deref());
    }
}

fn read_headers(p: &[u8]) -> Result<ContentHeaders, StoreError> {
    let mut h = ContentHeaders::default();
    for field in Fields(p) {
        let (tag, v) = field?;
        let slot = match tag {
            H_CONTENT_TYPE => &mut h.content_type,
            H_CONTENT_ENCODING => &mut h.content_encoding,
            H_CONTENT_DISPOSITION => &mut h.content_disposition,
            H_CONTENT_LANGUAGE => &mut h.content_language,
            H_CACHE_CONTROL => &mut h.cache_control,
            H_EXPIRES => &mut h.expires,
            H_WEBSITE_REDIRECT => &mut h.website_redirect_location,
            other => return Err(unknown("headers", other)),
        };
        *slot = Some(text(v)?);
    }
    Ok(h)
}

fn entry(p: &[u8], map: &mut BTreeMap<String, String>) -> Result<(), StoreError> {
    let (mut name, mut value) = (None, None);
    for field in Fields(p) {
        match field? {
            (ENTRY_NAME, v) => name = Some(text(v)?),
            (ENTRY_VALUE, v) => value = Some(text(v)?),
            (other, _) => return Err(unknown("map entry", other)),
        }
    }
    match name {
        Some(name) => {
            map.insert(name, value.unwrap_or_default());
            Ok(())
        }
        None => Err(corrupt("a map entry without its name")),
    }
}

fn segment(w: &mut Writer, s: &Segment) {
    w.field(SEG_FILE, &s.file.to_bytes());
    w.uint(SEG_LEN, s.len);
    if let Some(e) = &s.envelope {
        w.nested_always(SEG_ENVELOPE, |w| envelope(w, e));
    }
    if let Some(c) = &s.part_checksums {
        w.nested_always(SEG_PART_CHECKSUMS, |w| checksums(w, c));
    }
    w.flag(SEG_INLINE, s.inline);
}

fn read_segment(p: &[u8]) -> Result<Segment, StoreError> {
    let (mut file, mut len, mut envelope, mut part_checksums) = (None, 0, None, None);
    let mut inline = false;
    for field in Fields(p) {
        match field? {
            (SEG_FILE, v) => {
                let bytes: [u8; 16] = v.try_into().map_err(|_| corrupt("a file id"))?;
                file = Some(FileId::from_bytes(bytes));
            }
            (SEG_LEN, v) => len = uint(v)?,
            (SEG_ENVELOPE, v) => envelope = Some(read_envelope(v)?),
            (SEG_PART_CHECKSUMS, v) => part_checksums = Some(read_checksums(v)?),
            (SEG_INLINE, _) => inline = true,
            (other, _) => return Err(unknown("segment", other)),
        }
    }
    Ok(Segment {
        file: file.ok_or_else(|| corrupt("a segment without its file"))?,
        len,
        envelope,
        part_checksums,
        inline,
    })
}

/// SSE algorithms by code. DO NOT CHANGE a code.
const ALGORITHMS: [(u64, SseAlgorithm); 4] = [
    (1, SseAlgorithm::S3),
    (2, SseAlgorithm::Kms),
    (3, SseAlgorithm::KmsDsse),
    (4, SseAlgorithm::Customer),
];

fn envelope(w: &mut Writer, e: &Envelope) {
    w.uint(ENV_FORMAT, u64::from(e.format));
    let code = ALGORITHMS
        .iter()
        .find(|(_, a)| *a == e.algorithm)
        .map_or(0, |(c, _)| *c);
    w.uint(ENV_ALGORITHM, code);
    w.text(ENV_KEY_ID, &e.key_id);
    w.hex_or_text(ENV_WRAPPED_HEX, ENV_WRAPPED, &e.wrapped_key);
    w.opt_text(ENV_CONTEXT, e.context.as_deref());
    if let Some(outer) = &e.outer_wrapped_key {
        w.hex_or_text(ENV_OUTER_HEX, ENV_OUTER, outer);
    }
}

fn read_envelope(p: &[u8]) -> Result<Envelope, StoreError> {
    let (mut format, mut algorithm, mut key_id, mut wrapped) = (0, None, String::new(), None);
    let (mut context, mut outer) = (None, None);
    for field in Fields(p) {
        match field? {
            (ENV_FORMAT, v) => {
                format = u8::try_from(uint(v)?).map_err(|_| corrupt("an envelope format"))?;
            }
            (ENV_ALGORITHM, v) => {
                let code = uint(v)?;
                algorithm = ALGORITHMS.iter().find(|(c, _)| *c == code).map(|(_, a)| *a);
                if algorithm.is_none() {
                    return Err(corrupt("an SSE algorithm code this build does not know"));
                }
            }
            (ENV_KEY_ID, v) => key_id = text(v)?,
            (ENV_WRAPPED_HEX, v) => wrapped = Some(hex::encode(v)),
            (ENV_WRAPPED, v) => wrapped = Some(text(v)?),
            (ENV_CONTEXT, v) => context = Some(text(v)?),
            (ENV_OUTER_HEX, v) => outer = Some(hex::encode(v)),
            (ENV_OUTER, v) => outer = Some(text(v)?),
            (other, _) => return Err(unknown("envelope", other)),
        }
    }
    Ok(Envelope {
        format,
        algorithm: algorithm.ok_or_else(|| corrupt("an envelope without its algorithm"))?,
        key_id,
        wrapped_key: wrapped.ok_or_else(|| corrupt("an envelope without its wrapped key"))?,
        context,
        outer_wrapped_key: outer,
    })
}

struct Writer(Vec<u8>);

impl Writer {
    fn field(&mut self, tag: u8, payload: &[u8]) {
        self.0.push(tag);
        put_varint(&mut self.0, payload.len() as u64);
        self.0.extend_from_slice(payload);
    }

    fn text(&mut self, tag: u8, s: &str) {
        self.field(tag, s.as_bytes());
    }

    fn opt_text(&mut self, tag: u8, s: Option<&str>) {
        if let Some(s) = s {
            self.text(tag, s);
        }
    }

    /// Lower-case hex of even length as its bytes (under `hex_tag`), anything else as text.
    fn hex_or_text(&mut self, hex_tag: u8, text_tag: u8, s: &str) {
        let is_hex =
            s.len().is_multiple_of(2) && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        match hex::decode(s) {
            Ok(bytes) if is_hex => self.field(hex_tag, &bytes),
            _ => self.text(text_tag, s),
        }
    }

    fn flag(&mut self, tag: u8, on: bool) {
        if on {
            self.field(tag, &[]);
        }
    }

    fn uint(&mut self, tag: u8, v: u64) {
        if v != 0 {
            let mut buf = Vec::with_capacity(10);
            put_varint(&mut buf, v);
            self.field(tag, &buf);
        }
    }

    fn int(&mut self, tag: u8, v: i64) {
        // Zig-zag: small magnitudes of either sign stay short.
        #[allow(clippy::cast_sign_loss)]
        self.uint(tag, ((v << 1) ^ (v >> 63)) as u64);
    }

    fn json<T: serde::Serialize>(&mut self, tag: u8, v: Option<&T>) {
        if let Some(v) = v {
            let text = serde_json::to_vec(v).expect("records always serialise");
            self.field(tag, &text);
        }
    }

    /// A nested value, left out when it has no field.
    fn nested(&mut self, tag: u8, fill: impl FnOnce(&mut Self)) {
        let mut inner = Self(Vec::new());
        fill(&mut inner);
        if !inner.0.is_empty() {
            self.field(tag, &inner.0);
        }
    }

    /// A nested value, kept even without fields (a repeated one: a segment, a map entry).
    fn nested_always(&mut self, tag: u8, fill: impl FnOnce(&mut Self)) {
        let mut inner = Self(Vec::new());
        fill(&mut inner);
        self.field(tag, &inner.0);
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        #[allow(clippy::cast_possible_truncation)]
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    #[allow(clippy::cast_possible_truncation)]
    out.push(v as u8);
}

/// Reads a LEB128 integer from the front of `bytes`; returns it and the bytes it took.
fn get_varint(bytes: &[u8]) -> Result<(u64, usize), StoreError> {
    let mut v: u64 = 0;
    for (i, b) in bytes.iter().enumerate().take(10) {
        let part = u64::from(b & 0x7f);
        if i == 9 && part > 1 {
            return Err(corrupt("an integer over 64 bits"));
        }
        v |= part << (7 * i);
        if b & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    Err(corrupt("a cut integer"))
}

/// The `(tag, payload)` fields of a payload, in order; an error ends the walk.
struct Fields<'a>(&'a [u8]);

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u8, &'a [u8]), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&tag, rest) = self.0.split_first()?;
        let field = get_varint(rest).and_then(|(len, used)| {
            let rest = &rest[used..];
            match usize::try_from(len) {
                Ok(len) if len <= rest.len() => Ok((tag, &rest[..len], &rest[len..])),
                _ => Err(corrupt("a field longer than its record")),
            }
        });
        match field {
            Ok((tag, payload, rest)) => {
                self.0 = rest;
                Some(Ok((tag, payload)))
            }
            Err(e) => {
                self.0 = &[];
                Some(Err(e))
            }
        }
    }
}

fn text(p: &[u8]) -> Result<String, StoreError> {
    String::from_utf8(p.to_vec()).map_err(|_| corrupt("text that is not UTF-8"))
}

fn uint(p: &[u8]) -> Result<u64, StoreError> {
    match get_varint(p)? {
        (v, used) if used == p.len() => Ok(v),
        _ => Err(corrupt("an integer field with trailing bytes")),
    }
}

fn int(p: &[u8]) -> Result<i64, StoreError> {
    let z = uint(p)?;
    #[allow(clippy::cast_possible_wrap)]
    Ok((z >> 1) as i64 ^ -((z & 1) as i64))
}

fn json<T: serde::de::DeserializeOwned>(p: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(p).map_err(|e| corrupt(&format!("a JSON field: {e}")))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("record format 2: {what}"))
}

fn unknown(within: &str, tag: u8) -> StoreError {
    StoreError::Corrupt(format!(
        "record format 2: {within} field {tag} is not known to this build (written by a newer one?)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_checksum_type(ty: Option<ChecksumType>) -> VersionRecord {
        let mut rec = VersionRecord::delete_marker("k", 1);
        rec.delete_marker = false;
        rec.version_id = "0123456789abcdef".into();
        rec.checksums = Checksums {
            crc64nvme: Some("CRSFynAYcw4=".into()),
            checksum_type: ty,
            ..Checksums::default()
        };
        rec
    }

    #[test]
    fn checksum_types_are_kept_as_s3_names_and_nothing_else_decodes() {
        for ty in [
            None,
            Some(ChecksumType::FullObject),
            Some(ChecksumType::Composite),
        ] {
            let bytes = encode_version([0, 2], &with_checksum_type(ty));
            let back = decode_version(&bytes[2..]).expect("decodes");
            assert_eq!(back.checksums.checksum_type, ty);
        }
        let mut bytes = encode_version([0, 2], &with_checksum_type(Some(ChecksumType::FullObject)));
        let at = bytes
            .windows(11)
            .position(|w| w == b"FULL_OBJECT")
            .expect("stored as its S3 name");
        bytes[at..at + 11].copy_from_slice(b"NOT_A_TYPE!");
        let err = decode_version(&bytes[2..]).expect_err("an unknown type is refused");
        assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    }

    #[test]
    fn storage_classes_are_kept_as_aws_names_an_empty_one_is_standard_and_nothing_else_decodes() {
        for class in StorageClass::ALL {
            let mut rec = with_checksum_type(None);
            rec.storage_class = class;
            let bytes = encode_version([0, 2], &rec);
            let back = decode_version(&bytes[2..]).expect("decodes");
            assert_eq!(back.storage_class, class);
        }
        // As early delete markers were written: an empty class field.
        let mut w = Writer(vec![0, 2]);
        w.text(KEY, "k");
        w.text(STORAGE_CLASS, "");
        let back = decode_version(&w.0[2..]).expect("decodes");
        assert_eq!(back.storage_class, StorageClass::Standard);
        let mut w = Writer(vec![0, 2]);
        w.text(KEY, "k");
        w.text(STORAGE_CLASS, "FROZEN");
        let err = decode_version(&w.0[2..]).expect_err("an unknown class is refused");
        assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    }
}
