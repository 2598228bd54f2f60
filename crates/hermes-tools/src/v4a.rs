//! V4A multi-file patches (`patch` with `mode="patch"`).
//!
//! Grammar (Hermes' dialect):
//!
//! ```text
//! *** Begin Patch                    optional; parsing starts after it when present
//! *** Update File: <path>            followed by hunks
//! @@ <context hint> @@               starts a hunk (a bare "@@" too; lines before the first
//!  <context line>                    "@@" form a hunk without a hint)
//! -<removed line>
//! +<added line>
//! *** End of File                    the hunk sits at the end of the file
//! *** Add File: <path>               followed by "+line" lines
//! *** Delete File: <path>
//! *** Move File: <src> -> <dst>
//! *** End Patch                      optional; parsing stops
//! ```
//!
//! Unprefixed lines in a hunk are context; `\ No newline at end of file` lines are skipped;
//! blank lines inside a hunk are blank context lines (blank lines at its end are dropped).
//! Codex' `*** Move to:` is refused with an explanation.
//!
//! Applying is two-phase: every operation is first carried out on an in-memory copy of the
//! files it touches (read through [`FileAccess`]); if any operation fails, nothing is written
//! and every failure is listed. Only then are the files written (atomically, one by one) and
//! deleted.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::fs::{FileAccess, FsError, Resolved};
use crate::patch::{
    IndentMap, MAX_PATCH_FILE_BYTES, TextFile, collapse_ws, suggest_sections, unified_diff,
};

/// One file operation of a patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    Add { path: String, lines: Vec<String> },
    Delete { path: String },
    Update { path: String, hunks: Vec<Hunk> },
    Move { from: String, to: String },
}

impl Operation {
    fn paths(&self) -> Vec<&str> {
        match self {
            Operation::Add { path, .. }
            | Operation::Delete { path }
            | Operation::Update { path, .. } => vec![path.as_str()],
            Operation::Move { from, to } => vec![from.as_str(), to.as_str()],
        }
    }
}

/// A change to one region of a file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hunk {
    /// The text of the `@@ … @@` line, if any.
    pub hint: Option<String>,
    pub lines: Vec<HunkLine>,
    /// Marked with `*** End of File`: the region ends the file.
    pub end_of_file: bool,
}

impl Hunk {
    fn has_changes(&self) -> bool {
        self.lines
            .iter()
            .any(|l| !matches!(l, HunkLine::Context(_)))
    }

    /// The lines the file must contain (context and removed lines).
    fn old_lines(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                HunkLine::Context(t) | HunkLine::Remove(t) => Some(t.as_str()),
                HunkLine::Add(_) => None,
            })
            .collect()
    }
}

/// One line of a hunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HunkLine {
    Context(String),
    Remove(String),
    Add(String),
}

/// The patch text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Parse error: {}", .0.join("; "))]
pub struct ParseError(pub Vec<String>);

/// Why a patch was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("Failed to parse patch: {0}")]
    Parse(ParseError),
    #[error(
        "V4A patch header contains '..' traversal: '{0}'. Use a workspace-relative path (no \
         '..') or an absolute path in '*** Update File:' / '*** Add File:' / '*** Delete File:' \
         / '*** Move File:' headers."
    )]
    Traversal(String),
    #[error("Patch validation failed (no files were modified):\n{}{}", bullets(.problems), .hint.as_deref().map(|h| format!("\n\nDid you mean one of these sections?\n{h}")).unwrap_or_default())]
    Validation {
        problems: Vec<String>,
        hint: Option<String>,
    },
    #[error("Patch contains no changes (only context lines were provided)")]
    NoChanges,
    #[error(
        "Apply phase failed (state may be inconsistent — run `git diff` to assess):\n{}",
        bullets(.0)
    )]
    Apply(Vec<String>),
}

