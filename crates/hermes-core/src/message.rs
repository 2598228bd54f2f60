//! The conversation model: OpenAI-shaped messages, as Hermes stores them in `state.db`.

use serde::{Deserialize, Serialize};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "system" => Some(Role::System),
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            "tool" => Some(Role::Tool),
            _ => None,
        }
    }
}

/// A function call requested by the model. `arguments` is the raw JSON text the model
/// produced; it is parsed and validated only when the call runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    /// Text content. Empty for an assistant message that only calls tools.
    #[serde(default)]
    pub content: String,
    /// Tool calls made by an assistant message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For `Role::Tool`: the call this message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// For `Role::Tool`: the tool that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// Reasoning text the model streamed alongside its answer, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// Why the model stopped (`stop`, `tool_calls`, `length`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
}

impl Message {
    fn with(role: Role, content: impl Into<String>) -> Message {
        Message {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            tool_name: None,
            reasoning: None,
            finish_reason: None,
        }
    }

    pub fn system(content: impl Into<String>) -> Message {
        Message::with(Role::System, content)
    }

    pub fn user(content: impl Into<String>) -> Message {
        Message::with(Role::User, content)
    }

    pub fn assistant(content: impl Into<String>) -> Message {
        Message::with(Role::Assistant, content)
    }

    pub fn tool_result(
        call_id: impl Into<String>,
        tool_name: impl Into<String>,
        content: impl Into<String>,
    ) -> Message {
        Message {
            tool_call_id: Some(call_id.into()),
            tool_name: Some(tool_name.into()),
            ..Message::with(Role::Tool, content)
        }
    }

    /// A rough token estimate (4 characters per token), used only to decide when to
    /// compress before the provider has reported real usage.
    pub fn estimated_tokens(&self) -> u64 {
        let chars = self.content.len()
            + self
                .tool_calls
                .iter()
                .map(|c| c.name.len() + c.arguments.len() + 16)
                .sum::<usize>()
            + self.reasoning.as_ref().map_or(0, String::len);
        (chars as u64).div_ceil(4) + 4
    }
}

/// Token counts reported by a provider for one model call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub reasoning_tokens: u64,
}

impl Usage {
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.reasoning_tokens += other.reasoning_tokens;
    }

    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

/// Makes a stored history acceptable to every provider: each assistant tool call is
/// answered right after its message (with an error result when none was recorded — the
/// session was interrupted mid-call), and tool results that answer no preceding call become
/// plain user text. Without this, a session killed during a tool call could never be resumed
/// against OpenAI-style APIs, which reject unanswered calls.
pub fn repair_tool_pairs(messages: &[Message]) -> Vec<Message> {
    let mut out = Vec::with_capacity(messages.len());
    let mut i = 0;
    while i < messages.len() {
        let m = &messages[i];
        i += 1;
        match m.role {
            Role::Assistant if !m.tool_calls.is_empty() => {
                // The results that follow this message.
                let mut results: Vec<&Message> = Vec::new();
                while i < messages.len() && messages[i].role == Role::Tool {
                    results.push(&messages[i]);
                    i += 1;
                }
                out.push(m.clone());
                for call in &m.tool_calls {
                    let found = results
                        .iter()
                        .position(|r| r.tool_call_id.as_deref() == Some(call.id.as_str()));
                    match found {
                        Some(pos) => out.push(results.remove(pos).clone()),
                        None => out.push(Message::tool_result(
                            &call.id,
                            &call.name,
                            "Error: no result was recorded for this call (the session was interrupted).",
                        )),
                    }
                }
                out.extend(results.into_iter().map(orphan_to_text));
            }
            Role::Tool => out.push(orphan_to_text(m)),
            _ => out.push(m.clone()),
        }
    }
    out
}

fn orphan_to_text(m: &Message) -> Message {
    Message::user(format!(
        "[result of an earlier {} call]\n{}",
        m.tool_name.as_deref().unwrap_or("tool"),
        m.content
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: &str) -> ToolCall {
        ToolCall {
            id: id.into(),
            name: "read_file".into(),
            arguments: "{}".into(),
        }
    }

    #[test]
    fn well_formed_history_is_unchanged() {
        let mut a = Message::assistant("");
        a.tool_calls = vec![call("a"), call("b")];
        let h = vec![
            Message::user("q"),
            a,
            Message::tool_result("a", "read_file", "1"),
            Message::tool_result("b", "read_file", "2"),
            Message::assistant("done"),
        ];
        assert_eq!(repair_tool_pairs(&h), h);
    }

    #[test]
    fn unanswered_calls_get_results_and_orphans_become_text() {
        let mut a = Message::assistant("");
        a.tool_calls = vec![call("a"), call("b")];
        let h = vec![
            Message::user("q"),
            Message::tool_result("zz", "terminal", "stray"),
            a,
            Message::tool_result("b", "read_file", "2"),
            Message::tool_result("nope", "read_file", "3"),
            Message::user("next"),
        ];
        let r = repair_tool_pairs(&h);
        let roles: Vec<Role> = r.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                Role::User,
                Role::User,
                Role::Assistant,
                Role::Tool,
                Role::Tool,
                Role::User,
                Role::User
            ]
        );
        assert!(r[1].content.contains("stray"));
        assert_eq!(r[3].tool_call_id.as_deref(), Some("a"));
        assert!(r[3].content.contains("interrupted"));
        assert_eq!(r[4].content, "2");
        assert!(r[5].content.contains("earlier read_file call"));
    }
}
