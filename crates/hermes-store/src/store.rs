//! The [`Store`] handle: opening `state.db`, connection settings, and the read/write
//! helpers every other module goes through.

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::{DbContext, StoreError};
use crate::fts_layout::FtsLayout;
use crate::migrate::{self, InitReport};

/// How long a statement waits for another process's write lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_millis(5000);

/// How long a write keeps retrying to start while other writers hold the lock (Hermes
/// retries transcript writes for up to 60 s, routine writes for 20 s).
pub const WRITE_RETRY_BUDGET: Duration = Duration::from_secs(20);

/// Hermes' `journal_size_limit` (64 MiB), set whenever WAL is active.
const JOURNAL_SIZE_LIMIT: i64 = 67_108_864;

/// An open `state.db`. All access goes through one connection behind a mutex; several
/// `Store`s (in one or several processes) may share a file, and SQLite's WAL locking keeps
/// them consistent. Every write runs in `BEGIN IMMEDIATE … COMMIT` and is durable against a
/// process crash once the call returns.
pub struct Store {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
    journal_mode: String,
    init: InitReport,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("journal_mode", &self.journal_mode)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path`, brings its schema up to date
    /// (see [`crate::migrate`]) and applies the connection settings: WAL (falling back to
    /// DELETE where WAL cannot work), `foreign_keys=ON`, a 5 s busy timeout and
    /// `synchronous=NORMAL`. A new file and its parent directory are created private
    /// (0600 / 0700); existing `state.db`, `-wal` and `-shm` files are narrowed to 0600.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.exists()
        {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|source| StoreError::Io {
                    op: "creating the directory",
                    path: parent.to_path_buf(),
                    source,
                })?;
        }
        if !path.exists() {
            // Create the file ourselves so it is born 0600; SQLite gives the -wal and -shm
            // files the permissions of the database file.
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(source) => {
                    return Err(StoreError::Io {
                        op: "creating",
                        path: path.to_path_buf(),
                        source,
                    });
                }
            }
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ctx("opening the database")?;
        let store = Store::setup(conn, Some(path.to_path_buf()))?;
        secure_files(path);
        Ok(store)
    }

    /// A private in-memory database with the same schema (for tests and dry runs).
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory().ctx("opening an in-memory database")?;
        Store::setup(conn, None)
    }

    fn setup(mut conn: Connection, path: Option<PathBuf>) -> Result<Store, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)
            .ctx("setting the busy timeout")?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .ctx("enabling foreign keys")?;
        let journal_mode = if path.is_some() {
            enable_wal(&conn)?
        } else {
            "memory".to_string()
        };
        let init = migrate::init(&mut conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
            path,
            journal_mode,
            init,
        })
    }

    /// The database file, or `None` for an in-memory store.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The journal mode in force: `wal` normally, `delete` where WAL could not be enabled,
    /// `memory` for in-memory stores.
    pub fn journal_mode(&self) -> &str {
        &self.journal_mode
    }

    /// What opening the database found and changed.
    pub fn init_report(&self) -> &InitReport {
        &self.init
    }

    /// The FTS layout of the file as it is now (a Hermes running `sessions
    /// optimize-storage` may convert it while we have it open).
    pub fn fts_layout(&self) -> Result<FtsLayout, StoreError> {
        self.read(FtsLayout::detect)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no open transaction behind (rusqlite rolls
        // back on drop), so the connection is still usable.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` in `BEGIN IMMEDIATE … COMMIT`; any error rolls the whole write back.
    /// While another process holds the write lock, `BEGIN IMMEDIATE` waits out the busy
    /// timeout and is retried (with growing pauses) for up to [`WRITE_RETRY_BUDGET`].
    pub(crate) fn write<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.lock();
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(20);
        let tx = loop {
            match Transaction::new_unchecked(&conn, TransactionBehavior::Immediate) {
                Ok(tx) => break tx,
                Err(e) if is_busy(&e) && started.elapsed() < WRITE_RETRY_BUDGET => {
                    tracing::debug!(op, "state.db is locked by another writer; retrying");
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                Err(source) => return Err(StoreError::Db { op, source }),
            }
        };
        let out = f(&tx)?;
        tx.commit().ctx(op)?;
        Ok(out)
    }

    /// Runs `f` with the connection (for reads).
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.lock();
        f(&conn)
    }

    /// Runs `PRAGMA integrity_check` and returns its verdict (`"ok"` when healthy).
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        self.read(|c| {
            let rows: Vec<String> = c
                .prepare("PRAGMA integrity_check")
                .and_then(|mut s| {
                    s.query_map([], |r| r.get::<_, String>(0))?
                        .collect::<Result<Vec<_>, _>>()
                })
                .ctx("checking integrity")?;
            Ok(rows.join("\n"))
        })
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn enable_wal(conn: &Connection) -> Result<String, StoreError> {
    let mode: Result<String, _> =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0));
    match mode {
        Ok(m) if m.eq_ignore_ascii_case("wal") => {
            conn.pragma_update(None, "synchronous", "NORMAL")
                .ctx("setting synchronous")?;
            conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)
                .ctx("setting journal_size_limit")?;
            Ok("wal".to_string())
        }
        other => {
            let why = match other {
                Ok(m) => format!("SQLite kept journal_mode={m}"),
                Err(e) => e.to_string(),
            };
            tracing::warn!(
                reason = %why,
                "state.db: WAL mode could not be enabled (network or FUSE file system?); \
                 falling back to journal_mode=DELETE, which is slower and lets readers block \
                 writers"
            );
            let m: String = conn
                .pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get(0))
                .ctx("setting journal_mode=DELETE")?;
            conn.pragma_update(None, "synchronous", "FULL")
                .ctx("setting synchronous")?;
            Ok(m.to_ascii_lowercase())
        }
    }
}

/// Narrows the database files to 0600, as Hermes does on every open. Best effort: a file
/// owned by someone else stays as it is, with a warning.
fn secure_files(path: &Path) {
    let mut names = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        names.push(PathBuf::from(p));
    }
    for p in names {
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        if meta.permissions().mode() & 0o077 == 0 {
            continue;
        }
        if let Err(e) = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)) {
            tracing::warn!(path = %p.display(), error = %e, "could not make the file private (0600)");
        }
    }
}
