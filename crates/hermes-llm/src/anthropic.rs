//! The Anthropic messages provider.
//!
//! Conversation conversion follows Anthropic's rules: the system prompt goes in `system`,
//! roles alternate starting with `user` (consecutive same-role messages are merged), tool
//! calls become `tool_use` blocks and tool results `tool_result` blocks inside a `user`
//! message, and every `tool_use` is answered in the next message. With prompt caching on,
//! `cache_control` marks the system prompt and the last three messages (Hermes'
//! `system_and_3` layout, four breakpoints in all).

use std::collections::{HashMap, VecDeque};

use async_trait::async_trait;
use hermes_core::message::{Message, Role, Usage, repair_tool_pairs};
use hermes_core::provider::{
    ChatRequest, EventStream, ModelInfo, Provider, ProviderError, StreamEvent,
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::classify;
use crate::config::{DEFAULT_ANTHROPIC_MAX_TOKENS, ProviderConfig};
use crate::scrub::Scrubber;
use crate::sse::SseEvent;
use crate::transport::{self, Protocol, StreamParser, Transport, json_excerpt};
use crate::wire::anthropic as w;

/// How many trailing messages get a cache breakpoint.
const CACHED_TAIL_MESSAGES: usize = 3;

/// A messages endpoint.
pub(crate) struct AnthropicProvider {
    transport: Transport,
    max_tokens: u32,
    cache_control: bool,
}

/// The messages URL for a base URL given with or without `/v1`.
pub(crate) fn messages_url(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    if base.ends_with("/v1") {
        format!("{base}/messages")
    } else {
        format!("{base}/v1/messages")
    }
}

impl AnthropicProvider {
    pub(crate) fn new(
        cfg: &ProviderConfig,
        client: reqwest::Client,
    ) -> Result<AnthropicProvider, ProviderError> {
        let mut own = vec![("anthropic-version", w::API_VERSION.to_string())];
        if let Some(key) = cfg.api_key.as_deref().filter(|k| !k.trim().is_empty()) {
            own.push(("x-api-key", key.trim().to_string()));
        }
        let headers = transport::build_headers(&cfg.label, own, &cfg.extra_headers)?;
        Ok(AnthropicProvider {
            transport: Transport::new(cfg, client, messages_url(&cfg.base_url), headers),
            max_tokens: cfg.max_tokens.unwrap_or(DEFAULT_ANTHROPIC_MAX_TOKENS),
            cache_control: cfg.cache_control,
        })
    }

    fn request_body(&self, req: &ChatRequest) -> w::MessagesRequest {
        to_wire_request(
            &self.transport.info.model,
            req.max_tokens.unwrap_or(self.max_tokens),
            req,
            self.transport.streaming(),
            self.cache_control,
        )
    }
}

#[async_trait]
impl Provider for AnthropicProvider {
    fn info(&self) -> &ModelInfo {
        &self.transport.info
    }

    async fn stream(
        &self,
        request: &ChatRequest,
        cancel: &CancellationToken,
    ) -> Result<EventStream, ProviderError> {
        let body = serde_json::to_value(self.request_body(request)).map_err(|e| {
            ProviderError::Config(format!(
                "{}: could not encode the request: {e}",
                self.transport.info.provider
            ))
        })?;
        self.transport.run(&body, &Messages, cancel).await
    }
}

/// Builds a messages request from a chat request.
pub(crate) fn to_wire_request(
    model: &str,
    max_tokens: u32,
    req: &ChatRequest,
    streaming: bool,
    cache: bool,
) -> w::MessagesRequest {
    let mut system_texts: Vec<&str> = Vec::new();
    if !req.system.trim().is_empty() {
        system_texts.push(&req.system);
    }
    for m in &req.messages {
        if m.role == Role::System && !m.content.trim().is_empty() {
            system_texts.push(&m.content);
        }
    }
    let mut system: Vec<w::ContentBlock> = system_texts
        .into_iter()
        .map(|t| w::ContentBlock::Text {
            text: t.to_string(),
            cache_control: None,
        })
        .collect();
    let mut messages = to_wire_messages(&req.messages);
    if cache {
        if let Some(last) = system.last_mut() {
            last.set_cache_control(Some(w::CacheControl::ephemeral()));
        }
        let n = messages.len();
        for m in messages
            .iter_mut()
            .skip(n.saturating_sub(CACHED_TAIL_MESSAGES))
        {
            if let w::Content::Blocks(blocks) = &mut m.content
                && let Some(b) = blocks.last_mut()
            {
                b.set_cache_control(Some(w::CacheControl::ephemeral()));
            }
        }
    }
    w::MessagesRequest {
        model: model.to_string(),
        max_tokens,
        system: (!system.is_empty()).then_some(w::Content::Blocks(system)),
        messages,
        tools: req
            .tools
            .iter()
            .map(|t| w::Tool {
                name: t.name.clone(),
                description: Some(t.description.clone()).filter(|d| !d.is_empty()),
                input_schema: if t.parameters.is_object() {
                    t.parameters.clone()
                } else {
                    serde_json::json!({"type": "object", "properties": {}})
                },
                cache_control: None,
            })
            .collect(),
        tool_choice: None,
        stream: streaming.then_some(true),
        temperature: req.temperature,
        extra: serde_json::Map::new(),
    }
}

/// Anthropic accepts tool ids made of letters, digits, `_` and `-`.
fn tool_id(id: &str) -> String {
    let s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "call_missing_id".to_string()
    } else {
        s
    }
}

