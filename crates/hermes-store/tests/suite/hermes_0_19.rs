//! A state.db written by Hermes Agent 0.19.0 (schema 22, legacy inline FTS) opens, lists,
//! loads, searches and takes new messages here, and stays a file Hermes 0.19 keeps using.

use hermes_core::pricing::CostStatus;
use hermes_core::{CallRecord, Message, ToolCall, Usage};
use hermes_store::{FtsLayout, SearchOptions, SearchRoute, SessionFilter, Store, StoreError};

use super::common::*;

const CLI: &str = "20260715_101500_a1b2c3";
const TELEGRAM: &str = "20260716_090000_d4e5f6a7";
const CRON: &str = "cron_daily01_20260717_060000";
const PARENT: &str = "20260718_120000_aaaaaa";
const CHILD: &str = "20260718_130000_bbbbbb";
const PROMPT: &str = "You are Hermes, a helpful agent.";

fn all() -> SearchOptions {
    SearchOptions::default()
}

/// Hermes 0.19's search statement on the base index (`snippet` of column 0).
fn hermes_0_19_search(conn: &rusqlite::Connection, table: &str, query: &str) -> Vec<i64> {
    conn.prepare(&format!(
        "SELECT m.id, snippet({table}, 0, '>>>', '<<<', '...', 40)
         FROM {table} JOIN messages m ON m.id = {table}.rowid
         JOIN sessions s ON s.id = m.session_id
         WHERE {table} MATCH ?1 ORDER BY rank"
    ))
    .unwrap()
    .query_map([query], |r| r.get(0))
    .unwrap()
    .collect::<Result<Vec<i64>, _>>()
    .unwrap()
}

#[test]
fn opens_lists_and_reads_a_0_19_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = hermes_0_19_fixture(dir.path());
    let store = Store::open(&path).unwrap();
    let report = store.init_report();
    assert!(!report.created);
    assert_eq!(report.fts_layout, FtsLayout::Legacy);
    // The newer columns are added, as a newer Hermes adds them; 0.19's own are all there.
    for col in [
        "sessions.system_prompt_hash",
        "sessions.title_source",
        "sessions.last_activity_at",
        "sessions.pinned",
        "messages._compressed_summary",
        "messages.display_kind",
    ] {
        assert!(
            report.added_columns.iter().any(|a| a == col),
            "{col}: {report:?}"
        );
    }
    assert!(
        !report
            .added_columns
            .iter()
            .any(|a| a == "sessions.system_prompt" || a == "messages.compacted"),
        "{report:?}"
    );

    let list = store.list_sessions(&SessionFilter::default()).unwrap();
    let ids: Vec<&str> = list.iter().map(|s| s.id.as_str()).collect();
    // Newest activity first; 0.19 has no last_activity_at, so the newest message decides.
    assert_eq!(ids, [CHILD, PARENT, CRON, TELEGRAM, CLI]);
    let child = &list[0];
    assert_eq!(child.title.as_deref(), Some("Refactor auth #2"));
    assert_eq!(child.parent_session_id.as_deref(), Some(PARENT));
    assert_eq!(child.last_active, 1_784_379_850.0);
    // The compaction handoff is skipped; structured content is reduced to its text.
    assert_eq!(child.preview, "Here is a screenshot of the login page");
    let cli = &list[4];
    assert_eq!(
        cli.preview,
        "How do we migrate the billing database to Postgres?"
    );
    assert_eq!(cli.end_reason.as_deref(), Some("cli_close"));
    assert_eq!(cli.message_count, 5);
    assert_eq!(cli.model.as_deref(), Some("anthropic/claude-sonnet-4"));
    assert_eq!(list[3].preview, "我们今天讨论数据库迁移的问题");
    assert_eq!(list[3].last_active, 1_784_192_420.0);
    let only_cli = store
        .list_sessions(&SessionFilter {
            source: Some("cli".into()),
            ..SessionFilter::default()
        })
        .unwrap();
    assert_eq!(only_cli.len(), 3);

    // The system prompt is read from 0.19's inline column.
    let row = store.get_session(CLI).unwrap().unwrap();
    assert_eq!(row.system_prompt.as_deref(), Some(PROMPT));
    assert!(row.columns["system_prompt_hash"].is_null());
    assert_eq!(row.title.as_deref(), Some("Database migration plan"));
    assert_eq!(row.title_source, None);
    assert_eq!(row.cost_status.as_deref(), Some("estimated"));
    assert_eq!(row.api_call_count, 2);
    let tg = store.get_session(TELEGRAM).unwrap().unwrap();
    assert_eq!(tg.columns["display_name"], "Li Wei");
    assert_eq!(tg.columns["session_key"], "agent:main:telegram:dm:42");

    let lineage = store.lineage(CHILD).unwrap();
    assert_eq!(lineage.root, PARENT);
    assert!(lineage.has_compression_hop);
    assert_eq!(store.resolve_session("Refactor auth").unwrap(), CHILD);
    assert_eq!(store.resolve_session("20260716").unwrap(), TELEGRAM);
    assert_eq!(
        store.latest_session(Some("cron")).unwrap().as_deref(),
        Some(CRON)
    );
}

