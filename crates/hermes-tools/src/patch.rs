//! `patch`: targeted edits, Hermes' shapes.
//!
//! Two modes:
//! - `replace` (default): find `old_string` in one file and replace it with `new_string`.
//!   The match must be unique unless `replace_all` is set. When the exact text is not found,
//!   a chain of more tolerant rules is tried — line-trimmed (leading/trailing whitespace of
//!   each line ignored), whitespace-normalized (runs of spaces/tabs collapsed), and
//!   indentation-flexible (both at once, line by line) — and `new_string` is re-indented to
//!   the file's indentation. `replace_all` only applies to exact matches.
//! - `patch`: a V4A multi-file patch, see [`crate::v4a`].
//!
//! Success: `{"success": true, "diff": "<unified diff>", "files_modified": [...]}` (V4A adds
//! `files_created` / `files_deleted`); failures are `{"success": false, "error": ...}` (or
//! `{"error": ...}` for missing arguments) returned as [`ToolError::RespondToModel`].
//! CRLF files and a UTF-8 byte-order mark are preserved.

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hermes_core::{Tool, ToolContext, ToolError, ToolSpec};
use serde_json::{Value, json};

use crate::fs::{FileAccess, FsError, run_blocking};
use crate::v4a;

/// Files larger than this are not patched (they are read whole into memory).
pub const MAX_PATCH_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The `patch` tool.
pub struct PatchTool {
    access: Arc<FileAccess>,
    spec: ToolSpec,
    /// Consecutive "not found" failures per (session, file), for the stop-retrying hint.
    failures: Arc<Mutex<HashMap<(String, PathBuf), u32>>>,
}

impl PatchTool {
    pub fn new(access: Arc<FileAccess>) -> PatchTool {
        PatchTool {
            access,
            spec: spec(),
            failures: Arc::default(),
        }
    }
}

fn spec() -> ToolSpec {
    ToolSpec {
        name: "patch".to_string(),
        description: "Targeted find-and-replace edits in files. Use this instead of sed/awk in \
            terminal. Uses fuzzy matching so minor whitespace/indentation differences won't break \
            it. Returns a unified diff.\n\nREPLACE MODE (mode='replace', default): find a unique \
            string and replace it. REQUIRED PARAMETERS: mode, path, old_string, new_string.\n\
            PATCH MODE (mode='patch'): apply V4A multi-file patches for bulk changes. REQUIRED \
            PARAMETERS: mode, patch."
            .to_string(),
        parameters: json!({
            "type": "object",
            "properties": {
                "mode": {"type": "string", "enum": ["replace", "patch"], "description": "Edit mode. 'replace' (default): requires path + old_string + new_string. 'patch': requires patch content only.", "default": "replace"},
                "path": {"type": "string", "description": "REQUIRED when mode='replace'. File path to edit."},
                "old_string": {"type": "string", "description": "REQUIRED when mode='replace'. Exact text to find and replace. Must be unique in the file unless replace_all=true. Include surrounding context lines to ensure uniqueness."},
                "new_string": {"type": "string", "description": "REQUIRED when mode='replace'. Replacement text. Pass empty string '' to delete the matched text."},
                "replace_all": {"type": "boolean", "description": "Replace all occurrences instead of requiring a unique match (default: false)", "default": false},
                "patch": {"type": "string", "description": "REQUIRED when mode='patch'. V4A format patch content. Format:\n*** Begin Patch\n*** Update File: path/to/file\n@@ context hint @@\n context line\n-removed line\n+added line\n*** End Patch"}
            },
            "required": ["mode"]
        }),
    }
}

