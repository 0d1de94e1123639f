//! `leadshop bench`: the throughput matrix of issue 29 for any S3 endpoint — this server, an
//! AWS bucket, another store — through the official SDK at its defaults (checksums and all).
//!
//! For each object size and concurrency: `concurrency` writers PUT objects for the phase's
//! time, then as many readers GET them back and compare every byte. Bodies come from a random
//! buffer made once per run, each object at its own offset with its index in its first bytes,
//! so no two objects (and no two runs) are alike and no deduplication can flatter a store.
//! Everything written goes under `leadshop-bench/<run id>/` and is removed at the end, every
//! version of it (the bucket may be versioned).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use bytes::Bytes;
use serde::Serialize;

use crate::remote::{Remote, RemoteError, service};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    /// Object sizes in bytes.
    pub sizes: Vec<usize>,
    /// Concurrent requests.
    pub concurrency: Vec<usize>,
    /// How long each phase (PUT, then GET) of each cell runs.
    pub phase: Duration,
}

/// One phase of one cell.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseResult {
    /// Requests completed.
    pub ops: u64,
    /// Requests per second.
    pub ops_per_second: f64,
    /// Megabytes (10^6 bytes) of object data per second.
    pub mb_per_second: f64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
}

/// One size at one concurrency.
#[derive(Debug, Clone, Serialize)]
pub struct CellResult {
    /// Object size in bytes.
    pub size: usize,
    /// Concurrent requests.
    pub concurrency: usize,
    /// The PUT phase.
    pub put: PhaseResult,
    /// The GET phase (every body compared with what was written).
    pub get: PhaseResult,
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// The endpoint measured.
    pub endpoint: String,
    /// The bucket used.
    pub bucket: String,
    /// The prefix the run wrote under (removed afterwards).
    pub prefix: String,
    /// Seconds per phase.
    pub phase_seconds: f64,
    /// Every cell, sizes outer, concurrency inner.
    pub results: Vec<CellResult>,
    /// Object versions removed at the end.
    pub removed: u64,
}

/// Progress, told as the run goes: (cell index from 1, cells, what runs, requests so far).
pub type Progress<'a> = &'a (dyn Fn(usize, usize, &str, u64) + Sync);

/// Parses `4K,1M,10M` (K, M, G as powers of 1024; a plain number is bytes).
///
/// # Errors
/// A size that is not a positive number with an optional K, M or G.
pub fn parse_sizes(list: &str) -> Result<Vec<usize>, String> {
    list.split(',')
        .map(|s| {
            let s = s.trim();
            let (digits, unit) = match s.char_indices().last() {
                Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c.to_ascii_uppercase()),
                _ => (s, 'B'),
            };
            let shift = match unit {
                'B' => 0,
                'K' => 10,
                'M' => 20,
                'G' => 30,
                _ => return Err(format!("{s:?}: the unit is K, M or G")),
            };
            match digits.parse::<usize>() {
                Ok(n) if n > 0 && n <= (1 << (34 - shift)) => Ok(n << shift),
                _ => Err(format!(
                    "{s:?} is not a size between 1 byte and 16G (e.g. 4K, 1M, 10M)"
                )),
            }
        })
        .collect()
}

/// A human size: `4 KiB`, `10 MiB`, `512 B`.
#[must_use]
pub fn human_size(n: usize) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{} {unit}", n >> shift);
        }
    }
    format!("{n} B")
}

/// The bodies of a run: one random buffer; object `i` of a cell is `size` bytes of it at an
/// offset of its own, with `i` and the cell in its first 16 bytes.
struct Bodies {
    pool: Bytes,
}

impl Bodies {
    const SPREAD: usize = 64 * 1024;

    fn new(max: usize) -> Self {
        let mut pool = vec![0u8; max + Self::SPREAD];
        rand::fill(&mut pool[..]);
        Self { pool: pool.into() }
    }

    fn body(&self, cell: usize, i: u64, size: usize) -> Bytes {
        let off = usize::try_from(i.wrapping_mul(4099)).unwrap_or(0) % Self::SPREAD;
        let tail = self.pool.slice(off..off + size);
        if size < 16 {
            return tail;
        }
        let mut head = Vec::with_capacity(size);
        head.extend_from_slice(&i.to_be_bytes());
        head.extend_from_slice(&(cell as u64).to_be_bytes());
        head.extend_from_slice(&tail[16..]);
        head.into()
    }
}

