//! `$HERMES_HOME/.env`: reading it into a map (never into the process environment) and
//! editing single variables in place, keeping every other line byte for byte.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::ConfigError;
use crate::fsutil;

/// Reads a `.env` file. A missing file is an empty map; a malformed line is an error that
/// names the file, the line number and the problem (never the value, which may be a
/// secret). Later assignments of the same name win.
pub fn read_dotenv(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let Some(text) = fsutil::read_optional(path)? else {
        return Ok(BTreeMap::new());
    };
    parse_dotenv(&text, path)
}

/// Parses `.env` text; `path` is used in error messages.
pub fn parse_dotenv(text: &str, path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut map = BTreeMap::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        match item {
            Ok((k, v)) => {
                map.insert(k, v);
            }
            Err(dotenvy::Error::LineParse(fragment, _)) => {
                let line = locate(text, &fragment);
                let physical = line
                    .and_then(|n| text.lines().nth(n - 1))
                    .unwrap_or(fragment.as_str());
                return Err(ConfigError::Dotenv {
                    path: path.to_owned(),
                    line: line.unwrap_or(0),
                    message: diagnose(physical),
                });
            }
            Err(e) => {
                return Err(ConfigError::io(
                    "read",
                    path,
                    std::io::Error::other(e.to_string()),
                ));
            }
        }
    }
    Ok(map)
}

/// The 1-based line where the text dotenvy complained about starts: either a whole
/// logical line (at a line start) or the value part after `NAME=`.
fn locate(text: &str, fragment: &str) -> Option<usize> {
    let fragment = fragment.trim_end_matches(['\n', '\r']);
    let line_of = |pos: usize| text[..pos].matches('\n').count() + 1;
    if fragment.is_empty() {
        return None;
    }
    let mut starts = vec![0];
    starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
    if let Some(&p) = starts
        .iter()
        .find(|&&p| p <= text.len() && text[p..].starts_with(fragment))
    {
        return Some(line_of(p));
    }
    text.match_indices(fragment)
        .find(|(p, _)| {
            let ls = text[..*p].rfind('\n').map_or(0, |i| i + 1);
            text[ls..*p].trim_end().ends_with('=')
        })
        .map(|(p, _)| line_of(p))
}

/// Says what is wrong with a malformed line, without repeating its value.
fn diagnose(line: &str) -> String {
    let t = line.trim();
    let body = t.strip_prefix("export ").map_or(t, str::trim_start);
    let Some(eq) = body.find('=') else {
        return "expected NAME=value, but the line has no `=`".to_owned();
    };
    let name = body[..eq].trim_end();
    if !valid_name(name) {
        return format!(
            "`{name}` is not a valid variable name (use letters, digits and `_`, not starting with a digit)"
        );
    }
    let value = body[eq + 1..].trim();
    let mut chars = value.chars().peekable();
    let (mut single, mut double) = (false, false);
    let mut after_space = false;
    while let Some(c) = chars.next() {
        if single {
            single = c != '\'';
        } else if double {
            match c {
                '"' => double = false,
                '\\' => match chars.next() {
                    Some('\\' | '\'' | '"' | '$' | ' ' | 'n') => {}
                    Some(other) => {
                        return format!(
                            "value of {name} has an unsupported escape `\\{other}` (supported: \\\\ \\n \\\" \\' \\$)"
                        );
                    }
                    None => {}
                },
                _ => {}
            }
        } else if after_space {
            if c == '#' {
                break;
            }
            if !c.is_whitespace() {
                return format!("value of {name} contains a space; put the whole value in quotes");
            }
        } else {
            match c {
                '\'' => single = true,
                '"' => double = true,
                ' ' | '\t' => after_space = true,
                _ => {}
            }
        }
    }
    if single || double {
        return format!("value of {name} opens a quote that is never closed");
    }
    if value.contains("${") && !value[value.find("${").unwrap_or(0)..].contains('}') {
        return format!("value of {name} has `${{` without a closing `}}`");
    }
    format!("the line assigning {name} could not be parsed")
}