fn bullets(items: &[String]) -> String {
    items
        .iter()
        .map(|p| format!("  • {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What an applied patch changed. Paths are absolute; moves are listed as `from -> to`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Applied {
    pub diff: String,
    pub modified: Vec<String>,
    pub created: Vec<String>,
    pub deleted: Vec<String>,
}

const MAX_PARSE_ERRORS: usize = 10;

fn directive(line: &str) -> Option<&str> {
    line.trim_start()
        .strip_prefix("***")
        .map(|rest| rest.trim_start())
}

fn is_marker(line: &str, first: &str) -> bool {
    directive(line).is_some_and(|rest| {
        let mut words = rest.split_whitespace();
        words.next() == Some(first) && words.next() == Some("Patch") && words.next().is_none()
    })
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s.to_string()
    }
}

enum Building {
    None,
    Add {
        path: String,
        lines: Vec<String>,
        blanks: usize,
    },
    Delete {
        path: String,
    },
    Move {
        from: String,
        to: String,
    },
    Update {
        path: String,
        hunks: Vec<Hunk>,
        current: Option<Hunk>,
        blanks: usize,
    },
}

/// Parses V4A patch text. Never panics; every problem found is reported.
pub fn parse(text: &str) -> Result<Vec<Operation>, ParseError> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let start = lines
        .iter()
        .position(|l| is_marker(l, "Begin"))
        .map_or(0, |i| i + 1);
    let mut ops = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let mut state = Building::None;
    let mut stray_reported = false;

    fn finish(state: Building, ops: &mut Vec<Operation>, errors: &mut Vec<String>) {
        match state {
            Building::None => {}
            Building::Add { path, lines, .. } => ops.push(Operation::Add { path, lines }),
            Building::Delete { path } => ops.push(Operation::Delete { path }),
            Building::Move { from, to } => ops.push(Operation::Move { from, to }),
            Building::Update {
                path,
                mut hunks,
                current,
                ..
            } => {
                if let Some(h) = current {
                    hunks.push(h);
                }
                hunks.retain(|h| !h.lines.is_empty());
                if hunks.is_empty() {
                    errors.push(format!("UPDATE '{path}': no hunks found"));
                } else {
                    ops.push(Operation::Update { path, hunks });
                }
            }
        }
    }

    for (idx, &line) in lines.iter().enumerate().skip(start) {
        if errors.len() >= MAX_PARSE_ERRORS {
            break;
        }
        let n = idx + 1;
        if is_marker(line, "End") {
            break;
        }
        if is_marker(line, "Begin") {
            continue;
        }
        if let Some(rest) = directive(line) {
            let header = |prefix: &str| -> Option<String> {
                rest.strip_prefix(prefix).map(|p| p.trim().to_string())
            };
            if let Some(path) = header("Update File:") {
                finish(
                    std::mem::replace(&mut state, Building::None),
                    &mut ops,
                    &mut errors,
                );
                if path.is_empty() {
                    errors.push(format!("line {n}: Operation with empty file path"));
                    continue;
                }
                state = Building::Update {
                    path,
                    hunks: Vec::new(),
                    current: None,
                    blanks: 0,
                };
            } else if let Some(path) = header("Add File:") {
                finish(
                    std::mem::replace(&mut state, Building::None),
                    &mut ops,
                    &mut errors,
                );
                if path.is_empty() {
                    errors.push(format!("line {n}: Operation with empty file path"));
                    continue;
                }
                state = Building::Add {
                    path,
                    lines: Vec::new(),
                    blanks: 0,
                };
            } else if let Some(path) = header("Delete File:") {
                finish(
                    std::mem::replace(&mut state, Building::None),
                    &mut ops,
                    &mut errors,
                );
                if path.is_empty() {
                    errors.push(format!("line {n}: Operation with empty file path"));
                    continue;
                }
                state = Building::Delete { path };
            } else if let Some(spec) = header("Move File:") {
                finish(
                    std::mem::replace(&mut state, Building::None),
                    &mut ops,
                    &mut errors,
                );
                match spec.split_once("->") {
                    Some((from, to)) if !from.trim().is_empty() && !to.trim().is_empty() => {
                        state = Building::Move {
                            from: from.trim().to_string(),
                            to: to.trim().to_string(),
                        };
                    }
                    Some((from, _)) if !from.trim().is_empty() => errors.push(format!(
                        "MOVE '{}': missing destination path (expected 'src -> dst')",
                        from.trim()
                    )),
                    _ if spec.is_empty() || spec.starts_with("->") => {
                        errors.push(format!("line {n}: Operation with empty file path"));
                    }
                    _ => errors.push(format!(
                        "MOVE '{spec}': missing destination path (expected 'src -> dst')"
                    )),
                }
            } else if let Some(dst) = header("Move to:") {
                errors.push(format!(
                    "'*** Move to: {dst}' is not supported; rename with '*** Move File: <path> -> \
                     {dst}' and put any edits in their own '*** Update File:' block"
                ));
            } else if rest.trim() == "End of File" {
                if let Building::Update {
                    current, blanks, ..
                } = &mut state
                {
                    *blanks = 0;
                    if let Some(h) = current {
                        h.end_of_file = true;
                    }
                }
            } else {
                errors.push(format!(
                    "line {n}: unknown directive '{}' (expected Update File, Add File, Delete \
                     File, Move File, End of File or End Patch)",
                    shorten(line.trim())
                ));
            }
            continue;
        }
        match &mut state {
            Building::None => {
                if !line.trim().is_empty() && !stray_reported {
                    stray_reported = true;
                    errors.push(format!(
                        "line {n}: '{}' is outside any file operation; start with '*** Update \
                         File: <path>', '*** Add File: <path>', '*** Delete File: <path>' or \
                         '*** Move File: <src> -> <dst>'",
                        shorten(line)
                    ));
                }
            }
            Building::Add {
                path,
                lines,
                blanks,
            } => {
                if let Some(t) = line.strip_prefix('+') {
                    lines.extend(std::iter::repeat_n(String::new(), *blanks));
                    *blanks = 0;
                    lines.push(t.to_string());
                } else if line.trim().is_empty() {
                    *blanks += 1;
                } else {
                    errors.push(format!(
                        "ADD '{path}': line {n}: every line of an added file must start with '+'"
                    ));
                }
            }
            Building::Delete { path } => {
                if !line.trim().is_empty() {
                    errors.push(format!(
                        "DELETE '{path}': line {n}: unexpected content after '*** Delete File:'"
                    ));
                }
            }
            Building::Move { from, .. } => {
                if !line.trim().is_empty() {
                    errors.push(format!(
                        "MOVE '{from}': line {n}: unexpected content; put edits in their own \
                         '*** Update File:' block"
                    ));
                }
            }
            Building::Update {
                hunks,
                current,
                blanks,
                ..
            } => {
                if let Some(rest) = line.strip_prefix("@@") {
                    if let Some(h) = current.take() {
                        hunks.push(h);
                    }
                    *blanks = 0;
                    let hint = rest.trim();
                    let hint = hint.strip_suffix("@@").unwrap_or(hint).trim();
                    *current = Some(Hunk {
                        hint: (!hint.is_empty()).then(|| hint.to_string()),
                        ..Hunk::default()
                    });
                    continue;
                }
                if line.starts_with('\\') {
                    continue;
                }
                if line.is_empty() {
                    *blanks += 1;
                    continue;
                }
                let hunk = current.get_or_insert_with(Hunk::default);
                hunk.lines.extend(std::iter::repeat_n(
                    HunkLine::Context(String::new()),
                    *blanks,
                ));
                *blanks = 0;
                let parsed = match line.as_bytes()[0] {
                    b' ' => HunkLine::Context(line[1..].to_string()),
                    b'-' => HunkLine::Remove(line[1..].to_string()),
                    b'+' => HunkLine::Add(line[1..].to_string()),
                    _ => HunkLine::Context(line.to_string()),
                };
                hunk.lines.push(parsed);
            }
        }
    }
    finish(state, &mut ops, &mut errors);
    if ops.is_empty() && errors.is_empty() {
        errors.push(
            "no file operations found (expected '*** Update File:', '*** Add File:', '*** \
             Delete File:' or '*** Move File:')"
                .to_string(),
        );
    }
    if errors.is_empty() {
        Ok(ops)
    } else {
        Err(ParseError(errors))
    }
}

