//! Sessions: creating, listing, resolving, ending and deleting them.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::{Map, Value};

use hermes_core::{Message, NewSession};

use crate::error::{DbContext, StoreError};
use crate::rowmap::{self, get_bool, get_f64, get_i64, get_str};
use crate::store::Store;
use crate::titles;

/// Which sessions [`Store::list_sessions`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFilter {
    /// Only this source (`cli`, `telegram`, `api_server`, …).
    pub source: Option<String>,
    /// Leave out these sources (Hermes hides `tool` in `sessions list`).
    pub exclude_sources: Vec<String>,
    pub limit: usize,
    pub offset: usize,
}

impl Default for SessionFilter {
    /// Hermes' `sessions list` default: 20 rows, every source.
    fn default() -> SessionFilter {
        SessionFilter {
            source: None,
            exclude_sources: Vec::new(),
            limit: 20,
            offset: 0,
        }
    }
}

/// One line of `hermes sessions list`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionSummary {
    pub id: String,
    pub source: String,
    pub title: Option<String>,
    /// The first user message, one line, at most 60 characters plus `...`.
    pub preview: String,
    pub started_at: f64,
    /// Last activity: `last_activity_at`, else the newest message, else `started_at`.
    pub last_active: f64,
    pub ended_at: Option<f64>,
    pub end_reason: Option<String>,
    pub message_count: i64,
    pub model: Option<String>,
    pub parent_session_id: Option<String>,
}

/// A `sessions` row. The common columns are typed; `columns` holds every column the file
/// has (Hermes adds columns over time), with `system_prompt` resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionRow {
    pub id: String,
    pub source: String,
    pub title: Option<String>,
    pub title_source: Option<String>,
    pub model: Option<String>,
    pub model_config: Option<String>,
    /// Resolved from `system_prompts` (or the legacy column).
    pub system_prompt: Option<String>,
    pub parent_session_id: Option<String>,
    pub started_at: f64,
    pub ended_at: Option<f64>,
    pub end_reason: Option<String>,
    pub last_activity_at: Option<f64>,
    pub message_count: i64,
    pub tool_call_count: i64,
    pub api_call_count: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub reasoning_tokens: i64,
    pub estimated_cost_usd: Option<f64>,
    pub actual_cost_usd: Option<f64>,
    pub cost_status: Option<String>,
    pub cost_source: Option<String>,
    pub pricing_version: Option<String>,
    pub billing_provider: Option<String>,
    pub billing_base_url: Option<String>,
    pub billing_mode: Option<String>,
    pub cwd: Option<String>,
    pub archived: bool,
    pub pinned: bool,
    pub columns: Map<String, Value>,
}

impl SessionRow {
    fn from_map(mut columns: Map<String, Value>) -> SessionRow {
        let resolved = columns.remove("__resolved_system_prompt");
        if let Some(Value::String(p)) = resolved {
            columns.insert("system_prompt".into(), Value::String(p));
        }
        let c = &columns;
        SessionRow {
            id: get_str(c, "id").unwrap_or_default(),
            source: get_str(c, "source").unwrap_or_default(),
            title: get_str(c, "title"),
            title_source: get_str(c, "title_source"),
            model: get_str(c, "model"),
            model_config: get_str(c, "model_config"),
            system_prompt: get_str(c, "system_prompt"),
            parent_session_id: get_str(c, "parent_session_id"),
            started_at: get_f64(c, "started_at").unwrap_or(0.0),
            ended_at: get_f64(c, "ended_at"),
            end_reason: get_str(c, "end_reason"),
            last_activity_at: get_f64(c, "last_activity_at"),
            message_count: get_i64(c, "message_count").unwrap_or(0),
            tool_call_count: get_i64(c, "tool_call_count").unwrap_or(0),
            api_call_count: get_i64(c, "api_call_count").unwrap_or(0),
            input_tokens: get_i64(c, "input_tokens").unwrap_or(0),
            output_tokens: get_i64(c, "output_tokens").unwrap_or(0),
            cache_read_tokens: get_i64(c, "cache_read_tokens").unwrap_or(0),
            cache_write_tokens: get_i64(c, "cache_write_tokens").unwrap_or(0),
            reasoning_tokens: get_i64(c, "reasoning_tokens").unwrap_or(0),
            estimated_cost_usd: get_f64(c, "estimated_cost_usd"),
            actual_cost_usd: get_f64(c, "actual_cost_usd"),
            cost_status: get_str(c, "cost_status"),
            cost_source: get_str(c, "cost_source"),
            pricing_version: get_str(c, "pricing_version"),
            billing_provider: get_str(c, "billing_provider"),
            billing_base_url: get_str(c, "billing_base_url"),
            billing_mode: get_str(c, "billing_mode"),
            cwd: get_str(c, "cwd"),
            archived: get_bool(c, "archived"),
            pinned: get_bool(c, "pinned"),
            columns,
        }
    }
}

