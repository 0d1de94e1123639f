//! `leadshop verify`: a live bucket against its spec documents, printed as a diff.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use leadshop_client::verify;
use leadshop_spec::BucketSpec;

use crate::args::VerifyArgs;

/// `leadshop verify`: `Ok(true)` when the live bucket matches its documents.
pub(crate) fn run(args: VerifyArgs) -> Result<bool> {
    let r = leadshop_client::remote::Remote::from_env(args.remote.endpoint, args.remote.bucket)?;
    let spec_name = args.spec.clone().unwrap_or_else(|| r.bucket.clone());
    let owned = match &args.spec_dir {
        Some(dir) => BucketSpec::read_documents(&dir.join(&spec_name))?,
        None => BucketSpec::builtin_documents(&spec_name),
    };
    anyhow::ensure!(
        !owned.is_empty(),
        "no spec documents for {spec_name:?} (pass --spec NAME of a directory in config/buckets, or --spec-dir)"
    );
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
    let settings = verify::compare(&expected, &live);
    let drifted: Vec<&verify::Setting> = settings.iter().filter(|s| s.drifted()).collect();
    if args.json {
        let doc: serde_json::Map<String, serde_json::Value> = settings
            .iter()
            .map(|s| {
                (
                    s.name.to_string(),
                    serde_json::json!({"expected": s.expected, "live": s.live, "drift": s.drifted()}),
                )
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(drifted.is_empty());
    }
    let mut out = String::new();
    let source = args.spec_dir.as_ref().map_or_else(
        || format!("the built-in config/buckets/{spec_name}"),
        |d| d.join(&spec_name).display().to_string(),
    );
    let _ = writeln!(out, "{} on {} against {source}", r.bucket, r.endpoint);
    for s in &settings {
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
    if drifted.is_empty() {
        let _ = writeln!(out, "no drift: {} settings match", settings.len());
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
    Ok(drifted.is_empty())
}
