//! Which FTS layout a `state.db` carries, detected the way Hermes detects it.
//!
//! Hermes has shipped three families of `messages_fts` (see [`crate::schema`]):
//!
//! - **legacy** (v11–v22, Hermes 0.19.0 among them, and the older v10 external
//!   single-column form): one `content` column; the inline tables hold
//!   `content || ' ' || tool_name || ' ' || tool_calls` for **every** row, tool rows
//!   included, in both `messages_fts` and `messages_fts_trigram`;
//! - **external content** (v23+, opt-in through `hermes sessions optimize-storage` for
//!   older files): columns `content, tool_name, tool_calls` read from `messages` (or a view
//!   of it); the trigram index leaves tool rows out. Its revision is
//!   `state_meta('fts_storage_version')` (1, 2, 3, …).
//!
//! Hermes' own test (`_db_has_legacy_inline_fts`) is "the stored `CREATE` of
//! `messages_fts` lacks `tool_name`"; we use the same one.

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use crate::error::{DbContext, StoreError};
use crate::schema;

/// The FTS layout of a database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "layout")]
pub enum FtsLayout {
    /// No `messages_fts` table (made where FTS5 was unavailable): search scans.
    #[default]
    Missing,
    /// One-column `messages_fts` (Hermes ≤ v22, "layout 0"); every row is in both indexes.
    Legacy,
    /// Multi-column external-content `messages_fts` (Hermes v23+); tool rows are not in the
    /// trigram index. `version` is `state_meta('fts_storage_version')`, 1 when unset.
    External { version: i64 },
}

impl FtsLayout {
    /// Reads the layout of the database on `conn`.
    pub fn detect(conn: &Connection) -> Result<FtsLayout, StoreError> {
        let sql: Option<Option<String>> = conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'messages_fts'",
                [],
                |r| r.get(0),
            )
            .optional()
            .ctx("inspecting the FTS layout")?;
        let Some(sql) = sql else {
            return Ok(FtsLayout::Missing);
        };
        if !sql.unwrap_or_default().contains("tool_name") {
            return Ok(FtsLayout::Legacy);
        }
        let version: Option<Option<String>> = conn
            .query_row(
                "SELECT value FROM state_meta WHERE key = ?1",
                [schema::FTS_STORAGE_VERSION_KEY],
                |r| r.get(0),
            )
            .optional()
            .ctx("reading the FTS layout version")?;
        let version = version
            .flatten()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .unwrap_or(1);
        Ok(FtsLayout::External { version })
    }

    /// Whether `messages_fts_trigram` holds tool rows (only the legacy layout indexes
    /// every row there), so a CJK search for tool output can use it.
    pub fn trigram_has_tool_rows(self) -> bool {
        self == FtsLayout::Legacy
    }

    /// Hermes' `fts_storage_version` for this layout: 0 for legacy, `None` when there is
    /// no index.
    pub fn storage_version(self) -> Option<i64> {
        match self {
            FtsLayout::Missing => None,
            FtsLayout::Legacy => Some(0),
            FtsLayout::External { version } => Some(version),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout_of(ddl: &str) -> FtsLayout {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE state_meta (key TEXT PRIMARY KEY, value TEXT);")
            .unwrap();
        conn.execute_batch(ddl).unwrap();
        FtsLayout::detect(&conn).unwrap()
    }

    #[test]
    fn detects_each_layout_like_hermes() {
        assert_eq!(layout_of(""), FtsLayout::Missing);
        assert_eq!(
            layout_of("CREATE VIRTUAL TABLE messages_fts USING fts5(content);"),
            FtsLayout::Legacy
        );
        // The v10-era external single-column form is legacy too.
        assert_eq!(
            layout_of(
                "CREATE TABLE messages (id INTEGER PRIMARY KEY, content TEXT);
                 CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='id');"
            ),
            FtsLayout::Legacy
        );
        let external =
            "CREATE VIRTUAL TABLE messages_fts USING fts5(content, tool_name, tool_calls);";
        assert_eq!(layout_of(external), FtsLayout::External { version: 1 });
        assert_eq!(
            layout_of(&format!(
                "{external} INSERT INTO state_meta VALUES ('fts_storage_version', '3');"
            )),
            FtsLayout::External { version: 3 }
        );
        assert!(FtsLayout::Legacy.trigram_has_tool_rows());
        assert!(!FtsLayout::External { version: 1 }.trigram_has_tool_rows());
        assert_eq!(FtsLayout::Legacy.storage_version(), Some(0));
    }
}
