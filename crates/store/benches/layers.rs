//! What the second layer of DSSE-KMS costs: sealing and opening 10 MiB in 64 KiB chunks with
//! one layer (SSE-S3, SSE-KMS) and with two (DSSE-KMS), in memory (no disk).
//!
//! `cargo bench --ignore-rust-version -p leadshop-store --bench layers`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use leadshop_store::crypto::{CHUNK_LEN, ChunkCipher, Key, TAG_LEN};

const LEN: usize = 10 * 1024 * 1024;

fn layers(c: &mut Criterion) {
    let inner = ChunkCipher::new(&Key::generate().expect("key"), [1; 16]);
    let outer = ChunkCipher::outer(&Key::generate().expect("key"), [1; 16]);
    let data = vec![0x5au8; LEN];
    let n = LEN / CHUNK_LEN;
    let mut g = c.benchmark_group("10 MiB in 64 KiB chunks");
    g.throughput(Throughput::Bytes(LEN as u64));
    g.sample_size(20);
    for (name, dual) in [("one layer", false), ("two layers (dsse)", true)] {
        let mut chunk = Vec::with_capacity(CHUNK_LEN + 2 * TAG_LEN);
        g.bench_function(format!("seal, {name}"), |b| {
            b.iter(|| {
                for (i, part) in data.chunks(CHUNK_LEN).enumerate() {
                    chunk.clear();
                    chunk.extend_from_slice(part);
                    let last = i + 1 == n;
                    inner.seal(i as u64, last, &mut chunk);
                    if dual {
                        outer.seal(i as u64, last, &mut chunk);
                    }
                }
            });
        });
        let sealed: Vec<Vec<u8>> = data
            .chunks(CHUNK_LEN)
            .enumerate()
            .map(|(i, part)| {
                let mut c = part.to_vec();
                inner.seal(i as u64, i + 1 == n, &mut c);
                if dual {
                    outer.seal(i as u64, i + 1 == n, &mut c);
                }
                c
            })
            .collect();
        let mut buf = Vec::with_capacity(CHUNK_LEN + 2 * TAG_LEN);
        g.bench_function(format!("open, {name}"), |b| {
            b.iter(|| {
                for (i, c) in sealed.iter().enumerate() {
                    buf.clear();
                    buf.extend_from_slice(c);
                    let last = i + 1 == n;
                    let mid = if dual {
                        outer.open(i as u64, last, &mut buf).expect("outer")
                    } else {
                        &mut buf[..]
                    };
                    inner.open(i as u64, last, mid).expect("inner");
                }
            });
        });
    }
    g.finish();
}

criterion_group!(benches, layers);
criterion_main!(benches);