/// One file as the patch sees it while it is being validated.
struct Entry {
    resolved: Resolved,
    original: Option<String>,
    current: Option<String>,
    format: TextFile,
    mode: Option<u32>,
}

struct Staging<'a> {
    access: &'a FileAccess,
    files: BTreeMap<PathBuf, Entry>,
    order: Vec<PathBuf>,
}

impl Staging<'_> {
    fn load(&mut self, resolved: Resolved) -> Result<PathBuf, String> {
        let key = resolved.path.clone();
        if self.files.contains_key(&key) {
            return Ok(key);
        }
        let shown = resolved.input.clone();
        let (text, format, mode) = match self.access.read_all(&resolved, MAX_PATCH_FILE_BYTES) {
            Ok(fb) => {
                let raw = String::from_utf8(fb.bytes)
                    .map_err(|_| format!("{shown}: not UTF-8 text; it cannot be patched"))?;
                let tf = TextFile::decode(&raw);
                (Some(tf.body.clone()), tf, Some(fb.mode))
            }
            Err(FsError::NotFound { .. }) => (
                None,
                TextFile {
                    body: String::new(),
                    crlf: false,
                    bom: false,
                },
                None,
            ),
            Err(e) => return Err(e.to_string()),
        };
        self.files.insert(
            key.clone(),
            Entry {
                resolved,
                original: text.clone(),
                current: text,
                format,
                mode,
            },
        );
        self.order.push(key.clone());
        Ok(key)
    }

    fn entry(&mut self, key: &Path) -> Result<&mut Entry, String> {
        self.files
            .get_mut(key)
            .ok_or_else(|| format!("{}: internal error: file not staged", key.display()))
    }
}

