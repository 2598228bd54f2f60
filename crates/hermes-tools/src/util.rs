//! Small pieces several tools share: reading loosely typed arguments, error results, and
//! Hermes' number and type wording.

use hermes_core::ToolError;
use serde_json::{Value, json};

/// An integer argument as models send it: a number (a float is cut toward zero) or a
/// numeric string. `None` when missing or not a number.
pub(crate) fn int_arg(args: &Value, key: &str) -> Option<i64> {
    let v = args.get(key)?;
    v.as_i64()
        .or_else(|| v.as_f64().map(|f| f as i64))
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// A failure for the model: `base` (a JSON object, e.g. `{"total_count": 0}`) with
/// `"error": msg` added.
pub(crate) fn error_with(mut base: Value, msg: impl Into<String>) -> ToolError {
    match base.as_object_mut() {
        Some(map) => {
            map.insert("error".to_string(), Value::String(msg.into()));
            ToolError::model(base.to_string())
        }
        None => error(msg),
    }
}

/// A failure for the model: `{"error": msg}`.
pub(crate) fn error(msg: impl Into<String>) -> ToolError {
    ToolError::model(json!({ "error": msg.into() }).to_string())
}

/// `1234567` → `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Python's name for a JSON value's type, for Hermes' error texts.
pub(crate) fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(924), "924");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(2200), "2,200");
        assert_eq!(thousands(123456789), "123,456,789");
    }

    #[test]
    fn int_args_accept_numbers_floats_and_numeric_strings() {
        let a = json!({"a": 5, "b": 2.9, "c": " 7 ", "d": "x", "e": null});
        assert_eq!(int_arg(&a, "a"), Some(5));
        assert_eq!(int_arg(&a, "b"), Some(2));
        assert_eq!(int_arg(&a, "c"), Some(7));
        assert_eq!(int_arg(&a, "d"), None);
        assert_eq!(int_arg(&a, "e"), None);
        assert_eq!(int_arg(&a, "missing"), None);
    }

    #[test]
    fn errors_carry_the_base_fields() {
        let ToolError::RespondToModel(s) = error_with(json!({"total_count": 0}), "bad") else {
            panic!("not a model error")
        };
        let v: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v, json!({"total_count": 0, "error": "bad"}));
        let ToolError::RespondToModel(s) = error("x") else {
            panic!("not a model error")
        };
        assert_eq!(s, r#"{"error":"x"}"#);
    }

    #[test]
    fn python_type_names() {
        assert_eq!(py_type(&json!(null)), "NoneType");
        assert_eq!(py_type(&json!(1)), "int");
        assert_eq!(py_type(&json!(1.5)), "float");
        assert_eq!(py_type(&json!([])), "list");
        assert_eq!(py_type(&json!({})), "dict");
    }
}
