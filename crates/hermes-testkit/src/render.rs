//! Rendering a [`Reply`] in the wire protocol of the request: OpenAI chat completions or
//! Anthropic messages, streamed (SSE) or not (JSON).

use serde_json::{Value, json};

use crate::reply::{MockUsage, Reply};

/// The protocol of a request, from its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    OpenAi,
    Anthropic,
}

/// What one request is about.
pub(crate) struct Ctx<'a> {
    pub protocol: Protocol,
    pub request: &'a Value,
    pub request_len: usize,
    pub seq: u64,
}

impl Ctx<'_> {
    fn streaming(&self) -> bool {
        self.request.get("stream").and_then(Value::as_bool) == Some(true)
    }

    fn model(&self) -> String {
        self.request
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("mock-model")
            .to_string()
    }

    fn include_usage(&self) -> bool {
        self.request
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            == Some(true)
    }
}

/// One SSE event as written on the wire; `content` marks events that carry answer text
/// or tool calls (what `StallAfter` counts).
#[derive(Debug, Clone)]
pub(crate) struct SseChunk {
    pub text: String,
    pub content: bool,
}

/// How to answer.
#[derive(Debug)]
pub(crate) enum Plan {
    Json {
        status: u16,
        body: Value,
        headers: Vec<(String, String)>,
    },
    Sse {
        chunks: Vec<SseChunk>,
        /// Keep the connection open after sending the chunks.
        hold_open: bool,
    },
    Raw {
        status: u16,
        content_type: String,
        body: String,
    },
    /// Send the headers of a JSON answer, then never its body (a non-streamed stall).
    Hang,
}

/// A protocol-neutral answer.
struct Answer {
    reasoning: Option<String>,
    text: Option<String>,
    chunk_size: usize,
    calls: Vec<(String, Value)>,
    usage: MockUsage,
}

impl Answer {
    fn finish(&self) -> &'static str {
        if self.calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        }
    }
}

/// The last user text of the request, for echo replies.
pub(crate) fn last_user_text(request: &Value) -> String {
    let Some(messages) = request.get("messages").and_then(Value::as_array) else {
        return String::new();
    };
    for m in messages.iter().rev() {
        if m.get("role").and_then(Value::as_str) != Some("user") {
            continue;
        }
        let text = match m.get("content") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(parts)) => parts
                .iter()
                .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        };
        if !text.is_empty() {
            return text;
        }
    }
    String::new()
}

fn default_usage(ctx: &Ctx<'_>, out_chars: usize) -> MockUsage {
    MockUsage {
        input_tokens: (ctx.request_len as u64 / 4).max(1),
        output_tokens: out_chars as u64 / 4 + 1,
        ..MockUsage::default()
    }
}

fn pieces(s: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    chars
        .chunks(size.max(1))
        .map(|c| c.iter().collect())
        .collect()
}

/// Splits into (about) three pieces, so arguments arrive in several deltas.
fn thirds(s: &str) -> Vec<String> {
    let n = s.chars().count();
    pieces(s, n.div_ceil(3).max(1))
}

