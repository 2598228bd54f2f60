//! Small file-system helpers: private modes and atomic replacement ([`write_atomic`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::ConfigError;

/// Mode of files we create that may hold secrets or personal settings.
pub(crate) const PRIVATE_FILE: u32 = 0o600;
/// Mode of directories we create.
pub(crate) const PRIVATE_DIR: u32 = 0o700;

/// Reads a UTF-8 file; `Ok(None)` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, ConfigError> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
            ConfigError::io(
                "read",
                path,
                io::Error::new(io::ErrorKind::InvalidData, "the file is not valid UTF-8"),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ConfigError::io("read", path, e)),
    }
}

/// The permission bits of `path`, if it exists.
pub(crate) fn mode_of(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Creates a directory (not its parents) with `mode`; `Ok(false)` when it already exists.
pub(crate) fn create_dir(path: &Path, mode: u32) -> io::Result<bool> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    match builder.create(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Opens a new file with `mode`, failing if it exists.
pub(crate) fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    opts.open(path)
}

fn set_mode(file: &File, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (file, mode);
        Ok(())
    }
}

/// Creates `path` with `contents` only if it does not exist, without ever leaving a
/// partly written file at `path`: the data goes to a temp file that is then hard-linked
/// into place (which fails if `path` appeared meanwhile). Returns whether it was created.
pub(crate) fn write_new(path: &Path, contents: &[u8], mode: u32) -> io::Result<bool> {
    if path.exists() {
        return Ok(false);
    }
    let (mut file, tmp) = create_temp(path)?;
    let result = (|| -> io::Result<bool> {
        set_mode(&file, mode)?;
        file.write_all(contents)?;
        file.sync_all()?;
        match fs::hard_link(&tmp, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            // File systems without hard links: fall back to a no-clobber create.
            Err(_) => match create_new(path, PRIVATE_FILE) {
                Ok(mut f) => {
                    set_mode(&f, mode)?;
                    f.write_all(contents)?;
                    f.sync_all()?;
                    Ok(true)
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(e),
            },
        }
    })();
    drop(file);
    let _ = fs::remove_file(&tmp);
    result
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Creates a new, empty temp file next to `path`, mode 0600 whatever the final mode will
/// be, so that the data is never readable by others before the caller sets the mode.
fn create_temp(path: &Path) -> io::Result<(File, PathBuf)> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_owned());
    let mut attempts = 0;
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_file_name(format!(".{name}.tmp.{}.{n}", std::process::id()));
        match create_new(&tmp, PRIVATE_FILE) {
            Ok(file) => return Ok((file, tmp)),
            // A leftover of an earlier process with the same id: try the next name.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 100 => {
                attempts += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Replaces `path` with `bytes` atomically, so that readers see either the old or the new
/// content, never a mix, and a crash leaves one of the two on disk:
///
/// 1. a temp file is created next to `path` with mode 0600, so nobody else can open it
///    while the data is written (and keep the descriptor),
/// 2. the data is written, the mode is set (fchmod) to `mode` or, when `mode` is `None`,
///    to the mode of the existing `path` (0600 when there is none), exactly (the umask
///    does not apply), and the file is flushed to disk (fsync),
/// 3. the temp file is renamed over `path`,
/// 4. the directory is flushed so the rename itself is durable.
///
/// A failure in steps 1-3 removes the temp file and is returned; `path` is then
/// unchanged. A failure of step 4 happens after the new content is in place, so it is
/// logged (some file systems refuse to fsync a directory) and `Ok` is returned. A
/// symlink at `path` is replaced, not followed: resolve it first to write through it.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Option<u32>) -> io::Result<()> {
    let mode = mode.or_else(|| mode_of(path)).unwrap_or(PRIVATE_FILE);
    let (mut file, tmp) = create_temp(path)?;
    let result = (|| -> io::Result<()> {
        file.write_all(bytes)?;
        set_mode(&file, mode)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    drop(file);
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = sync_parent(path) {
        tracing::warn!(
            path = %path.display(),
            error = %e,
            "the new file is in place, but its directory could not be flushed to disk"
        );
    }
    Ok(())
}

/// Flushes the directory holding `path` (so that a rename into it survives a crash).
fn sync_parent(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// [`write_atomic`] with this crate's error type.
pub(crate) fn replace(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<(), ConfigError> {
    write_atomic(path, bytes, mode).map_err(|e| ConfigError::io("write", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp."))
            .collect()
    }

    #[cfg(unix)]
    #[test]
    fn modes_explicit_preserved_or_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        write_atomic(&p, b"one", None).unwrap();
        assert_eq!(mode(&p), 0o600);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, b"two", None).unwrap();
        assert_eq!(mode(&p), 0o640, "the old mode is kept");
        write_atomic(&p, b"three", Some(0o644)).unwrap();
        assert_eq!(
            mode(&p),
            0o644,
            "an explicit mode wins, exactly (not narrowed by umask)"
        );
        assert_eq!(fs::read(&p).unwrap(), b"three");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn the_temp_file_is_private_while_it_is_written() {
        // Observe the temp file right after creation: it must be 0600 even when the final
        // mode is wider, so no one can open it and keep reading later writes.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let (file, tmp) = create_temp(&p).unwrap();
        assert_eq!(mode(&tmp), 0o600);
        drop(file);
        fs::remove_file(&tmp).unwrap();
    }

    #[test]
    fn a_failed_write_leaves_the_target_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a non-empty directory: rename fails after the temp file exists.
        let target = dir.path().join("d");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("keep"), b"x").unwrap();
        assert!(write_atomic(&target, b"data", None).is_err());
        assert!(target.join("keep").exists());
        assert!(
            leftovers(dir.path()).is_empty(),
            "{:?}",
            leftovers(dir.path())
        );
        // A missing directory fails cleanly too.
        let missing = dir.path().join("no/such/file");
        assert!(write_atomic(&missing, b"data", None).is_err());
    }

    #[test]
    fn write_new_never_clobbers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("soul");
        assert!(write_new(&p, b"first", 0o600).unwrap());
        assert!(!write_new(&p, b"second", 0o600).unwrap());
        assert_eq!(fs::read(&p).unwrap(), b"first");
        assert!(leftovers(dir.path()).is_empty());
    }
}