#[async_trait]
impl Tool for PatchTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn is_mutating(&self, _args: &Value) -> bool {
        true
    }

    async fn call(&self, args: Value, ctx: &ToolContext) -> Result<String, ToolError> {
        let access = self.access.clone();
        let failures = self.failures.clone();
        let session = ctx.session_id.clone();
        run_blocking(move || {
            let mode = args
                .get("mode")
                .and_then(Value::as_str)
                .unwrap_or("replace");
            match mode {
                "replace" => replace_mode(&access, &args, &failures, &session),
                "patch" => patch_mode(&access, &args),
                other => Err(plain_error(format!("Unknown mode: {other}"))),
            }
        })
        .await
    }
}

fn plain_error(msg: impl Into<String>) -> ToolError {
    ToolError::model(json!({ "error": msg.into() }).to_string())
}

fn failure(msg: impl Into<String>) -> ToolError {
    ToolError::model(json!({ "success": false, "error": msg.into() }).to_string())
}

fn patch_mode(access: &FileAccess, args: &Value) -> Result<String, ToolError> {
    let text = match args.get("patch").and_then(Value::as_str) {
        Some(t) if !t.trim().is_empty() => t,
        _ => return Err(plain_error("patch content required")),
    };
    match v4a::apply_patch(access, text) {
        Ok(applied) => {
            let mut out = json!({ "success": true, "diff": applied.diff });
            for (key, list) in [
                ("files_modified", &applied.modified),
                ("files_created", &applied.created),
                ("files_deleted", &applied.deleted),
            ] {
                if !list.is_empty() {
                    out[key] = json!(list);
                }
            }
            Ok(out.to_string())
        }
        Err(e) => Err(failure(e.to_string())),
    }
}

fn replace_mode(
    access: &FileAccess,
    args: &Value,
    failures: &Mutex<HashMap<(String, PathBuf), u32>>,
    session: &str,
) -> Result<String, ToolError> {
    let Some(path) = args
        .get("path")
        .and_then(Value::as_str)
        .filter(|p| !p.trim().is_empty())
    else {
        return Err(plain_error("path required"));
    };
    let (Some(old), Some(new)) = (
        args.get("old_string").and_then(Value::as_str),
        args.get("new_string").and_then(Value::as_str),
    ) else {
        return Err(plain_error("old_string and new_string required"));
    };
    let replace_all = args
        .get("replace_all")
        .and_then(Value::as_bool)
        .unwrap_or(false);

    let resolved = access
        .resolve_edit(path)
        .map_err(|e| failure(e.to_string()))?;
    let file = match access.read_all(&resolved, MAX_PATCH_FILE_BYTES) {
        Ok(f) => f,
        Err(FsError::NotFound { .. }) => {
            return Err(failure(format!(
                "Failed to read file: {path} (file not found). Use write_file to create a new file."
            )));
        }
        Err(e) => return Err(failure(format!("Failed to read file: {e}"))),
    };
    let Ok(raw) = String::from_utf8(file.bytes) else {
        return Err(failure(format!(
            "Failed to read file: {path} is not UTF-8 text; it cannot be patched."
        )));
    };
    let text = TextFile::decode(&raw);
    let old = normalize_newlines(old);
    let new = normalize_newlines(new);
    let key = (session.to_string(), resolved.path.clone());

    let updated = match find_and_replace(&text.body, &old, &new, replace_all) {
        Ok(u) => u,
        Err(err) => {
            if matches!(err, MatchError::NotFound | MatchError::Identical)
                && is_already_applied(&text.body, &old, &new)
            {
                return Ok(json!({
                    "success": true,
                    "no_change": true,
                    "note": format!(
                        "File already contains the target text — the edit appears to be already \
                         applied to {path}. No write performed; do not re-send this patch."
                    ),
                })
                .to_string());
            }
            let mut msg = err.to_string();
            if matches!(err, MatchError::NotFound) {
                if let Some(s) = suggest_sections(&text.body, &old) {
                    msg.push_str("\n\nDid you mean one of these sections?\n");
                    msg.push_str(&s);
                }
                let count = {
                    let mut f = failures.lock().unwrap_or_else(|p| p.into_inner());
                    let c = f.entry(key).or_insert(0);
                    *c += 1;
                    *c
                };
                let hint = if count >= 3 {
                    format!(
                        "This is failure #{count} patching '{path}'. Stop retrying with variations \
                         of the same old_string. Either: (1) re-read the file fresh to verify \
                         current content, (2) use a longer / more unique old_string with \
                         surrounding context lines, or (3) use write_file to replace the entire \
                         file if the targeted region is hard to anchor."
                    )
                } else if !msg.contains("Did you mean") {
                    "old_string not found. Use read_file to verify the current content, or \
                     search_files to locate the text."
                        .to_string()
                } else {
                    String::new()
                };
                let mut out = json!({ "success": false, "error": msg });
                if !hint.is_empty() {
                    out["_hint"] = json!(hint);
                }
                return Err(ToolError::model(out.to_string()));
            }
            return Err(failure(msg));
        }
    };
    failures
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&key);

    let bytes = text.encode(&updated);
    access
        .atomic_write(&resolved, &bytes, None)
        .map_err(|e| failure(format!("Failed to write changes: {e}")))?;
    let rel = resolved.display_rel();
    let abs = resolved.path.display().to_string();
    Ok(json!({
        "success": true,
        "diff": unified_diff(&text.body, &updated, &format!("a/{rel}"), &format!("b/{rel}")),
        "files_modified": [abs],
        "resolved_path": abs,
    })
    .to_string())
}

