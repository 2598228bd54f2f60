//! What the mock server answers: a script of [`Reply`]s, protocol-neutral, rendered in
//! the protocol of each request.
//!
//! Script files for `hermes-mock-llm --script FILE` hold a JSON list of replies in this
//! shape (`type` picks the variant; omitted fields take their defaults):
//!
//! ```json
//! [
//!   {"type": "text", "text": "Hello!", "chunk_size": 4},
//!   {"type": "text", "text": "Thinking done.", "reasoning": "Let me see…",
//!    "usage": {"input_tokens": 1200, "output_tokens": 40, "cache_read_tokens": 1000}},
//!   {"type": "tool_calls", "text": "Reading it.", "calls": [["read_file", {"path": "a.txt"}]]},
//!   {"type": "error", "status": 429, "retry_after": "1"},
//!   {"type": "error", "status": 400, "body": {"error": {"message": "bad", "type": "invalid_request_error"}}},
//!   {"type": "malformed_sse"},
//!   {"type": "stall_after", "text": "partial answer", "after_chunks": 2},
//!   {"type": "raw", "content_type": "text/plain", "body": "anything", "status": 200},
//!   {"type": "echo"},
//!   {"type": "delayed", "delay_ms": 500, "reply": {"type": "text", "text": "late"}}
//! ]
//! ```
//!
//! When the script runs out, the server answers with `echo` (`You said: <last user text>`).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Token counts to report. `input_tokens` is the whole prompt, cached parts included
/// (OpenAI's `prompt_tokens`); for Anthropic it is split into uncached, cache-read and
/// cache-written parts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MockUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub reasoning_tokens: u64,
}

/// One scripted answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    /// Text, streamed in pieces of `chunk_size` characters.
    Text {
        text: String,
        #[serde(default = "default_chunk_size")]
        chunk_size: usize,
        /// Reasoning streamed before the text (`reasoning_content` / `thinking`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reasoning: Option<String>,
        /// Reported usage; when absent, plausible numbers derived from the request.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<MockUsage>,
    },
    /// Tool calls (optionally after some text); each call's arguments are streamed in
    /// several pieces.
    ToolCalls {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// `(tool name, arguments object)`.
        calls: Vec<(String, Value)>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<MockUsage>,
    },
    /// An HTTP error. A `null` body is rendered in the request's protocol with a generic
    /// message; `retry_after` becomes the `Retry-After` header.
    Error {
        status: u16,
        #[serde(default)]
        body: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<String>,
    },
    /// A stream whose second event's data is not JSON (a non-JSON body when not
    /// streaming).
    MalformedSse,
    /// Streams `after_chunks` pieces of `text`, then keeps the connection open, sending
    /// nothing.
    StallAfter { text: String, after_chunks: usize },
    /// Any body with any content type.
    Raw {
        content_type: String,
        body: String,
        #[serde(default = "default_status")]
        status: u16,
    },
    /// `You said: <last user text>`.
    Echo,
    /// Waits before answering with `reply`.
    Delayed { delay_ms: u64, reply: Box<Reply> },
}

fn default_chunk_size() -> usize {
    4
}

fn default_status() -> u16 {
    200
}

impl Reply {
    /// Streamed text in 4-character pieces.
    pub fn text(text: impl Into<String>) -> Reply {
        Reply::Text {
            text: text.into(),
            chunk_size: default_chunk_size(),
            reasoning: None,
            usage: None,
        }
    }

    /// One tool call.
    pub fn tool_call(name: impl Into<String>, args: Value) -> Reply {
        Reply::tool_calls(vec![(name.into(), args)])
    }

    /// Several tool calls in one answer.
    pub fn tool_calls(calls: Vec<(String, Value)>) -> Reply {
        Reply::ToolCalls {
            text: None,
            calls,
            usage: None,
        }
    }

    /// An HTTP error with a protocol-shaped generic body.
    pub fn error(status: u16) -> Reply {
        Reply::Error {
            status,
            body: Value::Null,
            retry_after: None,
        }
    }

