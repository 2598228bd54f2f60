//! System prompt assembly, in Hermes' order: identity (SOUL.md), tool guidance, the
//! caller's system message, the frozen memory snapshot, project context, then facts about
//! the session (date, model, platform).

use std::path::{Path, PathBuf};

use crate::truncate::{ceil_char_boundary, floor_char_boundary};

/// Identity used when `SOUL.md` is missing or empty.
pub const DEFAULT_IDENTITY: &str = "You are Hermes, a capable AI agent running on the user's own \
machine. You help with questions, code, writing and everyday tasks, and you act through your \
tools when that is the best way to help. Be direct and concise, say what you did, and admit \
uncertainty instead of guessing.";

/// Guidance added when the memory tool is available.
pub const MEMORY_GUIDANCE: &str = "You have a persistent memory that carries across sessions. \
Use the memory tool to save durable facts: the user's preferences and corrections, details of \
their environment, and conventions that will matter again. Keep entries short. Do not save task \
progress or temporary state.";

/// Guidance added when the session_search tool is available.
pub const SESSION_SEARCH_GUIDANCE: &str = "When the user refers to an earlier conversation, or \
earlier context would clearly help, use session_search to look it up before asking them to \
repeat themselves.";

/// Default cap per context file, in characters (Hermes: `context_file_max_chars`).
pub const CONTEXT_FILE_MAX_CHARS: usize = 20_000;

/// A project instruction file found near the working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextFile {
    /// Label shown to the model: the file name, or a relative path.
    pub name: String,
    pub content: String,
}

/// Everything that goes into a system prompt.
#[derive(Debug, Clone, Default)]
pub struct PromptParts {
    /// The persona (contents of `SOUL.md`); [`DEFAULT_IDENTITY`] when empty.
    pub soul: String,
    /// Tool usage guidance paragraphs (see [`MEMORY_GUIDANCE`] …).
    pub tool_guidance: Vec<String>,
    /// Extra instructions from the caller (e.g. the system messages of an API request).
    pub system_message: Option<String>,
    /// Rendered memory blocks (agent notes, user profile), frozen at session start.
    pub memory_blocks: Vec<String>,
    pub context_files: Vec<ContextFile>,
    pub model: Option<String>,
    pub provider: Option<String>,
    /// Short note about where the conversation happens (`cli`, `api_server`, …).
    pub platform_hint: Option<String>,
}

/// A context file's text: whole, or its head and tail when it is larger than the cap.
struct Text {
    head: String,
    /// `(tail, full size in bytes)` when the middle was not read.
    tail: Option<(String, u64)>,
}

/// Reads a context file if it is a regular file whose real location is inside `root`
/// (symlinks may point elsewhere in the project, never out of it; `/proc` files and
/// devices are refused). Files over `cap` bytes are read as head (70%) and tail (20%)
/// only, so a huge file costs no more than a small one.
fn read_text(path: &Path, root: &Path, cap: usize) -> Option<Text> {
    use std::io::{Read, Seek, SeekFrom};
    let real = std::fs::canonicalize(path).ok()?;
    if !real.starts_with(root) {
        tracing::warn!(
            "ignoring context file {}: it resolves outside the project ({})",
            path.display(),
            real.display()
        );
        return None;
    }
    let mut file = std::fs::File::open(&real).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    let size = meta.len();
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let text = if size <= cap as u64 {
        let mut bytes = Vec::new();
        file.take(cap as u64 + 1).read_to_end(&mut bytes).ok()?;
        Text {
            head: lossy(&bytes),
            tail: None,
        }
    } else {
        let mut head = vec![0u8; cap * 7 / 10];
        file.read_exact(&mut head).ok()?;
        let tail_len = (cap * 2 / 10) as u64;
        file.seek(SeekFrom::Start(size - tail_len)).ok()?;
        let mut tail = Vec::new();
        file.take(tail_len).read_to_end(&mut tail).ok()?;
        // Drop a partial UTF-8 sequence at the cut edges.
        let head = lossy(&head).trim_end_matches('\u{fffd}').to_string();
        let tail = lossy(&tail).trim_start_matches('\u{fffd}').to_string();
        Text {
            head,
            tail: Some((tail, size)),
        }
    };
    let head = text.head.trim_start_matches('\u{feff}');
    let head = if text.tail.is_none() {
        head.trim()
    } else {
        head.trim_start()
    };
    (!head.is_empty()).then(|| Text {
        head: head.to_string(),
        tail: text.tail,
    })
}