/// A text file split into its LF-normalised body and how to put it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextFile {
    pub body: String,
    pub crlf: bool,
    pub bom: bool,
}

impl TextFile {
    /// CRLF is normalised only when every line break is CRLF (mixed files stay as they are).
    pub fn decode(raw: &str) -> TextFile {
        let (bom, s) = match raw.strip_prefix('\u{feff}') {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let lf = s.matches('\n').count();
        let crlf = lf > 0 && s.matches("\r\n").count() == lf;
        TextFile {
            body: if crlf {
                s.replace("\r\n", "\n")
            } else {
                s.to_string()
            },
            crlf,
            bom,
        }
    }

    pub fn encode(&self, body: &str) -> Vec<u8> {
        let mut out = String::with_capacity(body.len() + 3);
        if self.bom {
            out.push('\u{feff}');
        }
        if self.crlf {
            out.push_str(&crate::write_file::to_crlf(body));
        } else {
            out.push_str(body);
        }
        out.into_bytes()
    }
}

pub(crate) fn normalize_newlines(s: &str) -> String {
    s.replace("\r\n", "\n")
}

/// A unified diff with `a/` `b/` style headers ("" when nothing changed).
pub(crate) fn unified_diff(old: &str, new: &str, from: &str, to: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(from, to)
        .to_string()
}

/// The rule that found a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Exact,
    LineTrimmed,
    WhitespaceNormalized,
    IndentationFlexible,
}

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Exact => "exact",
            Strategy::LineTrimmed => "line_trimmed",
            Strategy::WhitespaceNormalized => "whitespace_normalized",
            Strategy::IndentationFlexible => "indentation_flexible",
        }
    }
}

/// Why `old_string` could not be replaced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    #[error("old_string cannot be empty")]
    Empty,
    #[error("old_string is only whitespace — provide non-blank text to match")]
    Blank,
    #[error("old_string and new_string are identical")]
    Identical,
    #[error("Could not find a match for old_string in the file")]
    NotFound,
    #[error(
        "Found {count} matches for old_string. Provide more context to make it unique, or use \
         replace_all=true. Matches:\n{locations}"
    )]
    Ambiguous { count: usize, locations: String },
    #[error(
        "Found {count} approximate matches via the '{strategy}' strategy; replace_all only \
         applies to exact matches. Provide the precise text (whitespace included) so an exact \
         match can be made."
    )]
    ApproximateReplaceAll {
        count: usize,
        strategy: &'static str,
    },
}

