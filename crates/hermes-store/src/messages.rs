//! Message rows: appending (with the session counters, in one transaction), reading a
//! transcript, rebuilding a conversation for resume, and anchored windows for search.

use rusqlite::Transaction;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use serde_json::{Value, json};

use hermes_core::{Message, Role, ToolCall};

use crate::error::{DbContext, StoreError};
use crate::rowmap::{self, get_bool, get_f64, get_i64, get_str};
use crate::sessions::session_exists;
use crate::store::Store;

/// A stored message, as read back from `messages`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredMessage {
    pub id: i64,
    pub session_id: String,
    /// `user`, `assistant`, `tool`, `system`, or Hermes' bookkeeping roles.
    pub role: String,
    /// Readable text (structured content flattened to its text parts). `None` when the
    /// row has no content (e.g. an assistant turn that only calls tools).
    pub content: Option<String>,
    /// The decoded value when the row held structured (multimodal) content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_structured: Option<Value>,
    pub tool_call_id: Option<String>,
    /// OpenAI-shaped tool calls, parsed (`[{"id","type","function":{"name","arguments"}}]`).
    pub tool_calls: Option<Value>,
    pub tool_name: Option<String>,
    pub timestamp: f64,
    pub finish_reason: Option<String>,
    pub reasoning: Option<String>,
    pub active: bool,
    pub compacted: bool,
    pub compressed_summary: bool,
}

impl StoredMessage {
    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<StoredMessage> {
        let map = rowmap::row_to_map(row)?;
        let raw_content = get_str(&map, "content");
        let structured = raw_content
            .as_deref()
            .filter(|c| c.starts_with(rowmap::JSON_CONTENT_PREFIX))
            .map(rowmap::decode_content)
            .filter(|v| !v.is_string());
        let tool_calls = get_str(&map, "tool_calls").and_then(|t| {
            if t.trim().is_empty() {
                return None;
            }
            Some(serde_json::from_str::<Value>(&t).unwrap_or_else(|_| {
                tracing::warn!("unparseable tool_calls in state.db; treating as none");
                Value::Array(Vec::new())
            }))
        });
        Ok(StoredMessage {
            id: get_i64(&map, "id").unwrap_or(0),
            session_id: get_str(&map, "session_id").unwrap_or_default(),
            role: get_str(&map, "role").unwrap_or_default(),
            content: raw_content.as_deref().map(rowmap::content_text),
            content_structured: structured,
            tool_call_id: get_str(&map, "tool_call_id"),
            tool_calls,
            tool_name: get_str(&map, "tool_name"),
            timestamp: get_f64(&map, "timestamp").unwrap_or(0.0),
            finish_reason: get_str(&map, "finish_reason"),
            reasoning: get_str(&map, "reasoning").or_else(|| get_str(&map, "reasoning_content")),
            active: map.get("active").is_none_or(|v| v.is_null()) || get_bool(&map, "active"),
            compacted: get_bool(&map, "compacted"),
            compressed_summary: get_bool(&map, "_compressed_summary"),
        })
    }

    /// The message as the agent sees it, or `None` for roles the model never sees
    /// (`session_meta` and other bookkeeping rows).
    pub fn to_message(&self) -> Option<Message> {
        let role = Role::parse(&self.role)?;
        let tool_calls = self
            .tool_calls
            .as_ref()
            .and_then(Value::as_array)
            .map(|calls| calls.iter().filter_map(parse_tool_call).collect())
            .unwrap_or_default();
        Some(Message {
            role,
            content: self.content.clone().unwrap_or_default(),
            tool_calls,
            tool_call_id: self.tool_call_id.clone(),
            tool_name: self.tool_name.clone(),
            reasoning: if role == Role::Assistant {
                self.reasoning.clone()
            } else {
                None
            },
            finish_reason: if role == Role::Assistant {
                self.finish_reason.clone()
            } else {
                None
            },
        })
    }
}