#[test]
fn loads_0_19_conversations() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&hermes_0_19_fixture(dir.path())).unwrap();
    let convo = store.load_conversation(CLI).unwrap();
    // The session_meta bookkeeping row is not part of the conversation.
    assert_eq!(convo.len(), 4);
    let call = &convo[1];
    assert_eq!(call.content, "");
    assert_eq!(call.tool_calls.len(), 1);
    assert_eq!(call.tool_calls[0].id, "call_abc123");
    assert_eq!(call.tool_calls[0].name, "terminal");
    assert_eq!(
        call.tool_calls[0].arguments,
        r#"{"command": "ls migrations"}"#
    );
    assert_eq!(
        call.reasoning.as_deref(),
        Some("Look at the migrations folder first.")
    );
    assert_eq!(convo[2].tool_call_id.as_deref(), Some("call_abc123"));
    assert!(convo[2].content.contains("002_billing.sql"));

    let zh = store.load_conversation(TELEGRAM).unwrap();
    assert_eq!(zh.len(), 4);
    assert_eq!(zh[1].tool_calls[0].name, "read_file");
    assert_eq!(zh[2].content, "配置文件已经更新，迁移脚本在 scripts 目录");

    // Live rows only: the compaction-archived and the rewound rows stay out.
    let child = store.load_conversation(CHILD).unwrap();
    assert_eq!(child.len(), 3);
    assert!(child[0].content.starts_with("[CONTEXT COMPACTION"));
    assert_eq!(child[1].content, "Here is a screenshot of the login page");
    assert!(child.iter().all(|m| !m.content.contains("kangaroos")));
    assert!(child.iter().all(|m| !m.content.contains("bearer")));
    let stored = store.messages(CHILD).unwrap();
    assert!(stored[1].content_structured.as_ref().unwrap().is_array());
    // The archived row still shows in a window around it.
    let window = store.messages_around(CHILD, 15, 5).unwrap();
    assert_eq!(window.messages.len(), 4);
    assert!(window.messages.iter().any(|m| m.id == 15 && m.compacted));
}

#[test]
fn searches_a_0_19_database() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&hermes_0_19_fixture(dir.path())).unwrap();
    let hits = store.search("Postgres", &all()).unwrap();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(
        hits.iter()
            .all(|h| h.session_id == CLI && h.route == SearchRoute::Fts)
    );
    // One legacy column: the snippet comes from it, without the tool padding at the end.
    assert!(hits.iter().all(|h| h.snippet.contains(">>>Postgres<<<")));
    assert!(hits.iter().all(|h| h.snippet == h.snippet.trim_end()));
    assert_eq!(
        hits[0].session_title.as_deref(),
        Some("Database migration plan")
    );
    // Tool-call arguments and tool names are inside the legacy index's text.
    let hits = store.search("migrations", &all()).unwrap();
    let ids: Vec<i64> = hits.iter().map(|h| h.message_id).collect();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(ids.contains(&2) && ids.contains(&4), "{ids:?}");
    let call_hit = hits.iter().find(|h| h.message_id == 2).unwrap();
    assert!(
        call_hit.snippet.contains(">>>migrations<<<"),
        "{}",
        call_hit.snippet
    );
    assert_eq!(store.search("terminal", &all()).unwrap().len(), 2);
    // CJK of three or more characters: trigram.
    let zh = store.search("数据库", &all()).unwrap();
    assert_eq!(zh.len(), 1);
    assert_eq!(zh[0].session_id, TELEGRAM);
    assert_eq!(zh[0].route, SearchRoute::Trigram);
    assert!(zh[0].snippet.contains(">>>数据库<<<"), "{}", zh[0].snippet);
    // Two CJK characters: a scan (user, tool and assistant rows).
    let short = store.search("迁移", &all()).unwrap();
    assert_eq!(short.len(), 3, "{short:?}");
    assert!(short.iter().all(|h| h.route == SearchRoute::Like));
    // The legacy trigram index holds tool rows, so a tool-only CJK search uses it.
    let tools = SearchOptions {
        roles: vec!["tool".into()],
        ..all()
    };
    let hits = store.search("配置文件", &tools).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].message_id, 8);
    assert_eq!(hits[0].route, SearchRoute::Trigram);
    assert_eq!(hits[0].tool_name.as_deref(), Some("read_file"));
    // An English substring falls back to trigram (two messages and the tool call that
    // reads config/database.yaml).
    let sub = store.search("atabas", &all()).unwrap();
    assert_eq!(sub.len(), 3, "{sub:?}");
    assert!(sub.iter().any(|h| h.message_id == 7));
    assert!(sub.iter().all(|h| h.route == SearchRoute::Trigram));
    // Compaction-archived rows are found; rewound ones only on request.
    let archived = store.search("bearer", &all()).unwrap();
    assert_eq!(archived.len(), 1);
    assert_eq!(archived[0].session_id, CHILD);
    assert!(store.search("kangaroos", &all()).unwrap().is_empty());
    let with_inactive = SearchOptions {
        include_inactive: true,
        ..all()
    };
    assert_eq!(store.search("kangaroos", &with_inactive).unwrap().len(), 1);
    let no_telegram = SearchOptions {
        exclude_sources: vec!["telegram".into()],
        ..all()
    };
    assert!(store.search("数据库", &no_telegram).unwrap().is_empty());
}

