//! Writing `config.yaml` so that both readers agree on every value.
//!
//! hermes-rs reads YAML 1.2 (the core schema), Hermes reads the same file with PyYAML,
//! which follows YAML 1.1. They disagree on plain scalars: `off`, `yes`, `n` are booleans
//! in 1.1 and strings in 1.2; `1_000`, `017` (octal) and `1:30` (base 60) are numbers in
//! 1.1 only; `2024-05-01` is a date in 1.1. The YAML library quotes strings that 1.2 would misread,
//! so [`to_yaml`] additionally single-quotes every string (value or key) that 1.1 could
//! read as anything but a string: `approvals.mode: 'off'`.
//!
//! The library cannot be told to quote a given string, so such strings are swapped for
//! unique placeholder words before serialising and swapped back, quoted, afterwards. The
//! result is parsed again and must give back the same tree, or nothing is written.

use serde_norway::{Mapping, Value};

/// Serialises a config tree as YAML that YAML 1.1 and 1.2 readers read identically.
pub(crate) fn to_yaml(tree: &Value) -> Result<String, String> {
    let marker = unused_marker(tree);
    let mut quoted = Vec::new();
    let marked = mark(tree, &marker, &mut quoted);
    let mut text = serde_norway::to_string(&marked).map_err(|e| e.to_string())?;
    for (i, s) in quoted.iter().enumerate() {
        let token = placeholder(&marker, i);
        if text.matches(&token).count() != 1 {
            return Err(format!(
                "internal error while quoting `{s}` (placeholder not found exactly once)"
            ));
        }
        text = text.replacen(&token, &format!("'{s}'"), 1);
    }
    match serde_norway::from_str::<Value>(&text) {
        Ok(back) if back == *tree || (is_empty_mapping(tree) && back == Value::Null) => Ok(text),
        Ok(_) => Err("the YAML written would not read back as the same settings".to_owned()),
        Err(e) => Err(format!("the YAML written would not parse ({e})")),
    }
}

fn is_empty_mapping(v: &Value) -> bool {
    matches!(v, Value::Mapping(m) if m.is_empty())
}

/// Whether YAML 1.1 (PyYAML) could read this plain scalar as something other than a
/// string: booleans (`yes no on off y n true false`, any case), null (`~`, `null`, empty),
/// numbers in any 1.1 spelling (signs, `_`, `0x`, `0b`, sexagesimal `1:30`, `.5`,
/// `.inf`), dates and times, and the special `=` and `<<`. Errs towards quoting:
/// anything starting like a number is quoted, which only costs two characters.
pub(crate) fn ambiguous_in_yaml11(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "" | "~" | "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "=" | "<<"
    ) {
        return true;
    }
    let body = lower.strip_prefix(['+', '-']).unwrap_or(&lower);
    if matches!(body, ".inf" | ".nan") {
        return true;
    }
    let numeric_start = body.starts_with(|c: char| c.is_ascii_digit())
        || (body.starts_with('.') && body[1..].starts_with(|c: char| c.is_ascii_digit()));
    numeric_start
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.:+- ".contains(c))
}

/// A word that occurs in no string, key or tag of the tree.
fn unused_marker(tree: &Value) -> String {
    let mut texts = Vec::new();
    collect_texts(tree, &mut texts);
    let mut n = 0u32;
    loop {
        let marker = format!("hermesquoted{n}x");
        if !texts.iter().any(|t| t.contains(&marker)) {
            return marker;
        }
        n += 1;
    }
}

fn placeholder(marker: &str, i: usize) -> String {
    // The trailing `z` keeps `…q1z` from matching inside `…q10z`.
    format!("{marker}q{i}z")
}

fn collect_texts(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Sequence(items) => items.iter().for_each(|i| collect_texts(i, out)),
        Value::Mapping(m) => {
            for (k, v) in m {
                collect_texts(k, out);
                collect_texts(v, out);
            }
        }
        Value::Tagged(t) => {
            out.push(t.tag.to_string());
            collect_texts(&t.value, out);
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// A copy of `v` with every 1.1-ambiguous string replaced by a placeholder; the originals
/// are pushed to `quoted` in placeholder order.
fn mark(v: &Value, marker: &str, quoted: &mut Vec<String>) -> Value {
    match v {
        Value::String(s) if ambiguous_in_yaml11(s) => {
            let token = placeholder(marker, quoted.len());
            quoted.push(s.clone());
            Value::String(token)
        }
        Value::Sequence(items) => {
            Value::Sequence(items.iter().map(|i| mark(i, marker, quoted)).collect())
        }
        Value::Mapping(m) => {
            let mut out = Mapping::with_capacity(m.len());
            for (k, v) in m {
                let k = mark(k, marker, quoted);
                let v = mark(v, marker, quoted);
                out.insert(k, v);
            }
            Value::Mapping(out)
        }
        Value::Tagged(t) => {
            let mut t = (**t).clone();
            t.value = mark(&t.value, marker, quoted);
            Value::Tagged(Box::new(t))
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).unwrap()
    }

    #[test]
    fn yaml11_words_and_numbers_are_quoted() {
        let mut m = Mapping::new();
        for (k, v) in [
            ("a", "off"),
            ("b", "Yes"),
            ("c", "N"),
            ("d", "ON"),
            ("e", "1_000"),
            ("f", "1:30"),
            ("g", "2024-05-01"),
            ("h", "~"),
            ("i", "NULL"),
            ("j", ".5"),
            ("k", "-.inf"),
            ("l", "0b101"),
            ("m", "gpt-4o"),
            ("n", "smart"),
            ("o", "1.2.3"),
        ] {
            m.insert(Value::String(k.into()), Value::String(v.into()));
        }
        m.insert(Value::String("y".into()), Value::Bool(true));
        let tree = Value::Mapping(m);
        let text = to_yaml(&tree).unwrap();
        for line in [
            "a: 'off'",
            "b: 'Yes'",
            "c: 'N'",
            "d: 'ON'",
            "e: '1_000'",
            "f: '1:30'",
            "g: '2024-05-01'",
            "h: '~'",
            "i: 'NULL'",
            "j: '.5'",
            "k: '-.inf'",
            "l: '0b101'",
            "m: gpt-4o",
            "'n': smart",
            "o: '1.2.3'",
            "'y': true",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
        assert_eq!(yaml(&text), tree);
    }

    #[test]
    fn nested_lists_tags_and_multi_line_text_survive() {
        let tree = yaml(
            "approvals:\n  mode: 'off'\n  deny: ['no', rm -rf /, 'on']\nx: !custom 'yes'\nsoul: \"line one\\nline two\\n\"\nempty: {}\nnums: [1, 2.5, -3]\nnone: null\n",
        );
        let text = to_yaml(&tree).unwrap();
        assert!(text.contains("- 'no'"), "{text}");
        assert!(text.contains("- 'on'"), "{text}");
        assert!(text.contains("!custom 'yes'"), "{text}");
        assert_eq!(yaml(&text), tree);
    }

    #[test]
    fn a_string_that_contains_the_placeholder_word_is_left_alone() {
        let tree = yaml("a: hermesquoted0xq0z\nb: 'off'\nc: hermesquoted1x\n");
        let text = to_yaml(&tree).unwrap();
        assert_eq!(yaml(&text), tree);
        assert!(text.contains("b: 'off'"), "{text}");
    }

    #[test]
    fn plain_words_are_not_ambiguous() {
        for s in [
            "smart",
            "gpt-4o",
            "openrouter",
            "nope",
            "o",
            "yess",
            "Europe/Berlin",
        ] {
            assert!(!ambiguous_in_yaml11(s), "{s}");
        }
    }
}
