//! The chat-completions provider against the mock server.

use hermes_core::{ChatRequest, Message, StreamEvent, ToolCall, Usage};
use hermes_testkit::{MockLlm, MockUsage, Reply};
use serde_json::{Value, json};

use super::common::*;

#[tokio::test]
async fn streams_text_and_sends_the_expected_request() {
    let mock = MockLlm::start().await;
    mock.push(
        Reply::text("Hello, wörld ✓ — streamed in pieces")
            .chunked(3)
            .with_usage(MockUsage {
                input_tokens: 1200,
                output_tokens: 40,
                cache_read_tokens: 1000,
                cache_write_tokens: 0,
                reasoning_tokens: 5,
            }),
    );
    let p = provider(openai_cfg(&mock));
    let (c, events) = complete(p.as_ref(), &simple_request("hi there"))
        .await
        .unwrap();
    assert_eq!(c.message.content, "Hello, wörld ✓ — streamed in pieces");
    assert_eq!(c.message.finish_reason.as_deref(), Some("stop"));
    let text_deltas = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::TextDelta(_)))
        .count();
    assert!(text_deltas > 5, "expected many deltas, got {events:?}");
    assert_eq!(
        c.usage,
        Some(Usage {
            input_tokens: 1200,
            output_tokens: 40,
            cache_read_tokens: 1000,
            cache_write_tokens: 0,
            reasoning_tokens: 5
        })
    );
    assert!(matches!(events.last(), Some(StreamEvent::Done { .. })));

    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(r.body["model"], "gpt-test");
    assert_eq!(r.body["stream"], true);
    assert_eq!(r.body["stream_options"], json!({"include_usage": true}));
    assert_eq!(
        r.body["messages"],
        json!([
            {"role": "system", "content": "You are a test."},
            {"role": "user", "content": "hi there"}
        ])
    );
    assert!(r.body.get("tools").is_none(), "no tools → no tools key");
}

#[tokio::test]
async fn tool_calls_are_assembled_from_deltas() {
    let mock = MockLlm::start().await;
    mock.push(
        Reply::tool_calls(vec![
            (
                "read_file".into(),
                json!({"path": "src/main.rs", "offset": 10}),
            ),
            (
                "todo".into(),
                json!({"todos": [{"id": "1", "content": "ünïcode ✓"}]}),
            ),
        ])
        .with_text("Let me look."),
    );
    let p = provider(openai_cfg(&mock));
    let mut assistant = Message::assistant("");
    assistant.tool_calls.push(ToolCall {
        id: "call_prev".into(),
        name: "read_file".into(),
        arguments: "{\"path\":\"a\"}".into(),
    });
    let req = ChatRequest {
        system: "sys".into(),
        messages: vec![
            Message::user("read it"),
            assistant,
            Message::tool_result("call_prev", "read_file", "contents of a"),
            Message::user("now more"),
        ],
        tools: vec![read_file_tool()],
        max_tokens: Some(500),
        temperature: Some(0.2),
    };
    let (c, events) = complete(p.as_ref(), &req).await.unwrap();
    let arg_pieces = events
        .iter()
        .filter(
            |e| matches!(e, StreamEvent::ToolCallDelta { arguments, .. } if !arguments.is_empty()),
        )
        .count();
    assert!(
        arg_pieces >= 4,
        "arguments should arrive in pieces: {events:?}"
    );
    assert_eq!(c.message.content, "Let me look.");
    assert_eq!(c.message.finish_reason.as_deref(), Some("tool_calls"));
    let calls = &c.message.tool_calls;
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].name, "read_file");
    assert_eq!(
        serde_json::from_str::<Value>(&calls[0].arguments).unwrap(),
        json!({"path": "src/main.rs", "offset": 10})
    );
    assert_eq!(calls[1].name, "todo");
    assert_eq!(
        serde_json::from_str::<Value>(&calls[1].arguments).unwrap(),
        json!({"todos": [{"id": "1", "content": "ünïcode ✓"}]})
    );
    assert!(!calls[0].id.is_empty() && calls[0].id != calls[1].id);

    let body = &mock.requests()[0].body;
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "read it"},
            {"role": "assistant", "tool_calls": [{"id": "call_prev", "type": "function",
                "function": {"name": "read_file", "arguments": "{\"path\":\"a\"}"}}]},
            {"role": "tool", "tool_call_id": "call_prev", "content": "contents of a"},
            {"role": "user", "content": "now more"}
        ])
    );
    assert_eq!(
        body["tools"],
        json!([{"type": "function", "function": {"name": "read_file", "description": "Read a file",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}}])
    );
    assert_eq!(body["max_tokens"], 500);
    assert!((body["temperature"].as_f64().unwrap() - 0.2).abs() < 1e-6);
}

