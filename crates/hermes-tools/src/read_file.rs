//! `read_file`: a text file with line numbers and pagination, Hermes' shapes.
//!
//! Output lines use the compact `N|content` gutter. Results are
//! `{"content", "total_lines", "file_size", "truncated", ["hint"], "is_binary", "is_image"}`;
//! failures carry the same fields plus `"error"` (and `"similar_files"` when the file is
//! missing) and are returned as [`ToolError::RespondToModel`].

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use hermes_core::{Tool, ToolContext, ToolError, ToolSpec};
use serde_json::{Value, json};

use crate::fs::{FileAccess, FsError, Resolved, run_blocking};
use crate::lines::{BoundedLines, strip_cr};
use crate::util::{error, int_arg, thousands};

/// Size limits of `read_file` (config `file_read_max_chars`, `tool_output.max_line_length`,
/// `tool_output.max_lines`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// A read producing more characters than this (gutter included) is refused.
    pub max_chars: usize,
    /// Longer lines are cut and marked `... [truncated]`.
    pub max_line_length: usize,
    /// Ceiling on `limit`.
    pub max_lines: usize,
}

impl Default for ReadLimits {
    fn default() -> ReadLimits {
        ReadLimits {
            max_chars: 100_000,
            max_line_length: 2000,
            max_lines: 2000,
        }
    }
}

/// Extensions refused before any I/O (images, media, archives, office documents, compiled
/// code, fonts, databases).
const BINARY_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "bmp", "ico", "tiff", "tif", "mp3", "mp4", "wav", "avi",
    "mov", "mkv", "flac", "ogg", "webm", "zip", "tar", "gz", "bz2", "xz", "7z", "rar", "pdf",
    "doc", "docx", "xls", "xlsx", "ppt", "pptx", "exe", "dll", "so", "dylib", "o", "a", "pyc",
    "pyo", "class", "wasm", "bin", "ttf", "otf", "woff", "woff2", "eot", "db", "sqlite", "sqlite3",
];

/// How many leading bytes are inspected for binary content.
const SNIFF_BYTES: usize = 1000;
const LARGE_FILE_BYTES: u64 = 512_000;
const UTF8_BOM: &str = "\u{feff}";

/// The `read_file` tool.
pub struct ReadFileTool {
    access: Arc<FileAccess>,
    limits: ReadLimits,
    spec: ToolSpec,
}

impl ReadFileTool {
    pub fn new(access: Arc<FileAccess>, limits: ReadLimits) -> ReadFileTool {
        ReadFileTool {
            access,
            limits,
            spec: spec(),
        }
    }
}

fn spec() -> ToolSpec {
    ToolSpec {
        name: "read_file".to_string(),
        description: "Read a text file with line numbers and pagination. Use this instead of \
            cat/head/tail in terminal. Output format: 'LINE_NUM|CONTENT'. Suggests similar \
            filenames if not found. Use offset and limit for large files. Reads exceeding ~100K \
            characters are rejected; use offset and limit to read specific sections of large \
            files. NOTE: Cannot read images or other binary files — use vision_analyze for \
            images."
            .to_string(),
        parameters: json!({
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "Path to the file to read (absolute, relative, or ~/path)"},
                "offset": {"type": "integer", "description": "Line number to start reading from (1-indexed, default: 1)", "default": 1, "minimum": 1},
                "limit": {"type": "integer", "description": "Maximum number of lines to read (default: 500, max: 2000)", "default": 500, "maximum": 2000}
            },
            "required": ["path"]
        }),
    }
}

#[async_trait]
impl Tool for ReadFileTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn is_mutating(&self, _args: &Value) -> bool {
        false
    }

    async fn call(&self, args: Value, _ctx: &ToolContext) -> Result<String, ToolError> {
        let access = self.access.clone();
        let limits = self.limits;
        run_blocking(move || read_file(&access, &limits, &args)).await
    }
}

/// `N bytes`, `x.y KB`, `x.y MB`.
pub(crate) fn human_size(n: u64) -> String {
    if n < 1024 {
        format!("{n} bytes")
    } else if n < 1024 * 1024 {
        format!("{:.1} KB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MB", n as f64 / (1024.0 * 1024.0))
    }
}

