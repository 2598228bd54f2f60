//! The `session_search` tool: recall from past sessions in `state.db`, with Hermes' four
//! calling shapes, inferred from the arguments (no mode parameter):
//!
//! 1. **discover** — `query`: FTS5 search, deduplicated by session lineage. The top result
//!    carries a ±5 message window and the session's opening and closing messages; lower
//!    results carry only the matched message (`detail: "full"` hydrates all of them).
//! 2. **scroll** — `session_id` + `around_message_id`: a ±`window` slice around a message.
//! 3. **read** — `session_id` alone: the whole session, or its first 20 and last 10
//!    messages when longer.
//! 4. **browse** — nothing: the most recently active sessions.
//!
//! Read-only, no model calls. Differences from Hermes: there are no profiles (a
//! `profile/id` or `@session:profile/id` value is reduced to the id), no Telegram scope,
//! and times are shown in UTC.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use hermes_core::{Tool, ToolContext, ToolError, ToolSpec};
use hermes_store::{
    SearchHit, SearchOptions, SearchSort, SessionFilter, Store, StoreError, StoredMessage,
};
use serde_json::{Map, Value, json};

/// Sources never shown: third-party tool runs, delegate subagents, kanban workers.
pub const HIDDEN_SOURCES: &[&str] = &["kanban", "subagent", "tool"];
/// Automation sources kept searchable but ranked below interactive sessions.
const DEMOTED_SOURCES: &[&str] = &["cron"];
/// FTS rows discovery scans before deduplicating by lineage.
const DISCOVER_SCAN_LIMIT: usize = 300;
/// End reasons after which a session's transcript is no longer in anyone's live context
/// (resets, `/new`); with `compression` these stay discoverable from the same lineage.
const FRESH_RESET_END_REASONS: &[&str] = &[
    "session_reset",
    "session_switch",
    "idle",
    "daily",
    "suspended",
    "resume_pending_expired",
    "new_session",
];
const COMPACTION_PREFIXES: &[&str] = &["[CONTEXT COMPACTION", "[CONTEXT SUMMARY]:"];
const WINDOW_CONTENT_CHARS: usize = 4000;
const BOOKEND_CONTENT_CHARS: usize = 1200;
const READ_HEAD: usize = 20;
const READ_TAIL: usize = 10;

const DESCRIPTION: &str = "Search past sessions stored in the local session DB, or scroll \
inside one. FTS5-backed retrieval over the SQLite message store. No LLM calls — every shape \
returns actual messages from the DB.\n\nSOURCE-FIRST LIMIT\n\n  This tool searches Hermes \
conversation history only. It is not evidence about the current contents of external sources. \
If the user provided a direct source such as a URL, file path, account or live system, inspect \
that original source before or instead of session_search when accessible. Use session_search as \
secondary context for what was previously said, not as primary proof of what the source \
currently contains.\n\nFOUR CALLING SHAPES\n\n  1) DISCOVERY — pass `query`:\n     \
session_search(query=\"auth refactor\", limit=3)\n     Runs FTS5, dedupes hits by session \
lineage, and returns the top N sessions. Adaptive detail is the default: the top-ranked result \
carries full context, while lower-ranked results stay compact. Pass `detail=\"full\"` to fully \
hydrate every result. Every result carries:\n       - session_id, title, when, source\n       \
- snippet: FTS5-highlighted match excerpt\n       - detail: `full` or `compact`\n       - \
bookend_start/bookend_end: the first/last 3 user+assistant messages for full results; empty \
lists for compact results\n       - messages: ±5 messages around the FTS5 match for full \
results; only the flagged anchor message for compact results\n       - match_message_id, \
messages_before, messages_after\n\n  2) SCROLL — pass `session_id` + `around_message_id`:\n     \
session_search(session_id=\"...\", around_message_id=12345, window=10)\n     Returns a window \
of ±`window` messages centered on the anchor. To scroll FORWARD pass messages[-1].id back as \
around_message_id; to scroll BACKWARD pass messages[0].id. When messages_before or \
messages_after is < window, you're at the start or end of the session.\n\n  3) READ — pass \
`session_id` only (no around_message_id):\n     Dumps the whole session by id (first 20 + last \
10 messages when large). Use it to resolve an `@session:<id>` link the user dropped into the \
chat.\n\n  4) BROWSE — no args:\n     session_search()\n     Returns recent sessions: titles, \
previews, timestamps. Use when the user asks \"what was I working on\" without naming a \
topic.\n\nLINKING THE USER TO A SESSION\n\n  Every result carries a `link` value such as \
`@session:20260722_204335_d62c16`. Write it inline, verbatim, when you refer the user to a \
session.\n\nFTS5 SYNTAX\n\n  AND is the default — multi-word queries require all terms. Use OR \
explicitly for broader recall (`alpha OR beta OR gamma`), quoted phrases for exact match \
(`\"docker networking\"`), boolean (`python NOT java`), or prefix wildcards (`deploy*`).\n\n\
WHEN TO USE\n\n  Reach for this on questions about conversation history itself, such as \"what \
did we do about X\", \"where did we leave Y\", or \"find the session where Z\".";

/// The `session_search` tool over a [`Store`].
pub struct SessionSearchTool {
    spec: ToolSpec,
    store: Arc<Store>,
}

impl SessionSearchTool {
    pub fn new(store: Arc<Store>) -> SessionSearchTool {
        SessionSearchTool {
            spec: ToolSpec {
                name: "session_search".into(),
                description: DESCRIPTION.into(),
                parameters: parameters_schema(),
            },
            store,
        }
    }
}

