//! Dual-layer data (DSSE-KMS, envelope format 2) through the engine's writer and reader: two
//! independent data keys, both wrapped by the keyring key; ranged reads across chunk
//! boundaries; the file is two tags per chunk longer; any flipped byte, another key or another
//! encryption context fails cleanly.

use leadshop_store::crypto::{self, CHUNK_LEN, Key};
use leadshop_store::data::{outer_binding, wrap_binding};
use leadshop_store::{MasterKey, MasterKeys, Segment, SseAlgorithm, Store, Wrapping};

const KEY_ID: &str = "1234abcd-0000-0000-0000-000000000001";

fn write(store: &Store, key: &Key, algorithm: SseAlgorithm, context: &str, data: &[u8]) -> Segment {
    let mut w = store
        .writer_wrapped(Wrapping {
            key,
            algorithm,
            key_id: KEY_ID,
            context: Some(context),
        })
        .unwrap();
    w.write(data).unwrap();
    let s = w.seal().unwrap();
    Segment {
        file: s.file,
        len: s.len,
        envelope: s.envelope,
        part_checksums: None,
        inline: false,
    }
}

fn path(dir: &std::path::Path, seg: &Segment) -> std::path::PathBuf {
    let name = seg.file.to_string();
    dir.join("objects").join(&name[..2]).join(name)
}

#[test]
fn dual_layer_round_trips_and_fails_cleanly_when_anything_differs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        dir.path(),
        Some(MasterKeys::new(MasterKey {
            id: "mk".into(),
            key: Key::from_bytes([3; 32]),
        })),
    )
    .unwrap();
    let kms = Key::from_bytes([5; 32]);
    let len = 3 * CHUNK_LEN + 1234;
    let data: Vec<u8> = (0..len).map(|i| (i * 31 % 253) as u8).collect();
    let dual = write(&store, &kms, SseAlgorithm::KmsDsse, "{}", &data);
    let single = write(&store, &kms, SseAlgorithm::Kms, "{}", &data);
    let env = dual.envelope.as_ref().unwrap();
    assert_eq!(env.format, crypto::FORMAT_DUAL);
    assert_eq!(single.envelope.as_ref().unwrap().format, crypto::FORMAT);

    // Two independent data keys: unwrapped with the keyring key, they differ.
    let inner_wrap = hex::decode(&env.wrapped_key).unwrap();
    let outer_wrap = hex::decode(env.outer_wrapped_key.as_ref().unwrap()).unwrap();
    let inner = crypto::unwrap_key(&kms, &wrap_binding(KEY_ID, Some("{}")), &inner_wrap).unwrap();
    let outer = crypto::unwrap_key(&kms, &outer_binding(KEY_ID, Some("{}")), &outer_wrap).unwrap();
    assert!(
        !inner.same_as(&outer),
        "the two layers must not share a key"
    );
    assert!(inner.same_as(&inner.clone()), "same_as is not always false");
    // Each key opens only its own layer: the same keys, wrapped the other way round (validly),
    // read nothing. (Were the two keys one key, this would read.)
    let mut swapped = dual.clone();
    let e = swapped.envelope.as_mut().unwrap();
    e.wrapped_key =
        hex::encode(crypto::wrap_key(&kms, &wrap_binding(KEY_ID, Some("{}")), &outer).unwrap());
    e.outer_wrapped_key = Some(hex::encode(
        crypto::wrap_key(&kms, &outer_binding(KEY_ID, Some("{}")), &inner).unwrap(),
    ));
    let e = store.read_segment(&swapped, Some(&kms), 0, 10).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");

    // On disk: an 8-byte header, then every 64 KiB chunk followed by one 16-byte GCM tag per
    // layer (the last chunk may be short; an empty object is one empty chunk).
    let header = 8u64;
    let chunks = (len as u64).div_ceil(CHUNK_LEN as u64).max(1);
    assert_eq!(chunks, 4);
    assert_eq!(
        std::fs::metadata(path(dir.path(), &dual)).unwrap().len(),
        header + len as u64 + chunks * 2 * 16
    );
    assert_eq!(
        std::fs::metadata(path(dir.path(), &single)).unwrap().len(),
        header + len as u64 + chunks * 16
    );

    let c = CHUNK_LEN;
    for (start, end) in [
        (0, len),
        (0, 1),
        (c - 1, c + 1),
        (c, 2 * c),
        (2 * c + 5, len),
        (len - 1, len),
    ] {
        assert_eq!(
            store
                .read_segment(&dual, Some(&kms), start as u64, end - start)
                .unwrap(),
            &data[start..end],
            "{start}..{end}"
        );
    }

    // Another keyring key, or a different encryption context, opens nothing.
    let e = store
        .read_segment(&dual, Some(&Key::from_bytes([6; 32])), 0, 10)
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
    let mut other_context = dual.clone();
    other_context.envelope.as_mut().unwrap().context = Some(r#"{"a":"b"}"#.into());
    let e = store
        .read_segment(&other_context, Some(&kms), 0, 10)
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
    // Dropping the outer layer from the envelope (claiming format 1) does not read.
    let mut downgraded = dual.clone();
    let e = downgraded.envelope.as_mut().unwrap();
    e.format = crypto::FORMAT;
    e.outer_wrapped_key = None;
    let e = store
        .read_segment(&downgraded, Some(&kms), 0, 10)
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");

    // A flipped byte in the file fails the chunk it is in, whichever layer it hits.
    let p = path(dir.path(), &dual);
    let original = std::fs::read(&p).unwrap();
    for at in [
        header as usize + 10,
        header as usize + c + 16 + 20,
        original.len() - 1,
    ] {
        let mut bad = original.clone();
        bad[at] ^= 0x40;
        std::fs::write(&p, &bad).unwrap();
        let e = store.read_segment(&dual, Some(&kms), 0, len).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
    }
    std::fs::write(&p, &original).unwrap();
    assert_eq!(store.read_segment(&dual, Some(&kms), 0, len).unwrap(), data);
}