/// Runs one `read_file` call.
pub fn read_file(
    access: &FileAccess,
    limits: &ReadLimits,
    args: &Value,
) -> Result<String, ToolError> {
    let Some(path) = args.get("path").and_then(Value::as_str) else {
        return Err(error(
            "read_file: missing required field 'path'. Re-emit the tool call with 'path' set.",
        ));
    };
    let offset = int_arg(args, "offset").unwrap_or(1).max(1) as usize;
    let limit = match int_arg(args, "limit").unwrap_or(500) {
        n if n <= 0 => limits.max_lines,
        n => (n as usize).min(limits.max_lines),
    }
    .max(1);

    if let Some(ext) = Path::new(path).extension().and_then(|e| e.to_str()) {
        let ext = ext.to_ascii_lowercase();
        if BINARY_EXTENSIONS.contains(&ext.as_str()) {
            return Err(error(format!(
                "Cannot read binary file '{path}' (.{ext}). Use vision_analyze for images, or \
                 terminal to inspect binary files."
            )));
        }
    }

    let resolved = access
        .resolve_read(path)
        .map_err(|e| error(e.to_string()))?;
    let file = match access.open_read(&resolved) {
        Ok(f) => f,
        Err(FsError::NotFound { .. }) => return Err(not_found(access, &resolved)),
        Err(e) => return Err(error(e.to_string())),
    };
    let file_size = file.metadata().map(|m| m.len()).unwrap_or(0);

    // Binary sniff on the first bytes.
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    let mut file = file;
    (&mut file)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| error(format!("Failed to read file: {path}: {e}")))?;
    if looks_binary(&head) {
        return Err(ToolError::model(
            json!({
                "content": "",
                "total_lines": 0,
                "file_size": file_size,
                "truncated": false,
                "is_binary": true,
                "is_image": false,
                "error": format!(
                    "Binary file ({}) — cannot display as text. Use terminal to inspect binary files.",
                    human_size(file_size)
                ),
            })
            .to_string(),
        ));
    }

    let reader = BufReader::with_capacity(64 * 1024, std::io::Cursor::new(head).chain(file));
    let page = read_lines(reader, offset, limit, limits)
        .map_err(|e| error(format!("Failed to read file: {path}: {e}")))?;

    if page.chars > limits.max_chars {
        return Err(ToolError::model(
            json!({
                "error": format!(
                    "Read produced {} characters which exceeds the safety limit ({} chars). Use \
                     offset and limit to read a smaller range. The file has {} lines total.",
                    thousands(page.chars as u64),
                    thousands(limits.max_chars as u64),
                    page.total
                ),
                "path": path,
                "total_lines": page.total,
                "file_size": file_size,
            })
            .to_string(),
        ));
    }

    let end_line = offset.saturating_add(limit - 1);
    let truncated = page.total > end_line;
    let mut out = json!({
        "content": page.lines.join("\n"),
        "total_lines": page.total,
        "file_size": file_size,
        "truncated": truncated,
        "is_binary": false,
        "is_image": false,
    });
    let hint = if file_size == 0 {
        Some("File is empty (0 bytes).".to_string())
    } else if offset > page.total {
        Some(format!(
            "Note: offset {offset} is beyond the end of the file ({} lines total). Retry with \
             offset <= {}.",
            page.total, page.total
        ))
    } else if truncated {
        Some(format!(
            "Use offset={} to continue reading (showing {offset}-{end_line} of {} lines)",
            end_line.saturating_add(1),
            page.total
        ))
    } else {
        None
    };
    if let Some(h) = hint {
        out["hint"] = json!(h);
    }
    if file_size > LARGE_FILE_BYTES && limit > 200 && truncated {
        out["_hint"] = json!(format!(
            "This file is large ({} bytes). Consider reading only the section you need with \
             offset and limit to keep context usage efficient.",
            thousands(file_size)
        ));
    }
    Ok(out.to_string())
}

/// NUL bytes or invalid UTF-8 (other than a character cut at the end of the sample).
fn looks_binary(head: &[u8]) -> bool {
    if head.contains(&0) {
        return true;
    }
    match std::str::from_utf8(head) {
        Ok(_) => false,
        Err(e) => e.error_len().is_some(),
    }
}

struct Page {
    lines: Vec<String>,
    /// Number of lines in the file (a last line without newline counts).
    total: usize,
    /// Characters the requested range produces (gutters and newlines included).
    chars: usize,
}

