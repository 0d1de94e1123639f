//! The encryption envelope format for object data (DESIGN.md §4): every data file and inline
//! segment the store writes is sealed with it ([`crate::DataWriter`]; not in the benchmark-only
//! unencrypted build) and opened with it by the readers, under the data key each version's
//! envelope wraps.
//!
//! Format 1 — DO NOT CHANGE; stored data depends on every constant here:
//! - Each object version (or part) has its own random 256-bit data key.
//! - Plaintext is cut into [`CHUNK_LEN`]-byte chunks; an object has at least one chunk (an
//!   empty object has one empty chunk, so truncating it to nothing is detected).
//! - Chunk `i` is sealed with AES-256-GCM under the data key, nonce = `0u32 BE ‖ i u64 BE`
//!   (unique per key, since the key is unique per object), and associated data
//!   `"LSCHUNK1" ‖ binding (16 bytes) ‖ i u64 BE ‖ final u8`. The binding (the data file id)
//!   stops chunks moving between objects; the index stops reordering; the final flag stops
//!   truncation at a chunk boundary. Ciphertext chunk = plaintext ‖ 16-byte tag.
//! - The data key is wrapped by a master key: AES-256-GCM, random 96-bit nonce, associated data
//!   `"LSDEK1" ‖ key id`, stored as `nonce ‖ ciphertext ‖ tag` in the version's envelope.
//!
//!
//! Format 2 (dual layer, `aws:kms:dsse`) — DO NOT CHANGE either: every format-1 sealed chunk
//! (plaintext ‖ tag) is sealed again, as a whole, under a second and independent data key,
//! with the same nonce and associated data except the magic `"LSCHUNK2"`. A chunk on disk is
//! plaintext ‖ inner tag ‖ outer tag. Both data keys are wrapped by the same keyring key; the
//! outer one's wrap binding ends in `"\nouter"`.
//!
//! Ranged reads decrypt only the chunks they touch ([`chunk_range`]).

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// Plaintext bytes per chunk. DO NOT CHANGE (format 1).
pub const CHUNK_LEN: usize = 64 * 1024;
/// AES-GCM tag length.
pub const TAG_LEN: usize = 16;
/// Envelope format version.
pub const FORMAT: u8 = 1;
/// Envelope format of dual-layer data (`aws:kms:dsse`).
pub const FORMAT_DUAL: u8 = 2;
const CHUNK_AAD_MAGIC: &[u8; 8] = b"LSCHUNK1";
const OUTER_CHUNK_AAD_MAGIC: &[u8; 8] = b"LSCHUNK2";
const WRAP_AAD_MAGIC: &[u8; 6] = b"LSDEK1";

/// Decryption or key failures. Deliberately uninformative about *which* check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The data was altered, truncated, reordered, swapped, or the key is wrong.
    #[error("authentication failed: the data was altered or the key is wrong")]
    Authentication,
    /// The system random generator failed.
    #[error("no randomness available")]
    Random,
}

/// A 256-bit key (data key or master key). Not `Debug`: keys never reach logs.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl Key {
    /// A fresh random key.
    ///
    /// # Errors
    /// [`CryptoError::Random`].
    pub fn generate() -> Result<Self, CryptoError> {
        let mut k = [0u8; 32];
        SystemRandom::new()
            .fill(&mut k)
            .map_err(|_| CryptoError::Random)?;
        Ok(Self(k))
    }

    /// A key from its bytes (a master key read from its file).
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Whether two keys are the same, in constant time (tests prove layers use distinct keys).
    #[must_use]
    pub fn same_as(&self, other: &Self) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).expect("32-byte key"))
    }
}

/// Number of chunks of a `len`-byte plaintext (at least one).
#[must_use]
pub fn chunk_count(len: u64) -> u64 {
    len.div_ceil(CHUNK_LEN as u64).max(1)
}

/// Size on disk of a `len`-byte plaintext sealed in `layers` layers (1, or 2 for format 2).
#[must_use]
pub fn ciphertext_len(len: u64, layers: u64) -> u64 {
    len + chunk_count(len) * layers * TAG_LEN as u64
}

/// For a plaintext byte range `start..end` of an object of `len` bytes sealed in `layers`
/// layers: the chunks to read (`first..=last`), where their ciphertext starts, and how many
/// plaintext bytes of the first decrypted chunk to skip.
#[must_use]
pub fn chunk_range(start: u64, end: u64, len: u64, layers: u64) -> (u64, u64, u64, usize) {
    let c = CHUNK_LEN as u64;
    let first = start / c;
    let last = if end <= start {
        first
    } else {
        ((end - 1) / c).min(chunk_count(len) - 1)
    };
    let offset = first * (c + layers * TAG_LEN as u64);
    (
        first,
        last,
        offset,
        usize::try_from(start - first * c).unwrap_or(0),
    )
}