fn parameters_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "query": {
                "type": "string",
                "description": "Search query (discovery shape). Keywords, phrases, or boolean \
    expressions to find in past sessions. Omit to browse recent sessions. Ignored when session_id + \
    around_message_id are set (scroll shape)."
            },
            "limit": {
                "type": "integer",
                "description": "Discovery shape only. Max sessions to return (default 3, max \
    10). Bump to 5–10 when the topic likely spans several sessions and you want to pick the right \
    one to scroll into.",
                "default": 3
            },
            "sort": {
                "type": "string",
                "enum": ["newest", "oldest"],
                "description": "Discovery shape only. Temporal bias on top of FTS5 ranking. \
    Omit to keep relevance-only ordering. Set 'newest' for recency-shaped questions (\"where did \
    we leave X\"). Set 'oldest' for origin-shaped questions (\"how did X start\")."
            },
            "detail": {
                "type": "string",
                "enum": ["adaptive", "full"],
                "description": "Discovery shape only. 'adaptive' (default) fully hydrates the \
    top-ranked result and returns only the exact anchor message for lower-ranked results. 'full' \
    returns bookends and the complete anchored window for every result.",
                "default": "adaptive"
            },
            "session_id": {
                "type": "string",
                "description": "Scroll shape (with around_message_id) or read shape (alone). \
    Session to read inside. Use the session_id returned from a prior discovery call."
            },
            "around_message_id": {
                "type": "integer",
                "description": "Scroll shape. Message id to center the window on. From a \
    discovery result use match_message_id, or any id seen in a prior window. To scroll forward \
    pass the last window message's id; to scroll backward pass the first."
            },
            "window": {
                "type": "integer",
                "description": "Scroll shape only. Messages to return on each side of the \
    anchor (anchor itself always included). Clamped to [1, 20]. Default 5.",
                "default": 5
            },
            "role_filter": {
                "type": "string",
                "description": "Optional. Comma-separated roles to include. Discovery defaults \
    to 'user,assistant' (tool output is usually noise). Pass 'user,assistant,tool' to include tool \
    output or 'tool' to search tool output only."
            }
        },
        "required": []
    })
}

#[async_trait]
impl Tool for SessionSearchTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn is_mutating(&self, _args: &Value) -> bool {
        false
    }

    async fn call(&self, args: Value, ctx: &ToolContext) -> Result<String, ToolError> {
        let store = self.store.clone();
        let current = ctx.session_id.clone();
        tokio::task::spawn_blocking(move || {
            let current = (!current.is_empty()).then_some(current.as_str());
            run(&store, &args, current)
        })
        .await
        .map_err(|e| ToolError::Fatal(format!("session_search stopped unexpectedly: {e}")))
    }
}

/// Runs one call and returns the JSON text the model sees. `current_session_id` is the
/// calling session: its live content is already in context, so it is left out.
pub fn run(store: &Store, args: &Value, current_session_id: Option<&str>) -> String {
    let session_id = args
        .get("session_id")
        .and_then(Value::as_str)
        .map(normalize_session_id)
        .filter(|s| !s.is_empty());
    let around = args.get("around_message_id").filter(|v| !v.is_null());

    let result = if let (Some(sid), Some(anchor)) = (&session_id, around) {
        match as_i64(anchor) {
            Some(anchor) => {
                let window = as_i64(args.get("window").unwrap_or(&Value::Null))
                    .unwrap_or(5)
                    .clamp(1, 20) as usize;
                scroll(store, sid, anchor, window, current_session_id)
            }
            None => Ok(tool_error("scroll requires integer around_message_id")),
        }
    } else if let Some(sid) = &session_id {
        read_session(store, sid)
    } else {
        let limit = args.get("limit").and_then(as_i64).unwrap_or(3).clamp(1, 10) as usize;
        let query = args
            .get("query")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or("");
        if query.is_empty() {
            browse(store, limit, current_session_id)
        } else {
            let roles: Vec<String> = args
                .get("role_filter")
                .and_then(Value::as_str)
                .map(|r| {
                    r.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let sort = match args
                .get("sort")
                .and_then(Value::as_str)
                .map(|s| s.trim().to_ascii_lowercase())
                .as_deref()
            {
                Some("newest") => SearchSort::Newest,
                Some("oldest") => SearchSort::Oldest,
                _ => SearchSort::Relevance,
            };
            let full = args
                .get("detail")
                .and_then(Value::as_str)
                .is_some_and(|d| d.trim().eq_ignore_ascii_case("full"));
            discover(
                store,
                &Discover {
                    query,
                    roles,
                    limit,
                    sort,
                    full,
                },
                current_session_id,
            )
        }
    };
    result.unwrap_or_else(|e| tool_error(&format!("session_search failed: {e}")))
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `@session:profile/id`, `profile/id` and `@session:id` all name the session `id`
/// (session ids never contain `/`).
fn normalize_session_id(raw: &str) -> String {
    let s = raw.trim();
    let s = s.strip_prefix("@session:").unwrap_or(s);
    match s.split_once('/') {
        Some((_, id)) if !id.is_empty() => id.trim().to_string(),
        _ => s.to_string(),
    }
}

/// Hermes' tool-level error payload.
fn tool_error(msg: &str) -> String {
    json!({"success": false, "error": msg}).to_string()
}

fn to_text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| tool_error(&format!("could not encode: {e}")))
}

fn link(session_id: &str) -> String {
    format!("@session:{session_id}")
}

/// Hermes' `"%B %d, %Y at %I:%M %p"`, in UTC.
fn format_when(ts: Option<f64>) -> String {
    let Some(ts) = ts.filter(|t| t.is_finite()) else {
        return "unknown".into();
    };
    let t = hermes_core::ids::Utc::at(ts);
    let (h12, ampm) = t.hour12();
    format!(
        "{} {:02}, {} at {h12:02}:{:02} {ampm} UTC",
        t.month_name(),
        t.day,
        t.year,
        t.minute
    )
}

/// Removes ANSI escape sequences (CSI and OSC) from recalled terminal output.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('[') => {
                chars.next();
                for n in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&n) {
                        break;
                    }
                }
            }
            Some(']') => {
                chars.next();
                while let Some(n) = chars.next() {
                    if n == '\u{7}' {
                        break;
                    }
                    if n == '\u{1b}' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            Some(_) => {
                chars.next();
            }
            None => {}
        }
    }
    out
}

