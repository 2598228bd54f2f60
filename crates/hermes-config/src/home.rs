//! `HERMES_HOME`: where Hermes keeps its configuration, secrets, state and memories.
//!
//! Resolution: the `HERMES_HOME` environment variable when it is set and non-empty
//! (a leading `~/` is expanded, a relative path is taken from the current directory),
//! otherwise `~/.hermes`. The layout is Hermes Agent 0.19's, so an existing Hermes home
//! keeps working.
//!
//! [`HermesHome::ensure`] creates the directory with mode 0700. When the directory already
//! exists and is readable by group or others, it is **not** changed: shared setups (a
//! volume mounted for a group, a home prepared by an administrator) can be deliberate, and
//! silently changing modes would surprise their owners. A warning is returned instead,
//! telling how to tighten it (`chmod 700 <dir>`).

use std::path::{Path, PathBuf};

use crate::error::ConfigError;
use crate::fsutil;

/// Sub-directories Hermes keeps in its home; created by [`HermesHome::ensure`].
pub const SUBDIRS: &[&str] = &[
    "cron",
    "sessions",
    "logs",
    "hooks",
    "memories",
    "skills",
    "skins",
    "plans",
    "workspace",
    "home",
];

/// The persona seeded into `SOUL.md` on first run. Users edit the file freely; it is
/// never overwritten.
pub const DEFAULT_SOUL: &str = "\
# Hermes

You are Hermes, a self-hosted agent that runs on the user's own machine and works in their \
workspace with the tools you have been given.

- Be warm and direct. Say what you think plainly, and make your answer as long as the \
question needs and no longer.
- Use tools carefully. Look before you change things, prefer small steps that can be \
undone, and ask before anything destructive or hard to reverse.
- When you have acted, say what you did: which commands you ran, which files you changed, \
and what did not work.
- If you are unsure, say so, and check instead of guessing.
- Treat the user's files, secrets and time with respect.
";

/// The data directory and the paths inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HermesHome {
    root: PathBuf,
}

/// What [`HermesHome::ensure`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnsureReport {
    /// The root directory did not exist and was created.
    pub created_root: bool,
    /// Sub-directories that were created (names relative to the root).
    pub created_dirs: Vec<String>,
    /// `SOUL.md` was written with the default persona.
    pub seeded_soul: bool,
    /// Things the user should know, e.g. a root readable by others.
    pub warnings: Vec<String>,
}

impl HermesHome {
    /// A home at an explicit path (used by tests and `--home`-style callers).
    pub fn new(root: impl Into<PathBuf>) -> HermesHome {
        HermesHome { root: root.into() }
    }

    /// Resolves the home from the process environment (`HERMES_HOME`, then `~/.hermes`).
    pub fn resolve() -> Result<HermesHome, ConfigError> {
        let lookup = |name: &str| std::env::var(name).ok();
        let cwd = std::env::current_dir().ok();
        Self::resolve_with(&lookup, cwd.as_deref(), std::env::home_dir())
    }

    /// Resolves the home with an injected variable lookup; `cwd` anchors a relative
    /// `HERMES_HOME`, `fallback_home` is used when `HOME` is unset.
    pub fn resolve_with(
        lookup: &dyn Fn(&str) -> Option<String>,
        cwd: Option<&Path>,
        fallback_home: Option<PathBuf>,
    ) -> Result<HermesHome, ConfigError> {
        let user_home = lookup("HOME")
            .filter(|h| !h.trim().is_empty())
            .map(PathBuf::from)
            .or(fallback_home.filter(|p| !p.as_os_str().is_empty()));
        if let Some(raw) = lookup("HERMES_HOME").filter(|v| !v.trim().is_empty()) {
            let mut path = if raw == "~" || raw.starts_with("~/") {
                let Some(home) = &user_home else {
                    return Err(ConfigError::Home(format!(
                        "HERMES_HOME={raw} starts with `~` but no home directory is known (HOME is unset)"
                    )));
                };
                home.join(raw.trim_start_matches('~').trim_start_matches('/'))
            } else {
                PathBuf::from(&raw)
            };
            if path.is_relative() {
                match cwd {
                    Some(cwd) => path = cwd.join(path),
                    None => {
                        return Err(ConfigError::Home(format!(
                            "HERMES_HOME={raw} is relative and the current directory is unknown"
                        )));
                    }
                }
            }
            return Ok(HermesHome { root: path });
        }
        match user_home {
            Some(home) => Ok(HermesHome {
                root: home.join(".hermes"),
            }),
            None => Err(ConfigError::Home(
                "HERMES_HOME is not set and no home directory could be found (HOME is unset)"
                    .to_owned(),
            )),
        }
    }