fn text_block(text: impl Into<String>) -> w::ContentBlock {
    w::ContentBlock::Text {
        text: text.into(),
        cache_control: None,
    }
}

fn non_empty(text: &str, placeholder: &str) -> String {
    if text.trim().is_empty() {
        placeholder.to_string()
    } else {
        text.to_string()
    }
}

/// Converts the non-system messages to alternating `user`/`assistant` messages. Tool
/// calls and results are paired first ([`repair_tool_pairs`]): every `tool_use` is then
/// answered by the `tool_result`s right after it, and a result that answers no call is
/// kept as text.
pub(crate) fn to_wire_messages(messages: &[Message]) -> Vec<w::Message> {
    let messages = repair_tool_pairs(messages);
    // 1. Each message to (role, blocks).
    let mut raw: Vec<(&'static str, Vec<w::ContentBlock>)> = Vec::new();
    for m in &messages {
        match m.role {
            Role::System => {}
            Role::User => raw.push(("user", vec![text_block(non_empty(&m.content, "(empty)"))])),
            Role::Assistant => {
                let mut blocks = Vec::new();
                if !m.content.trim().is_empty() {
                    blocks.push(text_block(m.content.clone()));
                }
                for call in &m.tool_calls {
                    blocks.push(w::ContentBlock::ToolUse {
                        id: tool_id(&call.id),
                        name: call.name.clone(),
                        input: tool_input(&call.name, &call.arguments),
                        cache_control: None,
                    });
                }
                if blocks.is_empty() {
                    blocks.push(text_block("(empty)"));
                }
                raw.push(("assistant", blocks));
            }
            Role::Tool => raw.push((
                "user",
                vec![w::ContentBlock::ToolResult {
                    tool_use_id: tool_id(m.tool_call_id.as_deref().unwrap_or_default()),
                    content: Some(w::Content::Text(non_empty(&m.content, "(no output)"))),
                    is_error: false,
                    cache_control: None,
                }],
            )),
        }
    }

    // 2. Merge consecutive messages of the same role.
    let mut merged: Vec<(&'static str, Vec<w::ContentBlock>)> = Vec::new();
    for (role, blocks) in raw {
        match merged.last_mut() {
            Some((r, b)) if *r == role => b.extend(blocks),
            _ => merged.push((role, blocks)),
        }
    }

    // 3. The first message must come from the user.
    if merged.first().is_some_and(|(r, _)| *r == "assistant") {
        merged.insert(
            0,
            ("user", vec![text_block("(earlier conversation omitted)")]),
        );
    }

    merged
        .into_iter()
        .map(|(role, blocks)| w::Message {
            role: role.to_string(),
            content: w::Content::Blocks(blocks),
        })
        .collect()
}

/// Parses tool-call arguments into the object Anthropic wants; anything else becomes `{}`.
fn tool_input(name: &str, arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return Value::Object(serde_json::Map::new());
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) | Err(_) => {
            tracing::warn!(
                tool = name,
                "tool call arguments are not a JSON object; sending {{}} to Anthropic"
            );
            Value::Object(serde_json::Map::new())
        }
    }
}

