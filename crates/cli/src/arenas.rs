//! `leadshop serve` caps glibc's malloc arenas at two. glibc gives threads up to eight arenas
//! per core and keeps what a thread frees in its own, so a server whose requests and workers
//! hop across the blocking pool's threads holds memory it no longer uses: measured at
//! 1,000 busy TLS connections, 123 MiB with glibc's default and 98 MiB with two arenas; at rest
//! after a scrub pass over 1,000,000 objects, 124–134 MiB and 98–110 MiB; 4 KiB PUTs at
//! concurrency 16 were not slower (docs/BENCHMARKS.md). The cap can only be set before the
//! process starts, so the server runs itself again with `MALLOC_ARENA_MAX=2` (same process id,
//! same arguments) unless the environment already sets it — set it to choose another value.

/// Re-executes this binary with `MALLOC_ARENA_MAX=2` when the environment does not set it;
/// returns only when it did not (already set, or the re-exec failed: then glibc's default).
pub(crate) fn cap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt as _;
        if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let mut args = std::env::args_os();
        let arg0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
        let err = std::process::Command::new(&exe)
            .arg0(arg0)
            .args(args)
            .env("MALLOC_ARENA_MAX", "2")
            .exec();
        eprintln!(
            "warning: could not run {} again with MALLOC_ARENA_MAX=2 ({err}); glibc's default arenas",
            exe.display()
        );
    }
}
