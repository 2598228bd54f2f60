//! Schema creation and migration: versioned, idempotent, additive, never downgrading.

use hermes_core::Message;
use hermes_store::migrate::latest_step;
use hermes_store::schema::{MIGRATION_META_KEY, SCHEMA_VERSION};
use hermes_store::{FtsLayout, SearchOptions, Store};

use super::common::*;

#[test]
fn a_new_database_has_hermes_shape_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = Store::open(&path).unwrap();
    let report = store.init_report().clone();
    assert!(report.created);
    assert_eq!(report.steps_applied, vec![1, 2]);
    assert_eq!(report.fts_layout, FtsLayout::Legacy);
    drop(store);

    let names: Vec<String> = schema_objects(&path).into_iter().map(|o| o.1).collect();
    for expected in [
        "schema_version",
        "system_prompts",
        "sessions",
        "messages",
        "session_model_usage",
        "state_meta",
        "gateway_routing",
        "compression_locks",
        "async_delegations",
        "messages_fts",
        "messages_fts_trigram",
        "messages_fts_insert",
        "messages_fts_delete",
        "messages_fts_update",
        "messages_fts_trigram_insert",
        "messages_fts_trigram_delete",
        "messages_fts_trigram_update",
        "idx_sessions_title_unique",
        "idx_messages_session_active",
        "idx_messages_platform_msg_id",
    ] {
        assert!(names.iter().any(|n| n == expected), "missing {expected}");
    }
    let conn = raw(&path);
    let versions: Vec<i64> = conn
        .prepare("SELECT version FROM schema_version")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(versions, vec![SCHEMA_VERSION]);
    assert_eq!(
        SCHEMA_VERSION, 22,
        "new files carry Hermes 0.19.0's schema version"
    );
    // Hermes 0.19 has no FTS layout marker; a newer Hermes detects the layout itself.
    assert_eq!(meta(&path, "fts_storage_version"), None);
    assert_eq!(
        meta(&path, MIGRATION_META_KEY),
        Some(latest_step().to_string())
    );
    let trigram_sql: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'messages_fts_trigram'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(trigram_sql.contains("tokenize='trigram'"));
    assert!(!trigram_sql.contains("content="), "{trigram_sql}");
    assert!(!names.iter().any(|n| n == "messages_fts_trigram_src"));
    // We do not stamp application_id; Hermes does that itself on first open.
    let app_id: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(app_id, 0);
    let user_version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(user_version, 0);
}

#[test]
fn opening_twice_changes_nothing_the_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    drop(Store::open(&path).unwrap());
    let before = schema_objects(&path);
    let store = Store::open(&path).unwrap();
    let report = store.init_report();
    assert!(!report.created);
    assert!(report.steps_applied.is_empty());
    assert!(report.added_columns.is_empty());
    drop(store);
    assert_eq!(schema_objects(&path), before);
    let rows: i64 = raw(&path)
        .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
}

/// A file from an early Hermes: few columns, legacy inline FTS, schema_version 10.
const OLD_SCHEMA: &str = r#"
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (10);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    model TEXT,
    system_prompt TEXT,
    parent_session_id TEXT,
    started_at REAL NOT NULL,
    ended_at REAL,
    end_reason TEXT,
    message_count INTEGER DEFAULT 0,
    title TEXT
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    role TEXT NOT NULL,
    content TEXT,
    tool_call_id TEXT,
    tool_calls TEXT,
    tool_name TEXT,
    timestamp REAL NOT NULL
);
CREATE VIRTUAL TABLE messages_fts USING fts5(content);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, content) VALUES (
        new.id,
        COALESCE(new.content, '') || ' ' || COALESCE(new.tool_name, '') || ' ' || COALESCE(new.tool_calls, '')
    );
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    DELETE FROM messages_fts WHERE rowid = old.id;
END;
INSERT INTO sessions (id, source, started_at, title) VALUES ('old1', 'cli', 1700000000.0, 'Same title');
INSERT INTO sessions (id, source, started_at, title) VALUES ('old2', 'cli', 1700000100.0, 'Same title');
INSERT INTO messages (session_id, role, content, timestamp) VALUES ('old1', 'user', 'legacy walrus question', 1700000001.0);
"#;

