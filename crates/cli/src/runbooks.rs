//! The runbook verbs that act on any S3 endpoint (`lockdown`, `recover`, `cleanup`), each
//! reporting a line for people or, with `--json`, a document for programs.

use anyhow::{Context, Result};
use leadshop_client::remote::Remote;

use crate::args::RemoteArgs;
use crate::progress::Progress;

/// What a runbook verb reports: a line for people, a document for programs (`--json`).
struct Report {
    text: String,
    json: serde_json::Value,
}

type RemoteFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Report>>>>;

/// Runs one runbook verb against an endpoint and prints its report.
fn remote(args: RemoteArgs, json: bool, op: impl FnOnce(Remote) -> RemoteFuture) -> Result<()> {
    let r = Remote::from_env(args.endpoint, args.bucket)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(op(r))?;
    if json {
        return crate::print_json(&report.json);
    }
    println!("{}", report.text);
    Ok(())
}

/// Security incident: all four Public Access Block settings on, read back.
pub(crate) fn lockdown(args: RemoteArgs, json: bool) -> Result<()> {
    remote(args, json, |r| {
        Box::pin(async move {
            let pab = r.lockdown().await?;
            let settings = [
                ("BlockPublicAcls", pab.block_public_acls.unwrap_or(false)),
                ("IgnorePublicAcls", pab.ignore_public_acls.unwrap_or(false)),
                (
                    "BlockPublicPolicy",
                    pab.block_public_policy.unwrap_or(false),
                ),
                (
                    "RestrictPublicBuckets",
                    pab.restrict_public_buckets.unwrap_or(false),
                ),
            ];
            let text = settings
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ");
            let read_back: serde_json::Map<_, _> = settings
                .iter()
                .map(|(k, v)| ((*k).to_string(), serde_json::Value::Bool(*v)))
                .collect();
            Ok(Report {
                text: format!("{} on {}: {text}", r.bucket, r.endpoint),
                json: serde_json::json!({
                    "Endpoint": r.endpoint, "Bucket": r.bucket,
                    "PublicAccessBlockConfiguration": read_back,
                }),
            })
        })
    })
}

/// Data recovery: an earlier version of `key` made current again.
pub(crate) fn recover(
    args: RemoteArgs,
    key: String,
    version_id: Option<String>,
    json: bool,
) -> Result<()> {
    remote(args, json, move |r| {
        Box::pin(async move {
            let text = r.recover(&key, version_id.as_deref()).await?;
            Ok(Report {
                json: serde_json::json!({
                    "Endpoint": r.endpoint, "Bucket": r.bucket, "Key": key, "Outcome": text,
                }),
                text,
            })
        })
    })
}

/// Cost overrun: everything under `prefix` deleted (for good with `noncurrent`), with a
/// progress line on a terminal.
pub(crate) fn cleanup(
    args: RemoteArgs,
    prefix: String,
    noncurrent: bool,
    dry_run: bool,
    json: bool,
) -> Result<()> {
    anyhow::ensure!(
        !prefix.is_empty(),
        "--prefix must not be empty (that would empty the whole bucket)"
    );
    remote(args, json, move |r| {
        Box::pin(async move {
            let mut line = Progress::new();
            let c = r
                .cleanup_with(&prefix, noncurrent, dry_run, &mut |c| {
                    line.show(&format!(
                        "{} {prefix:?}: {} current, {} noncurrent versions and markers ({} bytes)",
                        if dry_run { "counting" } else { "cleaning" },
                        c.current,
                        c.noncurrent,
                        c.noncurrent_bytes
                    ));
                })
                .await;
            line.clear();
            let c = c?;
            let json = serde_json::json!({
                "Endpoint": r.endpoint, "Bucket": r.bucket, "Prefix": prefix,
                "DryRun": dry_run, "CurrentDeleted": c.current,
                "NoncurrentRemoved": c.noncurrent, "NoncurrentBytes": c.noncurrent_bytes,
                "UploadsAborted": c.uploads,
            });
            let text = format!(
                "{}{} under {prefix:?} in {}: {} current objects deleted, {} noncurrent versions/markers ({} bytes) removed, {} incomplete uploads aborted",
                if dry_run { "dry run: " } else { "" },
                r.endpoint,
                r.bucket,
                c.current,
                c.noncurrent,
                c.noncurrent_bytes,
                c.uploads
            );
            Ok(Report { text, json })
        })
    })
}
