//! The OpenAI chat-completions provider (also OpenRouter, Ollama, vLLM, llama.cpp and
//! other compatible servers).

use std::collections::{HashMap, VecDeque};

use async_trait::async_trait;
use hermes_core::message::{Message, Role, Usage, repair_tool_pairs};
use hermes_core::provider::{
    ChatRequest, EventStream, ModelInfo, Provider, ProviderError, StreamEvent,
};
use tokio_util::sync::CancellationToken;

use crate::config::ProviderConfig;
use crate::scrub::Scrubber;
use crate::sse::SseEvent;
use crate::transport::{self, Protocol, StreamParser, Transport, json_excerpt};
use crate::wire::openai as w;

/// A chat-completions endpoint.
pub(crate) struct OpenAiProvider {
    transport: Transport,
    max_tokens: Option<u32>,
    /// OpenAI's own API wants `max_completion_tokens`; compatible servers know
    /// `max_tokens`.
    completion_tokens_field: bool,
}

impl OpenAiProvider {
    pub(crate) fn new(
        cfg: &ProviderConfig,
        client: reqwest::Client,
    ) -> Result<OpenAiProvider, ProviderError> {
        let url = format!("{}/chat/completions", cfg.base_url.trim_end_matches('/'));
        let mut own = Vec::new();
        if let Some(key) = cfg.api_key.as_deref().filter(|k| !k.trim().is_empty()) {
            own.push(("authorization", format!("Bearer {}", key.trim())));
        }
        let headers = transport::build_headers(&cfg.label, own, &cfg.extra_headers)?;
        let completion_tokens_field = reqwest::Url::parse(&cfg.base_url)
            .ok()
            .and_then(|u| u.host_str().map(|h| h.ends_with("api.openai.com")))
            .unwrap_or(false);
        Ok(OpenAiProvider {
            transport: Transport::new(cfg, client, url, headers),
            max_tokens: cfg.max_tokens,
            completion_tokens_field,
        })
    }

    fn request_body(&self, req: &ChatRequest) -> w::ChatCompletionRequest {
        let streaming = self.transport.streaming();
        let max_tokens = req.max_tokens.or(self.max_tokens);
        w::ChatCompletionRequest {
            model: self.transport.info.model.clone(),
            messages: to_wire_messages(&req.system, &req.messages),
            tools: req
                .tools
                .iter()
                .map(|t| w::Tool {
                    kind: "function".to_string(),
                    function: w::FunctionDef {
                        name: t.name.clone(),
                        description: Some(t.description.clone()),
                        parameters: Some(t.parameters.clone()),
                    },
                })
                .collect(),
            stream: Some(streaming),
            stream_options: streaming.then_some(w::StreamOptions {
                include_usage: true,
            }),
            max_tokens: max_tokens.filter(|_| !self.completion_tokens_field),
            max_completion_tokens: max_tokens.filter(|_| self.completion_tokens_field),
            temperature: req.temperature,
            ..w::ChatCompletionRequest::default()
        }
    }
}

/// Converts a system prompt and conversation to chat-completions messages: the system
/// prompt first, then the messages in order, with tool calls and results paired as the
/// API demands ([`repair_tool_pairs`]: an unanswered call, left by a session interrupted
/// mid-tool, gets an error result; a result that answers no call becomes user text).
pub(crate) fn to_wire_messages(system: &str, messages: &[Message]) -> Vec<w::ChatMessage> {
    let messages = repair_tool_pairs(messages);
    let mut out = Vec::with_capacity(messages.len() + 1);
    if !system.is_empty() {
        out.push(w::ChatMessage {
            role: "system".to_string(),
            content: Some(w::MessageContent::Text(system.to_string())),
            ..w::ChatMessage::default()
        });
    }
    for m in &messages {
        let msg = match m.role {
            Role::System | Role::User => w::ChatMessage {
                role: m.role.as_str().to_string(),
                content: Some(w::MessageContent::Text(m.content.clone())),
                ..w::ChatMessage::default()
            },
            Role::Assistant => w::ChatMessage {
                role: "assistant".to_string(),
                content: if m.content.is_empty() && !m.tool_calls.is_empty() {
                    None
                } else {
                    Some(w::MessageContent::Text(m.content.clone()))
                },
                tool_calls: m
                    .tool_calls
                    .iter()
                    .map(|c| w::ToolCall {
                        id: c.id.clone(),
                        kind: "function".to_string(),
                        function: w::FunctionCall {
                            name: c.name.clone(),
                            arguments: if c.arguments.trim().is_empty() {
                                "{}".to_string()
                            } else {
                                c.arguments.clone()
                            },
                        },
                    })
                    .collect(),
                ..w::ChatMessage::default()
            },
            Role::Tool => w::ChatMessage {
                role: "tool".to_string(),
                content: Some(w::MessageContent::Text(m.content.clone())),
                tool_call_id: Some(m.tool_call_id.clone().unwrap_or_default()),
                ..w::ChatMessage::default()
            },
        };
        out.push(msg);
    }
    out
}