    /// Creates the home (mode 0700), its sub-directories and a default `SOUL.md`.
    /// Existing directories and files are left as they are; see the module docs for how an
    /// existing root that others can read is handled.
    pub fn ensure(&self) -> Result<EnsureReport, ConfigError> {
        let mut report = EnsureReport::default();
        if self.root.exists() && !self.root.is_dir() {
            return Err(ConfigError::Home(format!(
                "{} exists but is not a directory",
                self.root.display()
            )));
        }
        if let Some(parent) = self.root.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| ConfigError::io("create directory", parent, e))?;
        }
        report.created_root = fsutil::create_dir(&self.root, fsutil::PRIVATE_DIR)
            .map_err(|e| ConfigError::io("create directory", &self.root, e))?;
        if !report.created_root {
            report.warnings = self.warnings();
        }
        for name in SUBDIRS {
            let dir = self.root.join(name);
            if fsutil::create_dir(&dir, fsutil::PRIVATE_DIR)
                .map_err(|e| ConfigError::io("create directory", &dir, e))?
            {
                report.created_dirs.push((*name).to_owned());
            }
        }
        let soul = self.soul_path();
        report.seeded_soul =
            fsutil::write_new(&soul, DEFAULT_SOUL.as_bytes(), fsutil::PRIVATE_FILE)
                .map_err(|e| ConfigError::io("create", &soul, e))?;
        Ok(report)
    }

    /// Things the user should know about the home as it is, without creating or changing
    /// anything: a root that group or others can access. [`ensure`](HermesHome::ensure)
    /// reports the same in [`EnsureReport::warnings`]; every command should print them.
    pub fn warnings(&self) -> Vec<String> {
        match fsutil::mode_of(&self.root) {
            Some(mode) if self.root.is_dir() && mode & 0o077 != 0 => vec![format!(
                "{} is accessible to other users (mode {:o}); it holds secrets and conversation history. \
                 Run `chmod 700 {}` unless the sharing is intended",
                self.root.display(),
                mode,
                self.root.display()
            )],
            _ => Vec::new(),
        }
    }

    /// The home directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `config.yaml`: all settings.
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.yaml")
    }
    /// `.env`: secrets and environment-only settings (mode 0600 when we create it).
    pub fn env_path(&self) -> PathBuf {
        self.root.join(".env")
    }
    /// `SOUL.md`: the persona at the top of every system prompt.
    pub fn soul_path(&self) -> PathBuf {
        self.root.join("SOUL.md")
    }
    /// `state.db`: sessions, messages, search index, usage.
    pub fn state_db_path(&self) -> PathBuf {
        self.root.join("state.db")
    }
    /// `memories/`: `MEMORY.md` and `USER.md`.
    pub fn memories_dir(&self) -> PathBuf {
        self.root.join("memories")
    }
    /// `skills/<category>/<name>/SKILL.md`.
    pub fn skills_dir(&self) -> PathBuf {
        self.root.join("skills")
    }
    /// `cron/jobs.json` and job output.
    pub fn cron_dir(&self) -> PathBuf {
        self.root.join("cron")
    }
    /// `logs/`.
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
    /// `hooks/<name>/HOOK.yaml`.
    pub fn hooks_dir(&self) -> PathBuf {
        self.root.join("hooks")
    }
    /// `sessions/`: optional JSON mirrors of sessions.
    pub fn sessions_dir(&self) -> PathBuf {
        self.root.join("sessions")
    }
    /// `workspace/`: the default working directory for tools.
    pub fn workspace_dir(&self) -> PathBuf {
        self.root.join("workspace")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn hermes_home_wins_over_home() {
        let l = lookup(&[("HERMES_HOME", "/data/h"), ("HOME", "/home/u")]);
        let h = HermesHome::resolve_with(&l, None, None).unwrap();
        assert_eq!(h.root(), Path::new("/data/h"));
    }

    #[test]
    fn empty_hermes_home_falls_back_to_dot_hermes() {
        let l = lookup(&[("HERMES_HOME", " "), ("HOME", "/home/u")]);
        let h = HermesHome::resolve_with(&l, None, None).unwrap();
        assert_eq!(h.root(), Path::new("/home/u/.hermes"));
        assert_eq!(h.config_path(), Path::new("/home/u/.hermes/config.yaml"));
        assert_eq!(h.env_path(), Path::new("/home/u/.hermes/.env"));
        assert_eq!(h.state_db_path(), Path::new("/home/u/.hermes/state.db"));
    }

    #[test]
    fn tilde_and_relative_paths_are_made_absolute() {
        let l = lookup(&[("HERMES_HOME", "~/alt"), ("HOME", "/home/u")]);
        let h = HermesHome::resolve_with(&l, None, None).unwrap();
        assert_eq!(h.root(), Path::new("/home/u/alt"));
        let l = lookup(&[("HERMES_HOME", "rel/dir")]);
        let h = HermesHome::resolve_with(&l, Some(Path::new("/work")), None).unwrap();
        assert_eq!(h.root(), Path::new("/work/rel/dir"));
    }

    #[test]
    fn no_home_at_all_says_to_set_hermes_home() {
        let l = lookup(&[]);
        let err = HermesHome::resolve_with(&l, None, None).unwrap_err();
        assert!(err.to_string().contains("set HERMES_HOME"), "{err}");
        let h = HermesHome::resolve_with(&l, None, Some(PathBuf::from("/home/pw"))).unwrap();
        assert_eq!(h.root(), Path::new("/home/pw/.hermes"));
    }

    #[test]
    fn default_soul_is_our_own_text() {
        assert!(DEFAULT_SOUL.contains("Hermes"));
        assert!(!DEFAULT_SOUL.contains("Nous Research"));
    }
}
