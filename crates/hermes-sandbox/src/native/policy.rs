//! What a sandbox may see and use. Built on the host, sent to the sandbox's init, which
//! turns it into mounts, Landlock rules and limits.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// System directories visible read-only by default (those that exist on the host).
pub const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc",
];

/// Files and directories under `/etc` that are masked even though `/etc` is visible:
/// password hashes, sudo rules, host keys, TLS private keys.
pub const ETC_MASKED: &[&str] = &[
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/ssh",
    "/etc/ssl/private",
    "/etc/security/opasswd",
];

/// Resource limits of one sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Memory in bytes (cgroup `memory.max`, or `RLIMIT_AS` per process).
    pub memory_bytes: u64,
    /// Processes and threads (cgroup `pids.max`, or `RLIMIT_NPROC` in the sandbox's user
    /// namespace).
    pub pids: u64,
    /// CPU share in hundredths of a core (cgroup `cpu.max`); 0 = unlimited.
    pub cpu_percent: u64,
    /// CPU seconds per process (`RLIMIT_CPU`); 0 = unlimited.
    pub cpu_seconds: u64,
    /// Largest file a command may write (`RLIMIT_FSIZE`).
    pub file_size_bytes: u64,
    /// Open files per process (`RLIMIT_NOFILE`).
    pub open_files: u64,
    /// Size of each tmpfs (`/tmp`, `/dev/shm`, `/run`, home), in bytes.
    pub tmpfs_bytes: u64,
    /// `RLIMIT_AS` per process, used when no cgroup bounds memory; 0 = not set. Filled in
    /// by the host from `memory_bytes` and the cgroup mode.
    #[serde(default)]
    pub address_space_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory_bytes: 2 << 30,
            pids: 512,
            cpu_percent: 0,
            cpu_seconds: 0,
            file_size_bytes: 4 << 30,
            open_files: 1024,
            tmpfs_bytes: 512 << 20,
            address_space_bytes: 0,
        }
    }
}

/// Everything the sandbox's init needs to build the view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// The project directory: visible read-write at the same path.
    pub workspace: PathBuf,
    /// Host paths visible read-only at the same path (system directories and what the
    /// user lists).
    pub read_only: Vec<PathBuf>,
    /// Paths inside the visible tree replaced by empty, read-only placeholders.
    pub masked: Vec<PathBuf>,
    /// Paths inside the workspace bound read-only over the writable workspace
    /// (`.git/hooks`, `.git/config`).
    pub protected: Vec<PathBuf>,
    /// The per-sandbox home directory (a private tmpfs), unless it is the workspace.
    pub home: PathBuf,
    /// User and group id commands run as, inside the sandbox.
    pub uid: u32,
    pub gid: u32,
    pub user_name: String,
    pub hostname: String,
    pub limits: Limits,
    /// The workspace arrives as an idmapped mount from the host (root case) instead of a
    /// plain bind mount.
    pub idmapped_workspace: bool,
}

impl Policy {
    /// A policy with the default system view for `workspace`.
    pub fn new(workspace: impl Into<PathBuf>) -> Policy {
        let workspace = workspace.into();
        let read_only = SYSTEM_DIRS
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.exists())
            .collect();
        let masked = ETC_MASKED
            .iter()
            .map(PathBuf::from)
            .filter(|p| std::fs::symlink_metadata(p).is_ok())
            .collect();
        Policy {
            protected: protected_paths(&workspace),
            workspace,
            read_only,
            masked,
            home: PathBuf::from("/home/sandbox"),
            uid: 1000,
            gid: 1000,
            user_name: "sandbox".to_string(),
            hostname: "hermes-sandbox".to_string(),
            limits: Limits::default(),
            idmapped_workspace: false,
        }
    }
}

/// Git metadata inside `workspace` that runs code on the host when git runs there: hooks
/// and config of the repository and of its submodules.
pub fn protected_paths(workspace: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut git_dirs = vec![workspace.join(".git")];
    if let Ok(modules) = std::fs::read_dir(workspace.join(".git/modules")) {
        git_dirs.extend(modules.filter_map(|e| e.ok().map(|e| e.path())));
    }
    for g in git_dirs {
        if !g.is_dir() {
            continue;
        }
        for name in ["hooks", "config", "info"] {
            out.push(g.join(name));
        }
    }
    out
}
