//! State.db files of newer Hermes versions (schema v28 with FTS layout 1, which earlier
//! hermes-rs builds also created, and v30 with layout 3) open, list, load, search and take
//! new messages here, and stay databases Hermes can keep using.

use hermes_core::{Message, Role};
use hermes_store::{FtsLayout, SearchOptions, SearchRoute, SessionFilter, Store};

use super::common::*;

const CLI: &str = "20260715_101500_a1b2c3";
const TELEGRAM: &str = "20260716_090000_d4e5f6a7";
const PARENT: &str = "20260718_120000_aaaaaa";
const CHILD: &str = "20260718_130000_bbbbbb";

#[test]
fn opens_and_lists_a_hermes_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = hermes_v28_fixture(dir.path());
    let store = Store::open(&path).unwrap();
    assert!(!store.init_report().created);
    assert!(
        store.init_report().added_columns.is_empty(),
        "{:?}",
        store.init_report()
    );
    assert_eq!(
        store.init_report().fts_layout,
        FtsLayout::External { version: 1 }
    );

    let list = store.list_sessions(&SessionFilter::default()).unwrap();
    let ids: Vec<&str> = list.iter().map(|s| s.id.as_str()).collect();
    // Newest activity first.
    assert_eq!(
        ids,
        [CHILD, PARENT, "cron_daily01_20260717_060000", TELEGRAM, CLI]
    );
    let child = &list[0];
    assert_eq!(child.title.as_deref(), Some("Refactor auth #2"));
    assert_eq!(child.parent_session_id.as_deref(), Some(PARENT));
    assert_eq!(child.last_active, 1_784_379_900.0);
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
    // Last active falls back to the newest message when last_activity_at is unset.
    assert_eq!(list[3].last_active, 1_784_192_420.0);

    let only_cli = store
        .list_sessions(&SessionFilter {
            source: Some("cli".into()),
            ..SessionFilter::default()
        })
        .unwrap();
    assert_eq!(only_cli.len(), 3);
    assert_eq!(
        store.latest_session(Some("telegram")).unwrap().as_deref(),
        Some(TELEGRAM)
    );

    let row = store.get_session(CLI).unwrap().unwrap();
    assert_eq!(
        row.system_prompt.as_deref(),
        Some("You are Hermes, a helpful agent.")
    );
    assert_eq!(row.title.as_deref(), Some("Database migration plan"));
    assert_eq!(row.cost_status.as_deref(), Some("estimated"));
    assert_eq!(row.columns["git_metadata_generation"], 0);

    let lineage = store.lineage(CHILD).unwrap();
    assert_eq!(lineage.root, PARENT);
    assert!(lineage.has_compression_hop);
    assert_eq!(store.resolve_session("Refactor auth").unwrap(), CHILD);
    assert_eq!(store.resolve_session("20260716").unwrap(), TELEGRAM);
}

#[test]
fn loads_a_conversation_with_tool_calls() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&hermes_v28_fixture(dir.path())).unwrap();
    let convo = store.load_conversation(CLI).unwrap();
    // The session_meta bookkeeping row is not part of the conversation.
    assert_eq!(convo.len(), 4);
    assert_eq!(convo[0].role, Role::User);
    let call = &convo[1];
    assert_eq!(call.role, Role::Assistant);
    assert_eq!(call.content, "");
    assert_eq!(call.tool_calls.len(), 1);
    assert_eq!(call.tool_calls[0].id, "call_abc123");
    assert_eq!(call.tool_calls[0].name, "terminal");
    assert_eq!(
        call.tool_calls[0].arguments,
        r#"{"command": "ls migrations"}"#
    );
    assert_eq!(call.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(
        call.reasoning.as_deref(),
        Some("Look at the migrations folder first.")
    );
    let result = &convo[2];
    assert_eq!(result.role, Role::Tool);
    assert_eq!(result.tool_call_id.as_deref(), Some("call_abc123"));
    assert_eq!(result.tool_name.as_deref(), Some("terminal"));
    assert!(result.content.contains("002_billing.sql"));

    // Rewound rows are not resumed; compaction summaries and structured content are.
    let child = store.load_conversation(CHILD).unwrap();
    assert_eq!(child.len(), 4);
    assert!(child[0].content.starts_with("[CONTEXT COMPACTION"));
    assert_eq!(child[1].content, "Here is a screenshot of the login page");
    assert!(child.iter().all(|m| !m.content.contains("kangaroos")));
    let stored = store.messages(CHILD).unwrap();
    assert!(stored[0].compressed_summary);
    assert!(stored[1].content_structured.as_ref().unwrap().is_array());
}