/// Maps Anthropic's `stop_reason` to the OpenAI-style finish reason Hermes records.
pub(crate) fn finish_reason(stop_reason: &str) -> String {
    match stop_reason {
        "end_turn" | "stop_sequence" | "pause_turn" => "stop",
        "tool_use" => "tool_calls",
        "max_tokens" | "model_context_window_exceeded" => "length",
        "refusal" => "content_filter",
        other => other,
    }
    .to_string()
}

/// Our usage from Anthropic's: `input_tokens` becomes the whole prompt (uncached + cache
/// read + cache written), matching OpenAI's `prompt_tokens`.
fn usage_from_wire(u: &w::Usage) -> Usage {
    Usage {
        input_tokens: u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens,
        output_tokens: u.output_tokens,
        cache_read_tokens: u.cache_read_input_tokens,
        cache_write_tokens: u.cache_creation_input_tokens,
        reasoning_tokens: 0,
    }
}

fn stream_error(provider: &str, error: &w::ErrorBody, scrub: &Scrubber) -> ProviderError {
    let info = classify::ErrorInfo {
        message: error.message.clone(),
        kind: error.kind.clone(),
        ..classify::ErrorInfo::default()
    };
    classify::classify(
        provider,
        classify::status_for_error_type(&error.kind),
        None,
        &info,
        scrub,
    )
}

/// The messages protocol.
pub(crate) struct Messages;

impl Protocol for Messages {
    fn stream_parser(&self, provider: &str, scrub: &Scrubber) -> Box<dyn StreamParser> {
        Box::new(EventParser {
            provider: provider.to_string(),
            scrub: scrub.clone(),
            usage: w::Usage::default(),
            tools: HashMap::new(),
            stop_reason: None,
            finished: false,
        })
    }

    fn parse_response(
        &self,
        provider: &str,
        body: &[u8],
        scrub: &Scrubber,
    ) -> Result<Vec<StreamEvent>, ProviderError> {
        let text = String::from_utf8_lossy(body);
        let value: Value = serde_json::from_str(&text).map_err(|e| ProviderError::Malformed {
            provider: provider.to_string(),
            detail: format!(
                "the messages response is not valid JSON ({e}): {}",
                json_excerpt(scrub, &text)
            ),
        })?;
        if value.get("type").and_then(Value::as_str) == Some("error") {
            let err: w::ErrorBody = value
                .get("error")
                .cloned()
                .and_then(|e| serde_json::from_value(e).ok())
                .unwrap_or_default();
            return Err(stream_error(provider, &err, scrub));
        }
        let resp: w::MessagesResponse =
            serde_json::from_value(value).map_err(|e| ProviderError::Malformed {
                provider: provider.to_string(),
                detail: format!(
                    "the messages response has an unexpected shape ({e}): {}",
                    json_excerpt(scrub, &text)
                ),
            })?;
        let mut out = Vec::new();
        let mut tool_index = 0;
        for block in resp.content {
            match block {
                w::ContentBlock::Text { text, .. } if !text.is_empty() => {
                    out.push(StreamEvent::TextDelta(text));
                }
                w::ContentBlock::Thinking { thinking, .. } if !thinking.is_empty() => {
                    out.push(StreamEvent::ReasoningDelta(thinking));
                }
                w::ContentBlock::ToolUse {
                    id, name, input, ..
                } => {
                    out.push(StreamEvent::ToolCallDelta {
                        index: tool_index,
                        id: Some(id),
                        name: Some(name),
                        arguments: if input.is_null() {
                            "{}".to_string()
                        } else {
                            input.to_string()
                        },
                    });
                    tool_index += 1;
                }
                _ => {}
            }
        }
        out.push(StreamEvent::Usage(usage_from_wire(&resp.usage)));
        out.push(StreamEvent::Done {
            finish_reason: resp.stop_reason.as_deref().map(finish_reason),
        });
        Ok(out)
    }
}

