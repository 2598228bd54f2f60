//! YAML trees: parsing with positions, key paths, merging, and finding the line of a key.

use std::path::Path;

use serde_norway::{Mapping, Value};

use crate::error::ConfigError;
use crate::schema::Seg;

/// Parses a config file's text into a mapping (empty when the file is empty or only has
/// comments). Syntax errors name the file, line and column.
pub(crate) fn parse_file(text: &str, path: &Path) -> Result<Value, ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---")
    {
        return Ok(Value::Mapping(Mapping::new()));
    }
    let mut value: Value = serde_norway::from_str(text).map_err(|e| {
        let loc = e.location();
        ConfigError::Syntax {
            path: path.to_owned(),
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
            message: strip_position(&e.to_string()),
        }
    })?;
    value.apply_merge().map_err(|e| ConfigError::Syntax {
        path: path.to_owned(),
        line: None,
        column: None,
        message: strip_position(&e.to_string()),
    })?;
    match value {
        Value::Mapping(_) => Ok(value),
        Value::Null => Ok(Value::Mapping(Mapping::new())),
        other => Err(ConfigError::Syntax {
            path: path.to_owned(),
            line: Some(1),
            column: None,
            message: format!(
                "expected a mapping of settings (`key: value` lines) at the top level, found {}",
                kind(&other)
            ),
        }),
    }
}

