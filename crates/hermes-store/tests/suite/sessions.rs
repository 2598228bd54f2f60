//! Session lifecycle through the store and through `hermes_core::SessionStore`.

use std::sync::Arc;

use hermes_core::{Message, SessionStore};
use hermes_store::{SessionFilter, Store, StoreError};

use super::common::*;

#[test]
fn the_agent_contract_commits_through_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = Arc::new(Store::open(&path).unwrap());
    let dynamic: Arc<dyn SessionStore> = store.clone();
    dynamic.create_session(&new_session("s1", "cli")).unwrap();
    let err = dynamic
        .create_session(&new_session("s1", "cli"))
        .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    let id = dynamic
        .append_message("s1", &Message::user("hello"))
        .unwrap();
    assert!(id > 0);
    assert!(
        dynamic
            .append_message("missing", &Message::user("x"))
            .is_err()
    );
    dynamic.end_session("s1", "cli_close").unwrap();
    dynamic.end_session("s1", "agent_close").unwrap();
    let row = store.get_session("s1").unwrap().unwrap();
    assert_eq!(
        row.end_reason.as_deref(),
        Some("cli_close"),
        "first stamp wins"
    );
    let ended_at = row.ended_at.unwrap();
    assert!(ended_at >= row.started_at);
    assert_eq!(row.model.as_deref(), Some("gpt-4o"));
    assert_eq!(row.billing_provider.as_deref(), Some("openai"));
    assert_eq!(row.cwd.as_deref(), Some("/work"));
    assert_eq!(row.system_prompt.as_deref(), Some("You are a test agent."));

    // Resuming clears the stamp; the next close stamps again.
    store.reopen_session("s1").unwrap();
    let row = store.get_session("s1").unwrap().unwrap();
    assert!(row.ended_at.is_none() && row.end_reason.is_none());
    dynamic.end_session("s1", "session_switch").unwrap();
    let row = store.get_session("s1").unwrap().unwrap();
    assert_eq!(row.end_reason.as_deref(), Some("session_switch"));
    assert!(store.reopen_session("missing").is_err());
}

#[test]
fn tool_calls_update_counters_and_survive_a_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store_with_session(dir.path(), "s1");
    let call = Message {
        tool_calls: vec![
            hermes_core::ToolCall {
                id: "c1".into(),
                name: "read_file".into(),
                arguments: r#"{"path":"a"}"#.into(),
            },
            hermes_core::ToolCall {
                id: "c2".into(),
                name: "terminal".into(),
                arguments: r#"{"command":"ls"}"#.into(),
            },
        ],
        finish_reason: Some("tool_calls".into()),
        reasoning: Some("two things to check".into()),
        ..Message::assistant("")
    };
    let convo = vec![
        Message::user("check"),
        call,
        Message::tool_result("c1", "read_file", "contents"),
        Message::tool_result("c2", "terminal", "a b"),
        Message::assistant("done"),
    ];
    for m in &convo {
        store.append_message("s1", m).unwrap();
    }
    assert_eq!(store.load_conversation("s1").unwrap(), convo);
    let row = store.get_session("s1").unwrap().unwrap();
    assert_eq!(row.message_count, 5);
    assert_eq!(row.tool_call_count, 2);
    let stored = store.messages("s1").unwrap();
    // An assistant turn that only calls tools stores NULL content, as Hermes does.
    assert_eq!(stored[1].content, None);
    assert_eq!(
        stored[1].tool_calls.as_ref().unwrap()[1]["function"]["name"],
        "terminal"
    );
}

#[test]
fn listing_orders_by_activity_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store_with_session(dir.path(), "a");
    store.create_session(&new_session("b", "telegram")).unwrap();
    store.create_session(&new_session("c", "tool")).unwrap();
    store
        .append_message("b", &Message::user("first in b"))
        .unwrap();
    store
        .append_message(
            "a",
            &Message::user(
                "line one\nline two of a message that is definitely longer than sixty characters",
            ),
        )
        .unwrap();
    let list = store.list_sessions(&SessionFilter::default()).unwrap();
    assert_eq!(list[0].id, "a");
    assert_eq!(list[1].id, "b");
    assert_eq!(
        list[0].preview,
        "line one line two of a message that is definitely longer tha..."
    );
    let filtered = store
        .list_sessions(&SessionFilter {
            exclude_sources: vec!["tool".into()],
            ..SessionFilter::default()
        })
        .unwrap();
    assert_eq!(filtered.len(), 2);
    let page = store
        .list_sessions(&SessionFilter {
            limit: 1,
            offset: 1,
            ..SessionFilter::default()
        })
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, "b");
    assert_eq!(store.latest_session(None).unwrap().as_deref(), Some("a"));
    assert_eq!(
        store.latest_session(Some("telegram")).unwrap().as_deref(),
        Some("b")
    );
    assert_eq!(store.latest_session(Some("discord")).unwrap(), None);
}

#[test]
fn deleting_detaches_children() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store_with_session(dir.path(), "parent");
    let mut child = new_session("child", "cli");
    child.parent_session_id = Some("parent".into());
    store.create_session(&child).unwrap();
    store.append_message("parent", &Message::user("x")).unwrap();
    store.delete_session("parent").unwrap();
    assert!(store.get_session("parent").unwrap().is_none());
    let child = store.get_session("child").unwrap().unwrap();
    assert_eq!(child.parent_session_id, None);
    assert!(matches!(
        store.delete_session("parent"),
        Err(StoreError::SessionNotFound(_))
    ));
    // A continuation of an unknown parent is refused with a clear error.
    let mut orphan = new_session("orphan", "cli");
    orphan.parent_session_id = Some("nope".into());
    assert!(matches!(
        store.create_session(&orphan),
        Err(StoreError::SessionNotFound(p)) if p == "nope"
    ));
}

#[test]
fn anchored_windows_and_bookends() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store_with_session(dir.path(), "s");
    let mut ids = Vec::new();
    for i in 0..20 {
        let m = if i % 4 == 3 {
            Message::tool_result(format!("c{i}"), "terminal", format!("tool {i}"))
        } else if i % 2 == 0 {
            Message::user(format!("user {i}"))
        } else {
            Message::assistant(format!("assistant {i}"))
        };
        ids.push(store.append_message("s", &m).unwrap());
    }
    let w = store.messages_around("s", ids[10], 3).unwrap();
    assert_eq!(w.messages.len(), 7);
    assert_eq!(w.messages[3].id, ids[10]);
    assert_eq!((w.messages_before, w.messages_after), (3, 3));
    let edge = store.messages_around("s", ids[1], 3).unwrap();
    assert_eq!((edge.messages_before, edge.messages_after), (1, 3));
    assert!(
        store
            .messages_around("other", ids[1], 3)
            .unwrap()
            .messages
            .is_empty()
    );

    let v = store
        .anchored_view("s", ids[11], 2, 3, &["user", "assistant"])
        .unwrap();
    // The anchor (a tool row) stays even though tool rows are filtered out.
    assert!(v.window.iter().any(|m| m.id == ids[11] && m.role == "tool"));
    assert!(v.window.iter().all(|m| m.id == ids[11] || m.role != "tool"));
    assert_eq!(
        v.bookend_start.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![ids[0], ids[1], ids[2]]
    );
    assert_eq!(
        v.bookend_end.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![ids[16], ids[17], ids[18]]
    );
    let state = store.message_state(ids[5]).unwrap().unwrap();
    assert_eq!(state.session_id, "s");
    assert!(state.active && !state.compacted);
    assert!(store.message_state(999_999).unwrap().is_none());
}
