//! Dual-layer data (DSSE-KMS, envelope format 2) through the engine's writer and reader: two
//! independent data keys, both wrapped by the keyring key; ranged reads across chunk
//! boundaries; the file is two tags per chunk longer; any flipped byte, another key or another
//! encryption context fails cleanly.

use leadshop_store::crypto::{self, CHUNK_LEN, Key};
use leadshop_store::{
    MasterKey, MasterKeys, SSE_KMS_ALGORITHM, SSE_KMS_DSSE_ALGORITHM, Segment, Store, Wrapping,
};

fn write(store: &Store, key: &Key, algorithm: &str, context: &str, data: &[u8]) -> Segment {
    let mut w = store
        .writer_wrapped(Wrapping {
            key,
            algorithm,
            key_id: "1234abcd-0000-0000-0000-000000000001",
            context: Some(context),
        })
        .unwrap();
    w.write(data).unwrap();
    let s = w.seal().unwrap();
    Segment {
        file: s.file,
        len: s.len,
        envelope: s.envelope,
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
    let dual = write(&store, &kms, SSE_KMS_DSSE_ALGORITHM, "{}", &data);
    let single = write(&store, &kms, SSE_KMS_ALGORITHM, "{}", &data);
    let env = dual.envelope.as_ref().unwrap();
    assert_eq!(env.format, crypto::FORMAT_DUAL);
    assert!(
        env.outer_wrapped_key.is_some() && env.outer_wrapped_key.as_ref() != Some(&env.wrapped_key)
    );
    assert_eq!(single.envelope.as_ref().unwrap().format, crypto::FORMAT);

    // Two tags per chunk on disk, one for single-layer data.
    let header = 8;
    assert_eq!(
        std::fs::metadata(path(dir.path(), &dual)).unwrap().len(),
        header + crypto::ciphertext_len(len as u64, 2)
    );
    assert_eq!(
        std::fs::metadata(path(dir.path(), &single)).unwrap().len(),
        header + crypto::ciphertext_len(len as u64, 1)
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
    assert!(
        store
            .read_segment(&dual, Some(&Key::from_bytes([6; 32])), 0, 10)
            .is_err()
    );
    let mut other_context = dual.clone();
    other_context.envelope.as_mut().unwrap().context = Some(r#"{"a":"b"}"#.into());
    assert!(
        store
            .read_segment(&other_context, Some(&kms), 0, 10)
            .is_err()
    );
    // Dropping the outer layer from the envelope (claiming format 1) does not read.
    let mut downgraded = dual.clone();
    let e = downgraded.envelope.as_mut().unwrap();
    e.format = crypto::FORMAT;
    e.outer_wrapped_key = None;
    assert!(store.read_segment(&downgraded, Some(&kms), 0, 10).is_err());

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