/// A valid environment variable name.
pub(crate) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Writes `value` so that dotenvy reads it back unchanged: bare when it is plain,
/// single-quoted (no escapes, no `$` expansion) when possible, double-quoted with escapes
/// otherwise. Newlines are refused: secrets are single-line.
pub(crate) fn quote_value(value: &str) -> Result<String, String> {
    if value.contains(['\n', '\r', '\0']) {
        return Err("the value contains a line break; .env values must be a single line".into());
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:+,@%^*~=".contains(c);
    if !value.is_empty() && value.chars().all(plain) {
        return Ok(value.to_owned());
    }
    if !value.contains('\'') {
        return Ok(format!("'{value}'"));
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '\\' | '"' | '$' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out.push('"');
    Ok(out)
}

/// Byte ranges of the lines that assign `name` (a multi-line quoted value spans several).
fn assignments(text: &str, name: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < text.len() {
        let end = text[pos..].find('\n').map_or(text.len(), |i| pos + i + 1);
        let line = &text[pos..end];
        let t = line.trim_start();
        let body = t
            .strip_prefix("export")
            .filter(|r| r.starts_with([' ', '\t']));
        let body = body.map_or(t, str::trim_start);
        let assigns = body
            .strip_prefix(name)
            .is_some_and(|rest| rest.trim_start().starts_with('='));
        if !assigns {
            pos = end;
            continue;
        }
        // Extend over continuation lines while a quote is open.
        let mut stop = end;
        let value_start = pos + line.find('=').map_or(0, |i| i + 1);
        let (mut single, mut double, mut escaped) = (false, false, false);
        let mut i = value_start;
        let bytes = text.as_bytes();
        while i < text.len() {
            let c = bytes[i];
            if escaped {
                escaped = false;
            } else if single {
                single = c != b'\'';
            } else if double {
                match c {
                    b'"' => double = false,
                    b'\\' => escaped = true,
                    _ => {}
                }
            } else {
                match c {
                    b'\'' => single = true,
                    b'"' => double = true,
                    b'\\' => escaped = true,
                    b'#' => {
                        // Comment: runs to end of line.
                        let eol = text[i..].find('\n').map_or(text.len(), |k| i + k + 1);
                        i = eol;
                        break;
                    }
                    b'\n' => {
                        i += 1;
                        break;
                    }
                    _ => {}
                }
            }
            i += 1;
            if i >= text.len() {
                break;
            }
        }
        stop = stop.max(i.min(text.len()));
        out.push(pos..stop);
        pos = stop;
    }
    out
}

/// `text` with `name` set to `value`: the first assignment is replaced in place, later
/// duplicates are removed, and when there is none a line is appended. All other bytes
/// are kept.
pub(crate) fn set_in_text(text: &str, name: &str, value: &str) -> Result<String, String> {
    let line = format!("{name}={}\n", quote_value(value)?);
    let ranges = assignments(text, name);
    let mut out = String::with_capacity(text.len() + line.len());
    if ranges.is_empty() {
        out.push_str(text);
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&line);
        return Ok(out);
    }
    let mut pos = 0;
    for (i, r) in ranges.iter().enumerate() {
        out.push_str(&text[pos..r.start]);
        if i == 0 {
            out.push_str(&line);
        }
        pos = r.end;
    }
    out.push_str(&text[pos..]);
    Ok(out)
}

/// `text` without any assignment of `name`, and whether there was one.
pub(crate) fn remove_in_text(text: &str, name: &str) -> (String, bool) {
    let ranges = assignments(text, name);
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for r in &ranges {
        out.push_str(&text[pos..r.start]);
        pos = r.end;
    }
    out.push_str(&text[pos..]);
    (out, !ranges.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<BTreeMap<String, String>, ConfigError> {
        parse_dotenv(text, Path::new("/h/.env"))
    }

    #[test]
    fn parses_quotes_exports_and_comments() {
        let m = parse("# c\nA=1\nexport B='two words'\nC=\"x\\\"y\"  # trailing\n\nD=\nA=again\n")
            .unwrap();
        assert_eq!(m["A"], "again");
        assert_eq!(m["B"], "two words");
        assert_eq!(m["C"], "x\"y");
        assert_eq!(m["D"], "");
    }

    #[test]
    fn malformed_lines_name_the_line_and_problem_without_the_value() {
        for (text, line, needle) in [
            ("A=1\nthis is not valid\n", 2, "no `=`"),
            ("A=1\n\n1BAD=x\n", 3, "not a valid variable name"),
            (
                "A=1\nB=two words secret\n",
                2,
                "put the whole value in quotes",
            ),
            ("A=1\nB='unterminated\n", 2, "never closed"),
        ] {
            let err = parse(text).unwrap_err();
            let ConfigError::Dotenv { line: l, .. } = &err else {
                panic!("{err}")
            };
            assert_eq!(*l, line, "{text:?}: {err}");
            let msg = err.to_string();
            assert!(msg.contains(needle), "{msg}");
            assert!(msg.contains("/h/.env"), "{msg}");
            assert!(!msg.contains("secret"), "{msg}");
        }
    }

    #[test]
    fn quoted_values_round_trip() {
        for v in [
            "sk-abc123",
            "",
            "two words",
            "has$dollar",
            "it's",
            "it's $HOME \"q\" \\ back",
            "#hash",
            "${NOT_EXPANDED}",
        ] {
            let text = set_in_text("", "K", v).unwrap();
            let m = parse(&text).unwrap();
            assert_eq!(m["K"], v, "{text}");
        }
        assert!(quote_value("a\nb").is_err());
    }

    #[test]
    fn set_replaces_in_place_and_keeps_other_bytes() {
        let text =
            "# keys\nexport OPENAI_API_KEY=old # note\nOTHER=x\r\nOPENAI_API_KEY=dup\nLAST=1";
        let out = set_in_text(text, "OPENAI_API_KEY", "new").unwrap();
        assert_eq!(out, "# keys\nOPENAI_API_KEY=new\nOTHER=x\r\nLAST=1");
        let out = set_in_text(&out, "NEW_TOKEN", "t").unwrap();
        assert_eq!(
            out,
            "# keys\nOPENAI_API_KEY=new\nOTHER=x\r\nLAST=1\nNEW_TOKEN=t\n"
        );
        let (out, found) = remove_in_text(&out, "OTHER");
        assert!(found);
        assert_eq!(out, "# keys\nOPENAI_API_KEY=new\nLAST=1\nNEW_TOKEN=t\n");
        // Prefix names are not matched.
        let (_, found) = remove_in_text("OPENAI_API_KEY_2=x\n", "OPENAI_API_KEY");
        assert!(!found);
    }

    #[test]
    fn multi_line_values_are_replaced_whole() {
        let text = "A=\"line1\nline2\"\nB=2\n";
        assert_eq!(parse(text).unwrap()["A"], "line1\nline2");
        let out = set_in_text(text, "A", "one").unwrap();
        assert_eq!(out, "A=one\nB=2\n");
    }
}
