//! `search_files`: content search (regex) and file-name search (glob), Hermes' shapes.
//!
//! The walk respects `.gitignore`, `.ignore` and `.git/info/exclude` (also outside git
//! repositories), skips hidden files and never follows symbolic links, like ripgrep without
//! flags. Binary files (a NUL byte in the first 8 KiB) are skipped. Files are opened through
//! [`FileAccess`], so nothing outside the workspace is read; deny-listed locations, project
//! secret files (`.env`, …) and credential files ([`crate::protected`]: `.ssh/`, `.aws/`,
//! `.netrc`, …, also when the search starts inside them) are never searched.
//!
//! Memory does not grow with line length: the pattern is matched against the first
//! [`MAX_SCAN_LINE_BYTES`] bytes of each line (a match further into a longer line, say deep
//! in a minified bundle, is not found), and rows keep [`MAX_ROW_CHARS`] characters.
//!
//! Results: `{"total_count", "matches": [{"path", "line", "content"}]}` (content mode, context
//! lines included as extra rows), `{"total_count", "files": [...]}` (files_only, and
//! target=files sorted newest first), `{"total_count", "counts": {path: n}}` (count). Paths
//! are relative to the workspace root. `truncated: true` and a trailing
//! `[Hint: Results truncated. …]` line appear when more results exist.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use globset::{Glob, GlobMatcher};
use hermes_core::{Tool, ToolContext, ToolError, ToolSpec};
use ignore::WalkBuilder;
use regex::Regex;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::fs::{FileAccess, Resolved, run_blocking};
use crate::lines::{BoundedLines, strip_cr};
use crate::util::{error_with, int_arg};

/// Match rows are clipped to this many characters.
pub const MAX_ROW_CHARS: usize = 500;
/// How much of each line the pattern is matched against.
pub const MAX_SCAN_LINE_BYTES: usize = 64 * 1024;
/// Bytes inspected for a NUL to decide a file is binary.
const BINARY_SNIFF_BYTES: usize = 8192;
/// How many results beyond the requested page are counted before the count becomes a lower
/// bound (keeps a search for `.` in a huge tree from reading everything).
const COUNT_BEYOND_PAGE: usize = 5000;

/// The `search_files` tool.
pub struct SearchFilesTool {
    access: Arc<FileAccess>,
    spec: ToolSpec,
}

impl SearchFilesTool {
    pub fn new(access: Arc<FileAccess>) -> SearchFilesTool {
        SearchFilesTool {
            access,
            spec: spec(),
        }
    }
}

fn spec() -> ToolSpec {
    ToolSpec {
        name: "search_files".to_string(),
        description: "Search file contents or find files by name. Use this instead of \
            grep/rg/find/ls in terminal. Ripgrep-backed, faster than shell equivalents.\n\n\
            Content search (target='content'): Regex search inside files. Output modes: full \
            matches with line numbers, file paths only, or match counts.\n\nFile search \
            (target='files'): Find files by glob pattern (e.g., '*.py', '*config*'). Also use \
            this instead of ls — results sorted by modification time."
            .to_string(),
        parameters: json!({
            "type": "object",
            "properties": {
                "pattern": {"type": "string", "description": "Regex pattern for content search, or glob pattern (e.g., '*.py') for file search"},
                "target": {"type": "string", "enum": ["content", "files"], "description": "'content' searches inside file contents, 'files' searches for files by name", "default": "content"},
                "path": {"type": "string", "description": "Directory or file to search in (default: current working directory)", "default": "."},
                "file_glob": {"type": "string", "description": "Filter files by pattern in grep mode (e.g., '*.py' to only search Python files)"},
                "limit": {"type": "integer", "description": "Maximum number of results to return (default: 50)", "default": 50},
                "offset": {"type": "integer", "description": "Skip first N results for pagination (default: 0)", "default": 0},
                "output_mode": {"type": "string", "enum": ["content", "files_only", "count"], "description": "Output format for grep mode: 'content' shows matching lines with line numbers, 'files_only' lists file paths, 'count' shows match counts per file", "default": "content"},
                "context": {"type": "integer", "description": "Number of context lines before and after each match (grep mode only)", "default": 0}
            },
            "required": ["pattern"]
        }),
    }
}