fn key(prefix: &str, cell: usize, i: u64) -> String {
    format!("{prefix}{cell:03}/{i:09}")
}

fn summarize(mut lat: Vec<Duration>, elapsed: Duration, size: usize) -> PhaseResult {
    lat.sort_unstable();
    let pct = |p: f64| {
        if lat.is_empty() {
            return 0.0;
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let i = ((lat.len() - 1) as f64 * p).round() as usize;
        lat[i].as_secs_f64() * 1000.0
    };
    let secs = elapsed.as_secs_f64().max(1e-9);
    #[allow(clippy::cast_precision_loss)]
    let ops = lat.len() as f64;
    PhaseResult {
        ops: lat.len() as u64,
        ops_per_second: ops / secs,
        #[allow(clippy::cast_precision_loss)]
        mb_per_second: ops * size as f64 / secs / 1e6,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
    }
}

impl Remote {
    /// Runs the matrix of `plan` against this endpoint and bucket, then removes what it wrote.
    ///
    /// # Errors
    /// The first request that fails (the run stops; what it wrote is still removed), or a body
    /// read back that differs from what was written ([`RemoteError::Nothing`] naming it).
    pub async fn bench(
        &self,
        plan: &BenchPlan,
        progress: Progress<'_>,
    ) -> Result<BenchReport, RemoteError> {
        let run: u64 = rand::random();
        let prefix = format!("leadshop-bench/{run:016x}/");
        let bodies = Arc::new(Bodies::new(plan.sizes.iter().copied().max().unwrap_or(0)));
        let cells: Vec<(usize, usize)> = plan
            .sizes
            .iter()
            .flat_map(|&s| plan.concurrency.iter().map(move |&c| (s, c)))
            .collect();
        let mut results = Vec::new();
        let mut outcome = Ok(());
        for (n, &(size, conc)) in cells.iter().enumerate() {
            let label = format!("{} c{conc}", human_size(size));
            let tell = |phase: &str, ops: u64| {
                progress(n + 1, cells.len(), &format!("{label} {phase}"), ops);
            };
            let cell = self
                .cell(&prefix, n, size, conc, plan.phase, &bodies, &tell)
                .await;
            match cell {
                Ok((put, get)) => results.push(CellResult {
                    size,
                    concurrency: conc,
                    put,
                    get,
                }),
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        let removed = self.remove_prefix(&prefix).await?;
        outcome?;
        Ok(BenchReport {
            endpoint: self.endpoint.clone(),
            bucket: self.bucket.clone(),
            prefix,
            phase_seconds: plan.phase.as_secs_f64(),
            results,
            removed,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn cell(
        &self,
        prefix: &str,
        cell: usize,
        size: usize,
        conc: usize,
        phase: Duration,
        bodies: &Arc<Bodies>,
        tell: &(dyn Fn(&str, u64) + Sync),
    ) -> Result<(PhaseResult, PhaseResult), RemoteError> {
        let started = Instant::now();
        let (b, p) = (bodies.clone(), prefix.to_string());
        let put = self
            .phase(conc, phase, tell, "PUT", move |r, i| {
                let (bodies, prefix) = (b.clone(), p.clone());
                Box::pin(async move {
                    r.client
                        .put_object()
                        .bucket(&r.bucket)
                        .key(key(&prefix, cell, i))
                        .body(ByteStream::from(bodies.body(cell, i, size)))
                        .send()
                        .await
                        .map_err(service("PutObject"))?;
                    Ok(())
                })
            })
            .await?;
        let put = summarize(put, started.elapsed(), size);
        let written = put.ops;
        if written == 0 {
            return Err(RemoteError::Nothing(format!(
                "no PUT of {} finished within the phase; give it more --seconds",
                human_size(size)
            )));
        }
        let started = Instant::now();
        let (b, p) = (bodies.clone(), prefix.to_string());
        let get = self
            .phase(conc, phase, tell, "GET", move |r, n| {
                let (bodies, prefix) = (b.clone(), p.clone());
                Box::pin(async move {
                    let i = n % written.max(1);
                    let k = key(&prefix, cell, i);
                    let out = r
                        .client
                        .get_object()
                        .bucket(&r.bucket)
                        .key(&k)
                        .send()
                        .await
                        .map_err(service("GetObject"))?;
                    let got = out.body.collect().await.map_err(|e| {
                        RemoteError::Nothing(format!("GetObject {k}: the body broke off: {e}"))
                    })?;
                    if got.into_bytes() != bodies.body(cell, i, size) {
                        return Err(RemoteError::Nothing(format!(
                            "GetObject {k}: the body read back is not what was written"
                        )));
                    }
                    Ok(())
                })
            })
            .await?;
        Ok((put, summarize(get, started.elapsed(), size)))
    }

    /// Runs `conc` loops of `op` until `phase` has passed, telling progress; every latency,
    /// or the first error.
    async fn phase(
        &self,
        conc: usize,
        phase: Duration,
        tell: &(dyn Fn(&str, u64) + Sync),
        name: &str,
        op: impl Fn(Self, u64) -> Op + Send + Sync + 'static,
    ) -> Result<Vec<Duration>, RemoteError> {
        let deadline = Instant::now() + phase;
        let next = Arc::new(AtomicU64::new(0));
        let op = Arc::new(op);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..conc {
            let (me, op, next) = (self.clone(), op.clone(), next.clone());
            tasks.spawn(async move {
                let mut lat = Vec::new();
                while Instant::now() < deadline {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let t0 = Instant::now();
                    op(me.clone(), n).await?;
                    lat.push(t0.elapsed());
                }
                Ok::<_, RemoteError>(lat)
            });
        }
        let mut lat = Vec::new();
        let mut failed = None;
        loop {
            tell(name, next.load(Ordering::Relaxed));
            match tokio::time::timeout(Duration::from_millis(250), tasks.join_next()).await {
                Err(_) => {}
                Ok(None) => break,
                Ok(Some(Ok(Ok(l)))) => lat.extend(l),
                Ok(Some(Ok(Err(e)))) => {
                    failed.get_or_insert(e);
                }
                Ok(Some(Err(e))) => {
                    failed.get_or_insert(RemoteError::Nothing(format!("a request task: {e}")));
                }
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(lat),
        }
    }

    /// Removes every version under `prefix`; how many. A store without versions that does not
    /// implement ListObjectVersions (`rclone serve s3`) has its keys listed and removed instead.
    async fn remove_prefix(&self, prefix: &str) -> Result<u64, RemoteError> {
        let mut removed = 0;
        loop {
            let page = match self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(prefix)
                .send()
                .await
                .map_err(service("ListObjectVersions"))
            {
                Ok(page) => page,
                Err(RemoteError::Service { code, .. }) if code == "NotImplemented" => {
                    return Ok(removed + self.remove_keys(prefix).await?);
                }
                Err(e) => return Err(e),
            };
            let ids: Vec<ObjectIdentifier> = page
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(
                    page.delete_markers()
                        .iter()
                        .map(|m| (m.key(), m.version_id())),
                )
                .filter_map(|(k, v)| {
                    ObjectIdentifier::builder()
                        .key(k?)
                        .set_version_id(v.map(str::to_string))
                        .build()
                        .ok()
                })
                .collect();
            if ids.is_empty() {
                return Ok(removed);
            }
            removed += ids.len() as u64;
            self.delete_batch(ids, Delete::builder()).await?;
        }
    }

    /// Removes every key under `prefix` of a store without versions; how many.
    async fn remove_keys(&self, prefix: &str) -> Result<u64, RemoteError> {
        let mut removed = 0;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .send()
                .await
                .map_err(service("ListObjectsV2"))?;
            let ids: Vec<ObjectIdentifier> = page
                .contents()
                .iter()
                .filter_map(|o| ObjectIdentifier::builder().key(o.key()?).build().ok())
                .collect();
            if ids.is_empty() {
                return Ok(removed);
            }
            removed += ids.len() as u64;
            self.delete_batch(ids, Delete::builder()).await?;
        }
    }
}

/// One request of a phase.
type Op = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), RemoteError>> + Send>>;