#[test]
fn our_writes_keep_it_a_0_19_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = hermes_0_19_fixture(dir.path());
    let fts_before = fts_objects(&path);

    let store = Store::open(&path).unwrap();
    let id = store
        .append_message(
            CLI,
            &Message::user("Remember the flamingo checklist before cutover"),
        )
        .unwrap();
    let hits = store.search("flamingo", &all()).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].message_id, id);
    assert_eq!(hits[0].route, SearchRoute::Fts);
    // Tool calls, tool results and CJK go through 0.19's triggers as well.
    let ids = store
        .append_messages(
            TELEGRAM,
            &[
                Message {
                    tool_calls: vec![ToolCall {
                        id: "call_zh2".into(),
                        name: "web_search".into(),
                        arguments: r#"{"query":"pelican migration routes"}"#.into(),
                    }],
                    ..Message::assistant("")
                },
                Message::tool_result("call_zh2", "web_search", "冷启动检查表已经准备好"),
                Message::assistant("请准备冷启动检查表"),
            ],
        )
        .unwrap();
    let pelican = store.search("pelican", &all()).unwrap();
    assert_eq!(pelican.len(), 1);
    assert_eq!(pelican[0].message_id, ids[0]);
    let zh = store.search("冷启动检查表", &all()).unwrap();
    assert_eq!(zh.len(), 2);
    assert!(zh.iter().all(|h| h.route == SearchRoute::Trigram));
    let row = store.get_session(CLI).unwrap().unwrap();
    assert_eq!(row.message_count, 6);
    assert!(row.last_activity_at.is_some());
    let tg = store.get_session(TELEGRAM).unwrap().unwrap();
    assert_eq!(tg.tool_call_count, 2);
    drop(store);

    // The FTS objects are exactly as Hermes 0.19 made them; the version is still 22 and no
    // layout marker was invented.
    assert_eq!(fts_objects(&path), fts_before);
    let conn = raw(&path);
    let versions: Vec<i64> = conn
        .prepare("SELECT version FROM schema_version")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(versions, vec![22]);
    assert_eq!(meta(&path, "fts_storage_version"), None);
    fts_integrity(&path, "messages_fts");
    fts_integrity(&path, "messages_fts_trigram");
    // Our rows are in 0.19's index under 0.19's own search statement.
    assert_eq!(
        hermes_0_19_search(&conn, "messages_fts", "flamingo"),
        vec![id]
    );
    assert_eq!(
        hermes_0_19_search(&conn, "messages_fts_trigram", "冷启动检查表").len(),
        2
    );

    // Hermes 0.19 opens the file again: its DDL changes nothing, all six FTS triggers are
    // there (so it rebuilds nothing), and its own writes still go through its triggers.
    let after_ours = schema_objects(&path);
    conn.execute_batch(hermes_0_19_ddl()).unwrap();
    assert_eq!(schema_objects(&path), after_ours);
    let triggers: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name IN
             ('messages_fts_insert', 'messages_fts_delete', 'messages_fts_update',
              'messages_fts_trigram_insert', 'messages_fts_trigram_delete',
              'messages_fts_trigram_update')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(triggers, 6);
    conn.execute(
        "INSERT INTO messages (session_id, role, content, timestamp, active)
         VALUES (?1, 'assistant', 'walrus acknowledged', 1790000000.0, 1)",
        [CLI],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO sessions (id, source, model, system_prompt, started_at)
         VALUES ('20260801_090000_abcdef', 'cli', 'openai/gpt-4o', 'Be brief.', 1790000100.0)",
        [],
    )
    .unwrap();
    drop(conn);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.search("walrus", &all()).unwrap().len(), 1);
    assert_eq!(
        store
            .get_session("20260801_090000_abcdef")
            .unwrap()
            .unwrap()
            .system_prompt
            .as_deref(),
        Some("Be brief.")
    );
    // Deleting a session removes its rows from both legacy indexes.
    store.delete_session(TELEGRAM).unwrap();
    assert!(store.search("冷启动检查表", &all()).unwrap().is_empty());
    assert!(store.search("数据库", &all()).unwrap().is_empty());
    drop(store);
    fts_integrity(&path, "messages_fts");
    fts_integrity(&path, "messages_fts_trigram");
}