#[test]
fn searches_a_hermes_database() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&hermes_v28_fixture(dir.path())).unwrap();
    let all = SearchOptions::default();
    let hits = store.search("Postgres", &all).unwrap();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(
        hits.iter()
            .all(|h| h.session_id == CLI && h.route == SearchRoute::Fts)
    );
    assert_eq!(
        hits[0].session_title.as_deref(),
        Some("Database migration plan")
    );
    // Tool call arguments are in Hermes' index.
    assert_eq!(store.search("migrations", &all).unwrap().len(), 2);
    let zh = store.search("数据库", &all).unwrap();
    assert_eq!(zh.len(), 1);
    assert_eq!(zh[0].session_id, TELEGRAM);
    assert_eq!(zh[0].route, SearchRoute::Trigram);
    assert_eq!(store.search("迁移", &all).unwrap().len(), 2);
    // Rewound and hidden rows stay out of results.
    assert!(store.search("kangaroos", &all).unwrap().is_empty());
    assert!(store.search("scaffolding", &all).unwrap().is_empty());
    let with_inactive = SearchOptions {
        include_inactive: true,
        ..SearchOptions::default()
    };
    assert_eq!(store.search("kangaroos", &with_inactive).unwrap().len(), 1);
    // Layout 1 keeps tool rows out of the trigram index, so CJK tool output is scanned for.
    store
        .append_message(
            TELEGRAM,
            &Message::tool_result("c9", "read_file", "配置文件内容"),
        )
        .unwrap();
    let tools = SearchOptions {
        roles: vec!["tool".into()],
        ..SearchOptions::default()
    };
    let hits = store.search("配置文件", &tools).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].route, SearchRoute::Like);
}

