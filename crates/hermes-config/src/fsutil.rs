//! Small file-system helpers: private modes and atomic replacement.

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
    let tmp = temp_path(path);
    let result = (|| -> io::Result<bool> {
        let mut file = create_new(&tmp, mode)?;
        set_mode(&file, mode)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        match fs::hard_link(&tmp, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            // File systems without hard links: fall back to a no-clobber create.
            Err(_) => match create_new(path, mode) {
                Ok(mut f) => {
                    f.write_all(contents)?;
                    f.sync_all()?;
                    Ok(true)
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(e),
            },
        }
    })();
    let _ = fs::remove_file(&tmp);
    result
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_owned());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.tmp.{}.{n}", std::process::id()))
}

/// Replaces `path` with `contents` atomically: a temp file in the same directory is
/// written, flushed to disk and renamed over the target, then the directory is synced.
/// The file gets `mode` (callers pass the old file's mode to preserve it).
pub(crate) fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), ConfigError> {
    let tmp = temp_path(path);
    let result = (|| -> io::Result<()> {
        let mut file = create_new(&tmp, mode)?;
        // The umask may have narrowed the mode given to open(2); set it exactly.
        set_mode(&file, mode)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            #[cfg(unix)]
            if let Ok(d) = File::open(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            }) {
                // Best effort: some file systems refuse fsync on directories.
                let _ = d.sync_all();
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(ConfigError::io("write", path, e));
    }
    Ok(())
}
