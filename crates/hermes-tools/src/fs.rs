//! Confinement of the file tools to the workspace.
//!
//! Every path a file tool touches goes through a [`FileAccess`]:
//!
//! - relative paths are relative to the workspace root; absolute paths must lie inside it;
//!   `~` and `~/…` expand to the home directory (so they only work when that is inside the
//!   workspace); `..` is resolved lexically and may not leave the root;
//! - every existing component is inspected: a symbolic link (file or directory, at any depth)
//!   whose target lies outside the workspace is refused; links that stay inside are followed
//!   by resolving them here, so the result is a path without any links;
//! - the deny list (the CLI passes `HERMES_HOME`) is refused even when it lies inside the
//!   workspace, and project secret files (`.env`, `.env.*` except `.env.example` /
//!   `.env.sample` / `.env.template`, `.envrc`) are never read;
//! - credential files (`.ssh/`, `.aws/`, `.netrc`, any `.hermes/`, …) are never read or
//!   written, and shell startup files (`.bashrc`, `.profile`, …) are never written, matched
//!   by name at any depth: see [`crate::protected`]. Both the path as given and the path
//!   with links resolved are checked, so neither a link to `.ssh/id_ed25519` nor a path
//!   through a linked `.ssh` gets through;
//! - git's control files are never written, because git runs commands named there (hooks,
//!   `core.fsmonitor`, `core.pager`, …) on the host as soon as the user, or a shell prompt
//!   with git integration, runs `git status` in that directory:
//!   - nothing below a component named `.git` (any case): hooks, `config`,
//!     `config.worktree`, `modules/*/…`, `worktrees/*/…`, `info/…`, `objects/…`; and no
//!     *file* named `.git`, whose `gitdir: <dir>` line makes any directory the repository;
//!   - no `.gitmodules` (submodule URLs and paths a later `git submodule update` follows)
//!     and no file named `commondir` (points a git directory at another's configuration);
//!   - bare repositories: git also treats any directory holding `HEAD`, `objects/` and
//!     `refs/` as a repository and reads its `config` (`core.worktree` can attach a work
//!     tree, so `core.fsmonitor` runs too), and the file tools cannot stop git from looking.
//!     They refuse to build one instead: nothing is written below a directory that holds
//!     `HEAD` plus `objects` or `refs` (an existing bare repository, or a git directory under
//!     another name); no file named `HEAD` is written next to `objects`, `refs` or `config`;
//!     no `config` or `config.worktree` next to `HEAD`. Whichever order the pieces come in,
//!     the write that would complete a repository, or give one a config, is refused; a few
//!     `stat` calls per write. Reading stays allowed. What remains: parallel writes racing
//!     the check (each sees the directory before the others land), and repositories that
//!     arrive by other means (the terminal tool, an unpacked archive). Git's own defence is
//!     `safe.bareRepository=explicit` in the user's git configuration, which we recommend;
//! - no symbolic links are created by the file tools, so none of the above can be reached
//!   through a link they made;
//! - the actual open happens with `openat2(root, rel, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//!   RESOLVE_NO_MAGICLINKS)`, so a link swapped in between the check and the open makes the
//!   open fail instead of escaping; without `openat2` (`ENOSYS`) the path is walked one
//!   component at a time with `O_NOFOLLOW`, which gives the same guarantee;
//! - writes create missing directories one component at a time (each opened with
//!   `O_NOFOLLOW`), write a temporary file in the target directory, `fsync` it and rename it
//!   over the target: a hard link to an outside file is replaced, never written through, and
//!   an existing file's permission bits are kept.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use hermes_core::ToolError;

use crate::protected;

/// Why a path could not be used. The messages name the path and the workspace root and say
/// what to do instead; they go back to the model verbatim.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("path is empty: give a file path relative to the workspace ({root})")]
    EmptyPath { root: String },
    #[error("invalid path '{path}': it contains a NUL byte")]
    InvalidPath { path: String },
    #[error(
        "Access denied: '{path}' is outside the workspace ({root}). File tools can only reach \
         files inside the workspace; use a path relative to it."
    )]
    Outside { path: String, root: String },
    #[error(
        "Access denied: '{path}' goes through the symbolic link '{link}', which points outside \
         the workspace ({root}). Only links that stay inside the workspace are followed."
    )]
    SymlinkEscape {
        path: String,
        link: String,
        root: String,
    },
    #[error(
        "Access denied: '{path}' is inside {denied}, which holds the agent's own configuration \
         and secrets and is not reachable with file tools (workspace: {root})."
    )]
    Denied {
        path: String,
        denied: String,
        root: String,
    },
    #[error(
        "Access denied: {path} is a secret-bearing environment file and cannot be read to \
         prevent credential leakage. If you need to check the file structure, read \
         .env.example instead."
    )]
    SecretFile { path: String },
    #[error(
        "Write denied: '{path}' is a git hook or git configuration file ({why}); git runs \
         commands configured there on the host, outside the sandbox. Ask the user to make this \
         change."
    )]
    GitProtected { path: String, why: &'static str },
    #[error(
        "Access denied: '{path}' is a credential file ({what}). File tools never read \
         credentials, so they cannot reach the model provider. If something in it is needed, \
         ask the user to read the file themselves and share only what is safe to share."
    )]
    CredentialFile { path: String, what: &'static str },
    #[error(
        "Write denied: '{path}' is a protected file ({what}); changing it could run code or \
         grant access outside the sandbox, or destroy credentials. Ask the user to make this \
         change themselves."
    )]
    WriteProtected { path: String, what: &'static str },
    #[error("File not found: {path}")]
    NotFound { path: String },
    #[error(
        "Cannot read '{path}': not a regular file (directory, FIFO, socket, or device). \
         Reading it could block indefinitely."
    )]
    NotRegularFile { path: String },
    #[error("'{path}' is a directory; give the path of a file inside it")]
    IsDirectory { path: String },
    #[error("'{path}' cannot be created: '{component}' exists and is not a directory")]
    NotADirectory { path: String, component: String },
    #[error(
        "'{path}' changed while it was being opened (a symbolic link appeared in the path); \
         refusing to follow it. Check the path and retry."
    )]
    Raced { path: String },
    #[error("'{path}': too many levels of symbolic links")]
    TooManyLinks { path: String },
    #[error("'{path}' is too large ({size} bytes; the limit for this operation is {limit} bytes)")]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("'{path}': {op} failed: {source}")]
    Io {
        path: String,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("the workspace {root} cannot be used: {source}")]
    Workspace {
        root: String,
        #[source]
        source: io::Error,
    },
}