/// A session's place in its parent chain (compression, branches, delegation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lineage {
    /// The oldest ancestor reachable through `parent_session_id`.
    pub root: String,
    /// Some session on the chain ended with `end_reason = 'compression'`.
    pub has_compression_hop: bool,
}

/// Prefixes of generated context-compaction handoff messages (not user content).
pub const COMPACTION_PREFIXES: &[&str] = &["[CONTEXT COMPACTION", "[CONTEXT SUMMARY]:"];

/// True when `content` is a generated compaction handoff.
pub fn is_compaction_summary(content: &str) -> bool {
    let t = content.trim_start();
    COMPACTION_PREFIXES.iter().any(|p| t.starts_with(p))
}

/// Hermes' session-list preview: newlines become spaces; the first 63 characters are
/// taken and anything longer than 60 is cut to 60 plus `...`.
pub fn shape_preview(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .take(63)
        .collect();
    let one_line = one_line.trim().to_string();
    if one_line.chars().count() > 60 {
        let cut: String = one_line.chars().take(60).collect();
        format!("{cut}...")
    } else {
        one_line
    }
}

/// SQL for the first eligible user message of session `s` (a bounded prefix of it, or the
/// whole value when it is structured content that must be decoded).
/// (Structured content starts with a NUL byte, which SQLite's text functions treat as the
/// end of the string, so it is recognised through a BLOB cast.)
const FIRST_USER_SQL: &str = "(SELECT CASE WHEN substr(CAST(m.content AS BLOB), 1, 1) = x'00'
                                   THEN m.content ELSE substr(m.content, 1, 400) END
        FROM messages m
        WHERE m.session_id = s.id AND m.role = 'user' AND m.active = 1
          AND m.content IS NOT NULL
          AND COALESCE(m.display_kind, '') <> 'hidden'
          AND ltrim(m.content) NOT LIKE '[CONTEXT COMPACTION%'
          AND ltrim(m.content) NOT LIKE '[CONTEXT SUMMARY]:%'
        ORDER BY m.id LIMIT 1)";

const LAST_ACTIVE_SQL: &str = "COALESCE(s.last_activity_at,
        (SELECT MAX(m.timestamp) FROM messages m WHERE m.session_id = s.id), s.started_at)";

pub(crate) fn session_exists(conn: &Connection, id: &str) -> Result<bool, StoreError> {
    conn.query_row("SELECT 1 FROM sessions WHERE id = ?1", [id], |_| Ok(()))
        .optional()
        .ctx("looking up a session")
        .map(|o| o.is_some())
}

fn get_session_on(conn: &Connection, id: &str) -> Result<Option<SessionRow>, StoreError> {
    conn.query_row(
        "SELECT s.*, sp.prompt AS __resolved_system_prompt
         FROM sessions s LEFT JOIN system_prompts sp ON sp.hash = s.system_prompt_hash
         WHERE s.id = ?1",
        [id],
        rowmap::row_to_map,
    )
    .optional()
    .ctx("reading a session")
    .map(|o| o.map(SessionRow::from_map))
}

impl Store {
    /// Sessions, newest activity first.
    pub fn list_sessions(&self, filter: &SessionFilter) -> Result<Vec<SessionSummary>, StoreError> {
        self.read(|c| list_sessions_on(c, filter))
    }

    /// One session row, or `None`.
    pub fn get_session(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        self.read(|c| get_session_on(c, id))
    }

