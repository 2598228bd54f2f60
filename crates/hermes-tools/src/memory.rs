//! Hermes' built-in memory: `memories/MEMORY.md` (the agent's notes, target `memory`) and
//! `memories/USER.md` (the user profile, target `user`), each a list of entries joined by
//! `"\n§\n"` and bounded by a character budget.
//!
//! - [`MemoryStore`] owns the files: reads (lenient), writes (atomic, serialised across
//!   threads and processes), the add/replace/remove/batch semantics with Hermes' messages,
//!   and the frozen snapshot for the system prompt ([`MemoryStore::snapshot_blocks`]).
//! - [`MemoryTool`] is the `memory` tool over a store.
//!
//! ## Concurrency
//!
//! Every change is a read-modify-write done while holding an exclusive `flock` on
//! `memories/MEMORY.md.lock` (or `USER.md.lock`), taken with [`std::fs::File::lock`]. These
//! are the lock files Hermes Agent itself uses, so a Python Hermes sharing the same home
//! is excluded too. A separate lock file (rather than locking the memory file) is needed
//! because the memory file is replaced by rename: a lock on the old inode would not
//! exclude a writer that opened the new one. `flock` locks belong to the open file
//! description, so two threads of one process that each open the lock file exclude each
//! other as well. The lock is released when the file is closed, including when the
//! process dies, so a crash never leaves memory locked.
//!
//! The new contents go to a temporary file in the same directory (mode 0600), which is
//! fsynced and renamed over the old one, then the directory is fsynced. Readers need no
//! lock: they see the old file or the new one, never a mix.
//!
//! ## Damaged files
//!
//! A file that is not valid UTF-8 is read lossily (bad bytes become U+FFFD) for the
//! snapshot and for the tool; before the first write that would replace it, the original
//! bytes are copied to `MEMORY.md.bak.<unix time>` and the result says so. A file that
//! cannot be read at all (permissions, a directory in its place, absurd size) is left
//! alone: the snapshot omits its block (with a logged warning) and every change to it
//! fails with an error that names the file and the cause.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use hermes_core::{Tool, ToolContext, ToolError, ToolSpec};
use serde::Serialize;
use serde_json::{Value, json};

use crate::util::thousands;

/// Separator between entries in a memory file.
pub const ENTRY_DELIMITER: &str = "\n§\n";
/// `memory.memory_char_limit` default.
pub const DEFAULT_MEMORY_CHAR_LIMIT: usize = 2200;
/// `memory.user_char_limit` default.
pub const DEFAULT_USER_CHAR_LIMIT: usize = 1375;
/// Memory files larger than this are refused rather than read into memory.
pub const MAX_MEMORY_FILE_BYTES: u64 = 8 << 20;

const NOT_AVAILABLE: &str =
    "Memory is not available. It may be disabled in config or this environment.";
const SUCCESS_NOTE: &str = "Write saved. This update is complete — do not repeat it.";

/// Which memory file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemoryTarget {
    /// `MEMORY.md`: the agent's notes.
    Memory,
    /// `USER.md`: who the user is.
    User,
}

impl MemoryTarget {
    pub fn parse(s: &str) -> Option<MemoryTarget> {
        match s {
            "memory" => Some(MemoryTarget::Memory),
            "user" => Some(MemoryTarget::User),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MemoryTarget::Memory => "memory",
            MemoryTarget::User => "user",
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            MemoryTarget::Memory => "MEMORY.md",
            MemoryTarget::User => "USER.md",
        }
    }
}

/// Why the memory files could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    #[error(
        "could not read {path}: {source}. Nothing was changed; fix the file (permissions, or \
         move it away) and retry"
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is {size} bytes, far more than a memory file should hold (at most {max}); \
         nothing was changed; trim the file by hand and retry"
    )]
    TooLarge { path: PathBuf, size: u64, max: u64 },
    #[error(
        "could not lock {path}: {source}. Nothing was changed; check the directory's permissions"
    )]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not write {path}: {source}. The previous contents are unchanged")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the memory update did not finish: {0}")]
    Interrupted(String),
}

/// A successful change, in Hermes' shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemorySuccess {
    pub success: bool,
    pub done: bool,
    pub target: String,
    /// `"42% — 924/2,200 chars"`.
    pub usage: String,
    pub entry_count: usize,
    pub message: String,
    pub note: String,
    /// Advisory side channel (e.g. a damaged file was backed up).
    #[serde(rename = "_warning", skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// A refused change, in Hermes' shape; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryFailure {
    pub success: bool,
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_entries: Option<Vec<String>>,
    /// `"924/2,200"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
    /// Previews of the entries an ambiguous `old_text` matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matches: Option<Vec<String>>,
}