fn is_compaction_summary(content: Option<&str>) -> bool {
    content.is_some_and(|c| {
        let t = c.trim_start();
        COMPACTION_PREFIXES.iter().any(|p| t.starts_with(p))
    })
}

/// A message as the tool shows it: `{id, role, content, timestamp}` plus `tool_name`,
/// `tool_calls`, `tool_call_id` and `anchor` when set; long content is cut and marked.
fn shape_message(m: &StoredMessage, anchor: Option<i64>, max_chars: Option<usize>) -> Value {
    let mut entry = Map::new();
    entry.insert("id".into(), json!(m.id));
    entry.insert("role".into(), json!(m.role));
    let content = m.content.as_deref().map(|c| {
        if c.contains('\u{1b}') {
            strip_ansi(c)
        } else {
            c.to_string()
        }
    });
    let mut truncated = None;
    let content = match (content, max_chars) {
        (Some(c), Some(max)) if c.chars().count() > max => {
            truncated = Some(c.chars().count());
            let mut cut: String = c.chars().take(max).collect();
            cut.push('…');
            Some(cut)
        }
        (c, _) => c,
    };
    entry.insert("content".into(), json!(content));
    entry.insert("timestamp".into(), json!(m.timestamp));
    if let Some(name) = m.tool_name.as_deref().filter(|n| !n.is_empty()) {
        entry.insert("tool_name".into(), json!(name));
    }
    if let Some(calls) = m
        .tool_calls
        .as_ref()
        .filter(|c| c.as_array().is_some_and(|a| !a.is_empty()))
    {
        entry.insert("tool_calls".into(), calls.clone());
    }
    if let Some(id) = m.tool_call_id.as_deref().filter(|i| !i.is_empty()) {
        entry.insert("tool_call_id".into(), json!(id));
    }
    if anchor == Some(m.id) {
        entry.insert("anchor".into(), json!(true));
    }
    if let Some(original) = truncated {
        entry.insert("content_truncated".into(), json!(true));
        entry.insert("original_content_chars".into(), json!(original));
    }
    Value::Object(entry)
}

fn session_meta(store: &Store, session_id: &str) -> Result<Value, StoreError> {
    let row = store.get_session(session_id)?;
    Ok(match row {
        Some(r) => json!({
            "when": format_when(Some(r.started_at)),
            "source": r.source,
            "model": r.model,
            "title": r.title,
        }),
        None => json!({"when": "unknown", "source": null, "model": null, "title": null}),
    })
}

/// Whether `session_id`'s transcript has left live context: compressed away, or ended by
/// a reset that carried nothing forward.
fn left_live_context(store: &Store, session_id: &str) -> Result<bool, StoreError> {
    let reason = store.get_session(session_id)?.and_then(|r| r.end_reason);
    Ok(reason
        .as_deref()
        .is_some_and(|r| r == "compression" || FRESH_RESET_END_REASONS.contains(&r)))
}

fn read_session(store: &Store, requested: &str) -> Result<String, StoreError> {
    let session_id = if store.get_session(requested)?.is_some() {
        requested.to_string()
    } else {
        match store.resolve_session(requested) {
            Ok(id) => id,
            Err(StoreError::SessionNotFound(_) | StoreError::AmbiguousSession { .. }) => {
                return Ok(tool_error(&format!("session_id not found: {requested}")));
            }
            Err(e) => return Err(e),
        }
    };
    let rows = store.messages(&session_id)?;
    let total = rows.len();
    let truncated = total > READ_HEAD + READ_TAIL;
    let shown: Vec<Value> = if truncated {
        rows[..READ_HEAD]
            .iter()
            .chain(&rows[total - READ_TAIL..])
            .map(|m| shape_message(m, None, None))
            .collect()
    } else {
        rows.iter().map(|m| shape_message(m, None, None)).collect()
    };
    let mut out = json!({
        "success": true,
        "mode": "read",
        "session_id": session_id,
        "link": link(&session_id),
        "session_meta": session_meta(store, &session_id)?,
        "message_count": total,
        "truncated": truncated,
        "messages": shown,
    });
    if truncated {
        out["message"] = json!(format!(
            "Session has {total} messages; showing first {READ_HEAD} + last {READ_TAIL}. \
             Pass around_message_id (any id above) to scroll the middle."
        ));
    }
    Ok(to_text(&out))
}

