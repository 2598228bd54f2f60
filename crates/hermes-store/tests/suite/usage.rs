//! Usage accounting and the export shape.

use hermes_core::pricing::CostStatus;
use hermes_core::{CallRecord, Message, ToolCall, Usage};
use hermes_store::Store;

use super::common::*;

fn call(task: &str, input: u64, output: u64, cost: Option<f64>) -> CallRecord {
    CallRecord {
        model: "gpt-4o".into(),
        provider: "openai".into(),
        base_url: "https://api.openai.com/v1".into(),
        usage: Usage {
            input_tokens: input,
            output_tokens: output,
            cache_read_tokens: 10,
            cache_write_tokens: 0,
            reasoning_tokens: 3,
        },
        cost_usd: cost,
        cost_status: if cost.is_some() {
            CostStatus::Estimated
        } else {
            CostStatus::Unknown
        },
        task: task.into(),
    }
}

#[test]
fn calls_accumulate_per_session_and_per_model() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store_with_session(dir.path(), "s1");
    store
        .record_call("s1", &call("main", 1000, 200, Some(0.01)))
        .unwrap();
    store
        .record_call("s1", &call("main", 500, 100, Some(0.005)))
        .unwrap();
    store
        .record_call("s1", &call("compression", 3000, 400, Some(0.02)))
        .unwrap();

    let row = store.get_session("s1").unwrap().unwrap();
    // Only the main loop counts toward the session totals.
    assert_eq!(row.input_tokens, 1500);
    assert_eq!(row.output_tokens, 300);
    assert_eq!(row.cache_read_tokens, 20);
    assert_eq!(row.reasoning_tokens, 6);
    assert_eq!(row.api_call_count, 2);
    assert!((row.estimated_cost_usd.unwrap() - 0.015).abs() < 1e-12);
    assert_eq!(row.cost_status.as_deref(), Some("estimated"));
    assert_eq!(row.cost_source.as_deref(), Some("official_docs_snapshot"));

    let usage = store.usage_by_model(Some("s1")).unwrap();
    assert_eq!(usage.len(), 2);
    let main = usage.iter().find(|u| u.task.is_empty()).unwrap();
    assert_eq!(main.api_call_count, 2);
    assert_eq!(main.input_tokens, 1500);
    assert_eq!(main.billing_provider, "openai");
    assert_eq!(main.model, "gpt-4o");
    assert!(main.first_seen.unwrap() <= main.last_seen.unwrap());
    let comp = usage.iter().find(|u| u.task == "compression").unwrap();
    assert_eq!(comp.api_call_count, 1);
    assert_eq!(comp.input_tokens, 3000);
    // Sorted by spend.
    assert_eq!(usage[0].task, "compression");

    // An unknown price, then a local endpoint.
    store.record_call("s1", &call("main", 1, 1, None)).unwrap();
    let row = store.get_session("s1").unwrap().unwrap();
    assert_eq!(row.cost_status.as_deref(), Some("unknown"));
    assert!((row.estimated_cost_usd.unwrap() - 0.015).abs() < 1e-12);
    store.create_session(&new_session("local", "cli")).unwrap();
    let mut local = call("main", 10, 10, Some(0.0));
    local.model = "llama3.1:8b".into();
    local.provider = "ollama".into();
    local.base_url = "http://127.0.0.1:11434/v1".into();
    local.cost_status = CostStatus::Included;
    store.record_call("local", &local).unwrap();
    let row = store.get_session("local").unwrap().unwrap();
    assert_eq!(row.cost_status.as_deref(), Some("included"));
    assert_eq!(row.pricing_version.as_deref(), Some("included-route"));

    // Across sessions.
    store.create_session(&new_session("s2", "cli")).unwrap();
    store
        .record_call("s2", &call("main", 100, 10, Some(0.001)))
        .unwrap();
    let all = store.usage_by_model(None).unwrap();
    let main_all = all
        .iter()
        .find(|u| u.task.is_empty() && u.model == "gpt-4o")
        .unwrap();
    assert_eq!(main_all.sessions, 2);
    assert_eq!(main_all.api_call_count, 4);
    assert_eq!(main_all.input_tokens, 1601);
}

