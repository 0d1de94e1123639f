//! Byte encodings of table keys.
//!
//! Object versions are keyed `bucket 0x00 key 0x00 !seq(u64 BE)`: all versions of a key are
//! adjacent, newest first, and keys sort in S3's (UTF-8 byte) order because object keys may
//! not contain NUL and 0x00 sorts before every other byte. DO NOT CHANGE: stored databases
//! depend on this order.

/// The key of one object version.
#[must_use]
pub fn version_key(bucket: &str, key: &str, seq: u64) -> Vec<u8> {
    let mut k = key_prefix(bucket, key);
    k.extend_from_slice(&(!seq).to_be_bytes());
    k
}

/// `bucket 0x00 key 0x00`: the common prefix of all versions of `key`.
#[must_use]
pub fn key_prefix(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = bucket_prefix(bucket);
    k.extend_from_slice(key.as_bytes());
    k.push(0);
    k
}

/// `bucket 0x00`: the common prefix of every version in the bucket.
#[must_use]
pub fn bucket_prefix(bucket: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(bucket.len() + 1);
    k.extend_from_slice(bucket.as_bytes());
    k.push(0);
    k
}

/// The smallest table key after every version of `key` (and of no other key).
#[must_use]
pub fn after_key(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = bucket_prefix(bucket);
    k.extend_from_slice(key.as_bytes());
    k.push(1);
    k
}

/// The smallest table key after every key that starts with `prefix`.
/// Keys are UTF-8, which never contains 0xFF.
#[must_use]
pub fn after_prefix(bucket: &str, prefix: &str) -> Vec<u8> {
    let mut k = bucket_prefix(bucket);
    k.extend_from_slice(prefix.as_bytes());
    k.push(0xFF);
    k
}

/// The smallest table key after the whole bucket.
#[must_use]
pub fn bucket_end(bucket: &str) -> Vec<u8> {
    let mut k = bucket.as_bytes().to_vec();
    k.push(1);
    k
}

/// The bucket of a version key (`bucket 0x00 key 0x00 seq`).
#[must_use]
pub fn bucket_of(table_key: &[u8]) -> &str {
    let end = table_key
        .iter()
        .position(|b| *b == 0)
        .unwrap_or(table_key.len());
    std::str::from_utf8(&table_key[..end]).unwrap_or_default()
}

/// Splits a version key into (object key, seq).
#[must_use]
pub fn split_version_key(bucket: &str, raw: &[u8]) -> Option<(String, u64)> {
    let rest = raw.strip_prefix(bucket.as_bytes())?.strip_prefix(&[0])?;
    if rest.len() < 9 {
        return None;
    }
    let (key, tail) = rest.split_at(rest.len() - 9);
    let seq = u64::from_be_bytes(tail[1..].try_into().ok()?);
    Some((String::from_utf8(key.to_vec()).ok()?, !seq))
}

/// The key of one multipart part: `upload_id 0x00 part_number(u32 BE)`.
#[must_use]
pub fn part_key(upload_id: &str, part_number: i32) -> Vec<u8> {
    let mut k = upload_id.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&part_number.cast_unsigned().to_be_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_newest_first_and_keys_in_byte_order() {
        let mut all = [
            version_key("b", "a/b", 5),
            version_key("b", "a", 1),
            version_key("b", "a", 7),
            version_key("b", "a!", 2),
            version_key("b", "\u{e9}", 3),
        ];
        all.sort();
        let decoded: Vec<_> = all
            .iter()
            .map(|k| split_version_key("b", k).unwrap())
            .collect();
        assert_eq!(
            decoded,
            vec![
                ("a".to_string(), 7),
                ("a".to_string(), 1),
                ("a!".to_string(), 2),
                ("a/b".to_string(), 5),
                ("\u{e9}".to_string(), 3),
            ]
        );
        assert!(after_key("b", "a") > version_key("b", "a", 0));
        assert!(after_key("b", "a") < version_key("b", "a!", 0));
        assert!(after_prefix("b", "a") > version_key("b", "a/zzz", 0));
        assert!(bucket_end("b") > version_key("b", "\u{10ffff}", 0));
        assert!(bucket_end("b") < version_key("b0", "", 0));
    }
}
