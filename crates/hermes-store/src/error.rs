//! The one error type of this crate.

use std::path::PathBuf;

/// Why a `state.db` operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused an operation.
    #[error(
        "state.db: {op} failed: {source} (if the database is locked, another process holds a \
         long write; retry, or check for a stuck hermes process)"
    )]
    Db {
        op: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// A file-system operation around the database failed.
    #[error("state.db: {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// No session has this id, id prefix or title.
    #[error("no session matches '{0}'; run `hermes sessions list` to see ids and titles")]
    SessionNotFound(String),
    /// An id prefix matches several sessions.
    #[error(
        "'{input}' matches {} sessions ({}); give more characters of the id",
        candidates.len(),
        candidates.join(", ")
    )]
    AmbiguousSession {
        input: String,
        candidates: Vec<String>,
    },
    /// `create_session` was given an id that is already taken.
    #[error("session {0} already exists; resume it instead of creating it again")]
    SessionExists(String),
    /// A title longer than Hermes allows.
    #[error("title is {len} characters long; the limit is {max}. Choose a shorter title")]
    TitleTooLong { len: usize, max: usize },
    /// Another session already carries the title (titles are unique).
    #[error("Title '{title}' is already in use by session {holder}; choose another title")]
    TitleInUse { title: String, holder: String },
    /// The database holds something we cannot interpret.
    #[error("state.db: {0}")]
    Invalid(String),
}

/// Attaches the name of the failed operation to a SQLite error.
pub(crate) trait DbContext<T> {
    fn ctx(self, op: &'static str) -> Result<T, StoreError>;
}

impl<T> DbContext<T> for Result<T, rusqlite::Error> {
    fn ctx(self, op: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Db { op, source })
    }
}