/// A path that passed the confinement checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The path as the caller gave it (used in messages).
    pub input: String,
    /// Absolute path with every symbolic link resolved; always inside the workspace.
    pub path: PathBuf,
    /// `path` relative to the workspace root (empty for the root itself).
    pub rel: PathBuf,
    /// Whether the path existed when it was resolved.
    pub exists: bool,
}

impl Resolved {
    /// The workspace-relative path for display (`.` for the root).
    pub fn display_rel(&self) -> String {
        if self.rel.as_os_str().is_empty() {
            ".".to_string()
        } else {
            self.rel.to_string_lossy().into_owned()
        }
    }
}

/// What [`FileAccess::atomic_write`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Whether missing parent directories were created.
    pub dirs_created: bool,
    /// Whether an existing file was replaced.
    pub replaced: bool,
}

/// One directory entry from [`FileAccess::list_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntryInfo {
    pub name: OsString,
    pub is_dir: bool,
}

/// The whole content of a file read with [`FileAccess::read_all`].
#[derive(Debug, Clone)]
pub struct FileBytes {
    pub bytes: Vec<u8>,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
}

/// The gate between the file tools and the filesystem: the workspace root and the deny list.
#[derive(Debug)]
pub struct FileAccess {
    /// Canonical workspace root.
    root: PathBuf,
    /// The root as it was given (absolute, lexically normalised), so absolute paths spelled
    /// through a symlinked parent of the workspace are recognised.
    given_root: PathBuf,
    /// Denied locations, lexically normalised and (when they exist) canonical.
    denied: Vec<PathBuf>,
    home: Option<PathBuf>,
    openat2_missing: AtomicBool,
}