#[test]
fn our_writes_keep_the_database_hermes_compatible() {
    let dir = tempfile::tempdir().unwrap();
    let path = hermes_v28_fixture(dir.path());
    let before = schema_objects(&path);
    let app_id_before: i64 = raw(&path)
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();

    let store = Store::open(&path).unwrap();
    let id = store
        .append_message(
            CLI,
            &Message::user("Remember the flamingo checklist before cutover"),
        )
        .unwrap();
    let hits = store.search("flamingo", &SearchOptions::default()).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].message_id, id);
    assert_eq!(
        store
            .search("冷启动检查表", &SearchOptions::default())
            .unwrap()
            .len(),
        0
    );
    store
        .append_message(TELEGRAM, &Message::user("请准备冷启动检查表"))
        .unwrap();
    assert_eq!(
        store
            .search("冷启动检查表", &SearchOptions::default())
            .unwrap()
            .len(),
        1
    );
    let row = store.get_session(CLI).unwrap().unwrap();
    assert_eq!(row.message_count, 6);
    assert!(row.last_activity_at.is_some());
    drop(store);

    // Every Hermes table, index, view and trigger is still there, unchanged.
    assert_eq!(schema_objects(&path), before);
    let conn = raw(&path);
    let version: i64 = conn
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 28);
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
    let app_id: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(app_id, app_id_before);
    assert_eq!(meta(&path, "fts_storage_version").as_deref(), Some("1"));
    assert_eq!(
        meta(&path, "db_file_generation").as_deref(),
        Some("3f2a9c1e7b6d4e8fa1b2c3d4e5f60718")
    );
    fts_integrity(&path, "messages_fts");
    fts_integrity(&path, "messages_fts_trigram");
    // Our row reads the way Hermes reads rows: active, explicit role, counters bumped.
    let (role, active, content): (String, i64, String) = conn
        .query_row(
            "SELECT role, active, content FROM messages WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((role.as_str(), active), ("user", 1));
    assert!(content.contains("flamingo"));
    // And a Hermes-style writer can still insert through its own triggers afterwards.
    conn.execute(
        "INSERT INTO messages (session_id, role, content, timestamp, active)
         VALUES (?1, 'assistant', 'pelican acknowledged', 1790000000.0, 1)",
        [CLI],
    )
    .unwrap();
    drop(conn);
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store
            .search("pelican", &SearchOptions::default())
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn sessions_we_create_in_a_hermes_database_use_its_conventions() {
    let dir = tempfile::tempdir().unwrap();
    let path = hermes_v28_fixture(dir.path());
    let store = Store::open(&path).unwrap();
    let mut s = new_session("20260720_080000_c0ffee", "cli");
    s.system_prompt = Some("You are Hermes, a helpful agent.".into());
    s.parent_session_id = Some(CHILD.into());
    store.create_session(&s).unwrap();
    let row = store
        .get_session("20260720_080000_c0ffee")
        .unwrap()
        .unwrap();
    // Content-addressed prompt shared with the Hermes session that used the same text.
    assert_eq!(
        row.columns["system_prompt_hash"],
        "7056e92df509e9350bcf778efb46f07340b58d6e772c9d818a3d3bfc232979f4"
    );
    assert_eq!(
        row.system_prompt.as_deref(),
        Some("You are Hermes, a helpful agent.")
    );
    // The inline column is filled too, for a Hermes 0.19 that opens this file.
    let legacy: Option<String> = raw(&path)
        .query_row(
            "SELECT system_prompt FROM sessions WHERE id = '20260720_080000_c0ffee'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(legacy.as_deref(), Some("You are Hermes, a helpful agent."));
    let prompts: i64 = raw(&path)
        .query_row("SELECT COUNT(*) FROM system_prompts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(prompts, 1);
    // The continuation of "Refactor auth #2" is "#3".
    assert_eq!(row.title.as_deref(), Some("Refactor auth #3"));
    assert_eq!(
        store.resolve_session("Refactor auth").unwrap(),
        "20260720_080000_c0ffee"
    );
}

#[test]
fn a_newer_hermes_database_with_fts_layout_3_stays_usable_and_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture_db(dir.path(), HERMES_V30_SQL);
    let before = schema_objects(&path);

    let store = Store::open(&path).unwrap();
    assert!(
        store.init_report().added_columns.is_empty(),
        "{:?}",
        store.init_report()
    );
    let sid = "20260801_100000_abcdef";
    let id = store
        .append_message(sid, &Message::user("Check the flamingo rotation log"))
        .unwrap();
    store
        .append_message(sid, &Message::assistant("检查备份日志文件"))
        .unwrap();
    let all = SearchOptions::default();
    let hits = store.search("flamingo", &all).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].message_id, id);
    assert_eq!(store.search("rotation", &all).unwrap().len(), 3);
    let zh = store.search("备份日志", &all).unwrap();
    assert_eq!(zh.len(), 1);
    assert_eq!(zh[0].route, SearchRoute::Trigram);
    assert_eq!(store.search("备份轮换", &all).unwrap().len(), 1);
    let listed = store.list_sessions(&SessionFilter::default()).unwrap();
    assert_eq!(listed[0].id, sid);
    drop(store);

    assert_eq!(schema_objects(&path), before);
    let conn = raw(&path);
    let version: i64 = conn
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 30);
    assert_eq!(meta(&path, "fts_storage_version").as_deref(), Some("3"));
    // Hermes' display_order trigger ran for our row.
    let order: Option<i64> = conn
        .query_row(
            "SELECT display_order FROM messages WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(order, Some(id));
    fts_integrity(&path, "messages_fts");
    fts_integrity(&path, "messages_fts_trigram");
}
