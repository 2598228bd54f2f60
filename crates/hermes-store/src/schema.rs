//! The on-disk shape of `state.db`, as Hermes Agent writes it.
//!
//! Hermes keeps the schema version in the single-row table `schema_version` (not in
//! `PRAGMA user_version`) and, from v23 on, the FTS layout separately in
//! `state_meta('fts_storage_version')` (see [`crate::fts_layout`]). Schema evolution is
//! additive: every writable open runs the `CREATE … IF NOT EXISTS` statements below and
//! then adds any missing column with `ALTER TABLE ADD COLUMN` (see [`crate::migrate`]);
//! only data migrations are gated on the version number.
//!
//! # The shape we create
//!
//! Hermes Agent 0.19.0 is `SCHEMA_VERSION = 22` with the legacy inline FTS layout
//! ("layout 0": one-column `messages_fts` and `messages_fts_trigram` holding
//! `content || ' ' || tool_name || ' ' || tool_calls` for every row). New databases are
//! created in **that** shape and stamped **22**, with the v28 tables and columns of
//! [`SCHEMA_SQL`] on top. The requirement is that a file written by 0.19 opens and
//! searches here, and that 0.19 reads ours where the columns overlap. Walking through
//! what 0.19 runs on our file:
//!
//! - its `SCHEMA_SQL`, deferred indexes and FTS DDL are all `IF NOT EXISTS`, and every
//!   table, index, virtual table and trigger it declares already exists (the FTS tables
//!   and triggers with the very text 0.19 writes), so nothing is created, rebuilt or
//!   repaired (its trigger-count check finds all six FTS triggers);
//! - its column reconciliation finds every column it declares; the extra v28 columns
//!   (`title_source`, `last_activity_at`, `system_prompt_hash`, `display_kind`, …) all
//!   allow NULL or have defaults, so its `INSERT`s keep working, and it ignores them on
//!   read;
//! - its gated migrations (`current_version < 16/18/20/22`) do not run, and it leaves a
//!   `schema_version` of 22 as it is;
//! - its search (`messages_fts MATCH ?`, `snippet(messages_fts, 0, …)`, trigram for CJK)
//!   runs on exactly the index layout it expects, and our rows are in it because its own
//!   triggers put them there;
//! - it reads the system prompt from `sessions.system_prompt`, which we fill (as well as
//!   `system_prompts` / `system_prompt_hash`, where Hermes v25+ reads it).
//!
//! The alternative, the v28 shape with external-content FTS (layout 1) stamped 28, which
//! earlier hermes-rs builds created, also survives 0.19's `IF NOT EXISTS` DDL because the
//! object names match, but whenever 0.19's own FTS maintenance runs (trigger repair
//! after a trigger went missing, index rebuilds, `hermes sessions repair`) it would issue
//! inline-table statements against external-content tables it never made, and an
//! external-content index given statements meant for an inline one is how FTS5 indexes
//! get corrupted. The 22 / layout-0 shape removes that risk, and a newer Hermes
//! treats our file exactly like any 0.19 file: it runs its own gated migrations from 23
//! up (moving prompts into `system_prompts`, …) and offers `hermes sessions
//! optimize-storage` to convert the FTS layout when the user wants it. Files made by
//! earlier hermes-rs builds (v28 / layout 1) stay as they are and keep working.
//!
//! For databases that already exist we never change `schema_version` (except to insert the
//! row when the table is empty, as Hermes does): raising it would make Hermes skip data
//! migrations we do not perform, and lowering it is never allowed. FTS objects of an
//! existing database are never created, converted or dropped (the one exception is the
//! CJK trap in [`crate::migrate`], handled the way Hermes handles it).

/// The `schema_version` we write into new databases: Hermes 0.19.0's. See the module docs.
pub const SCHEMA_VERSION: i64 = 22;

/// `state_meta` key holding the FTS layout of v23+ files (absent on 0.19 files).
pub const FTS_STORAGE_VERSION_KEY: &str = "fts_storage_version";

/// `state_meta` key recording the last of our own migration steps that ran.
pub const MIGRATION_META_KEY: &str = "hermes_rs_migration";