#[test]
fn an_older_database_gains_missing_columns_and_keeps_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    raw(&path).execute_batch(OLD_SCHEMA).unwrap();
    let fts_before: Vec<_> = schema_objects(&path)
        .into_iter()
        .filter(|o| o.1.starts_with("messages_fts"))
        .collect();

    let store = Store::open(&path).unwrap();
    let added = &store.init_report().added_columns;
    for col in [
        "messages.active",
        "messages.compacted",
        "messages.display_kind",
        "messages.reasoning",
        "sessions.title_source",
        "sessions.last_activity_at",
        "sessions.git_metadata_generation",
    ] {
        assert!(added.iter().any(|a| a == col), "{col} not added: {added:?}");
    }
    // Old rows read as live.
    let convo = store.load_conversation("old1").unwrap();
    assert_eq!(convo.len(), 1);
    // Duplicate titles: the newer session keeps it, as Hermes does.
    assert_eq!(store.get_session("old1").unwrap().unwrap().title, None);
    assert_eq!(
        store.get_session("old2").unwrap().unwrap().title.as_deref(),
        Some("Same title")
    );
    // Legacy inline FTS keeps working and stays as it was.
    store
        .append_message("old1", &Message::user("fresh narwhal answer"))
        .unwrap();
    let all = SearchOptions::default();
    assert_eq!(store.search("walrus", &all).unwrap().len(), 1);
    assert_eq!(store.search("narwhal", &all).unwrap().len(), 1);
    // The prompt goes where the old Hermes reads it (inline) and where a newer one does.
    store.create_session(&new_session("new1", "cli")).unwrap();
    let row = store.get_session("new1").unwrap().unwrap();
    assert_eq!(row.system_prompt.as_deref(), Some("You are a test agent."));
    assert!(row.columns["system_prompt_hash"].is_string());
    let inline: Option<String> = raw(&path)
        .query_row(
            "SELECT system_prompt FROM sessions WHERE id = 'new1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(inline.as_deref(), Some("You are a test agent."));
    assert_eq!(store.fts_layout().unwrap(), FtsLayout::Legacy);
    drop(store);

    let conn = raw(&path);
    let version: i64 = conn
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        version, 10,
        "schema_version must not change on an existing file"
    );
    let fts_after: Vec<_> = schema_objects(&path)
        .into_iter()
        .filter(|o| o.1.starts_with("messages_fts"))
        .collect();
    assert_eq!(
        fts_after, fts_before,
        "FTS objects of an existing file are left alone"
    );
    assert!(meta(&path, "fts_storage_version").is_none());
    // A second open has nothing left to add.
    let store = Store::open(&path).unwrap();
    assert!(store.init_report().added_columns.is_empty());
}

#[test]
fn a_newer_database_is_never_downgraded() {
    let dir = tempfile::tempdir().unwrap();
    let path = hermes_0_19_fixture(dir.path());
    {
        let conn = raw(&path);
        conn.execute("UPDATE schema_version SET version = 31", [])
            .unwrap();
        // A column from the future, unknown to us.
        conn.execute(
            "ALTER TABLE sessions ADD COLUMN future_flag INTEGER DEFAULT 7",
            [],
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    store
        .append_message("20260715_101500_a1b2c3", &Message::user("still writable"))
        .unwrap();
    let row = store
        .get_session("20260715_101500_a1b2c3")
        .unwrap()
        .unwrap();
    assert_eq!(row.columns["future_flag"], 7);
    let exported = store.export_session("20260715_101500_a1b2c3").unwrap();
    assert_eq!(exported["future_flag"], 7);
    drop(store);
    let version: i64 = raw(&path)
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 31);
}

#[test]
fn an_empty_schema_version_table_gets_a_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = hermes_0_19_fixture(dir.path());
    raw(&path)
        .execute("DELETE FROM schema_version", [])
        .unwrap();
    drop(Store::open(&path).unwrap());
    let version: i64 = raw(&path)
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}