/// Finds `old` in `content` with the first strategy that matches anything.
pub fn find_matches(content: &str, old: &str) -> Option<(Strategy, Vec<Range<usize>>)> {
    let exact: Vec<Range<usize>> = content
        .match_indices(old)
        .map(|(i, m)| i..i + m.len())
        .collect();
    if !exact.is_empty() {
        return Some((Strategy::Exact, exact));
    }
    let trimmed = find_lines(content, old, |l| l.trim().to_string());
    if !trimmed.is_empty() {
        return Some((Strategy::LineTrimmed, trimmed));
    }
    let ws = find_collapsed(content, old);
    if !ws.is_empty() {
        return Some((Strategy::WhitespaceNormalized, ws));
    }
    let flexible = find_lines(content, old, |l| collapse_ws(l.trim()));
    if !flexible.is_empty() {
        return Some((Strategy::IndentationFlexible, flexible));
    }
    None
}

/// Replaces `old` with `new` in `content` (see the module docs for the rules).
pub fn find_and_replace(
    content: &str,
    old: &str,
    new: &str,
    replace_all: bool,
) -> Result<String, MatchError> {
    if old.is_empty() {
        return Err(MatchError::Empty);
    }
    if old.trim().is_empty() {
        return Err(MatchError::Blank);
    }
    if old == new {
        return Err(MatchError::Identical);
    }
    let (strategy, matches) = find_matches(content, old).ok_or(MatchError::NotFound)?;
    if matches.len() > 1 && !replace_all {
        return Err(MatchError::Ambiguous {
            count: matches.len(),
            locations: format_locations(content, &matches),
        });
    }
    if matches.len() > 1 && strategy != Strategy::Exact {
        return Err(MatchError::ApproximateReplaceAll {
            count: matches.len(),
            strategy: strategy.name(),
        });
    }
    let mut out = String::with_capacity(content.len() + new.len());
    let mut last = 0;
    for m in &matches {
        out.push_str(&content[last..m.start]);
        if strategy == Strategy::Exact {
            out.push_str(new);
        } else {
            out.push_str(&reindent(&content[m.clone()], old, new));
        }
        last = m.end;
    }
    out.push_str(&content[last..]);
    Ok(out)
}

/// Hermes' "already applied" rule: a non-trivial `new` is present verbatim and `old` is gone.
pub fn is_already_applied(content: &str, old: &str, new: &str) -> bool {
    if new.trim().chars().count() < 8 || !content.contains(new) {
        return false;
    }
    old == new || !content.contains(old)
}

fn format_locations(content: &str, matches: &[Range<usize>]) -> String {
    let mut rows: Vec<String> = matches
        .iter()
        .take(5)
        .map(|m| {
            let line_no = content[..m.start].matches('\n').count() + 1;
            let line_start = content[..m.start].rfind('\n').map_or(0, |i| i + 1);
            let line_end = content[line_start..]
                .find('\n')
                .map_or(content.len(), |i| line_start + i);
            let snippet = content[line_start..line_end].trim();
            let snippet = if snippet.chars().count() > 80 {
                format!("{}...", snippet.chars().take(77).collect::<String>())
            } else {
                snippet.to_string()
            };
            format!("  L{line_no}: {snippet}")
        })
        .collect();
    if matches.len() > 5 {
        rows.push(format!("  ... and {} more", matches.len() - 5));
    }
    rows.join("\n")
}

/// Byte spans of the lines of `s` (without their `\n`).
pub(crate) fn line_spans(s: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        if b == b'\n' {
            out.push(start..i);
            start = i + 1;
        }
    }
    out.push(start..s.len());
    out
}