#[async_trait]
impl Tool for SearchFilesTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn is_mutating(&self, _args: &Value) -> bool {
        false
    }

    async fn call(&self, args: Value, ctx: &ToolContext) -> Result<String, ToolError> {
        let access = self.access.clone();
        let cancel = ctx.cancel.clone();
        run_blocking(move || search_files(&access, &args, &cancel)).await
    }
}

fn error(msg: impl Into<String>) -> ToolError {
    error_with(json!({ "total_count": 0 }), msg)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Content,
    Files,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutputMode {
    Content,
    FilesOnly,
    Count,
}

/// A `file_glob` filter: a glob without `/` matches file names, one with `/` matches the path
/// relative to the search root; a leading `!` negates.
struct NameFilter {
    matcher: GlobMatcher,
    on_path: bool,
    negated: bool,
}

impl NameFilter {
    fn new(glob: &str) -> Result<NameFilter, globset::Error> {
        let (negated, g) = match glob.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, glob),
        };
        let on_path = g.contains('/');
        let g = g.strip_prefix('/').unwrap_or(g);
        Ok(NameFilter {
            matcher: Glob::new(g)?.compile_matcher(),
            on_path,
            negated,
        })
    }

    fn accepts(&self, rel_to_search_root: &Path) -> bool {
        let hit = if self.on_path {
            self.matcher.is_match(rel_to_search_root)
        } else {
            rel_to_search_root
                .file_name()
                .is_some_and(|n| self.matcher.is_match(n))
        };
        hit != self.negated
    }
}

/// Runs one `search_files` call.
pub fn search_files(
    access: &FileAccess,
    args: &Value,
    cancel: &CancellationToken,
) -> Result<String, ToolError> {
    let Some(pattern) = args.get("pattern").and_then(Value::as_str) else {
        return Err(error("search_files: missing required field 'pattern'."));
    };
    let target = match args
        .get("target")
        .and_then(Value::as_str)
        .unwrap_or("content")
    {
        "content" | "grep" => Target::Content,
        "files" | "find" => Target::Files,
        other => {
            return Err(error(format!(
                "Invalid target '{other}'. Use 'content' or 'files'."
            )));
        }
    };
    let mode = match args
        .get("output_mode")
        .and_then(Value::as_str)
        .unwrap_or("content")
    {
        "content" => OutputMode::Content,
        "files_only" => OutputMode::FilesOnly,
        "count" => OutputMode::Count,
        other => {
            return Err(error(format!(
                "Invalid output_mode '{other}'. Use 'content', 'files_only' or 'count'."
            )));
        }
    };
    let path = args
        .get("path")
        .and_then(Value::as_str)
        .filter(|p| !p.trim().is_empty())
        .unwrap_or(".");
    let limit = int_arg(args, "limit").unwrap_or(50).max(1) as usize;
    let offset = int_arg(args, "offset").unwrap_or(0).max(0) as usize;
    let context = int_arg(args, "context").unwrap_or(0).clamp(0, 100) as usize;
    let file_glob = args
        .get("file_glob")
        .and_then(Value::as_str)
        .filter(|g| !g.trim().is_empty());

    let root = access.resolve(path).map_err(|e| error(e.to_string()))?;
    if !root.exists || std::fs::symlink_metadata(&root.path).is_err() {
        return Err(error(path_not_found(access, &root)));
    }
    let filter = match file_glob {
        Some(g) => {
            Some(NameFilter::new(g).map_err(|e| error(format!("Invalid file_glob '{g}': {e}")))?)
        }
        None => None,
    };

    let search = Search {
        access,
        root: &root,
        filter: filter.as_ref(),
        cancel,
    };
    let out = match target {
        Target::Files => search.files(pattern, limit, offset)?,
        Target::Content => {
            let re = Regex::new(pattern).map_err(|e| {
                error(format!(
                    "Invalid regex pattern '{pattern}': {e}\nEscape regex metacharacters such as \
                     ( ) [ ] . * + ? with a backslash to match them literally."
                ))
            })?;
            search.content(&re, mode, limit, offset, context)?
        }
    };
    let truncated = out.get("truncated").and_then(Value::as_bool) == Some(true);
    if truncated {
        return Ok(format!(
            "{}\n\n[Hint: Results truncated. Use offset={} to see more, or narrow with a more \
             specific pattern or file_glob.]",
            out,
            offset.saturating_add(limit)
        ));
    }
    Ok(out.to_string())
}