impl MemoryFailure {
    fn new(error: impl Into<String>) -> MemoryFailure {
        MemoryFailure {
            success: false,
            error: error.into(),
            current_entries: None,
            usage: None,
            matches: None,
        }
    }

    fn with_entries(mut self, entries: &[String], limit: usize) -> MemoryFailure {
        self.current_entries = Some(entries.to_vec());
        self.usage = Some(format!(
            "{}/{}",
            thousands(joined_len(entries) as u64),
            thousands(limit as u64)
        ));
        self
    }
}

/// What a memory operation answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum MemoryResponse {
    Success(MemorySuccess),
    Failure(MemoryFailure),
}

impl MemoryResponse {
    pub fn is_success(&self) -> bool {
        matches!(self, MemoryResponse::Success(_))
    }

    /// The JSON text the model sees.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            json!({"success": false, "error": format!("could not encode the result: {e}")})
                .to_string()
        })
    }
}

/// Outcome of an edit computed on the loaded entries.
enum Edit {
    /// Write the edited entries (if they changed) and report success with this message.
    Commit(String),
    /// Write nothing.
    Abort(MemoryFailure),
}

/// A memory file's entries as read from disk.
struct Loaded {
    entries: Vec<String>,
    /// The raw bytes, when they were not valid UTF-8 (kept for the backup).
    damaged: Option<Vec<u8>>,
}

/// The two memory files under one directory, with their budgets.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    dir: PathBuf,
    memory_limit: usize,
    user_limit: usize,
    memory_enabled: bool,
    user_enabled: bool,
}

impl MemoryStore {
    /// A store over `dir` (normally `$HERMES_HOME/memories`) with Hermes' default limits,
    /// both targets enabled. The directory is created on the first write.
    pub fn new(dir: impl Into<PathBuf>) -> MemoryStore {
        MemoryStore {
            dir: dir.into(),
            memory_limit: DEFAULT_MEMORY_CHAR_LIMIT,
            user_limit: DEFAULT_USER_CHAR_LIMIT,
            memory_enabled: true,
            user_enabled: true,
        }
    }

    /// Sets `memory.memory_char_limit` and `memory.user_char_limit`.
    pub fn with_limits(mut self, memory_limit: usize, user_limit: usize) -> MemoryStore {
        self.memory_limit = memory_limit;
        self.user_limit = user_limit;
        self
    }