/// Whole-line matches of `old` where every line compares equal after `norm`. When `old`
/// ends with a newline, the match includes the newline after its last line.
fn find_lines(content: &str, old: &str, norm: impl Fn(&str) -> String) -> Vec<Range<usize>> {
    let (core, with_newline) = match old.strip_suffix('\n') {
        Some(c) => (c, true),
        None => (old, false),
    };
    let wanted: Vec<String> = core.split('\n').map(&norm).collect();
    if wanted.iter().all(String::is_empty) {
        return Vec::new();
    }
    let spans = line_spans(content);
    let have: Vec<String> = spans.iter().map(|r| norm(&content[r.clone()])).collect();
    let n = wanted.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i + n <= have.len() {
        if have[i..i + n] == wanted[..] {
            let start = spans[i].start;
            let mut end = spans[i + n - 1].end;
            if with_newline && end < content.len() {
                end += 1;
            }
            out.push(start..end);
            i += n;
        } else {
            i += 1;
        }
    }
    out
}

fn is_blank_char(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Runs of spaces/tabs collapsed to one space.
pub(crate) fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_run = false;
    for ch in s.chars() {
        if ch == ' ' || ch == '\t' {
            if !in_run {
                out.push(' ');
            }
            in_run = true;
        } else {
            out.push(ch);
            in_run = false;
        }
    }
    out
}

/// Substring matches after collapsing runs of spaces/tabs, mapped back to `content`.
fn find_collapsed(content: &str, old: &str) -> Vec<Range<usize>> {
    let needle = collapse_ws(old);
    if needle.trim().is_empty() {
        return Vec::new();
    }
    // For every byte of the collapsed text: where it starts and ends in `content`.
    let bytes = content.as_bytes();
    let mut norm = Vec::with_capacity(bytes.len());
    let mut starts = Vec::with_capacity(bytes.len());
    let mut ends = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if is_blank_char(bytes[i]) {
            let s = i;
            while i < bytes.len() && is_blank_char(bytes[i]) {
                i += 1;
            }
            norm.push(b' ');
            starts.push(s);
            ends.push(i);
        } else {
            norm.push(bytes[i]);
            starts.push(i);
            ends.push(i + 1);
            i += 1;
        }
    }
    // Only ASCII blanks were replaced (by ASCII), so this is still UTF-8.
    let Ok(hay) = String::from_utf8(norm) else {
        return Vec::new();
    };
    hay.match_indices(needle.as_str())
        .filter(|(s, m)| {
            // Matches must map to character boundaries of the original.
            hay.is_char_boundary(*s) && hay.is_char_boundary(s + m.len())
        })
        .map(|(s, m)| starts[s]..ends[s + m.len() - 1])
        .collect()
}

fn leading_ws(line: &str) -> &str {
    let n = line.len() - line.trim_start_matches([' ', '\t']).len();
    &line[..n]
}

/// Maps the indentation used in `old_string` to the indentation found in the file.
#[derive(Debug, Clone, Default)]
pub(crate) struct IndentMap {
    /// The first line is mapped on its own: it is often copied from the middle of a line.
    first: Option<(String, String)>,
    pairs: Vec<(String, String)>,
}

impl IndentMap {
    /// Builds the map from corresponding (old, file) lines; `None` when nothing needs to change
    /// or when the pairs contradict each other.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        first_line_special: bool,
    ) -> Option<IndentMap> {
        let mut map = IndentMap::default();
        let mut changes = false;
        for (k, (old, file)) in pairs.into_iter().enumerate() {
            if old.trim().is_empty() || file.trim().is_empty() {
                continue;
            }
            let (o, f) = (leading_ws(old).to_string(), leading_ws(file).to_string());
            changes |= o != f;
            if k == 0 && first_line_special {
                map.first = Some((o, f));
                continue;
            }
            match map.pairs.iter().find(|(ko, _)| *ko == o) {
                Some((_, kf)) if *kf != f => return None,
                Some(_) => {}
                None => map.pairs.push((o, f)),
            }
        }
        if let Some((o, f)) = &map.first
            && !map.pairs.iter().any(|(ko, _)| ko == o)
        {
            map.pairs.push((o.clone(), f.clone()));
        }
        changes.then_some(map)
    }

    /// Re-indents one line of the replacement.
    pub fn apply(&self, line: &str, is_first: bool) -> String {
        if line.trim().is_empty() {
            return line.to_string();
        }
        let ind = leading_ws(line);
        let rest = &line[ind.len()..];
        if is_first
            && let Some((o, f)) = &self.first
            && ind == o
        {
            return format!("{f}{rest}");
        }
        let best = self
            .pairs
            .iter()
            .filter(|(o, _)| ind.starts_with(o.as_str()))
            .max_by_key(|(o, _)| o.len());
        match best {
            Some((o, f)) => format!("{f}{}{rest}", &ind[o.len()..]),
            None => line.to_string(),
        }
    }
}

