//! `leadshop`: the command line. It wires the crates together and does nothing else.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use leadshop_server::Config;

#[derive(Parser)]
#[command(
    name = "leadshop",
    version,
    about = "leadshop: the leadshop-assets S3 stack on any machine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the S3 server (HTTPS), the plain-HTTP listener and the console.
    Serve(ServeArgs),
    /// Print `export` lines that point boto3, the AWS CLI and SDKs at a running instance.
    Env(EnvArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// TOML configuration file (see config/leadshop.toml for every field).
    #[arg(long, env = "LEADSHOP_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory [default: ./data].
    #[arg(long, env = "LEADSHOP_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// HTTPS S3 listener, host:port (port 0: any free port) [default: 127.0.0.1:9443].
    #[arg(long, env = "LEADSHOP_S3_ADDR")]
    s3_addr: Option<SocketAddr>,
    /// Plain-HTTP listener, host:port [default: 127.0.0.1:9080].
    #[arg(long, env = "LEADSHOP_HTTP_ADDR")]
    http_addr: Option<SocketAddr>,
    /// Console listener, host:port [default: 127.0.0.1:3000].
    #[arg(long, env = "LEADSHOP_CONSOLE_ADDR")]
    console_addr: Option<SocketAddr>,
    /// Region [default: us-east-1].
    #[arg(long, env = "LEADSHOP_REGION")]
    region: Option<String>,
    /// Master key file (64 hex digits, 0600) [default: <data-dir>/master.key, created if missing].
    #[arg(long, env = "LEADSHOP_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
    /// Certificate chain (PEM) to serve instead of the generated development certificate.
    #[arg(long, env = "LEADSHOP_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(long, env = "LEADSHOP_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

#[derive(clap::Args)]
struct EnvArgs {
    /// Data directory of the instance [default: ./data].
    #[arg(long, env = "LEADSHOP_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Which key: admin (everything) or app (the application's least-privilege key).
    #[arg(long, default_value = "admin")]
    key: String,
    /// Region to export.
    #[arg(long, env = "LEADSHOP_REGION", default_value = "us-east-1")]
    region: String,
    /// Bucket to export as AWS_S3_BUCKET_NAME.
    #[arg(long, default_value = "leadshop-assets")]
    bucket: String,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Env(args) => {
            let env = leadshop_client::ClientEnv::from_data_dir(
                &args.data_dir,
                &args.key,
                &args.region,
                &args.bucket,
            )?;
            print!("{}", env.to_exports());
            Ok(())
        }
    }
}

fn serve(args: ServeArgs) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LEADSHOP_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("info,leadshop::request=warn")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    if let Some(v) = args.data_dir {
        config.data_dir = v;
    }
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
    if let Some(v) = args.master_key_file {
        config.master_key_file = Some(v);
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
            "  eval \"$(leadshop env --data-dir {})\"; aws s3 ls s3://leadshop-assets",
            data_dir.display()
        );
        wait_for_signal().await?;
        eprintln!("shutting down: finishing in-flight requests");
        handle.shutdown().await;
        Ok(())
    })
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