/// Reads one OpenAI-shaped tool call; `arguments` given as an object is re-serialised.
fn parse_tool_call(v: &Value) -> Option<ToolCall> {
    let function = v.get("function");
    let name = function
        .and_then(|f| f.get("name"))
        .or_else(|| v.get("name"))
        .and_then(Value::as_str)?
        .to_string();
    let args = function
        .and_then(|f| f.get("arguments"))
        .or_else(|| v.get("arguments"));
    let arguments = match args {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "{}".to_string(),
        Some(other) => other.to_string(),
    };
    let id = v
        .get("id")
        .or_else(|| v.get("call_id"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Some(ToolCall {
        id,
        name,
        arguments,
    })
}

/// Tool calls in the shape Hermes stores: OpenAI chat-completions function calls.
pub fn tool_calls_json(calls: &[ToolCall]) -> Value {
    Value::Array(
        calls
            .iter()
            .map(|c| {
                json!({
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                })
            })
            .collect(),
    )
}

/// A window of messages around an anchor.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MessageWindow {
    /// Up to `window` messages before the anchor, the anchor, and up to `window` after,
    /// in id order. Empty when the anchor is not a visible message of the session.
    pub messages: Vec<StoredMessage>,
    /// Messages strictly before the anchor within this window.
    pub messages_before: usize,
    /// Messages strictly after the anchor within this window.
    pub messages_after: usize,
}

/// An anchored window plus the session's opening and closing messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AnchoredView {
    /// The window, filtered to the kept roles (the anchor always stays).
    pub window: Vec<StoredMessage>,
    pub messages_before: usize,
    pub messages_after: usize,
    /// The first non-empty messages of the kept roles before the window.
    pub bookend_start: Vec<StoredMessage>,
    /// The last non-empty messages of the kept roles after the window.
    pub bookend_end: Vec<StoredMessage>,
}

/// Where a message lives and whether it is visible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageState {
    pub session_id: String,
    pub active: bool,
    pub compacted: bool,
}

/// Rows a reader shows: live ones and those archived by in-place compaction. Rewound /
/// undone rows (`active = 0, compacted = 0`) stay hidden.
const VISIBLE: &str = "(active = 1 OR compacted = 1)";

fn query_messages(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<StoredMessage>, StoreError> {
    let mut stmt = conn.prepare(sql).ctx("reading messages")?;
    let rows = stmt
        .query_map(params, StoredMessage::from_row)
        .ctx("reading messages")?;
    rows.collect::<Result<Vec<_>, _>>().ctx("reading messages")
}

/// Inserts messages into a session within a write transaction, updating its counters.
/// `summary_index` marks the message that is a compaction summary (Hermes'
/// `_compressed_summary`), which only the agent knows.
pub(crate) fn insert_messages(
    tx: &Transaction<'_>,
    session_id: &str,
    messages: &[Message],
    summary_index: Option<usize>,
) -> Result<Vec<i64>, StoreError> {
    if !session_exists(tx, session_id)? {
        return Err(StoreError::SessionNotFound(session_id.to_string()));
    }
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO messages (session_id, role, content, tool_call_id, tool_calls,
                     tool_name, timestamp, finish_reason, reasoning, _compressed_summary,
                     active, compacted)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, 0)",
        )
        .ctx("appending a message")?;
    let mut ids = Vec::with_capacity(messages.len());
    let mut ts = hermes_core::ids::now_ts();
    let mut last_ts = ts;
    let mut tool_calls_total: i64 = 0;
    for (i, m) in messages.iter().enumerate() {
        let content: Option<&str> = if m.content.is_empty() && !m.tool_calls.is_empty() {
            None
        } else {
            Some(m.content.as_str())
        };
        let tool_calls =
            (!m.tool_calls.is_empty()).then(|| tool_calls_json(&m.tool_calls).to_string());
        tool_calls_total += m.tool_calls.len() as i64;
        let summary = summary_index == Some(i);
        stmt.execute(params![
            session_id,
            m.role.as_str(),
            content,
            m.tool_call_id,
            tool_calls,
            m.tool_name,
            ts,
            m.finish_reason,
            m.reasoning,
            summary as i64,
        ])
        .ctx("appending a message")?;
        ids.push(tx.last_insert_rowid());
        last_ts = ts;
        ts += 1e-6;
    }
    tx.execute(
        "UPDATE sessions SET message_count = COALESCE(message_count, 0) + ?2,
                 tool_call_count = COALESCE(tool_call_count, 0) + ?3,
                 last_activity_at = ?4
             WHERE id = ?1",
        params![session_id, messages.len() as i64, tool_calls_total, last_ts],
    )
    .ctx("updating session counters")?;
    Ok(ids)
}

