//! `hermes sessions export --format jsonl`: one JSON object per session, in Hermes' shape.

use serde_json::{Map, Value};

use crate::error::{DbContext, StoreError};
use crate::rowmap;
use crate::store::Store;

/// `model_config` markers Hermes lifts to the top level of an exported session.
const LIFTED_MARKERS: &[&str] = &["_reset_from", "_branched_from"];

impl Store {
    /// The session as Hermes exports it: every `sessions` column (with `system_prompt`
    /// resolved from `system_prompts`), the `_reset_from` / `_branched_from` markers lifted
    /// out of `model_config`, and `"messages"`: the live rows with every column except
    /// `display_identity` / `display_order`, `content` decoded, `tool_calls` parsed,
    /// `display_metadata` decoded, and `_compressed_summary` only when true.
    pub fn export_session(&self, session_id: &str) -> Result<Value, StoreError> {
        let row = self
            .get_session(session_id)?
            .ok_or_else(|| StoreError::SessionNotFound(session_id.to_string()))?;
        let mut obj = row.columns;
        if let Some(Value::String(cfg)) = obj.get("model_config")
            && let Ok(Value::Object(cfg)) = serde_json::from_str::<Value>(cfg)
        {
            for marker in LIFTED_MARKERS {
                if let Some(v) = cfg.get(*marker) {
                    obj.insert((*marker).to_string(), v.clone());
                }
            }
        }
        let messages = self.read(|c| {
            let mut stmt = c
                .prepare("SELECT * FROM messages WHERE session_id = ?1 AND active = 1 ORDER BY id")
                .ctx("exporting messages")?;
            let rows = stmt
                .query_map([session_id], rowmap::row_to_map)
                .ctx("exporting messages")?;
            rows.map(|r| r.map(export_message))
                .collect::<Result<Vec<_>, _>>()
                .ctx("exporting messages")
        })?;
        obj.insert("messages".into(), Value::Array(messages));
        Ok(Value::Object(obj))
    }
}

fn export_message(mut m: Map<String, Value>) -> Value {
    m.remove("display_identity");
    m.remove("display_order");
    if let Some(Value::String(c)) = m.get("content") {
        let decoded = rowmap::decode_content(c);
        m.insert("content".into(), decoded);
    }
    if let Some(Value::String(t)) = m.get("tool_calls") {
        let parsed = serde_json::from_str::<Value>(t).unwrap_or(Value::Array(Vec::new()));
        m.insert("tool_calls".into(), parsed);
    }
    if let Some(Value::String(d)) = m.get("display_metadata")
        && let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(d)
    {
        m.insert("display_metadata".into(), v);
    }
    if rowmap::get_bool(&m, "_compressed_summary") {
        m.insert("_compressed_summary".into(), Value::Bool(true));
    } else {
        m.remove("_compressed_summary");
    }
    Value::Object(m)
}
