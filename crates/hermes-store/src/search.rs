//! Full-text search over messages, routed the way Hermes routes it:
//!
//! - words → `messages_fts` (unicode61, BM25); when that finds nothing and every term has
//!   at least three characters, the trigram index is tried for substring matches;
//! - CJK text → `messages_fts_trigram` when every term has at least three characters
//!   (the trigram tokenizer cannot match less), otherwise a LIKE scan;
//! - a LIKE scan also answers when the database has no usable FTS index, when Hermes
//!   marked the indexes stale (`state_meta('fts_stale')`), or when tool output is wanted
//!   from the trigram route of a v23+ file (whose trigram index leaves tool rows out; the
//!   legacy index of a 0.19 file holds them).
//!
//! Both FTS layouts (see [`crate::fts_layout`]) answer the same queries: terms are never
//! tied to a column, and snippets take whichever column matched (`-1`), which on a legacy
//! file is its one `content || tool_name || tool_calls` column.
//!
//! User text never reaches MATCH raw: see [`crate::fts_query`].

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use crate::error::{DbContext, StoreError};
use crate::fts_layout::FtsLayout;
use crate::fts_query::{FtsQuery, escape_like};
use crate::schema;
use crate::store::Store;

/// Result order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchSort {
    /// BM25 rank (LIKE scans: newest first).
    #[default]
    Relevance,
    Newest,
    Oldest,
}

/// What to search and how much to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchOptions {
    /// Only this session.
    pub session_id: Option<String>,
    /// Only these roles (empty: all).
    pub roles: Vec<String>,
    /// Only sessions of these sources (empty: all).
    pub sources: Vec<String>,
    /// Leave out sessions of these sources.
    pub exclude_sources: Vec<String>,
    pub sort: SearchSort,
    pub limit: usize,
    pub offset: usize,
    /// Also rows hidden by rewind/undo (`active = 0, compacted = 0`).
    pub include_inactive: bool,
}

impl Default for SearchOptions {
    fn default() -> SearchOptions {
        SearchOptions {
            session_id: None,
            roles: Vec::new(),
            sources: Vec::new(),
            exclude_sources: Vec::new(),
            sort: SearchSort::Relevance,
            limit: 20,
            offset: 0,
            include_inactive: false,
        }
    }
}

/// Which path answered a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchRoute {
    /// `messages_fts` (unicode61).
    Fts,
    /// `messages_fts_trigram`.
    Trigram,
    /// A LIKE scan of `messages`.
    Like,
}

/// One matching message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    pub message_id: i64,
    pub session_id: String,
    pub role: String,
    /// An excerpt with the match marked `>>>…<<<` (FTS) or a 120-character window (LIKE).
    pub snippet: String,
    pub timestamp: f64,
    pub tool_name: Option<String>,
    pub source: String,
    pub model: Option<String>,
    pub session_title: Option<String>,
    pub session_started: f64,
    pub route: SearchRoute,
}

struct Args(Vec<SqlValue>);

impl Args {
    fn push(&mut self, v: impl Into<SqlValue>) -> String {
        self.0.push(v.into());
        format!("?{}", self.0.len())
    }
}

fn object_exists(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT 1 FROM sqlite_master WHERE name = ?1",
        [name],
        |_| Ok(()),
    )
    .optional()
    .ctx("inspecting the FTS indexes")
    .map(|o| o.is_some())
}

