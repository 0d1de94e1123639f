//! The data directory is private to the server's user: 0700, and every file in it 0600.
//! Object names, tags, key metadata and the keys themselves live there.

use std::io;
use std::path::Path;

/// Creates `dir` (and missing parents) and makes it 0700.
///
/// # Errors
/// Any I/O error.
pub fn create(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Makes every directory under `dir` 0700 and every file 0600 (only those that are more
/// open: a directory made by an earlier version, or a file its creator left 0644). Symbolic
/// links are not followed. The data files in `objects/<shard>/` are left to the store's
/// orphan sweep, which walks them anyway, after start-up: their number grows with the
/// object count, and start-up must not.
///
/// # Errors
/// Any I/O error.
pub fn tighten(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let objects = dir.join("objects");
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            restrict(&d, 0o700)?;
            if d.parent() == Some(objects.as_path()) {
                continue;
            }
            for entry in std::fs::read_dir(&d)? {
                let entry = entry?;
                let kind = entry.file_type()?;
                if kind.is_dir() {
                    stack.push(entry.path());
                } else if kind.is_file() {
                    restrict(&entry.path(), 0o600)?;
                }
            }
        }
        fn restrict(path: &Path, mode: u32) -> io::Result<()> {
            let current = std::fs::symlink_metadata(path)?.permissions().mode();
            if current & 0o077 != 0 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
            }
            Ok(())
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn tightens_what_an_earlier_version_left_open() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        std::fs::create_dir_all(dir.join("objects/ab")).unwrap();
        std::fs::write(dir.join("meta.redb"), b"x").unwrap();
        std::fs::write(dir.join("objects/ab/cd"), b"x").unwrap();
        for (p, m) in [
            (dir.clone(), 0o755),
            (dir.join("objects"), 0o755),
            (dir.join("meta.redb"), 0o644),
            (dir.join("objects/ab/cd"), 0o644),
        ] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m)).unwrap();
        }
        create(&dir).unwrap();
        tighten(&dir).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("objects")), 0o700);
        assert_eq!(mode(&dir.join("objects/ab")), 0o700);
        assert_eq!(mode(&dir.join("meta.redb")), 0o600);
        // Data files are the orphan sweep's (crates/store/tests/orphans.rs): not walked here.
        assert_eq!(mode(&dir.join("objects/ab/cd")), 0o644);
    }
}