impl Store {
    /// Appends one message and returns its id. The row and the session's counters
    /// (`message_count`, `tool_call_count`, `last_activity_at`) commit together.
    pub fn append_message(&self, session_id: &str, message: &Message) -> Result<i64, StoreError> {
        let ids = self.append_messages(session_id, std::slice::from_ref(message))?;
        ids.into_iter()
            .next()
            .ok_or_else(|| StoreError::Invalid("append returned no id".into()))
    }

    /// Appends several messages in one transaction (timestamps strictly increasing) and
    /// returns their ids in order.
    pub fn append_messages(
        &self,
        session_id: &str,
        messages: &[Message],
    ) -> Result<Vec<i64>, StoreError> {
        self.write("appending messages", |tx| {
            insert_messages(tx, session_id, messages, None)
        })
    }

    /// The live (`active = 1`) messages of a session, in order.
    pub fn messages(&self, session_id: &str) -> Result<Vec<StoredMessage>, StoreError> {
        self.read(|c| {
            query_messages(
                c,
                "SELECT * FROM messages WHERE session_id = ?1 AND active = 1 ORDER BY id",
                [session_id],
            )
        })
    }

    /// The conversation to resume: live rows the model can see, tool calls parsed.
    pub fn load_conversation(&self, session_id: &str) -> Result<Vec<Message>, StoreError> {
        Ok(self
            .messages(session_id)?
            .iter()
            .filter_map(StoredMessage::to_message)
            .collect())
    }

    /// Where message `id` lives and whether it is live or compaction-archived.
    pub fn message_state(&self, id: i64) -> Result<Option<MessageState>, StoreError> {
        self.read(|c| {
            c.query_row(
                "SELECT session_id, COALESCE(active, 1), COALESCE(compacted, 0)
                 FROM messages WHERE id = ?1",
                [id],
                |r| {
                    Ok(MessageState {
                        session_id: r.get(0)?,
                        active: r.get::<_, i64>(1)? != 0,
                        compacted: r.get::<_, i64>(2)? != 0,
                    })
                },
            )
            .optional()
            .ctx("reading a message")
        })
    }

    /// Up to `window` visible messages on each side of `anchor_id` in `session_id`.
    pub fn messages_around(
        &self,
        session_id: &str,
        anchor_id: i64,
        window: usize,
    ) -> Result<MessageWindow, StoreError> {
        self.read(|c| messages_around_on(c, session_id, anchor_id, window))
    }