/// Folds Anthropic stream events into ours.
struct EventParser {
    provider: String,
    scrub: Scrubber,
    usage: w::Usage,
    /// Content block index → tool call index.
    tools: HashMap<u32, usize>,
    stop_reason: Option<String>,
    finished: bool,
}

impl EventParser {
    fn malformed(&self, what: String) -> ProviderError {
        ProviderError::Malformed {
            provider: self.provider.clone(),
            detail: what,
        }
    }
}

impl StreamParser for EventParser {
    fn on_event(
        &mut self,
        event: SseEvent,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), ProviderError> {
        let data = event.data.trim();
        if data.is_empty() {
            return Ok(());
        }
        let name = event.event.as_deref().unwrap_or("(unnamed)");
        let value: Value = serde_json::from_str(data).map_err(|e| {
            self.malformed(format!(
                "the data of event `{name}` is not valid JSON ({e}): {}",
                json_excerpt(&self.scrub, data)
            ))
        })?;
        let ev: w::StreamEvent = serde_json::from_value(value).map_err(|e| {
            self.malformed(format!(
                "event `{name}` has an unexpected shape ({e}): {}",
                json_excerpt(&self.scrub, data)
            ))
        })?;
        match ev {
            w::StreamEvent::MessageStart { message } => {
                self.usage = message.usage;
                out.push_back(StreamEvent::Usage(usage_from_wire(&self.usage)));
            }
            w::StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => match content_block {
                w::ContentBlock::Text { text, .. } if !text.is_empty() => {
                    out.push_back(StreamEvent::TextDelta(text));
                }
                w::ContentBlock::Thinking { thinking, .. } if !thinking.is_empty() => {
                    out.push_back(StreamEvent::ReasoningDelta(thinking));
                }
                w::ContentBlock::ToolUse {
                    id, name, input, ..
                } => {
                    let slot = self.tools.len();
                    self.tools.insert(index, slot);
                    let arguments = match &input {
                        Value::Object(m) if !m.is_empty() => input.to_string(),
                        _ => String::new(),
                    };
                    out.push_back(StreamEvent::ToolCallDelta {
                        index: slot,
                        id: Some(id),
                        name: Some(name),
                        arguments,
                    });
                }
                _ => {}
            },
            w::StreamEvent::ContentBlockDelta { index, delta } => match delta {
                w::BlockDelta::TextDelta { text } => {
                    if !text.is_empty() {
                        out.push_back(StreamEvent::TextDelta(text));
                    }
                }
                w::BlockDelta::ThinkingDelta { thinking } => {
                    if !thinking.is_empty() {
                        out.push_back(StreamEvent::ReasoningDelta(thinking));
                    }
                }
                w::BlockDelta::InputJsonDelta { partial_json } => {
                    let Some(&slot) = self.tools.get(&index) else {
                        return Err(self.malformed(format!(
                            "input_json_delta for content block {index}, which is not a tool_use block"
                        )));
                    };
                    out.push_back(StreamEvent::ToolCallDelta {
                        index: slot,
                        id: None,
                        name: None,
                        arguments: partial_json,
                    });
                }
                w::BlockDelta::SignatureDelta { .. } | w::BlockDelta::Unknown => {}
            },
            w::StreamEvent::MessageDelta { delta, usage } => {
                if let Some(r) = delta.stop_reason {
                    self.stop_reason = Some(r);
                }
                if let Some(u) = usage {
                    if let Some(n) = u.output_tokens {
                        self.usage.output_tokens = n;
                    }
                    if let Some(n) = u.input_tokens {
                        self.usage.input_tokens = n;
                    }
                    if let Some(n) = u.cache_read_input_tokens {
                        self.usage.cache_read_input_tokens = n;
                    }
                    if let Some(n) = u.cache_creation_input_tokens {
                        self.usage.cache_creation_input_tokens = n;
                    }
                    out.push_back(StreamEvent::Usage(usage_from_wire(&self.usage)));
                }
            }
            w::StreamEvent::MessageStop => {
                self.finished = true;
                out.push_back(StreamEvent::Done {
                    finish_reason: self.stop_reason.as_deref().map(finish_reason),
                });
            }
            w::StreamEvent::Error { error } => {
                return Err(stream_error(&self.provider, &error, &self.scrub));
            }
            w::StreamEvent::ContentBlockStop { .. }
            | w::StreamEvent::Ping
            | w::StreamEvent::Unknown => {}
        }
        Ok(())
    }