#[test]
fn sessions_we_create_in_a_0_19_database_are_readable_by_0_19() {
    let dir = tempfile::tempdir().unwrap();
    let path = hermes_0_19_fixture(dir.path());
    let store = Store::open(&path).unwrap();
    let mut s = new_session("20260720_080000_c0ffee", "cli");
    s.system_prompt = Some(PROMPT.into());
    s.parent_session_id = Some(CHILD.into());
    store.create_session(&s).unwrap();
    let row = store
        .get_session("20260720_080000_c0ffee")
        .unwrap()
        .unwrap();
    assert_eq!(row.system_prompt.as_deref(), Some(PROMPT));
    assert_eq!(
        row.columns["system_prompt_hash"],
        "7056e92df509e9350bcf778efb46f07340b58d6e772c9d818a3d3bfc232979f4"
    );
    // The continuation of "Refactor auth #2" is "#3".
    assert_eq!(row.title.as_deref(), Some("Refactor auth #3"));
    assert_eq!(
        store.resolve_session("Refactor auth").unwrap(),
        "20260720_080000_c0ffee"
    );
    // A continuation keeps the parent's routing columns.
    let mut tg_child = new_session("20260720_090000_d4e5f6a8", "telegram");
    tg_child.parent_session_id = Some(TELEGRAM.into());
    store.create_session(&tg_child).unwrap();
    drop(store);

    // What Hermes 0.19 reads: the inline prompt, with the 0.19 columns filled.
    let conn = raw(&path);
    let (prompt, source, parent): (Option<String>, String, Option<String>) = conn
        .query_row(
            "SELECT system_prompt, source, parent_session_id FROM sessions
             WHERE id = '20260720_080000_c0ffee'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(prompt.as_deref(), Some(PROMPT));
    assert_eq!(source, "cli");
    assert_eq!(parent.as_deref(), Some(CHILD));
    let (chat_id, key): (Option<String>, Option<String>) = conn
        .query_row(
            "SELECT chat_id, session_key FROM sessions WHERE id = '20260720_090000_d4e5f6a8'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(chat_id.as_deref(), Some("42"));
    assert_eq!(key.as_deref(), Some("agent:main:telegram:dm:42"));
}

#[test]
fn usage_titles_and_export_on_a_0_19_database() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&hermes_0_19_fixture(dir.path())).unwrap();
    let usage = store.usage_by_model(Some(CLI)).unwrap();
    assert_eq!(usage.len(), 2);
    assert!(
        usage
            .iter()
            .any(|u| u.task == "title_generation" && u.api_call_count == 1)
    );
    store
        .record_call(
            CLI,
            &CallRecord {
                model: "anthropic/claude-sonnet-4".into(),
                provider: "openrouter".into(),
                base_url: "https://openrouter.ai/api/v1".into(),
                usage: Usage {
                    input_tokens: 600,
                    output_tokens: 80,
                    ..Usage::default()
                },
                cost_usd: Some(0.004),
                cost_status: CostStatus::Estimated,
                task: "main".into(),
            },
        )
        .unwrap();
    let row = store.get_session(CLI).unwrap().unwrap();
    assert_eq!(row.input_tokens, 6000);
    assert_eq!(row.api_call_count, 3);
    let usage = store.usage_by_model(Some(CLI)).unwrap();
    assert_eq!(usage.len(), 2);
    let main = usage.iter().find(|u| u.task.is_empty()).unwrap();
    assert_eq!(main.api_call_count, 3);
    assert_eq!(main.input_tokens, 6000);

    store.set_title(TELEGRAM, "数据库迁移讨论").unwrap();
    assert_eq!(
        store.resolve_title("数据库迁移讨论").unwrap().as_deref(),
        Some(TELEGRAM)
    );
    assert!(matches!(
        store.set_title(CRON, "Database migration plan"),
        Err(StoreError::TitleInUse { .. })
    ));

    let exported = store.export_session(CLI).unwrap();
    assert_eq!(exported["system_prompt"], PROMPT);
    assert_eq!(exported["title"], "Database migration plan");
    let messages = exported["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 5);
    assert_eq!(messages[1]["tool_calls"][0]["function"]["name"], "terminal");
    assert!(
        messages
            .iter()
            .all(|m| m.get("_compressed_summary").is_none())
    );
}