/// The directory that bounds context-file discovery: the git root above `cwd`, or `cwd`
/// itself when it is not inside a repository.
fn project_root(cwd: &Path) -> PathBuf {
    let mut dir = Some(cwd);
    while let Some(d) = dir {
        if d.join(".git").exists() {
            return d.to_path_buf();
        }
        dir = d.parent();
    }
    cwd.to_path_buf()
}

/// Removes a leading YAML front-matter block (`---` … `---`).
fn strip_front_matter(text: &str) -> &str {
    if let Some(rest) = text.strip_prefix("---\n")
        && let Some(end) = rest.find("\n---")
    {
        let after = &rest[end + 4..];
        return after.trim_start_matches(['\r', '\n']);
    }
    text
}

/// Keeps the head (70%) and tail (20%) of an over-long file, as Hermes does.
fn cap_context(name: &str, text: Text, cap: usize) -> String {
    let (head, tail, total) = match text.tail {
        Some((tail, size)) => (text.head, tail, size),
        None if text.head.len() <= cap => return text.head,
        None => {
            let t = text.head;
            let head_end = floor_char_boundary(&t, cap * 7 / 10);
            let tail_start = ceil_char_boundary(&t, t.len() - cap * 2 / 10);
            let total = t.len() as u64;
            (
                t[..head_end].to_string(),
                t[tail_start..].to_string(),
                total,
            )
        }
    };
    format!(
        "{head}\n\n[...truncated {name}: kept {}+{} of {total} chars. Use file tools to read the full file.]\n\n{tail}",
        head.len(),
        tail.len(),
    )
}

/// Finds the project context, first kind found wins (Hermes' rule): the nearest
/// `.hermes.md`/`HERMES.md` from `cwd` up to the git root (only `cwd` outside a
/// repository); else `AGENTS.md`; else `CLAUDE.md`; else `.cursorrules` (with
/// `.cursor/rules/*.mdc`). Each file is capped at `cap_chars`; files that resolve outside
/// the project are ignored, so a symlinked `AGENTS.md` cannot pull in `~/.ssh` or
/// `/proc/self/environ`.
pub fn discover_context_files(cwd: &Path, cap_chars: usize) -> Vec<ContextFile> {
    let Ok(cwd) = std::fs::canonicalize(cwd) else {
        return Vec::new();
    };
    let cwd = cwd.as_path();
    let root = project_root(cwd);
    let read = |p: &Path| read_text(p, &root, cap_chars);
    let mut dir = Some(cwd);
    while let Some(d) = dir {
        for name in [".hermes.md", "HERMES.md"] {
            let p = d.join(name);
            if let Some(mut text) = read(&p) {
                let label = relative_label(cwd, &p);
                text.head = strip_front_matter(&text.head).to_string();
                return vec![ContextFile {
                    content: cap_context(&label, text, cap_chars),
                    name: label,
                }];
            }
        }
        if d == root {
            break;
        }
        dir = d.parent();
    }
    for names in [["AGENTS.md", "agents.md"], ["CLAUDE.md", "claude.md"]] {
        for name in names {
            if let Some(found) = read(&cwd.join(name)) {
                return vec![ContextFile {
                    content: cap_context(name, found, cap_chars),
                    name: name.to_string(),
                }];
            }
        }
    }
    let mut cursor = Vec::new();
    if let Some(found) = read(&cwd.join(".cursorrules")) {
        cursor.push(ContextFile {
            content: cap_context(".cursorrules", found, cap_chars),
            name: ".cursorrules".to_string(),
        });
    }
    if let Ok(entries) = std::fs::read_dir(cwd.join(".cursor/rules")) {
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "mdc"))
            .collect();
        paths.sort();
        for p in paths {
            if let Some(found) = read(&p) {
                let label = relative_label(cwd, &p);
                cursor.push(ContextFile {
                    content: cap_context(&label, found, cap_chars),
                    name: label,
                });
            }
        }
    }
    cursor
}

