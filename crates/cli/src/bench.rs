//! `leadshop bench`: runs [`leadshop_client::bench`] against an endpoint and prints a table
//! (or JSON), with a progress line on a terminal.

use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context as _, Result};
use leadshop_client::bench::{BenchPlan, BenchReport, human_size, parse_sizes};

use crate::args::BenchArgs;

pub(crate) fn run(args: BenchArgs) -> Result<()> {
    let sizes = parse_sizes(&args.size).map_err(|e| anyhow::anyhow!("--size: {e}"))?;
    let concurrency = args
        .concurrency
        .split(',')
        .map(|c| match c.trim().parse::<usize>() {
            Ok(n) if (1..=1024).contains(&n) => Ok(n),
            _ => Err(anyhow::anyhow!(
                "--concurrency: {c:?} is not a number from 1 to 1024"
            )),
        })
        .collect::<Result<Vec<_>>>()?;
    anyhow::ensure!(
        args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= 3600.0,
        "--seconds: between 0 and 3600"
    );
    let plan = BenchPlan {
        sizes,
        concurrency,
        phase: Duration::from_secs_f64(args.seconds),
    };
    let r = leadshop_client::remote::Remote::from_env(args.remote.endpoint, args.remote.bucket)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let line = Mutex::new(crate::progress::Progress::new());
    let progress = |cell: usize, cells: usize, what: &str, ops: u64| {
        line.lock()
            .unwrap_or_else(|p| p.into_inner())
            .show(&format!("[{cell}/{cells}] {what}: {ops} requests"));
    };
    let result = runtime.block_on(r.bench(&plan, &progress));
    line.lock().unwrap_or_else(|p| p.into_inner()).clear();
    let report = result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", table(&report));
    }
    Ok(())
}

fn table(r: &BenchReport) -> String {
    let mut out = format!(
        "{} bucket {} ({} s per phase; {} object versions removed afterwards)\n\n",
        r.endpoint, r.bucket, r.phase_seconds, r.removed
    );
    out.push_str("| size | concurrency | PUT MB/s | PUT req/s | PUT p50 / p99 ms | GET MB/s | GET req/s | GET p50 / p99 ms |\n");
    out.push_str("|---|---|---|---|---|---|---|---|\n");
    for c in &r.results {
        out.push_str(&format!(
            "| {} | {} | {:.1} | {:.0} | {:.1} / {:.1} | {:.1} | {:.0} | {:.1} / {:.1} |\n",
            human_size(c.size),
            c.concurrency,
            c.put.mb_per_second,
            c.put.ops_per_second,
            c.put.p50_ms,
            c.put.p99_ms,
            c.get.mb_per_second,
            c.get.ops_per_second,
            c.get.p50_ms,
            c.get.p99_ms,
        ));
    }
    out
}