fn path_not_found(access: &FileAccess, root: &Resolved) -> String {
    let mut msg = format!("Path not found: {}", root.input);
    let (Some(parent_rel), Some(name)) = (root.rel.parent(), root.rel.file_name()) else {
        return msg;
    };
    let query = name.to_string_lossy().to_lowercase();
    let parent = Resolved {
        input: root.input.clone(),
        path: access.root().join(parent_rel),
        rel: parent_rel.to_path_buf(),
        exists: true,
    };
    let Ok(entries) = access.list_dir(&parent) else {
        return msg;
    };
    let prefix: String = query.chars().take(3).collect();
    let similar: Vec<String> = entries
        .iter()
        .filter_map(|e| e.name.to_str())
        .filter(|n| {
            let l = n.to_lowercase();
            l.contains(&query)
                || query.contains(&l)
                || (!prefix.is_empty() && l.starts_with(&prefix))
        })
        .take(5)
        .map(|n| parent_rel.join(n).to_string_lossy().into_owned())
        .collect();
    if !similar.is_empty() {
        msg.push_str(&format!(". Similar paths: {}", similar.join(", ")));
    }
    msg
}

struct Search<'a> {
    access: &'a FileAccess,
    root: &'a Resolved,
    filter: Option<&'a NameFilter>,
    cancel: &'a CancellationToken,
}

/// One regular file found by the walk.
struct Found {
    path: std::path::PathBuf,
    rel_root: String,
    rel_search: std::path::PathBuf,
}

