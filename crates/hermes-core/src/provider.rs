//! The model-provider contract. Wire formats live in `hermes-llm`; the agent only sees
//! [`StreamEvent`]s, which every provider produces whether or not it streams over HTTP.

use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use tokio_util::sync::CancellationToken;

use crate::message::{Message, Usage};
use crate::tool::ToolSpec;

/// What the agent asks of a model in one call.
#[derive(Debug, Clone, Default)]
pub struct ChatRequest {
    /// The system prompt (SOUL, memory snapshot, context files, …).
    pub system: String,
    /// The conversation, without the system prompt.
    pub messages: Vec<Message>,
    /// Tools the model may call.
    pub tools: Vec<ToolSpec>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
}

/// One increment of a model's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    TextDelta(String),
    ReasoningDelta(String),
    /// A piece of a tool call. `index` identifies the call within this answer; `id` and
    /// `name` arrive once (usually first), `arguments` arrives in pieces.
    ToolCallDelta {
        index: usize,
        id: Option<String>,
        name: Option<String>,
        arguments: String,
    },
    Usage(Usage),
    /// The model finished; no more events follow.
    Done {
        finish_reason: Option<String>,
    },
}

pub type EventStream = BoxStream<'static, Result<StreamEvent, ProviderError>>;

/// Static facts about the configured model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    /// Provider label as recorded in `state.db` (`openai`, `anthropic`, `custom`, …).
    pub provider: String,
    pub model: String,
    pub base_url: String,
    /// Context window in tokens, when known.
    pub context_length: Option<u64>,
}

/// A configured endpoint + model that can answer chat requests.
#[async_trait]
pub trait Provider: Send + Sync {
    fn info(&self) -> &ModelInfo;

    /// Starts a model call. Errors before the first event (HTTP status, connection) are
    /// returned here, after the provider's own retries; errors during the stream arrive as
    /// `Err` items.
    async fn stream(
        &self,
        request: &ChatRequest,
        cancel: &CancellationToken,
    ) -> Result<EventStream, ProviderError>;
}

/// A classified provider failure. Messages never carry API keys or raw upstream bodies
/// beyond a short, scrubbed excerpt.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    #[error("{provider}: authentication failed ({detail}); check the API key for this provider")]
    Auth { provider: String, detail: String },
    #[error("{provider}: quota or credits exhausted ({detail})")]
    Quota { provider: String, detail: String },
    #[error("{provider}: rate limited{}", retry_after_text(*.retry_after))]
    RateLimited {
        provider: String,
        retry_after: Option<Duration>,
    },
    #[error("{provider}: the conversation is too long for the model's context window ({detail})")]
    ContextTooLong { provider: String, detail: String },
    #[error("{provider}: the request was rejected ({status}): {detail}")]
    BadRequest {
        provider: String,
        status: u16,
        detail: String,
    },
    #[error("{provider}: model not found ({detail}); check model.default")]
    ModelNotFound { provider: String, detail: String },
    #[error("{provider}: server error {status}")]
    Server { provider: String, status: u16 },
    #[error("{provider}: could not reach {url}: {detail}")]
    Network {
        provider: String,
        url: String,
        detail: String,
    },
    #[error("{provider}: no response within {}s", .after.as_secs())]
    Timeout { provider: String, after: Duration },
    #[error("{provider}: the response stream stalled (no data for {}s)", .after.as_secs())]
    Stalled { provider: String, after: Duration },
    #[error("{provider}: malformed response: {detail}")]
    Malformed { provider: String, detail: String },
    #[error("{0}")]
    Config(String),
    #[error("cancelled")]
    Cancelled,
}

fn retry_after_text(d: Option<Duration>) -> String {
    match d {
        Some(d) => format!(" (retry after {}s)", d.as_secs()),
        None => String::new(),
    }
}

impl ProviderError {
    /// Whether trying the same request again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::RateLimited { .. }
                | ProviderError::Server { .. }
                | ProviderError::Network { .. }
                | ProviderError::Timeout { .. }
                | ProviderError::Stalled { .. }
        )
    }

    /// Whether a fallback provider should be tried after this error.
    pub fn should_fall_back(&self) -> bool {
        !matches!(
            self,
            ProviderError::Cancelled | ProviderError::ContextTooLong { .. }
        )
    }

    /// A short class name for logs and the REPL (`auth`, `rate_limit`, …).
    pub fn class(&self) -> &'static str {
        match self {
            ProviderError::Auth { .. } => "auth",
            ProviderError::Quota { .. } => "quota",
            ProviderError::RateLimited { .. } => "rate_limit",
            ProviderError::ContextTooLong { .. } => "context_length",
            ProviderError::BadRequest { .. } => "bad_request",
            ProviderError::ModelNotFound { .. } => "model_not_found",
            ProviderError::Server { .. } => "server",
            ProviderError::Network { .. } => "network",
            ProviderError::Timeout { .. } => "timeout",
            ProviderError::Stalled { .. } => "stalled",
            ProviderError::Malformed { .. } => "malformed",
            ProviderError::Config(_) => "config",
            ProviderError::Cancelled => "cancelled",
        }
    }
}

/// Folds a stream of [`StreamEvent`]s into the assistant message it describes
/// ("partial text, complete tool calls").
#[derive(Debug, Default)]
pub struct Accumulator {
    text: String,
    reasoning: String,
    calls: Vec<PartialCall>,
    usage: Usage,
    saw_usage: bool,
    finish_reason: Option<String>,
    done: bool,
}

