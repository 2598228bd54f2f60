//! Session titles: sanitising, uniqueness, lineage numbering (`"title #2"`) and lookup.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{DbContext, StoreError};
use crate::fts_query::escape_like;
use crate::store::Store;

/// Hermes' `MAX_TITLE_LENGTH`.
pub const MAX_TITLE_LENGTH: usize = 100;

fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x2069 | 0xFEFF | 0xFFF9..=0xFFFC)
}

/// Cleans a title as Hermes does: ASCII control characters (except tab and newlines) and
/// zero-width / bidi / invisible characters are removed, whitespace is collapsed and
/// trimmed. An empty result means "no title" (`Ok(None)`); more than 100 characters is an
/// error.
pub fn sanitize_title(raw: &str) -> Result<Option<String>, StoreError> {
    let kept: String = raw
        .chars()
        .filter(|&c| {
            let control =
                (c.is_ascii_control() || c == '\u{7f}') && !matches!(c, '\t' | '\n' | '\r');
            !control && !is_invisible(c)
        })
        .collect();
    let collapsed = kept.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return Ok(None);
    }
    let len = collapsed.chars().count();
    if len > MAX_TITLE_LENGTH {
        return Err(StoreError::TitleTooLong {
            len,
            max: MAX_TITLE_LENGTH,
        });
    }
    Ok(Some(collapsed))
}

/// Fails with [`StoreError::TitleInUse`] when a session other than `owner` has `title`.
pub(crate) fn ensure_title_free(
    conn: &Connection,
    title: &str,
    owner: &str,
) -> Result<(), StoreError> {
    let holder: Option<String> = conn
        .query_row(
            "SELECT id FROM sessions WHERE title = ?1 AND id <> ?2 LIMIT 1",
            params![title, owner],
            |r| r.get(0),
        )
        .optional()
        .ctx("checking title uniqueness")?;
    match holder {
        Some(holder) => Err(StoreError::TitleInUse {
            title: title.to_string(),
            holder,
        }),
        None => Ok(()),
    }
}

/// Splits `"base #N"` into `("base", N)`.
fn split_numbered(title: &str) -> Option<(&str, u64)> {
    let (base, n) = title.rsplit_once(" #")?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((base, n.parse().ok()?))
}

/// The sessions titled `base` or `base #N`, as `(id, N)` (the unnumbered one counts as 1).
fn titled_family(conn: &Connection, base: &str) -> Result<Vec<(String, u64, f64)>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT id, title, started_at FROM sessions
             WHERE title = ?1 OR title LIKE ?2 ESCAPE '\\'",
        )
        .ctx("looking up titles")?;
    let pattern = format!("{} #%", escape_like(base));
    let rows: Vec<(String, String, Option<f64>)> = stmt
        .query_map(params![base, pattern], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .and_then(|rows| rows.collect())
        .ctx("looking up titles")?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, title, started)| {
            let n = if title == base {
                1
            } else {
                match split_numbered(&title) {
                    Some((b, n)) if b == base => n,
                    _ => return None,
                }
            };
            Some((id, n, started.unwrap_or(0.0)))
        })
        .collect())
}

/// The title a continuation of `parent_id` gets: `"base #N"` with N one past the highest
/// number in the family. `None` when the parent has no title.
pub(crate) fn next_lineage_title(
    conn: &Connection,
    parent_id: &str,
) -> Result<Option<String>, StoreError> {
    let title: Option<String> = conn
        .query_row(
            "SELECT title FROM sessions WHERE id = ?1",
            [parent_id],
            |r| r.get(0),
        )
        .optional()
        .ctx("reading the parent title")?
        .flatten();
    let Some(title) = title else {
        return Ok(None);
    };
    let base = split_numbered(&title).map_or(title.as_str(), |(b, _)| b);
    let max = titled_family(conn, base)?
        .iter()
        .map(|(_, n, _)| *n)
        .max()
        .unwrap_or(1);
    let next = format!("{base} #{}", max + 1);
    // Stay within the limit by shortening the base if needed.
    if next.chars().count() > MAX_TITLE_LENGTH {
        let suffix = format!(" #{}", max + 1);
        let keep = MAX_TITLE_LENGTH.saturating_sub(suffix.chars().count());
        let short: String = base.chars().take(keep).collect();
        return Ok(Some(format!("{}{suffix}", short.trim_end())));
    }
    Ok(Some(next))
}

/// The session a title names: the newest `"title #N"` (highest N) over `"title"` itself.
pub(crate) fn resolve_title_on(
    conn: &Connection,
    title: &str,
) -> Result<Option<String>, StoreError> {
    let family = titled_family(conn, title)?;
    Ok(family
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(a.2.total_cmp(&b.2)))
        .map(|(id, _, _)| id))
}

impl Store {
    /// Sets a session's title (provenance `user`). The title is sanitised; an empty title
    /// clears it. Titles are unique and at most 100 characters.
    pub fn set_title(&self, session_id: &str, title: &str) -> Result<(), StoreError> {
        let clean = sanitize_title(title)?;
        self.write("setting a title", |tx| {
            if !crate::sessions::session_exists(tx, session_id)? {
                return Err(StoreError::SessionNotFound(session_id.to_string()));
            }
            if let Some(t) = &clean {
                ensure_title_free(tx, t, session_id)?;
            }
            tx.execute(
                "UPDATE sessions SET title = ?2, title_source = ?3 WHERE id = ?1",
                params![session_id, clean, clean.as_ref().map(|_| "user")],
            )
            .ctx("setting a title")?;
            Ok(())
        })
    }

    /// The session a title names (`"title"` or its newest `"title #N"` continuation).
    pub fn resolve_title(&self, title: &str) -> Result<Option<String>, StoreError> {
        let t = title.trim();
        if t.is_empty() {
            return Ok(None);
        }
        self.read(|c| resolve_title_on(c, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_like_hermes() {
        assert_eq!(
            sanitize_title("  My\u{200B} \t title\u{7}  ")
                .ok()
                .flatten(),
            Some("My title".to_string())
        );
        assert_eq!(sanitize_title("\u{202E}\u{FEFF} ").ok().flatten(), None);
        assert!(matches!(
            sanitize_title(&"x".repeat(101)),
            Err(StoreError::TitleTooLong { len: 101, max: 100 })
        ));
        assert!(sanitize_title(&"é".repeat(100)).is_ok());
    }

    #[test]
    fn numbered_titles_split() {
        assert_eq!(split_numbered("work #3"), Some(("work", 3)));
        assert_eq!(split_numbered("work #"), None);
        assert_eq!(split_numbered("work #x"), None);
        assert_eq!(split_numbered("work"), None);
    }
}