    /// [`Store::messages_around`] filtered to `keep_roles` (the anchor always stays), plus
    /// up to `bookend` non-empty messages of those roles at the session's start and end
    /// that lie outside the window.
    pub fn anchored_view(
        &self,
        session_id: &str,
        anchor_id: i64,
        window: usize,
        bookend: usize,
        keep_roles: &[&str],
    ) -> Result<AnchoredView, StoreError> {
        self.read(|c| {
            let w = messages_around_on(c, session_id, anchor_id, window)?;
            let (Some(first), Some(last)) = (w.messages.first(), w.messages.last()) else {
                return Ok(AnchoredView::default());
            };
            let (first_id, last_id) = (first.id, last.id);
            let keep =
                |m: &StoredMessage| keep_roles.is_empty() || keep_roles.contains(&m.role.as_str());
            let role_clause = if keep_roles.is_empty() {
                String::new()
            } else {
                let marks: Vec<String> = (0..keep_roles.len())
                    .map(|i| format!("?{}", i + 4))
                    .collect();
                format!(" AND role IN ({})", marks.join(","))
            };
            let bookend_rows = |op: &str, boundary: i64, order: &str| {
                let sql = format!(
                    "SELECT * FROM messages WHERE session_id = ?1 AND id {op} ?2 AND {VISIBLE}
                       AND length(content) > 0{role_clause} ORDER BY id {order} LIMIT ?3"
                );
                let mut args: Vec<rusqlite::types::Value> = vec![
                    session_id.to_string().into(),
                    boundary.into(),
                    (bookend.min(10_000) as i64).into(),
                ];
                args.extend(keep_roles.iter().map(|r| r.to_string().into()));
                query_messages(c, &sql, rusqlite::params_from_iter(args))
            };
            let (bookend_start, mut bookend_end) = if bookend > 0 {
                (
                    bookend_rows("<", first_id, "ASC")?,
                    bookend_rows(">", last_id, "DESC")?,
                )
            } else {
                (Vec::new(), Vec::new())
            };
            bookend_end.reverse();
            Ok(AnchoredView {
                window: w
                    .messages
                    .into_iter()
                    .filter(|m| m.id == anchor_id || keep(m))
                    .collect(),
                messages_before: w.messages_before,
                messages_after: w.messages_after,
                bookend_start,
                bookend_end,
            })
        })
    }
}

fn messages_around_on(
    conn: &Connection,
    session_id: &str,
    anchor_id: i64,
    window: usize,
) -> Result<MessageWindow, StoreError> {
    let window = window.min(10_000) as i64;
    let anchor_visible = conn
        .query_row(
            &format!("SELECT 1 FROM messages WHERE id = ?1 AND session_id = ?2 AND {VISIBLE}"),
            params![anchor_id, session_id],
            |_| Ok(()),
        )
        .optional()
        .ctx("reading a message window")?
        .is_some();
    if !anchor_visible {
        return Ok(MessageWindow::default());
    }
    let mut before = query_messages(
        conn,
        &format!(
            "SELECT * FROM messages WHERE session_id = ?1 AND id <= ?2 AND {VISIBLE}
             ORDER BY id DESC LIMIT ?3"
        ),
        params![session_id, anchor_id, window + 1],
    )?;
    let after = query_messages(
        conn,
        &format!(
            "SELECT * FROM messages WHERE session_id = ?1 AND id > ?2 AND {VISIBLE}
             ORDER BY id ASC LIMIT ?3"
        ),
        params![session_id, anchor_id, window],
    )?;
    before.reverse();
    let messages_before = before.len().saturating_sub(1);
    let messages_after = after.len();
    before.extend(after);
    Ok(MessageWindow {
        messages: before,
        messages_before,
        messages_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_calls_round_trip_through_openai_shape() {
        let calls = vec![ToolCall {
            id: "call_1".into(),
            name: "terminal".into(),
            arguments: r#"{"command":"ls"}"#.into(),
        }];
        let v = tool_calls_json(&calls);
        assert_eq!(v[0]["type"], "function");
        assert_eq!(v[0]["function"]["name"], "terminal");
        let back: Vec<ToolCall> = v
            .as_array()
            .map(|a| a.iter().filter_map(parse_tool_call).collect())
            .unwrap_or_default();
        assert_eq!(back, calls);
        // Arguments given as an object (some providers) come back as JSON text.
        let obj = json!({"id": "c", "function": {"name": "x", "arguments": {"a": 1}}});
        assert_eq!(
            parse_tool_call(&obj).map(|c| c.arguments),
            Some(r#"{"a":1}"#.to_string())
        );
    }
}
