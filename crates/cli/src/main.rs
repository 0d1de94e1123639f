//! `leadshop`: the command line. It wires the crates together and does nothing else.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};

mod arenas;
mod args;
mod backup;
mod bench;
mod progress;
mod replication;
mod runbooks;
mod scrub;
mod serve;
mod verify;
use args::{
    Cli, Command, InstanceArgs, KeysCommand, KmsCommand, LifecycleCommand,
    ReplicationCommand as Rc, ReplicationCredentialsCommand as Rcc, ScrubCommand,
};
use leadshop_server::Config;

fn main() {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Serve(_)) {
        arenas::cap();
    }
    if let Err(e) = run(cli) {
        eprintln!("error: {}", report(&e));
        std::process::exit(1);
    }
}

/// The chain of causes on one line, without a backtrace (these are user-facing errors), each
/// said once: a cause whose text a message already quotes is not repeated.
fn report(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Writes `bytes` to stdout; a reader that stops early (`| head`) ends it quietly.
pub(crate) fn print_all(bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to standard output"),
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => serve::serve(args),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "leadshop", &mut script);
            print_all(&script)
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .context("rendering the manual page")?;
            print_all(&page)
        }
        Command::Env(args) => {
            let env = leadshop_client::ClientEnv::from_data_dir(
                &args.data_dir,
                &args.key,
                &args.region,
                &args.bucket,
            )?;
            if args.dotenv {
                print!("{}", env.to_dotenv());
            } else {
                print!("{}", env.to_exports());
            }
            Ok(())
        }
        Command::Keys(cmd) => keys(cmd),
        Command::Kms(KmsCommand::CreateKey {
            instance,
            alias,
            description,
        }) => {
            use leadshop_keys::keyring as kms;
            let config = instance.config()?;
            std::fs::create_dir_all(&config.data_dir)?;
            let master = master(&config)?;
            let k = kms::create_key(
                &kms::KmsPaths::new(&config.data_dir),
                &master,
                alias.as_deref(),
                &description,
            )?;
            println!("KeyId: {}", k.key_id);
            println!(
                "Arn:   {}",
                kms::key_arn(&config.region, &config.account_id, &k.key_id)
            );
            for a in &k.aliases {
                println!("Alias: alias/{a}");
            }
            Ok(())
        }
        Command::Kms(KmsCommand::ListKeys { instance, json }) => {
            use leadshop_keys::keyring as kms;
            let config = instance.config()?;
            let keys = kms::list(&kms::KmsPaths::new(&config.data_dir))?;
            if json {
                let rows: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        serde_json::json!({
                            "KeyId": k.key_id,
                            "KeyState": if k.enabled { "Enabled" } else { "Disabled" },
                            "CreationDate": format_time(k.created_ms),
                            "Aliases": k.aliases.iter().map(|a| format!("alias/{a}")).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                return print_json(&serde_json::json!({ "Keys": rows }));
            }
            println!("{:<38} {:<9} {:<20} ALIASES", "KEY ID", "STATE", "CREATED");
            for k in keys {
                println!(
                    "{:<38} {:<9} {:<20} {}",
                    k.key_id,
                    if k.enabled { "Enabled" } else { "Disabled" },
                    format_time(k.created_ms),
                    k.aliases
                        .iter()
                        .map(|a| format!("alias/{a}"))
                        .collect::<Vec<_>>()
                        .join(",")
                );
            }
            Ok(())
        }
        Command::Backup {
            instance,
            to,
            keys_to,
            wait_secs,
        } => {
            let target = leadshop_server::backup::Target {
                data: to,
                keys: keys_to,
            };
            let m = backup::take(
                &instance.config()?,
                &target,
                std::time::Duration::from_secs(wait_secs),
            )?;
            backup::print_taken(&m, &target);
            Ok(())
        }
        Command::Restore {
            from,
            keys_from,
            data_dir,
        } => {
            let from = leadshop_server::backup::Target {
                data: from,
                keys: keys_from,
            };
            backup::restore(&from, &data_dir).map(|_| ())
        }
        Command::Kms(KmsCommand::DisableKey { instance, key_id }) => {
            set_kms_key_enabled(&instance, &key_id, false)
        }
        Command::Kms(KmsCommand::EnableKey { instance, key_id }) => {
            set_kms_key_enabled(&instance, &key_id, true)
        }
        Command::Kms(KmsCommand::RotateMaster {
            instance,
            wait_secs,
        }) => {
            let mut line = progress::Progress::new();
            let r = leadshop_keys::rotate::rotate_master_with(
                &instance.config()?.key_locations(),
                std::time::Duration::from_secs(wait_secs),
                &mut |step| match step {
                    leadshop_keys::rotate::Step::Rewrapping(r) => line.show(&format!(
                        "re-wrapping data keys: {} re-wrapped, {} already under the new key",
                        r.rewrapped, r.already
                    )),
                    leadshop_keys::rotate::Step::WaitingForServer(waited) => line.show(&format!(
                        "the running server rotates the key: {} s (up to {wait_secs} s)",
                        waited.as_secs()
                    )),
                },
            );
            line.clear();
            let r = r?;
            println!(
                "{}{} master key {} -> {}: {} data keys re-wrapped ({} already, {} under customer or keyring keys), {} access-key secrets and {} keyring keys re-sealed",
                if r.online { "the running server " } else { "" },
                if r.resumed {
                    "finished rotating"
                } else {
                    "rotated"
                },
                r.old_id,
                r.new_id,
                r.data_keys.rewrapped,
                r.data_keys.already,
                r.data_keys.customer,
                r.secrets,
                r.kms_keys
            );
            println!(
                "the old key is kept at {} for backups taken before now; delete it when they expire",
                r.retired.display()
            );
            Ok(())
        }
        Command::Lifecycle(LifecycleCommand::Status { instance, json }) => {
            lifecycle_status(&instance.config()?, json)
        }
        Command::Replication(Rc::Status { instance, json }) => {
            replication::status(&instance.config()?, json)
        }
        Command::Replication(Rc::Credentials(Rcc::Set {
            instance,
            destination,
            access_key_id,
        })) => replication::set_credentials(&instance.config()?, &destination, &access_key_id),
        Command::Replication(Rc::Credentials(Rcc::List { instance, json })) => {
            replication::list_credentials(&instance.config()?, json)
        }
        Command::Replication(Rc::Credentials(Rcc::Remove {
            instance,
            destination,
        })) => replication::remove_credentials(&instance.config()?, &destination),
        Command::Scrub(ScrubCommand::Status { instance, json }) => {
            if scrub::status(&instance.config()?, json)? {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Lockdown { remote: args, json } => runbooks::lockdown(args, json),
        Command::Verify(args) => match verify::run(args) {
            Ok(verify::Outcome::Match) => Ok(()),
            Ok(verify::Outcome::Drift) => std::process::exit(1),
            Ok(verify::Outcome::Unverified) => std::process::exit(2),
            Err(e) => {
                eprintln!("error: {}", report(&e));
                std::process::exit(2);
            }
        },
        Command::Bench(args) => bench::run(args),
        Command::Compact { instance } => backup::compact(&instance.config()?),
        Command::Recover {
            remote: args,
            key,
            version_id,
            json,
        } => runbooks::recover(args, key, version_id, json),
        Command::Cleanup {
            remote: args,
            prefix,
            noncurrent,
            dry_run,
            json,
        } => runbooks::cleanup(args, prefix, noncurrent, dry_run, json),
    }
}

/// Prints a document as pretty JSON.
pub(crate) fn print_json(value: &serde_json::Value) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(value).context("serialising the report")?;
    text.push(b'\n');
    print_all(&text)
}

fn set_kms_key_enabled(instance: &InstanceArgs, key_id: &str, enabled: bool) -> Result<()> {
    use leadshop_keys::keyring as kms;
    let config = instance.config()?;
    let k = kms::set_enabled(&kms::KmsPaths::new(&config.data_dir), key_id, enabled)?;
    println!(
        "{} key {}",
        if enabled { "enabled" } else { "disabled" },
        k.key_id
    );
    Ok(())
}

/// The master key of an instance (created if the data directory is new), read again under the
/// lock of each file that seals a secret with it.
fn master(config: &Config) -> Result<leadshop_keys::master_key::MasterSource> {
    let path = config.key_locations().master_key;
    anyhow::ensure!(
        path.exists() || !config.data_dir.join("meta.redb").exists(),
        "the master key {} is missing but {} holds data encrypted under it; restore the key from your backup",
        path.display(),
        config.data_dir.display()
    );
    leadshop_keys::master_key::load_or_create(&path)
        .with_context(|| format!("loading the master key {}", path.display()))?;
    Ok(leadshop_keys::master_key::MasterSource::File(path))
}

fn keys(cmd: KeysCommand) -> Result<()> {
    use leadshop_keys::access_keys::{self as keys, KeyPaths};
    // Only `keys create` may start a new instance; every other verb reads an existing one, so
    // a mistyped --data-dir is an error, not an empty directory and an empty table.
    let open = |instance: &InstanceArgs, create: bool| -> Result<(Config, KeyPaths)> {
        let config = instance.config()?;
        let paths = KeyPaths::new(&config.data_dir);
        if create {
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("creating {}", config.data_dir.display()))?;
        } else {
            anyhow::ensure!(
                paths.keys.exists(),
                "no leadshop instance at {}: {} does not exist (check --data-dir or LEADSHOP_DATA_DIR; `leadshop serve` or `leadshop keys create` starts one)",
                config.data_dir.display(),
                paths.keys.display()
            );
        }
        Ok((config, paths))
    };
    let read_policy = |path: &PathBuf| -> Result<String> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        // Like IAM's policy validator: a misspelt action is kept (the policy is valid) but
        // said, since it allows or denies nothing.
        if let Ok(policy) = leadshop_spec::policy::Policy::parse(&text) {
            for action in policy.unknown_actions() {
                eprintln!(
                    "warning: {}: {action} matches no action leadshop knows; it allows or denies nothing (misspelt?)",
                    path.display()
                );
            }
        }
        Ok(text)
    };
    let print_new = |verb: &str, k: &keys::Identity, paths: &KeyPaths| {
        println!("{verb} key {}", k.name);
        println!("aws_access_key_id = {}", k.access_key_id);
        println!("aws_secret_access_key = {}", k.secret_access_key);
        println!(
            "(the secret is shown once; profile [{}] is in {})",
            k.name,
            paths.credentials.display()
        );
    };
    match cmd {
        KeysCommand::Create {
            instance,
            name,
            policy,
        } => {
            let (config, paths) = open(&instance, true)?;
            let m = master(&config)?;
            // Keys exist from the first start; make them now if the server never ran here.
            keys::bootstrap(&paths, &m)?;
            let k = keys::create(&paths, &m, &name, &read_policy(&policy)?)?;
            print_new("created", &k, &paths);
        }
        KeysCommand::List { instance, json } => {
            let (_, paths) = open(&instance, false)?;
            if json {
                let rows: Vec<_> = keys::list(&paths)?
                    .into_iter()
                    .map(|k| {
                        serde_json::json!({
                            "UserName": k.name,
                            "AccessKeyId": k.access_key_id,
                            "UserId": k.user_id,
                            "CreateDate": format_time(k.created_ms),
                            "Policy": k.policy,
                        })
                    })
                    .collect();
                return print_json(&serde_json::json!({ "AccessKeys": rows }));
            }
            println!(
                "{:<16} {:<22} {:<23} {:<20} ACTIONS",
                "NAME", "ACCESS KEY ID", "USER ID", "CREATED"
            );
            for k in keys::list(&paths)? {
                let created = format_time(k.created_ms);
                let actions = leadshop_spec::policy::Policy::parse(&k.policy.to_string())
                    .map_or_else(|_| "<invalid>".into(), |p| p.action_summary().join(","));
                println!(
                    "{:<16} {:<22} {:<23} {:<20} {actions}",
                    k.name, k.access_key_id, k.user_id, created
                );
            }
        }
        KeysCommand::Delete { instance, name } => {
            let (_, paths) = open(&instance, false)?;
            keys::delete(&paths, &name)?;
            println!("deleted key {name}");
        }
        KeysCommand::Rotate { instance, name } => {
            let (config, paths) = open(&instance, false)?;
            let k = keys::rotate(&paths, &master(&config)?, &name)?;
            print_new("rotated", &k, &paths);
        }
        KeysCommand::SetPolicy {
            instance,
            name,
            policy,
        } => {
            let (_, paths) = open(&instance, false)?;
            keys::set_policy(&paths, &name, &read_policy(&policy)?)?;
            println!("set the identity policy of key {name}");
        }
    }
    Ok(())
}

