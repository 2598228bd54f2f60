//! Bringing a database — new, ours, or written by any Hermes version — to the shape we
//! need, without breaking it for Hermes.
//!
//! Every open runs [`init`]:
//!
//! 1. Hermes' `SCHEMA_SQL` (`CREATE … IF NOT EXISTS`), then [`reconcile_columns`] adds
//!    every column that table lacks (older files), read defensively via `PRAGMA table_info`.
//! 2. For a database we are creating: Hermes 0.19's legacy inline FTS tables and triggers
//!    and `schema_version = 22` (why: [`crate::schema`]). An existing database keeps its
//!    FTS objects exactly as they are (search adapts to the layout it finds, see
//!    [`crate::fts_layout`]) and its `schema_version` (only inserted when the table is
//!    empty, as Hermes does); `application_id` is never touched.
//! 3. Our own numbered steps ([`STEPS`]), each in its own transaction, recorded in
//!    `state_meta('hermes_rs_migration')` so each runs once per file.
//! 4. The CJK trap ([`disarm_cjk_triggers`]).

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::{DbContext, StoreError};
use crate::fts_layout::FtsLayout;
use crate::schema;

/// One of our migration steps.
pub struct Step {
    /// Recorded in `state_meta('hermes_rs_migration')` once applied.
    pub number: i64,
    pub description: &'static str,
    apply: fn(&Connection) -> rusqlite::Result<()>,
}

/// Our migration steps, in order. Append only; never renumber.
pub const STEPS: &[Step] = &[
    Step {
        number: 1,
        description: "indexes Hermes creates after column reconciliation",
        apply: step_deferred_indexes,
    },
    Step {
        number: 2,
        description: "unique session titles (older duplicates lose their title, as in Hermes)",
        apply: step_unique_titles,
    },
];

/// The number of the newest step.
pub fn latest_step() -> i64 {
    STEPS.last().map_or(0, |s| s.number)
}

fn step_deferred_indexes(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(schema::DEFERRED_INDEX_SQL)
}

fn step_unique_titles(conn: &Connection) -> rusqlite::Result<()> {
    // Keep the newest holder of each duplicated title.
    conn.execute(
        "UPDATE sessions SET title = NULL
         WHERE title IS NOT NULL AND EXISTS (
             SELECT 1 FROM sessions AS newer
             WHERE newer.title = sessions.title AND newer.id <> sessions.id
               AND (newer.started_at > sessions.started_at
                    OR (newer.started_at = sessions.started_at AND newer.id > sessions.id)))",
        [],
    )?;
    conn.execute(schema::TITLE_UNIQUE_INDEX_SQL, [])?;
    Ok(())
}

/// What [`init`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitReport {
    /// The database had no `sessions` table: we created it in our shape.
    pub created: bool,
    /// Columns added by reconciliation, as `table.column`.
    pub added_columns: Vec<String>,
    /// Migration steps that ran during this open.
    pub steps_applied: Vec<i64>,
    /// The CJK index's triggers were dropped because its tokenizer is unavailable.
    pub cjk_triggers_dropped: bool,
    /// The FTS layout found (or created) when opening.
    pub fts_layout: FtsLayout,
}

fn table_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name = ?1",
        [name],
        |_| Ok(()),
    )
    .optional()
    .map(|o| o.is_some())
}

/// Brings the database on `conn` up to date. See the module docs.
pub fn init(conn: &mut Connection) -> Result<InitReport, StoreError> {
    let mut report = InitReport::default();
    {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("starting the schema transaction")?;
        let fresh = !table_exists(&tx, "sessions").ctx("reading the schema")?;
        tx.execute_batch(schema::SCHEMA_SQL)
            .ctx("creating Hermes' tables")?;
        report.added_columns = reconcile_columns(&tx)?;
        tx.execute("UPDATE messages SET active = 1 WHERE active IS NULL", [])
            .ctx("repairing messages.active")?;
        if fresh {
            create_legacy_fts(&tx)?;
        }
        let has_version: bool = tx
            .query_row("SELECT COUNT(*) FROM schema_version", [], |r| {
                r.get::<_, i64>(0)
            })
            .ctx("reading schema_version")?
            > 0;
        if !has_version {
            tx.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                [schema::SCHEMA_VERSION],
            )
            .ctx("writing schema_version")?;
        }
        tx.commit().ctx("committing the schema")?;
        report.created = fresh;
    }
    if !report.added_columns.is_empty() {
        tracing::info!(columns = ?report.added_columns, "state.db: added missing columns");
    }

    for step in STEPS {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("starting a migration step")?;
        let done: i64 = tx
            .query_row(
                "SELECT CAST(value AS INTEGER) FROM state_meta WHERE key = ?1",
                [schema::MIGRATION_META_KEY],
                |r| r.get::<_, Option<i64>>(0),
            )
            .optional()
            .ctx("reading the migration marker")?
            .flatten()
            .unwrap_or(0);
        if done >= step.number {
            continue;
        }
        (step.apply)(&tx).ctx("running a migration step")?;
        tx.execute(
            "INSERT OR REPLACE INTO state_meta (key, value) VALUES (?1, ?2)",
            rusqlite::params![schema::MIGRATION_META_KEY, step.number.to_string()],
        )
        .ctx("recording a migration step")?;
        tx.commit().ctx("committing a migration step")?;
        tracing::debug!(
            step = step.number,
            what = step.description,
            "state.db migration applied"
        );
        report.steps_applied.push(step.number);
    }

    report.cjk_triggers_dropped = disarm_cjk_triggers(conn)?;
    report.fts_layout = FtsLayout::detect(conn)?;
    Ok(report)
}

