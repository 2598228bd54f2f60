//! Reading rows defensively: every column of a `SELECT *` into a JSON map, whatever
//! columns the file happens to have, plus typed getters over that map.

use rusqlite::Row;
use rusqlite::types::ValueRef;
use serde_json::{Map, Value};

/// All columns of `row`, by name. REAL and INTEGER become numbers, TEXT strings (invalid
/// UTF-8 replaced), BLOB lowercase hex.
pub fn row_to_map(row: &Row<'_>) -> rusqlite::Result<Map<String, Value>> {
    let stmt = row.as_ref();
    let mut map = Map::new();
    for i in 0..stmt.column_count() {
        let name = stmt.column_name(i)?.to_string();
        let value = match row.get_ref(i)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(n) => Value::from(n),
            ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
            ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::String(b.iter().map(|x| format!("{x:02x}")).collect()),
        };
        map.insert(name, value);
    }
    Ok(map)
}

pub fn get_str(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub fn get_f64(map: &Map<String, Value>, key: &str) -> Option<f64> {
    match map.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub fn get_i64(map: &Map<String, Value>, key: &str) -> Option<i64> {
    match map.get(key)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub fn get_bool(map: &Map<String, Value>, key: &str) -> bool {
    get_i64(map, key).is_some_and(|n| n != 0)
}

/// Hermes' marker for structured (multimodal) content stored in a TEXT column.
pub const JSON_CONTENT_PREFIX: &str = "\u{0}json:";

/// Decodes a stored `content` value: plain text stays as it is; `"\0json:" + JSON` becomes
/// the JSON value.
pub fn decode_content(raw: &str) -> Value {
    if let Some(json) = raw.strip_prefix(JSON_CONTENT_PREFIX)
        && let Ok(v) = serde_json::from_str::<Value>(json)
    {
        return v;
    }
    Value::String(raw.to_string())
}

/// The readable text of stored content: plain text as it is; structured content as its
/// text parts joined by spaces (or `[multimodal content]` when it has none).
pub fn content_text(raw: &str) -> String {
    match decode_content(raw) {
        Value::String(s) => s,
        Value::Array(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .filter(|t| !t.is_empty())
                .collect();
            let joined = texts.join(" ");
            if joined.trim().is_empty() {
                "[multimodal content]".to_string()
            } else {
                joined.trim().to_string()
            }
        }
        Value::Object(o) => o
            .get("text")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| Value::Object(o.clone()).to_string()),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_structured_content() {
        assert_eq!(content_text("plain"), "plain");
        let raw = format!(
            "{JSON_CONTENT_PREFIX}{}",
            r#"[{"type": "text", "text": "look at this"}, {"type": "image_url", "image_url": {"url": "x"}}]"#
        );
        assert_eq!(content_text(&raw), "look at this");
        assert!(decode_content(&raw).is_array());
        let only_image = format!(
            "{JSON_CONTENT_PREFIX}{}",
            r#"[{"type": "image_url", "image_url": {"url": "x"}}]"#
        );
        assert_eq!(content_text(&only_image), "[multimodal content]");
        // A broken marker is kept as text rather than lost.
        assert_eq!(content_text("\u{0}json:[oops"), "\u{0}json:[oops");
    }
}
