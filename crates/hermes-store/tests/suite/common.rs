//! Shared helpers for the suite.

use std::path::{Path, PathBuf};

use hermes_core::NewSession;
use hermes_store::Store;

pub const FIXTURE_SQL: &str = include_str!("../fixtures/hermes_0_19_state.sql");

pub fn new_session(id: &str, source: &str) -> NewSession {
    NewSession {
        id: id.to_string(),
        source: source.to_string(),
        model: "gpt-4o".to_string(),
        provider: "openai".to_string(),
        base_url: "https://api.openai.com/v1".to_string(),
        system_prompt: Some("You are a test agent.".to_string()),
        parent_session_id: None,
        cwd: Some("/work".to_string()),
        title: None,
    }
}

pub fn store_with_session(dir: &Path, id: &str) -> (Store, PathBuf) {
    let path = dir.join("state.db");
    let store = Store::open(&path).unwrap();
    store.create_session(&new_session(id, "cli")).unwrap();
    (store, path)
}

/// Builds `state.db` in `dir` from the Hermes 0.19 fixture, with a plain connection.
pub fn hermes_fixture(dir: &Path) -> PathBuf {
    let path = dir.join("state.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(FIXTURE_SQL).unwrap();
    drop(conn);
    path
}

/// `(type, name, sql)` of every schema object, sorted.
pub fn schema_objects(path: &Path) -> Vec<(String, String, Option<String>)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

pub fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

pub fn meta(path: &Path, key: &str) -> Option<String> {
    raw(path)
        .query_row("SELECT value FROM state_meta WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .ok()
}

/// Runs FTS5's own consistency check on an index (external content included).
pub fn fts_integrity(path: &Path, table: &str) {
    raw(path)
        .execute(
            &format!("INSERT INTO {table}({table}) VALUES('integrity-check')"),
            [],
        )
        .unwrap_or_else(|e| panic!("{table} integrity-check failed: {e}"));
}