    /// An HTTP error with an OpenAI-shaped body
    /// (`{"error": {"message", "type", "code"}}`).
    pub fn openai_error(status: u16, code: &str, message: &str) -> Reply {
        Reply::Error {
            status,
            body: serde_json::json!({
                "error": {"message": message, "type": code, "param": null, "code": code}
            }),
            retry_after: None,
        }
    }

    /// An HTTP error with an Anthropic-shaped body
    /// (`{"type": "error", "error": {"type", "message"}}`).
    pub fn anthropic_error(status: u16, kind: &str, message: &str) -> Reply {
        Reply::Error {
            status,
            body: serde_json::json!({"type": "error", "error": {"type": kind, "message": message}}),
            retry_after: None,
        }
    }

    /// A 429 with `Retry-After: <seconds>`.
    pub fn rate_limited(retry_after: &str) -> Reply {
        Reply::error(429).with_retry_after(retry_after)
    }

    /// A stream with a data line that is not JSON.
    pub fn malformed_sse() -> Reply {
        Reply::MalformedSse
    }

    /// Streams `after_chunks` pieces of `text`, then goes silent with the connection open.
    pub fn stall_after(text: impl Into<String>, after_chunks: usize) -> Reply {
        Reply::StallAfter {
            text: text.into(),
            after_chunks,
        }
    }

    /// A 200 answer with this content type and body.
    pub fn raw(content_type: impl Into<String>, body: impl Into<String>) -> Reply {
        Reply::Raw {
            content_type: content_type.into(),
            body: body.into(),
            status: 200,
        }
    }

    /// Sets `Retry-After` (on `Error`; other replies are unchanged).
    pub fn with_retry_after(mut self, value: &str) -> Reply {
        if let Reply::Error { retry_after, .. } = &mut self {
            *retry_after = Some(value.to_string());
        }
        self
    }

    /// Sets the reported usage (on `Text` and `ToolCalls`).
    pub fn with_usage(mut self, u: MockUsage) -> Reply {
        match &mut self {
            Reply::Text { usage, .. } | Reply::ToolCalls { usage, .. } => *usage = Some(u),
            Reply::Delayed { reply, .. } => **reply = (**reply).clone().with_usage(u),
            _ => {}
        }
        self
    }

    /// Adds reasoning before the text (on `Text`).
    pub fn with_reasoning(mut self, r: impl Into<String>) -> Reply {
        if let Reply::Text { reasoning, .. } = &mut self {
            *reasoning = Some(r.into());
        }
        self
    }

    /// Adds text before the calls (on `ToolCalls`).
    pub fn with_text(mut self, t: impl Into<String>) -> Reply {
        if let Reply::ToolCalls { text, .. } = &mut self {
            *text = Some(t.into());
        }
        self
    }

    /// Sets the streamed piece size in characters (on `Text`; at least 1).
    pub fn chunked(mut self, n: usize) -> Reply {
        if let Reply::Text { chunk_size, .. } = &mut self {
            *chunk_size = n.max(1);
        }
        self
    }

    /// Waits `delay` before answering.
    pub fn delayed(self, delay: Duration) -> Reply {
        Reply::Delayed {
            delay_ms: delay.as_millis() as u64,
            reply: Box::new(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn script_shape_parses() {
        let script: Vec<Reply> = serde_json::from_value(json!([
            {"type": "text", "text": "hi"},
            {"type": "tool_calls", "calls": [["read_file", {"path": "a"}]]},
            {"type": "error", "status": 429, "retry_after": "1"},
            {"type": "malformed_sse"},
            {"type": "stall_after", "text": "x", "after_chunks": 1},
            {"type": "raw", "content_type": "text/plain", "body": "b"},
            {"type": "echo"},
            {"type": "delayed", "delay_ms": 5, "reply": {"type": "echo"}}
        ]))
        .unwrap();
        assert_eq!(script[0], Reply::text("hi"));
        assert_eq!(
            script[1],
            Reply::tool_call("read_file", json!({"path": "a"}))
        );
        assert_eq!(script[2], Reply::rate_limited("1"));
        assert_eq!(script.len(), 8);
        let back = serde_json::to_value(&script).unwrap();
        let again: Vec<Reply> = serde_json::from_value(back).unwrap();
        assert_eq!(again, script);
    }
}
