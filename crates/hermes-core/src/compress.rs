//! Context compression: when the conversation nears the model's window, the middle is
//! summarised by the model and the first and last messages are kept verbatim.

use crate::message::{Message, Role};
use crate::provider::ChatRequest;

/// `compression.*` in `config.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub struct CompressionConfig {
    pub enabled: bool,
    /// Compress when the prompt exceeds this fraction of the context window.
    pub threshold: f64,
    /// Aim for a summary of about this fraction of the window.
    pub target_ratio: f64,
    pub protect_first_n: usize,
    pub protect_last_n: usize,
    /// Fail the turn when the summary call fails, instead of dropping the middle.
    pub abort_on_summary_failure: bool,
}

impl Default for CompressionConfig {
    fn default() -> CompressionConfig {
        CompressionConfig {
            enabled: true,
            threshold: 0.5,
            target_ratio: 0.2,
            protect_first_n: 3,
            protect_last_n: 20,
            abort_on_summary_failure: false,
        }
    }
}

/// Which messages to summarise: `messages[head..tail]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub head: usize,
    pub tail: usize,
}

/// A cut before `messages[i]` is safe when it does not separate tool results from the
/// assistant message that asked for them.
fn safe_cut(messages: &[Message], i: usize) -> bool {
    i >= messages.len() || messages[i].role != Role::Tool
}

/// Chooses the middle to summarise, or `None` when there is nothing worth compressing.
pub fn plan(messages: &[Message], cfg: &CompressionConfig) -> Option<Plan> {
    let n = messages.len();
    let mut head = cfg.protect_first_n.min(n);
    while head < n && !safe_cut(messages, head) {
        head += 1;
    }
    // Keep at least the newest user message and what follows it.
    let last_user = messages
        .iter()
        .rposition(|m| m.role == Role::User)
        .unwrap_or(n);
    let mut tail = n
        .saturating_sub(cfg.protect_last_n)
        .min(last_user)
        .max(head);
    while tail > head && !safe_cut(messages, tail) {
        tail -= 1;
    }
    (tail > head + 1).then_some(Plan { head, tail })
}

/// Opening of a compaction summary. Hermes and its tools recognise summaries by the
/// `[CONTEXT COMPACTION` prefix.
pub const SUMMARY_PREFIX: &str = "[CONTEXT COMPACTION — REFERENCE ONLY] Earlier turns were \
compacted into the summary below. This is a handoff from a previous context window — treat it \
as background reference, NOT as active instructions. Do not redo work it describes as done; \
avoid repeating it:";

/// Closing line of a compaction summary.
pub const SUMMARY_END_MARKER: &str =
    "--- END OF CONTEXT SUMMARY — respond to the message below, not the summary above ---";

/// The request that asks the model to summarise `middle`.
pub fn summary_request(
    middle: &[Message],
    cfg: &CompressionConfig,
    context_length: u64,
) -> ChatRequest {
    let budget_tokens = ((context_length as f64) * cfg.target_ratio).max(512.0) as u64;
    let mut transcript = String::new();
    for m in middle {
        transcript.push_str(&format!("## {}\n", m.role.as_str()));
        if !m.content.is_empty() {
            transcript.push_str(&m.content);
            transcript.push('\n');
        }
        for c in &m.tool_calls {
            transcript.push_str(&format!("(called {} with {})\n", c.name, c.arguments));
        }
        transcript.push('\n');
    }
    ChatRequest {
        system: "You compress conversations between a user and an AI agent so the agent can \
                 continue the work. Write a faithful, dense summary: the user's goals and \
                 constraints, decisions made, files and commands involved with their outcomes, \
                 facts learned, and open tasks. Do not invent anything. Do not address the user."
            .to_string(),
        messages: vec![Message::user(format!(
            "Summarise this part of the conversation in at most about {budget_tokens} tokens.\n\n{transcript}"
        ))],
        tools: Vec::new(),
        max_tokens: Some(budget_tokens.min(u64::from(u32::MAX)) as u32),
        temperature: None,
    }
}

/// The message that stands in for the summarised middle. Its role is chosen so that it
/// differs from the message before it (`previous`), keeping roles alternating.
pub fn summary_message(summary: &str, removed: usize, previous: Option<Role>) -> Message {
    let body = if summary.trim().is_empty() {
        format!(
            "{removed} earlier messages were removed to fit the context window; no summary is available."
        )
    } else {
        format!(
            "{removed} earlier messages were summarised:\n\n{}",
            summary.trim()
        )
    };
    let text = format!("{SUMMARY_PREFIX}\n\n{body}\n\n{SUMMARY_END_MARKER}");
    match previous {
        Some(Role::User) => Message::assistant(text),
        _ => Message::user(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::ToolCall;

    fn convo() -> Vec<Message> {
        let mut v = vec![Message::user("start"), Message::assistant("ok")];
        for i in 0..10 {
            let mut a = Message::assistant("");
            a.tool_calls.push(ToolCall {
                id: format!("c{i}"),
                name: "todo".into(),
                arguments: "{}".into(),
            });
            v.push(a);
            v.push(Message::tool_result(format!("c{i}"), "todo", "done"));
        }
        v.push(Message::user("next"));
        v.push(Message::assistant("fine"));
        v
    }

    #[test]
    fn plan_never_splits_tool_results_from_their_call() {
        let msgs = convo();
        for first in 0..5 {
            for last in 0..8 {
                let cfg = CompressionConfig {
                    protect_first_n: first,
                    protect_last_n: last,
                    ..CompressionConfig::default()
                };
                if let Some(p) = plan(&msgs, &cfg) {
                    assert_ne!(msgs[p.head].role, Role::Tool);
                    assert!(p.tail == msgs.len() || msgs[p.tail].role != Role::Tool);
                    assert!(p.tail <= msgs.len() - 2, "keeps the last user message");
                }
            }
        }
    }

    #[test]
    fn nothing_to_compress_in_a_short_conversation() {
        let msgs = vec![Message::user("a"), Message::assistant("b")];
        assert!(plan(&msgs, &CompressionConfig::default()).is_none());
    }

    #[test]
    fn summary_message_marks_itself() {
        let m = summary_message("the user wants X", 12, Some(Role::Assistant));
        assert!(m.content.starts_with("[CONTEXT COMPACTION"));
        assert!(m.content.contains("12 earlier messages"));
        assert!(m.content.ends_with(SUMMARY_END_MARKER));
        assert_eq!(m.role, Role::User);
        assert_eq!(
            summary_message("", 3, Some(Role::User)).role,
            Role::Assistant
        );
    }
}
