//! `leadshop backup` and `leadshop restore` ([`leadshop_server::backup`] does the work): the
//! backup is taken by the server holding the data directory when one runs (handed over as a
//! master-key rotation is), else by this command with the directory to itself.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use leadshop_keys::master_key;
use leadshop_server::Config;
use leadshop_server::backup::{
    self, Manifest, REPORT_FILE, REQUEST_FILE, Report, Request, Source, Target,
};
use leadshop_store::{MasterKeys, Store};

/// `leadshop compact`: rebuilds the metadata of a stopped server's data directory.
pub(crate) fn compact(config: &Config) -> Result<()> {
    let dir = &config.data_dir;
    if !dir.join(leadshop_store::METADATA_FILE).exists() {
        bail!("{} holds no leadshop data (no meta.redb)", dir.display());
    }
    let started = Instant::now();
    let r = Store::compact_metadata(dir).map_err(|e| {
        let running = e.to_string().contains("already open");
        anyhow::anyhow!(
            "{}{e}",
            if running {
                "a running server holds this data directory; stop it first: "
            } else {
                ""
            }
        )
    })?;
    println!(
        "{}: {} versions; meta.redb {} → {} bytes in {:.1} s",
        dir.display(),
        r.versions,
        r.bytes_before,
        r.bytes_after,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Takes a backup of `config`'s data directory into `target`, online or offline.
pub(crate) fn take(config: &Config, target: &Target, wait: Duration) -> Result<Manifest> {
    let locations = config.key_locations();
    let data_dir = &locations.data_dir;
    if !data_dir.join(leadshop_store::METADATA_FILE).exists() {
        bail!(
            "{} holds no leadshop data (no meta.redb)",
            data_dir.display()
        );
    }
    // Refused here, before a server is asked, so the message comes at once.
    let target = backup::check_target(target, data_dir)?;
    let master = master_key::load(&locations.master_key)
        .with_context(|| format!("loading {}", locations.master_key.display()))?;
    match Store::open(data_dir, Some(MasterKeys::new(master))) {
        Ok(store) => {
            let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
            Ok(backup::backup(
                &Source {
                    store: &store,
                    locations,
                    spool: None,
                    now_ms,
                },
                &target,
            )?)
        }
        Err(e) if e.is_held_elsewhere() => hand_to_server(data_dir, &target, wait),
        Err(e) => Err(e).with_context(|| format!("opening {}", data_dir.display())),
    }
}

/// Asks the running server for the backup and waits for its report.
fn hand_to_server(data_dir: &Path, target: &Target, wait: Duration) -> Result<Manifest> {
    let id = hex::encode(rand::random::<[u8; 8]>());
    let request = Request {
        id: id.clone(),
        target: target.clone(),
    };
    let path = data_dir.join(REQUEST_FILE);
    if path.exists() {
        bail!(
            "another backup is waiting for the server ({} exists)",
            path.display()
        );
    }
    leadshop_keys::secret_file::write(&path, &serde_json::to_vec(&request)?)
        .with_context(|| format!("writing {}", path.display()))?;
    let started = Instant::now();
    loop {
        let report: Option<Report> = std::fs::read(data_dir.join(REPORT_FILE))
            .ok()
            .and_then(|t| serde_json::from_slice(&t).ok());
        if let Some(r) = report.filter(|r| r.id == id) {
            return r
                .result
                .map_err(|e| anyhow::anyhow!("the running server: {e}"));
        }
        if started.elapsed() >= wait {
            let _ = std::fs::remove_file(&path);
            bail!(
                "the running server has not finished the backup within {wait:?} (is it an older leadshop, or stuck? see its log); {} has no BACKUP.json until it does",
                target.data.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Prints what a backup holds and where.
pub(crate) fn print_taken(m: &Manifest, target: &Target) {
    let bytes: u64 = m.files.iter().map(|f| f.bytes).sum();
    println!(
        "backup {} ({}): {} buckets, {} object versions, {} files, {bytes} bytes",
        m.id,
        if m.online {
            "taken by the running server"
        } else {
            "offline"
        },
        m.buckets,
        m.versions,
        m.files.len()
    );
    println!("  data: {}", target.data.display());
    println!(
        "  keys: {} (master key {}; without it nothing in the data can be read)",
        target.keys.display(),
        m.master_key_id
    );
    println!(
        "keep the two apart: another volume, another machine or a secret manager for the keys"
    );
}

/// Restores a backup into `data_dir`.
pub(crate) fn restore(from: &Target, data_dir: &Path) -> Result<Manifest> {
    let m = backup::restore(from, data_dir)?;
    println!(
        "restored backup {} into {}: {} buckets, {} object versions, {} files checked against the manifests",
        m.id,
        data_dir.display(),
        m.buckets,
        m.versions,
        m.files.len()
    );
    println!("start it: leadshop serve --data-dir {}", data_dir.display());
    Ok(m)
}