const MAX_LINKS: usize = 40;
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl FileAccess {
    /// Confines file tools to `workspace` (which must exist and be a directory). `denied`
    /// lists locations that stay unreachable even inside the workspace, e.g. `HERMES_HOME`.
    /// A denied location that contains the workspace itself is ignored: everything outside
    /// the workspace is unreachable anyway.
    pub fn new(
        workspace: impl AsRef<Path>,
        denied: impl IntoIterator<Item = PathBuf>,
    ) -> Result<FileAccess, FsError> {
        let workspace = workspace.as_ref();
        let shown = workspace.display().to_string();
        let given_root = normalize(&absolute(workspace).map_err(|source| FsError::Workspace {
            root: shown.clone(),
            source,
        })?);
        let root = std::fs::canonicalize(workspace).map_err(|source| FsError::Workspace {
            root: shown.clone(),
            source,
        })?;
        if !root.is_dir() {
            return Err(FsError::Workspace {
                root: shown,
                source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
            });
        }
        let mut list = Vec::new();
        for d in denied {
            let Ok(abs) = absolute(&d) else { continue };
            let lexical = normalize(&abs);
            let canonical = std::fs::canonicalize(&lexical).ok();
            for p in [Some(lexical), canonical].into_iter().flatten() {
                if root.starts_with(&p) || given_root.starts_with(&p) {
                    continue;
                }
                if !list.contains(&p) {
                    list.push(p);
                }
            }
        }
        Ok(FileAccess {
            root,
            given_root,
            denied: list,
            home: std::env::home_dir(),
            openat2_missing: AtomicBool::new(false),
        })
    }

    /// Sets the directory `~` expands to (default: the user's home directory).
    pub fn with_home(mut self, home: Option<PathBuf>) -> FileAccess {
        self.home = home.map(|h| normalize(&h));
        self
    }

    /// The canonical workspace root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn root_str(&self) -> String {
        self.root.display().to_string()
    }

    /// The denied locations (absolute; lexical and canonical spellings).
    pub fn denied_locations(&self) -> &[PathBuf] {
        &self.denied
    }

    /// Whether an absolute path (inside the root) lies in a denied location.
    pub fn is_denied(&self, path: &Path) -> bool {
        self.denied.iter().any(|d| path.starts_with(d))
    }

    /// Whether a file name is a project secret file that file tools never read: `.env`,
    /// `.envrc` and `.env.<anything>` except the documented templates.
    pub fn is_secret_name(name: &OsStr) -> bool {
        let Some(s) = name.to_str() else { return false };
        let s = s.to_ascii_lowercase();
        if s == ".env" || s == ".envrc" {
            return true;
        }
        match s.strip_prefix(".env.") {
            Some(rest) => !matches!(rest, "example" | "sample" | "template"),
            None => false,
        }
    }

    /// Resolves `input` and applies the confinement and deny-list rules.
    pub fn resolve(&self, input: &str) -> Result<Resolved, FsError> {
        self.resolve_both(input).map(|(r, _)| r)
    }

    /// [`resolve`](Self::resolve), also returning the path relative to the root as spelled
    /// (lexically normalised, links not resolved): the name-based rules check both.
    fn resolve_both(&self, input: &str) -> Result<(Resolved, PathBuf), FsError> {
        if input.trim().is_empty() {
            return Err(FsError::EmptyPath {
                root: self.root_str(),
            });
        }
        if input.contains('\0') {
            return Err(FsError::InvalidPath {
                path: input.to_string(),
            });
        }
        let outside = || FsError::Outside {
            path: input.to_string(),
            root: self.root_str(),
        };
        let expanded: PathBuf = if input == "~" {
            self.home.clone().ok_or_else(outside)?
        } else if let Some(rest) = input.strip_prefix("~/") {
            self.home.clone().ok_or_else(outside)?.join(rest)
        } else if input.starts_with('~') {
            // `~user` forms name another user's home: never inside the workspace.
            return Err(outside());
        } else {
            PathBuf::from(input)
        };
        let abs = normalize(&if expanded.is_absolute() {
            expanded
        } else {
            self.root.join(expanded)
        });
        let rel = if let Ok(r) = abs.strip_prefix(&self.root) {
            r.to_path_buf()
        } else if let Ok(r) = abs.strip_prefix(&self.given_root) {
            r.to_path_buf()
        } else {
            return Err(outside());
        };
        let lexical = rel.clone();
        let (path, exists) = self.walk(input, &rel)?;
        if let Some(d) = self.denied.iter().find(|d| path.starts_with(d)) {
            return Err(FsError::Denied {
                path: input.to_string(),
                denied: d.display().to_string(),
                root: self.root_str(),
            });
        }
        let rel = path
            .strip_prefix(&self.root)
            .map_err(|_| outside())?
            .to_path_buf();
        Ok((
            Resolved {
                input: input.to_string(),
                path,
                rel,
                exists,
            },
            lexical,
        ))
    }

    /// [`resolve`](Self::resolve) for reading: project secret files and credential files
    /// are refused too.
    pub fn resolve_read(&self, input: &str) -> Result<Resolved, FsError> {
        let (r, lexical) = self.resolve_both(input)?;
        let lexical_secret = Path::new(input)
            .file_name()
            .is_some_and(Self::is_secret_name);
        let real_secret = r.path.file_name().is_some_and(Self::is_secret_name);
        if lexical_secret || real_secret {
            return Err(FsError::SecretFile {
                path: input.to_string(),
            });
        }
        if let Some(what) =
            protected::credential(&lexical).or_else(|| protected::credential(&r.rel))
        {
            return Err(FsError::CredentialFile {
                path: input.to_string(),
                what,
            });
        }
        Ok(r)
    }

    /// Whether a path below the root (as returned by a directory walk, links not followed)
    /// may be read: not deny-listed, not a project secret file, not a credential file.
    pub fn is_readable_under_root(&self, path: &Path) -> bool {
        let Ok(rel) = path.strip_prefix(&self.root) else {
            return false;
        };
        !self.is_denied(path)
            && !path.file_name().is_some_and(Self::is_secret_name)
            && protected::credential(rel).is_none()
    }

    /// [`resolve`](Self::resolve) for writing: refuses the workspace root itself, git's
    /// control files, credential files and shell startup files (see the module
    /// documentation).
    pub fn resolve_write(&self, input: &str) -> Result<Resolved, FsError> {
        let (r, lexical) = self.resolve_both(input)?;
        if r.rel.as_os_str().is_empty() {
            return Err(FsError::IsDirectory {
                path: input.to_string(),
            });
        }
        let git = |why| FsError::GitProtected {
            path: input.to_string(),
            why,
        };
        if let Some(why) =
            protected::git_control(&lexical).or_else(|| protected::git_control(&r.rel))
        {
            return Err(git(why));
        }
        if let Some(what) =
            protected::write_protected(&lexical).or_else(|| protected::write_protected(&r.rel))
        {
            return Err(FsError::WriteProtected {
                path: input.to_string(),
                what,
            });
        }
        if let Some(why) = self.git_repository_conflict(&r.rel) {
            return Err(git(why));
        }
        Ok(r)
    }

    /// The filesystem half of the git rules: writing `rel` must not touch a directory git
    /// would take for a repository, nor complete one (see the module documentation).
    fn git_repository_conflict(&self, rel: &Path) -> Option<&'static str> {
        let present = |dir: &Path, name: &str| std::fs::symlink_metadata(dir.join(name)).is_ok();
        let has_head = |dir: &Path| {
            std::fs::symlink_metadata(dir.join("HEAD")).is_ok_and(|m| !m.file_type().is_dir())
        };
        let parent = rel.parent().unwrap_or(Path::new(""));
        let parent_abs = self.root.join(parent);
        let name = rel.file_name().and_then(OsStr::to_str).unwrap_or("");
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("HEAD")
            && ["objects", "refs", "config"]
                .iter()
                .any(|n| present(&parent_abs, n))
        {
            return Some(
                "a HEAD file next to objects, refs or config is how git recognises a repository",
            );
        }
        if (is("config") || is("config.worktree")) && has_head(&parent_abs) {
            return Some("a config file next to HEAD is a git repository's configuration");
        }
        let mut dir = Some(parent);
        while let Some(d) = dir {
            let abs = self.root.join(d);
            if has_head(&abs) && (present(&abs, "objects") || present(&abs, "refs")) {
                return Some(
                    "inside a directory git treats as a repository (HEAD with objects or refs)",
                );
            }
            dir = d.parent();
        }
        None
    }

    /// For edits, which read and then write: both sets of rules.
    pub fn resolve_edit(&self, input: &str) -> Result<Resolved, FsError> {
        self.resolve_read(input)?;
        self.resolve_write(input)
    }

    /// Kernel-style resolution of `rel` below the root, allowing a missing tail. Symbolic
    /// links inside the workspace must resolve to somewhere inside it.
    fn walk(&self, input: &str, rel: &Path) -> Result<(PathBuf, bool), FsError> {
        enum Step {
            Name(OsString),
            Parent,
            Check(PathBuf),
        }
        fn push_components(stack: &mut Vec<Step>, p: &Path) {
            let steps: Vec<Step> = p
                .components()
                .filter_map(|c| match c {
                    Component::Normal(n) => Some(Step::Name(n.to_os_string())),
                    Component::ParentDir => Some(Step::Parent),
                    _ => None,
                })
                .collect();
            stack.extend(steps.into_iter().rev());
        }
        let mut cur = self.root.clone();
        let mut exists = true;
        let mut stack = Vec::new();
        push_components(&mut stack, rel);
        let mut links = 0usize;
        while let Some(step) = stack.pop() {
            match step {
                Step::Parent => {
                    cur.pop();
                }
                Step::Check(link) => {
                    if !cur.starts_with(&self.root) {
                        return Err(FsError::SymlinkEscape {
                            path: input.to_string(),
                            link: link
                                .strip_prefix(&self.root)
                                .unwrap_or(&link)
                                .display()
                                .to_string(),
                            root: self.root_str(),
                        });
                    }
                }
                Step::Name(name) => {
                    let next = cur.join(&name);
                    if !exists {
                        cur = next;
                        continue;
                    }
                    match std::fs::symlink_metadata(&next) {
                        Ok(md) if md.file_type().is_symlink() => {
                            links += 1;
                            if links > MAX_LINKS {
                                return Err(FsError::TooManyLinks {
                                    path: input.to_string(),
                                });
                            }
                            let target =
                                std::fs::read_link(&next).map_err(|source| FsError::Io {
                                    path: input.to_string(),
                                    op: "reading a symbolic link",
                                    source,
                                })?;
                            if next.starts_with(&self.root) {
                                stack.push(Step::Check(next.clone()));
                            }
                            if target.is_absolute() {
                                cur = PathBuf::from("/");
                            }
                            push_components(&mut stack, &target);
                        }
                        Ok(_) => cur = next,
                        Err(e)
                            if e.kind() == io::ErrorKind::NotFound
                                || e.raw_os_error() == Some(libc::ENOTDIR) =>
                        {
                            exists = false;
                            cur = next;
                        }
                        Err(source) => {
                            return Err(FsError::Io {
                                path: input.to_string(),
                                op: "inspecting the path",
                                source,
                            });
                        }
                    }
                }
            }
        }
        if !cur.starts_with(&self.root) {
            return Err(FsError::Outside {
                path: input.to_string(),
                root: self.root_str(),
            });
        }
        Ok((cur, exists))
    }

    /// Opens a regular file for reading. Directories, FIFOs, sockets and devices are refused
    /// without blocking (the open uses `O_NONBLOCK`, the type is checked on the descriptor).
    pub fn open_read(&self, r: &Resolved) -> Result<File, FsError> {
        self.open_read_rel(&r.rel, &r.input)
    }

    /// Like [`open_read`](Self::open_read) for an absolute path already known to lie under the
    /// root (e.g. from a directory walk started at a resolved path).
    pub fn open_read_under_root(&self, path: &Path) -> Result<File, FsError> {
        let shown = path.display().to_string();
        let rel = path
            .strip_prefix(&self.root)
            .map_err(|_| FsError::Outside {
                path: shown.clone(),
                root: self.root_str(),
            })?;
        if let Some(d) = self.denied.iter().find(|d| path.starts_with(d)) {
            return Err(FsError::Denied {
                path: shown,
                denied: d.display().to_string(),
                root: self.root_str(),
            });
        }
        if let Some(what) = protected::credential(rel) {
            return Err(FsError::CredentialFile { path: shown, what });
        }
        self.open_read_rel(rel, &shown)
    }

    fn open_read_rel(&self, rel: &Path, shown: &str) -> Result<File, FsError> {
        let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
        let fd = self
            .open_beneath(rel, flags, 0)
            .map_err(|e| open_error(e, shown))?;
        let file = File::from(fd);
        let md = file.metadata().map_err(|source| FsError::Io {
            path: shown.to_string(),
            op: "inspecting the file",
            source,
        })?;
        if !md.file_type().is_file() {
            return Err(FsError::NotRegularFile {
                path: shown.to_string(),
            });
        }
        Ok(file)
    }

    /// Reads a whole regular file, refusing files larger than `limit` bytes.
    pub fn read_all(&self, r: &Resolved, limit: u64) -> Result<FileBytes, FsError> {
        let file = self.open_read(r)?;
        let md = file.metadata().map_err(|source| FsError::Io {
            path: r.input.clone(),
            op: "inspecting the file",
            source,
        })?;
        if md.len() > limit {
            return Err(FsError::TooLarge {
                path: r.input.clone(),
                size: md.len(),
                limit,
            });
        }
        let mut bytes = Vec::with_capacity(usize::try_from(md.len()).unwrap_or(0));
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| FsError::Io {
                path: r.input.clone(),
                op: "reading",
                source,
            })?;
        if bytes.len() as u64 > limit {
            return Err(FsError::TooLarge {
                path: r.input.clone(),
                size: bytes.len() as u64,
                limit,
            });
        }
        Ok(FileBytes {
            bytes,
            mode: md.permissions().mode() & 0o7777,
        })
    }

    /// Lists a directory (sorted by name). Entries in denied locations are left out.
    pub fn list_dir(&self, r: &Resolved) -> Result<Vec<DirEntryInfo>, FsError> {
        let fd = self
            .open_beneath(
                &r.rel,
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
                0,
            )
            .map_err(|e| open_error(e, &r.input))?;
        // Reading through the descriptor keeps the listing on the directory that was checked.
        let via_fd = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        let iter = std::fs::read_dir(&via_fd)
            .or_else(|_| std::fs::read_dir(&r.path))
            .map_err(|source| FsError::Io {
                path: r.input.clone(),
                op: "listing the directory",
                source,
            })?;
        let mut out = Vec::new();
        for entry in iter.flatten() {
            let name = entry.file_name();
            if self.is_denied(&r.path.join(&name)) {
                continue;
            }
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            out.push(DirEntryInfo { name, is_dir });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        drop(fd);
        Ok(out)
    }

    /// Replaces the file at `r` with `bytes`: missing parent directories are created, the
    /// data goes to a temporary file in the same directory, is synced and renamed over the
    /// target. An existing file keeps its permission bits; a new file gets `new_mode` (or the
    /// default 0666 minus umask). The temporary file is 0600 until the data is written.
    pub fn atomic_write(
        &self,
        r: &Resolved,
        bytes: &[u8],
        new_mode: Option<u32>,
    ) -> Result<WriteOutcome, FsError> {
        let shown = r.input.as_str();
        let io_err = |op: &'static str| {
            move |source: io::Error| FsError::Io {
                path: shown.to_string(),
                op,
                source,
            }
        };
        let (parent, name) = split_rel(&r.rel).ok_or_else(|| FsError::IsDirectory {
            path: shown.to_string(),
        })?;
        let (dir, dirs_created) = self.open_dir_creating(parent, shown)?;
        let cname = cstring(name.as_os_str()).map_err(io_err("writing"))?;
        let existing = match fstatat_nofollow(&dir, &cname) {
            Ok(st) => {
                let kind = st.st_mode & libc::S_IFMT;
                if kind == libc::S_IFDIR {
                    return Err(FsError::IsDirectory {
                        path: shown.to_string(),
                    });
                }
                if kind != libc::S_IFREG && kind != libc::S_IFLNK {
                    return Err(FsError::NotRegularFile {
                        path: shown.to_string(),
                    });
                }
                Some(if kind == libc::S_IFREG {
                    Some(st.st_mode & 0o7777)
                } else {
                    None
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err("inspecting the target")(e)),
        };
        let (tmp_name, tmp_fd) = create_temp(&dir).map_err(io_err("creating a temporary file"))?;
        let result = (|| -> io::Result<()> {
            // The temporary file is private (0600) while the data goes in; it gets its final
            // mode only once written, so replacing a private file never exposes the new
            // content under a wider mode, even briefly.
            let mut f = File::from(tmp_fd);
            f.write_all(bytes)?;
            let mode = match (existing, new_mode) {
                (Some(Some(mode)), _) => mode,
                (_, Some(mode)) => mode & 0o7777,
                _ => 0o666 & !current_umask(),
            };
            f.set_permissions(std::fs::Permissions::from_mode(mode))?;
            f.sync_all()?;
            renameat(&dir, &tmp_name, &dir, &cname)
        })();
        if let Err(e) = result {
            let _ = unlinkat(&dir, &tmp_name);
            return Err(io_err("writing")(e));
        }
        let _ = File::from(dir).sync_all();
        Ok(WriteOutcome {
            dirs_created,
            replaced: existing.is_some(),
        })
    }

    /// Removes the file (or symbolic link) at `r`; directories are refused.
    pub fn remove_file(&self, r: &Resolved) -> Result<(), FsError> {
        let shown = r.input.as_str();
        let (parent, name) = split_rel(&r.rel).ok_or_else(|| FsError::IsDirectory {
            path: shown.to_string(),
        })?;
        let dir = self
            .open_beneath(
                parent,
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
                0,
            )
            .map_err(|e| open_error(e, shown))?;
        let cname = cstring(name.as_os_str()).map_err(|source| FsError::Io {
            path: shown.to_string(),
            op: "deleting",
            source,
        })?;
        match fstatat_nofollow(&dir, &cname) {
            Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => {
                return Err(FsError::IsDirectory {
                    path: shown.to_string(),
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(FsError::NotFound {
                    path: shown.to_string(),
                });
            }
            Err(source) => {
                return Err(FsError::Io {
                    path: shown.to_string(),
                    op: "inspecting the file",
                    source,
                });
            }
        }
        unlinkat(&dir, &cname).map_err(|source| FsError::Io {
            path: shown.to_string(),
            op: "deleting",
            source,
        })?;
        let _ = File::from(dir).sync_all();
        Ok(())
    }

    fn open_root(&self) -> io::Result<OwnedFd> {
        let c = cstring(self.root.as_os_str())?;
        sys_openat(
            libc::AT_FDCWD,
            &c,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0,
        )
    }

    /// Opens `rel` (a path without links or `..`) below the root so that no symbolic link
    /// is followed and nothing outside the root is reached.
    fn open_beneath(&self, rel: &Path, flags: libc::c_int, mode: u32) -> io::Result<OwnedFd> {
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "path is not a plain relative path",
            ));
        }
        let root = self.open_root()?;
        if !self.openat2_missing.load(Ordering::Relaxed) {
            let c = if rel.as_os_str().is_empty() {
                cstring(OsStr::new("."))?
            } else {
                cstring(rel.as_os_str())?
            };
            let resolve =
                libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
            match sys_openat2(root.as_raw_fd(), &c, flags, mode, resolve) {
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                    self.openat2_missing.store(true, Ordering::Relaxed);
                }
                // Some seccomp profiles answer EPERM for unknown syscalls; the component walk
                // below is just as strict.
                Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
                other => return other,
            }
        }
        walk_open(root, rel, flags, mode)
    }

    /// Opens the directory `rel` below the root, creating missing components one at a time.
    fn open_dir_creating(&self, rel: &Path, shown: &str) -> Result<(OwnedFd, bool), FsError> {
        let io_err = |op: &'static str| {
            move |source: io::Error| FsError::Io {
                path: shown.to_string(),
                op,
                source,
            }
        };
        let mut dir = self.open_root().map_err(io_err("opening the workspace"))?;
        let mut created = false;
        let mut so_far = PathBuf::new();
        for comp in rel.components() {
            let Component::Normal(name) = comp else {
                return Err(FsError::Outside {
                    path: shown.to_string(),
                    root: self.root_str(),
                });
            };
            so_far.push(name);
            let c = cstring(name).map_err(io_err("creating directories"))?;
            let dir_flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
            let next = match sys_openat(dir.as_raw_fd(), &c, dir_flags, 0) {
                Ok(fd) => fd,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    match mkdirat(&dir, &c) {
                        Ok(()) => created = true,
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(io_err("creating directories")(e)),
                    }
                    sys_openat(dir.as_raw_fd(), &c, dir_flags, 0)
                        .map_err(|e| self.dir_open_error(e, &dir, &c, shown, &so_far))?
                }
                Err(e) => return Err(self.dir_open_error(e, &dir, &c, shown, &so_far)),
            };
            dir = next;
        }
        Ok((dir, created))
    }

    fn dir_open_error(
        &self,
        e: io::Error,
        parent: &OwnedFd,
        name: &CString,
        shown: &str,
        so_far: &Path,
    ) -> FsError {
        let is_link = fstatat_nofollow(parent, name)
            .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFLNK);
        if is_link || e.raw_os_error() == Some(libc::ELOOP) {
            return FsError::Raced {
                path: shown.to_string(),
            };
        }
        if e.raw_os_error() == Some(libc::ENOTDIR) {
            return FsError::NotADirectory {
                path: shown.to_string(),
                component: so_far.display().to_string(),
            };
        }
        FsError::Io {
            path: shown.to_string(),
            op: "opening a parent directory",
            source: e,
        }
    }
}