fn browse(store: &Store, limit: usize, current: Option<&str>) -> Result<String, StoreError> {
    let lineage = match current {
        Some(c) => Some(store.lineage(c)?),
        None => None,
    };
    let page = limit + 15;
    let mut offset = 0;
    let mut results = Vec::new();
    'pages: loop {
        let sessions = store.list_sessions(&SessionFilter {
            source: None,
            exclude_sources: HIDDEN_SOURCES.iter().map(|s| s.to_string()).collect(),
            limit: page,
            offset,
        })?;
        for s in &sessions {
            if Some(s.id.as_str()) == current {
                continue;
            }
            // The root of a compressed current lineage was summarised into the live child.
            if let Some(l) = &lineage
                && l.has_compression_hop
                && l.root == s.id
            {
                continue;
            }
            results.push(json!({
                "session_id": s.id,
                "link": link(&s.id),
                "title": s.title,
                "source": s.source,
                "started_at": s.started_at,
                "last_active": s.last_active,
                "message_count": s.message_count,
                "preview": s.preview,
            }));
            if results.len() >= limit {
                break 'pages;
            }
        }
        if sessions.len() < page {
            break;
        }
        offset += sessions.len();
    }
    let count = results.len();
    Ok(to_text(&json!({
        "success": true,
        "mode": "browse",
        "results": results,
        "count": count,
        "message": format!(
            "Showing {count} most recent sessions. Pass a query= to search, or \
             session_id+around_message_id to scroll."
        ),
    })))
}

fn scroll(
    store: &Store,
    session_id: &str,
    anchor: i64,
    window: usize,
    current: Option<&str>,
) -> Result<String, StoreError> {
    let state = store.message_state(anchor)?;
    if let Some(current) = current {
        let anchor_session = state.as_ref().map_or(session_id, |s| s.session_id.as_str());
        let a_root = store.lineage(anchor_session)?.root;
        let c_root = store.lineage(current)?.root;
        if a_root == c_root {
            let compacted = state.as_ref().is_some_and(|s| !s.active && s.compacted);
            let undone = state.as_ref().is_some_and(|s| !s.active && !s.compacted);
            let out_of_context = !undone && left_live_context(store, anchor_session)?;
            if !(compacted || out_of_context) {
                return Ok(tool_error(
                    "scroll rejected: anchor lives in the current session lineage (already in \
                     your active context)",
                ));
            }
        }
    }
    if store.get_session(session_id)?.is_none() {
        return Ok(tool_error(&format!("session_id not found: {session_id}")));
    }
    let mut session_id = session_id.to_string();
    let mut view = store.messages_around(&session_id, anchor, window)?;
    let mut warning = None;
    if view.messages.is_empty()
        && let Some(owner) = state.as_ref().map(|s| s.session_id.clone())
        && owner != session_id
        && store.lineage(&owner)?.root == store.lineage(&session_id)?.root
    {
        let rebound = store.messages_around(&owner, anchor, window)?;
        if !rebound.messages.is_empty() {
            warning = Some(format!(
                "around_message_id {anchor} lives in {owner} (child of {session_id}); rebound \
                 transparently"
            ));
            view = rebound;
            session_id = owner;
        }
    }
    if view.messages.is_empty() {
        return Ok(tool_error(&format!(
            "around_message_id {anchor} not in session_id {session_id}"
        )));
    }
    let mut out = json!({
        "success": true,
        "mode": "scroll",
        "session_id": session_id,
        "around_message_id": anchor,
        "session_meta": session_meta(store, &session_id)?,
        "window": window,
        "messages": view
            .messages
            .iter()
            .map(|m| shape_message(m, Some(anchor), None))
            .collect::<Vec<_>>(),
        "messages_before": view.messages_before,
        "messages_after": view.messages_after,
    });
    if let Some(w) = warning {
        out["warning"] = json!(w);
    }
    Ok(to_text(&out))
}

struct Discover<'a> {
    query: &'a str,
    roles: Vec<String>,
    limit: usize,
    sort: SearchSort,
    full: bool,
}