/// Hermes' v28 `SCHEMA_SQL`: core tables and indexes, all `IF NOT EXISTS`. Every open
/// runs it and adds the columns a file lacks, so every file we use (a 0.19 one included)
/// has at least these tables and columns. It is a superset of 0.19's `SCHEMA_SQL`.
pub const SCHEMA_SQL: &str = r#"
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS system_prompts (
    hash TEXT PRIMARY KEY,
    prompt TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    user_id TEXT,
    session_key TEXT,
    chat_id TEXT,
    chat_type TEXT,
    thread_id TEXT,
    display_name TEXT,
    origin_json TEXT,
    expiry_finalized INTEGER DEFAULT 0,
    model TEXT,
    model_config TEXT,
    system_prompt TEXT,
    system_prompt_hash TEXT,
    parent_session_id TEXT,
    started_at REAL NOT NULL,
    ended_at REAL,
    end_reason TEXT,
    message_count INTEGER DEFAULT 0,
    tool_call_count INTEGER DEFAULT 0,
    input_tokens INTEGER DEFAULT 0,
    output_tokens INTEGER DEFAULT 0,
    cache_read_tokens INTEGER DEFAULT 0,
    cache_write_tokens INTEGER DEFAULT 0,
    reasoning_tokens INTEGER DEFAULT 0,
    cwd TEXT,
    git_branch TEXT,
    git_repo_root TEXT,
    git_metadata_generation INTEGER NOT NULL DEFAULT 0,
    billing_provider TEXT,
    billing_base_url TEXT,
    billing_mode TEXT,
    estimated_cost_usd REAL,
    actual_cost_usd REAL,
    cost_status TEXT,
    cost_source TEXT,
    pricing_version TEXT,
    title TEXT,
    title_source TEXT,
    last_activity_at REAL,
    last_activity_description TEXT,
    last_activity_provenance TEXT,
    api_call_count INTEGER DEFAULT 0,
    handoff_state TEXT,
    handoff_platform TEXT,
    handoff_error TEXT,
    compression_failure_cooldown_until REAL,
    compression_failure_error TEXT,
    compression_fallback_streak INTEGER NOT NULL DEFAULT 0,
    compression_ineffective_count INTEGER NOT NULL DEFAULT 0,
    compression_recovery_deadline REAL,
    profile_name TEXT,
    rewind_count INTEGER NOT NULL DEFAULT 0,
    archived INTEGER NOT NULL DEFAULT 0,
    pinned INTEGER NOT NULL DEFAULT 0,
    hidden INTEGER NOT NULL DEFAULT 0,
    last_read_at REAL,
    tool_names TEXT,
    FOREIGN KEY (parent_session_id) REFERENCES sessions(id),
    FOREIGN KEY (system_prompt_hash) REFERENCES system_prompts(hash)
);

CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    role TEXT NOT NULL,
    content TEXT,
    tool_call_id TEXT,
    tool_calls TEXT,
    tool_name TEXT,
    effect_disposition TEXT,
    timestamp REAL NOT NULL,
    token_count INTEGER,
    finish_reason TEXT,
    reasoning TEXT,
    reasoning_content TEXT,
    reasoning_details TEXT,
    codex_reasoning_items TEXT,
    codex_message_items TEXT,
    platform_message_id TEXT,
    observed INTEGER DEFAULT 0,
    _compressed_summary INTEGER NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 1,
    compacted INTEGER NOT NULL DEFAULT 0,
    api_content TEXT,
    display_kind TEXT,
    display_metadata TEXT
);

CREATE TABLE IF NOT EXISTS session_model_usage (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    billing_provider TEXT NOT NULL DEFAULT '',
    billing_base_url TEXT NOT NULL DEFAULT '',
    billing_mode TEXT NOT NULL DEFAULT '',
    task TEXT NOT NULL DEFAULT '',
    api_call_count INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    estimated_cost_usd REAL NOT NULL DEFAULT 0,
    actual_cost_usd REAL NOT NULL DEFAULT 0,
    cost_status TEXT,
    cost_source TEXT,
    first_seen REAL,
    last_seen REAL,
    PRIMARY KEY (session_id, model, billing_provider, billing_base_url, billing_mode, task)
);

