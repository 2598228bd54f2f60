//! Tool results reach the model, the store and the UI only after secret scrubbing.

use std::sync::{Arc, Mutex};

use hermes_core::pricing::PriceTable;
use hermes_core::redact::Redactor;
use hermes_core::session::InMemorySessions;
use hermes_core::{Agent, AgentConfig, AgentEvent, Role, ToolRegistry};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::support::{Probe, Scripted, calls, text};

const SECRET: &str = "canary-secret-value-123456";

async fn turn(redactor: Option<Arc<Redactor>>) -> (Vec<String>, Vec<String>, Vec<String>) {
    let provider = Scripted::new(vec![
        calls(&[("c1", "look", json!({"tag": SECRET}))]),
        text("done"),
    ]);
    let store = Arc::new(InMemorySessions::new());
    let mut tools = ToolRegistry::new();
    tools.register(Probe::new("look", false, Arc::new(Mutex::new(Vec::new()))));
    let mut agent = Agent::new(
        provider.clone(),
        tools,
        store.clone(),
        PriceTable::default(),
        AgentConfig::default(),
    );
    if let Some(r) = redactor {
        agent = agent.with_redactor(r);
    }
    let mut s = agent.start_session("s1", "cli", "").unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    agent
        .run_turn(&mut s, "go", &tx, &CancellationToken::new())
        .await
        .unwrap();
    drop(tx);
    let mut finished = Vec::new();
    while let Some(e) = rx.recv().await {
        if let AgentEvent::ToolFinished { output, .. } = e {
            finished.push(output);
        }
    }
    let stored = store
        .messages("s1")
        .into_iter()
        .filter(|m| m.role == Role::Tool)
        .map(|m| m.content)
        .collect();
    let sent = provider.requests()[1]
        .messages
        .iter()
        .filter(|m| m.role == Role::Tool)
        .map(|m| m.content.clone())
        .collect();
    (finished, stored, sent)
}

#[tokio::test]
async fn tool_results_are_scrubbed_everywhere_they_go() {
    let redactor = Redactor::named([("CANARY_TOKEN".to_string(), SECRET.to_string())]);
    let (finished, stored, sent) = turn(Some(Arc::new(redactor))).await;
    for (what, texts) in [("event", finished), ("store", stored), ("model", sent)] {
        assert_eq!(texts, ["ok [REDACTED:CANARY_TOKEN]"], "{what}");
    }
}

#[tokio::test]
async fn without_a_redactor_output_is_unchanged() {
    let (finished, stored, sent) = turn(None).await;
    let expected = format!("ok {SECRET}");
    for texts in [finished, stored, sent] {
        assert_eq!(texts, std::slice::from_ref(&expected));
    }
}