/// Parses and applies a V4A patch below the workspace of `access`.
pub fn apply_patch(access: &FileAccess, text: &str) -> Result<Applied, PatchError> {
    let ops = parse(text).map_err(PatchError::Parse)?;
    for op in &ops {
        for p in op.paths() {
            if Path::new(p).components().any(|c| c == Component::ParentDir) {
                return Err(PatchError::Traversal(p.to_string()));
            }
        }
    }
    let mut stage = Staging {
        access,
        files: BTreeMap::new(),
        order: Vec::new(),
    };
    let mut problems = Vec::new();
    let mut hint = None;
    let mut diffs = Vec::new();
    let mut applied = Applied::default();
    let mut any_change = false;

    for op in &ops {
        let result = stage_op(&mut stage, op, &mut diffs, &mut applied, &mut hint);
        match result {
            Ok(changed) => any_change |= changed,
            Err(mut e) => problems.append(&mut e),
        }
    }
    if !problems.is_empty() {
        return Err(PatchError::Validation { problems, hint });
    }
    if !any_change {
        return Err(PatchError::NoChanges);
    }

    // Phase two: writes first, then deletions.
    let mut failures = Vec::new();
    for key in &stage.order {
        let Some(e) = stage.files.get(key) else {
            continue;
        };
        if e.current == e.original {
            continue;
        }
        if let Some(body) = &e.current {
            let bytes = e.format.encode(body);
            if let Err(err) = access.atomic_write(&e.resolved, &bytes, e.mode) {
                failures.push(format!("Failed to update {}: {err}", e.resolved.input));
            }
        }
    }
    for key in &stage.order {
        let Some(e) = stage.files.get(key) else {
            continue;
        };
        if e.current.is_none()
            && e.original.is_some()
            && let Err(err) = access.remove_file(&e.resolved)
        {
            failures.push(format!("Failed to delete {}: {err}", e.resolved.input));
        }
    }
    if !failures.is_empty() {
        return Err(PatchError::Apply(failures));
    }
    applied.diff = diffs.join("\n");
    Ok(applied)
}