    /// Sets `memory.memory_enabled` and `memory.user_profile_enabled`. A disabled target
    /// is absent from the snapshot and the tool refuses it.
    pub fn with_enabled(mut self, memory_enabled: bool, user_enabled: bool) -> MemoryStore {
        self.memory_enabled = memory_enabled;
        self.user_enabled = user_enabled;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn limit(&self, target: MemoryTarget) -> usize {
        match target {
            MemoryTarget::Memory => self.memory_limit,
            MemoryTarget::User => self.user_limit,
        }
    }

    pub fn is_enabled(&self, target: MemoryTarget) -> bool {
        match target {
            MemoryTarget::Memory => self.memory_enabled,
            MemoryTarget::User => self.user_enabled,
        }
    }

    /// Path of the file behind `target`.
    pub fn path(&self, target: MemoryTarget) -> PathBuf {
        self.dir.join(target.file_name())
    }

    fn lock_path(&self, target: MemoryTarget) -> PathBuf {
        self.dir.join(format!("{}.lock", target.file_name()))
    }

    /// The current entries of `target` (lossy for invalid UTF-8, deduplicated).
    pub fn entries(&self, target: MemoryTarget) -> Result<Vec<String>, MemoryError> {
        Ok(read_entries(&self.path(target))?.entries)
    }

    /// The system-prompt blocks (agent notes first, then the user profile), rendered from
    /// the files as they are now. Call once at session start and keep the result: writes
    /// during the session do not change it. Empty or disabled targets are omitted; an
    /// unreadable file is omitted with a logged warning.
    pub fn snapshot_blocks(&self) -> Vec<String> {
        let mut blocks = Vec::new();
        for target in [MemoryTarget::Memory, MemoryTarget::User] {
            if !self.is_enabled(target) {
                continue;
            }
            match read_entries(&self.path(target)) {
                Ok(loaded) => {
                    if let Some(block) = self.render_block(target, &loaded.entries) {
                        blocks.push(block);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "memory file left out of the system prompt");
                }
            }
        }
        blocks
    }

    /// Renders one block:
    /// `═×46 / MEMORY (your personal notes) [42% — 924/2,200 chars] / ═×46 / entries`.
    /// `None` for no entries. Content far over budget (more than twice the limit, at least
    /// 4000 chars) keeps its head and tail so a hand-edited file cannot flood the prompt.
    pub fn render_block(&self, target: MemoryTarget, entries: &[String]) -> Option<String> {
        if entries.is_empty() {
            return None;
        }
        let limit = self.limit(target);
        let mut content = entries.join(ENTRY_DELIMITER);
        let current = content.chars().count();
        let render_cap = (limit * 2).max(4000);
        if current > render_cap {
            let head = render_cap * 7 / 10;
            let tail = render_cap * 2 / 10;
            let omitted = current - head - tail;
            let head_text: String = content.chars().take(head).collect();
            let tail_text: String = content.chars().skip(current - tail).collect();
            content = format!(
                "{head_text}\n\n[... {} chars truncated — memory over budget ({}/{}); \
                 consolidate via memory(action=remove/replace) ...]\n\n{tail_text}",
                thousands(omitted as u64),
                thousands(current as u64),
                thousands(limit as u64)
            );
        }
        let over = if current > limit {
            " ⚠ OVER BUDGET"
        } else {
            ""
        };
        let title = match target {
            MemoryTarget::Memory => "MEMORY (your personal notes)",
            MemoryTarget::User => "USER PROFILE (who the user is)",
        };
        let rule = "═".repeat(46);
        Some(format!(
            "{rule}\n{title} [{}% — {}/{} chars{over}]\n{rule}\n{content}",
            percent(current, limit),
            thousands(current as u64),
            thousands(limit as u64)
        ))
    }

    /// Adds an entry. An exact duplicate is a success that writes nothing.
    pub fn add(&self, target: MemoryTarget, content: &str) -> Result<MemoryResponse, MemoryError> {
        let content = content.trim().to_string();
        if content.is_empty() {
            return Ok(failure("Content cannot be empty."));
        }
        let limit = self.limit(target);
        self.edit(target, move |entries| {
            if entries.contains(&content) {
                return Edit::Commit("Entry already exists (no duplicate added).".into());
            }
            let mut next = entries.clone();
            next.push(content.clone());
            if joined_len(&next) > limit {
                return Edit::Abort(
                    MemoryFailure::new(format!(
                        "Memory at {}/{} chars. Adding this entry ({} chars) would exceed the \
                         limit. Consolidate now: use 'replace' to merge overlapping entries \
                         into shorter ones or 'remove' stale or less important entries (see \
                         current_entries below), then retry this add — all in this turn.",
                        thousands(joined_len(entries) as u64),
                        thousands(limit as u64),
                        content.chars().count()
                    ))
                    .with_entries(entries, limit),
                );
            }
            *entries = next;
            Edit::Commit("Entry added.".into())
        })
    }

    /// Replaces the one entry containing `old_text` with `new_content`.
    pub fn replace(
        &self,
        target: MemoryTarget,
        old_text: &str,
        new_content: &str,
    ) -> Result<MemoryResponse, MemoryError> {
        let old = old_text.trim().to_string();
        let new = new_content.trim().to_string();
        if old.is_empty() {
            return Ok(failure("old_text cannot be empty."));
        }
        if new.is_empty() {
            return Ok(failure(
                "new_content cannot be empty. Use 'remove' to delete entries.",
            ));
        }
        let limit = self.limit(target);
        self.edit(target, move |entries| {
            let idx = match find_unique(entries, &old) {
                Found::One(i) => i,
                Found::None => {
                    return Edit::Abort(
                        MemoryFailure::new(format!(
                            "No entry matched '{old}'. Check current_entries below and retry \
                             with the exact text of the entry you want to replace."
                        ))
                        .with_entries(entries, limit),
                    );
                }
                Found::Many(previews) => return Edit::Abort(ambiguous(&old, previews)),
            };
            let mut next = entries.clone();
            next[idx] = new.clone();
            let new_total = joined_len(&next);
            if new_total > limit {
                return Edit::Abort(
                    MemoryFailure::new(format!(
                        "Replacement would put memory at {}/{} chars. Shorten the new content, \
                         or 'remove' other stale or less important entries to make room (see \
                         current_entries below), then retry — all in this turn.",
                        thousands(new_total as u64),
                        thousands(limit as u64)
                    ))
                    .with_entries(entries, limit),
                );
            }
            *entries = next;
            Edit::Commit("Entry replaced.".into())
        })
    }

    /// Removes the one entry containing `old_text`.
    pub fn remove(
        &self,
        target: MemoryTarget,
        old_text: &str,
    ) -> Result<MemoryResponse, MemoryError> {
        let old = old_text.trim().to_string();
        if old.is_empty() {
            return Ok(failure("old_text cannot be empty."));
        }
        let limit = self.limit(target);
        self.edit(target, move |entries| match find_unique(entries, &old) {
            Found::One(i) => {
                entries.remove(i);
                Edit::Commit("Entry removed.".into())
            }
            Found::None => Edit::Abort(
                MemoryFailure::new(format!(
                    "No entry matched '{old}'. Check current_entries below and retry with the \
                     exact text of the entry you want to remove."
                ))
                .with_entries(entries, limit),
            ),
            Found::Many(previews) => Edit::Abort(ambiguous(&old, previews)),
        })
    }

    /// Applies `operations` (`{action, content?, old_text?}` objects) all or nothing; the
    /// budget is checked only on the final result.
    pub fn apply_batch(
        &self,
        target: MemoryTarget,
        operations: &[Value],
    ) -> Result<MemoryResponse, MemoryError> {
        if operations.is_empty() {
            return Ok(failure("operations list is empty."));
        }
        let limit = self.limit(target);
        let ops: Vec<Value> = operations.to_vec();
        self.edit(target, move |entries| {
            let batch_error = |msg: String, entries: &[String]| {
                Edit::Abort(
                    MemoryFailure::new(format!(
                        "{msg} No operations were applied (batch is all-or-nothing)."
                    ))
                    .with_entries(entries, limit),
                )
            };
            let mut working = entries.clone();
            for (i, op) in ops.iter().enumerate() {
                let field = |k: &str| {
                    op.get(k)
                        .and_then(Value::as_str)
                        .map(|s| s.trim().to_string())
                        .unwrap_or_default()
                };
                let action = op.get("action").and_then(Value::as_str).unwrap_or("");
                let content = field("content");
                let old = field("old_text");
                let pos = format!(
                    "Operation {} ({})",
                    i + 1,
                    if action.is_empty() { "unknown" } else { action }
                );
                match action {
                    "add" => {
                        if content.is_empty() {
                            return batch_error(format!("{pos}: content is required."), entries);
                        }
                        if !working.contains(&content) {
                            working.push(content);
                        }
                    }
                    "replace" | "remove" => {
                        if old.is_empty() {
                            return batch_error(format!("{pos}: old_text is required."), entries);
                        }
                        if action == "replace" && content.is_empty() {
                            return batch_error(
                                format!(
                                    "{pos}: content is required (use action='remove' to delete)."
                                ),
                                entries,
                            );
                        }
                        let idx = match find_unique(&working, &old) {
                            Found::One(j) => j,
                            Found::None => {
                                return batch_error(
                                    format!("{pos}: no entry matched '{old}'."),
                                    entries,
                                );
                            }
                            Found::Many(_) => {
                                return batch_error(
                                    format!(
                                        "{pos}: '{old}' matched multiple distinct entries -- be \
                                         more specific."
                                    ),
                                    entries,
                                );
                            }
                        };
                        if action == "replace" {
                            working[idx] = content;
                        } else {
                            working.remove(idx);
                        }
                    }
                    _ => {
                        return batch_error(
                            format!("{pos}: unknown action. Use add, replace, or remove."),
                            entries,
                        );
                    }
                }
            }
            let new_total = joined_len(&working);
            if new_total > limit {
                return Edit::Abort(
                    MemoryFailure::new(format!(
                        "After applying all {} operations, memory would be at {}/{} chars -- \
                         over the limit. Remove or shorten more entries in the same batch (see \
                         current_entries below), then retry.",
                        ops.len(),
                        thousands(new_total as u64),
                        thousands(limit as u64)
                    ))
                    .with_entries(entries, limit),
                );
            }
            *entries = working;
            Edit::Commit(format!("Applied {} operation(s).", ops.len()))
        })
    }

    /// Read-modify-write of one target under its lock.
    fn edit(
        &self,
        target: MemoryTarget,
        f: impl FnOnce(&mut Vec<String>) -> Edit,
    ) -> Result<MemoryResponse, MemoryError> {
        let path = self.path(target);
        let _lock = self.lock(target)?;
        let loaded = read_entries(&path)?;
        let mut entries = loaded.entries.clone();
        match f(&mut entries) {
            Edit::Abort(fail) => Ok(MemoryResponse::Failure(fail)),
            Edit::Commit(message) => {
                let mut warning = None;
                if entries != loaded.entries {
                    if let Some(raw) = &loaded.damaged {
                        let bak = backup_path(&path);
                        write_atomic(&bak, raw).map_err(|source| MemoryError::Write {
                            path: bak.clone(),
                            source,
                        })?;
                        warning = Some(format!(
                            "{} was not valid UTF-8; unreadable bytes were replaced with U+FFFD. \
                             The original file was saved to {}.",
                            target.file_name(),
                            bak.display()
                        ));
                    }
                    write_atomic(&path, entries.join(ENTRY_DELIMITER).as_bytes()).map_err(
                        |source| MemoryError::Write {
                            path: path.clone(),
                            source,
                        },
                    )?;
                }
                let limit = self.limit(target);
                let current = joined_len(&entries);
                Ok(MemoryResponse::Success(MemorySuccess {
                    success: true,
                    done: true,
                    target: target.as_str().into(),
                    usage: format!(
                        "{}% — {}/{} chars",
                        percent(current, limit),
                        thousands(current as u64),
                        thousands(limit as u64)
                    ),
                    entry_count: entries.len(),
                    message,
                    note: SUCCESS_NOTE.into(),
                    warning,
                }))
            }
        }
    }

    /// Takes the exclusive lock of `target`; released when the returned file is dropped.
    fn lock(&self, target: MemoryTarget) -> Result<File, MemoryError> {
        let lock_path = self.lock_path(target);
        let lock_err = |source| MemoryError::Lock {
            path: lock_path.clone(),
            source,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(lock_err)?;
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(lock_err)?;
        file.lock().map_err(lock_err)?;
        Ok(file)
    }
}

fn failure(msg: &str) -> MemoryResponse {
    MemoryResponse::Failure(MemoryFailure::new(msg))
}

fn ambiguous(old: &str, previews: Vec<String>) -> MemoryFailure {
    let mut f = MemoryFailure::new(format!(
        "Multiple entries matched '{old}'. Be more specific."
    ));
    f.matches = Some(previews);
    f
}

enum Found {
    None,
    One(usize),
    /// Previews of the distinct entries that matched.
    Many(Vec<String>),
}

/// The entry containing `needle`: exactly one, or several identical ones (the first is
/// used), else none or many.
fn find_unique(entries: &[String], needle: &str) -> Found {
    let matches: Vec<usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.contains(needle))
        .map(|(i, _)| i)
        .collect();
    let Some(&first) = matches.first() else {
        return Found::None;
    };
    if matches.iter().all(|&i| entries[i] == entries[first]) {
        return Found::One(first);
    }
    Found::Many(matches.iter().map(|&i| preview(&entries[i])).collect())
}

fn preview(entry: &str) -> String {
    let mut chars = entry.chars();
    let head: String = chars.by_ref().take(80).collect();
    if chars.next().is_some() {
        format!("{head}...")
    } else {
        head
    }
}

/// Characters of the entries as stored (joined by the delimiter).
fn joined_len(entries: &[String]) -> usize {
    if entries.is_empty() {
        return 0;
    }
    entries.iter().map(|e| e.chars().count()).sum::<usize>()
        + (entries.len() - 1) * ENTRY_DELIMITER.chars().count()
}

fn percent(current: usize, limit: usize) -> usize {
    if limit == 0 {
        return 0;
    }
    (current.saturating_mul(100) / limit).min(100)
}

/// Splits file text into entries: by the delimiter, trimmed, empties dropped, duplicates
/// dropped (first kept).
pub fn parse_entries(raw: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in raw.split(ENTRY_DELIMITER) {
        let e = e.trim();
        if !e.is_empty() && !out.iter().any(|o| o == e) {
            out.push(e.to_string());
        }
    }
    out
}

fn read_entries(path: &Path) -> Result<Loaded, MemoryError> {
    let read_err = |source| MemoryError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Ok(Loaded {
                entries: Vec::new(),
                damaged: None,
            });
        }
        Err(e) => return Err(read_err(e)),
    };
    if meta.is_file() && meta.len() > MAX_MEMORY_FILE_BYTES {
        return Err(MemoryError::TooLarge {
            path: path.to_path_buf(),
            size: meta.len(),
            max: MAX_MEMORY_FILE_BYTES,
        });
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => Loaded {
            entries: parse_entries(&text),
            damaged: None,
        },
        Err(e) => {
            let raw = e.into_bytes();
            Loaded {
                entries: parse_entries(&String::from_utf8_lossy(&raw)),
                damaged: Some(raw),
            }
        }
    })
}

