//! Serde types for the two wire protocols, usable on both sides of the wire (this crate
//! sends requests with them; the API server reads requests and writes responses with
//! [`openai`]). Deserialization is lenient: unknown fields are ignored and optional
//! fields may be missing or `null`.

pub mod anthropic;
pub mod openai;

use serde::{Deserialize, Deserializer};

/// Accepts a JSON string, or any other JSON value rendered as JSON text (some servers
/// send tool-call arguments as an object instead of a string). `null` becomes "".
pub(crate) fn string_or_json<'de, D>(d: D) -> Result<String, D::Error>
where
    D: Deserializer<'de>,
{
    let v = serde_json::Value::deserialize(d)?;
    Ok(match v {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    })
}

/// Like [`string_or_json`], for optional fields.
pub(crate) fn opt_string_or_json<'de, D>(d: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    })
}

/// `null` or missing become the default value.
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