    /// The id of the most recently active session (optionally of one source), for
    /// `--continue`.
    pub fn latest_session(&self, source: Option<&str>) -> Result<Option<String>, StoreError> {
        let filter = SessionFilter {
            source: source.map(str::to_string),
            limit: 1,
            ..SessionFilter::default()
        };
        Ok(self
            .list_sessions(&filter)?
            .into_iter()
            .next()
            .map(|s| s.id))
    }

    /// Resolves what a person typed to a session id: an exact id, a unique id prefix, or a
    /// title (the newest `"title #N"` continuation wins over `"title"`).
    pub fn resolve_session(&self, input: &str) -> Result<String, StoreError> {
        let needle = input.trim();
        if needle.is_empty() {
            return Err(StoreError::SessionNotFound(input.to_string()));
        }
        self.read(|c| {
            if session_exists(c, needle)? {
                return Ok(needle.to_string());
            }
            let mut stmt = c
                .prepare(
                    "SELECT id FROM sessions WHERE id LIKE ?1 ESCAPE '\\' ORDER BY id LIMIT 11",
                )
                .ctx("resolving a session id prefix")?;
            let pattern = format!("{}%", crate::fts_query::escape_like(needle));
            let candidates: Vec<String> = stmt
                .query_map([pattern], |r| r.get(0))
                .and_then(|rows| rows.collect())
                .ctx("resolving a session id prefix")?;
            if candidates.len() == 1 {
                return Ok(candidates.into_iter().next().unwrap_or_default());
            }
            if let Some(id) = titles::resolve_title_on(c, needle)? {
                return Ok(id);
            }
            if candidates.len() > 1 {
                return Err(StoreError::AmbiguousSession {
                    input: needle.to_string(),
                    candidates,
                });
            }
            Err(StoreError::SessionNotFound(needle.to_string()))
        })
    }

