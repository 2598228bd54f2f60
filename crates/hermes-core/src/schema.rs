//! Validation of tool-call arguments against the tool's JSON Schema.
//!
//! Supports the subset our tool schemas use: `type` (one or several), `properties`,
//! `required`, `additionalProperties: false`, `enum`, `items`, `minimum`/`maximum`,
//! `minLength`/`maxLength`, `minItems`/`maxItems`. Errors name the argument path and say
//! what was expected, so the model can correct the call.

use serde_json::Value;

/// Checks `args` against `schema`. Returns every problem found, one per line.
pub fn validate(schema: &Value, args: &Value) -> Result<(), String> {
    let mut errors = Vec::new();
    check(schema, args, "", &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn matches_type(expected: &str, v: &Value) -> bool {
    match expected {
        "number" => v.is_number(),
        "integer" => {
            v.is_i64()
                || v.is_u64()
                || v.as_f64()
                    .is_some_and(|f| f.fract() == 0.0 && f.is_finite())
        }
        other => type_name(v) == other,
    }
}

fn describe(path: &str) -> String {
    if path.is_empty() {
        "arguments".to_string()
    } else {
        format!("argument '{path}'")
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn check(schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        return;
    };
    if let Some(t) = schema.get("type") {
        let allowed: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !allowed.is_empty() && !allowed.iter().any(|t| matches_type(t, v)) {
            errors.push(format!(
                "{}: expected {}, got {}",
                describe(path),
                allowed.join(" or "),
                type_name(v)
            ));
            return;
        }
    }
    if let Some(Value::Array(options)) = schema.get("enum")
        && !options.contains(v)
    {
        let shown: Vec<String> = options.iter().map(Value::to_string).collect();
        errors.push(format!(
            "{}: {} is not one of {}",
            describe(path),
            v,
            shown.join(", ")
        ));
    }
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(required)) = schema.get("required") {
                for r in required.iter().filter_map(Value::as_str) {
                    if !map.contains_key(r) {
                        errors.push(format!("missing required {}", describe(&join(path, r))));
                    }
                }
            }
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, val) in map {
                match props.and_then(|p| p.get(k)) {
                    Some(sub) => check(sub, val, &join(path, k), errors),
                    None => {
                        if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
                            errors.push(format!("unknown {}", describe(&join(path, k))));
                        }
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
                && (items.len() as u64) < min
            {
                errors.push(format!("{}: needs at least {min} items", describe(path)));
            }
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
                && (items.len() as u64) > max
            {
                errors.push(format!("{}: allows at most {max} items", describe(path)));
            }
            if let Some(sub) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(sub, item, &format!("{path}[{i}]"), errors);
                }
            }
        }
        Value::String(s) => {
            let len = s.chars().count() as u64;
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
                && len < min
            {
                errors.push(format!(
                    "{}: must be at least {min} characters",
                    describe(path)
                ));
            }
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
                && len > max
            {
                errors.push(format!(
                    "{}: must be at most {max} characters",
                    describe(path)
                ));
            }
        }
        Value::Number(n) => {
            if let (Some(min), Some(x)) =
                (schema.get("minimum").and_then(Value::as_f64), n.as_f64())
                && x < min
            {
                errors.push(format!("{}: must be >= {min}", describe(path)));
            }
            if let (Some(max), Some(x)) =
                (schema.get("maximum").and_then(Value::as_f64), n.as_f64())
                && x > max
            {
                errors.push(format!("{}: must be <= {max}", describe(path)));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "path": {"type": "string", "minLength": 1},
                "limit": {"type": "integer", "minimum": 1, "maximum": 2000},
                "mode": {"type": "string", "enum": ["replace", "patch"]},
                "todos": {"type": "array", "items": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}},
                    "required": ["id"]
                }}
            },
            "required": ["path"],
            "additionalProperties": false
        })
    }

    #[test]
    fn accepts_valid_arguments() {
        assert!(
            validate(
                &schema(),
                &json!({"path": "a", "limit": 5, "mode": "patch"})
            )
            .is_ok()
        );
        assert!(validate(&schema(), &json!({"path": "a", "limit": 5.0})).is_ok());
    }

    #[test]
    fn reports_each_problem_with_its_path() {
        let err = validate(
            &schema(),
            &json!({"limit": "5", "mode": "x", "extra": 1, "todos": [{"name": 1}]}),
        )
        .unwrap_err();
        assert!(err.contains("missing required argument 'path'"), "{err}");
        assert!(
            err.contains("argument 'limit': expected integer, got string"),
            "{err}"
        );
        assert!(
            err.contains("argument 'mode': \"x\" is not one of"),
            "{err}"
        );
        assert!(err.contains("unknown argument 'extra'"), "{err}");
        assert!(
            err.contains("missing required argument 'todos[0].id'"),
            "{err}"
        );
    }

    #[test]
    fn checks_bounds() {
        let err = validate(&schema(), &json!({"path": "", "limit": 0})).unwrap_err();
        assert!(err.contains("at least 1 characters"), "{err}");
        assert!(err.contains("must be >= 1"), "{err}");
    }

    #[test]
    fn arguments_must_be_an_object() {
        let err = validate(&schema(), &json!([1])).unwrap_err();
        assert_eq!(err, "arguments: expected object, got array");
    }
}