/// A session whose title is the query (or whose `"title #N"` continuation is) comes first.
fn title_match(
    store: &Store,
    query: &str,
    current_root: Option<&str>,
) -> Result<Option<(String, Value)>, StoreError> {
    let title = query.trim().trim_matches(['`', '\'', '"']);
    if title.is_empty() {
        return Ok(None);
    }
    let Some(session_id) = store.resolve_title(title)? else {
        return Ok(None);
    };
    let root = store.lineage(&session_id)?.root;
    if current_root == Some(root.as_str()) && !left_live_context(store, &session_id)? {
        return Ok(None);
    }
    let meta = match store.get_session(&root)? {
        Some(m) => Some(m),
        None => store.get_session(&session_id)?,
    };
    if meta
        .as_ref()
        .is_some_and(|m| HIDDEN_SOURCES.contains(&m.source.as_str()))
    {
        return Ok(None);
    }
    let messages = store.messages(&session_id)?;
    let anchor = messages.first().map(|m| m.id);
    let view = match anchor {
        Some(a) => Some(store.anchored_view(&session_id, a, 5, 3, &["user", "assistant"])?),
        None => None,
    };
    let shape_all = |ms: &[StoredMessage], anchor: Option<i64>| -> Vec<Value> {
        ms.iter().map(|m| shape_message(m, anchor, None)).collect()
    };
    let (window, before, after, start, end) = match &view {
        Some(v) if !v.window.is_empty() => (
            shape_all(&v.window, anchor),
            v.messages_before,
            v.messages_after,
            if v.bookend_start.is_empty() {
                shape_all(&messages[..messages.len().min(3)], None)
            } else {
                shape_all(&v.bookend_start, None)
            },
            if v.bookend_end.is_empty() {
                shape_all(&messages[messages.len().saturating_sub(3)..], None)
            } else {
                shape_all(&v.bookend_end, None)
            },
        ),
        _ => (
            shape_all(&messages[..messages.len().min(5)], anchor),
            0,
            messages.len().saturating_sub(5),
            shape_all(&messages[..messages.len().min(3)], None),
            shape_all(&messages[messages.len().saturating_sub(3)..], None),
        ),
    };
    let shown_title = meta
        .as_ref()
        .and_then(|m| m.title.clone())
        .unwrap_or_else(|| title.to_string());
    let mut entry = json!({
        "session_id": session_id,
        "when": format_when(meta.as_ref().map(|m| m.started_at)),
        "source": meta.as_ref().map_or("unknown".to_string(), |m| m.source.clone()),
        "model": meta.as_ref().and_then(|m| m.model.clone()).unwrap_or_else(|| "unknown".into()),
        "title": shown_title,
        "matched_role": "session_title",
        "match_message_id": anchor,
        "snippet": format!("Session title matched: {shown_title}"),
        "bookend_start": start,
        "messages": window,
        "bookend_end": end,
        "messages_before": before,
        "messages_after": after,
        "detail": "full",
    });
    if root != session_id {
        entry["parent_session_id"] = json!(root);
    }
    Ok(Some((root, entry)))
}