    /// Walks `parent_session_id` up to the root of `session_id`'s lineage.
    pub fn lineage(&self, session_id: &str) -> Result<Lineage, StoreError> {
        self.read(|c| {
            let mut seen = std::collections::HashSet::new();
            let mut cur = session_id.to_string();
            let mut has_compression_hop = false;
            while seen.insert(cur.clone()) {
                let row: Option<(Option<String>, Option<String>)> = c
                    .query_row(
                        "SELECT parent_session_id, end_reason FROM sessions WHERE id = ?1",
                        [&cur],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .ctx("walking a session lineage")?;
                let Some((parent, end_reason)) = row else {
                    break;
                };
                if end_reason.as_deref() == Some("compression") {
                    has_compression_hop = true;
                }
                match parent {
                    Some(p) if !p.is_empty() => cur = p,
                    _ => break,
                }
            }
            Ok(Lineage {
                root: cur,
                has_compression_hop,
            })
        })
    }

    /// Creates a session row. A continuation (`parent_session_id` set) inherits the
    /// parent's routing columns and continues its title as `"title #N"`, as Hermes does
    /// when compression rotates to a new session.
    pub fn create_session(&self, s: &NewSession) -> Result<(), StoreError> {
        let title = match &s.title {
            Some(t) => titles::sanitize_title(t)?,
            None => None,
        };
        self.write("creating a session", |tx| insert_session(tx, s, title))
    }

    /// Marks a session ended. The first reason stamped wins; later calls change nothing.
    pub fn end_session(&self, session_id: &str, reason: &str) -> Result<(), StoreError> {
        self.write("ending a session", |tx| stamp_end(tx, session_id, reason))
    }

    /// Continues a conversation in a new session (context compression), in one
    /// transaction: the child session with its messages is created and the parent is
    /// ended. A crash leaves either the old session alone or both, never a half-built
    /// child. `summary_index` marks the compaction summary among `messages`.
    pub fn rotate_session(
        &self,
        child: &NewSession,
        messages: &[Message],
        summary_index: Option<usize>,
        parent: &str,
        reason: &str,
    ) -> Result<Vec<i64>, StoreError> {
        let title = match &child.title {
            Some(t) => titles::sanitize_title(t)?,
            None => None,
        };
        self.write("continuing in a new session", |tx| {
            insert_session(tx, child, title)?;
            let ids = crate::messages::insert_messages(tx, &child.id, messages, summary_index)?;
            stamp_end(tx, parent, reason)?;
            Ok(ids)
        })
    }

    /// Clears the end stamp of a session that is being resumed, so it shows as active
    /// again. Unknown ids are an error.
    pub fn reopen_session(&self, session_id: &str) -> Result<(), StoreError> {
        self.write("reopening a session", |tx| {
            if !session_exists(tx, session_id)? {
                return Err(StoreError::SessionNotFound(session_id.to_string()));
            }
            tx.execute(
                "UPDATE sessions SET ended_at = NULL, end_reason = NULL WHERE id = ?1",
                [session_id],
            )
            .ctx("reopening a session")?;
            Ok(())
        })
    }

    /// Deletes a session with its messages (the FTS triggers drop them from the indexes)
    /// and usage rows. Child sessions are kept and detached from it.
    pub fn delete_session(&self, session_id: &str) -> Result<(), StoreError> {
        self.write("deleting a session", |tx| {
            if !session_exists(tx, session_id)? {
                return Err(StoreError::SessionNotFound(session_id.to_string()));
            }
            tx.execute("DELETE FROM messages WHERE session_id = ?1", [session_id])
                .ctx("deleting messages")?;
            tx.execute(
                "DELETE FROM session_model_usage WHERE session_id = ?1",
                [session_id],
            )
            .ctx("deleting usage rows")?;
            tx.execute(
                "DELETE FROM compression_locks WHERE session_id = ?1",
                [session_id],
            )
            .ctx("deleting a compression lock")?;
            tx.execute(
                "UPDATE sessions SET parent_session_id = NULL WHERE parent_session_id = ?1",
                [session_id],
            )
            .ctx("detaching child sessions")?;
            tx.execute("DELETE FROM sessions WHERE id = ?1", [session_id])
                .ctx("deleting a session")?;
            Ok(())
        })
    }
}

fn list_sessions_on(
    conn: &Connection,
    filter: &SessionFilter,
) -> Result<Vec<SessionSummary>, StoreError> {
    // Page first, then fetch previews only for the rows on the page.
    let mut inner = format!(
        "SELECT s.id, s.source, s.title, s.started_at, s.ended_at, s.end_reason,
                s.message_count, s.model, s.parent_session_id, {LAST_ACTIVE_SQL} AS last_active
         FROM sessions s WHERE 1 = 1"
    );
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(src) = &filter.source {
        args.push(src.clone().into());
        inner.push_str(&format!(" AND s.source = ?{}", args.len()));
    }
    for ex in &filter.exclude_sources {
        args.push(ex.clone().into());
        inner.push_str(&format!(" AND s.source <> ?{}", args.len()));
    }
    args.push((filter.limit.min(i64::MAX as usize) as i64).into());
    let lim = args.len();
    args.push((filter.offset.min(i64::MAX as usize) as i64).into());
    let off = args.len();
    const ORDER: &str = "ORDER BY last_active DESC, s.started_at DESC, s.id DESC";
    inner.push_str(&format!(" {ORDER} LIMIT ?{lim} OFFSET ?{off}"));
    let sql = format!(
        "SELECT s.id, s.source, s.title, s.started_at, s.ended_at, s.end_reason,
                s.message_count, s.model, s.parent_session_id, s.last_active,
                {FIRST_USER_SQL} AS first_user
         FROM ({inner}) s {ORDER}"
    );
    let mut stmt = conn.prepare(&sql).ctx("listing sessions")?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args), |r| {
            let first_user: Option<String> = r.get(10)?;
            Ok(SessionSummary {
                id: r.get(0)?,
                source: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                title: r.get(2)?,
                started_at: r.get::<_, Option<f64>>(3)?.unwrap_or(0.0),
                ended_at: r.get(4)?,
                end_reason: r.get(5)?,
                message_count: r.get::<_, Option<i64>>(6)?.unwrap_or(0),
                model: r.get(7)?,
                parent_session_id: r.get(8)?,
                last_active: r.get::<_, Option<f64>>(9)?.unwrap_or(0.0),
                preview: first_user
                    .map(|c| shape_preview(&rowmap::content_text(&c)))
                    .unwrap_or_default(),
            })
        })
        .ctx("listing sessions")?;
    rows.collect::<Result<Vec<_>, _>>().ctx("listing sessions")
}