impl Search<'_> {
    /// Walks the search root and calls `visit` for every eligible regular file; `visit`
    /// returns `false` to stop the walk. Secret files are passed to `secret` instead.
    fn walk(
        &self,
        mut visit: impl FnMut(Found) -> bool,
        mut secret: impl FnMut(&Found),
    ) -> Result<(), ToolError> {
        let mut builder = WalkBuilder::new(&self.root.path);
        builder
            .follow_links(false)
            .hidden(true)
            .ignore(true)
            .git_ignore(true)
            .git_exclude(true)
            .require_git(false)
            .sort_by_file_name(|a, b| a.cmp(b));
        let root_path = self.access.root().to_path_buf();
        // Prune deny-listed directories early; files are checked again below.
        let denied = self.access.denied_locations().to_vec();
        builder.filter_entry(move |e| !denied.iter().any(|d| e.path().starts_with(d)));
        for (i, entry) in builder.build().enumerate() {
            if i % 256 == 0 && self.cancel.is_cancelled() {
                return Err(ToolError::Cancelled);
            }
            let Ok(entry) = entry else { continue };
            let Some(ft) = entry.file_type() else {
                continue;
            };
            if !ft.is_file() {
                continue;
            }
            let path = entry.path().to_path_buf();
            if self.access.is_denied(&path) {
                continue;
            }
            let rel_root = match path.strip_prefix(&root_path) {
                Ok(r) => r.to_string_lossy().into_owned(),
                Err(_) => continue,
            };
            let rel_search = path
                .strip_prefix(&self.root.path)
                .map(Path::to_path_buf)
                .unwrap_or_else(|_| path.file_name().map(Into::into).unwrap_or_default());
            let found = Found {
                path,
                rel_root,
                rel_search,
            };
            if !self.access.is_readable_under_root(&found.path) {
                secret(&found);
                continue;
            }
            if !visit(found) {
                break;
            }
        }
        Ok(())
    }

    fn files(&self, pattern: &str, limit: usize, offset: usize) -> Result<Value, ToolError> {
        let glob = if !pattern.contains('/') && !pattern.starts_with('*') {
            format!("*{pattern}")
        } else {
            pattern.to_string()
        };
        let name_filter = NameFilter::new(&glob)
            .map_err(|e| error(format!("Invalid glob pattern '{pattern}': {e}")))?;
        let mut found: Vec<(SystemTime, String)> = Vec::new();
        let mut omitted = 0usize;
        self.walk(
            |f| {
                if name_filter.accepts(&f.rel_search) {
                    let mtime = std::fs::symlink_metadata(&f.path)
                        .and_then(|m| m.modified())
                        .unwrap_or(SystemTime::UNIX_EPOCH);
                    found.push((mtime, f.rel_root));
                }
                true
            },
            |f| {
                if name_filter.accepts(&f.rel_search) {
                    omitted += 1;
                }
            },
        )?;
        found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let total = found.len();
        let page: Vec<String> = found
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|(_, p)| p)
            .collect();
        let mut out = json!({ "total_count": total, "files": page });
        if total > offset.saturating_add(limit) {
            out["truncated"] = json!(true);
        }
        if omitted > 0 {
            out["_omitted"] = json!(format!(
                "{omitted} result(s) omitted because they target credential, token, cache, or \
                 secret-bearing environment files."
            ));
        }
        Ok(out)
    }

    fn content(
        &self,
        re: &Regex,
        mode: OutputMode,
        limit: usize,
        offset: usize,
        context: usize,
    ) -> Result<Value, ToolError> {
        let page_end = offset.saturating_add(limit);
        let stop_at = page_end.saturating_add(COUNT_BEYOND_PAGE);
        let mut total = 0usize;
        let mut rows: Vec<Value> = Vec::new();
        let mut files: Vec<String> = Vec::new();
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let mut lower_bound = false;
        let context = if mode == OutputMode::Content {
            context
        } else {
            0
        };
        self.walk(
            |f| {
                if let Some(filter) = self.filter
                    && !filter.accepts(&f.rel_search)
                {
                    return true;
                }
                let Ok(file) = self.access.open_read_under_root(&f.path) else {
                    return true;
                };
                let first_only = mode == OutputMode::FilesOnly;
                let mut emitted = 0usize;
                let scan = scan_file(file, re, context, first_only, |line, text| match mode {
                    OutputMode::Content => {
                        if total >= offset && total < page_end {
                            rows.push(json!({
                                "path": f.rel_root,
                                "line": line,
                                "content": clip(text),
                            }));
                        }
                        total += 1;
                        total < stop_at
                    }
                    OutputMode::FilesOnly | OutputMode::Count => {
                        emitted += 1;
                        true
                    }
                });
                let Ok(completed) = scan else { return true };
                match mode {
                    OutputMode::Content => {
                        if !completed {
                            lower_bound = true;
                            return false;
                        }
                    }
                    OutputMode::FilesOnly => {
                        if emitted > 0 {
                            if total >= offset && total < page_end {
                                files.push(f.rel_root.clone());
                            }
                            total += 1;
                            if total >= stop_at {
                                lower_bound = true;
                                return false;
                            }
                        }
                    }
                    OutputMode::Count => {
                        if emitted > 0 {
                            total += emitted;
                            counts.insert(f.rel_root.clone(), emitted);
                        }
                    }
                }
                true
            },
            |_| {},
        )?;
        let mut out = match mode {
            OutputMode::Content => json!({ "total_count": total, "matches": rows }),
            OutputMode::FilesOnly => json!({ "total_count": total, "files": files }),
            OutputMode::Count => json!({ "total_count": total, "counts": counts }),
        };
        if mode != OutputMode::Count && total > page_end {
            out["truncated"] = json!(true);
            if lower_bound {
                out["total_count_is_lower_bound"] = json!(true);
            }
        }
        Ok(out)
    }
}

fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_ROW_CHARS) {
        Some((cut, _)) => text[..cut].to_string(),
        None => text.to_string(),
    }
}

