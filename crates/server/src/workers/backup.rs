//! The backup watcher: when `<data-dir>/backup.request` appears (written by `leadshop backup`
//! while this server holds the data directory), it takes the backup the request names
//! ([`crate::backup::backup`]) while requests go on, and answers in `backup-report.json`.

use std::sync::Arc;

use leadshop_keys::Locations;
use leadshop_store::Store;
use std::time::Duration;

use super::{Stop, Worker};
use crate::backup::{self, REPORT_FILE, REQUEST_FILE, Report, Request, Source};
use crate::events::access_log::spool::Spool;

/// How often the server looks for a request.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

/// The backup watcher, and what a backup copies.
pub struct BackupWatcher {
    /// The engine (metadata snapshot, data files).
    pub store: Arc<Store>,
    /// The data directory (where requests appear) and the key files.
    pub locations: Locations,
    /// The access-log spool (records not yet delivered).
    pub spool: Arc<Spool>,
}

#[async_trait::async_trait]
impl Worker for BackupWatcher {
    fn name(&self) -> String {
        "backup".into()
    }

    async fn run(&self, mut stop: Stop) {
        let dir = self.locations.data_dir.clone();
        loop {
            tokio::select! {
                () = tokio::time::sleep(WATCH_INTERVAL) => {}
                () = stop.stopped() => return,
            }
            let request = dir.join(REQUEST_FILE);
            let Ok(text) = std::fs::read(&request) else {
                continue;
            };
            // Taken once: a crash mid-backup leaves a directory without BACKUP.json (which a
            // restore refuses) and the command, still waiting, says the server did not answer.
            if let Err(e) = std::fs::remove_file(&request) {
                tracing::error!(error = %e, "cannot remove {}; backup requests are ignored", request.display());
                continue;
            }
            let request: Request = match serde_json::from_slice(&text) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "a backup request that does not parse; ignored");
                    continue;
                }
            };
            let (store, locations, spool) = (
                self.store.clone(),
                self.locations.clone(),
                self.spool.clone(),
            );
            let target = request.target.clone();
            let outcome = tokio::task::spawn_blocking(move || {
                backup::backup(
                    &Source {
                        now_ms: store.clock().now_ms(),
                        store: &store,
                        locations,
                        spool: Some(&spool),
                    },
                    &target,
                )
            })
            .await;
            let result = match outcome {
                Ok(Ok(m)) => {
                    tracing::info!(id = %m.id, versions = m.versions, files = m.files.len(), data = %request.target.data.display(), keys = %request.target.keys.display(), "backup taken");
                    Ok(m)
                }
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(format!("the backup panicked: {e}")),
            };
            if let Err(e) = &result {
                tracing::error!(error = %e, "backup failed");
            }
            let report = Report {
                id: request.id,
                result,
            };
            let text = serde_json::to_vec_pretty(&report).expect("serialisable");
            if let Err(e) = leadshop_keys::secret_file::write(&dir.join(REPORT_FILE), &text) {
                tracing::error!(error = %e, "cannot write {REPORT_FILE}");
            }
        }
    }
}