/// Inserts a session row within a write transaction (see [`Store::create_session`]).
pub(crate) fn insert_session(
    tx: &rusqlite::Transaction<'_>,
    s: &NewSession,
    title: Option<String>,
) -> Result<(), StoreError> {
    if session_exists(tx, &s.id)? {
        return Err(StoreError::SessionExists(s.id.clone()));
    }
    let parent = match &s.parent_session_id {
        Some(p) if !p.is_empty() => {
            if !session_exists(tx, p)? {
                return Err(StoreError::SessionNotFound(p.clone()));
            }
            Some(p.clone())
        }
        _ => None,
    };
    let (title, title_source) = match title {
        Some(t) => {
            titles::ensure_title_free(tx, &t, &s.id)?;
            (Some(t), Some("user"))
        }
        None => match &parent {
            Some(p) => match titles::next_lineage_title(tx, p)? {
                Some(t) => (Some(t), Some("derived")),
                None => (None, None),
            },
            None => (None, None),
        },
    };
    // Where each Hermes reads the prompt: 0.19 (schema 22) from the inline column,
    // v25+ from `system_prompts` through the hash. Both are written, so either
    // generation sees it; a v25+ Hermes upgrading the file later hashes the inline
    // copy to the same key.
    let prompt = s.system_prompt.as_deref().filter(|p| !p.is_empty());
    let hash = match prompt {
        Some(p) => {
            let hash = prompt_hash(p);
            tx.execute(
                "INSERT OR IGNORE INTO system_prompts (hash, prompt) VALUES (?1, ?2)",
                params![hash, p],
            )
            .ctx("storing the system prompt")?;
            Some(hash)
        }
        None => None,
    };
    let non_empty = |v: &str| (!v.is_empty()).then(|| v.to_string());
    tx.execute(
        "INSERT INTO sessions (id, source, model, system_prompt, system_prompt_hash,
                 parent_session_id, started_at, cwd, billing_provider, billing_base_url,
                 title, title_source, message_count, tool_call_count, api_call_count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0, 0, 0)",
        params![
            s.id,
            if s.source.is_empty() {
                "cli"
            } else {
                s.source.as_str()
            },
            non_empty(&s.model),
            prompt,
            hash,
            parent,
            hermes_core::ids::now_ts(),
            s.cwd,
            non_empty(&s.provider),
            non_empty(&s.base_url),
            title,
            title_source,
        ],
    )
    .ctx("creating a session")?;
    if let Some(p) = &parent {
        tx.execute(
            "UPDATE sessions SET (user_id, session_key, chat_id, chat_type, thread_id,
                     display_name, origin_json, profile_name, tool_names, pinned, archived) =
                   (SELECT user_id, session_key, chat_id, chat_type, thread_id,
                     display_name, origin_json, profile_name, tool_names,
                     COALESCE(pinned, 0), COALESCE(archived, 0)
                    FROM sessions WHERE id = ?2)
                 WHERE id = ?1",
            params![s.id, p],
        )
        .ctx("copying the parent session's routing")?;
    }
    Ok(())
}

/// Stamps a session ended within a write transaction; the first reason wins.
pub(crate) fn stamp_end(
    tx: &rusqlite::Transaction<'_>,
    session_id: &str,
    reason: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE sessions SET ended_at = ?2, end_reason = ?3
         WHERE id = ?1 AND ended_at IS NULL",
        params![session_id, hermes_core::ids::now_ts(), reason],
    )
    .ctx("ending a session")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_are_shaped_like_hermes() {
        assert_eq!(shape_preview("hello\nworld"), "hello world");
        let long = "x".repeat(100);
        assert_eq!(shape_preview(&long), format!("{}...", "x".repeat(60)));
        assert_eq!(shape_preview(&"y".repeat(60)), "y".repeat(60));
        assert!(is_compaction_summary("  [CONTEXT SUMMARY]: earlier"));
        assert!(!is_compaction_summary("hello"));
    }
}

/// Hermes keys `system_prompts` by the lowercase hex SHA-256 of the prompt's UTF-8 bytes.
fn prompt_hash(prompt: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(prompt.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod prompt_hash_tests {
    use super::prompt_hash;

    #[test]
    fn matches_hermes_keys() {
        assert_eq!(
            prompt_hash(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            prompt_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
