//! Anthropic messages wire types: the request, content blocks, the non-streamed
//! response, the streamed events, usage and errors.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::null_default;

/// The `anthropic-version` header value this crate speaks.
pub const API_VERSION: &str = "2023-06-01";

/// `POST /v1/messages` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesRequest {
    pub model: String,
    pub max_tokens: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<Content>,
    #[serde(default, deserialize_with = "null_default")]
    pub messages: Vec<Message>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub tools: Vec<Tool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Any other fields (`thinking`, `metadata`, `top_k`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One message; Anthropic requires roles to alternate, starting with `user`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: Content,
}

/// Content given as a plain string or as blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Blocks(Vec<ContentBlock>),
}

impl Content {
    /// The text of the content (text blocks joined with newlines).
    pub fn text(&self) -> String {
        match self {
            Content::Text(s) => s.clone(),
            Content::Blocks(blocks) => blocks
                .iter()
                .filter_map(|b| match b {
                    ContentBlock::Text { text, .. } => Some(text.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// Prompt-caching marker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheControl {
    #[serde(rename = "type")]
    pub kind: String,
    /// `5m` (default) or `1h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
}

impl CacheControl {
    /// `{"type": "ephemeral"}`.
    pub fn ephemeral() -> CacheControl {
        CacheControl {
            kind: "ephemeral".to_string(),
            ttl: None,
        }
    }
}

/// A typed content block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    Text {
        #[serde(default, deserialize_with = "null_default")]
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    ToolResult {
        tool_use_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<Content>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    Thinking {
        #[serde(default, deserialize_with = "null_default")]
        thinking: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    RedactedThinking {
        #[serde(default, deserialize_with = "null_default")]
        data: String,
    },
    Image {
        source: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    /// A block type this crate does not know.
    #[serde(other)]
    Unknown,
}

impl ContentBlock {
    /// Sets the caching marker, where the block type can carry one.
    pub fn set_cache_control(&mut self, cc: Option<CacheControl>) {
        match self {
            ContentBlock::Text { cache_control, .. }
            | ContentBlock::ToolUse { cache_control, .. }
            | ContentBlock::ToolResult { cache_control, .. }
            | ContentBlock::Image { cache_control, .. } => *cache_control = cc,
            ContentBlock::Thinking { .. }
            | ContentBlock::RedactedThinking { .. }
            | ContentBlock::Unknown => {}
        }
    }

    /// The caching marker, if any.
    pub fn cache_control(&self) -> Option<&CacheControl> {
        match self {
            ContentBlock::Text { cache_control, .. }
            | ContentBlock::ToolUse { cache_control, .. }
            | ContentBlock::ToolResult { cache_control, .. }
            | ContentBlock::Image { cache_control, .. } => cache_control.as_ref(),
            _ => None,
        }
    }
}

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub input_schema: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<CacheControl>,
}

/// A non-streamed answer (also the `message` of `message_start`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessagesResponse {
    #[serde(default, deserialize_with = "null_default")]
    pub id: String,
    #[serde(rename = "type", default, deserialize_with = "null_default")]
    pub kind: String,
    #[serde(default, deserialize_with = "null_default")]
    pub role: String,
    #[serde(default, deserialize_with = "null_default")]
    pub model: String,
    #[serde(default, deserialize_with = "null_default")]
    pub content: Vec<ContentBlock>,
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub stop_sequence: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub usage: Usage,
}

/// Token counts. `input_tokens` excludes cached and cache-written tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default, deserialize_with = "null_default")]
    pub input_tokens: u64,
    #[serde(default, deserialize_with = "null_default")]
    pub output_tokens: u64,
    #[serde(default, deserialize_with = "null_default")]
    pub cache_creation_input_tokens: u64,
    #[serde(default, deserialize_with = "null_default")]
    pub cache_read_input_tokens: u64,
}

/// The usage of `message_delta`; fields not given are left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaUsage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
}

/// One event of a streamed answer (the SSE `data`, whose `type` repeats the SSE event
/// name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    MessageStart {
        message: MessagesResponse,
    },
    ContentBlockStart {
        #[serde(default)]
        index: u32,
        content_block: ContentBlock,
    },
    ContentBlockDelta {
        #[serde(default)]
        index: u32,
        delta: BlockDelta,
    },
    ContentBlockStop {
        #[serde(default)]
        index: u32,
    },
    MessageDelta {
        #[serde(default)]
        delta: MessageDeltaBody,
        #[serde(default)]
        usage: Option<DeltaUsage>,
    },
    MessageStop,
    Ping,
    Error {
        error: ErrorBody,
    },
    /// An event type this crate does not know (ignored, for forward compatibility).
    #[serde(other)]
    Unknown,
}

/// The `delta` of `content_block_delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockDelta {
    TextDelta {
        #[serde(default, deserialize_with = "null_default")]
        text: String,
    },
    InputJsonDelta {
        #[serde(default, deserialize_with = "null_default")]
        partial_json: String,
    },
    ThinkingDelta {
        #[serde(default, deserialize_with = "null_default")]
        thinking: String,
    },
    SignatureDelta {
        #[serde(default, deserialize_with = "null_default")]
        signature: String,
    },
    #[serde(other)]
    Unknown,
}

/// The `delta` of `message_delta`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDeltaBody {
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub stop_sequence: Option<String>,
}

/// An error response: `{"type": "error", "error": {"type", "message"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    #[serde(rename = "type")]
    pub kind: String,
    pub error: ErrorBody,
}

/// The `error` object (`invalid_request_error`, `authentication_error`,
/// `rate_limit_error`, `overloaded_error`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "type", default, deserialize_with = "null_default")]
    pub kind: String,
    #[serde(default, deserialize_with = "null_default")]
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stream_events_parse_and_unknowns_are_tolerated() {
        let e: StreamEvent = serde_json::from_value(json!({
            "type": "content_block_start", "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
        }))
        .unwrap();
        assert!(matches!(
            e,
            StreamEvent::ContentBlockStart {
                index: 1,
                content_block: ContentBlock::ToolUse { .. }
            }
        ));
        let e: StreamEvent =
            serde_json::from_value(json!({"type": "brand_new_event", "x": 1})).unwrap();
        assert_eq!(e, StreamEvent::Unknown);
        let e: StreamEvent = serde_json::from_value(json!({
            "type": "content_block_delta", "index": 0, "delta": {"type": "citations_delta", "citation": {}}
        }))
        .unwrap();
        assert!(matches!(
            e,
            StreamEvent::ContentBlockDelta {
                delta: BlockDelta::Unknown,
                ..
            }
        ));
    }

    #[test]
    fn blocks_serialize_with_cache_control() {
        let mut b = ContentBlock::Text {
            text: "x".into(),
            cache_control: None,
        };
        b.set_cache_control(Some(CacheControl::ephemeral()));
        assert_eq!(
            serde_json::to_value(&b).unwrap(),
            json!({"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}})
        );
        let r = ContentBlock::ToolResult {
            tool_use_id: "t".into(),
            content: Some(Content::Text("ok".into())),
            is_error: false,
            cache_control: None,
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"type": "tool_result", "tool_use_id": "t", "content": "ok"})
        );
    }
}
