//! `write_file`: replaces a whole file, Hermes' shapes.
//!
//! Result: `{"bytes_written", "dirs_created", "resolved_path", "files_modified"}`. The write is
//! atomic (see [`FileAccess::atomic_write`]); an existing file keeps its mode, its CRLF line
//! endings and its UTF-8 byte-order mark. Content that is mostly `read_file` gutter lines
//! (`12|text`) is refused, as Hermes does. Errors are `{"error": ...}` returned as
//! [`ToolError::RespondToModel`].

use std::io::Read;
use std::sync::Arc;

use async_trait::async_trait;
use hermes_core::{Tool, ToolContext, ToolError, ToolSpec};
use serde_json::{Value, json};

use crate::fs::{FileAccess, Resolved, run_blocking};

/// How much of an existing file is inspected for its line-ending style.
const STYLE_SNIFF_BYTES: u64 = 64 * 1024;
const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// The `write_file` tool.
pub struct WriteFileTool {
    access: Arc<FileAccess>,
    spec: ToolSpec,
}

impl WriteFileTool {
    pub fn new(access: Arc<FileAccess>) -> WriteFileTool {
        WriteFileTool {
            access,
            spec: spec(),
        }
    }
}

fn spec() -> ToolSpec {
    ToolSpec {
        name: "write_file".to_string(),
        description: "Write content to a file, completely replacing existing content. Use this \
            instead of echo/cat heredoc in terminal. Creates parent directories automatically. \
            OVERWRITES the entire file — use 'patch' for targeted edits."
            .to_string(),
        parameters: json!({
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "Path to the file to write (will be created if it doesn't exist, overwritten if it does)"},
                "content": {"type": "string", "description": "Complete content to write to the file"}
            },
            "required": ["path", "content"]
        }),
    }
}

#[async_trait]
impl Tool for WriteFileTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn is_mutating(&self, _args: &Value) -> bool {
        true
    }

    async fn call(&self, args: Value, _ctx: &ToolContext) -> Result<String, ToolError> {
        let access = self.access.clone();
        run_blocking(move || write_file(&access, &args)).await
    }
}

fn error(msg: impl Into<String>) -> ToolError {
    ToolError::model(json!({ "error": msg.into() }).to_string())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Runs one `write_file` call.
pub fn write_file(access: &FileAccess, args: &Value) -> Result<String, ToolError> {
    let path = match args.get("path").and_then(Value::as_str) {
        Some(p) if !p.trim().is_empty() => p,
        _ => {
            return Err(error(
                "write_file: missing required field 'path'. Re-emit the tool call with both \
                 'path' and 'content' set.",
            ));
        }
    };
    let content = match args.get("content") {
        None | Some(Value::Null) => {
            return Err(error(
                "write_file: missing required field 'content'. The tool call included a path but \
                 no content argument — this is almost always a dropped-arg bug under context \
                 pressure. Re-emit the tool call with the full content payload.",
            ));
        }
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(error(format!(
                "write_file: 'content' must be a string, got {}.",
                json_type(other)
            )));
        }
    };
    if looks_like_read_file_output(content) {
        return Err(error(
            "Refusing to write internal read_file display text as file content. Strip read_file \
             line-number prefixes or reconstruct the intended file contents before writing.",
        ));
    }
    let resolved = access
        .resolve_write(path)
        .map_err(|e| error(e.to_string()))?;
    let bytes = shape_like_existing(access, &resolved, content);
    let outcome = access
        .atomic_write(&resolved, &bytes, None)
        .map_err(|e| error(format!("Failed to write file: {e}")))?;
    let abs = resolved.path.display().to_string();
    Ok(json!({
        "bytes_written": bytes.len(),
        "dirs_created": outcome.dirs_created,
        "resolved_path": abs,
        "files_modified": [abs],
    })
    .to_string())
}

/// Keeps an existing file's CRLF line endings and byte-order mark.
fn shape_like_existing(access: &FileAccess, resolved: &Resolved, content: &str) -> Vec<u8> {
    let mut head = Vec::new();
    if resolved.exists
        && let Ok(f) = access.open_read(resolved)
    {
        let _ = f.take(STYLE_SNIFF_BYTES).read_to_end(&mut head);
    }
    let crlf = head.windows(2).any(|w| w == b"\r\n");
    let bom = head.starts_with(UTF8_BOM);
    let mut text = if crlf {
        to_crlf(content)
    } else {
        content.to_string()
    };
    if bom && !text.starts_with('\u{feff}') {
        text.insert(0, '\u{feff}');
    }
    text.into_bytes()
}

/// Turns bare `\n` into `\r\n`, leaving existing `\r\n` alone.
pub(crate) fn to_crlf(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 32);
    let mut prev = '\0';
    for ch in s.chars() {
        if ch == '\n' && prev != '\r' {
            out.push('\r');
        }
        out.push(ch);
        prev = ch;
    }
    out
}

/// Whether `content` is dominated by `read_file`'s `N|text` display: at least two non-blank
/// lines, at least 60% of them numbered, and the numbers consecutive.
pub(crate) fn looks_like_read_file_output(content: &str) -> bool {
    let lines: Vec<&str> = content.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() < 2 {
        return false;
    }
    let numbered: Vec<u64> = lines
        .iter()
        .filter_map(|l| {
            let (prefix, _) = l.trim_start().split_once('|')?;
            if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            prefix.parse().ok()
        })
        .collect();
    if numbered.len() < 2 || (numbered.len() as f64) / (lines.len() as f64) < 0.6 {
        return false;
    }
    let consecutive = numbered
        .windows(2)
        .filter(|w| w[1] == w[0].wrapping_add(1))
        .count();
    consecutive + 1 >= numbered.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gutter_guard() {
        assert!(looks_like_read_file_output("1|a\n2|b\n3|c"));
        assert!(looks_like_read_file_output("     1|a\n     2|b\n"));
        assert!(!looks_like_read_file_output("1|value"));
        assert!(!looks_like_read_file_output("a|b\nc|d"));
        assert!(!looks_like_read_file_output("1|a\n5|b\n9|c"));
        assert!(!looks_like_read_file_output("x\ny\nz\n1|a\n2|b"));
    }

    #[test]
    fn crlf_conversion() {
        assert_eq!(to_crlf("a\nb\r\nc\n"), "a\r\nb\r\nc\r\n");
        assert_eq!(to_crlf(""), "");
    }
}
