//! Reads decrypted where they were read (`Store::read_segment_in_place`, what GET responses
//! send): for every size around the chunk boundaries and every range, the pieces are exactly
//! the bytes asked for, in order, inside the buffer, and the same as `read_segment`'s; with
//! encryption (SSE-S3, one layer; DSSE-KMS, two) and without; a file cut short is an error.

use leadshop_store::crypto::{CHUNK_LEN, Key};
use leadshop_store::{MasterKey, MasterKeys, Segment, SseAlgorithm, Store, Wrapping};

fn segment(sealed: leadshop_store::SealedData) -> Segment {
    Segment {
        file: sealed.file,
        len: sealed.len,
        envelope: sealed.envelope,
        part_checksums: None,
        inline: false,
    }
}

fn check_every_range(store: &Store, seg: &Segment, key: Option<&Key>, data: &[u8]) {
    let len = data.len();
    let c = CHUNK_LEN;
    let mut points = vec![0, 1, c - 1, c, c + 1, 2 * c, len.saturating_sub(1), len];
    points.retain(|p| *p <= len);
    for &start in &points {
        for &end in &points {
            if end < start {
                continue;
            }
            let plain = store
                .read_segment_in_place(seg, key, start as u64, end - start)
                .unwrap();
            let mut joined = Vec::new();
            for r in &plain.ranges {
                assert!(
                    r.end <= plain.buf.len(),
                    "{start}..{end}: {r:?} outside the buffer"
                );
                assert!(!r.is_empty(), "{start}..{end}: an empty piece");
                joined.extend_from_slice(&plain.buf[r.clone()]);
            }
            assert_eq!(plain.len(), end - start);
            assert_eq!(joined, &data[start..end], "{start}..{end}");
            assert_eq!(
                plain.into_vec(),
                &data[start..end],
                "{start}..{end}, gathered"
            );
            assert_eq!(
                store
                    .read_segment(seg, key, start as u64, end - start)
                    .unwrap(),
                &data[start..end]
            );
        }
    }
}

/// A store under a master key (SSE-S3 on every object).
fn encrypted_store(dir: &std::path::Path) -> Store {
    Store::open(
        dir,
        Some(MasterKeys::new(MasterKey {
            id: "mk".into(),
            key: Key::from_bytes([3; 32]),
        })),
    )
    .unwrap()
}

fn sizes() -> Vec<usize> {
    vec![
        0,
        1,
        CHUNK_LEN - 1,
        CHUNK_LEN,
        CHUNK_LEN + 1,
        3 * CHUNK_LEN + 7,
    ]
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn sse_s3_and_dsse_reads_in_place_give_exactly_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let store = encrypted_store(dir.path());
    let kms = Key::from_bytes([5; 32]);
    for len in sizes() {
        let data = data(len);
        let mut w = store.writer().unwrap();
        w.write(&data).unwrap();
        let seg = segment(w.seal().unwrap());
        assert!(seg.envelope.is_some());
        check_every_range(&store, &seg, None, &data);

        let mut w = store
            .writer_wrapped(Wrapping {
                key: &kms,
                algorithm: SseAlgorithm::KmsDsse,
                key_id: "k",
                context: None,
            })
            .unwrap();
        w.write(&data).unwrap();
        let seg = segment(w.seal().unwrap());
        check_every_range(&store, &seg, Some(&kms), &data);
    }
}

#[test]
fn unencrypted_reads_in_place_give_exactly_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).unwrap();
    for len in sizes() {
        let data = data(len);
        let mut w = store.writer().unwrap();
        w.write(&data).unwrap();
        let seg = segment(w.seal().unwrap());
        assert!(seg.envelope.is_none());
        check_every_range(&store, &seg, None, &data);
    }
}

#[test]
fn a_file_cut_short_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = encrypted_store(dir.path());
    let data = data(2 * CHUNK_LEN + 10);
    let mut w = store.writer().unwrap();
    w.write(&data).unwrap();
    let seg = segment(w.seal().unwrap());
    let name = seg.file.to_string();
    let path = dir.path().join("objects").join(&name[..2]).join(name);
    let full = std::fs::metadata(&path).unwrap().len();
    for cut in [full - 1, full - 20, full / 2, 10] {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(cut)
            .unwrap();
        let e = store
            .read_segment_in_place(&seg, None, 0, data.len())
            .unwrap_err();
        assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ),
            "cut at {cut}: {e}"
        );
    }
}