fn read_lines(
    reader: impl BufRead,
    offset: usize,
    limit: usize,
    limits: &ReadLimits,
) -> std::io::Result<Page> {
    let end = offset.saturating_add(limit - 1);
    let mut page = Page {
        lines: Vec::new(),
        total: 0,
        chars: 0,
    };
    // A UTF-8 character takes at most 4 bytes (an invalid byte becomes one U+FFFD), so this
    // many bytes always hold more than `max_line_length` characters plus a byte-order mark:
    // clamping the kept prefix gives exactly what clamping the whole line would.
    let keep = limits.max_line_length.saturating_mul(4).saturating_add(4);
    let mut lines = BoundedLines::new(reader);
    let mut buf = Vec::new();
    loop {
        let n = page.total + 1;
        let wanted = n >= offset && n <= end;
        let Some(info) = lines.next_line(&mut buf, if wanted { keep } else { 0 })? else {
            break;
        };
        page.total = n;
        if !wanted {
            continue;
        }
        let text = String::from_utf8_lossy(strip_cr(&buf));
        let text = if n == 1 {
            text.strip_prefix(UTF8_BOM).unwrap_or(&text)
        } else {
            &text
        };
        let line = clamp_line(text, limits.max_line_length, info.cut());
        let formatted = format!("{n}|{line}");
        // Lines are joined with "\n": every line after the first adds one separator.
        let separator = usize::from(n > offset);
        page.chars += formatted.chars().count() + separator;
        if page.chars <= limits.max_chars {
            page.lines.push(formatted);
        }
    }
    Ok(page)
}

/// `line` cut to `max` characters and marked; `cut` says the reader already dropped a tail.
fn clamp_line(line: &str, max: usize, cut: bool) -> String {
    match line.char_indices().nth(max) {
        Some((at, _)) => format!("{}... [truncated]", &line[..at]),
        None if cut => format!("{line}... [truncated]"),
        None => line.to_string(),
    }
}

/// The not-found result with up to five similarly named files from the same directory.
fn not_found(access: &FileAccess, resolved: &Resolved) -> ToolError {
    let mut out = json!({
        "content": "",
        "total_lines": 0,
        "file_size": 0,
        "truncated": false,
        "is_binary": false,
        "is_image": false,
        "error": format!("File not found: {}", resolved.input),
    });
    let similar = similar_files(access, resolved);
    if !similar.is_empty() {
        out["similar_files"] = json!(similar);
    }
    ToolError::model(out.to_string())
}

fn similar_files(access: &FileAccess, resolved: &Resolved) -> Vec<String> {
    let Some(wanted) = resolved
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
    else {
        return Vec::new();
    };
    let Some(parent_rel) = resolved.rel.parent() else {
        return Vec::new();
    };
    let parent = Resolved {
        input: resolved.input.clone(),
        path: access.root().join(parent_rel),
        rel: parent_rel.to_path_buf(),
        exists: true,
    };
    let Ok(entries) = access.list_dir(&parent) else {
        return Vec::new();
    };
    let mut scored: Vec<(u32, String)> = entries
        .iter()
        .filter(|e| !FileAccess::is_secret_name(&e.name))
        .filter_map(|e| {
            let name = e.name.to_str()?;
            let s = name_score(&wanted, name);
            (s > 0).then(|| (s, name.to_string()))
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let input_dir = Path::new(&resolved.input)
        .parent()
        .filter(|p| !p.as_os_str().is_empty());
    scored
        .into_iter()
        .take(5)
        .map(|(_, name)| match input_dir {
            Some(d) => d.join(&name).to_string_lossy().into_owned(),
            None => name,
        })
        .collect()
}

fn split_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i + 1..]),
        _ => (name, ""),
    }
}

/// How much `entry` looks like the requested file name (0 = not at all).
pub(crate) fn name_score(wanted: &str, entry: &str) -> u32 {
    let w = wanted.to_lowercase();
    let e = entry.to_lowercase();
    if w.is_empty() || e.is_empty() {
        return 0;
    }
    let (w_stem, w_ext) = split_ext(&w);
    let (e_stem, e_ext) = split_ext(&e);
    if e == w {
        100
    } else if !w_stem.is_empty() && e_stem == w_stem {
        90
    } else if e.starts_with(&w) || w.starts_with(&e) {
        70
    } else if e.contains(&w) {
        60
    } else if similar::TextDiff::from_chars(w.as_str(), e.as_str()).ratio() >= 0.8 {
        50
    } else if e.chars().count() > 2 && w.contains(&e) {
        40
    } else if !w_ext.is_empty() && w_ext == e_ext && shared_chars(w_stem, e_stem) >= 0.4 {
        30
    } else {
        0
    }
}

