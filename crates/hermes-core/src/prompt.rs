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

fn read_text(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_start_matches('\u{feff}').trim();
    (!text.is_empty()).then(|| text.to_string())
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
fn cap_context(name: &str, text: String, cap: usize) -> String {
    if text.len() <= cap {
        return text;
    }
    let head = floor_char_boundary(&text, cap * 7 / 10);
    let tail_start = ceil_char_boundary(&text, text.len() - cap * 2 / 10);
    format!(
        "{}\n\n[...truncated {name}: kept {}+{} of {} chars. Use file tools to read the full file.]\n\n{}",
        &text[..head],
        head,
        text.len() - tail_start,
        text.len(),
        &text[tail_start..]
    )
}

/// Finds the project context, first kind found wins (Hermes' rule): the nearest
/// `.hermes.md`/`HERMES.md` from `cwd` up to the git root; else `AGENTS.md`; else
/// `CLAUDE.md`; else `.cursorrules` (with `.cursor/rules/*.mdc`). Each file is capped at
/// `cap_chars`.
pub fn discover_context_files(cwd: &Path, cap_chars: usize) -> Vec<ContextFile> {
    let mut dir = Some(cwd);
    while let Some(d) = dir {
        for name in [".hermes.md", "HERMES.md"] {
            let p = d.join(name);
            if let Some(text) = read_text(&p) {
                let label = relative_label(cwd, &p);
                let body = strip_front_matter(&text).to_string();
                return vec![ContextFile {
                    content: cap_context(&label, body, cap_chars),
                    name: label,
                }];
            }
        }
        if d.join(".git").exists() {
            break;
        }
        dir = d.parent();
    }
    for names in [["AGENTS.md", "agents.md"], ["CLAUDE.md", "claude.md"]] {
        for name in names {
            if let Some(text) = read_text(&cwd.join(name)) {
                return vec![ContextFile {
                    content: cap_context(name, text, cap_chars),
                    name: name.to_string(),
                }];
            }
        }
    }
    let mut cursor = Vec::new();
    if let Some(text) = read_text(&cwd.join(".cursorrules")) {
        cursor.push(ContextFile {
            content: cap_context(".cursorrules", text, cap_chars),
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
            if let Some(text) = read_text(&p) {
                let label = relative_label(cwd, &p);
                cursor.push(ContextFile {
                    content: cap_context(&label, text, cap_chars),
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

const WEEKDAYS: [&str; 7] = [
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `Wednesday, April 18, 2026 02:30 PM UTC`.
pub fn human_time(ts: f64) -> String {
    let secs = ts.floor() as i64;
    let days = secs.div_euclid(86_400);
    let (y, m, d) = crate::ids::civil_from_days(days);
    let rem = secs.rem_euclid(86_400);
    let (h, min) = (rem / 3600, (rem / 60) % 60);
    let (h12, ampm) = match h {
        0 => (12, "AM"),
        1..=11 => (h, "AM"),
        12 => (12, "PM"),
        _ => (h - 12, "PM"),
    };
    format!(
        "{}, {} {:02}, {} {:02}:{:02} {} UTC",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        y,
        h12,
        min,
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
