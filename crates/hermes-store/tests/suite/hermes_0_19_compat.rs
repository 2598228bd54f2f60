//! Databases we create, as Hermes 0.19.0 sees them: its schema version, its FTS tables and
//! triggers to the letter, every column it declares, nothing for its open to change, our
//! messages found by its search, our system prompts where it reads them. And a file made
//! by an earlier hermes-rs build (v28, FTS layout 1) survives 0.19's open unchanged.

use hermes_core::{Message, ToolCall};
use hermes_store::{FtsLayout, SearchOptions, SearchRoute, Store};

use super::common::*;

/// Hermes 0.19's search statement (`snippet` of column 0), as message ids in rank order.
fn hermes_0_19_search(conn: &rusqlite::Connection, table: &str, query: &str) -> Vec<i64> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT m.id, snippet({table}, 0, '>>>', '<<<', '...', 40), m.role, s.source
             FROM {table} JOIN messages m ON m.id = {table}.rowid
             JOIN sessions s ON s.id = m.session_id
             WHERE {table} MATCH ?1 AND m.active = 1 ORDER BY rank"
        ))
        .unwrap();
    stmt.query_map([query], |r| r.get(0))
        .unwrap()
        .collect::<Result<Vec<i64>, _>>()
        .unwrap()
}

/// Replays what Hermes 0.19 runs when it opens `path` (its DDL, all `IF NOT EXISTS`) and
/// checks that this changes no schema object.
fn hermes_0_19_opens(path: &std::path::Path) {
    let before = schema_objects(path);
    raw(path).execute_batch(hermes_0_19_ddl()).unwrap();
    assert_eq!(
        schema_objects(path),
        before,
        "Hermes 0.19's open changed the schema"
    );
}

fn ours_with_messages(dir: &std::path::Path) -> (Store, std::path::PathBuf, Vec<i64>) {
    let (store, path) = store_with_session(dir, "20260721_100000_aa11bb");
    let ids = store
        .append_messages(
            "20260721_100000_aa11bb",
            &[
                Message::user("Draft the quarterly albatross report"),
                Message {
                    tool_calls: vec![ToolCall {
                        id: "call_1".into(),
                        name: "read_file".into(),
                        arguments: r#"{"path":"reports/q3.md"}"#.into(),
                    }],
                    ..Message::assistant("")
                },
                Message::tool_result("call_1", "read_file", "第三季度报告草稿"),
                Message::assistant("报告草稿已经完成"),
            ],
        )
        .unwrap();
    (store, path, ids)
}

#[test]
fn a_new_database_has_0_19s_fts_layout_to_the_letter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = Store::open(&path).unwrap();
    assert!(store.init_report().created);
    assert_eq!(store.init_report().fts_layout, FtsLayout::Legacy);
    drop(store);

    let reference = tempfile::tempdir().unwrap();
    let hermes = hermes_0_19_fixture(reference.path());
    assert_eq!(fts_objects(&path), fts_objects(&hermes));
    let version: i64 = raw(&path)
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 22);
    assert_eq!(meta(&path, "fts_storage_version"), None);
}

#[test]
fn a_new_database_has_every_table_column_and_index_0_19_declares() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    drop(Store::open(&path).unwrap());

    // 0.19's schema on its own, to compare with.
    let hermes = rusqlite::Connection::open_in_memory().unwrap();
    hermes.execute_batch(hermes_0_19_ddl()).unwrap();
    let ours = raw(&path);
    let objects = |c: &rusqlite::Connection| -> Vec<(String, String)> {
        c.prepare(
            // Everything but SQLite's and FTS5's internal tables.
            "SELECT type, name FROM sqlite_master
             WHERE name NOT GLOB 'sqlite_*'
               AND NOT (name GLOB 'messages_fts*' AND (name GLOB '*_data' OR name GLOB '*_idx'
                        OR name GLOB '*_content' OR name GLOB '*_docsize' OR name GLOB '*_config'))
             ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    };
    let ours_objects = objects(&ours);
    for object in objects(&hermes) {
        assert!(ours_objects.contains(&object), "missing {object:?}");
        if object.0 == "table" {
            // 0.19's column reconciliation would find nothing to add.
            let have = columns(&ours, &object.1);
            for col in columns(&hermes, &object.1) {
                assert!(have.contains(&col), "{}.{col} missing", object.1);
            }
        }
    }
}