    fn on_eof(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        if let Some(r) = &self.stop_reason {
            self.finished = true;
            out.push_back(StreamEvent::Done {
                finish_reason: Some(finish_reason(r)),
            });
            return Ok(());
        }
        Err(self.malformed(
            "the connection closed before the answer finished (no message_stop)".to_string(),
        ))
    }

    fn is_finished(&self) -> bool {
        self.finished
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermes_core::ToolCall;
    use serde_json::json;

    fn call(id: &str, name: &str, args: &str) -> ToolCall {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: args.into(),
        }
    }

    fn assistant_calls(calls: Vec<ToolCall>) -> Message {
        let mut m = Message::assistant("");
        m.tool_calls = calls;
        m
    }

    #[test]
    fn urls_with_and_without_v1() {
        assert_eq!(
            messages_url("https://api.anthropic.com"),
            "https://api.anthropic.com/v1/messages"
        );
        assert_eq!(
            messages_url("https://api.anthropic.com/v1/"),
            "https://api.anthropic.com/v1/messages"
        );
    }

    #[test]
    fn tool_results_merge_into_one_user_message() {
        let msgs = to_wire_messages(&[
            Message::user("do it"),
            assistant_calls(vec![
                call("a", "f", "{\"x\":1}"),
                call("b", "g", "not json"),
            ]),
            Message::tool_result("a", "f", "ra"),
            Message::tool_result("b", "g", ""),
            Message::user("thanks"),
        ]);
        let v = serde_json::to_value(&msgs).unwrap();
        assert_eq!(
            v,
            json!([
                {"role": "user", "content": [{"type": "text", "text": "do it"}]},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "a", "name": "f", "input": {"x": 1}},
                    {"type": "tool_use", "id": "b", "name": "g", "input": {}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "a", "content": "ra"},
                    {"type": "tool_result", "tool_use_id": "b", "content": "(no output)"},
                    {"type": "text", "text": "thanks"}
                ]}
            ])
        );
    }

    #[test]
    fn conversation_starts_with_user_and_alternates() {
        let msgs = to_wire_messages(&[
            Message::assistant("hello"),
            Message::assistant("again"),
            Message::user("a"),
            Message::user("b"),
        ]);
        let roles: Vec<&str> = msgs.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, vec!["user", "assistant", "user"]);
    }

    #[test]
    fn unanswered_calls_and_orphan_results_are_repaired() {
        let msgs = to_wire_messages(&[
            Message::user("x"),
            Message::tool_result("gone", "f", "old output"),
            assistant_calls(vec![call("c.1", "f", "{}")]),
        ]);
        let v = serde_json::to_value(&msgs).unwrap();
        assert_eq!(v[0]["content"][1]["type"], "text");
        assert!(
            v[0]["content"][1]["text"]
                .as_str()
                .unwrap()
                .contains("old output")
        );
        assert_eq!(v[1]["content"][0]["id"], "c_1");
        assert_eq!(v[2]["role"], "user");
        assert_eq!(v[2]["content"][0]["tool_use_id"], "c_1");
        let result = v[2]["content"][0]["content"].as_str().unwrap();
        assert!(result.starts_with("Error:"), "{result}");
    }

    #[test]
    fn cache_control_marks_system_and_last_three() {
        let req = ChatRequest {
            system: "sys".into(),
            messages: vec![
                Message::user("1"),
                Message::assistant("2"),
                Message::user("3"),
                Message::assistant("4"),
                Message::user("5"),
            ],
            ..ChatRequest::default()
        };
        let r = to_wire_request("m", 100, &req, true, true);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["system"][0]["cache_control"]["type"], "ephemeral");
        let marked: Vec<bool> = v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"][0].get("cache_control").is_some())
            .collect();
        assert_eq!(marked, vec![false, false, true, true, true]);
        assert_eq!(v["stream"], true);
        let r = to_wire_request("m", 100, &req, false, false);
        let v = serde_json::to_value(&r).unwrap();
        assert!(!v.to_string().contains("cache_control"));
        assert!(v.get("stream").is_none());
    }

    #[test]
    fn stop_reasons_map() {
        assert_eq!(finish_reason("end_turn"), "stop");
        assert_eq!(finish_reason("tool_use"), "tool_calls");
        assert_eq!(finish_reason("max_tokens"), "length");
    }

    fn feed(p: &mut Box<dyn StreamParser>, name: &str, data: Value) -> Vec<StreamEvent> {
        let mut out = VecDeque::new();
        p.on_event(
            SseEvent {
                event: Some(name.into()),
                data: data.to_string(),
                id: None,
            },
            &mut out,
        )
        .unwrap();
        out.into_iter().collect()
    }

    #[test]
    fn usage_sums_cache_into_input() {
        let mut p = Messages.stream_parser("p", &Scrubber::default());
        let ev = feed(
            &mut p,
            "message_start",
            json!({"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "content": [], "model": "c",
                "usage": {"input_tokens": 10, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 5, "output_tokens": 1}}}),
        );
        assert_eq!(
            ev,
            vec![StreamEvent::Usage(Usage {
                input_tokens: 115,
                output_tokens: 1,
                cache_read_tokens: 100,
                cache_write_tokens: 5,
                reasoning_tokens: 0
            })]
        );
        let ev = feed(
            &mut p,
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 42}}),
        );
        assert!(
            matches!(&ev[0], StreamEvent::Usage(u) if u.output_tokens == 42 && u.input_tokens == 115)
        );
        let ev = feed(&mut p, "message_stop", json!({"type": "message_stop"}));
        assert_eq!(
            ev,
            vec![StreamEvent::Done {
                finish_reason: Some("stop".into())
            }]
        );
        assert!(p.is_finished());
    }

    #[test]
    fn error_events_are_classified() {
        let mut p = Messages.stream_parser("p", &Scrubber::default());
        let e = p
            .on_event(
                SseEvent {
                    event: Some("error".into()),
                    data: json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}).to_string(),
                    id: None,
                },
                &mut VecDeque::new(),
            )
            .unwrap_err();
        assert_eq!(e.class(), "server");
        assert!(e.is_retryable());
    }

    #[test]
    fn malformed_names_the_event() {
        let mut p = Messages.stream_parser("p", &Scrubber::default());
        let e = p
            .on_event(
                SseEvent {
                    event: Some("content_block_delta".into()),
                    data: "{oops".into(),
                    id: None,
                },
                &mut VecDeque::new(),
            )
            .unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("content_block_delta") && s.contains("{oops"),
            "{s}"
        );
    }
}