fn discover(store: &Store, d: &Discover<'_>, current: Option<&str>) -> Result<String, StoreError> {
    let roles = if d.roles.is_empty() {
        vec!["user".to_string(), "assistant".to_string()]
    } else {
        d.roles.clone()
    };
    let current_root = match current {
        Some(c) => Some(store.lineage(c)?.root),
        None => None,
    };
    let title_result = title_match(store, d.query, current_root.as_deref())?;
    let mut hits = store.search(
        d.query,
        &SearchOptions {
            roles,
            exclude_sources: HIDDEN_SOURCES.iter().map(|s| s.to_string()).collect(),
            sort: d.sort,
            limit: DISCOVER_SCAN_LIMIT,
            ..SearchOptions::default()
        },
    )?;
    // Interactive sessions first; within each class the rank order stays (stable sort).
    hits.sort_by_key(|h| DEMOTED_SOURCES.contains(&h.source.as_str()));

    let detail = if d.full { "full" } else { "adaptive" };
    if hits.is_empty() && title_result.is_none() {
        return Ok(to_text(&json!({
            "success": true,
            "mode": "discover",
            "query": d.query,
            "detail": detail,
            "results": [],
            "count": 0,
            "message": "No matching sessions found.",
        })));
    }

    let mut seen: HashSet<String> = HashSet::new();
    let mut results: Vec<Value> = Vec::new();
    if let Some((root, entry)) = title_result {
        seen.insert(root);
        results.push(entry);
    }
    let mut picked: Vec<(String, SearchHit)> = Vec::new();
    for hit in hits {
        if seen.len() >= d.limit {
            break;
        }
        let root = store.lineage(&hit.session_id)?.root;
        if seen.contains(&root) {
            continue;
        }
        let compacted_hit = store
            .message_state(hit.message_id)?
            .is_some_and(|s| !s.active && s.compacted);
        if current_root.as_deref() == Some(root.as_str())
            && !(compacted_hit || left_live_context(store, &hit.session_id)?)
        {
            continue;
        }
        if current == Some(hit.session_id.as_str()) && !compacted_hit {
            continue;
        }
        seen.insert(root.clone());
        picked.push((root, hit));
    }
    let sessions_searched = seen.len();

    for (root, hit) in picked {
        let view = store.anchored_view(
            &hit.session_id,
            hit.message_id,
            5,
            3,
            &["user", "assistant"],
        )?;
        let meta = store.get_session(&root)?;
        let full = d.full || results.is_empty();
        let window: Vec<Value> = view
            .window
            .iter()
            .filter(|m| full || m.id == hit.message_id)
            .map(|m| shape_message(m, Some(hit.message_id), Some(WINDOW_CONTENT_CHARS)))
            .collect();
        let bookends = |ms: &[StoredMessage]| -> Vec<Value> {
            if !full {
                return Vec::new();
            }
            ms.iter()
                .filter(|m| !is_compaction_summary(m.content.as_deref()))
                .map(|m| shape_message(m, None, Some(BOOKEND_CONTENT_CHARS)))
                .collect()
        };
        let mut entry = json!({
            "session_id": hit.session_id,
            "when": format_when(Some(meta.as_ref().map_or(hit.session_started, |m| m.started_at))),
            "source": meta.as_ref().map_or(hit.source.clone(), |m| m.source.clone()),
            "model": meta
                .as_ref()
                .and_then(|m| m.model.clone())
                .or_else(|| hit.model.clone())
                .unwrap_or_else(|| "unknown".into()),
            "title": meta.as_ref().and_then(|m| m.title.clone()),
            "matched_role": hit.role,
            "match_message_id": hit.message_id,
            "snippet": hit.snippet,
            "bookend_start": bookends(&view.bookend_start),
            "messages": window,
            "bookend_end": bookends(&view.bookend_end),
            "messages_before": view.messages_before,
            "messages_after": view.messages_after,
            "detail": if full { "full" } else { "compact" },
        });
        if root != hit.session_id {
            entry["parent_session_id"] = json!(root);
        }
        results.push(entry);
    }
    for entry in &mut results {
        if let Some(sid) = entry.get("session_id").and_then(Value::as_str) {
            let l = link(sid);
            entry["link"] = json!(l);
        }
    }
    let count = results.len();
    Ok(to_text(&json!({
        "success": true,
        "mode": "discover",
        "query": d.query,
        "detail": detail,
        "results": results,
        "count": count,
        "sessions_searched": sessions_searched,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermes_core::{Message, NewSession, ToolCall};
    use std::path::PathBuf;

    fn session(store: &Store, id: &str, source: &str, parent: Option<&str>) {
        store
            .create_session(&NewSession {
                id: id.into(),
                source: source.into(),
                model: "gpt-4o".into(),
                provider: "openai".into(),
                base_url: "https://api.openai.com/v1".into(),
                parent_session_id: parent.map(str::to_string),
                ..NewSession::default()
            })
            .unwrap();
    }

    fn call(store: &Store, args: Value, current: Option<&str>) -> Value {
        serde_json::from_str(&run(store, &args, current)).unwrap()
    }

    /// Three past sessions about different things, plus the current one.
    fn seeded() -> Store {
        let store = Store::open_in_memory().unwrap();
        session(&store, "s_docker", "cli", None);
        store
            .append_messages(
                "s_docker",
                &[
                    Message::user("Set up docker networking for the staging cluster"),
                    Message::assistant("I created a bridge network called staging-net."),
                    Message::user("Now expose port 8080"),
                    Message {
                        tool_calls: vec![ToolCall {
                            id: "c1".into(),
                            name: "terminal".into(),
                            arguments: r#"{"command":"docker run -p 8080:80 web"}"#.into(),
                        }],
                        ..Message::assistant("")
                    },
                    Message::tool_result("c1", "terminal", "container started"),
                    Message::assistant("Port 8080 is exposed on the docker host."),
                    Message::user("thanks, that fixed it"),
                ],
            )
            .unwrap();
        store.set_title("s_docker", "Staging network").unwrap();
        session(&store, "s_tax", "telegram", None);
        store
            .append_messages(
                "s_tax",
                &[
                    Message::user("我们今天讨论数据库迁移的问题"),
                    Message::assistant("好的，docker 里的数据库先备份。"),
                ],
            )
            .unwrap();
        session(&store, "s_cron", "cron", None);
        store
            .append_messages(
                "s_cron",
                &[
                    Message::user("daily docker cleanup report"),
                    Message::assistant("Removed 3 dangling docker images."),
                ],
            )
            .unwrap();
        session(&store, "s_sub", "subagent", None);
        store
            .append_message("s_sub", &Message::user("subagent docker chatter"))
            .unwrap();
        session(&store, "current", "cli", None);
        store
            .append_message("current", &Message::user("what did we do about docker?"))
            .unwrap();
        store
    }

    #[test]
    fn spec_matches_hermes() {
        let tool = SessionSearchTool::new(Arc::new(Store::open_in_memory().unwrap()));
        assert_eq!(tool.spec().name, "session_search");
        let props = &tool.spec().parameters["properties"];
        for p in [
            "query",
            "limit",
            "sort",
            "detail",
            "session_id",
            "around_message_id",
            "window",
            "role_filter",
        ] {
            assert!(props.get(p).is_some(), "missing {p}");
        }
        assert_eq!(tool.spec().parameters["required"], json!([]));
        assert_eq!(props["sort"]["enum"], json!(["newest", "oldest"]));
        assert!(!tool.is_mutating(&json!({"query": "x"})));
    }

    #[test]
    fn discover_hydrates_the_top_result_and_keeps_the_rest_compact() {
        let store = seeded();
        let out = call(
            &store,
            json!({"query": "docker", "limit": 5}),
            Some("current"),
        );
        assert_eq!(out["success"], true);
        assert_eq!(out["mode"], "discover");
        assert_eq!(out["detail"], "adaptive");
        let results = out["results"].as_array().unwrap();
        let ids: Vec<&str> = results
            .iter()
            .map(|r| r["session_id"].as_str().unwrap())
            .collect();
        // Hidden sources and the current session are left out; cron comes last.
        assert_eq!(ids.len(), 3, "{ids:?}");
        assert!(!ids.contains(&"s_sub") && !ids.contains(&"current"));
        assert_eq!(ids[2], "s_cron");
        assert_eq!(out["count"], 3);
        assert_eq!(out["sessions_searched"], 3);

        let top = &results[0];
        assert_eq!(top["detail"], "full");
        assert_eq!(top["link"], format!("@session:{}", ids[0]));
        assert!(top["snippet"].as_str().unwrap().contains(">>>"));
        let anchor = top["match_message_id"].as_i64().unwrap();
        let msgs = top["messages"].as_array().unwrap();
        assert!(
            msgs.iter()
                .any(|m| m["id"] == anchor && m["anchor"] == true)
        );
        assert!(top["when"].as_str().unwrap().contains(" at "));
        let second = &results[1];
        assert_eq!(second["detail"], "compact");
        assert_eq!(second["messages"].as_array().unwrap().len(), 1);
        assert_eq!(second["bookend_start"], json!([]));

        let full = call(
            &store,
            json!({"query": "docker", "limit": 5, "detail": "full"}),
            Some("current"),
        );
        assert!(
            full["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["detail"] == "full")
        );
        let limited = call(&store, json!({"query": "docker", "limit": 1}), None);
        assert_eq!(limited["count"], 1);
    }

    #[test]
    fn discover_window_and_bookends_in_a_long_session() {
        let store = Store::open_in_memory().unwrap();
        session(&store, "long", "cli", None);
        let mut msgs = vec![Message::user("goal: migrate the wiki")];
        for i in 0..30 {
            msgs.push(Message::assistant(format!("step {i} done")));
            msgs.push(Message::user(format!("continue {i}")));
        }
        msgs[31] = Message::assistant("the pelican checkpoint passed");
        msgs.push(Message::assistant("all finished, wiki migrated"));
        msgs.push(Message::user("x".repeat(5000)));
        store.append_messages("long", &msgs).unwrap();
        let out = call(&store, json!({"query": "pelican"}), None);
        let r = &out["results"][0];
        assert_eq!(r["detail"], "full");
        assert_eq!(r["messages"].as_array().unwrap().len(), 11);
        assert_eq!(r["messages_before"], 5);
        assert_eq!(r["messages_after"], 5);
        assert_eq!(r["bookend_start"][0]["content"], "goal: migrate the wiki");
        let end = r["bookend_end"].as_array().unwrap();
        assert_eq!(end.len(), 3);
        let last = &end[2];
        assert_eq!(last["content_truncated"], true);
        assert_eq!(last["original_content_chars"], 5000);
        assert_eq!(
            last["content"].as_str().unwrap().chars().count(),
            BOOKEND_CONTENT_CHARS + 1
        );
    }

    #[test]
    fn discover_finds_cjk_and_reports_no_hits() {
        let store = seeded();
        let out = call(&store, json!({"query": "数据库"}), None);
        assert_eq!(out["results"][0]["session_id"], "s_tax");
        let out = call(&store, json!({"query": "迁移"}), None);
        assert_eq!(out["results"][0]["session_id"], "s_tax");
        let out = call(&store, json!({"query": "zeppelin"}), None);
        assert_eq!(out["count"], 0);
        assert_eq!(out["results"], json!([]));
        assert_eq!(out["message"], "No matching sessions found.");
        // Odd input is not an error.
        for q in ["\"", "AND OR", "*", "(", "NOT"] {
            let out = call(&store, json!({"query": q}), None);
            assert_eq!(out["success"], true, "{q}: {out}");
        }
    }

    #[test]
    fn a_title_match_comes_first() {
        let store = seeded();
        let out = call(&store, json!({"query": "'Staging network'"}), None);
        let first = &out["results"][0];
        assert_eq!(first["matched_role"], "session_title");
        assert_eq!(first["session_id"], "s_docker");
        assert_eq!(first["snippet"], "Session title matched: Staging network");
        assert_eq!(first["detail"], "full");
        assert_eq!(first["link"], "@session:s_docker");
    }

    #[test]
    fn role_filter_reaches_tool_output() {
        let store = seeded();
        let out = call(&store, json!({"query": "container"}), None);
        assert_eq!(out["count"], 0);
        let out = call(
            &store,
            json!({"query": "container", "role_filter": "tool"}),
            None,
        );
        assert_eq!(out["count"], 1);
        assert_eq!(out["results"][0]["matched_role"], "tool");
    }

    #[test]
    fn compressed_ancestors_of_the_current_session_stay_discoverable() {
        let store = Store::open_in_memory().unwrap();
        session(&store, "old", "cli", None);
        store
            .append_message("old", &Message::user("the walrus protocol details"))
            .unwrap();
        store.end_session("old", "compression").unwrap();
        session(&store, "tip", "cli", Some("old"));
        store
            .append_message("tip", &Message::user("walrus summary carried over"))
            .unwrap();
        let out = call(&store, json!({"query": "walrus"}), Some("tip"));
        let ids: Vec<&str> = out["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["session_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["old"]);
        // A live (not ended) parent of the current session is already in context.
        let store2 = Store::open_in_memory().unwrap();
        session(&store2, "p", "cli", None);
        store2
            .append_message("p", &Message::user("walrus in the parent"))
            .unwrap();
        session(&store2, "c", "cli", Some("p"));
        let out = call(&store2, json!({"query": "walrus"}), Some("c"));
        assert_eq!(out["count"], 0);
    }

    #[test]
    fn scroll_returns_a_window_and_checks_its_anchor() {
        let store = Store::open_in_memory().unwrap();
        session(&store, "s", "cli", None);
        let ids = store
            .append_messages(
                "s",
                &(0..30)
                    .map(|i| Message::user(format!("line {i}")))
                    .collect::<Vec<_>>(),
            )
            .unwrap();
        let out = call(
            &store,
            json!({"session_id": "s", "around_message_id": ids[15], "window": 3}),
            None,
        );
        assert_eq!(out["mode"], "scroll");
        assert_eq!(out["window"], 3);
        let msgs = out["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 7);
        assert_eq!(msgs[3]["anchor"], true);
        assert_eq!(msgs[3]["content"], "line 15");
        assert_eq!(out["messages_before"], 3);
        assert_eq!(out["messages_after"], 3);
        assert_eq!(out["session_meta"]["source"], "cli");
        // Window is clamped to [1, 20]; the edge shows fewer.
        let out = call(
            &store,
            json!({"session_id": "s", "around_message_id": ids[28], "window": 99}),
            None,
        );
        assert_eq!(out["window"], 20);
        assert_eq!(out["messages_after"], 1);
        // Errors come back as Hermes' tool errors.
        let out = call(
            &store,
            json!({"session_id": "s", "around_message_id": 999_999}),
            None,
        );
        assert_eq!(out["success"], false);
        assert!(out["error"].as_str().unwrap().contains("not in session_id"));
        let out = call(
            &store,
            json!({"session_id": "s", "around_message_id": "abc"}),
            None,
        );
        assert_eq!(out["error"], "scroll requires integer around_message_id");
        let out = call(
            &store,
            json!({"session_id": "nope", "around_message_id": ids[0]}),
            None,
        );
        assert_eq!(out["success"], false);
        // The current session's own live rows are already in context.
        let out = call(
            &store,
            json!({"session_id": "s", "around_message_id": ids[3]}),
            Some("s"),
        );
        assert!(
            out["error"]
                .as_str()
                .unwrap()
                .starts_with("scroll rejected")
        );
    }

    #[test]
    fn scroll_rebinds_to_the_child_that_owns_the_anchor() {
        let store = Store::open_in_memory().unwrap();
        session(&store, "parent", "cli", None);
        store.append_message("parent", &Message::user("p")).unwrap();
        session(&store, "child", "cli", Some("parent"));
        let id = store
            .append_message("child", &Message::user("in the child"))
            .unwrap();
        let out = call(
            &store,
            json!({"session_id": "parent", "around_message_id": id}),
            None,
        );
        assert_eq!(out["session_id"], "child");
        assert!(out["warning"].as_str().unwrap().contains("rebound"));
    }

    #[test]
    fn read_dumps_small_sessions_and_bounds_large_ones() {
        let store = seeded();
        let out = call(&store, json!({"session_id": "s_docker"}), None);
        assert_eq!(out["mode"], "read");
        assert_eq!(out["message_count"], 7);
        assert_eq!(out["truncated"], false);
        assert_eq!(out["link"], "@session:s_docker");
        assert_eq!(out["session_meta"]["title"], "Staging network");
        let msgs = out["messages"].as_array().unwrap();
        assert_eq!(msgs[3]["tool_calls"][0]["function"]["name"], "terminal");
        assert!(msgs[3]["content"].is_null());
        assert_eq!(msgs[4]["tool_call_id"], "c1");
        assert_eq!(msgs[4]["tool_name"], "terminal");
        // Link forms are accepted.
        for sid in [
            "default/s_docker",
            "@session:default/s_docker",
            "@session:s_docker",
        ] {
            let out = call(&store, json!({"session_id": sid}), None);
            assert_eq!(out["session_id"], "s_docker", "{sid}");
        }
        let out = call(&store, json!({"session_id": "missing"}), None);
        assert_eq!(out["success"], false);
        assert_eq!(out["error"], "session_id not found: missing");

        session(&store, "big", "cli", None);
        store
            .append_messages(
                "big",
                &(0..45)
                    .map(|i| Message::user(format!("m{i}")))
                    .collect::<Vec<_>>(),
            )
            .unwrap();
        let out = call(&store, json!({"session_id": "big"}), None);
        assert_eq!(out["truncated"], true);
        assert_eq!(out["message_count"], 45);
        let msgs = out["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 30);
        assert_eq!(msgs[19]["content"], "m19");
        assert_eq!(msgs[20]["content"], "m35");
        assert!(
            out["message"]
                .as_str()
                .unwrap()
                .contains("first 20 + last 10")
        );
    }

    #[test]
    fn browse_lists_recent_sessions() {
        let store = seeded();
        let out = call(&store, json!({}), Some("current"));
        assert_eq!(out["mode"], "browse");
        let results = out["results"].as_array().unwrap();
        assert_eq!(results.len(), 3, "default limit is 3");
        let ids: Vec<&str> = results
            .iter()
            .map(|r| r["session_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["s_cron", "s_tax", "s_docker"]);
        assert_eq!(results[1]["preview"], "我们今天讨论数据库迁移的问题");
        assert_eq!(results[2]["title"], "Staging network");
        assert!(results[0]["started_at"].is_f64());
        let out = call(&store, json!({"limit": 10, "query": "  "}), None);
        assert_eq!(out["count"], 4, "subagent stays hidden, current included");
        assert!(out["message"].as_str().unwrap().starts_with("Showing 4"));
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(format_when(Some(0.0)), "January 01, 1970 at 12:00 AM UTC");
        assert_eq!(
            format_when(Some(1_784_111_100.0)),
            "July 15, 2026 at 10:25 AM UTC"
        );
        assert_eq!(format_when(None), "unknown");
        assert_eq!(strip_ansi("\u{1b}[31mred\u{1b}[0m ok"), "red ok");
        assert_eq!(strip_ansi("\u{1b}]0;title\u{7}text"), "text");
        assert_eq!(normalize_session_id(" work/abc "), "abc");
    }

    #[tokio::test]
    async fn the_tool_runs_off_the_async_runtime() {
        let store = Arc::new(seeded());
        let tool = SessionSearchTool::new(store);
        let ctx = ToolContext {
            session_id: "current".into(),
            lineage_id: "current".into(),
            workspace: PathBuf::from("/nonexistent"),
            cancel: Default::default(),
        };
        let out = tool.call(json!({"query": "docker"}), &ctx).await.unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["success"], true);
        assert!(!out.contains("\\u"), "non-ASCII is written as is: {out}");
    }
}