/// Re-indents `new` after a non-exact match of `old` on `region`.
fn reindent(region: &str, old: &str, new: &str) -> String {
    let region_lines: Vec<&str> = region.split('\n').collect();
    let old_lines: Vec<&str> = old.split('\n').collect();
    if region_lines.len() != old_lines.len() {
        return new.to_string();
    }
    let Some(map) = IndentMap::from_pairs(old_lines.iter().copied().zip(region_lines), true) else {
        return new.to_string();
    };
    new.split('\n')
        .enumerate()
        .map(|(i, l)| map.apply(l, i == 0))
        .collect::<Vec<_>>()
        .join("\n")
}

/// "Did you mean" windows: up to three places whose lines look most like the first
/// non-blank line of `old`, two lines of context around each, `{n:4}| line` formatted.
pub(crate) fn suggest_sections(content: &str, old: &str) -> Option<String> {
    const MAX_LINES_SCANNED: usize = 20_000;
    const MAX_CHARS_COMPARED: usize = 200;
    let first: String = old
        .lines()
        .find(|l| !l.trim().is_empty())?
        .trim()
        .chars()
        .take(MAX_CHARS_COMPARED)
        .collect();
    let old_len = old.lines().count().max(1);
    let lines: Vec<&str> = content.lines().collect();
    let mut scored: Vec<(f32, usize)> = lines
        .iter()
        .enumerate()
        .take(MAX_LINES_SCANNED)
        .filter_map(|(i, l)| {
            let t: String = l.trim().chars().take(MAX_CHARS_COMPARED).collect();
            if t.is_empty() {
                return None;
            }
            let r = similar::TextDiff::from_chars(first.as_str(), t.as_str()).ratio();
            (r > 0.3).then_some((r, i))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut windows: Vec<Range<usize>> = Vec::new();
    for (_, i) in scored {
        let w = i.saturating_sub(2)..(i + old_len + 2).min(lines.len());
        if windows.iter().any(|o| o.start < w.end && w.start < o.end) {
            continue;
        }
        windows.push(w);
        if windows.len() == 3 {
            break;
        }
    }
    if windows.is_empty() {
        return None;
    }
    Some(
        windows
            .into_iter()
            .map(|w| {
                w.map(|i| format!("{:4}| {}", i + 1, lines[i]))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect::<Vec<_>>()
            .join("\n---\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_unique_and_ambiguous() {
        let c = "a = 1\nb = 2\na = 1\n";
        assert_eq!(
            find_and_replace(c, "b = 2", "b = 3", false).unwrap(),
            "a = 1\nb = 3\na = 1\n"
        );
        let e = find_and_replace(c, "a = 1", "a = 9", false).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("Found 2 matches for old_string."), "{msg}");
        assert!(msg.contains("  L1: a = 1\n  L3: a = 1"), "{msg}");
        assert_eq!(
            find_and_replace(c, "a = 1", "a = 9", true).unwrap(),
            "a = 9\nb = 2\na = 9\n"
        );
    }

    #[test]
    fn argument_errors() {
        assert_eq!(
            find_and_replace("x", "", "y", false),
            Err(MatchError::Empty)
        );
        assert_eq!(
            find_and_replace("x", "  \n", "y", false),
            Err(MatchError::Blank)
        );
        assert_eq!(
            find_and_replace("x", "x", "x", false),
            Err(MatchError::Identical)
        );
        assert_eq!(
            find_and_replace("x", "zzz", "y", false),
            Err(MatchError::NotFound)
        );
    }

    #[test]
    fn line_trimmed_reindents() {
        let c = "fn main() {\n    let x = 1;\n    let y = 2;\n}\n";
        let out = find_and_replace(
            c,
            "let x = 1;\nlet y = 2;",
            "let x = 10;\nlet y = 20;",
            false,
        )
        .unwrap();
        assert_eq!(out, "fn main() {\n    let x = 10;\n    let y = 20;\n}\n");
    }

    #[test]
    fn first_line_copied_mid_line() {
        let c = "def f():\n    if a:\n        return 1\n";
        let out = find_and_replace(
            c,
            "if a:\n        return 1",
            "if a:\n        return 2\n    return 3",
            false,
        )
        .unwrap();
        // Exact substring match: no re-indentation.
        assert_eq!(out, "def f():\n    if a:\n        return 2\n    return 3\n");
        let out = find_and_replace(c, "if a:\n    return 1", "if b:\n    return 1", false).unwrap();
        assert_eq!(out, "def f():\n    if b:\n        return 1\n");
    }

    #[test]
    fn whitespace_normalized_inside_line() {
        let c = "call(a,    b)\nother\n";
        let out = find_and_replace(c, "call(a, b)", "call(a, c)", false).unwrap();
        assert_eq!(out, "call(a, c)\nother\n");
    }

    #[test]
    fn indentation_flexible_with_inner_spaces() {
        let c = "  if  x  {\n      y();\n  }\n";
        let (s, _) = find_matches(c, "if x {\n    y();\n}").unwrap();
        assert_eq!(s, Strategy::IndentationFlexible);
    }

    #[test]
    fn replace_all_refuses_approximate() {
        let c = "x  = 1\ny\nx   = 1\n";
        let e = find_and_replace(c, "x = 1", "x = 2", true).unwrap_err();
        assert!(
            matches!(e, MatchError::ApproximateReplaceAll { count: 2, .. }),
            "{e}"
        );
    }

    #[test]
    fn trailing_newline_deletes_whole_lines() {
        let c = "a\n  b\nc\n";
        assert_eq!(find_and_replace(c, "b \n", "", false).unwrap(), "a\nc\n");
    }

    #[test]
    fn already_applied() {
        assert!(is_already_applied(
            "let value = 2;",
            "let value = 1;",
            "let value = 2;"
        ));
        assert!(!is_already_applied("x = 2", "x = 1", "x = 2"));
    }

    #[test]
    fn suggestions_show_nearby_lines() {
        let c = "one\ntwo\nfn compute_total(a: u32)\nfour\nfive\n";
        let s = suggest_sections(c, "fn compute_totals(a: u64)").unwrap();
        assert!(s.contains("   3| fn compute_total(a: u32)"), "{s}");
        assert!(s.contains("   1| one"), "{s}");
        assert!(suggest_sections(c, "zzzzzzzzzzzzzzzzzz").is_none());
    }

    #[test]
    fn text_file_roundtrip() {
        let t = TextFile::decode("\u{feff}a\r\nb\r\n");
        assert!(t.crlf && t.bom);
        assert_eq!(t.body, "a\nb\n");
        assert_eq!(t.encode("a\nc\n"), "\u{feff}a\r\nc\r\n".as_bytes());
        let mixed = TextFile::decode("a\r\nb\n");
        assert!(!mixed.crlf);
        assert_eq!(mixed.body, "a\r\nb\n");
    }

    #[test]
    fn unicode_content_is_safe() {
        let c = "ünïcode  é\n";
        let out = find_and_replace(c, "ünïcode é", "x", false).unwrap();
        assert_eq!(out, "x\n");
    }
}
