//! How records become bytes and back: the leading `RECORD_TAG, format` bytes, format 1 (JSON)
//! for buckets, uploads and parts, format 2 ([`super::compact`]) for versions.

use serde::{Serialize, de::DeserializeOwned};

use super::{BucketRecord, PartRecord, UploadRecord, VersionRecord, compact};
use crate::StoreError;

/// First byte of every record. DO NOT CHANGE: existing databases carry it.
const RECORD_TAG: u8 = b'L';
/// Record format 1: JSON. DO NOT CHANGE its meaning.
const FORMAT_JSON: u8 = 1;
/// Record format 2: tagged binary fields ([`compact`]), versions only. DO NOT CHANGE its
/// meaning; a format 3 comes with a migration.
pub(crate) const FORMAT_COMPACT: u8 = 2;

/// A record of the metadata database: how it is written, and the formats it is read from.
pub(crate) trait Record: Sized {
    /// The record's bytes, in the format this build writes.
    fn to_bytes(&self) -> Vec<u8>;
    /// A record from bytes of any format this build reads.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`]: an unknown format, or bytes that are not a record.
    fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError>;
}

pub(crate) fn encode<T: Record>(value: &T) -> Vec<u8> {
    value.to_bytes()
}

pub(crate) fn decode<T: Record>(bytes: &[u8]) -> Result<T, StoreError> {
    T::from_bytes(bytes)
}

/// The record's format byte, if it has the leadshop tag.
pub(crate) fn format_of(bytes: &[u8]) -> Option<u8> {
    match bytes {
        [RECORD_TAG, format, ..] => Some(*format),
        _ => None,
    }
}

fn encode_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![RECORD_TAG, FORMAT_JSON];
    serde_json::to_writer(&mut out, value).expect("records always serialise");
    out
}

fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    match bytes {
        [RECORD_TAG, FORMAT_JSON, json @ ..] => {
            serde_json::from_slice(json).map_err(|e| StoreError::Corrupt(e.to_string()))
        }
        [RECORD_TAG, v, ..] => Err(StoreError::Corrupt(format!(
            "record format {v} is newer than this build"
        ))),
        _ => Err(StoreError::Corrupt("record without leadshop tag".into())),
    }
}

macro_rules! json_records {
    ($($t:ty),*) => {$(
        impl Record for $t {
            fn to_bytes(&self) -> Vec<u8> {
                encode_json(self)
            }
            fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
                decode_json(bytes)
            }
        }
    )*};
}

json_records!(BucketRecord, UploadRecord, PartRecord);

impl Record for VersionRecord {
    fn to_bytes(&self) -> Vec<u8> {
        compact::encode_version([RECORD_TAG, FORMAT_COMPACT], self)
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
        match bytes {
            [RECORD_TAG, FORMAT_COMPACT, body @ ..] => compact::decode_version(body),
            _ => decode_json(bytes),
        }
    }
}

/// The versioning state of a bucket record, without building its configuration documents:
/// every object write in a transaction needs only this, and decoding the documents (policy,
/// CORS, lifecycle, … as `serde_json::Value` trees) was 5 % of the server's CPU on small PUTs.
/// The documents are skipped by the JSON parser without allocating.
pub(crate) fn bucket_versioning(bytes: &[u8]) -> Result<super::VersioningState, StoreError> {
    #[derive(serde::Deserialize)]
    struct Versioning {
        versioning: super::VersioningState,
    }
    decode_json::<Versioning>(bytes).map(|v| v.versioning)
}

/// The versioning state and the replication configuration of a bucket record, what a write
/// needs in its transaction; the other documents are skipped as by [`bucket_versioning`].
pub(crate) fn bucket_facts(
    bytes: &[u8],
) -> Result<
    (
        super::VersioningState,
        Option<leadshop_spec::replication::ReplicationConfiguration>,
    ),
    StoreError,
> {
    #[derive(serde::Deserialize)]
    struct Documents {
        #[serde(default, rename = "replication")] // super::REPLICATION_DOC
        replication: Option<leadshop_spec::replication::ReplicationConfiguration>,
    }
    #[derive(serde::Deserialize)]
    struct Facts {
        versioning: super::VersioningState,
        #[serde(default)]
        documents: Option<Documents>,
    }
    decode_json::<Facts>(bytes).map(|f| (f.versioning, f.documents.and_then(|d| d.replication)))
}

/// A version in format 1 (JSON), as builds before format 2 wrote it: for the migration's
/// tests.
#[cfg(test)]
pub(crate) fn encode_version_json(rec: &VersionRecord) -> Vec<u8> {
    encode_json(rec)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::VersioningState;
    use super::*;

    #[test]
    fn bucket_versioning_reads_only_the_state_of_any_record() {
        for state in [
            VersioningState::Unversioned,
            VersioningState::Enabled,
            VersioningState::Suspended,
        ] {
            let mut documents = BTreeMap::new();
            documents.insert(
                "policy".to_string(),
                serde_json::json!({"Statement": [{"Effect": "Deny", "versioning": "Enabled"}]}),
            );
            documents.insert("tagging".to_string(), serde_json::json!(["a", {"b": 1}]));
            let b = BucketRecord {
                name: "b".into(),
                created_ms: 1,
                region: "us-east-1".into(),
                versioning: state,
                documents,
            };
            let bytes = encode(&b);
            assert_eq!(bucket_versioning(&bytes).unwrap(), state);
            let mut newer = bytes.clone();
            newer[1] = 3;
            assert!(bucket_versioning(&newer).is_err());
            assert!(bucket_versioning(&bytes[..bytes.len() - 1]).is_err());
        }
    }
}