#[test]
fn hermes_0_19_opens_our_database_and_finds_our_messages() {
    let dir = tempfile::tempdir().unwrap();
    let (store, path, ids) = ours_with_messages(dir.path());
    drop(store);
    hermes_0_19_opens(&path);

    let conn = raw(&path);
    // Words, tool-call arguments and tool names are in 0.19's base index.
    assert_eq!(
        hermes_0_19_search(&conn, "messages_fts", "albatross"),
        vec![ids[0]]
    );
    assert_eq!(
        hermes_0_19_search(&conn, "messages_fts", "q3"),
        vec![ids[1]]
    );
    assert_eq!(
        hermes_0_19_search(&conn, "messages_fts", "read_file").len(),
        2
    );
    // CJK through its trigram index, tool rows included as 0.19 indexes them.
    assert_eq!(
        hermes_0_19_search(&conn, "messages_fts_trigram", "报告草稿").len(),
        2
    );
    // It reads our system prompt from the inline column.
    let prompt: Option<String> = conn
        .query_row(
            "SELECT system_prompt FROM sessions WHERE id = '20260721_100000_aa11bb'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(prompt.as_deref(), Some("You are a test agent."));
    // Its own writes (only the columns it knows) go through, and its health probe's
    // rolled-back insert works too.
    conn.execute_batch(
        "BEGIN IMMEDIATE;
         INSERT INTO sessions (id, source, started_at) VALUES ('_probe', '_health_probe', 1.0);
         INSERT INTO messages (session_id, role, content, timestamp) VALUES ('_probe', 'user', 'x', 1.0);
         ROLLBACK;",
    )
    .unwrap();
    conn.execute(
        "INSERT INTO sessions (id, source, user_id, model, model_config, system_prompt,
             parent_session_id, started_at)
         VALUES ('20260722_080000_cc22dd', 'telegram', '7', 'openai/gpt-4o', '{}',
             'Be terse.', NULL, 1784700000.0)",
        [],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO messages (session_id, role, content, tool_call_id, tool_calls, tool_name,
             timestamp, token_count, finish_reason, reasoning, active)
         VALUES ('20260722_080000_cc22dd', 'user', 'Where is the cormorant colony?', NULL,
             NULL, NULL, 1784700001.0, 9, NULL, NULL, 1)",
        [],
    )
    .unwrap();
    conn.execute(
        "UPDATE messages SET content = 'Where is the cormorant colony now?'
         WHERE session_id = '20260722_080000_cc22dd'",
        [],
    )
    .unwrap();
    drop(conn);
    fts_integrity(&path, "messages_fts");
    fts_integrity(&path, "messages_fts_trigram");

    // And we read what 0.19 wrote.
    let store = Store::open(&path).unwrap();
    let hits = store
        .search("cormorant", &SearchOptions::default())
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].route, SearchRoute::Fts);
    assert_eq!(
        store
            .get_session("20260722_080000_cc22dd")
            .unwrap()
            .unwrap()
            .system_prompt
            .as_deref(),
        Some("Be terse.")
    );
    // Our own view of our file: every route answers.
    let all = SearchOptions::default();
    assert_eq!(store.search("albatross", &all).unwrap().len(), 1);
    assert_eq!(store.search("报告草稿", &all).unwrap().len(), 2);
    assert_eq!(store.search("草稿", &all).unwrap().len(), 2);
}

#[test]
fn our_prompts_are_where_every_hermes_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = store_with_session(dir.path(), "s1");
    store.create_session(&new_session("s2", "cli")).unwrap();
    let mut none = new_session("s3", "cli");
    none.system_prompt = None;
    store.create_session(&none).unwrap();
    drop(store);
    let conn = raw(&path);
    let rows: Vec<(String, Option<String>, Option<String>)> = conn
        .prepare("SELECT id, system_prompt, system_prompt_hash FROM sessions ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 3);
    for (id, inline, hash) in &rows[..2] {
        assert_eq!(inline.as_deref(), Some("You are a test agent."), "{id}");
        let stored: String = conn
            .query_row(
                "SELECT prompt FROM system_prompts WHERE hash = ?1",
                [hash.as_deref().unwrap()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored, "You are a test agent.");
    }
    // One content-addressed row for the shared prompt; none for a session without one.
    let prompts: i64 = conn
        .query_row("SELECT COUNT(*) FROM system_prompts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(prompts, 1);
    assert_eq!(rows[2], ("s3".to_string(), None, None));
}

#[test]
fn an_earlier_hermes_rs_file_survives_0_19s_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = hermes_v28_fixture(dir.path());
    drop(Store::open(&path).unwrap());
    hermes_0_19_opens(&path);
    let conn = raw(&path);
    // Its search statement works on the external-content layout too.
    assert_eq!(
        hermes_0_19_search(&conn, "messages_fts", "Postgres").len(),
        2
    );
    assert_eq!(
        hermes_0_19_search(&conn, "messages_fts_trigram", "数据库").len(),
        1
    );
}
