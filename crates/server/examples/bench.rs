//! `bench`: throughput and latency of any S3 endpoint, measured with the official aws-sdk-s3.
//!
//! ```sh
//! eval "$(target/release/leadshop env --data-dir D)"
//! cargo run --release --ignore-rust-version -p leadshop-server --example bench -- --pid <server pid>
//! ```
//! Reads AWS_ENDPOINT_URL, AWS_CA_BUNDLE (optional), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
//! and BENCH_BUCKET (default leadshop-assets; created if missing). Reports single-stream
//! 10 MiB PUT/GET MB/s, 4 KiB PUT/GET ops/s at concurrency 16 with p50/p99 latency, and, with
//! `--pid`, the server's peak RSS during a 1 GiB upload. Results go to stdout as a Markdown row.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};

const MIB: usize = 1024 * 1024;

fn client() -> Client {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
    let mut tls_ctx = TlsContext::builder();
    if let Ok(ca) = std::env::var("AWS_CA_BUNDLE") {
        tls_ctx = tls_ctx.with_trust_store(
            TrustStore::empty().with_pem_certificate(std::fs::read(ca).expect("CA bundle")),
        );
    }
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .tls_context(tls_ctx.build().expect("tls"))
        .build_https();
    let creds = Credentials::new(
        std::env::var("AWS_ACCESS_KEY_ID").expect("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY").expect("AWS_SECRET_ACCESS_KEY"),
        None,
        None,
        "bench",
    );
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .force_path_style(true)
        .http_client(http)
        .build();
    Client::from_conf(conf)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn rss_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn concurrent(
    s3: &Client,
    bucket: &str,
    ops: usize,
    conc: usize,
    put: bool,
    body: Arc<Vec<u8>>,
) -> (f64, Vec<Duration>) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let (s3, bucket, next, body) = (s3.clone(), bucket.to_string(), next.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= ops {
                    break;
                }
                let key = format!("bench/small/{}", i % 1000);
                let t = Instant::now();
                if put {
                    s3.put_object()
                        .bucket(&bucket)
                        .key(&key)
                        .body(ByteStream::from(body.as_ref().clone()))
                        .send()
                        .await
                        .expect("put");
                } else {
                    let o = s3
                        .get_object()
                        .bucket(&bucket)
                        .key(&key)
                        .send()
                        .await
                        .expect("get");
                    o.body.collect().await.expect("body");
                }
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("task"));
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort();
    (ops as f64 / secs, lat)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let pid: Option<u32> = args
        .iter()
        .position(|a| a == "--pid")
        .and_then(|i| args.get(i + 1))
        .and_then(|p| p.parse().ok());
    let label = args
        .iter()
        .position(|a| a == "--label")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| "server".into());
    let big_gib = !args.iter().any(|a| a == "--no-big");
    // Only the 4 KiB PUT and GET rates (scripts/bench-observability).
    let small_only = args.iter().any(|a| a == "--small-only");
    let bucket = std::env::var("BENCH_BUCKET").unwrap_or_else(|_| "leadshop-assets".into());
    let s3 = client();
    if s3.head_bucket().bucket(&bucket).send().await.is_err() {
        s3.create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("create bench bucket");
    }

    if small_only {
        let small = Arc::new(vec![7u8; 4096]);
        let (put_ops, _) = concurrent(&s3, &bucket, 3000, 16, true, small.clone()).await;
        let (get_ops, _) = concurrent(&s3, &bucket, 6000, 16, false, small).await;
        println!("| {label} | {put_ops:.0} | {get_ops:.0} |");
        return;
    }
    let ten = Arc::new(
        (0..10 * MIB)
            .map(|i| (i * 31 % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    let iterations = 10;
    // Warm-up.
    s3.put_object()
        .bucket(&bucket)
        .key("bench/big")
        .body(ByteStream::from(ten.as_ref().clone()))
        .send()
        .await
        .expect("put");
    let t = Instant::now();
    for _ in 0..iterations {
        s3.put_object()
            .bucket(&bucket)
            .key("bench/big")
            .body(ByteStream::from(ten.as_ref().clone()))
            .send()
            .await
            .expect("put");
    }
    let put_mbs = (iterations * 10 * MIB) as f64 / 1e6 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for _ in 0..iterations {
        let o = s3
            .get_object()
            .bucket(&bucket)
            .key("bench/big")
            .send()
            .await
            .expect("get");
        let b = o.body.collect().await.expect("body").into_bytes();
        assert_eq!(b.len(), 10 * MIB);
    }
    let get_mbs = (iterations * 10 * MIB) as f64 / 1e6 / t.elapsed().as_secs_f64();

    let small = Arc::new(vec![7u8; 4096]);
    let (put_ops, put_lat) = concurrent(&s3, &bucket, 3000, 16, true, small.clone()).await;
    let (get_ops, get_lat) = concurrent(&s3, &bucket, 6000, 16, false, small).await;

    let mut rss = String::from("n/a");
    if big_gib {
        let path = std::env::temp_dir().join(format!("leadshop-bench-{}.bin", std::process::id()));
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&path).expect("temp file");
            let chunk: Vec<u8> = (0..MIB).map(|i| (i % 253) as u8).collect();
            for _ in 0..1024 {
                f.write_all(&chunk).expect("write");
            }
        }
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = pid.map(|pid| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut peak = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    peak = peak.max(rss_kib(pid, "VmRSS:").unwrap_or(0));
                    std::thread::sleep(Duration::from_millis(5));
                }
                peak
            })
        });
        let before = pid.and_then(|p| rss_kib(p, "VmRSS:")).unwrap_or(0);
        let t = Instant::now();
        let body = ByteStream::from_path(&path).await.expect("stream file");
        s3.put_object()
            .bucket(&bucket)
            .key("bench/1GiB")
            .body(body)
            .send()
            .await
            .expect("1 GiB put");
        let secs = t.elapsed().as_secs_f64();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let peak = sampler.map(|s| s.join().expect("sampler")).unwrap_or(0);
        let _ = std::fs::remove_file(&path);
        rss = if pid.is_some() {
            format!(
                "{:.0} MiB peak ({:.0} MiB before), 1 GiB PUT at {:.0} MB/s",
                peak as f64 / 1024.0,
                before as f64 / 1024.0,
                1024.0 * 1.048576 / secs
            )
        } else {
            format!(
                "1 GiB PUT at {:.0} MB/s (no --pid: RSS not sampled)",
                1024.0 * 1.048576 / secs
            )
        };
        let _ = s3
            .delete_object()
            .bucket(&bucket)
            .key("bench/1GiB")
            .send()
            .await;
    }
    println!(
        "| {label} | {put_mbs:.0} | {get_mbs:.0} | {put_ops:.0} (p50 {:.1} / p99 {:.1} ms) | {get_ops:.0} (p50 {:.1} / p99 {:.1} ms) | {rss} |",
        pct(&put_lat, 0.5),
        pct(&put_lat, 0.99),
        pct(&get_lat, 0.5),
        pct(&get_lat, 0.99)
    );
}