CREATE TABLE IF NOT EXISTS state_meta (
    key TEXT PRIMARY KEY,
    value TEXT
);

CREATE TABLE IF NOT EXISTS gateway_routing (
    scope TEXT NOT NULL DEFAULT '',
    session_key TEXT NOT NULL,
    entry_json TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (scope, session_key)
);

CREATE TABLE IF NOT EXISTS gateway_hygiene_state (
    session_key TEXT PRIMARY KEY,
    failure_streak INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS conversation_generations (
    source TEXT NOT NULL,
    session_key TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (source, session_key)
);

CREATE TABLE IF NOT EXISTS gateway_heartbeats (
    backend_id TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    started_at REAL NOT NULL,
    last_heartbeat REAL NOT NULL,
    profile TEXT NOT NULL DEFAULT '',
    host TEXT NOT NULL DEFAULT ''
);

CREATE TABLE IF NOT EXISTS compression_locks (
    session_id TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    acquired_at REAL NOT NULL,
    expires_at REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS session_turn_leases (
    conversation_id TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    acquired_at REAL NOT NULL,
    expires_at REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS async_delegations (
    delegation_id TEXT PRIMARY KEY,
    origin_session TEXT NOT NULL,
    origin_ui_session_id TEXT NOT NULL DEFAULT '',
    parent_session_id TEXT,
    state TEXT NOT NULL,
    dispatched_at REAL NOT NULL,
    completed_at REAL,
    updated_at REAL NOT NULL,
    event_json TEXT,
    result_json TEXT,
    delivery_state TEXT NOT NULL DEFAULT 'pending',
    delivery_attempts INTEGER NOT NULL DEFAULT 0,
    delivered_at REAL,
    owner_pid INTEGER,
    owner_started_at INTEGER,
    task_json TEXT,
    delivery_claim TEXT,
    delivery_claimed_at REAL
);

CREATE INDEX IF NOT EXISTS idx_sessions_source ON sessions(source);
CREATE INDEX IF NOT EXISTS idx_sessions_source_id ON sessions(source, id);
CREATE INDEX IF NOT EXISTS idx_sessions_parent ON sessions(parent_session_id);
CREATE INDEX IF NOT EXISTS idx_sessions_started ON sessions(started_at DESC);
CREATE INDEX IF NOT EXISTS idx_messages_session ON messages(session_id, timestamp);
CREATE INDEX IF NOT EXISTS idx_messages_session_id ON messages(session_id, id);
CREATE INDEX IF NOT EXISTS idx_messages_assistant_calls_by_session
    ON messages(session_id)
    WHERE role = 'assistant' AND tool_calls IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_compression_locks_expires ON compression_locks(expires_at);
CREATE INDEX IF NOT EXISTS idx_session_turn_leases_expires ON session_turn_leases(expires_at);
CREATE INDEX IF NOT EXISTS idx_session_model_usage_session ON session_model_usage(session_id);
CREATE INDEX IF NOT EXISTS idx_session_model_usage_model ON session_model_usage(model);
CREATE INDEX IF NOT EXISTS idx_async_delegations_delivery
    ON async_delegations(delivery_state, completed_at);
"#;

/// Tables whose columns are reconciled on open (every table of [`SCHEMA_SQL`]).
pub const RECONCILED_TABLES: &[&str] = &[
    "schema_version",
    "system_prompts",
    "sessions",
    "messages",
    "session_model_usage",
    "state_meta",
    "gateway_routing",
    "gateway_hygiene_state",
    "conversation_generations",
    "gateway_heartbeats",
    "compression_locks",
    "session_turn_leases",
    "async_delegations",
];

/// Indexes that reference columns the reconciler may have just added, so they are created
/// after it (Hermes' v28 `DEFERRED_INDEX_SQL` plus the platform-message index).
pub const DEFERRED_INDEX_SQL: &str = r#"
CREATE INDEX IF NOT EXISTS idx_messages_platform_msg_id
    ON messages(session_id, platform_message_id) WHERE platform_message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_messages_session_active
    ON messages(session_id, active, timestamp);
CREATE INDEX IF NOT EXISTS idx_messages_active_null
    ON messages(active) WHERE active IS NULL;
CREATE INDEX IF NOT EXISTS idx_sessions_session_key
    ON sessions(session_key, started_at DESC);
CREATE INDEX IF NOT EXISTS idx_sessions_gateway_peer
    ON sessions(source, user_id, chat_id, chat_type, thread_id, started_at DESC);
CREATE INDEX IF NOT EXISTS idx_sessions_handoff_state
    ON sessions(handoff_state, started_at);
CREATE INDEX IF NOT EXISTS idx_sessions_system_prompt_hash
    ON sessions(system_prompt_hash);
"#;

/// The partial unique index that makes session titles unique.
pub const TITLE_UNIQUE_INDEX_SQL: &str = "CREATE UNIQUE INDEX IF NOT EXISTS idx_sessions_title_unique ON sessions(title) WHERE title IS NOT NULL";

/// The legacy inline FTS layout ("layout 0") exactly as Hermes v11–v22, and so 0.19.0,
/// creates it: `messages_fts` (unicode61) and `messages_fts_trigram` (trigram), each one
/// text column holding `content || ' ' || tool_name || ' ' || tool_calls` for every row,
/// kept in sync by triggers. Run only when we create the database, before any message
/// exists; an existing database keeps whatever FTS objects it has.
pub const FTS_LEGACY_SQL: &str = r#"
CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(
    content
);

CREATE TRIGGER IF NOT EXISTS messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, content) VALUES (
        new.id,
        COALESCE(new.content, '') || ' ' || COALESCE(new.tool_name, '') || ' ' || COALESCE(new.tool_calls, '')
    );
END;

CREATE TRIGGER IF NOT EXISTS messages_fts_delete AFTER DELETE ON messages BEGIN
    DELETE FROM messages_fts WHERE rowid = old.id;
END;

CREATE TRIGGER IF NOT EXISTS messages_fts_update AFTER UPDATE ON messages BEGIN
    DELETE FROM messages_fts WHERE rowid = old.id;
    INSERT INTO messages_fts(rowid, content) VALUES (
        new.id,
        COALESCE(new.content, '') || ' ' || COALESCE(new.tool_name, '') || ' ' || COALESCE(new.tool_calls, '')
    );
END;
"#;

/// The trigram half of [`FTS_LEGACY_SQL`] (needs SQLite ≥ 3.34; Hermes skips it when the
/// tokenizer is missing and CJK search falls back to scanning).
pub const FTS_LEGACY_TRIGRAM_SQL: &str = r#"
CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts_trigram USING fts5(
    content,
    tokenize='trigram'
);

CREATE TRIGGER IF NOT EXISTS messages_fts_trigram_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts_trigram(rowid, content) VALUES (
        new.id,
        COALESCE(new.content, '') || ' ' || COALESCE(new.tool_name, '') || ' ' || COALESCE(new.tool_calls, '')
    );
END;

CREATE TRIGGER IF NOT EXISTS messages_fts_trigram_delete AFTER DELETE ON messages BEGIN
    DELETE FROM messages_fts_trigram WHERE rowid = old.id;
END;

CREATE TRIGGER IF NOT EXISTS messages_fts_trigram_update AFTER UPDATE ON messages BEGIN
    DELETE FROM messages_fts_trigram WHERE rowid = old.id;
    INSERT INTO messages_fts_trigram(rowid, content) VALUES (
        new.id,
        COALESCE(new.content, '') || ' ' || COALESCE(new.tool_name, '') || ' ' || COALESCE(new.tool_calls, '')
    );
END;
"#;

/// Names of the optional CJK index's triggers. They need the `cjk_unicode61` tokenizer,
/// a loadable extension we do not load; see [`crate::migrate`].
pub const CJK_TRIGGERS: &[&str] = &[
    "messages_fts_cjk_insert",
    "messages_fts_cjk_delete",
    "messages_fts_cjk_update",
];

/// `state_meta` key Hermes sets when the CJK index missed writes and must be rebuilt.
pub const FTS_CJK_STALE_KEY: &str = "fts_cjk_stale";

/// `state_meta` key Hermes sets when the FTS indexes were detached and search must scan.
pub const FTS_STALE_KEY: &str = "fts_stale";