/// Renders `reply` for the request described by `ctx`.
pub(crate) fn render(reply: &Reply, ctx: &Ctx<'_>) -> Plan {
    match reply {
        Reply::Delayed { reply, .. } => render(reply, ctx),
        Reply::Echo => {
            let text = format!("You said: {}", last_user_text(ctx.request));
            render(&Reply::text(text), ctx)
        }
        Reply::Text {
            text,
            chunk_size,
            reasoning,
            usage,
        } => {
            let out = text.chars().count() + reasoning.as_ref().map_or(0, |r| r.chars().count());
            answer(
                ctx,
                &Answer {
                    reasoning: reasoning.clone(),
                    text: Some(text.clone()),
                    chunk_size: *chunk_size,
                    calls: Vec::new(),
                    usage: usage.unwrap_or_else(|| default_usage(ctx, out)),
                },
            )
        }
        Reply::ToolCalls { text, calls, usage } => {
            let out = text.as_ref().map_or(0, |t| t.chars().count())
                + calls
                    .iter()
                    .map(|(n, a)| n.len() + a.to_string().len())
                    .sum::<usize>();
            answer(
                ctx,
                &Answer {
                    reasoning: None,
                    text: text.clone(),
                    chunk_size: 8,
                    calls: calls.clone(),
                    usage: usage.unwrap_or_else(|| default_usage(ctx, out)),
                },
            )
        }
        Reply::Error {
            status,
            body,
            retry_after,
        } => Plan::Json {
            status: *status,
            body: if body.is_null() {
                error_body(ctx.protocol, *status)
            } else {
                body.clone()
            },
            headers: retry_after
                .iter()
                .map(|v| ("retry-after".to_string(), v.clone()))
                .collect(),
        },
        Reply::MalformedSse => malformed(ctx),
        Reply::StallAfter { text, after_chunks } => {
            if !ctx.streaming() {
                return Plan::Hang;
            }
            let plan = answer(
                ctx,
                &Answer {
                    reasoning: None,
                    text: Some(text.clone()),
                    chunk_size: 4,
                    calls: Vec::new(),
                    usage: default_usage(ctx, text.len()),
                },
            );
            let Plan::Sse { chunks, .. } = plan else {
                return plan;
            };
            let mut kept = Vec::new();
            let mut content_seen = 0;
            for c in chunks {
                if c.content {
                    if content_seen == *after_chunks {
                        break;
                    }
                    content_seen += 1;
                }
                kept.push(c);
            }
            Plan::Sse {
                chunks: kept,
                hold_open: true,
            }
        }
        Reply::Raw {
            content_type,
            body,
            status,
        } => Plan::Raw {
            status: *status,
            content_type: content_type.clone(),
            body: body.clone(),
        },
    }
}

/// A generic error body in the protocol's shape.
pub(crate) fn error_body(protocol: Protocol, status: u16) -> Value {
    let message = format!("mock error (HTTP {status})");
    match protocol {
        Protocol::OpenAi => {
            let (kind, code) = match status {
                401 => ("invalid_request_error", "invalid_api_key"),
                404 => ("invalid_request_error", "model_not_found"),
                429 => ("requests", "rate_limit_exceeded"),
                400..=499 => ("invalid_request_error", "invalid_request"),
                _ => ("server_error", "server_error"),
            };
            json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
        }
        Protocol::Anthropic => {
            let kind = match status {
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                400..=499 => "invalid_request_error",
                _ => "api_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": message}})
        }
    }
}

fn malformed(ctx: &Ctx<'_>) -> Plan {
    if !ctx.streaming() {
        return Plan::Raw {
            status: 200,
            content_type: "application/json".to_string(),
            body: "{this is not json".to_string(),
        };
    }
    let first = match ctx.protocol {
        Protocol::OpenAi => openai_chunk(ctx, json!({"role": "assistant", "content": ""}), None),
        Protocol::Anthropic => anthropic_event(
            "message_start",
            &anthropic_message(ctx, Vec::new(), None, &MockUsage::default()),
        ),
    };
    let bad = match ctx.protocol {
        Protocol::OpenAi => "data: {this is not json\n\n".to_string(),
        Protocol::Anthropic => {
            "event: content_block_delta\ndata: {this is not json\n\n".to_string()
        }
    };
    Plan::Sse {
        chunks: vec![
            SseChunk {
                text: first,
                content: false,
            },
            SseChunk {
                text: bad,
                content: true,
            },
        ],
        hold_open: false,
    }
}

fn answer(ctx: &Ctx<'_>, a: &Answer) -> Plan {
    match (ctx.protocol, ctx.streaming()) {
        (Protocol::OpenAi, true) => Plan::Sse {
            chunks: openai_stream(ctx, a),
            hold_open: false,
        },
        (Protocol::OpenAi, false) => Plan::Json {
            status: 200,
            body: openai_completion(ctx, a),
            headers: Vec::new(),
        },
        (Protocol::Anthropic, true) => Plan::Sse {
            chunks: anthropic_stream(ctx, a),
            hold_open: false,
        },
        (Protocol::Anthropic, false) => Plan::Json {
            status: 200,
            body: anthropic_response(ctx, a),
            headers: Vec::new(),
        },
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

// ---- OpenAI ----

fn openai_usage(u: &MockUsage) -> Value {
    json!({
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens}
    })
}

fn call_id(ctx: &Ctx<'_>, prefix: &str, i: usize) -> String {
    format!("{prefix}_mock_{}_{i}", ctx.seq)
}

fn openai_chunk(ctx: &Ctx<'_>, delta: Value, finish: Option<&str>) -> String {
    let v = json!({
        "id": format!("chatcmpl-mock-{}", ctx.seq),
        "object": "chat.completion.chunk",
        "created": now_secs(),
        "model": ctx.model(),
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]
    });
    format!("data: {v}\n\n")
}

