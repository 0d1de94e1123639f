//! The orphan sweep: data files a crash left behind (sealed into `objects/` but never
//! committed, or still in `tmp/`) are removed. `tmp/` is emptied when the store opens, before
//! any writer exists; the walk of `objects/` — one directory entry per data file, so it grows
//! with the object count — may run after the store has started serving
//! ([`crate::Store::open_deferring_sweep`]): files created meanwhile are noted in
//! [`DataDirs`]' born set and spared, and a file is judged against a metadata snapshot taken
//! after the born set was started, so a write committed during the sweep is never taken for
//! an orphan.

use std::fs;
use std::io;

use crate::data::{DataDirs, FileId};

/// What an orphan sweep did ([`crate::Store::sweep_orphans`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Data files found (in `objects/`).
    pub files: u64,
    /// Unreferenced data files removed.
    pub removed: u64,
    /// Data files whose permissions were more open than 0600 (made so).
    pub tightened: u64,
    /// Milliseconds the sweep took.
    pub millis: u64,
}

/// Makes a data file 0600 if it is more open (a file an earlier version made); `true` if it
/// was. A file removed meanwhile (deleted by a request) is no error.
fn restrict_to_owner(entry: &fs::DirEntry) -> io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = match entry.metadata() {
            Ok(m) => m.permissions().mode(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        if mode & 0o077 != 0 {
            match fs::set_permissions(entry.path(), fs::Permissions::from_mode(0o600)) {
                Ok(()) => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = entry;
    Ok(false)
}

impl DataDirs {
    /// Empties `tmp/` (files being written when the last process stopped) and starts noting
    /// the data files created from now on, which [`DataDirs::remove_orphans`] must spare.
    /// Called at open, before any writer exists. Returns how many temp files were removed.
    pub(crate) fn empty_tmp_and_track(&self) -> io::Result<u64> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.tmp)? {
            fs::remove_file(entry?.path())?;
            removed += 1;
        }
        *self.born.lock().expect("born set") = Some(std::collections::HashSet::new());
        Ok(removed)
    }

    /// Notes a new data file while an orphan sweep is pending or running.
    pub(crate) fn note_born(&self, id: FileId) {
        if let Some(born) = self.born.lock().expect("born set").as_mut() {
            born.insert(id);
        }
    }

    /// Deletes every data file that `is_referenced` (a metadata snapshot taken after
    /// [`DataDirs::empty_tmp_and_track`]) does not claim and that was not created since: an
    /// orphan of a write a crash interrupted between sealing its file and committing it. Files
    /// kept are made 0600 where an earlier version left them more open. Ends the tracking.
    pub(crate) fn remove_orphans(
        &self,
        is_referenced: impl Fn(FileId) -> bool,
    ) -> io::Result<SweepReport> {
        let started = std::time::Instant::now();
        let mut report = SweepReport::default();
        let result = self.sweep(&is_referenced, &mut report);
        *self.born.lock().expect("born set") = None;
        result?;
        report.millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(report)
    }

    fn sweep(
        &self,
        is_referenced: &impl Fn(FileId) -> bool,
        report: &mut SweepReport,
    ) -> io::Result<()> {
        for shard in fs::read_dir(&self.objects)? {
            let shard = shard?;
            if !shard.file_type()?.is_dir() {
                continue;
            }
            for entry in fs::read_dir(shard.path())? {
                let entry = entry?;
                let id = entry
                    .file_name()
                    .to_str()
                    .and_then(|n| FileId::try_from(n.to_string()).ok());
                let Some(id) = id else {
                    tracing::warn!(path = %entry.path().display(), "unexpected file in the data directory, left alone");
                    continue;
                };
                report.files += 1;
                let born = self
                    .born
                    .lock()
                    .expect("born set")
                    .as_ref()
                    .is_some_and(|b| b.contains(&id));
                if born || is_referenced(id) {
                    report.tightened += u64::from(restrict_to_owner(&entry)?);
                } else {
                    self.remove(id);
                    report.removed += 1;
                }
            }
        }
        Ok(())
    }
}