/// Maps OpenAI usage to ours (`prompt_tokens` already includes cached tokens).
pub(crate) fn usage_from_wire(u: &w::Usage) -> Usage {
    Usage {
        input_tokens: u.prompt_tokens,
        output_tokens: u.completion_tokens,
        cache_read_tokens: u
            .prompt_tokens_details
            .map(|d| d.cached_tokens)
            .filter(|n| *n > 0)
            .or(u.prompt_cache_hit_tokens)
            .unwrap_or(0),
        cache_write_tokens: 0,
        reasoning_tokens: u
            .completion_tokens_details
            .map_or(0, |d| d.reasoning_tokens),
    }
}

#[async_trait]
impl Provider for OpenAiProvider {
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
        self.transport.run(&body, &ChatCompletions, cancel).await
    }
}

/// The chat-completions protocol.
pub(crate) struct ChatCompletions;

impl Protocol for ChatCompletions {
    fn stream_parser(&self, provider: &str, scrub: &Scrubber) -> Box<dyn StreamParser> {
        Box::new(ChunkParser::new(provider, scrub.clone()))
    }

    fn parse_response(
        &self,
        provider: &str,
        body: &[u8],
        scrub: &Scrubber,
    ) -> Result<Vec<StreamEvent>, ProviderError> {
        let text = String::from_utf8_lossy(body);
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| ProviderError::Malformed {
                provider: provider.to_string(),
                detail: format!(
                    "the chat.completion response is not valid JSON ({e}): {}",
                    json_excerpt(scrub, &text)
                ),
            })?;
        if value.get("error").is_some_and(|e| !e.is_null()) {
            return Err(embedded_error(provider, &value, scrub));
        }
        let resp: w::ChatCompletion =
            serde_json::from_value(value).map_err(|e| ProviderError::Malformed {
                provider: provider.to_string(),
                detail: format!(
                    "the chat.completion response has an unexpected shape ({e}): {}",
                    json_excerpt(scrub, &text)
                ),
            })?;
        let mut out = Vec::new();
        let choice = resp.choices.into_iter().next();
        let mut finish_reason = None;
        if let Some(choice) = choice {
            let m = choice.message;
            if let Some(r) = m
                .reasoning_content
                .or(m.reasoning)
                .filter(|r| !r.is_empty())
            {
                out.push(StreamEvent::ReasoningDelta(r));
            }
            if let Some(text) = m.content.map(|c| c.text()).filter(|t| !t.is_empty()) {
                out.push(StreamEvent::TextDelta(text));
            }
            for (index, call) in m.tool_calls.into_iter().enumerate() {
                out.push(StreamEvent::ToolCallDelta {
                    index,
                    id: Some(call.id).filter(|s| !s.is_empty()),
                    name: Some(call.function.name),
                    arguments: call.function.arguments,
                });
            }
            finish_reason = choice.finish_reason;
        }
        if let Some(u) = &resp.usage {
            out.push(StreamEvent::Usage(usage_from_wire(u)));
        }
        out.push(StreamEvent::Done { finish_reason });
        Ok(out)
    }
}

/// An `{"error": …}` object inside a 200 answer or a stream.
fn embedded_error(provider: &str, value: &serde_json::Value, scrub: &Scrubber) -> ProviderError {
    let info = crate::classify::parse_error_value(value);
    let status = value
        .get("error")
        .and_then(|e| e.get("code"))
        .and_then(serde_json::Value::as_u64)
        .filter(|c| (400..600).contains(c))
        .map_or_else(
            || crate::classify::status_for_error_type(&info.kind),
            |c| c as u16,
        );
    crate::classify::classify(provider, status, None, &info, scrub)
}

