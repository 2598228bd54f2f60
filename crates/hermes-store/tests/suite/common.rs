//! Shared helpers for the suite.

use std::path::{Path, PathBuf};

use hermes_core::NewSession;
use hermes_store::Store;

/// A state.db as Hermes 0.19.0 writes it: schema 22, legacy inline FTS.
pub const HERMES_0_19_SQL: &str = include_str!("../fixtures/hermes_0_19_state.sql");
/// A state.db at schema v28 with FTS layout 1 (also what earlier hermes-rs builds made).
pub const HERMES_V28_SQL: &str = include_str!("../fixtures/hermes_v28_state.sql");
/// A state.db at schema v30 with FTS layout 3.
pub const HERMES_V30_SQL: &str = include_str!("../fixtures/hermes_v30_state.sql");

/// The part of the 0.19 fixture before its data: the DDL Hermes 0.19 runs (all
/// `IF NOT EXISTS`) every time it opens a file.
pub fn hermes_0_19_ddl() -> &'static str {
    HERMES_0_19_SQL
        .split("-- ── Data")
        .next()
        .expect("the 0.19 fixture has a data marker")
}

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

/// Builds `state.db` in `dir` from a fixture, with a plain connection.
pub fn fixture_db(dir: &Path, sql: &str) -> PathBuf {
    let path = dir.join("state.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(sql).unwrap();
    drop(conn);
    path
}

/// `state.db` in `dir` as Hermes 0.19.0 left it.
pub fn hermes_0_19_fixture(dir: &Path) -> PathBuf {
    fixture_db(dir, HERMES_0_19_SQL)
}

/// `state.db` in `dir` as a v28 Hermes (or an earlier hermes-rs) left it.
pub fn hermes_v28_fixture(dir: &Path) -> PathBuf {
    fixture_db(dir, HERMES_V28_SQL)
}

/// `(type, name, sql)` of the FTS tables, views and triggers, sorted.
pub fn fts_objects(path: &Path) -> Vec<(String, String, Option<String>)> {
    schema_objects(path)
        .into_iter()
        .filter(|o| o.1.starts_with("messages_fts"))
        .collect()
}

/// Column names of `table`.
pub fn columns(conn: &rusqlite::Connection, table: &str) -> Vec<String> {
    conn.prepare("SELECT name FROM pragma_table_info(?1)")
        .unwrap()
        .query_map([table], |r| r.get(0))
        .unwrap()
        .collect::<Result<Vec<String>, _>>()
        .unwrap()
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