fn filter_clauses(where_: &mut Vec<String>, args: &mut Args, opts: &SearchOptions) {
    if !opts.include_inactive {
        where_.push("(m.active = 1 OR m.compacted = 1)".into());
    }
    where_.push("COALESCE(m.display_kind, '') <> 'hidden'".into());
    if let Some(sid) = &opts.session_id {
        let p = args.push(sid.clone());
        where_.push(format!("m.session_id = {p}"));
    }
    if !opts.sources.is_empty() {
        let marks: Vec<String> = opts.sources.iter().map(|s| args.push(s.clone())).collect();
        where_.push(format!("s.source IN ({})", marks.join(",")));
    }
    if !opts.exclude_sources.is_empty() {
        let marks: Vec<String> = opts
            .exclude_sources
            .iter()
            .map(|s| args.push(s.clone()))
            .collect();
        where_.push(format!("s.source NOT IN ({})", marks.join(",")));
    }
    if !opts.roles.is_empty() {
        let marks: Vec<String> = opts.roles.iter().map(|r| args.push(r.clone())).collect();
        where_.push(format!("m.role IN ({})", marks.join(",")));
    }
}

const SELECT_TAIL: &str = "m.timestamp, m.tool_name, s.source, s.model, s.title, s.started_at";

fn run(
    conn: &Connection,
    sql: &str,
    args: Args,
    route: SearchRoute,
) -> rusqlite::Result<Vec<SearchHit>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args.0), |r| {
        Ok(SearchHit {
            message_id: r.get(0)?,
            session_id: r.get(1)?,
            role: r.get(2)?,
            // Legacy rows end in the `' ' || tool_name || ' ' || tool_calls` padding.
            snippet: r
                .get::<_, Option<String>>(3)?
                .map(|s| s.trim_end().to_string())
                .unwrap_or_default(),
            timestamp: r.get::<_, Option<f64>>(4)?.unwrap_or(0.0),
            tool_name: r.get(5)?,
            source: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
            model: r.get(7)?,
            session_title: r.get(8)?,
            session_started: r.get::<_, Option<f64>>(9)?.unwrap_or(0.0),
            route,
        })
    })?;
    rows.collect()
}

fn limit_of(opts: &SearchOptions) -> (i64, i64) {
    (
        opts.limit.min(100_000) as i64,
        opts.offset.min(i64::MAX as usize) as i64,
    )
}

/// One MATCH against `table`. `Ok(None)` when SQLite rejects the query or the index
/// (so the caller can fall back to a scan).
fn match_rows(
    conn: &Connection,
    table: &str,
    match_expr: &str,
    opts: &SearchOptions,
    route: SearchRoute,
) -> Result<Option<Vec<SearchHit>>, StoreError> {
    let mut args = Args(Vec::new());
    let p = args.push(match_expr.to_string());
    let mut where_ = vec![format!("{table} MATCH {p}")];
    filter_clauses(&mut where_, &mut args, opts);
    let order = match opts.sort {
        SearchSort::Relevance => format!("ORDER BY {table}.rank"),
        SearchSort::Newest => format!("ORDER BY m.timestamp DESC, {table}.rank"),
        SearchSort::Oldest => format!("ORDER BY m.timestamp ASC, {table}.rank"),
    };
    let (limit, offset) = limit_of(opts);
    let l = args.push(limit);
    let o = args.push(offset);
    let sql = format!(
        "SELECT m.id, m.session_id, m.role,
                snippet({table}, -1, '>>>', '<<<', '...', 40), {SELECT_TAIL}
         FROM {table} JOIN messages m ON m.id = {table}.rowid
         JOIN sessions s ON s.id = m.session_id
         WHERE {} {order} LIMIT {l} OFFSET {o}",
        where_.join(" AND ")
    );
    match run(conn, &sql, args, route) {
        Ok(rows) => Ok(Some(rows)),
        Err(rusqlite::Error::SqliteFailure(e, msg))
            if e.code == rusqlite::ErrorCode::Unknown
                || e.code == rusqlite::ErrorCode::DatabaseCorrupt =>
        {
            tracing::warn!(
                index = table,
                error = ?msg,
                "FTS query failed; answering from a scan of the messages table"
            );
            Ok(None)
        }
        Err(e) => Err(StoreError::Db {
            op: "searching messages",
            source: e,
        }),
    }
}

