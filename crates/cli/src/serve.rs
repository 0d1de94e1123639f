//! `leadshop serve`: the log, the server, the banner that says how to reach it, and the wait
//! for a signal to stop.

use anyhow::{Context, Result};

use crate::args::ServeArgs;

/// s3s's own log lines carry whole request inputs (a malformed XML body, every POST form
/// field) at ERROR level, so any client could fill the log: they are off unless the filter
/// names `s3s` itself. Our request line says what happened instead.
fn log_filter(env: Option<&str>) -> String {
    let base = env.map_or_else(|| "info,leadshop::request=warn".to_string(), str::to_string);
    if base.contains("s3s") {
        base
    } else {
        format!("{base},s3s=off")
    }
}

pub(crate) fn serve(args: ServeArgs) -> Result<()> {
    let filter = log_filter(std::env::var("LEADSHOP_LOG").ok().as_deref());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&filter)
                .with_context(|| format!("LEADSHOP_LOG: invalid filter {filter:?}"))?,
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal, and never with NO_COLOR (no-color.org): a log
        // file or journal gets plain text.
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .init();
    let mut config = args.instance.config()?;
    if let Some(v) = args.s3_addr {
        config.s3_addr = v;
    }
    if let Some(v) = args.http_addr {
        config.http_addr = v;
    }
    if let Some(v) = args.console_addr {
        config.console_addr = v;
    }
    if let Some(v) = args.region {
        config.region = v;
    }
    if args.tls_cert.is_some() {
        config.tls_cert = args.tls_cert;
        config.tls_key = args.tls_key;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let data_dir = config.data_dir.clone();
        let handle = leadshop_server::start(config).await?;
        let e = handle.endpoints().clone();
        println!("leadshop is serving the leadshop-assets stack");
        println!("  S3 API (HTTPS): {}", e.s3);
        println!(
            "  plain HTTP:     {} (redirects browsers, refuses API requests)",
            e.http
        );
        println!("  console:        {}", e.console);
        println!("  data directory: {}", data_dir.display());
        println!(
            "  CA certificate: {}",
            data_dir.join("tls/ca.pem").display()
        );
        println!(
            "  credentials:    {} (profiles admin, app)",
            data_dir.join("credentials").display()
        );
        println!("Try, in another shell:");
        println!(
            "  eval \"$({} env --data-dir {})\"; aws s3 ls s3://leadshop-assets",
            self_command(),
            shell_word(&std::path::absolute(&data_dir).unwrap_or_else(|_| data_dir.clone()))
        );
        wait_for_signal().await?;
        eprintln!("shutting down: finishing in-flight requests");
        handle.shutdown().await;
        Ok(())
    })
}

/// How another shell runs this binary: `leadshop` when that name on PATH is this file, else
/// its full path (a `cargo run` build, a binary not installed).
fn self_command() -> String {
    let Ok(me) = std::env::current_exe().and_then(std::fs::canonicalize) else {
        return "leadshop".into();
    };
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .any(|dir| std::fs::canonicalize(dir.join("leadshop")).is_ok_and(|found| found == me))
    });
    if on_path {
        "leadshop".into()
    } else {
        shell_word(&me)
    }
}

/// A path as one word of a POSIX shell command (single-quoted when it needs quoting).
fn shell_word(p: &std::path::Path) -> String {
    let s = p.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

async fn wait_for_signal() -> Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::log_filter;

    #[test]
    fn s3s_lines_are_off_unless_asked_for() {
        assert_eq!(log_filter(None), "info,leadshop::request=warn,s3s=off");
        assert_eq!(log_filter(Some("debug")), "debug,s3s=off");
        assert_eq!(log_filter(Some("info,s3s=debug")), "info,s3s=debug");
    }
}