fn relative_label(cwd: &Path, p: &Path) -> String {
    if let Ok(r) = p.strip_prefix(cwd) {
        return r.display().to_string();
    }
    // Walk up: ../HERMES.md, ../../HERMES.md …
    let mut up = String::new();
    let mut d = cwd;
    while let Some(parent) = d.parent() {
        up.push_str("../");
        if let Ok(r) = p.strip_prefix(parent) {
            return format!("{up}{}", r.display());
        }
        d = parent;
    }
    p.display().to_string()
}

/// `Wednesday, April 18, 2026 02:30 PM UTC`.
pub fn human_time(ts: f64) -> String {
    let t = crate::ids::Utc::at(ts);
    let (h12, ampm) = t.hour12();
    format!(
        "{}, {} {:02}, {} {:02}:{:02} {} UTC",
        t.weekday_name(),
        t.month_name(),
        t.day,
        t.year,
        h12,
        t.minute,
        ampm
    )
}

/// Joins the parts into one system prompt (sections separated by blank lines).
pub fn build_system_prompt(parts: &PromptParts) -> String {
    let mut sections: Vec<String> = Vec::new();
    let soul = parts.soul.trim();
    sections.push(if soul.is_empty() {
        DEFAULT_IDENTITY.to_string()
    } else {
        soul.to_string()
    });
    let guidance: Vec<&str> = parts
        .tool_guidance
        .iter()
        .map(|g| g.trim())
        .filter(|g| !g.is_empty())
        .collect();
    if !guidance.is_empty() {
        sections.push(guidance.join(" "));
    }
    if let Some(m) = parts.system_message.as_deref().map(str::trim)
        && !m.is_empty()
    {
        sections.push(m.to_string());
    }
    for block in &parts.memory_blocks {
        if !block.trim().is_empty() {
            sections.push(block.trim().to_string());
        }
    }
    if !parts.context_files.is_empty() {
        let body: Vec<String> = parts
            .context_files
            .iter()
            .map(|f| format!("## {}\n\n{}", f.name, f.content.trim()))
            .collect();
        sections.push(format!(
            "# Project Context\n\nThe following project context files have been loaded and should be followed:\n\n{}",
            body.join("\n")
        ));
    }
    let mut facts = format!("Conversation started: {}", human_time(crate::ids::now_ts()));
    if let Some(m) = &parts.model {
        facts.push_str(&format!("\nModel: {m}"));
    }
    if let Some(p) = &parts.provider {
        facts.push_str(&format!("\nProvider: {p}"));
    }
    sections.push(facts);
    if let Some(h) = parts.platform_hint.as_deref().map(str::trim)
        && !h.is_empty()
    {
        sections.push(h.to_string());
    }
    sections.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hermes_md_found_up_to_git_root_wins_over_agents_md() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(".git")).unwrap();
        std::fs::write(
            root.path().join("HERMES.md"),
            "---\ntitle: x\n---\nroot rules",
        )
        .unwrap();
        let sub = root.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join("AGENTS.md"), "agents here").unwrap();
        let files = discover_context_files(&sub, 1000);
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(files[0].name, "../../HERMES.md");
        assert_eq!(files[0].content, "root rules");
    }

    #[test]
    fn walk_stops_at_git_root() {
        let outer = tempfile::tempdir().unwrap();
        std::fs::write(outer.path().join("HERMES.md"), "outside the repo").unwrap();
        let repo = outer.path().join("repo");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::write(repo.join("AGENTS.md"), "repo agents").unwrap();
        let files = discover_context_files(&repo, 1000);
        assert_eq!(files[0].name, "AGENTS.md");
    }

    #[test]
    fn caps_large_files_keeping_head_and_tail() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join(".git")).unwrap();
        let text = format!("{}{}", "a".repeat(900), "z".repeat(100));
        std::fs::write(d.path().join("AGENTS.md"), text).unwrap();
        let files = discover_context_files(d.path(), 100);
        let c = &files[0].content;
        assert!(c.starts_with(&"a".repeat(70)));
        assert!(c.ends_with(&"z".repeat(20)));
        assert!(
            c.contains("[...truncated AGENTS.md: kept 70+20 of 1000 chars."),
            "{c}"
        );
    }

    #[test]
    fn outside_a_repository_only_cwd_is_searched() {
        let outer = tempfile::tempdir().unwrap();
        std::fs::write(outer.path().join(".hermes.md"), "planted by someone else").unwrap();
        let cwd = outer.path().join("project");
        std::fs::create_dir(&cwd).unwrap();
        assert!(discover_context_files(&cwd, 1000).is_empty());
    }

    #[test]
    fn symlinks_out_of_the_project_are_ignored() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "SECRET-CANARY").unwrap();
        let repo = tempfile::tempdir().unwrap();
        std::fs::create_dir(repo.path().join(".git")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), repo.path().join("AGENTS.md"))
            .unwrap();
        std::os::unix::fs::symlink("/proc/self/environ", repo.path().join("CLAUDE.md")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", repo.path().join(".cursorrules")).unwrap();
        assert!(discover_context_files(repo.path(), 1000).is_empty());
        // A link that stays inside the project is fine.
        std::fs::write(repo.path().join("docs.md"), "inside").unwrap();
        std::fs::remove_file(repo.path().join("AGENTS.md")).unwrap();
        std::os::unix::fs::symlink("docs.md", repo.path().join("AGENTS.md")).unwrap();
        assert_eq!(
            discover_context_files(repo.path(), 1000)[0].content,
            "inside"
        );
    }

    #[test]
    fn only_a_bounded_prefix_is_read() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join(".git")).unwrap();
        std::fs::write(d.path().join("AGENTS.md"), "a".repeat(1_000_000)).unwrap();
        let f = &discover_context_files(d.path(), 100)[0];
        assert!(
            f.content.contains("kept 70+20 of 1000000 chars"),
            "{}",
            &f.content[..200]
        );
        assert!(f.content.len() < 400);
        let text = format!("{}{}", "h".repeat(500_000), "t".repeat(500_000));
        std::fs::write(d.path().join("AGENTS.md"), text).unwrap();
        let f = &discover_context_files(d.path(), 100)[0];
        assert!(f.content.starts_with(&"h".repeat(70)) && f.content.ends_with(&"t".repeat(20)));
    }

    #[test]
    fn cursor_rules_are_concatenated() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join(".git")).unwrap();
        std::fs::write(d.path().join(".cursorrules"), "one").unwrap();
        std::fs::create_dir_all(d.path().join(".cursor/rules")).unwrap();
        std::fs::write(d.path().join(".cursor/rules/b.mdc"), "two").unwrap();
        let names: Vec<String> = discover_context_files(d.path(), 100)
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(names, [".cursorrules", ".cursor/rules/b.mdc"]);
    }

    #[test]
    fn prompt_order_and_default_identity() {
        let p = build_system_prompt(&PromptParts {
            tool_guidance: vec![MEMORY_GUIDANCE.into()],
            system_message: Some("Answer in French.".into()),
            memory_blocks: vec!["MEMORY block".into()],
            context_files: vec![ContextFile {
                name: "AGENTS.md".into(),
                content: "use tabs".into(),
            }],
            model: Some("m1".into()),
            ..PromptParts::default()
        });
        let order = [
            DEFAULT_IDENTITY,
            "persistent memory",
            "Answer in French.",
            "MEMORY block",
            "# Project Context",
            "## AGENTS.md\n\nuse tabs",
            "Conversation started: ",
            "Model: m1",
        ];
        let mut at = 0;
        for needle in order {
            let i = p[at..]
                .find(needle)
                .unwrap_or_else(|| panic!("{needle} after {at} in {p}"));
            at += i;
        }
    }

    #[test]
    fn human_time_matches_known_instant() {
        // 2026-04-18 14:30 UTC was a Saturday.
        assert_eq!(
            human_time(1_776_522_600.0),
            "Saturday, April 18, 2026 02:30 PM UTC"
        );
    }
}