/// Plants Hermes' optional CJK index the way a Hermes with `libfts5_cjk.so` leaves it:
/// a `cjk_unicode61` table (whose tokenizer this process cannot load) and its triggers.
fn plant_cjk_index(path: &std::path::Path) {
    let conn = raw(path);
    conn.execute_batch(
        "CREATE VIEW messages_fts_cjk_src AS
             SELECT id, role, content, tool_name, tool_calls FROM messages WHERE role <> 'tool';
         PRAGMA writable_schema = ON;",
    )
    .unwrap();
    conn.execute(
        "INSERT INTO sqlite_master (type, name, tbl_name, rootpage, sql) VALUES
         ('table', 'messages_fts_cjk', 'messages_fts_cjk', 0,
          'CREATE VIRTUAL TABLE messages_fts_cjk USING fts5(content, tool_name, tool_calls, content=''messages_fts_cjk_src'', content_rowid=''id'', tokenize=''cjk_unicode61'')')",
        [],
    )
    .unwrap();
    conn.execute_batch("PRAGMA writable_schema = OFF;").unwrap();
    drop(conn);
    let conn = raw(path);
    conn.execute_batch(
        "CREATE TRIGGER messages_fts_cjk_insert AFTER INSERT ON messages WHEN new.role <> 'tool'
         BEGIN
             INSERT INTO messages_fts_cjk(rowid, content, tool_name, tool_calls)
             VALUES (new.id, new.content, new.tool_name, new.tool_calls);
         END;
         CREATE TRIGGER messages_fts_cjk_delete AFTER DELETE ON messages WHEN old.role <> 'tool'
         BEGIN
             INSERT INTO messages_fts_cjk(messages_fts_cjk, rowid, content, tool_name, tool_calls)
             VALUES ('delete', old.id, old.content, old.tool_name, old.tool_calls);
         END;
         CREATE TRIGGER messages_fts_cjk_update
         AFTER UPDATE OF content, tool_name, tool_calls, role ON messages
         BEGIN
             INSERT INTO messages_fts_cjk(messages_fts_cjk, rowid, content, tool_name, tool_calls)
             SELECT 'delete', old.id, old.content, old.tool_name, old.tool_calls WHERE old.role <> 'tool';
             INSERT INTO messages_fts_cjk(rowid, content, tool_name, tool_calls)
             SELECT new.id, new.content, new.tool_name, new.tool_calls WHERE new.role <> 'tool';
         END;",
    )
    .unwrap();
}

#[test]
fn the_cjk_index_trap_is_disarmed_the_way_hermes_does_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = hermes_v28_fixture(dir.path());
    plant_cjk_index(&path);
    // Without the tokenizer, any insert through the CJK trigger fails.
    let err = raw(&path)
        .execute(
            "INSERT INTO messages (session_id, role, content, timestamp)
             VALUES ('20260715_101500_a1b2c3', 'user', 'x', 1.0)",
            [],
        )
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("cjk_unicode61") || msg.contains("messages_fts_cjk"),
        "{msg}"
    );

    let store = Store::open(&path).unwrap();
    assert!(store.init_report().cjk_triggers_dropped);
    store
        .append_message("20260715_101500_a1b2c3", &Message::user("写入仍然可以成功"))
        .unwrap();
    assert_eq!(
        store
            .search("仍然可以", &SearchOptions::default())
            .unwrap()
            .len(),
        1
    );
    drop(store);
    assert_eq!(meta(&path, "fts_cjk_stale").as_deref(), Some("1"));
    let names: Vec<String> = schema_objects(&path).into_iter().map(|o| o.1).collect();
    // Only the CJK triggers went; the CJK table and every other FTS object remain.
    for trigger in hermes_store::schema::CJK_TRIGGERS {
        assert!(
            !names.iter().any(|n| n == trigger),
            "{trigger} still present"
        );
    }
    assert!(names.iter().any(|n| n == "messages_fts_cjk_src"));
    assert!(names.iter().any(|n| n == "messages_fts_cjk"));
    assert!(names.iter().any(|n| n == "messages_fts_trigram_insert"));
    assert!(names.iter().any(|n| n == "messages_fts_insert"));
    // Reopening finds nothing more to do.
    let store = Store::open(&path).unwrap();
    assert!(!store.init_report().cjk_triggers_dropped);
}
