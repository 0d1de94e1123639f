//! What a server has loaded from a key file, swapped when any process changes the file.
//!
//! On Linux the kernel says when: an inotify watch on the file's directory. The kernel queues
//! the event inside the writer's `rename`, before it returns, so a look that starts after a
//! change was made (by the CLI, say) always sees it: a key deleted or rotated stops working at
//! the very next request. A look reads the watch's queue without blocking (no path lookup, no
//! `stat`); only when the file changed is it read and the new value swapped in. Elsewhere, or
//! if inotify is unavailable, a look compares the file's stamp (`stat`) instead.
//!
//! A file that fails to load keeps the previous value in force, and is logged: a broken edit
//! cannot lock everyone out or let anyone in.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// A loaded value and how its file's changes are noticed.
#[derive(Debug)]
pub struct Snapshot<T> {
    path: PathBuf,
    what: &'static str,
    value: RwLock<Arc<T>>,
    /// Held while a look checks for changes (and reloads), so a concurrent look waits for
    /// the new value rather than returning the old one.
    changes: Mutex<Changes>,
    forced: AtomicBool,
}

impl<T> Snapshot<T> {
    /// A snapshot of `path` with the value `load` reads from it; `what` names it in logs.
    /// The watch starts before the load, so a change made meanwhile is not missed.
    ///
    /// # Errors
    /// What `load` returns.
    pub fn load<E>(
        path: PathBuf,
        what: &'static str,
        load: impl FnOnce() -> Result<T, E>,
    ) -> Result<Self, E> {
        // Watch first: a change made between the watch and the load is loaded again later,
        // one made before the watch is in what `load` reads.
        let changes = Changes::new(&path);
        let value = load()?;
        Ok(Self {
            path,
            what,
            value: RwLock::new(Arc::new(value)),
            changes: Mutex::new(changes),
            forced: AtomicBool::new(false),
        })
    }

    /// The value, reloaded with `load` first if the file changed since the last look.
    pub fn get<E: std::fmt::Display>(&self, load: impl FnOnce() -> Result<T, E>) -> Arc<T> {
        let mut changes = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        let forced = self.forced.swap(false, Ordering::AcqRel);
        if changes.changed(&self.path) || forced {
            match load() {
                Ok(v) => {
                    tracing::info!(file = %self.path.display(), "reloaded {}", self.what);
                    *self.value.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(v);
                }
                Err(e) => {
                    tracing::error!(file = %self.path.display(), error = %e, "changed but cannot be loaded; keeping the previous {}", self.what);
                }
            }
        }
        drop(changes);
        self.value.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reloads at the next look even if the file did not change (a new master key may open
    /// what the last load could not).
    pub fn force_reload(&self) {
        self.forced.store(true, Ordering::Release);
    }

    /// Whether changes are noticed by the kernel (inotify) rather than by a `stat` per look.
    #[must_use]
    pub fn is_notified(&self) -> bool {
        let changes = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        !matches!(*changes, Changes::Stat(_))
    }
}

/// How a change to the file is noticed.
#[derive(Debug)]
enum Changes {
    /// The kernel's queue of changes in the file's directory.
    #[cfg(target_os = "linux")]
    Notify {
        fd: rustix::fd::OwnedFd,
        name: std::ffi::CString,
    },
    /// The file's stamp at the last look.
    Stat(Option<Stamp>),
}

impl Changes {
    fn new(path: &Path) -> Self {
        #[cfg(target_os = "linux")]
        match notify::watch(path) {
            Ok((fd, name)) => return Self::Notify { fd, name },
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot watch the file for changes; checking it at each request instead");
            }
        }
        Self::Stat(stamp(path))
    }

    /// Whether the file changed since the last call.
    fn changed(&mut self, path: &Path) -> bool {
        match self {
            #[cfg(target_os = "linux")]
            Self::Notify { fd, name } => match notify::drain(fd, name) {
                Ok(changed) => changed,
                Err(e) => {
                    // The watch is gone (its directory was replaced, say): look at the file.
                    tracing::warn!(file = %path.display(), error = %e, "lost the watch on the file; checking it at each request from now on");
                    *self = Self::Stat(stamp(path));
                    true
                }
            },
            Self::Stat(last) => {
                let now = stamp(path);
                let changed = *last != now;
                *last = now;
                changed
            }
        }
    }
}

/// What identifies one version of a file on disk (a rename makes a new inode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<std::time::SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: m.modified().ok(),
        len: m.len(),
        #[cfg(unix)]
        inode: std::os::unix::fs::MetadataExt::ino(&m),
    })
}