/// Seals and opens the chunks of one object version.
pub struct ChunkCipher {
    key: LessSafeKey,
    binding: [u8; 16],
    magic: &'static [u8; 8],
}

impl ChunkCipher {
    /// A cipher for the object whose data file is `binding` (its 128-bit id).
    #[must_use]
    pub fn new(data_key: &Key, binding: [u8; 16]) -> Self {
        Self {
            key: data_key.aead(),
            binding,
            magic: CHUNK_AAD_MAGIC,
        }
    }

    /// The second layer of format 2: seals chunks already sealed by [`ChunkCipher::new`].
    #[must_use]
    pub fn outer(data_key: &Key, binding: [u8; 16]) -> Self {
        Self {
            key: data_key.aead(),
            binding,
            magic: OUTER_CHUNK_AAD_MAGIC,
        }
    }

    fn nonce(index: u64) -> Nonce {
        let mut n = [0u8; NONCE_LEN];
        n[4..].copy_from_slice(&index.to_be_bytes());
        Nonce::assume_unique_for_key(n)
    }

    fn aad(&self, index: u64, last: bool) -> [u8; 33] {
        let mut a = [0u8; 33];
        a[..8].copy_from_slice(self.magic);
        a[8..24].copy_from_slice(&self.binding);
        a[24..32].copy_from_slice(&index.to_be_bytes());
        a[32] = u8::from(last);
        a
    }

    /// Encrypts chunk `index` in place and appends its tag.
    pub fn seal(&self, index: u64, last: bool, chunk: &mut Vec<u8>) {
        debug_assert!(chunk.len() <= CHUNK_LEN + TAG_LEN);
        self.key
            .seal_in_place_append_tag(Self::nonce(index), Aad::from(self.aad(index, last)), chunk)
            .expect("chunk fits AES-GCM limits");
    }

    /// Decrypts chunk `index` (ciphertext ‖ tag) in place; returns the plaintext.
    ///
    /// # Errors
    /// [`CryptoError::Authentication`] for any alteration.
    pub fn open<'a>(
        &self,
        index: u64,
        last: bool,
        chunk: &'a mut [u8],
    ) -> Result<&'a mut [u8], CryptoError> {
        self.key
            .open_in_place(Self::nonce(index), Aad::from(self.aad(index, last)), chunk)
            .map_err(|_| CryptoError::Authentication)
    }
}

/// Wraps a data key under a master key (`nonce ‖ ciphertext ‖ tag`).
///
/// # Errors
/// [`CryptoError::Random`].
pub fn wrap_key(master: &Key, key_id: &str, data_key: &Key) -> Result<Vec<u8>, CryptoError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| CryptoError::Random)?;
    let mut buf = data_key.0.to_vec();
    master
        .aead()
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(wrap_aad(key_id)),
            &mut buf,
        )
        .map_err(|_| CryptoError::Authentication)?;
    let mut out = nonce.to_vec();
    out.extend(buf);
    Ok(out)
}

/// Unwraps a data key.
///
/// # Errors
/// [`CryptoError::Authentication`] for a wrong master key, key id or altered envelope.
pub fn unwrap_key(master: &Key, key_id: &str, wrapped: &[u8]) -> Result<Key, CryptoError> {
    if wrapped.len() != NONCE_LEN + 32 + TAG_LEN {
        return Err(CryptoError::Authentication);
    }
    let nonce: [u8; NONCE_LEN] = wrapped[..NONCE_LEN]
        .try_into()
        .map_err(|_| CryptoError::Authentication)?;
    let mut buf = wrapped[NONCE_LEN..].to_vec();
    let plain = master
        .aead()
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(wrap_aad(key_id)),
            &mut buf,
        )
        .map_err(|_| CryptoError::Authentication)?;
    let bytes: [u8; 32] = plain.try_into().map_err(|_| CryptoError::Authentication)?;
    Ok(Key(bytes))
}

/// Seals a small secret (an access key's secret) under a master key: `nonce ‖ ciphertext ‖
/// tag`, with `label` (e.g. the access key id) bound as associated data in a domain of its own,
/// so a sealed secret can never pass for a wrapped data key or for another key's secret.
///
/// # Errors
/// [`CryptoError::Random`].
pub fn seal_secret(master: &Key, label: &str, secret: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| CryptoError::Random)?;
    let mut buf = secret.to_vec();
    master
        .aead()
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(secret_aad(label)),
            &mut buf,
        )
        .map_err(|_| CryptoError::Authentication)?;
    let mut out = nonce.to_vec();
    out.extend(buf);
    Ok(out)
}