/// Removes " at line N column M" fragments that the YAML library puts in its messages,
/// since the error reports the position itself.
pub(crate) fn strip_position(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(i) = rest.find(" at line ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + " at line ".len()..];
        let digits = |s: &str| s.chars().take_while(char::is_ascii_digit).count();
        let n = digits(after);
        let tail = &after[n..];
        if n > 0
            && let Some(col) = tail.strip_prefix(" column ")
            && digits(col) > 0
        {
            rest = &col[digits(col)..];
        } else {
            out.push_str(" at line ");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A word for the kind of a value, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Parses a dotted key (`agent.max_turns`, `fallback_providers.0.model`).
pub(crate) fn parse_key(key: &str) -> Result<Vec<Seg>, String> {
    let key = key.trim();
    if key.is_empty() {
        return Err("the key is empty".to_owned());
    }
    key.split('.')
        .map(|part| {
            if part.is_empty() {
                return Err(format!("`{key}` has an empty segment"));
            }
            if !part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '/' || c == ':')
            {
                return Err(format!(
                    "`{part}` in `{key}` has characters a config key cannot have"
                ));
            }
            Ok(match part.parse::<usize>() {
                Ok(i) if !part.starts_with('+') => Seg::Index(i),
                _ => Seg::Key(part.to_owned()),
            })
        })
        .collect()
}

/// The value at `path`, if present. Numeric segments index lists (or match a numeric
/// mapping key).
pub(crate) fn get<'a>(tree: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    let mut cur = tree;
    for seg in path {
        cur = match (cur, seg) {
            (Value::Mapping(m), Seg::Key(k)) => m.get(k.as_str())?,
            (Value::Mapping(m), Seg::Index(i)) => m.get(i.to_string().as_str())?,
            (Value::Sequence(s), Seg::Index(i)) => s.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Sets `path` to `value`, creating intermediate mappings. A list index equal to the
/// list's length appends. A top-level string `model` becomes `{default: <string>}` so
/// that `model.<key>` can be set.
pub(crate) fn set(tree: &mut Value, path: &[Seg], value: Value) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err("the key is empty".to_owned());
    };
    let mut cur = tree;
    for (depth, seg) in parents.iter().enumerate() {
        if depth == 0 && *seg == Seg::Key("model".into()) {
            promote_model(cur);
        }
        if cur.is_null() {
            *cur = Value::Mapping(Mapping::new());
        }
        // A missing container is a list when the next segment is an index.
        let next_is_index = matches!(path.get(depth + 1), Some(Seg::Index(_)));
        let fresh = || {
            if next_is_index {
                Value::Sequence(Vec::new())
            } else {
                Value::Mapping(Mapping::new())
            }
        };
        let here = crate::schema::dotted(&path[..depth]);
        cur = match (cur, seg) {
            (Value::Mapping(m), seg) => {
                let k = Value::String(seg.as_text());
                if m.get(&k).is_none_or(Value::is_null) {
                    m.insert(k.clone(), fresh());
                }
                match m.get_mut(&k) {
                    Some(v) => v,
                    None => return Err(format!("could not create `{}`", seg.as_text())),
                }
            }
            (Value::Sequence(s), Seg::Index(i)) => {
                if *i == s.len() {
                    s.push(fresh());
                }
                let len = s.len();
                match s.get_mut(*i) {
                    Some(v) => v,
                    None => {
                        return Err(format!(
                            "`{here}` has {len} entries; index {i} is out of range"
                        ));
                    }
                }
            }
            (other, _) => {
                return Err(format!(
                    "`{here}` is {}, not a section; it cannot contain `{}`",
                    kind(other),
                    seg.as_text()
                ));
            }
        };
    }
    if cur.is_null() {
        *cur = Value::Mapping(Mapping::new());
    }
    let here = crate::schema::dotted(parents);
    match (cur, last) {
        (Value::Mapping(m), seg) => {
            m.insert(Value::String(seg.as_text()), value);
            Ok(())
        }
        (Value::Sequence(s), Seg::Index(i)) => {
            if *i == s.len() {
                s.push(value);
                Ok(())
            } else if let Some(slot) = s.get_mut(*i) {
                *slot = value;
                Ok(())
            } else {
                Err(format!(
                    "`{here}` has {} entries; index {i} is out of range",
                    s.len()
                ))
            }
        }
        (other, seg) => Err(format!(
            "`{here}` is {}, not a section; it cannot contain `{}`",
            kind(other),
            seg.as_text()
        )),
    }
}

/// Removes `path`; returns whether something was removed.
pub(crate) fn remove(tree: &mut Value, path: &[Seg]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut cur = tree;
    for seg in parents {
        let next = match (cur, seg) {
            (Value::Mapping(m), seg) => m.get_mut(seg.as_text().as_str()),
            (Value::Sequence(s), Seg::Index(i)) => s.get_mut(*i),
            _ => None,
        };
        match next {
            Some(v) => cur = v,
            None => return false,
        }
    }
    match (cur, last) {
        (Value::Mapping(m), seg) => m.remove(seg.as_text().as_str()).is_some(),
        (Value::Sequence(s), Seg::Index(i)) if *i < s.len() => {
            s.remove(*i);
            true
        }
        _ => false,
    }
}

/// `model: "name"` → `model: {default: "name"}` (in a root mapping).
pub(crate) fn promote_model(root: &mut Value) {
    if let Value::Mapping(m) = root
        && let Some(v) = m.get_mut("model")
        && !matches!(v, Value::Mapping(_))
    {
        let mut inner = Mapping::new();
        match std::mem::take(v) {
            Value::Null => {}
            Value::String(s) if s.is_empty() => {}
            other => {
                inner.insert(Value::String("default".into()), other);
            }
        }
        *v = Value::Mapping(inner);
    }
}

/// Promotes a string `model` when `path` reaches inside it (`model.default`).
pub(crate) fn promote_model_if_needed(root: &mut Value, path: &[Seg]) {
    if path.len() >= 2 && path[0] == Seg::Key("model".into()) {
        promote_model(root);
    }
}

/// Merges `overlay` into `base`: mappings merge key by key, anything else replaces.
pub(crate) fn deep_merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => deep_merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// The 1-based line where the key at `path` is written, for block-style YAML. When the
/// key itself cannot be found, the line of its closest written ancestor is returned.
pub(crate) fn find_line(text: &str, path: &[Seg]) -> Option<usize> {
    let lines = logical_lines(text);
    let mut range = 0..lines.len();
    let mut parent_indent: isize = -1;
    let mut found = None;
    for seg in path {
        // The indentation of direct children is that of the first line in range deeper
        // than the parent.
        let Some(first) = lines[range.clone()]
            .iter()
            .find(|l| l.indent as isize > parent_indent)
        else {
            break;
        };
        let child_indent = first.indent;
        let mut hit = None;
        let mut seen_items = 0usize;
        for i in range.clone() {
            let l = &lines[i];
            if (l.indent as isize) <= parent_indent {
                break;
            }
            if l.indent != child_indent {
                continue;
            }
            match seg {
                Seg::Index(n) if l.dash => {
                    if seen_items == *n {
                        hit = Some(i);
                        break;
                    }
                    seen_items += 1;
                }
                Seg::Index(n) if !l.dash && l.key.as_deref() == Some(n.to_string().as_str()) => {
                    hit = Some(i);
                    break;
                }
                Seg::Key(k) if !l.dash && l.key.as_deref() == Some(k.as_str()) => {
                    hit = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(i) = hit else { break };
        found = Some(lines[i].line);
        // The children of this entry run until the next line at or above its indent.
        let start = i + 1;
        let mut end = start;
        while end < range.end && lines[end].indent > child_indent {
            end += 1;
        }
        // A list item's inline first key (`- provider: x`) is its own logical line,
        // deeper than the dash, so it is found like any child.
        range = start..end;
        parent_indent = child_indent as isize;
    }
    found
}

struct Logical {
    line: usize,
    indent: usize,
    /// A `- ` list-item marker (its inline content follows as another logical line).
    dash: bool,
    key: Option<String>,
}

fn logical_lines(text: &str) -> Vec<Logical> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let trimmed = raw.trim_start_matches(' ');
        if trimmed.trim().is_empty() || trimmed.starts_with('#') || trimmed.starts_with("---") {
            continue;
        }
        let mut indent = raw.len() - trimmed.len();
        let mut rest = trimmed;
        // `- - x` and `- key: v`: each dash is an item marker; content follows.
        while rest == "-" || rest.starts_with("- ") {
            out.push(Logical {
                line: n + 1,
                indent,
                dash: true,
                key: None,
            });
            let after = &rest[1..];
            let content = after.trim_start_matches(' ');
            indent += 1 + (after.len() - content.len());
            rest = content;
        }
        if rest.is_empty() {
            continue;
        }
        out.push(Logical {
            line: n + 1,
            indent,
            dash: false,
            key: key_of(rest),
        });
    }
    out
}

fn key_of(content: &str) -> Option<String> {
    for q in ['"', '\''] {
        if let Some(inner) = content.strip_prefix(q) {
            let end = inner.find(q)?;
            let after = &inner[end + 1..];
            return after
                .trim_start()
                .starts_with(':')
                .then(|| inner[..end].to_owned());
        }
    }
    let colon = content.find(':')?;
    let after = &content[colon + 1..];
    if !(after.is_empty() || after.starts_with(' ') || after.starts_with('\t')) {
        return None;
    }
    Some(content[..colon].trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<Seg> {
        parse_key(s).unwrap()
    }

    const TEXT: &str = "\
# comment
model:
  default: gpt-4o
  provider: openai

agent:
  max_turns: lots   # bad
  disabled_toolsets: [web]
fallback_providers:
  - provider: openrouter
    model: a/b
  -   provider: \"custom\"
      'model': c
terminal: {backend: docker}
";

    #[test]
    fn finds_lines_of_nested_keys_and_list_items() {
        assert_eq!(find_line(TEXT, &p("model")), Some(2));
        assert_eq!(find_line(TEXT, &p("model.provider")), Some(4));
        assert_eq!(find_line(TEXT, &p("agent.max_turns")), Some(7));
        assert_eq!(find_line(TEXT, &p("fallback_providers.0")), Some(10));
        assert_eq!(find_line(TEXT, &p("fallback_providers.0.model")), Some(11));
        assert_eq!(
            find_line(TEXT, &p("fallback_providers.1.provider")),
            Some(12)
        );
        assert_eq!(find_line(TEXT, &p("fallback_providers.1.model")), Some(13));
        // Flow style: the closest written ancestor.
        assert_eq!(find_line(TEXT, &p("terminal.backend")), Some(14));
        assert_eq!(find_line(TEXT, &p("nothing.here")), None);
        // `default` under model, not some other `default`.
        assert_eq!(
            find_line(
                "a:\n  default: 1\nmodel:\n  default: 2\n",
                &p("model.default")
            ),
            Some(4)
        );
    }

    #[test]
    fn set_creates_sections_and_indexes_lists() {
        let mut t: Value = serde_norway::from_str("model: gpt-4o\nlist: [a]\n").unwrap();
        set(&mut t, &p("model.provider"), Value::String("openai".into())).unwrap();
        set(&mut t, &p("agent.max_turns"), Value::Number(5.into())).unwrap();
        set(&mut t, &p("list.1"), Value::String("b".into())).unwrap();
        set(&mut t, &p("fresh.0.name"), Value::String("x".into())).unwrap();
        let err = set(&mut t, &p("list.5"), Value::Null).unwrap_err();
        assert!(err.contains("out of range"), "{err}");
        let err = set(&mut t, &p("agent.max_turns.x"), Value::Null).unwrap_err();
        assert!(err.contains("agent.max_turns` is a number"), "{err}");
        let want: Value = serde_norway::from_str(
            "model: {default: gpt-4o, provider: openai}\nlist: [a, b]\nagent: {max_turns: 5}\nfresh: [{name: x}]\n",
        )
        .unwrap();
        assert_eq!(t, want);
        assert_eq!(get(&t, &p("list.1")), Some(&Value::String("b".into())));
        assert!(remove(&mut t, &p("model.provider")));
        assert!(!remove(&mut t, &p("model.provider")));
    }

    #[test]
    fn parse_errors_have_positions() {
        let err = parse_file("a: 1\nb: [1, 2\n", Path::new("/h/config.yaml")).unwrap_err();
        let ConfigError::Syntax { line, column, .. } = &err else {
            panic!("{err}")
        };
        assert!(line.is_some() && column.is_some(), "{err}");
        assert!(!err.to_string().contains(" at line "), "{err}");
        let err = parse_file("- a\n- b\n", Path::new("/h/config.yaml")).unwrap_err();
        assert!(err.to_string().contains("mapping"), "{err}");
        assert_eq!(
            parse_file("# nothing\n\n", Path::new("x")).unwrap(),
            Value::Mapping(Mapping::new())
        );
    }

    #[test]
    fn keys_are_validated() {
        assert!(parse_key("a..b").is_err());
        assert!(parse_key("").is_err());
        assert!(parse_key("a b").is_err());
        assert_eq!(p("a.0"), vec![Seg::Key("a".into()), Seg::Index(0)]);
    }
}