/// Folds `chat.completion.chunk`s into stream events.
struct ChunkParser {
    provider: String,
    scrub: Scrubber,
    finish_reason: Option<String>,
    finished: bool,
    /// Server index → our index, for servers whose indexes are missing or reused.
    slots: HashMap<u32, usize>,
    /// The id seen for each of our indexes.
    ids: Vec<Option<String>>,
    /// The name seen for each of our indexes (some servers repeat it in every piece).
    names: Vec<Option<String>>,
    last_slot: Option<usize>,
}

impl ChunkParser {
    fn new(provider: &str, scrub: Scrubber) -> ChunkParser {
        ChunkParser {
            provider: provider.to_string(),
            scrub,
            finish_reason: None,
            finished: false,
            slots: HashMap::new(),
            ids: Vec::new(),
            names: Vec::new(),
            last_slot: None,
        }
    }

    fn new_slot(&mut self, id: Option<&str>) -> usize {
        self.ids.push(id.map(str::to_string));
        self.names.push(None);
        self.ids.len() - 1
    }

    /// Which call a tool-call piece belongs to.
    fn slot_for(&mut self, index: Option<u32>, id: Option<&str>) -> usize {
        let slot = match (index, id) {
            (Some(i), id) => match self.slots.get(&i).copied() {
                Some(s) => match (id, self.ids[s].as_deref()) {
                    // Same index, different id: a server reusing index 0 for every call.
                    (Some(new), Some(old)) if new != old => {
                        let s = self.new_slot(Some(new));
                        self.slots.insert(i, s);
                        s
                    }
                    (Some(new), None) => {
                        self.ids[s] = Some(new.to_string());
                        s
                    }
                    _ => s,
                },
                None => {
                    let s = self.new_slot(id);
                    self.slots.insert(i, s);
                    s
                }
            },
            (None, Some(new)) => match self.last_slot {
                Some(s) if self.ids[s].as_deref() == Some(new) => s,
                Some(s) if self.ids[s].is_none() => {
                    self.ids[s] = Some(new.to_string());
                    s
                }
                _ => self.new_slot(Some(new)),
            },
            (None, None) => match self.last_slot {
                Some(s) => s,
                None => self.new_slot(None),
            },
        };
        self.last_slot = Some(slot);
        slot
    }
}