fn like_rows(
    conn: &Connection,
    query: &FtsQuery,
    opts: &SearchOptions,
) -> Result<Vec<SearchHit>, StoreError> {
    let groups = query.like_groups();
    let Some(first_term) = groups
        .iter()
        .flat_map(|g| g.iter())
        .find(|(_, neg)| !neg)
        .map(|(t, _)| t.clone())
    else {
        return Ok(Vec::new());
    };
    let mut args = Args(Vec::new());
    let snippet_arg = args.push(first_term);
    let mut ors = Vec::new();
    for group in &groups {
        let mut ands = Vec::new();
        for (term, negated) in group {
            let p = args.push(format!("%{}%", escape_like(term)));
            let clause = format!(
                "(COALESCE(m.content, '') LIKE {p} ESCAPE '\\' \
                  OR COALESCE(m.tool_name, '') LIKE {p} ESCAPE '\\' \
                  OR COALESCE(m.tool_calls, '') LIKE {p} ESCAPE '\\')"
            );
            ands.push(if *negated {
                format!("NOT {clause}")
            } else {
                clause
            });
        }
        ors.push(format!("({})", ands.join(" AND ")));
    }
    let mut where_ = vec![format!("({})", ors.join(" OR "))];
    filter_clauses(&mut where_, &mut args, opts);
    let dir = if opts.sort == SearchSort::Oldest {
        "ASC"
    } else {
        "DESC"
    };
    let (limit, offset) = limit_of(opts);
    let l = args.push(limit);
    let o = args.push(offset);
    let sql = format!(
        "SELECT m.id, m.session_id, m.role,
                substr(m.content, max(1, instr(m.content, {snippet_arg}) - 40), 120),
                {SELECT_TAIL}
         FROM messages m JOIN sessions s ON s.id = m.session_id
         WHERE {} ORDER BY m.timestamp {dir}, m.id {dir} LIMIT {l} OFFSET {o}",
        where_.join(" AND ")
    );
    run(conn, &sql, args, SearchRoute::Like).ctx("scanning messages")
}

impl Store {
    /// Searches messages. An empty or all-punctuation query returns nothing; no input
    /// produces an FTS syntax error.
    pub fn search(&self, query: &str, opts: &SearchOptions) -> Result<Vec<SearchHit>, StoreError> {
        let q = FtsQuery::parse(query);
        if q.is_empty() || opts.limit == 0 {
            return Ok(Vec::new());
        }
        self.read(|c| {
            let stale = c
                .query_row(
                    "SELECT 1 FROM state_meta WHERE key = ?1",
                    [schema::FTS_STALE_KEY],
                    |_| Ok(()),
                )
                .optional()
                .ctx("reading search state")?
                .is_some();
            let has_base = !stale && object_exists(c, "messages_fts")?;
            let has_trigram = !stale && object_exists(c, "messages_fts_trigram")?;
            let wants_tool = opts.roles.iter().any(|r| r == "tool");
            let tool_rows_ok = !wants_tool || FtsLayout::detect(c)?.trigram_has_tool_rows();
            let trigram_ok = has_trigram && q.trigram_eligible() && tool_rows_ok;

            if q.has_cjk() {
                if trigram_ok
                    && let Some(rows) = match_rows(
                        c,
                        "messages_fts_trigram",
                        &q.to_match(false),
                        opts,
                        SearchRoute::Trigram,
                    )?
                {
                    return Ok(rows);
                }
                return like_rows(c, &q, opts);
            }
            if has_base {
                match match_rows(c, "messages_fts", &q.to_match(true), opts, SearchRoute::Fts)? {
                    Some(rows) if !rows.is_empty() => return Ok(rows),
                    Some(_) => {
                        if trigram_ok
                            && let Some(rows) = match_rows(
                                c,
                                "messages_fts_trigram",
                                &q.to_match(false),
                                opts,
                                SearchRoute::Trigram,
                            )?
                        {
                            return Ok(rows);
                        }
                        return Ok(Vec::new());
                    }
                    None => {}
                }
            }
            like_rows(c, &q, opts)
        })
    }
}