/// Scans one file. `emit(line_no, text)` is called for every matching line (and, with
/// `context`, for the lines around it, each once, in order); it returns `false` to stop.
/// Only the first [`MAX_SCAN_LINE_BYTES`] of a line are matched and passed on.
/// Returns `Ok(false)` when stopped early, `Ok(true)` otherwise; binary files are skipped.
fn scan_file(
    mut file: std::fs::File,
    re: &Regex,
    context: usize,
    first_only: bool,
    mut emit: impl FnMut(usize, &str) -> bool,
) -> std::io::Result<bool> {
    let mut head = Vec::with_capacity(BINARY_SNIFF_BYTES);
    (&mut file)
        .take(BINARY_SNIFF_BYTES as u64)
        .read_to_end(&mut head)?;
    if head.contains(&0) {
        return Ok(true);
    }
    let mut lines = BoundedLines::new(BufReader::new(std::io::Cursor::new(head).chain(file)));
    let mut buf = Vec::new();
    // Context lines wait here already clipped to a row, so they cost at most a row each.
    let mut before: VecDeque<(usize, String)> = VecDeque::with_capacity(context);
    let mut after_left = 0usize;
    let mut last_emitted = 0usize;
    let mut n = 0usize;
    while lines.next_line(&mut buf, MAX_SCAN_LINE_BYTES)?.is_some() {
        n += 1;
        let text = String::from_utf8_lossy(strip_cr(&buf));
        if re.is_match(&text) {
            while let Some((ln, t)) = before.pop_front() {
                if ln > last_emitted {
                    if !emit(ln, &t) {
                        return Ok(false);
                    }
                    last_emitted = ln;
                }
            }
            if !emit(n, &text) {
                return Ok(false);
            }
            last_emitted = n;
            if first_only {
                return Ok(true);
            }
            after_left = context;
        } else if after_left > 0 {
            after_left -= 1;
            if !emit(n, &text) {
                return Ok(false);
            }
            last_emitted = n;
        } else if context > 0 {
            if before.len() == context {
                before.pop_front();
            }
            before.push_back((n, clip(&text)));
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str, pat: &str, context: usize) -> Vec<(usize, String)> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, text).unwrap();
        let re = Regex::new(pat).unwrap();
        let mut out = Vec::new();
        scan_file(
            std::fs::File::open(&p).unwrap(),
            &re,
            context,
            false,
            |n, t| {
                out.push((n, t.to_string()));
                true
            },
        )
        .unwrap();
        out
    }

    #[test]
    fn context_rows_are_emitted_once_in_order() {
        let text = "a\nb\nX\nc\nX\nd\ne\nf\n";
        let rows = scan(text, "X", 1);
        let lines: Vec<usize> = rows.iter().map(|r| r.0).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6]);
        assert_eq!(scan(text, "X", 0).len(), 2);
    }

    #[test]
    fn long_lines_are_matched_in_a_bounded_prefix_and_clipped() {
        let long = format!("NEEDLE{}LATE\n", "x".repeat(4 << 20));
        // A match hands on at most the scanned prefix of its line.
        let rows = scan(&long, "NEEDLE", 0);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].1.len(), MAX_SCAN_LINE_BYTES);
        // A match past the scanned prefix is not found.
        assert!(scan(&long, "LATE", 0).is_empty());
        // Lines waiting as context before a match are kept clipped to a row.
        let text = format!("{}\nmid NEEDLE\n", "y".repeat(MAX_SCAN_LINE_BYTES + 10));
        let rows = scan(&text, "NEEDLE", 1);
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(rows[0].1.chars().count(), MAX_ROW_CHARS);
    }

    #[test]
    fn binary_files_are_skipped() {
        assert!(scan("X\0X\n", "X", 0).is_empty());
    }

    #[test]
    fn name_filter_rules() {
        let f = NameFilter::new("*.py").unwrap();
        assert!(f.accepts(Path::new("a/b/c.py")));
        assert!(!f.accepts(Path::new("a/b/c.rs")));
        let f = NameFilter::new("!*.py").unwrap();
        assert!(!f.accepts(Path::new("c.py")));
        let f = NameFilter::new("src/*.rs").unwrap();
        assert!(f.accepts(Path::new("src/a.rs")));
        assert!(!f.accepts(Path::new("a.rs")));
    }
}