#[tokio::test]
async fn non_streaming_gives_the_same_events() {
    let mock = MockLlm::start().await;
    mock.push(
        Reply::text("plain answer")
            .with_reasoning("thinking first")
            .with_usage(MockUsage {
                input_tokens: 10,
                output_tokens: 3,
                ..MockUsage::default()
            }),
    );
    mock.push(Reply::tool_call("read_file", json!({"path": "x"})));
    let mut cfg = openai_cfg(&mock);
    cfg.streaming = false;
    let p = provider(cfg);
    let (c, _) = complete(p.as_ref(), &simple_request("q")).await.unwrap();
    assert_eq!(c.message.content, "plain answer");
    assert_eq!(c.message.reasoning.as_deref(), Some("thinking first"));
    assert_eq!(
        c.usage.map(|u| (u.input_tokens, u.output_tokens)),
        Some((10, 3))
    );
    let body = &mock.requests()[0].body;
    assert_eq!(body["stream"], false);
    assert!(body.get("stream_options").is_none());

    let (c, _) = complete(p.as_ref(), &simple_request("q2")).await.unwrap();
    assert_eq!(c.message.tool_calls.len(), 1);
    assert_eq!(c.message.tool_calls[0].arguments, "{\"path\":\"x\"}");
    assert_eq!(c.message.finish_reason.as_deref(), Some("tool_calls"));
}

#[tokio::test]
async fn reasoning_deltas_are_streamed() {
    let mock = MockLlm::start().await;
    mock.push(Reply::text("42").with_reasoning("let me think"));
    let p = provider(openai_cfg(&mock));
    let (c, events) = complete(p.as_ref(), &simple_request("q")).await.unwrap();
    assert_eq!(c.message.reasoning.as_deref(), Some("let me think"));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, StreamEvent::ReasoningDelta(_)))
    );
}

#[tokio::test]
async fn no_key_means_no_authorization_header_and_extra_headers_are_sent() {
    let mock = MockLlm::start().await;
    let mut cfg = openai_cfg(&mock);
    cfg.api_key = None;
    cfg.extra_headers = vec![("X-Title".into(), "Hermes Agent".into())];
    let p = provider(cfg);
    let (c, _) = complete(p.as_ref(), &simple_request("echo me"))
        .await
        .unwrap();
    assert_eq!(
        c.message.content, "You said: echo me",
        "empty script → echo"
    );
    let r = &mock.requests()[0];
    assert_eq!(r.header("authorization"), None);
    assert_eq!(r.header("x-title"), Some("Hermes Agent"));
}

#[tokio::test]
async fn lenient_with_compatible_servers() {
    let mock = MockLlm::start().await;
    // Ollama-like: no index, no usage, no finish_reason before [DONE].
    let chunk = |delta: Value| format!("data: {}\n\n", json!({"choices": [{"delta": delta}]}));
    let body = [
        chunk(json!({"role": "assistant", "content": "Hi"})),
        ": keep-alive comment\n\n".to_string(),
        chunk(json!({"tool_calls": [{"id": "a", "function": {"name": "read_file", "arguments": "{\"path\":\"x\"}"}}]})),
        chunk(json!({"tool_calls": [{"id": "b", "function": {"name": "todo", "arguments": {"todos": []}}}]})),
        "data: [DONE]\n\n".to_string(),
    ]
    .concat()
    .replace("\n", "\r\n");
    mock.push(Reply::raw("text/event-stream", body));
    // A server that ignores `stream: true` and answers with JSON.
    mock.push(Reply::raw(
        "application/json",
        json!({"choices": [{"message": {"role": "assistant", "content": "whole"}, "finish_reason": "stop"}]}).to_string(),
    ));
    let p = provider(openai_cfg(&mock));
    let (c, events) = complete(p.as_ref(), &simple_request("q")).await.unwrap();
    assert_eq!(c.message.content, "Hi");
    assert_eq!(c.message.tool_calls.len(), 2);
    assert_eq!(c.message.tool_calls[1].arguments, "{\"todos\":[]}");
    assert_eq!(c.message.finish_reason.as_deref(), Some("tool_calls"));
    assert!(c.usage.is_none());
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Done {
            finish_reason: None
        })
    );

    let (c, _) = complete(p.as_ref(), &simple_request("q")).await.unwrap();
    assert_eq!(c.message.content, "whole");
}

#[tokio::test]
async fn finish_reason_without_done_still_finishes() {
    let mock = MockLlm::start().await;
    let body = format!(
        "data: {}\n\ndata: {}\n\n",
        json!({"choices": [{"index": 0, "delta": {"content": "ok"}}]}),
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
    );
    mock.push(Reply::raw("text/event-stream", body));
    let p = provider(openai_cfg(&mock));
    let (c, _) = complete(p.as_ref(), &simple_request("q")).await.unwrap();
    assert_eq!(c.message.content, "ok");
    assert_eq!(c.message.finish_reason.as_deref(), Some("length"));
}
