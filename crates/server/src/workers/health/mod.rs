//! Data health: the scrubber ([`scrub`]: every object's data read back and checked) and the
//! disk watcher ([`disk`]: free space of the data directory), their shared status, the
//! `/metrics` lines and the console's view of them.

pub mod disk;
pub mod scrub;
pub use crate::observability::health as status;

pub use status::Health;

use std::fmt::Write as _;

/// The `/metrics` lines of both.
#[must_use]
pub fn render_metrics(h: &Health) -> String {
    let mut out = String::new();
    let s = h.scrub.read().expect("scrub status").clone();
    let last = s.last.as_ref();
    let running = s.running.as_ref();
    let checked = running.map_or(0, |p| p.versions_checked);
    let _ = writeln!(
        out,
        "# HELP leadshop_scrub_damaged_versions Damaged object versions found by the last finished scrub pass.\n# TYPE leadshop_scrub_damaged_versions gauge\nleadshop_scrub_damaged_versions {}",
        last.map_or(0, |p| p.damaged_count)
    );
    let _ = writeln!(
        out,
        "# HELP leadshop_scrub_damaged_found_total Damaged object versions found since the server started.\n# TYPE leadshop_scrub_damaged_found_total counter\nleadshop_scrub_damaged_found_total {}",
        s.found_since_start
    );
    let _ = writeln!(
        out,
        "# HELP leadshop_scrub_last_pass_finished_seconds When the last scrub pass finished (0: none yet).\n# TYPE leadshop_scrub_last_pass_finished_seconds gauge\nleadshop_scrub_last_pass_finished_seconds {}",
        last.and_then(|p| p.finished_ms).map_or(0, |ms| ms / 1000)
    );
    let _ = writeln!(
        out,
        "# HELP leadshop_scrub_pass_running Whether a scrub pass is running.\n# TYPE leadshop_scrub_pass_running gauge\nleadshop_scrub_pass_running {}\n# HELP leadshop_scrub_pass_versions_checked Versions checked so far by the running pass.\n# TYPE leadshop_scrub_pass_versions_checked gauge\nleadshop_scrub_pass_versions_checked {checked}",
        u8::from(running.is_some())
    );
    if let Some(d) = h.disk.read().expect("disk status").as_ref() {
        let level = match d.level {
            status::Level::Ok => 0,
            status::Level::Warning => 1,
            status::Level::Alarm => 2,
        };
        let _ = writeln!(
            out,
            "# HELP leadshop_disk_free_bytes Free bytes on the data directory's file system (for the server's user).\n# TYPE leadshop_disk_free_bytes gauge\nleadshop_disk_free_bytes {}\n# HELP leadshop_disk_total_bytes Size of the data directory's file system.\n# TYPE leadshop_disk_total_bytes gauge\nleadshop_disk_total_bytes {}\n# HELP leadshop_disk_free_level 0 above the warning threshold, 1 below it, 2 below the alarm threshold.\n# TYPE leadshop_disk_free_level gauge\nleadshop_disk_free_level {level}\n# HELP leadshop_disk_alarms_total Disk alarms raised since the server started.\n# TYPE leadshop_disk_alarms_total counter\nleadshop_disk_alarms_total {}\n# HELP leadshop_disk_checks_total Free-space checks since the server started.\n# TYPE leadshop_disk_checks_total counter\nleadshop_disk_checks_total {}",
            d.free_bytes, d.total_bytes, d.alarms, d.checks
        );
    }
    out
}

/// The console's view: the scrubber's status and the last disk measurement.
#[must_use]
pub fn console_json(h: &Health) -> serde_json::Value {
    let s = h.scrub.read().expect("scrub status").clone();
    let d = h.disk.read().expect("disk status").clone();
    serde_json::json!({ "scrub": s, "disk": d })
}