fn backup_path(path: &Path) -> PathBuf {
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".bak.{ts}"));
    path.with_file_name(name)
}

/// Replaces `path` with `data` atomically: temp file (0600) in the same directory, fsync,
/// rename, fsync of the directory.
fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(
        ".mem_{}_{}_{nanos}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    File::open(dir)?.sync_all()
}

const DESCRIPTION: &str = "Save durable facts to persistent memory that survive across sessions. \
Memory is injected into every future turn, so keep entries compact and high-signal.\n\nHOW: make \
ALL your changes in ONE call via an 'operations' array (each item: {action, content?, \
old_text?}). The batch applies atomically and the char limit is checked only on the FINAL \
result — so a single call can remove/replace stale entries to free room AND add new ones, even \
when an add alone would overflow. The response reports current/limit chars and confirms \
completion; one batch call finishes the update, so don't repeat it. Use the bare \
action/content/old_text fields only for a single lone change.\n\nWHEN: save proactively when \
the user states a preference, correction, or personal detail, or you learn a stable fact about \
their environment, conventions, or workflow. Priority: user preferences & corrections > \
environment facts > procedures. The best memory stops the user repeating themselves.\n\nIF \
FULL: an add is rejected with the current entries shown. Reissue as ONE batch that removes or \
shortens enough stale entries and adds the new one together.\n\nTARGETS: 'user' = who the user \
is (name, role, preferences, style). 'memory' = your notes (environment, conventions, tool \
quirks, lessons).\n\nSKIP: trivial/obvious info, easily re-discovered facts, raw data dumps, \
task progress, completed-work logs, temporary TODO state (use session_search for those). \
Reusable procedures belong in a skill, not memory.";

