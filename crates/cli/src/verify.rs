//! `leadshop verify`: a live bucket against its spec documents, printed as a diff.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use leadshop_client::verify;
use leadshop_spec::BucketSpec;

use crate::args::VerifyArgs;

/// How a verification ended: the exit code says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Every setting read and equal to the documents (exit 0).
    Match,
    /// At least one setting differs (exit 1).
    Drift,
    /// No drift seen, but some settings could not be read (exit 2: not verified).
    Unverified,
}

/// The environments' suffix rule of `infrastructure/terraform/environments/*.tfvars`: the
/// bucket `leadshop-assets-dev` is deployed from the documents of `leadshop-assets`.
const ENVIRONMENT_SUFFIXES: [&str; 3] = ["-dev", "-staging", "-prod"];

/// The spec documents for `bucket`: `--spec` when given, else the bucket's own name, else its
/// name without an environment suffix.
fn documents(args: &VerifyArgs, bucket: &str) -> Result<(String, Vec<(String, String)>)> {
    let read = |name: &str| -> Result<Vec<(String, String)>> {
        Ok(match &args.spec_dir {
            Some(dir) => {
                let dir = dir.join(name);
                if dir.is_dir() {
                    BucketSpec::read_documents(&dir)?
                } else {
                    Vec::new()
                }
            }
            None => BucketSpec::builtin_documents(name),
        })
    };
    let mut candidates = vec![args.spec.clone().unwrap_or_else(|| bucket.to_string())];
    if args.spec.is_none() {
        candidates.extend(
            ENVIRONMENT_SUFFIXES
                .iter()
                .filter_map(|s| bucket.strip_suffix(s))
                .map(str::to_string),
        );
    }
    for name in &candidates {
        let owned = read(name)?;
        if !owned.is_empty() {
            return Ok((name.clone(), owned));
        }
    }
    anyhow::bail!(
        "no spec documents for {:?} (tried {}; pass --spec NAME of a directory in config/buckets, or --spec-dir)",
        bucket,
        candidates.join(", ")
    )
}

/// `leadshop verify`: whether the live bucket matches its documents.
pub(crate) fn run(args: VerifyArgs) -> Result<Outcome> {
    let r = leadshop_client::remote::Remote::from_env(
        args.remote.endpoint.clone(),
        args.remote.bucket.clone(),
    )?;
    let (spec_name, owned) = documents(&args, &r.bucket)?;
    let vars = leadshop_spec::TemplateVars {
        account_id: args.account_id.clone(),
        log_bucket: args.log_bucket.clone(),
        source_bucket: args.source_bucket.clone(),
    };
    // Rendered for the live bucket's name: ${bucket} is the bucket being verified.
    let spec = BucketSpec::parse(
        &r.bucket,
        owned.iter().map(|(f, t)| (f.as_str(), t.as_str())),
        &vars,
    )?;
    let origins = (!args.cors_origins.is_empty()).then_some(args.cors_origins.as_slice());
    let expected = verify::expected(&spec, origins);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let live = runtime.block_on(r.live_settings())?;
    let settings: Vec<verify::Setting> = verify::compare(&expected, &live.values)
        .into_iter()
        .filter(|s| !args.skip.iter().any(|k| k == s.name))
        .collect();
    let unread = |s: &verify::Setting| live.unreadable.get(s.name);
    let unreadable: Vec<&str> = settings
        .iter()
        .filter(|s| unread(s).is_some())
        .map(|s| s.name)
        .collect();
    let drifted: Vec<&verify::Setting> = settings
        .iter()
        .filter(|s| unread(s).is_none() && s.drifted())
        .collect();
    let outcome = if !drifted.is_empty() {
        Outcome::Drift
    } else if unreadable.is_empty() {
        Outcome::Match
    } else {
        Outcome::Unverified
    };
    if args.json {
        let doc: serde_json::Map<String, serde_json::Value> = settings
            .iter()
            .map(|s| {
                let row = match unread(s) {
                    Some(why) => serde_json::json!({"expected": s.expected, "unverified": why}),
                    None => {
                        serde_json::json!({"expected": s.expected, "live": s.live, "drift": s.drifted()})
                    }
                };
                (s.name.to_string(), row)
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(outcome);
    }
    let mut out = String::new();
    let source = args.spec_dir.as_ref().map_or_else(
        || format!("the built-in config/buckets/{spec_name}"),
        |d| d.join(&spec_name).display().to_string(),
    );
    let _ = writeln!(out, "{} on {} against {source}", r.bucket, r.endpoint);
    for name in &args.skip {
        let _ = writeln!(out, "  {:<6} {name} (--skip)", "skip");
    }
    for s in &settings {
        if let Some(why) = unread(s) {
            let _ = writeln!(out, "  {:<6} {}: {why}", "?", s.name);
            continue;
        }
        let _ = writeln!(
            out,
            "  {:<6} {}",
            if s.drifted() { "DRIFT" } else { "ok" },
            s.name
        );
        if s.drifted() {
            let _ = writeln!(out, "         --- expected (documents)  +++ live");
            for line in s.diff().lines() {
                let _ = writeln!(out, "         {line}");
            }
        }
    }
    if !unreadable.is_empty() {
        let _ = writeln!(
            out,
            "NOT VERIFIED: {} of {} settings could not be read: {}",
            unreadable.len(),
            settings.len(),
            unreadable.join(", ")
        );
    }
    if drifted.is_empty() && unreadable.is_empty() {
        let _ = writeln!(out, "no drift: {} settings match", settings.len());
    } else if drifted.is_empty() {
        let _ = writeln!(
            out,
            "no drift in the {} settings read",
            settings.len() - unreadable.len()
        );
    } else {
        let _ = writeln!(
            out,
            "DRIFT in {} of {} settings: {}",
            drifted.len(),
            settings.len(),
            drifted
                .iter()
                .map(|s| s.name)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes());
    Ok(outcome)
}