#[derive(Debug, Default)]
struct PartialCall {
    index: usize,
    id: String,
    name: String,
    arguments: String,
}

/// The folded result of one model call.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub message: Message,
    pub usage: Option<Usage>,
}

impl Accumulator {
    pub fn new() -> Accumulator {
        Accumulator::default()
    }

    pub fn push(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::TextDelta(t) => self.text.push_str(t),
            StreamEvent::ReasoningDelta(t) => self.reasoning.push_str(t),
            StreamEvent::ToolCallDelta {
                index,
                id,
                name,
                arguments,
            } => {
                let pos = match self.calls.iter().position(|c| c.index == *index) {
                    Some(p) => p,
                    None => {
                        self.calls.push(PartialCall {
                            index: *index,
                            ..PartialCall::default()
                        });
                        self.calls.len() - 1
                    }
                };
                let call = &mut self.calls[pos];
                if let Some(id) = id
                    && !id.is_empty()
                {
                    call.id.clone_from(id);
                }
                if let Some(name) = name
                    && !name.is_empty()
                {
                    call.name.push_str(name);
                }
                call.arguments.push_str(arguments);
            }
            StreamEvent::Usage(u) => {
                // Some servers report usage in several pieces (Anthropic: input at start,
                // output at the end); keep the largest value seen for each counter.
                self.saw_usage = true;
                self.usage.input_tokens = self.usage.input_tokens.max(u.input_tokens);
                self.usage.output_tokens = self.usage.output_tokens.max(u.output_tokens);
                self.usage.cache_read_tokens =
                    self.usage.cache_read_tokens.max(u.cache_read_tokens);
                self.usage.cache_write_tokens =
                    self.usage.cache_write_tokens.max(u.cache_write_tokens);
                self.usage.reasoning_tokens = self.usage.reasoning_tokens.max(u.reasoning_tokens);
            }
            StreamEvent::Done { finish_reason } => {
                self.done = true;
                if finish_reason.is_some() {
                    self.finish_reason.clone_from(finish_reason);
                }
            }
        }
    }

    /// Whether a `Done` event was seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn finish(mut self) -> Completion {
        self.calls.sort_by_key(|c| c.index);
        let tool_calls = self
            .calls
            .into_iter()
            .enumerate()
            .map(|(i, c)| crate::message::ToolCall {
                id: if c.id.is_empty() {
                    format!("call_{i}")
                } else {
                    c.id
                },
                name: c.name,
                arguments: if c.arguments.trim().is_empty() {
                    "{}".to_string()
                } else {
                    c.arguments
                },
            })
            .collect::<Vec<_>>();
        let finish_reason = self.finish_reason.or_else(|| {
            Some(if tool_calls.is_empty() {
                "stop".to_string()
            } else {
                "tool_calls".to_string()
            })
        });
        Completion {
            message: Message {
                role: crate::message::Role::Assistant,
                content: self.text,
                tool_calls,
                tool_call_id: None,
                tool_name: None,
                reasoning: (!self.reasoning.is_empty()).then_some(self.reasoning),
                finish_reason,
            },
            usage: self.saw_usage.then_some(self.usage),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembles_tool_calls_from_deltas() {
        let mut acc = Accumulator::new();
        for ev in [
            StreamEvent::TextDelta("Let me ".into()),
            StreamEvent::TextDelta("look.".into()),
            StreamEvent::ToolCallDelta {
                index: 1,
                id: Some("b".into()),
                name: Some("read_file".into()),
                arguments: "{\"pa".into(),
            },
            StreamEvent::ToolCallDelta {
                index: 0,
                id: Some("a".into()),
                name: Some("todo".into()),
                arguments: String::new(),
            },
            StreamEvent::ToolCallDelta {
                index: 1,
                id: None,
                name: None,
                arguments: "th\":\"x\"}".into(),
            },
            StreamEvent::Usage(Usage {
                input_tokens: 10,
                ..Usage::default()
            }),
            StreamEvent::Usage(Usage {
                output_tokens: 5,
                ..Usage::default()
            }),
            StreamEvent::Done {
                finish_reason: Some("tool_calls".into()),
            },
        ] {
            acc.push(&ev);
        }
        let c = acc.finish();
        assert_eq!(c.message.content, "Let me look.");
        assert_eq!(c.message.tool_calls.len(), 2);
        assert_eq!(c.message.tool_calls[0].name, "todo");
        assert_eq!(c.message.tool_calls[0].arguments, "{}");
        assert_eq!(c.message.tool_calls[1].arguments, "{\"path\":\"x\"}");
        let u = c.usage.unwrap();
        assert_eq!((u.input_tokens, u.output_tokens), (10, 5));
    }

    #[test]
    fn missing_ids_get_stable_fallbacks() {
        let mut acc = Accumulator::new();
        acc.push(&StreamEvent::ToolCallDelta {
            index: 0,
            id: None,
            name: Some("todo".into()),
            arguments: "{}".into(),
        });
        let c = acc.finish();
        assert_eq!(c.message.tool_calls[0].id, "call_0");
        assert_eq!(c.message.finish_reason.as_deref(), Some("tool_calls"));
        assert!(c.usage.is_none());
    }
}