/// Creates Hermes 0.19's FTS indexes in a new database, as Hermes does: `messages_fts`
/// when FTS5 is available, and the trigram index only where the trigram tokenizer is
/// (without it, CJK search scans). Without FTS5 the database gets no index and every
/// search scans.
fn create_legacy_fts(conn: &Connection) -> Result<(), StoreError> {
    if !tokenizer_available(conn, "unicode61") {
        tracing::warn!(
            "this SQLite has no FTS5: state.db gets no full-text index and search scans \
             the messages table"
        );
        return Ok(());
    }
    conn.execute_batch(schema::FTS_LEGACY_SQL)
        .ctx("creating the FTS5 index")?;
    if tokenizer_available(conn, "trigram") {
        conn.execute_batch(schema::FTS_LEGACY_TRIGRAM_SQL)
            .ctx("creating the trigram index")?;
    } else {
        tracing::warn!(
            "this SQLite has no trigram tokenizer (needs 3.34+): CJK search scans the \
             messages table"
        );
    }
    Ok(())
}

/// Adds every column of [`schema::SCHEMA_SQL`] that the live tables lack.
///
/// The expected columns come from running `SCHEMA_SQL` on a scratch in-memory database, so
/// the DDL is the single source of truth. Each missing column is added with its declared
/// type, `NOT NULL` (only together with a default, as SQLite requires) and default.
pub fn reconcile_columns(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let reference = Connection::open_in_memory().ctx("opening a scratch database")?;
    reference
        .execute_batch(schema::SCHEMA_SQL)
        .ctx("building the reference schema")?;
    let mut added = Vec::new();
    for table in schema::RECONCILED_TABLES {
        let live: Vec<String> = column_info(conn, table)?
            .into_iter()
            .map(|c| c.name)
            .collect();
        for col in column_info(&reference, table)? {
            if live.iter().any(|l| l.eq_ignore_ascii_case(&col.name)) {
                continue;
            }
            let mut decl = format!("\"{}\" {}", col.name, col.decl_type);
            if let Some(default) = &col.default {
                if col.not_null {
                    decl.push_str(" NOT NULL");
                }
                decl.push_str(" DEFAULT ");
                decl.push_str(default);
            }
            conn.execute(&format!("ALTER TABLE \"{table}\" ADD COLUMN {decl}"), [])
                .ctx("adding a missing column")?;
            added.push(format!("{table}.{}", col.name));
        }
    }
    Ok(added)
}

struct ColumnInfo {
    name: String,
    decl_type: String,
    not_null: bool,
    default: Option<String>,
}

fn column_info(conn: &Connection, table: &str) -> Result<Vec<ColumnInfo>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT name, type, \"notnull\", dflt_value FROM pragma_table_info(?1)")
        .ctx("reading table columns")?;
    let rows = stmt
        .query_map([table], |r| {
            Ok(ColumnInfo {
                name: r.get(0)?,
                decl_type: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                not_null: r.get::<_, i64>(2)? != 0,
                default: r.get(3)?,
            })
        })
        .ctx("reading table columns")?;
    rows.collect::<Result<Vec<_>, _>>()
        .ctx("reading table columns")
}

/// The CJK trap: Hermes may have created `messages_fts_cjk` with the `cjk_unicode61`
/// tokenizer, a loadable extension. Its triggers fire on every `INSERT INTO messages`, and
/// from a connection without that tokenizer every insert fails with "no such tokenizer".
///
/// We do what Hermes itself does when it starts without the extension
/// (`_ensure_fts_cjk_schema`): drop only the three `messages_fts_cjk_*` triggers and set
/// `state_meta('fts_cjk_stale','1')`. The optional CJK index then simply misses our
/// writes; the next Hermes that loads the extension sees the stale marker and rebuilds
/// that index. The base and trigram indexes, which we do keep in sync, are untouched.
/// Returns whether triggers were dropped.
pub fn disarm_cjk_triggers(conn: &mut Connection) -> Result<bool, StoreError> {
    let present: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name IN (?1, ?2, ?3)",
            rusqlite::params![
                schema::CJK_TRIGGERS[0],
                schema::CJK_TRIGGERS[1],
                schema::CJK_TRIGGERS[2]
            ],
            |r| r.get(0),
        )
        .ctx("looking for CJK index triggers")?;
    if present == 0 || tokenizer_available(conn, "cjk_unicode61") {
        return Ok(false);
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx("starting the CJK trigger repair")?;
    for name in schema::CJK_TRIGGERS {
        tx.execute(&format!("DROP TRIGGER IF EXISTS {name}"), [])
            .ctx("dropping a CJK index trigger")?;
    }
    tx.execute(
        "INSERT OR REPLACE INTO state_meta (key, value) VALUES (?1, '1')",
        [schema::FTS_CJK_STALE_KEY],
    )
    .ctx("marking the CJK index stale")?;
    tx.commit().ctx("committing the CJK trigger repair")?;
    tracing::warn!(
        "state.db has a CJK search index (cjk_unicode61) whose tokenizer is not loaded here; \
         dropped its triggers and marked it stale so messages can still be written. Hermes \
         rebuilds that index the next time it starts with the extension."
    );
    Ok(true)
}

/// Whether FTS5 can build a table with `tokenizer` on this connection.
pub fn tokenizer_available(conn: &Connection, tokenizer: &str) -> bool {
    let sql = format!(
        "CREATE VIRTUAL TABLE temp.hermes_rs_tokenizer_probe USING fts5(x, tokenize='{}')",
        tokenizer.replace('\'', "''")
    );
    let ok = conn.execute(&sql, []).is_ok();
    if ok {
        let _ = conn.execute("DROP TABLE temp.hermes_rs_tokenizer_probe", []);
    }
    ok
}