/// Carries out one operation on the staged copies. Returns whether anything changed.
fn stage_op(
    stage: &mut Staging<'_>,
    op: &Operation,
    diffs: &mut Vec<String>,
    applied: &mut Applied,
    hint: &mut Option<String>,
) -> Result<bool, Vec<String>> {
    let one = |e: String| vec![e];
    let resolve = |r: Result<Resolved, FsError>, p: &str| r.map_err(|e| vec![format!("{p}: {e}")]);
    match op {
        Operation::Add { path, lines } => {
            let r = resolve(stage.access.resolve_write(path), path)?;
            let abs = r.path.display().to_string();
            let rel = r.display_rel();
            let key = stage.load(r).map_err(one)?;
            let e = stage.entry(&key).map_err(one)?;
            if e.current.is_some() {
                return Err(one(format!(
                    "{path}: file already exists — use Update File, not Add File"
                )));
            }
            let mut body = lines.join("\n");
            if !lines.is_empty() {
                body.push('\n');
            }
            diffs.push(unified_diff("", &body, "/dev/null", &format!("b/{rel}")));
            e.current = Some(body);
            applied.created.push(abs);
            Ok(true)
        }
        Operation::Delete { path } => {
            let r = resolve(stage.access.resolve_edit(path), path)?;
            let abs = r.path.display().to_string();
            let rel = r.display_rel();
            let key = stage.load(r).map_err(one)?;
            let e = stage.entry(&key).map_err(one)?;
            let Some(old) = e.current.take() else {
                return Err(one(format!("{path}: file not found for deletion")));
            };
            diffs.push(unified_diff(&old, "", &format!("a/{rel}"), "/dev/null"));
            applied.deleted.push(abs);
            Ok(true)
        }
        Operation::Update { path, hunks } => {
            let r = resolve(stage.access.resolve_edit(path), path)?;
            let abs = r.path.display().to_string();
            let rel = r.display_rel();
            let key = stage.load(r).map_err(one)?;
            let e = stage.entry(&key).map_err(one)?;
            let Some(before) = e.current.clone() else {
                return Err(one(format!("{path}: file not found")));
            };
            match apply_hunks(&before, hunks) {
                Ok(after) => {
                    let changed = after != before;
                    if changed {
                        diffs.push(unified_diff(
                            &before,
                            &after,
                            &format!("a/{rel}"),
                            &format!("b/{rel}"),
                        ));
                        if !applied.modified.contains(&abs) {
                            applied.modified.push(abs);
                        }
                    }
                    e.current = Some(after);
                    Ok(changed)
                }
                Err(fails) => {
                    let mut out = Vec::new();
                    for f in fails {
                        if hint.is_none() && f.not_found {
                            *hint = f
                                .first_old_line
                                .as_deref()
                                .and_then(|old| suggest_sections(&before, old));
                        }
                        let label = match &f.hint {
                            Some(h) => format!("hunk {} '{}'", f.index, h),
                            None => format!("hunk {}", f.index),
                        };
                        out.push(format!("{path}: {label} {}", f.reason));
                    }
                    Err(out)
                }
            }
        }
        Operation::Move { from, to } => {
            let rf = resolve(stage.access.resolve_edit(from), from)?;
            let rt = resolve(stage.access.resolve_write(to), to)?;
            if rf.path == rt.path {
                return Err(one(format!(
                    "{from}: source and destination of the move are the same file"
                )));
            }
            let (abs_from, abs_to) = (rf.path.display().to_string(), rt.path.display().to_string());
            let kf = stage.load(rf).map_err(one)?;
            let kt = stage.load(rt).map_err(one)?;
            let src = stage.entry(&kf).map_err(one)?;
            let Some(content) = src.current.clone() else {
                return Err(one(format!("{from}: source file not found for move")));
            };
            let (format, mode) = (src.format.clone(), src.mode);
            let dst = stage.entry(&kt).map_err(one)?;
            if dst.current.is_some() {
                return Err(one(format!(
                    "{to}: destination already exists — move would overwrite"
                )));
            }
            dst.current = Some(content);
            dst.format = format;
            dst.mode = mode;
            stage.entry(&kf).map_err(one)?.current = None;
            diffs.push(format!("# Moved: {from} -> {to}"));
            applied.modified.push(format!("{abs_from} -> {abs_to}"));
            Ok(true)
        }
    }
}

struct HunkFailure {
    index: usize,
    hint: Option<String>,
    reason: String,
    not_found: bool,
    first_old_line: Option<String>,
}

/// Line comparison passes, from strict to tolerant.
const PASSES: [fn(&str) -> String; 4] = [
    |l| l.to_string(),
    |l| l.trim_end().to_string(),
    |l| l.trim().to_string(),
    |l| collapse_ws(l.trim()),
];