/// Tool-level errors: `{"error": ..., "success": false}` (Hermes' `tool_error` order).
fn tool_error(msg: &str) -> String {
    #[derive(Serialize)]
    struct ToolLevel<'a> {
        error: &'a str,
        success: bool,
    }
    serde_json::to_string(&ToolLevel {
        error: msg,
        success: false,
    })
    .unwrap_or_default()
}

/// The `memory` tool over a [`MemoryStore`].
pub struct MemoryTool {
    spec: ToolSpec,
    store: Arc<MemoryStore>,
}

impl MemoryTool {
    pub fn new(store: Arc<MemoryStore>) -> MemoryTool {
        MemoryTool {
            spec: ToolSpec {
                name: "memory".into(),
                description: DESCRIPTION.into(),
                parameters: json!({
                    "type": "object",
                    "properties": {
                        "action": {
                            "type": "string",
                            "enum": ["add", "replace", "remove"],
                            "description": "The action to perform (single-op shape). Omit when using 'operations'."
                        },
                        "target": {
                            "type": "string",
                            "enum": ["memory", "user"],
                            "description": "Which memory store: 'memory' for personal notes, 'user' for user profile."
                        },
                        "content": {
                            "type": "string",
                            "description": "The entry content. Required for 'add' and 'replace' (single-op shape)."
                        },
                        "old_text": {
                            "type": "string",
                            "description": "REQUIRED for 'replace' and 'remove' (single-op shape): a short unique substring identifying the existing entry to modify. Omit only for 'add'."
                        },
                        "operations": {
                            "type": "array",
                            "description": "Batch shape: a list of operations applied atomically in one call against the final char budget. Preferred when making multiple changes or consolidating to make room. Each item is {action, content?, old_text?}.",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "action": {"type": "string", "enum": ["add", "replace", "remove"]},
                                    "content": {"type": "string", "description": "Entry content for add/replace."},
                                    "old_text": {"type": "string", "description": "Substring identifying the entry for replace/remove."}
                                },
                                "required": ["action"]
                            }
                        }
                    },
                    "required": ["target"]
                }),
            },
            store,
        }
    }

    pub fn store(&self) -> &Arc<MemoryStore> {
        &self.store
    }

    /// Runs one call (blocking file I/O); the result is the JSON text the model sees.
    pub fn run(&self, args: &Value) -> String {
        run_call(&self.store, args)
    }
}

