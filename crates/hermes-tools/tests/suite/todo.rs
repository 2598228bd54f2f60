//! The `todo` tool through the `Tool` trait, as the agent loop calls it.

use std::sync::Arc;

use hermes_core::schema::validate;
use hermes_core::{Tool, ToolContext};
use hermes_tools::todo::{TodoStore, TodoTool};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

fn ctx(session: &str) -> ToolContext {
    ToolContext {
        session_id: session.into(),
        lineage_id: session.into(),
        workspace: std::env::temp_dir(),
        cancel: CancellationToken::new(),
    }
}

async fn call(tool: &TodoTool, session: &str, args: Value) -> String {
    validate(&tool.spec().parameters, &args).unwrap();
    tool.call(args, &ctx(session)).await.unwrap()
}

#[tokio::test]
async fn reading_an_empty_list() {
    let tool = TodoTool::new(Arc::new(TodoStore::new()));
    assert_eq!(
        call(&tool, "s", json!({})).await,
        r#"{"todos":[],"summary":{"total":0,"pending":0,"in_progress":0,"completed":0,"cancelled":0}}"#
    );
}

#[tokio::test]
async fn replace_then_merge_then_read() {
    let tool = TodoTool::new(Arc::new(TodoStore::new()));
    let out = call(
        &tool,
        "s",
        json!({"todos": [
            {"id": "1", "content": "Plan", "status": "completed"},
            {"id": "2", "content": "Write tests", "status": "in_progress"},
            {"id": "3", "content": "Docs", "status": "pending"}
        ]}),
    )
    .await;
    assert_eq!(
        out,
        r#"{"todos":[{"id":"1","content":"Plan","status":"completed"},{"id":"2","content":"Write tests","status":"in_progress"},{"id":"3","content":"Docs","status":"pending"}],"summary":{"total":3,"pending":1,"in_progress":1,"completed":1,"cancelled":0}}"#
    );

    let out: Value = serde_json::from_str(
        &call(
            &tool,
            "s",
            json!({"merge": true, "todos": [
                {"id": "2", "content": "Write tests", "status": "completed"},
                {"id": "3", "content": "Docs", "status": "in_progress"},
                {"id": "4", "content": "Release", "status": "pending"}
            ]}),
        )
        .await,
    )
    .unwrap();
    assert_eq!(out["summary"]["total"], 4);
    assert_eq!(out["summary"]["completed"], 2);
    assert_eq!(out["todos"][3]["id"], "4");

    // Replace mode throws the old plan away.
    let out: Value = serde_json::from_str(
        &call(
            &tool,
            "s",
            json!({"todos": [{"id": "a", "content": "New plan", "status": "pending"}]}),
        )
        .await,
    )
    .unwrap();
    assert_eq!(out["summary"]["total"], 1);

    let read: Value = serde_json::from_str(&call(&tool, "s", json!({})).await).unwrap();
    assert_eq!(read, out);
}

#[tokio::test]
async fn lists_belong_to_their_session() {
    let store = Arc::new(TodoStore::new());
    let tool = TodoTool::new(store.clone());
    call(
        &tool,
        "one",
        json!({"todos": [{"id": "1", "content": "x", "status": "pending"}]}),
    )
    .await;
    let other: Value = serde_json::from_str(&call(&tool, "two", json!({})).await).unwrap();
    assert_eq!(other["summary"]["total"], 0);
    assert_eq!(store.read("one").len(), 1);
}

#[test]
fn spec_is_hermes_shape() {
    let tool = TodoTool::new(Arc::new(TodoStore::new()));
    let spec = tool.spec();
    assert_eq!(spec.name, "todo");
    assert_eq!(spec.parameters["required"], json!([]));
    assert_eq!(
        spec.parameters["properties"]["todos"]["items"]["required"],
        json!(["id", "content", "status"])
    );
    assert!(
        spec.description
            .starts_with("Manage your task list for the current session.")
    );
    assert!(!tool.is_mutating(&json!({})));
    assert!(tool.is_mutating(&json!({"todos": []})));
}