/// The log filter: `LEADSHOP_LOG`, or info with one line per request only for 5xx.
///
/// `YYYY-MM-DDTHH:MM:SSZ` for a key's creation time.
/// `leadshop lifecycle status`: the worker's status file, as a table or JSON.
fn lifecycle_status(config: &Config, json: bool) -> Result<()> {
    use leadshop_server::workers::lifecycle::{Counts, Phase, Progress, status_path};
    let path = status_path(&config.data_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
            "no lifecycle pass has run in {} yet (it runs while `leadshop serve` does)",
            config.data_dir.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if json {
        println!("{}", text.trim_end());
        return Ok(());
    }
    let p: Progress =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let table = |title: &str, counts: &Counts| {
        println!("{title}");
        if counts.is_empty() {
            println!("  (nothing transitioned, expired or aborted)");
            return;
        }
        println!(
            "  {:<24} {:<28} {:>12} {:>8} {:>18} {:>15} {:>15}",
            "BUCKET",
            "RULE",
            "TRANSITIONED",
            "EXPIRED",
            "NONCURRENT DELETED",
            "MARKERS REMOVED",
            "UPLOADS ABORTED"
        );
        for (bucket, rules) in counts {
            for (rule, c) in rules {
                println!(
                    "  {bucket:<24} {rule:<28} {:>12} {:>8} {:>18} {:>15} {:>15}",
                    c.transitioned,
                    c.expired,
                    c.noncurrent_deleted,
                    c.delete_markers_removed,
                    c.uploads_aborted
                );
            }
        }
    };
    println!("Data directory: {}", config.data_dir.display());
    println!("Day length:     {} s", p.day_ms / 1000);
    match &p.last {
        Some(l) => println!(
            "Last pass:      started {}, finished {}, {} versions looked at",
            format_time(l.started_ms),
            format_time(l.finished_ms),
            l.versions_scanned
        ),
        None => println!("Last pass:      none finished yet"),
    }
    if p.phase == Phase::Finished {
        println!("Next pass:      {}", format_time(p.next_pass_ms()));
    } else {
        println!(
            "Running:        started {}, {} versions so far ({:?})",
            format_time(p.started_ms),
            p.versions_scanned,
            p.phase
        );
    }
    if let Some(l) = &p.last {
        table("Last pass, per rule:", &l.counts);
    }
    table("Since the data directory was made:", &p.totals);
    Ok(())
}

fn format_time(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms / 1000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::report;

    #[test]
    fn each_cause_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "Address already in use");
        let quoted =
            anyhow::Error::new(io).context("cannot listen on 127.0.0.1:1: Address already in use");
        assert_eq!(
            report(&quoted),
            "cannot listen on 127.0.0.1:1: Address already in use"
        );
        let io = std::io::Error::other("disk full");
        let chained = anyhow::Error::new(io).context("writing x");
        assert_eq!(report(&chained), "writing x: disk full");
    }
}