/// Opens what [`seal_secret`] sealed.
///
/// # Errors
/// [`CryptoError::Authentication`] for a wrong master key or label, or altered bytes.
pub fn open_secret(master: &Key, label: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Authentication);
    }
    let nonce: [u8; NONCE_LEN] = sealed[..NONCE_LEN]
        .try_into()
        .map_err(|_| CryptoError::Authentication)?;
    let mut buf = sealed[NONCE_LEN..].to_vec();
    let plain = master
        .aead()
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(secret_aad(label)),
            &mut buf,
        )
        .map_err(|_| CryptoError::Authentication)?;
    Ok(plain.to_vec())
}

fn secret_aad(label: &str) -> Vec<u8> {
    let mut a = b"leadshop-secret\x01".to_vec();
    a.extend_from_slice(label.as_bytes());
    a
}

fn wrap_aad(key_id: &str) -> Vec<u8> {
    let mut a = WRAP_AAD_MAGIC.to_vec();
    a.extend_from_slice(key_id.as_bytes());
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Refused as tampered or wrongly keyed (not for any other reason).
    fn refused<T>(r: Result<T, CryptoError>) -> bool {
        matches!(r, Err(CryptoError::Authentication))
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_label() {
        let master = Key::generate().unwrap();
        let sealed = seal_secret(&master, "AKIA1", b"s3cret").unwrap();
        assert_eq!(open_secret(&master, "AKIA1", &sealed).unwrap(), b"s3cret");
        assert!(refused(open_secret(&master, "AKIA2", &sealed)));
        assert!(refused(open_secret(
            &Key::generate().unwrap(),
            "AKIA1",
            &sealed
        )));
        let mut flipped = sealed.clone();
        flipped[NONCE_LEN] ^= 1;
        assert!(refused(open_secret(&master, "AKIA1", &flipped)));
    }

    /// The layers of one object: format 1 (inner only) or format 2 (inner and outer).
    struct Layers {
        inner: ChunkCipher,
        outer: Option<ChunkCipher>,
    }

    impl Layers {
        fn single(key: &Key, binding: [u8; 16]) -> Self {
            Self {
                inner: ChunkCipher::new(key, binding),
                outer: None,
            }
        }

        fn dual(key: &Key, outer: &Key, binding: [u8; 16]) -> Self {
            Self {
                inner: ChunkCipher::new(key, binding),
                outer: Some(ChunkCipher::outer(outer, binding)),
            }
        }

        fn count(&self) -> u64 {
            1 + u64::from(self.outer.is_some())
        }

        fn open<'a>(
            &self,
            i: u64,
            last: bool,
            c: &'a mut [u8],
        ) -> Result<&'a mut [u8], CryptoError> {
            let c = match &self.outer {
                Some(o) => o.open(i, last, c)?,
                None => c,
            };
            self.inner.open(i, last, c)
        }
    }

    fn encrypt(layers: &Layers, plain: &[u8]) -> Vec<Vec<u8>> {
        let n = chunk_count(plain.len() as u64);
        (0..n)
            .map(|i| {
                let s = usize::try_from(i).unwrap() * CHUNK_LEN;
                let mut c = plain[s.min(plain.len())..(s + CHUNK_LEN).min(plain.len())].to_vec();
                layers.inner.seal(i, i == n - 1, &mut c);
                if let Some(o) = &layers.outer {
                    o.seal(i, i == n - 1, &mut c);
                }
                c
            })
            .collect()
    }

    fn decrypt_range(
        layers: &Layers,
        chunks: &[Vec<u8>],
        len: u64,
        start: u64,
        end: u64,
    ) -> Result<Vec<u8>, CryptoError> {
        let (first, last, _, skip) = chunk_range(start, end, len, layers.count());
        let n = chunk_count(len);
        let mut out = Vec::new();
        for i in first..=last {
            let mut c = chunks
                .get(usize::try_from(i).unwrap())
                .ok_or(CryptoError::Authentication)?
                .clone();
            out.extend_from_slice(layers.open(i, i == n - 1, &mut c)?);
        }
        Ok(out[skip..skip + usize::try_from(end - start).unwrap()].to_vec())
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn round_trips_at_every_chunk_boundary_and_range() {
        let (key, outer) = (Key::generate().unwrap(), Key::generate().unwrap());
        for cipher in [
            Layers::single(&key, [7; 16]),
            Layers::dual(&key, &outer, [7; 16]),
        ] {
            round_trips(&cipher);
        }
    }

    fn round_trips(cipher: &Layers) {
        let c = CHUNK_LEN;
        for len in [0, 1, c - 1, c, c + 1, 2 * c, 2 * c + 17, 3 * c - 1] {
            let plain = data(len);
            let chunks = encrypt(cipher, &plain);
            let on_disk: usize = chunks.iter().map(Vec::len).sum();
            assert_eq!(
                on_disk as u64,
                ciphertext_len(len as u64, cipher.count()),
                "len {len}"
            );
            let points: Vec<usize> = [0, 1, c - 1, c, c + 1, 2 * c, len.saturating_sub(1), len]
                .into_iter()
                .filter(|p| *p <= len)
                .collect();
            for &s in &points {
                for &e in &points {
                    if s < e {
                        let got =
                            decrypt_range(cipher, &chunks, len as u64, s as u64, e as u64).unwrap();
                        assert_eq!(got, &plain[s..e], "len {len} range {s}..{e}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_tampering_is_detected() {
        let (key, outer) = (Key::generate().unwrap(), Key::generate().unwrap());
        tampering_is_detected(&key, &Layers::single(&key, [1; 16]), |k, b| {
            Layers::single(k, b)
        });
        tampering_is_detected(&key, &Layers::dual(&key, &outer, [1; 16]), |k, b| {
            Layers::dual(k, &outer, b)
        });
        // Either layer's key alone, or the layers swapped, opens nothing.
        let plain = data(1000);
        let chunks = encrypt(&Layers::dual(&key, &outer, [1; 16]), &plain);
        let wrong_outer = Layers::dual(&key, &Key::generate().unwrap(), [1; 16]);
        assert!(refused(decrypt_range(&wrong_outer, &chunks, 1000, 0, 1000)));
        let swapped = Layers::dual(&outer, &key, [1; 16]);
        assert!(refused(decrypt_range(&swapped, &chunks, 1000, 0, 1000)));
        assert!(refused(decrypt_range(
            &Layers::single(&key, [1; 16]),
            &chunks,
            1000,
            0,
            1000
        )));
    }

    fn tampering_is_detected(
        key: &Key,
        cipher: &Layers,
        with_key: impl Fn(&Key, [u8; 16]) -> Layers,
    ) {
        let len = 2 * CHUNK_LEN + 100;
        let plain = data(len);
        let chunks = encrypt(cipher, &plain);
        // Bit flips anywhere in a chunk (sampled) or its tag.
        for (ci, chunk) in chunks.iter().enumerate() {
            for pos in (0..chunk.len()).step_by(997).chain([chunk.len() - 1]) {
                let mut bad = chunks.clone();
                bad[ci][pos] ^= 0x01;
                assert!(
                    refused(decrypt_range(cipher, &bad, len as u64, 0, len as u64)),
                    "flip in chunk {ci} at {pos}"
                );
            }
        }
        // Truncation at a chunk boundary: the new last chunk was not sealed as final.
        let truncated = &chunks[..2];
        let n_trunc = 2u64;
        let mut c1 = truncated[1].clone();
        assert!(refused(cipher.open(n_trunc - 1, true, &mut c1)));
        // Reordering chunks.
        let mut swapped = chunks.clone();
        swapped.swap(0, 1);
        assert!(refused(decrypt_range(
            cipher,
            &swapped,
            len as u64,
            0,
            2 * CHUNK_LEN as u64
        )));
        // A chunk from another object (same key even) does not open under this binding.
        let other = with_key(key, [2; 16]);
        let mut foreign = encrypt(&other, &plain)[0].clone();
        assert!(refused(cipher.open(0, false, &mut foreign)));
        // A wrong data key.
        let wrong = with_key(&Key::generate().unwrap(), [1; 16]);
        assert!(refused(decrypt_range(&wrong, &chunks, len as u64, 0, 10)));
        // The empty object is one authenticated empty chunk.
        let empty = encrypt(cipher, &[]);
        assert_eq!(empty.len(), 1);
        assert_eq!(
            empty[0].len(),
            TAG_LEN * usize::try_from(cipher.count()).unwrap()
        );
    }

    #[test]
    fn data_keys_wrap_and_unwrap_only_with_the_right_master_and_id() {
        let master = Key::generate().unwrap();
        let dek = Key::generate().unwrap();
        let wrapped = wrap_key(&master, "master-1", &dek).unwrap();
        assert_eq!(unwrap_key(&master, "master-1", &wrapped).unwrap().0, dek.0);
        assert!(refused(unwrap_key(&master, "master-2", &wrapped)));
        assert!(refused(unwrap_key(
            &Key::generate().unwrap(),
            "master-1",
            &wrapped
        )));
        let mut bad = wrapped.clone();
        bad[20] ^= 1;
        assert!(refused(unwrap_key(&master, "master-1", &bad)));
        assert!(refused(unwrap_key(&master, "master-1", &wrapped[..10])));
        // Two wraps of the same key differ (random nonce).
        assert_ne!(wrap_key(&master, "master-1", &dek).unwrap(), wrapped);
    }
}