#[test]
fn a_call_for_an_unknown_session_creates_a_placeholder() {
    let store = Store::open_in_memory().unwrap();
    store
        .record_call("ghost", &call("main", 5, 5, Some(0.1)))
        .unwrap();
    let row = store.get_session("ghost").unwrap().unwrap();
    assert_eq!(row.source, "unknown");
    assert_eq!(row.input_tokens, 5);
    assert_eq!(row.model.as_deref(), Some("gpt-4o"));
}

#[test]
fn export_has_hermes_jsonl_shape() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store_with_session(dir.path(), "s1");
    store.set_title("s1", "Export me").unwrap();
    store.append_message("s1", &Message::user("hello")).unwrap();
    store
        .append_message(
            "s1",
            &Message {
                tool_calls: vec![ToolCall {
                    id: "c1".into(),
                    name: "terminal".into(),
                    arguments: "{}".into(),
                }],
                ..Message::assistant("")
            },
        )
        .unwrap();
    store
        .append_message("s1", &Message::tool_result("c1", "terminal", "ok"))
        .unwrap();
    // Content that merely looks like a summary is not flagged as one.
    store
        .append_message(
            "s1",
            &Message::user("[CONTEXT COMPACTION] pasted by a user"),
        )
        .unwrap();
    let v = store.export_session("s1").unwrap();
    assert_eq!(v["id"], "s1");
    assert_eq!(v["source"], "cli");
    assert_eq!(v["title"], "Export me");
    assert_eq!(v["system_prompt"], "You are a test agent.");
    assert_eq!(v["message_count"], 4);
    assert!(v.get("started_at").unwrap().is_f64());
    assert!(v.get("__resolved_system_prompt").is_none());
    let msgs = v["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 4);
    assert_eq!(msgs[0]["role"], "user");
    assert_eq!(msgs[0]["content"], "hello");
    assert!(msgs[0].get("_compressed_summary").is_none());
    assert!(msgs[0].get("display_order").is_none());
    assert!(msgs[0].get("display_identity").is_none());
    assert_eq!(msgs[1]["tool_calls"][0]["function"]["name"], "terminal");
    assert!(msgs[1]["content"].is_null());
    assert_eq!(msgs[2]["tool_call_id"], "c1");
    assert!(msgs[3].get("_compressed_summary").is_none());
    assert!(msgs[0]["timestamp"].is_f64());
    // One JSON line per session.
    let line = serde_json::to_string(&v).unwrap();
    assert!(!line.contains('\n'));
    assert!(matches!(
        store.export_session("nope"),
        Err(hermes_store::StoreError::SessionNotFound(_))
    ));
}

/// Compression continues a conversation in a child session in one transaction; the
/// summary is flagged because the agent says which message it is.
#[test]
fn rotate_session_is_atomic_and_flags_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store_with_session(dir.path(), "s1");
    store.append_message("s1", &Message::user("first")).unwrap();
    let summary = hermes_core::compress::summary_message("earlier work", 3, None);
    let mut child = new_session("s2", "cli");
    child.parent_session_id = Some("s1".into());
    store
        .rotate_session(
            &child,
            &[Message::user("first"), summary],
            Some(1),
            "s1",
            "compression",
        )
        .unwrap();
    let parent = store.get_session("s1").unwrap().unwrap();
    assert_eq!(parent.end_reason.as_deref(), Some("compression"));
    let v = store.export_session("s2").unwrap();
    assert_eq!(v["parent_session_id"], "s1");
    let msgs = v["messages"].as_array().unwrap();
    assert!(msgs[0].get("_compressed_summary").is_none());
    assert_eq!(msgs[1]["_compressed_summary"], true);
    assert_eq!(v["message_count"], 2);

    // A rotation that fails part-way (the child id exists) changes nothing.
    store.append_message("s2", &Message::user("more")).unwrap();
    let mut clash = new_session("s2", "cli");
    clash.parent_session_id = Some("s2".into());
    assert!(
        store
            .rotate_session(&clash, &[Message::user("x")], None, "s2", "compression")
            .is_err()
    );
    let s2 = store.get_session("s2").unwrap().unwrap();
    assert!(s2.end_reason.is_none(), "the parent was not ended");
    assert_eq!(store.messages("s2").unwrap().len(), 3);
}