fn openai_stream(ctx: &Ctx<'_>, a: &Answer) -> Vec<SseChunk> {
    let mut out = vec![SseChunk {
        text: openai_chunk(ctx, json!({"role": "assistant", "content": ""}), None),
        content: false,
    }];
    let mut push = |text: String| {
        out.push(SseChunk {
            text,
            content: true,
        })
    };
    if let Some(r) = &a.reasoning {
        for p in pieces(r, a.chunk_size) {
            push(openai_chunk(ctx, json!({"reasoning_content": p}), None));
        }
    }
    if let Some(t) = &a.text {
        for p in pieces(t, a.chunk_size) {
            push(openai_chunk(ctx, json!({"content": p}), None));
        }
    }
    for (i, (name, args)) in a.calls.iter().enumerate() {
        push(openai_chunk(
            ctx,
            json!({"tool_calls": [{"index": i, "id": call_id(ctx, "call", i), "type": "function",
                "function": {"name": name, "arguments": ""}}]}),
            None,
        ));
        for p in thirds(&args.to_string()) {
            push(openai_chunk(
                ctx,
                json!({"tool_calls": [{"index": i, "function": {"arguments": p}}]}),
                None,
            ));
        }
    }
    out.push(SseChunk {
        text: openai_chunk(ctx, json!({}), Some(a.finish())),
        content: false,
    });
    if ctx.include_usage() {
        let v = json!({
            "id": format!("chatcmpl-mock-{}", ctx.seq),
            "object": "chat.completion.chunk",
            "created": now_secs(),
            "model": ctx.model(),
            "choices": [],
            "usage": openai_usage(&a.usage)
        });
        out.push(SseChunk {
            text: format!("data: {v}\n\n"),
            content: false,
        });
    }
    out.push(SseChunk {
        text: "data: [DONE]\n\n".to_string(),
        content: false,
    });
    out
}

fn openai_completion(ctx: &Ctx<'_>, a: &Answer) -> Value {
    let mut message = json!({
        "role": "assistant",
        "content": a.text.clone(),
    });
    if let Some(r) = &a.reasoning {
        message["reasoning_content"] = json!(r);
    }
    if !a.calls.is_empty() {
        message["tool_calls"] = Value::Array(
            a.calls
                .iter()
                .enumerate()
                .map(|(i, (name, args))| {
                    json!({"id": call_id(ctx, "call", i), "type": "function",
                        "function": {"name": name, "arguments": args.to_string()}})
                })
                .collect(),
        );
    }
    json!({
        "id": format!("chatcmpl-mock-{}", ctx.seq),
        "object": "chat.completion",
        "created": now_secs(),
        "model": ctx.model(),
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": a.finish()}],
        "usage": openai_usage(&a.usage)
    })
}

// ---- Anthropic ----

fn anthropic_usage(u: &MockUsage) -> Value {
    json!({
        "input_tokens": u.input_tokens.saturating_sub(u.cache_read_tokens + u.cache_write_tokens),
        "cache_creation_input_tokens": u.cache_write_tokens,
        "cache_read_input_tokens": u.cache_read_tokens,
        "output_tokens": u.output_tokens
    })
}

fn anthropic_stop(a: &Answer) -> &'static str {
    if a.calls.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    }
}

fn anthropic_message(
    ctx: &Ctx<'_>,
    content: Vec<Value>,
    stop: Option<&str>,
    usage: &MockUsage,
) -> Value {
    json!({
        "type": "message_start",
        "message": {
            "id": format!("msg_mock_{}", ctx.seq),
            "type": "message",
            "role": "assistant",
            "model": ctx.model(),
            "content": content,
            "stop_reason": stop,
            "stop_sequence": null,
            "usage": anthropic_usage(&MockUsage { output_tokens: 1, ..*usage })
        }
    })
}

