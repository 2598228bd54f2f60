//! The Anthropic messages provider against the mock server.

use hermes_core::{ChatRequest, Message, StreamEvent, ToolCall, Usage};
use hermes_testkit::{MockLlm, MockUsage, Reply};
use serde_json::{Value, json};

use super::common::*;

fn conversation_with_tools() -> ChatRequest {
    let mut assistant = Message::assistant("I'll read both.");
    assistant.tool_calls = vec![
        ToolCall {
            id: "toolu_1".into(),
            name: "read_file".into(),
            arguments: "{\"path\":\"a\"}".into(),
        },
        ToolCall {
            id: "toolu_2".into(),
            name: "read_file".into(),
            arguments: "{\"path\":\"b\"}".into(),
        },
    ];
    ChatRequest {
        system: "You are Hermes.".into(),
        messages: vec![
            Message::user("read a and b"),
            assistant,
            Message::tool_result("toolu_1", "read_file", "A"),
            Message::tool_result("toolu_2", "read_file", "B"),
            Message::user("and summarise"),
        ],
        tools: vec![read_file_tool()],
        ..ChatRequest::default()
    }
}

#[tokio::test]
async fn streams_tool_calls_and_sends_the_expected_request() {
    let mock = MockLlm::start().await;
    mock.push(
        Reply::tool_calls(vec![
            ("read_file".into(), json!({"path": "c.txt"})),
            ("todo".into(), json!({"todos": [{"content": "ünï ✓"}]})),
        ])
        .with_text("Reading more.")
        .with_usage(MockUsage {
            input_tokens: 1000,
            output_tokens: 50,
            cache_read_tokens: 600,
            cache_write_tokens: 100,
            reasoning_tokens: 0,
        }),
    );
    let p = provider(anthropic_cfg(&mock));
    let (c, events) = complete(p.as_ref(), &conversation_with_tools())
        .await
        .unwrap();
    assert_eq!(c.message.content, "Reading more.");
    assert_eq!(c.message.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(c.message.tool_calls.len(), 2);
    assert_eq!(c.message.tool_calls[0].name, "read_file");
    assert!(c.message.tool_calls[0].id.starts_with("toolu_"));
    assert_eq!(
        serde_json::from_str::<Value>(&c.message.tool_calls[0].arguments).unwrap(),
        json!({"path": "c.txt"})
    );
    assert_eq!(
        serde_json::from_str::<Value>(&c.message.tool_calls[1].arguments).unwrap(),
        json!({"todos": [{"content": "ünï ✓"}]})
    );
    assert_eq!(
        c.usage,
        Some(Usage {
            input_tokens: 1000,
            output_tokens: 50,
            cache_read_tokens: 600,
            cache_write_tokens: 100,
            reasoning_tokens: 0
        })
    );
    assert!(
        events
            .iter()
            .filter(|e| matches!(e, StreamEvent::ToolCallDelta { .. }))
            .count()
            >= 6
    );

    let r = &mock.requests()[0];
    assert_eq!(r.path, "/v1/messages");
    assert_eq!(r.header("x-api-key"), Some(KEY));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(r.header("authorization"), None);
    let b = &r.body;
    assert_eq!(b["model"], "claude-test");
    assert_eq!(b["max_tokens"], 8192);
    assert_eq!(b["stream"], true);
    assert_eq!(
        b["system"],
        json!([{"type": "text", "text": "You are Hermes.", "cache_control": {"type": "ephemeral"}}])
    );
    assert_eq!(
        b["messages"],
        json!([
            // After merging there are three messages, so each gets a breakpoint.
            {"role": "user", "content": [{"type": "text", "text": "read a and b",
                "cache_control": {"type": "ephemeral"}}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "I'll read both."},
                {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "a"}},
                {"type": "tool_use", "id": "toolu_2", "name": "read_file", "input": {"path": "b"},
                 "cache_control": {"type": "ephemeral"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "A"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "B"},
                {"type": "text", "text": "and summarise", "cache_control": {"type": "ephemeral"}}
            ]}
        ])
    );
    assert_eq!(
        b["tools"],
        json!([{"name": "read_file", "description": "Read a file",
            "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}])
    );
    // Four cache breakpoints at most: system + last three messages.
    assert!(b.to_string().matches("ephemeral").count() <= 4);
}

#[tokio::test]
async fn streams_text_with_thinking() {
    let mock = MockLlm::start().await;
    mock.push(
        Reply::text("The answer is 42.")
            .with_reasoning("Deep thought…")
            .chunked(2),
    );
    let p = provider(anthropic_cfg(&mock));
    let (c, events) = complete(p.as_ref(), &simple_request("question"))
        .await
        .unwrap();
    assert_eq!(c.message.content, "The answer is 42.");
    assert_eq!(c.message.reasoning.as_deref(), Some("Deep thought…"));
    assert_eq!(c.message.finish_reason.as_deref(), Some("stop"));
    assert!(
        events
            .iter()
            .filter(|e| matches!(e, StreamEvent::TextDelta(_)))
            .count()
            > 3
    );
}

#[tokio::test]
async fn non_streaming_and_base_url_with_v1() {
    let mock = MockLlm::start().await;
    mock.push(Reply::tool_call("read_file", json!({"path": "x"})).with_text("ok"));
    let mut cfg = anthropic_cfg(&mock);
    cfg.streaming = false;
    cfg.base_url = format!("{}/v1/", mock.base_url());
    cfg.max_tokens = Some(1234);
    cfg.cache_control = false;
    let p = provider(cfg);
    let (c, _) = complete(p.as_ref(), &simple_request("q")).await.unwrap();
    assert_eq!(c.message.content, "ok");
    assert_eq!(c.message.tool_calls.len(), 1);
    assert_eq!(c.message.tool_calls[0].arguments, "{\"path\":\"x\"}");
    assert_eq!(c.message.finish_reason.as_deref(), Some("tool_calls"));
    let r = &mock.requests()[0];
    assert_eq!(r.path, "/v1/messages");
    assert!(r.body.get("stream").is_none());
    assert_eq!(r.body["max_tokens"], 1234);
    assert!(!r.body.to_string().contains("cache_control"));
}

#[tokio::test]
async fn echo_reads_anthropic_messages() {
    let mock = MockLlm::start().await;
    let p = provider(anthropic_cfg(&mock));
    let (c, _) = complete(p.as_ref(), &simple_request("ping")).await.unwrap();
    assert_eq!(c.message.content, "You said: ping");
}