fn shared_chars(a: &str, b: &str) -> f64 {
    let sa: std::collections::BTreeSet<char> = a.chars().collect();
    let sb: std::collections::BTreeSet<char> = b.chars().collect();
    let longest = sa.len().max(sb.len());
    if longest == 0 {
        return 0.0;
    }
    sa.intersection(&sb).count() as f64 / longest as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(10), "10 bytes");
        assert_eq!(human_size(4198), "4.1 KB");
        assert_eq!(human_size(3 * 1024 * 1024), "3.0 MB");
    }

    #[test]
    fn binary_sniff() {
        assert!(looks_binary(b"ab\0cd"));
        assert!(looks_binary(&[0xff, 0xfe, 0x41]));
        assert!(!looks_binary("héllo".as_bytes()));
        // A multi-byte character cut at the end of the sample is not binary.
        let s = "aé".as_bytes();
        assert!(!looks_binary(&s[..2]));
    }

    #[test]
    fn clamp_marks_truncation() {
        assert_eq!(clamp_line("abcdef", 3, false), "abc... [truncated]");
        assert_eq!(clamp_line("abc", 3, false), "abc");
        assert_eq!(clamp_line("abc", 3, true), "abc... [truncated]");
        assert_eq!(clamp_line("ééééé", 2, false), "éé... [truncated]");
    }

    #[test]
    fn name_scores() {
        assert_eq!(name_score("Main.py", "main.py"), 100);
        assert_eq!(name_score("main.py", "main.rs"), 90);
        assert_eq!(name_score("conf", "config.yaml"), 70);
        assert_eq!(name_score("fig", "config"), 60);
        assert_eq!(name_score("reciever.rs", "receiver.rs"), 50);
        assert_eq!(name_score("xyz.txt", "zzz.md"), 0);
    }

    #[test]
    fn long_lines_are_clamped_in_characters_from_a_bounded_prefix() {
        let l = ReadLimits {
            max_line_length: 3,
            ..ReadLimits::default()
        };
        // 4-byte characters: the kept prefix (4 * 3 + 4 bytes) still holds more than 3.
        let text = format!("{}\nshort\n\u{feff}", "😀".repeat(1000));
        let p = read_lines(std::io::Cursor::new(text), 1, 3, &l).unwrap();
        assert_eq!(
            p.lines,
            vec![
                "1|😀😀😀... [truncated]",
                "2|sho... [truncated]",
                "3|\u{feff}"
            ]
        );
        assert_eq!(p.total, 3);
        // A byte-order mark does not count against the line.
        let p = read_lines(std::io::Cursor::new("\u{feff}abcd"), 1, 1, &l).unwrap();
        assert_eq!(p.lines, vec!["1|abc... [truncated]"]);
        let p = read_lines(std::io::Cursor::new("\u{feff}abc"), 1, 1, &l).unwrap();
        assert_eq!(p.lines, vec!["1|abc"]);
    }

    #[test]
    fn a_50_mib_single_line_file_reads_as_one_clamped_line() {
        use std::io::Write;
        let t = tempfile::tempdir().unwrap();
        {
            let mut f = std::fs::File::create(t.path().join("one_line.txt")).unwrap();
            let chunk = vec![b'a'; 1 << 20];
            for _ in 0..50 {
                f.write_all(&chunk).unwrap();
            }
            f.write_all(b"\nsecond\n").unwrap();
        }
        let access = FileAccess::new(t.path(), Vec::new()).unwrap();
        let limits = ReadLimits::default();
        let out = read_file(
            &access,
            &limits,
            &json!({"path": "one_line.txt", "limit": 1}),
        )
        .unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        let expected = format!("1|{}... [truncated]", "a".repeat(limits.max_line_length));
        assert_eq!(v["content"], expected);
        assert_eq!(v["total_lines"], 2);
        assert_eq!(v["truncated"], true);
        assert_eq!(v["file_size"], 50 * (1 << 20) + 8);
    }

    #[test]
    fn line_pages() {
        let text = "\u{feff}one\r\ntwo\nthree";
        let l = ReadLimits::default();
        let p = read_lines(std::io::Cursor::new(text), 1, 2, &l).unwrap();
        assert_eq!(p.lines, vec!["1|one", "2|two"]);
        assert_eq!(p.total, 3);
        let p = read_lines(std::io::Cursor::new(text), 3, 5, &l).unwrap();
        assert_eq!(p.lines, vec!["3|three"]);
    }
}