/// Applies the hunks in order to `content` (LF line endings). Every failing hunk is reported.
fn apply_hunks(content: &str, hunks: &[Hunk]) -> Result<String, Vec<HunkFailure>> {
    let had_final_newline = content.ends_with('\n');
    let mut lines: Vec<String> = if content.is_empty() {
        Vec::new()
    } else {
        content
            .strip_suffix('\n')
            .unwrap_or(content)
            .split('\n')
            .map(str::to_string)
            .collect()
    };
    let mut cursor = 0usize;
    let mut failures = Vec::new();
    for (i, hunk) in hunks.iter().enumerate() {
        if !hunk.has_changes() {
            continue;
        }
        let fail = |reason: String, not_found: bool| HunkFailure {
            index: i + 1,
            hint: hunk.hint.clone(),
            reason,
            not_found,
            first_old_line: hunk.old_lines().first().map(|s| s.to_string()),
        };
        let old = hunk.old_lines();
        let hint_line = hunk
            .hint
            .as_deref()
            .and_then(|h| find_hint(&lines, h, cursor));
        if old.is_empty() {
            // Only additions: after the hint line, else at the end of the file.
            let at = match (&hunk.hint, hint_line) {
                (Some(_), Some(h)) => h + 1,
                (Some(h), None) => {
                    failures.push(fail(
                        format!("addition-only hunk context hint '{h}' not found"),
                        false,
                    ));
                    continue;
                }
                (None, _) => lines.len(),
            };
            let added: Vec<String> = hunk
                .lines
                .iter()
                .filter_map(|l| match l {
                    HunkLine::Add(t) => Some(t.clone()),
                    _ => None,
                })
                .collect();
            cursor = at + added.len();
            lines.splice(at..at, added);
            continue;
        }
        let (pos, pass) = match seek(&lines, &old, cursor, hint_line, hunk.end_of_file) {
            Ok(found) => found,
            Err(SeekError::NotFound) => {
                failures.push(fail(
                    "not found — Could not find a match for the hunk's context and removed lines \
                     in the file"
                        .to_string(),
                    true,
                ));
                continue;
            }
            Err(SeekError::Ambiguous(at)) => {
                let shown: Vec<String> = at.iter().take(5).map(|p| format!("L{}", p + 1)).collect();
                failures.push(fail(
                    format!(
                        "is ambiguous — its lines occur {} times (at {}); add more context lines \
                         or an '@@ hint @@' line to pick one",
                        at.len(),
                        shown.join(", ")
                    ),
                    false,
                ));
                continue;
            }
        };
        let indent = (pass > 0)
            .then(|| {
                IndentMap::from_pairs(
                    old.iter()
                        .copied()
                        .zip(lines[pos..pos + old.len()].iter().map(String::as_str)),
                    false,
                )
            })
            .flatten();
        let mut replacement = Vec::new();
        let mut at = pos;
        for l in &hunk.lines {
            match l {
                HunkLine::Context(_) => {
                    replacement.push(lines[at].clone());
                    at += 1;
                }
                HunkLine::Remove(_) => at += 1,
                HunkLine::Add(t) => replacement.push(match &indent {
                    Some(m) => m.apply(t, false),
                    None => t.clone(),
                }),
            }
        }
        cursor = pos + replacement.len();
        lines.splice(pos..pos + old.len(), replacement);
    }
    if !failures.is_empty() {
        return Err(failures);
    }
    let mut out = lines.join("\n");
    if !lines.is_empty() && (had_final_newline || content.is_empty()) {
        out.push('\n');
    }
    Ok(out)
}

enum SeekError {
    NotFound,
    Ambiguous(Vec<usize>),
}

/// Finds where `old` occurs in `lines`; returns the start line and the pass that matched.
fn seek(
    lines: &[String],
    old: &[&str],
    cursor: usize,
    hint_line: Option<usize>,
    end_of_file: bool,
) -> Result<(usize, usize), SeekError> {
    if old.len() > lines.len() {
        return Err(SeekError::NotFound);
    }
    let last_start = lines.len() - old.len();
    for (pass, norm) in PASSES.iter().enumerate() {
        let wanted: Vec<String> = old.iter().map(|l| norm(l)).collect();
        let matches_at = |p: usize| (0..old.len()).all(|k| norm(&lines[p + k]) == wanted[k]);
        if end_of_file && matches_at(last_start) {
            return Ok((last_start, pass));
        }
        let found: Vec<usize> = (0..=last_start).filter(|&p| matches_at(p)).collect();
        match found.len() {
            0 => continue,
            1 => return Ok((found[0], pass)),
            _ => {}
        }
        let floor = cursor.max(hint_line.unwrap_or(0));
        if floor > 0
            && let Some(&p) = found.iter().find(|&&p| p >= floor)
        {
            return Ok((p, pass));
        }
        return Err(SeekError::Ambiguous(found));
    }
    Err(SeekError::NotFound)
}

