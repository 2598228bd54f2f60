//! Full-text search: words, CJK substrings, short CJK, odd input.

use hermes_core::{Message, ToolCall};
use hermes_store::{SearchOptions, SearchRoute, SearchSort, Store};

use super::common::*;

fn seeded() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store_with_session(dir.path(), "en");
    store
        .create_session(&new_session("zh", "telegram"))
        .unwrap();
    store
        .append_messages(
            "en",
            &[
                Message::user("Please plan the database migration for the billing service"),
                Message {
                    tool_calls: vec![ToolCall {
                        id: "call_1".into(),
                        name: "terminal".into(),
                        arguments: r#"{"command":"psql --version"}"#.into(),
                    }],
                    ..Message::assistant("")
                },
                Message::tool_result("call_1", "terminal", "psql (PostgreSQL) 16.2"),
                Message::assistant("Postgres 16 is installed; the migration can start."),
            ],
        )
        .unwrap();
    store
        .append_messages(
            "zh",
            &[
                Message::user("我们今天讨论数据库迁移的问题"),
                Message::assistant("好的，先备份，然后执行迁移脚本。"),
            ],
        )
        .unwrap();
    (dir, store)
}

fn all() -> SearchOptions {
    SearchOptions::default()
}

#[test]
fn finds_an_english_word_with_a_marked_snippet() {
    let (_d, store) = seeded();
    let hits = store.search("migration", &all()).unwrap();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(
        hits.iter()
            .all(|h| h.session_id == "en" && h.route == SearchRoute::Fts)
    );
    assert!(
        hits.iter().any(|h| h.snippet.contains(">>>migration<<<")),
        "{hits:?}"
    );
    // Several words: implicit AND.
    let hits = store.search("billing migration", &all()).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].role, "user");
    assert_eq!(hits[0].source, "cli");
    // Prefix and OR.
    assert_eq!(store.search("migrat*", &all()).unwrap().len(), 2);
    assert_eq!(store.search("backup OR Postgres", &all()).unwrap().len(), 1);
    // Tool output and tool call arguments are indexed too.
    let hits = store.search("PostgreSQL", &all()).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].role, "tool");
    assert_eq!(hits[0].tool_name.as_deref(), Some("terminal"));
    assert_eq!(store.search("psql", &all()).unwrap().len(), 2);
}

#[test]
fn finds_a_cjk_substring_through_the_trigram_index() {
    let (_d, store) = seeded();
    let hits = store.search("数据库", &all()).unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].session_id, "zh");
    assert_eq!(hits[0].route, SearchRoute::Trigram);
    assert!(
        hits[0].snippet.contains(">>>数据库<<<"),
        "{}",
        hits[0].snippet
    );
    // A three-character substring that straddles two words of the sentence.
    let hits = store.search("讨论数", &all()).unwrap();
    assert_eq!(hits.len(), 1);
}

#[test]
fn finds_a_two_character_cjk_query_by_scanning() {
    let (_d, store) = seeded();
    let hits = store.search("迁移", &all()).unwrap();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(hits.iter().all(|h| h.route == SearchRoute::Like));
    assert!(hits.iter().all(|h| h.snippet.contains("迁移")));
    // Newest first on the scan route.
    assert!(hits[0].timestamp >= hits[1].timestamp);
    // A single character works the same way.
    assert_eq!(store.search("库", &all()).unwrap().len(), 1);
}

#[test]
fn an_english_substring_falls_back_to_trigram() {
    let (_d, store) = seeded();
    // "atabas" is no unicode61 token, but it is inside "database".
    let hits = store.search("atabas", &all()).unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].route, SearchRoute::Trigram);
}

#[test]
fn odd_input_never_raises_an_error() {
    let (_d, store) = seeded();
    for q in [
        "\"",
        "AND OR",
        "*",
        "(",
        "",
        "   ",
        ")",
        "\"\"",
        "NOT",
        "a\"b",
        "NEAR(",
        "col:x",
        "-x",
        "^",
        "'",
        "{}",
        "OR migration",
        "migration AND",
        "x OR OR y",
        "%",
        "_",
        "\\",
        "*migration",
        "migration**",
        "[1]",
        "a+b",
        "😀",
        "SELECT * FROM messages;--",
        "数据库 OR",
        "\"数据库",
        "迁移 AND 脚本",
        "\u{0}",
    ] {
        let r = store.search(q, &all());
        assert!(r.is_ok(), "query {q:?} failed: {r:?}");
    }
    assert!(store.search("AND OR", &all()).unwrap().is_empty());
    assert_eq!(store.search("OR migration", &all()).unwrap().len(), 2);
    assert_eq!(
        store
            .search("\"database migration\"", &all())
            .unwrap()
            .len(),
        1
    );
    // A dotted term matches as a phrase of its parts.
    assert_eq!(store.search("16.2", &all()).unwrap().len(), 1);
}

#[test]
fn filters_and_ordering() {
    let (_d, store) = seeded();
    let only_assistant = SearchOptions {
        roles: vec!["assistant".into()],
        ..all()
    };
    let hits = store.search("migration", &only_assistant).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].role, "assistant");
    let other_session = SearchOptions {
        session_id: Some("zh".into()),
        ..all()
    };
    assert!(
        store
            .search("migration", &other_session)
            .unwrap()
            .is_empty()
    );
    let newest = SearchOptions {
        sort: SearchSort::Newest,
        ..all()
    };
    let hits = store.search("migration", &newest).unwrap();
    assert!(hits[0].timestamp > hits[1].timestamp);
    let oldest = SearchOptions {
        sort: SearchSort::Oldest,
        limit: 1,
        ..all()
    };
    let hits = store.search("migration", &oldest).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].role, "user");
    let no_telegram = SearchOptions {
        exclude_sources: vec!["telegram".into()],
        ..all()
    };
    assert!(store.search("数据库", &no_telegram).unwrap().is_empty());
    // Tool output with CJK: our files use Hermes 0.19's legacy layout, whose trigram index
    // holds tool rows too. (On a v23+ layout it is scanned for: see newer_hermes.)
    store
        .append_message(
            "zh",
            &Message::tool_result("c9", "read_file", "配置文件内容"),
        )
        .unwrap();
    let tools = SearchOptions {
        roles: vec!["tool".into()],
        ..all()
    };
    let hits = store.search("配置文件", &tools).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].route, SearchRoute::Trigram);
    assert_eq!(hits[0].role, "tool");
}

#[test]
fn deleted_sessions_leave_the_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = store_with_session(dir.path(), "gone");
    store
        .append_message("gone", &Message::user("ephemeral zebra notes"))
        .unwrap();
    store
        .append_message("gone", &Message::user("斑马笔记本电脑"))
        .unwrap();
    assert_eq!(store.search("zebra", &all()).unwrap().len(), 1);
    store.delete_session("gone").unwrap();
    assert!(store.search("zebra", &all()).unwrap().is_empty());
    assert!(store.search("斑马笔", &all()).unwrap().is_empty());
    assert!(store.get_session("gone").unwrap().is_none());
    fts_integrity(&path, "messages_fts");
    fts_integrity(&path, "messages_fts_trigram");
}