/// Runs blocking file work off the async runtime.
pub(crate) async fn run_blocking<F>(f: F) -> Result<String, ToolError>
where
    F: FnOnce() -> Result<String, ToolError> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(ToolError::model(
            serde_json::json!({ "error": format!("the file operation did not finish: {e}") })
                .to_string(),
        )),
    }
}

fn split_rel(rel: &Path) -> Option<(&Path, PathBuf)> {
    let name = rel.file_name()?;
    Some((rel.parent().unwrap_or(Path::new("")), PathBuf::from(name)))
}

fn open_error(e: io::Error, shown: &str) -> FsError {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => FsError::NotFound {
            path: shown.to_string(),
        },
        Some(libc::ELOOP) | Some(libc::EXDEV) => FsError::Raced {
            path: shown.to_string(),
        },
        _ => FsError::Io {
            path: shown.to_string(),
            op: "opening",
            source: e,
        },
    }
}

/// Makes a path absolute against the current directory without touching the filesystem.
fn absolute(p: &Path) -> io::Result<PathBuf> {
    if p.is_absolute() {
        Ok(p.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(p))
    }
}

/// Lexical normalisation: drops `.`, resolves `..` against the preceding component.
pub(crate) fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => out.push(c.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
        }
    }
    out
}

fn cstring(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// `struct open_how` from `linux/openat2.h`.
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

fn sys_openat2(
    dirfd: RawFd,
    path: &CString,
    flags: libc::c_int,
    mode: u32,
    resolve: u64,
) -> io::Result<OwnedFd> {
    let how = OpenHow {
        flags: flags as u64,
        mode: u64::from(mode),
        resolve,
    };
    // SAFETY: `path` is a valid NUL-terminated string and `how` a valid `open_how` of the
    // size passed; both outlive the call. The kernel returns a new descriptor or -1.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = RawFd::try_from(ret)
        .map_err(|_| io::Error::other("openat2 returned an out-of-range descriptor"))?;
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn sys_openat(dirfd: RawFd, path: &CString, flags: libc::c_int, mode: u32) -> io::Result<OwnedFd> {
    // SAFETY: `path` is a valid NUL-terminated string that outlives the call.
    let fd = unsafe { libc::openat(dirfd, path.as_ptr(), flags, mode as libc::c_uint) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Component-by-component open with `O_NOFOLLOW`: used where `openat2` is unavailable.
fn walk_open(root: OwnedFd, rel: &Path, flags: libc::c_int, mode: u32) -> io::Result<OwnedFd> {
    let names: Vec<&OsStr> = rel.components().map(|c| c.as_os_str()).collect();
    let Some((last, dirs)) = names.split_last() else {
        let dot = cstring(OsStr::new("."))?;
        return sys_openat(root.as_raw_fd(), &dot, flags, mode);
    };
    let mut dir = root;
    for name in dirs {
        let c = cstring(name)?;
        dir = sys_openat(
            dir.as_raw_fd(),
            &c,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0,
        )?;
    }
    let c = cstring(last)?;
    sys_openat(dir.as_raw_fd(), &c, flags | libc::O_NOFOLLOW, mode)
}

fn fstatat_nofollow(dir: &OwnedFd, name: &CString) -> io::Result<libc::stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `name` is NUL-terminated; `st` points to writable memory of the right size.
    let ret = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstatat succeeded, so it filled `st`.
    Ok(unsafe { st.assume_init() })
}

fn mkdirat(dir: &OwnedFd, name: &CString) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated and outlives the call.
    let ret = unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o777) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn renameat(from_dir: &OwnedFd, from: &CString, to_dir: &OwnedFd, to: &CString) -> io::Result<()> {
    // SAFETY: both names are NUL-terminated and outlive the call.
    let ret = unsafe {
        libc::renameat(
            from_dir.as_raw_fd(),
            from.as_ptr(),
            to_dir.as_raw_fd(),
            to.as_ptr(),
        )
    };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn unlinkat(dir: &OwnedFd, name: &CString) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated and outlives the call.
    let ret = unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The process umask, read from `/proc/self/status` (calling `umask(2)` to read it would
/// change it for every thread for a moment); `022` when that is unavailable.
fn current_umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
        & 0o777
}

/// Creates a new, empty, private (0600) temporary file in `dir` (never following or reusing
/// an entry).
fn create_temp(dir: &OwnedFd) -> io::Result<(CString, OwnedFd)> {
    let pid = std::process::id();
    for _ in 0..100 {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = cstring(OsStr::new(&format!(".hermes-tmp-{pid}-{n}-{nanos:x}")))?;
        match sys_openat(
            dir.as_raw_fd(),
            &name,
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0o600,
        ) {
            Ok(fd) => return Ok((name, fd)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "could not find a free temporary file name",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(dir: &Path) -> FileAccess {
        FileAccess::new(dir, Vec::new()).unwrap().with_home(None)
    }

    #[test]
    fn normalize_resolves_dots_lexically() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/../x")), PathBuf::from("/x"));
        assert_eq!(normalize(Path::new("a/../../b")), PathBuf::from("b"));
    }

    #[test]
    fn secret_names() {
        for n in [".env", ".envrc", ".env.local", ".env.production", ".ENV"] {
            assert!(FileAccess::is_secret_name(OsStr::new(n)), "{n}");
        }
        for n in [
            ".env.example",
            ".env.sample",
            ".env.template",
            "env",
            "x.env",
            ".environment",
        ] {
            assert!(!FileAccess::is_secret_name(OsStr::new(n)), "{n}");
        }
    }

    fn git_refused(a: &FileAccess, p: &str) -> bool {
        matches!(a.resolve_write(p), Err(FsError::GitProtected { .. }))
    }

    #[test]
    fn git_protection() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join(".git/modules/sub")).unwrap();
        std::fs::write(t.path().join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        let a = access(t.path());
        for p in [
            ".git/hooks/pre-commit",
            ".git/config",
            ".git/modules/sub/hooks/post-checkout",
            ".git/modules/sub/config",
            ".git/config.worktree",
            ".git/worktrees/w/config.worktree",
            ".git/worktrees/w/commondir",
            ".git/info/exclude",
            ".git/HEAD",
            ".GIT/hooks/x",
            ".Git/config",
            "sub/.git",
            "sub/.GIT",
            "sub/.git/hooks/pre-push",
            ".gitmodules",
            "lib/commondir",
        ] {
            assert!(git_refused(&a, p), "{p} should be refused");
        }
        // Reading git's files stays allowed.
        assert!(a.resolve_read(".git/HEAD").is_ok());
        for p in [
            "config",
            ".gitignore",
            "src/hooks/use_thing.ts",
            "git/config",
            "HEAD",
        ] {
            assert!(a.resolve_write(p).is_ok(), "{p} should be writable");
        }
        // Through a link to `.git` (resolved path) and through a link named `.git` (as given).
        std::os::unix::fs::symlink(".git", t.path().join("g")).unwrap();
        assert!(git_refused(&a, "g/hooks/pre-commit"));
        std::fs::create_dir_all(t.path().join("w/real")).unwrap();
        std::os::unix::fs::symlink("real", t.path().join("w/.git")).unwrap();
        assert!(git_refused(&a, "w/.git/config"));
    }

    #[test]
    fn a_bare_repository_cannot_be_assembled_or_written_into() {
        let t = tempfile::tempdir().unwrap();
        let a = access(t.path());
        let write = |p: &str| -> Result<(), FsError> {
            let r = a.resolve_write(p)?;
            a.atomic_write(&r, b"x\n", None).map(|_| ())
        };
        // HEAD first: one of objects/refs may follow, then nothing more below it.
        write("e1/HEAD").unwrap();
        assert!(matches!(
            write("e1/config"),
            Err(FsError::GitProtected { .. })
        ));
        write("e1/objects/x").unwrap();
        assert!(matches!(
            write("e1/refs/heads/main"),
            Err(FsError::GitProtected { .. })
        ));
        assert!(matches!(
            write("e1/hooks/post-checkout"),
            Err(FsError::GitProtected { .. })
        ));
        // HEAD last (any case): refused next to objects, refs or config.
        write("e2/objects/x").unwrap();
        write("e2/refs/heads/main").unwrap();
        write("e2/config").unwrap();
        assert!(matches!(
            write("e2/HEAD"),
            Err(FsError::GitProtected { .. })
        ));
        assert!(matches!(
            write("e2/head"),
            Err(FsError::GitProtected { .. })
        ));
        write("e3/config").unwrap();
        assert!(matches!(
            write("e3/HEAD"),
            Err(FsError::GitProtected { .. })
        ));
        // An existing bare repository (made by other means) is not written into.
        for d in ["bare/objects", "bare/refs", "bare/hooks"] {
            std::fs::create_dir_all(t.path().join(d)).unwrap();
        }
        std::fs::write(t.path().join("bare/HEAD"), "ref: refs/heads/main\n").unwrap();
        for p in ["bare/config", "bare/hooks/post-update", "bare/description"] {
            assert!(git_refused(&a, p), "{p} should be refused");
        }
        // Ordinary projects are untouched by the rule.
        write("proj/refs/notes.md").unwrap();
        write("proj/config/app.yaml").unwrap();
    }

    #[test]
    fn resolve_relative_absolute_and_dotdot() {
        let t = tempfile::tempdir().unwrap();
        let a = access(t.path());
        let root = a.root().to_path_buf();
        let r = a.resolve("x/../y.txt").unwrap();
        assert_eq!(r.path, root.join("y.txt"));
        assert!(!r.exists);
        let abs = root.join("z").display().to_string();
        assert_eq!(a.resolve(&abs).unwrap().rel, PathBuf::from("z"));
        assert!(matches!(a.resolve("../x"), Err(FsError::Outside { .. })));
        assert!(matches!(
            a.resolve("/etc/passwd"),
            Err(FsError::Outside { .. })
        ));
        assert!(matches!(a.resolve("~/x"), Err(FsError::Outside { .. })));
        assert!(matches!(a.resolve("~root/x"), Err(FsError::Outside { .. })));
        assert!(matches!(a.resolve(""), Err(FsError::EmptyPath { .. })));
        assert_eq!(a.resolve(".").unwrap().display_rel(), ".");
    }

    #[test]
    fn home_expansion_inside_workspace() {
        let t = tempfile::tempdir().unwrap();
        let a = FileAccess::new(t.path(), Vec::new())
            .unwrap()
            .with_home(Some(t.path().to_path_buf()));
        assert_eq!(a.resolve("~/n.txt").unwrap().rel, PathBuf::from("n.txt"));
    }

    #[test]
    fn symlinks_inside_are_resolved_outside_refused() {
        let t = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("real")).unwrap();
        std::fs::write(t.path().join("real/f"), "x").unwrap();
        std::os::unix::fs::symlink("real", t.path().join("alias")).unwrap();
        std::os::unix::fs::symlink(out.path(), t.path().join("esc")).unwrap();
        std::os::unix::fs::symlink("../../../../../../../../etc", t.path().join("up")).unwrap();
        let a = access(t.path());
        let r = a.resolve("alias/f").unwrap();
        assert_eq!(r.rel, PathBuf::from("real/f"));
        assert!(r.exists);
        assert!(matches!(
            a.resolve("esc/f"),
            Err(FsError::SymlinkEscape { .. })
        ));
        assert!(matches!(
            a.resolve("up/passwd"),
            Err(FsError::SymlinkEscape { .. })
        ));
        // A link loop is reported, not followed forever.
        std::os::unix::fs::symlink("loop2", t.path().join("loop1")).unwrap();
        std::os::unix::fs::symlink("loop1", t.path().join("loop2")).unwrap();
        assert!(matches!(
            a.resolve("loop1"),
            Err(FsError::TooManyLinks { .. })
        ));
    }

    #[test]
    fn denied_inside_workspace_and_denied_ancestor_ignored() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("home")).unwrap();
        let a = FileAccess::new(t.path(), vec![t.path().join("home")]).unwrap();
        assert!(matches!(
            a.resolve("home/.env"),
            Err(FsError::Denied { .. })
        ));
        assert!(a.resolve("other").is_ok());
        // The workspace inside the denied directory: the entry is ignored.
        let b = FileAccess::new(t.path().join("home"), vec![t.path().to_path_buf()]).unwrap();
        assert!(b.resolve("x").is_ok());
    }

    #[test]
    fn atomic_write_creates_parents_and_keeps_mode() {
        let t = tempfile::tempdir().unwrap();
        let a = access(t.path());
        let r = a.resolve_write("d/e/f.txt").unwrap();
        let o = a.atomic_write(&r, b"hello", None).unwrap();
        assert!(o.dirs_created && !o.replaced);
        assert_eq!(std::fs::read(t.path().join("d/e/f.txt")).unwrap(), b"hello");
        std::fs::set_permissions(
            t.path().join("d/e/f.txt"),
            std::fs::Permissions::from_mode(0o751),
        )
        .unwrap();
        let o = a.atomic_write(&r, b"again", None).unwrap();
        assert!(!o.dirs_created && o.replaced);
        let md = std::fs::metadata(t.path().join("d/e/f.txt")).unwrap();
        assert_eq!(md.permissions().mode() & 0o7777, 0o751);
        // No temporary files are left behind.
        let names: Vec<_> = std::fs::read_dir(t.path().join("d/e")).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn temp_files_are_private_and_new_files_get_the_default_mode() {
        let t = tempfile::tempdir().unwrap();
        let c = cstring(t.path().as_os_str()).unwrap();
        let dir = sys_openat(
            libc::AT_FDCWD,
            &c,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            0,
        )
        .unwrap();
        let (_name, fd) = create_temp(&dir).unwrap();
        let mode = File::from(fd).metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o600);
        // Once written, a new file has the mode the kernel gives a plain create.
        let a = access(t.path());
        let r = a.resolve_write("new.txt").unwrap();
        a.atomic_write(&r, b"x", None).unwrap();
        std::fs::write(t.path().join("plain.txt"), b"x").unwrap();
        let mode_of = |n: &str| {
            std::fs::metadata(t.path().join(n))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(mode_of("new.txt"), mode_of("plain.txt"));
        // A private file stays private.
        std::fs::set_permissions(
            t.path().join("new.txt"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        a.atomic_write(&r, b"secret", None).unwrap();
        assert_eq!(mode_of("new.txt"), 0o600);
    }

    #[test]
    fn fallback_walk_refuses_links() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("d")).unwrap();
        std::fs::write(t.path().join("d/f"), "x").unwrap();
        std::os::unix::fs::symlink("d", t.path().join("l")).unwrap();
        let a = access(t.path());
        a.openat2_missing.store(true, Ordering::Relaxed);
        assert!(a.open_beneath(Path::new("d/f"), libc::O_RDONLY, 0).is_ok());
        let e = a
            .open_beneath(Path::new("l/f"), libc::O_RDONLY, 0)
            .unwrap_err();
        assert!(matches!(
            e.raw_os_error(),
            Some(libc::ELOOP) | Some(libc::ENOTDIR)
        ));
        // openat2 refuses the same path.
        a.openat2_missing.store(false, Ordering::Relaxed);
        assert!(a.open_beneath(Path::new("l/f"), libc::O_RDONLY, 0).is_err());
        assert!(
            a.open_beneath(Path::new("../x"), libc::O_RDONLY, 0)
                .is_err()
        );
    }

    #[test]
    fn fifo_is_refused_without_blocking() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("fifo");
        let c = cstring(p.as_os_str()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let a = access(t.path());
        let r = a.resolve_read("fifo").unwrap();
        assert!(matches!(
            a.open_read(&r),
            Err(FsError::NotRegularFile { .. })
        ));
    }
}