fn anthropic_event(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

fn anthropic_stream(ctx: &Ctx<'_>, a: &Answer) -> Vec<SseChunk> {
    let mut out = Vec::new();
    let mut push = |name: &str, data: Value, content: bool| {
        out.push(SseChunk {
            text: anthropic_event(name, &data),
            content,
        });
    };
    push(
        "message_start",
        anthropic_message(ctx, Vec::new(), None, &a.usage),
        false,
    );
    push("ping", json!({"type": "ping"}), false);
    let mut index = 0;
    if let Some(r) = &a.reasoning {
        push(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": {"type": "thinking", "thinking": ""}}),
            false,
        );
        for p in pieces(r, a.chunk_size) {
            push(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index, "delta": {"type": "thinking_delta", "thinking": p}}),
                true,
            );
        }
        push(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": {"type": "signature_delta", "signature": "mock-signature"}}),
            false,
        );
        push(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
            false,
        );
        index += 1;
    }
    if let Some(t) = &a.text {
        push(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}),
            false,
        );
        for p in pieces(t, a.chunk_size) {
            push(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": p}}),
                true,
            );
        }
        push(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
            false,
        );
        index += 1;
    }
    for (i, (name, args)) in a.calls.iter().enumerate() {
        push(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block":
                {"type": "tool_use", "id": call_id(ctx, "toolu", i), "name": name, "input": {}}}),
            true,
        );
        for p in thirds(&args.to_string()) {
            push(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": p}}),
                true,
            );
        }
        push(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
            false,
        );
        index += 1;
    }
    push(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": anthropic_stop(a), "stop_sequence": null},
            "usage": {"output_tokens": a.usage.output_tokens}}),
        false,
    );
    push("message_stop", json!({"type": "message_stop"}), false);
    out
}

fn anthropic_response(ctx: &Ctx<'_>, a: &Answer) -> Value {
    let mut content = Vec::new();
    if let Some(r) = &a.reasoning {
        content.push(json!({"type": "thinking", "thinking": r, "signature": "mock-signature"}));
    }
    if let Some(t) = &a.text {
        content.push(json!({"type": "text", "text": t}));
    }
    for (i, (name, args)) in a.calls.iter().enumerate() {
        content.push(json!({"type": "tool_use", "id": call_id(ctx, "toolu", i), "name": name, "input": args}));
    }
    json!({
        "id": format!("msg_mock_{}", ctx.seq),
        "type": "message",
        "role": "assistant",
        "model": ctx.model(),
        "content": content,
        "stop_reason": anthropic_stop(a),
        "stop_sequence": null,
        "usage": anthropic_usage(&a.usage)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(protocol: Protocol, request: &Value) -> Ctx<'_> {
        Ctx {
            protocol,
            request,
            request_len: 400,
            seq: 1,
        }
    }

    #[test]
    fn echo_finds_the_last_user_text() {
        let r = json!({"messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "a"},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x", "content": "r"}]},
            {"role": "user", "content": [{"type": "text", "text": "second"}]}
        ]});
        assert_eq!(last_user_text(&r), "second");
        assert_eq!(last_user_text(&json!({})), "");
    }

    #[test]
    fn openai_stream_has_usage_only_when_asked() {
        let with = json!({"stream": true, "stream_options": {"include_usage": true}});
        let without = json!({"stream": true});
        let count = |req: &Value| match render(&Reply::text("hello"), &ctx(Protocol::OpenAi, req)) {
            Plan::Sse { chunks, .. } => chunks
                .iter()
                .filter(|c| c.text.contains("\"usage\""))
                .count(),
            other => panic!("{other:?}"),
        };
        assert_eq!(count(&with), 1);
        assert_eq!(count(&without), 0);
    }

    #[test]
    fn stall_keeps_the_first_content_chunks() {
        let req = json!({"stream": true});
        match render(
            &Reply::stall_after("abcdefghijkl", 2),
            &ctx(Protocol::Anthropic, &req),
        ) {
            Plan::Sse { chunks, hold_open } => {
                assert!(hold_open);
                assert_eq!(chunks.iter().filter(|c| c.content).count(), 2);
                assert!(!chunks.iter().any(|c| c.text.contains("message_stop")));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn anthropic_usage_splits_cache() {
        let u = anthropic_usage(&MockUsage {
            input_tokens: 100,
            output_tokens: 5,
            cache_read_tokens: 60,
            cache_write_tokens: 10,
            reasoning_tokens: 0,
        });
        assert_eq!(u["input_tokens"], 30);
        assert_eq!(u["cache_read_input_tokens"], 60);
        assert_eq!(u["cache_creation_input_tokens"], 10);
    }
}
