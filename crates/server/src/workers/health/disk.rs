//! The disk watcher: free space of the data directory's file system every
//! `[disk] check_seconds`. Below `warn_free_percent` it warns (log, `/metrics`, console);
//! below `alarm_free_percent` it raises an alarm, sent like the budget alarm (an SNS-style
//! notification to `[budget] webhook_url`, retried from the alarm's outbox), once per
//! crossing; back above the warning threshold it sends the alarm's OK. All of it before
//! writes start failing with 507 Insufficient Storage.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::super::{Stop, Worker};
use super::status::{DiskStatus, Level};
use crate::config::Disk;
use crate::observability::alarm::Alarms;
use crate::observability::health::Health;
use leadshop_store::SharedClock;

/// Size and space available to an unprivileged writer, of the file system holding `path`.
///
/// # Errors
/// `statvfs` fails.
pub fn space(path: &Path) -> std::io::Result<(u64, u64)> {
    let s = rustix::fs::statvfs(path)?;
    let block = s.f_frsize.max(1);
    Ok((
        s.f_blocks.saturating_mul(block),
        s.f_bavail.saturating_mul(block),
    ))
}

/// The level of `free_percent` given the one before (an alarm holds until the warning
/// threshold is passed again, so a file system hovering at the alarm line alarms once).
#[must_use]
pub fn level(free_percent: f64, before: Level, warn: u8, alarm: u8) -> Level {
    let held = before == Level::Alarm && free_percent < f64::from(warn);
    if free_percent < f64::from(alarm) || held {
        Level::Alarm
    } else if free_percent < f64::from(warn) {
        Level::Warning
    } else {
        Level::Ok
    }
}

/// The disk watcher, and what it uses.
pub struct DiskWatcher {
    /// The directory whose file system it watches.
    pub data_dir: PathBuf,
    /// Its thresholds and interval (`[disk]`).
    pub config: Disk,
    /// When it looked.
    pub clock: SharedClock,
    /// Where its status goes (`/metrics`, the console).
    pub health: Arc<Health>,
    /// Sends the alarm's notifications.
    pub alarms: Arc<Alarms>,
}

impl DiskWatcher {
    fn check(&self) {
        let s = self;
        let cfg = &s.config;
        let (total, free) = match space(&s.data_dir) {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the data directory's free space");
                return;
            }
        };
        let free_percent = if total == 0 {
            100.0
        } else {
            free as f64 * 100.0 / total as f64
        };
        let now = s.clock.now_ms();
        let mut status = s.health.disk.write().expect("disk status");
        let before = status.as_ref().map(|d| d.level).unwrap_or_default();
        let level = level(
            free_percent,
            before,
            cfg.warn_free_percent,
            cfg.alarm_free_percent,
        );
        let mut alarms = status.as_ref().map_or(0, |d| d.alarms);
        let checks = status.as_ref().map_or(0, |d| d.checks) + 1;
        if level != before {
            let detail = format!(
                "{:.1}% free ({free} of {total} bytes) on the file system of {}",
                free_percent,
                s.data_dir.display()
            );
            match level {
                Level::Alarm => {
                    alarms += 1;
                    tracing::error!(
                        free_percent,
                        free,
                        total,
                        "disk alarm: {detail}, under {}%; writes fail with 507 once it is full",
                        cfg.alarm_free_percent
                    );
                }
                Level::Warning => tracing::warn!(
                    free_percent,
                    free,
                    total,
                    "disk space low: {detail}, under {}%",
                    cfg.warn_free_percent
                ),
                Level::Ok => tracing::info!(
                    free_percent,
                    "disk space back above {}%: {detail}",
                    cfg.warn_free_percent
                ),
            }
            // The alarm's state changes are notifications, as CloudWatch sends them.
            if level == Level::Alarm || before == Level::Alarm {
                let state = if level == Level::Alarm { "ALARM" } else { "OK" };
                if let Err(e) = s.alarms.notify_alarm(
                    "leadshop-disk-free-space",
                    state,
                    &format!("Threshold Crossed: {detail}"),
                    now,
                ) {
                    tracing::error!(error = %e, "cannot queue the disk alarm's notification");
                }
            }
        }
        *status = Some(DiskStatus {
            total_bytes: total,
            free_bytes: free,
            free_percent,
            level,
            checked_ms: now,
            alarms,
            checks,
        });
    }
}

#[async_trait::async_trait]
impl Worker for DiskWatcher {
    fn name(&self) -> String {
        "disk".into()
    }

    async fn run(&self, mut stop: Stop) {
        let every = Duration::from_secs(self.config.check_seconds.max(1));
        loop {
            self.check();
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = stop.stopped() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_cross_once() {
        assert_eq!(level(50.0, Level::Ok, 15, 5), Level::Ok);
        assert_eq!(level(10.0, Level::Ok, 15, 5), Level::Warning);
        assert_eq!(level(4.0, Level::Warning, 15, 5), Level::Alarm);
        assert_eq!(
            level(6.0, Level::Alarm, 15, 5),
            Level::Alarm,
            "held until above the warning"
        );
        assert_eq!(level(16.0, Level::Alarm, 15, 5), Level::Ok);
    }

    #[test]
    fn space_of_a_real_file_system() {
        let (total, free) = space(Path::new("/")).unwrap();
        assert!(total > 0 && free <= total);
    }
}