/// The line containing the hint text: the first at or after `cursor`, else the first anywhere.
fn find_hint(lines: &[String], hint: &str, cursor: usize) -> Option<usize> {
    let h = hint.trim();
    if h.is_empty() {
        return None;
    }
    let hit = |l: &String| l.contains(h) || collapse_ws(l.trim()).contains(&collapse_ws(h));
    lines
        .iter()
        .skip(cursor)
        .position(hit)
        .map(|p| p + cursor)
        .or_else(|| lines.iter().position(hit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_operations() {
        let text = "*** Begin Patch\n\
                    *** Update File: src/a.py\n\
                    @@ def f(): @@\n \
                    x = 1\n\
                    -y = 2\n\
                    +y = 3\n\
                    *** Add File: new.txt\n\
                    +hello\n\
                    +\n\
                    +world\n\
                    *** Delete File: old.txt\n\
                    *** Move File: a.txt -> b/a.txt\n\
                    *** End Patch\n\
                    garbage after the end is ignored\n";
        let ops = parse(text).unwrap();
        assert_eq!(ops.len(), 4);
        assert_eq!(
            ops[0],
            Operation::Update {
                path: "src/a.py".into(),
                hunks: vec![Hunk {
                    hint: Some("def f():".into()),
                    lines: vec![
                        HunkLine::Context("x = 1".into()),
                        HunkLine::Remove("y = 2".into()),
                        HunkLine::Add("y = 3".into()),
                    ],
                    end_of_file: false,
                }],
            }
        );
        assert_eq!(
            ops[1],
            Operation::Add {
                path: "new.txt".into(),
                lines: vec!["hello".into(), "".into(), "world".into()],
            }
        );
        assert_eq!(
            ops[2],
            Operation::Delete {
                path: "old.txt".into()
            }
        );
        assert_eq!(
            ops[3],
            Operation::Move {
                from: "a.txt".into(),
                to: "b/a.txt".into()
            }
        );
    }

    #[test]
    fn begin_marker_is_optional_and_tolerant() {
        let ops = parse("***Update File: x\n@@\n-a\n+b\n").unwrap();
        assert_eq!(ops.len(), 1);
        let ops = parse("*** Begin  Patch  \n*** Update File: x\n-a\n+b\n").unwrap();
        assert_eq!(ops.len(), 1);
    }

    #[test]
    fn parse_errors_are_reported() {
        let e = parse("*** Update File: x\n").unwrap_err();
        assert_eq!(e.to_string(), "Parse error: UPDATE 'x': no hunks found");
        let e = parse("*** Update File: x\n-a\n+b\n*** Move to: y\n").unwrap_err();
        assert!(
            e.to_string().contains("'*** Move to: y' is not supported"),
            "{e}"
        );
        let e = parse("*** Move File: a.txt\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("MOVE 'a.txt': missing destination path"),
            "{e}"
        );
        let e = parse("*** Add File:   \n+x\n").unwrap_err();
        assert!(
            e.to_string().contains("Operation with empty file path"),
            "{e}"
        );
        let e = parse("").unwrap_err();
        assert!(e.to_string().contains("no file operations found"), "{e}");
        let e = parse("hello\n*** Delete File: a\n").unwrap_err();
        assert!(e.to_string().contains("outside any file operation"), "{e}");
        let e = parse("*** Frobnicate File: a\n").unwrap_err();
        assert!(e.to_string().contains("unknown directive"), "{e}");
        let e = parse("*** Add File: a\nno plus\n").unwrap_err();
        assert!(e.to_string().contains("must start with '+'"), "{e}");
    }

    #[test]
    fn blank_lines_in_hunks() {
        let ops = parse("*** Update File: x\n@@\n a\n\n-b\n+c\n\n\n").unwrap();
        let Operation::Update { hunks, .. } = &ops[0] else {
            panic!("not an update")
        };
        assert_eq!(
            hunks[0].lines,
            vec![
                HunkLine::Context("a".into()),
                HunkLine::Context("".into()),
                HunkLine::Remove("b".into()),
                HunkLine::Add("c".into()),
            ]
        );
    }

    fn upd(text: &str, patch: &str) -> Result<String, Vec<String>> {
        let ops = parse(patch).map_err(|e| vec![e.to_string()])?;
        let Some(Operation::Update { hunks, .. }) = ops.into_iter().next() else {
            return Err(vec!["no update".into()]);
        };
        apply_hunks(text, &hunks).map_err(|f| f.into_iter().map(|f| f.reason).collect())
    }

    #[test]
    fn hunks_apply_in_order_with_hints() {
        let text = "def a():\n    return 1\n\ndef b():\n    return 1\n";
        let out = upd(
            text,
            "*** Update File: x\n@@ def b(): @@\n-    return 1\n+    return 2\n",
        )
        .unwrap();
        assert_eq!(out, "def a():\n    return 1\n\ndef b():\n    return 2\n");
        let e = upd(
            text,
            "*** Update File: x\n@@\n-    return 1\n+    return 2\n",
        )
        .unwrap_err();
        assert!(e[0].contains("ambiguous"), "{e:?}");
    }

    #[test]
    fn fuzzy_pass_keeps_file_context_and_reindents() {
        let text = "fn f() {\n\tlet a = 1;\n\tlet b = 2;\n}\n";
        let out = upd(
            text,
            "*** Update File: x\n@@\n let a = 1;\n-let b = 2;\n+let b = 3;\n",
        )
        .unwrap();
        assert_eq!(out, "fn f() {\n\tlet a = 1;\n\tlet b = 3;\n}\n");
    }

    #[test]
    fn addition_only_hunks() {
        let text = "a\nb\n";
        assert_eq!(
            upd(text, "*** Update File: x\n@@\n+c\n").unwrap(),
            "a\nb\nc\n"
        );
        assert_eq!(
            upd(text, "*** Update File: x\n@@ a @@\n+z\n").unwrap(),
            "a\nz\nb\n"
        );
        let e = upd(text, "*** Update File: x\n@@ nope @@\n+z\n").unwrap_err();
        assert!(e[0].contains("addition-only hunk context hint 'nope' not found"));
    }

    #[test]
    fn end_of_file_prefers_the_last_occurrence() {
        let text = "x\ny\nx\n";
        let out = upd(text, "*** Update File: f\n@@\n-x\n+z\n*** End of File\n").unwrap();
        assert_eq!(out, "x\ny\nz\n");
    }

    #[test]
    fn no_final_newline_is_kept() {
        assert_eq!(
            upd("a\nb", "*** Update File: f\n@@\n-b\n+c\n").unwrap(),
            "a\nc"
        );
    }

    /// A small deterministic generator, so the garbage test needs no extra crate.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    #[test]
    fn garbage_never_panics() {
        let pieces = [
            "*** Begin Patch",
            "*** End Patch",
            "*** Update File: a",
            "*** Add File: b",
            "*** Delete File: c",
            "*** Move File: a -> d",
            "*** Move File: ->",
            "*** Move to: z",
            "*** End of File",
            "@@",
            "@@ x @@",
            "@@@",
            "+",
            "-",
            " ",
            "",
            "\\",
            "***",
            "*** ",
            "+ä",
            "-\u{0}",
            "\r",
            "é",
            "->",
            "*** Update File:",
            "***Add File:x",
        ];
        let mut rng = Lcg(0x5eed);
        for _ in 0..3000 {
            let n = (rng.next() % 12) as usize;
            let mut text = String::new();
            for _ in 0..n {
                if rng.next().is_multiple_of(5) {
                    let len = (rng.next() % 8) as usize;
                    for _ in 0..len {
                        let c = char::from_u32((rng.next() % 0x3000) as u32).unwrap_or('x');
                        text.push(c);
                    }
                } else {
                    text.push_str(pieces[(rng.next() as usize) % pieces.len()]);
                }
                text.push(if rng.next().is_multiple_of(7) {
                    '\r'
                } else {
                    '\n'
                });
            }
            if let Ok(ops) = parse(&text) {
                for op in ops {
                    if let Operation::Update { hunks, .. } = op {
                        let _ = apply_hunks("a\nb\nc\n", &hunks);
                        let _ = apply_hunks("", &hunks);
                    }
                }
            }
        }
    }
}