impl StreamParser for ChunkParser {
    fn on_event(
        &mut self,
        event: SseEvent,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), ProviderError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.finished = true;
            out.push_back(StreamEvent::Done {
                finish_reason: self.finish_reason.clone(),
            });
            return Ok(());
        }
        if data.is_empty() {
            return Ok(());
        }
        let value: serde_json::Value =
            serde_json::from_str(data).map_err(|e| ProviderError::Malformed {
                provider: self.provider.clone(),
                detail: format!(
                    "a chat.completion.chunk{} is not valid JSON ({e}): {}",
                    event
                        .event
                        .as_deref()
                        .map(|n| format!(" (event `{n}`)"))
                        .unwrap_or_default(),
                    json_excerpt(&self.scrub, data)
                ),
            })?;
        if event.event.as_deref() == Some("error")
            || value.get("error").is_some_and(|e| !e.is_null())
        {
            return Err(embedded_error(&self.provider, &value, &self.scrub));
        }
        let chunk: w::ChatCompletionChunk =
            serde_json::from_value(value).map_err(|e| ProviderError::Malformed {
                provider: self.provider.clone(),
                detail: format!(
                    "a chat.completion.chunk has an unexpected shape ({e}): {}",
                    json_excerpt(&self.scrub, data)
                ),
            })?;
        if let Some(choice) = chunk.choices.into_iter().find(|c| c.index == 0) {
            let d = choice.delta;
            for r in [d.reasoning_content, d.reasoning].into_iter().flatten() {
                if !r.is_empty() {
                    out.push_back(StreamEvent::ReasoningDelta(r));
                }
            }
            if let Some(t) = d.content.filter(|t| !t.is_empty()) {
                out.push_back(StreamEvent::TextDelta(t));
            }
            for tc in d.tool_calls {
                let id = tc.id.filter(|s| !s.is_empty());
                let index = self.slot_for(tc.index, id.as_deref());
                let (name, arguments) = match tc.function {
                    Some(f) => (f.name.filter(|n| !n.is_empty()), f.arguments),
                    None => (None, None),
                };
                let name = match name {
                    Some(n) if self.names[index].as_deref() == Some(n.as_str()) => None,
                    Some(n) => {
                        self.names[index] = Some(n.clone());
                        Some(n)
                    }
                    None => None,
                };
                out.push_back(StreamEvent::ToolCallDelta {
                    index,
                    id,
                    name,
                    arguments: arguments.unwrap_or_default(),
                });
            }
            if let Some(r) = choice.finish_reason.filter(|r| !r.is_empty()) {
                self.finish_reason = Some(r);
            }
        }
        if let Some(u) = &chunk.usage {
            out.push_back(StreamEvent::Usage(usage_from_wire(u)));
        }
        Ok(())
    }

    fn on_eof(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        if self.finish_reason.is_some() {
            // Some servers close the stream without `[DONE]`.
            self.finished = true;
            out.push_back(StreamEvent::Done {
                finish_reason: self.finish_reason.clone(),
            });
            return Ok(());
        }
        Err(ProviderError::Malformed {
            provider: self.provider.clone(),
            detail:
                "the connection closed before the answer finished (no finish_reason, no [DONE])"
                    .to_string(),
        })
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

    fn parse(lines: &[serde_json::Value]) -> Vec<StreamEvent> {
        let mut p = ChunkParser::new("p", Scrubber::default());
        let mut out = VecDeque::new();
        for l in lines {
            let data = match l {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            p.on_event(
                SseEvent {
                    data,
                    ..SseEvent::default()
                },
                &mut out,
            )
            .unwrap();
        }
        if !p.is_finished() {
            p.on_eof(&mut out).unwrap();
        }
        out.into_iter().collect()
    }

    #[test]
    fn messages_are_converted_in_order() {
        let mut a = Message::assistant("");
        a.tool_calls.push(ToolCall {
            id: "c1".into(),
            name: "read_file".into(),
            arguments: String::new(),
        });
        let msgs = to_wire_messages(
            "sys",
            &[
                Message::user("hi"),
                a,
                Message::tool_result("c1", "read_file", "data"),
            ],
        );
        let v = serde_json::to_value(&msgs).unwrap();
        assert_eq!(
            v,
            json!([
                {"role": "system", "content": "sys"},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "read_file", "arguments": "{}"}}]},
                {"role": "tool", "content": "data", "tool_call_id": "c1"}
            ])
        );
    }

    /// Checks OpenAI's pairing rules: the tool messages right after an assistant message
    /// answer each of its calls once, and no other tool message exists.
    fn assert_pairs_valid(msgs: &[w::ChatMessage]) {
        let mut i = 0;
        while i < msgs.len() {
            let m = &msgs[i];
            assert_ne!(m.role, "tool", "a tool message answers no call: {msgs:?}");
            i += 1;
            let mut open: Vec<&str> = m.tool_calls.iter().map(|c| c.id.as_str()).collect();
            while i < msgs.len() && msgs[i].role == "tool" {
                let id = msgs[i].tool_call_id.as_deref().unwrap_or_default();
                let pos = open.iter().position(|c| *c == id);
                assert!(
                    pos.is_some(),
                    "tool message {id} answers no open call: {msgs:?}"
                );
                open.remove(pos.unwrap_or_default());
                i += 1;
            }
            assert!(open.is_empty(), "unanswered calls {open:?}: {msgs:?}");
        }
    }

    fn assistant_calls(ids: &[&str]) -> Message {
        let mut m = Message::assistant("");
        m.tool_calls = ids
            .iter()
            .map(|id| ToolCall {
                id: (*id).into(),
                name: "f".into(),
                arguments: "{}".into(),
            })
            .collect();
        m
    }

    #[test]
    fn unanswered_calls_and_orphan_results_are_repaired() {
        let msgs = to_wire_messages(
            "",
            &[
                Message::user("x"),
                Message::tool_result("gone", "f", "old output"),
                assistant_calls(&["c.1"]),
            ],
        );
        assert_pairs_valid(&msgs);
        let v = serde_json::to_value(&msgs).unwrap();
        assert_eq!(v[1]["role"], "user");
        assert!(v[1]["content"].as_str().unwrap().contains("old output"));
        assert_eq!(v[2]["tool_calls"][0]["id"], "c.1");
        assert_eq!(v[3]["role"], "tool");
        assert_eq!(v[3]["tool_call_id"], "c.1");
        assert!(v[3]["content"].as_str().unwrap().starts_with("Error:"));
        assert_eq!(v.as_array().unwrap().len(), 4);
    }

    #[test]
    fn a_session_interrupted_mid_tool_can_be_resumed() {
        // Killed after the first of two results was stored; the user then goes on.
        let msgs = to_wire_messages(
            "sys",
            &[
                Message::user("do two things"),
                assistant_calls(&["a", "b"]),
                Message::tool_result("b", "f", "done b"),
                Message::user("continue"),
            ],
        );
        assert_pairs_valid(&msgs);
        let roles: Vec<&str> = msgs.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(
            roles,
            ["system", "user", "assistant", "tool", "tool", "user"]
        );
        let v = serde_json::to_value(&msgs).unwrap();
        assert_eq!(v[3]["tool_call_id"], "a");
        assert!(v[3]["content"].as_str().unwrap().contains("interrupted"));
        assert_eq!(v[4]["tool_call_id"], "b");
        assert_eq!(v[4]["content"], "done b");
    }

    #[test]
    fn calls_without_index_are_told_apart_by_id() {
        let ev = parse(&[
            json!({"choices": [{"delta": {"tool_calls": [
                {"id": "a", "function": {"name": "f", "arguments": "{}"}},
                {"id": "b", "function": {"name": "g", "arguments": "{\"x\":1}"}}
            ]}}]}),
            json!({"choices": [{"delta": {}, "finish_reason": "tool_calls"}]}),
        ]);
        let indexes: Vec<usize> = ev
            .iter()
            .filter_map(|e| match e {
                StreamEvent::ToolCallDelta { index, .. } => Some(*index),
                _ => None,
            })
            .collect();
        assert_eq!(indexes, vec![0, 1]);
        assert_eq!(
            ev.last(),
            Some(&StreamEvent::Done {
                finish_reason: Some("tool_calls".into())
            })
        );
    }

    #[test]
    fn reused_index_with_new_id_is_a_new_call() {
        let ev = parse(&[
            json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{"}}]}}]}),
            json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "}"}}]}}]}),
            json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "b", "function": {"name": "g", "arguments": "{}"}}]}}]}),
            "[DONE]".into(),
        ]);
        let mut acc = hermes_core::provider::Accumulator::new();
        for e in &ev {
            acc.push(e);
        }
        let c = acc.finish();
        assert_eq!(c.message.tool_calls.len(), 2);
        assert_eq!(c.message.tool_calls[0].arguments, "{}");
        assert_eq!(c.message.tool_calls[1].name, "g");
    }

    #[test]
    fn repeated_names_are_not_doubled() {
        let piece = |args: &str| json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "a", "function": {"name": "read_file", "arguments": args}}]}}]});
        let ev = parse(&[piece("{\"pa"), piece("th\":1}"), "[DONE]".into()]);
        let mut acc = hermes_core::provider::Accumulator::new();
        for e in &ev {
            acc.push(e);
        }
        let c = acc.finish();
        assert_eq!(c.message.tool_calls.len(), 1);
        assert_eq!(c.message.tool_calls[0].name, "read_file");
        assert_eq!(c.message.tool_calls[0].arguments, "{\"path\":1}");
    }

    #[test]
    fn eof_without_finish_is_malformed() {
        let mut p = ChunkParser::new("p", Scrubber::default());
        let mut out = VecDeque::new();
        p.on_event(
            SseEvent {
                data: json!({"choices": [{"delta": {"content": "x"}}]}).to_string(),
                ..SseEvent::default()
            },
            &mut out,
        )
        .unwrap();
        let e = p.on_eof(&mut out).unwrap_err();
        assert_eq!(e.class(), "malformed");
    }

    #[test]
    fn error_objects_in_the_stream_are_classified() {
        let mut p = ChunkParser::new("p", Scrubber::default());
        let e = p
            .on_event(
                SseEvent {
                    data: json!({"error": {"message": "Rate limit", "code": 429}}).to_string(),
                    ..SseEvent::default()
                },
                &mut VecDeque::new(),
            )
            .unwrap_err();
        assert_eq!(e.class(), "rate_limit");
    }

    #[test]
    fn usage_mapping() {
        let u: w::Usage = serde_json::from_value(json!({
            "prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
            "prompt_tokens_details": {"cached_tokens": 60},
            "completion_tokens_details": {"reasoning_tokens": 7}
        }))
        .unwrap();
        assert_eq!(
            usage_from_wire(&u),
            Usage {
                input_tokens: 100,
                output_tokens: 20,
                cache_read_tokens: 60,
                cache_write_tokens: 0,
                reasoning_tokens: 7
            }
        );
    }
}