fn run_call(store: &MemoryStore, args: &Value) -> String {
    let target_name = match args.get("target") {
        None | Some(Value::Null) => "memory".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let Some(target) = MemoryTarget::parse(&target_name) else {
        return tool_error(&format!(
            "Invalid target '{target_name}'. Use 'memory' or 'user'."
        ));
    };
    if !store.is_enabled(target) {
        return tool_error(NOT_AVAILABLE);
    }
    let text = |k: &str| args.get(k).and_then(Value::as_str).unwrap_or("");
    let result = match args.get("operations") {
        Some(Value::Array(ops)) if !ops.is_empty() => store.apply_batch(target, ops),
        Some(v) if !is_falsy(v) && !v.is_array() => {
            return tool_error(
                "operations must be a list of {action, content?, old_text?} objects.",
            );
        }
        _ => match args.get("action").and_then(Value::as_str) {
            Some("add") if text("content").is_empty() => {
                return tool_error("Content is required for 'add' action.");
            }
            Some("add") => store.add(target, text("content")),
            Some(a @ ("replace" | "remove")) if text("old_text").is_empty() => {
                return missing_old_text(store, target, a);
            }
            Some("replace") if text("content").is_empty() => {
                return tool_error("content is required for 'replace' action.");
            }
            Some("replace") => store.replace(target, text("old_text"), text("content")),
            Some("remove") => store.remove(target, text("old_text")),
            Some(other) => {
                return tool_error(&format!(
                    "Unknown action '{other}'. Use: add, replace, remove"
                ));
            }
            None => {
                return tool_error(
                    "No action given. Use: add, replace, remove (or pass an 'operations' list).",
                );
            }
        },
    };
    match result {
        Ok(r) => r.to_json(),
        Err(e) => MemoryResponse::Failure(MemoryFailure::new(e.to_string())).to_json(),
    }
}

fn missing_old_text(store: &MemoryStore, target: MemoryTarget, action: &str) -> String {
    let mut fail = MemoryFailure::new(format!(
        "'{action}' needs old_text -- a short unique substring of the entry to {action}. None \
         was provided. Reissue the {action} with old_text set to part of one of the \
         current_entries below."
    ));
    if let Ok(entries) = store.entries(target) {
        fail = fail.with_entries(&entries, store.limit(target));
    }
    MemoryResponse::Failure(fail).to_json()
}

/// Python truthiness of a JSON value (for `if operations:`).
fn is_falsy(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

#[async_trait]
impl Tool for MemoryTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    async fn call(&self, args: Value, _ctx: &ToolContext) -> Result<String, ToolError> {
        let store = self.store.clone();
        // The lock may wait for another process; keep that off the async workers.
        tokio::task::spawn_blocking(move || run_call(&store, &args))
            .await
            .map_err(|e| ToolError::Fatal(MemoryError::Interrupted(e.to_string()).to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, MemoryStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = MemoryStore::new(dir.path().join("memories"));
        (dir, s)
    }

    fn ok(r: Result<MemoryResponse, MemoryError>) -> MemorySuccess {
        match r.unwrap() {
            MemoryResponse::Success(s) => s,
            MemoryResponse::Failure(f) => panic!("expected success, got {f:?}"),
        }
    }

    fn fail(r: Result<MemoryResponse, MemoryError>) -> MemoryFailure {
        match r.unwrap() {
            MemoryResponse::Failure(f) => f,
            MemoryResponse::Success(s) => panic!("expected failure, got {s:?}"),
        }
    }

    #[test]
    fn parse_trims_drops_empties_and_dedupes() {
        assert_eq!(
            parse_entries("  a \n§\n\n§\nb\n§\na\n§\n  "),
            vec!["a".to_string(), "b".to_string()]
        );
        assert!(parse_entries("   \n").is_empty());
        // A § inside an entry is not a delimiter.
        assert_eq!(parse_entries("x § y"), vec!["x § y".to_string()]);
    }

    #[test]
    fn usage_counts_chars_not_bytes() {
        let (_d, s) = store();
        let r = ok(s.add(MemoryTarget::Memory, "ééé"));
        assert_eq!(r.usage, "0% — 3/2,200 chars");
        let r = ok(s.add(MemoryTarget::Memory, "x".repeat(917).as_str()));
        // 3 + 3 (delimiter) + 917 = 923 → 41%
        assert_eq!(r.usage, "41% — 923/2,200 chars");
        assert_eq!(r.entry_count, 2);
    }

    #[test]
    fn add_duplicate_and_over_limit() {
        let (_d, s) = store();
        let s = s.with_limits(20, 10);
        ok(s.add(MemoryTarget::Memory, "0123456789"));
        let dup = ok(s.add(MemoryTarget::Memory, "  0123456789 "));
        assert_eq!(dup.message, "Entry already exists (no duplicate added).");
        let f = fail(s.add(MemoryTarget::Memory, "abcdefgh"));
        assert_eq!(
            f.error,
            "Memory at 10/20 chars. Adding this entry (8 chars) would exceed the limit. \
             Consolidate now: use 'replace' to merge overlapping entries into shorter ones or \
             'remove' stale or less important entries (see current_entries below), then retry \
             this add — all in this turn."
        );
        assert_eq!(f.current_entries, Some(vec!["0123456789".to_string()]));
        assert_eq!(f.usage.as_deref(), Some("10/20"));
        assert_eq!(
            fail(s.add(MemoryTarget::Memory, "   ")).error,
            "Content cannot be empty."
        );
    }

    #[test]
    fn replace_and_remove_match_unique_substrings() {
        let (_d, s) = store();
        for e in ["uses vim", "uses tabs", "likes tea"] {
            ok(s.add(MemoryTarget::User, e));
        }
        let f = fail(s.replace(MemoryTarget::User, "uses", "x"));
        assert_eq!(
            f.error,
            "Multiple entries matched 'uses'. Be more specific."
        );
        assert_eq!(
            f.matches,
            Some(vec!["uses vim".to_string(), "uses tabs".to_string()])
        );
        let f = fail(s.remove(MemoryTarget::User, "coffee"));
        assert!(
            f.error.starts_with("No entry matched 'coffee'."),
            "{}",
            f.error
        );
        assert_eq!(f.current_entries.as_ref().map(Vec::len), Some(3));
        assert_eq!(
            ok(s.replace(MemoryTarget::User, "vim", "uses helix")).message,
            "Entry replaced."
        );
        assert_eq!(
            ok(s.remove(MemoryTarget::User, "tea")).message,
            "Entry removed."
        );
        assert_eq!(
            s.entries(MemoryTarget::User).unwrap(),
            vec!["uses helix".to_string(), "uses tabs".to_string()]
        );
        assert_eq!(
            fail(s.replace(MemoryTarget::User, "tabs", " ")).error,
            "new_content cannot be empty. Use 'remove' to delete entries."
        );
    }

    #[test]
    fn replace_over_limit_is_refused() {
        let (_d, s) = store();
        let s = s.with_limits(10, 10);
        ok(s.add(MemoryTarget::Memory, "abc"));
        let f = fail(s.replace(MemoryTarget::Memory, "abc", "0123456789x"));
        assert!(
            f.error
                .starts_with("Replacement would put memory at 11/10 chars."),
            "{}",
            f.error
        );
        assert_eq!(s.entries(MemoryTarget::Memory).unwrap(), vec!["abc"]);
    }

    #[test]
    fn previews_cut_at_80_chars() {
        assert_eq!(preview(&"a".repeat(80)), "a".repeat(80));
        assert_eq!(preview(&"a".repeat(81)), format!("{}...", "a".repeat(80)));
    }

    #[test]
    fn identical_matches_act_on_the_first() {
        let entries = vec!["same".to_string(), "other".to_string(), "same".to_string()];
        assert!(matches!(find_unique(&entries, "sam"), Found::One(0)));
    }

    #[test]
    fn batch_is_all_or_nothing_against_the_final_budget() {
        let (_d, s) = store();
        let s = s.with_limits(30, 10);
        ok(s.add(MemoryTarget::Memory, "old entry number one"));
        // Adding alone would overflow; removing first makes room.
        let r = ok(s.apply_batch(
            MemoryTarget::Memory,
            &[
                json!({"action": "add", "content": "a fresh fact here"}),
                json!({"action": "remove", "old_text": "number one"}),
            ],
        ));
        assert_eq!(r.message, "Applied 2 operation(s).");
        assert_eq!(
            s.entries(MemoryTarget::Memory).unwrap(),
            vec!["a fresh fact here"]
        );
        let f = fail(s.apply_batch(
            MemoryTarget::Memory,
            &[
                json!({"action": "add", "content": "second"}),
                json!({"action": "remove", "old_text": "missing"}),
            ],
        ));
        assert_eq!(
            f.error,
            "Operation 2 (remove): no entry matched 'missing'. No operations were applied \
             (batch is all-or-nothing)."
        );
        let f = fail(s.apply_batch(
            MemoryTarget::Memory,
            &[json!({"action": "add", "content": "x".repeat(20)})],
        ));
        assert!(
            f.error
                .starts_with("After applying all 1 operations, memory would be at 40/30 chars"),
            "{}",
            f.error
        );
        let f = fail(s.apply_batch(MemoryTarget::Memory, &[json!({"content": "y"})]));
        assert!(
            f.error
                .starts_with("Operation 1 (unknown): unknown action. Use add, replace, or remove."),
            "{}",
            f.error
        );
        let f = fail(s.apply_batch(
            MemoryTarget::Memory,
            &[json!({"action": "replace", "old_text": "fresh"})],
        ));
        assert!(
            f.error.starts_with(
                "Operation 1 (replace): content is required (use action='remove' to delete)."
            ),
            "{}",
            f.error
        );
        assert_eq!(
            s.entries(MemoryTarget::Memory).unwrap(),
            vec!["a fresh fact here"]
        );
    }

    #[test]
    fn block_rendering() {
        let (_d, s) = store();
        assert_eq!(s.render_block(MemoryTarget::Memory, &[]), None);
        let block = s
            .render_block(MemoryTarget::User, &["a".to_string(), "b".to_string()])
            .unwrap();
        let rule = "═".repeat(46);
        assert_eq!(
            block,
            format!("{rule}\nUSER PROFILE (who the user is) [0% — 5/1,375 chars]\n{rule}\na\n§\nb")
        );
    }

    #[test]
    fn oversized_block_is_cut_and_flagged() {
        let (_d, s) = store();
        let s = s.with_limits(100, 100);
        let block = s
            .render_block(MemoryTarget::Memory, &["z".repeat(10_000)])
            .unwrap();
        assert!(
            block.contains("[100% — 10,000/100 chars ⚠ OVER BUDGET]"),
            "{block}"
        );
        assert!(block.contains("[... 6,400 chars truncated — memory over budget (10,000/100)"));
        assert!(block.chars().count() < 4000 + 400);
    }

    #[test]
    fn atomic_write_leaves_no_temp_files_and_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let (_d, s) = store();
        ok(s.add(MemoryTarget::Memory, "one"));
        ok(s.add(MemoryTarget::Memory, "two"));
        let names: Vec<String> = std::fs::read_dir(s.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
        let mode = std::fs::metadata(s.path(MemoryTarget::Memory))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            std::fs::read_to_string(s.path(MemoryTarget::Memory)).unwrap(),
            "one\n§\ntwo"
        );
    }
}