#[cfg(target_os = "linux")]
mod notify {
    use std::ffi::{CStr, CString};
    use std::io;
    use std::mem::MaybeUninit;
    use std::path::Path;

    use rustix::fd::OwnedFd;
    use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};

    /// A non-blocking inotify instance watching the directory of `path` for files written,
    /// renamed in or out, created or deleted; and the file's name within it.
    pub(super) fn watch(path: &Path) -> io::Result<(OwnedFd, CString)> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::other("the path names no file"))?;
        let name =
            CString::new(std::os::unix::ffi::OsStrExt::as_bytes(name)).map_err(io::Error::other)?;
        let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)?;
        inotify::add_watch(
            &fd,
            dir,
            WatchFlags::CLOSE_WRITE
                | WatchFlags::MOVED_TO
                | WatchFlags::MOVED_FROM
                | WatchFlags::CREATE
                | WatchFlags::DELETE
                | WatchFlags::DELETE_SELF
                | WatchFlags::MOVE_SELF
                | WatchFlags::ONLYDIR,
        )?;
        Ok((fd, name))
    }

    /// Reads every queued event; whether one concerned the file (or events were lost).
    ///
    /// # Errors
    /// The watch ended (its directory was deleted or moved), or reading failed.
    pub(super) fn drain(fd: &OwnedFd, name: &CStr) -> io::Result<bool> {
        let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
        let mut reader = inotify::Reader::new(fd, &mut buf);
        let mut changed = false;
        loop {
            match reader.next() {
                Ok(ev) => {
                    let flags = ev.events();
                    if flags.intersects(
                        ReadFlags::IGNORED | ReadFlags::DELETE_SELF | ReadFlags::MOVE_SELF,
                    ) {
                        return Err(io::Error::other("the directory's watch ended"));
                    }
                    changed |=
                        flags.contains(ReadFlags::QUEUE_OVERFLOW) || ev.file_name() == Some(name);
                }
                Err(rustix::io::Errno::AGAIN) => return Ok(changed),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(path: &Path) -> Result<String, std::io::Error> {
        std::fs::read_to_string(path)
    }

    #[test]
    fn a_change_by_rename_is_seen_at_the_next_look_and_a_bad_file_keeps_the_old_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        std::fs::write(&path, "one").unwrap();
        let snap = Snapshot::load(path.clone(), "test", || load(&path)).unwrap();
        #[cfg(target_os = "linux")]
        assert!(snap.is_notified());
        assert_eq!(*snap.get(|| load(&path)), "one");
        // Files beside it change nothing (and are not read).
        std::fs::write(dir.path().join("other.json"), "x").unwrap();
        assert_eq!(*snap.get(|| Err::<String, _>("must not reload")), "one");
        // Replaced by rename, as every writer does: the very next look has the new value.
        let tmp = dir.path().join(".keys.json.tmp");
        std::fs::write(&tmp, "two").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert_eq!(*snap.get(|| load(&path)), "two");
        // A change that fails to load keeps the previous value.
        std::fs::write(&path, "three").unwrap();
        assert_eq!(*snap.get(|| Err::<String, _>("damaged")), "two");
        // Forced reloads happen without a change.
        snap.force_reload();
        assert_eq!(*snap.get(|| Ok::<_, std::io::Error>("four".into())), "four");
        // Deleted: the loader decides (here, it fails, so the value stays).
        std::fs::remove_file(&path).unwrap();
        assert_eq!(*snap.get(|| load(&path)), "four");
    }

    #[test]
    fn without_a_directory_watch_it_falls_back_to_the_file_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kms.json");
        std::fs::write(&path, "one").unwrap();
        let mut changes = Changes::Stat(stamp(&path));
        assert!(!changes.changed(&path));
        let tmp = dir.path().join("tmp");
        std::fs::write(&tmp, "two").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert!(changes.changed(&path));
        assert!(!changes.changed(&path));
    }
}
