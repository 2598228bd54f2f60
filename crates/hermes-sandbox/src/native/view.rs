//! Building the filesystem a sandboxed command sees, in the sandbox's own mount
//! namespace: an empty tmpfs root holding only what the policy lists (system directories
//! read-only, the workspace read-write with its git metadata read-only, private tmpfs for
//! `/tmp`, `/dev/shm`, `/run`, `/var/run` and home, a minimal `/dev`, a fresh `/proc`).
//! The host's root is reachable only while the view is built, under `/oldroot`, and is
//! detached before any command runs.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use super::policy::Policy;
use super::sys;

const OLD: &str = "/oldroot";
const NEW: &str = "/newroot";

/// Host device nodes bound into the minimal `/dev`.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// `base` + an absolute path (its root and any `..`/`.` dropped).
fn under(base: &str, p: &Path) -> PathBuf {
    let mut out = PathBuf::from(base);
    for c in p.components() {
        if let Component::Normal(n) = c {
            out.push(n);
        }
    }
    out
}

/// Where a path of the view is while it is being built.
fn new_path(p: &Path) -> PathBuf {
    under(NEW, p)
}

/// Where a host path is while the view is being built.
fn old_path(p: &Path) -> PathBuf {
    under(OLD, p)
}

fn mkdir_all(p: &Path) -> io::Result<()> {
    std::fs::create_dir_all(p)
        .map_err(|e| io::Error::new(e.kind(), format!("mkdir {}: {e}", p.display())))
}

/// Creates an empty mount point for `src` at `target` (directory or file, like `src`).
fn mount_point(src: &Path, target: &Path) -> io::Result<()> {
    if std::fs::metadata(src).map(|m| m.is_dir()).unwrap_or(true) {
        mkdir_all(target)
    } else {
        if let Some(parent) = target.parent() {
            mkdir_all(parent)?;
        }
        if !target.exists() {
            std::fs::File::create(target).map_err(|e| {
                io::Error::new(e.kind(), format!("create {}: {e}", target.display()))
            })?;
        }
        Ok(())
    }
}

fn bind(src: &Path, target: &Path, read_only: bool) -> io::Result<()> {
    mount_point(src, target)?;
    sys::mount(Some(src), target, None, libc::MS_BIND | libc::MS_REC, None)?;
    let mut attrs = sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV;
    if read_only {
        attrs |= sys::MOUNT_ATTR_RDONLY;
    }
    sys::mount_setattr(target, attrs, true)
}

fn tmpfs(target: &Path, size: u64, mode: u32) -> io::Result<()> {
    mkdir_all(target)?;
    sys::mount(
        None,
        target,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(&format!("size={size},mode={mode:o}")),
    )
}

/// Replaces a visible path with an empty, read-only placeholder.
fn mask(target: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(target) {
        Ok(m) => m,
        Err(_) => return Ok(()),
    };
    if meta.is_dir() {
        sys::mount(
            None,
            target,
            Some("tmpfs"),
            libc::MS_NOSUID | libc::MS_NODEV,
            Some("size=0,mode=0"),
        )?;
        sys::mount_setattr(target, sys::MOUNT_ATTR_RDONLY, false)
    } else {
        sys::mount(
            Some(Path::new("/newroot/dev/null")),
            target,
            None,
            libc::MS_BIND,
            None,
        )?;
        sys::mount_setattr(
            target,
            sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID,
            false,
        )
    }
}

/// Builds the view and makes it the root. Runs as PID 1 of the sandbox's pid namespace,
/// with full capabilities in its user namespace. `workspace_mount` is an idmapped mount
/// prepared by the host (root case).
pub fn build(policy: &Policy, workspace_mount: Option<OwnedFd>) -> io::Result<()> {
    // Nothing we mount propagates back to the host.
    sys::mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )?;

    // A scratch root: the host root moves to /oldroot, the view is built in /newroot.
    let scratch = Path::new("/tmp");
    sys::mount(
        None,
        scratch,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some("size=1m,mode=0700"),
    )?;
    mkdir_all(&scratch.join("oldroot"))?;
    mkdir_all(&scratch.join("newroot"))?;
    sys::pivot_root(scratch, &scratch.join("oldroot"))?;
    std::env::set_current_dir("/")?;

    let limits = &policy.limits;
    sys::mount(
        None,
        Path::new(NEW),
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some("size=8m,mode=0755"),
    )?;

    // Everything that is mounted at a path of its own, parents before children (so a
    // listed directory under /tmp is not hidden by the private /tmp, and the workspace
    // can live inside home).
    enum Entry {
        ReadOnly(PathBuf),
        Tmpfs(PathBuf, u32, Option<(u32, u32)>),
        Workspace,
    }
    let mut entries: Vec<(usize, u8, Entry)> = Vec::new();
    let depth = |p: &Path| p.components().count();
    for p in ["/tmp", "/dev/shm", "/run"] {
        let p = PathBuf::from(p);
        entries.push((depth(&p), 0, Entry::Tmpfs(p, 0o1777, None)));
    }
    // Home is a private tmpfs, unless it is the workspace (or inside it), where the
    // workspace itself serves as home.
    if !policy.home.starts_with(&policy.workspace) {
        entries.push((
            depth(&policy.home),
            0,
            Entry::Tmpfs(policy.home.clone(), 0o700, Some((policy.uid, policy.gid))),
        ));
    }
    for p in &policy.read_only {
        entries.push((depth(p), 1, Entry::ReadOnly(p.clone())));
    }
    entries.push((depth(&policy.workspace), 2, Entry::Workspace));
    entries.sort_by_key(|(d, k, _)| (*d, *k));

    let mut workspace_mount = workspace_mount;
    for (_, _, entry) in entries {
        match entry {
            // Merged-/usr symlinks (/bin -> usr/bin) stay symlinks.
            Entry::ReadOnly(p) => {
                let src = old_path(&p);
                let target = new_path(&p);
                match std::fs::symlink_metadata(&src) {
                    Ok(m) if m.file_type().is_symlink() && p.parent() == Some(Path::new("/")) => {
                        let link = std::fs::read_link(&src)?;
                        if let Some(parent) = target.parent() {
                            mkdir_all(parent)?;
                        }
                        std::os::unix::fs::symlink(&link, &target)?;
                    }
                    Ok(_) => bind(&src, &target, true)?,
                    Err(_) => {}
                }
            }
            Entry::Tmpfs(p, mode, owner) => {
                let target = new_path(&p);
                tmpfs(&target, limits.tmpfs_bytes, mode)?;
                if let Some((uid, gid)) = owner {
                    chown(&target, uid, gid)?;
                }
            }
            // The workspace, read-write, at its own path.
            Entry::Workspace => {
                let ws_target = new_path(&policy.workspace);
                match workspace_mount.take() {
                    Some(fd) => {
                        mkdir_all(&ws_target)?;
                        sys::move_mount(fd.as_raw_fd(), &ws_target)?;
                        sys::mount_setattr(
                            &ws_target,
                            sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV,
                            true,
                        )?;
                    }
                    None => bind(&old_path(&policy.workspace), &ws_target, false)?,
                }
            }
        }
    }
    let var_run = new_path(Path::new("/var/run"));
    if std::fs::symlink_metadata(&var_run).is_err() {
        if let Some(parent) = var_run.parent() {
            mkdir_all(parent)?;
        }
        std::os::unix::fs::symlink("/run", &var_run)?;
    }

    // Git directories become mount points of their own, so they cannot be renamed away
    // and replaced by one with a different config; their hooks and config stay read-only.
    let mut git_dirs: Vec<PathBuf> = policy
        .protected
        .iter()
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .filter(|d| d.starts_with(&policy.workspace))
        .collect();
    git_dirs.sort();
    git_dirs.dedup();
    for d in &git_dirs {
        let target = new_path(d);
        if target.is_dir() {
            sys::mount(
                Some(&target),
                &target,
                None,
                libc::MS_BIND | libc::MS_REC,
                None,
            )?;
        }
    }
    for p in &policy.protected {
        if !p.starts_with(&policy.workspace) {
            continue;
        }
        let target = new_path(p);
        if std::fs::symlink_metadata(&target).is_ok() {
            sys::mount(
                Some(&target),
                &target,
                None,
                libc::MS_BIND | libc::MS_REC,
                None,
            )?;
            sys::mount_setattr(
                &target,
                sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV,
                true,
            )?;
        }
    }

    // A minimal /dev.
    let dev = new_path(Path::new("/dev"));
    mkdir_all(&dev)?;
    for d in DEVICES {
        let src = Path::new(OLD).join("dev").join(d);
        if src.exists() {
            let target = dev.join(d);
            mount_point(&src, &target)?;
            sys::mount(Some(&src), &target, None, libc::MS_BIND, None)?;
            sys::mount_setattr(&target, sys::MOUNT_ATTR_NOSUID, false)?;
        }
    }
    let pts = dev.join("pts");
    mkdir_all(&pts)?;
    sys::mount(
        None,
        &pts,
        Some("devpts"),
        libc::MS_NOSUID | libc::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )?;
    for (name, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(target, dev.join(name))?;
    }

    // Masks after everything they may sit on.
    for p in &policy.masked {
        mask(&new_path(p))?;
    }

    // Identity files so that `whoami`, `id` and `~` make sense inside.
    write_identity(policy)?;

    // A fresh /proc for the sandbox's pid namespace.
    let proc = new_path(Path::new("/proc"));
    mkdir_all(&proc)?;
    sys::mount(
        None,
        &proc,
        Some("proc"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        None,
    )?;

    // Make the view the root and drop the host's.
    std::env::set_current_dir(NEW)?;
    sys::pivot_root(Path::new("."), Path::new("."))?;
    sys::umount_detach(Path::new("."))?;
    std::env::set_current_dir("/")?;
    // The root tmpfs itself is read-only; the mounts below keep their own settings.
    sys::mount_setattr(Path::new("/"), sys::MOUNT_ATTR_RDONLY, false)?;
    Ok(())
}

fn chown(p: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::chown(p, Some(uid), Some(gid))
        .map_err(|e| io::Error::new(e.kind(), format!("chown {}: {e}", p.display())))
}

/// `/etc/passwd` and `/etc/group` listing the sandbox user, bound over the host's.
fn write_identity(policy: &Policy) -> io::Result<()> {
    let dir = Path::new(NEW).join(".hermes");
    mkdir_all(&dir)?;
    let passwd = format!(
        "root:x:0:0:root:/root:/bin/sh\n{name}:x:{uid}:{gid}:{name}:{home}:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        name = policy.user_name,
        uid = policy.uid,
        gid = policy.gid,
        home = policy.home.display()
    );
    let group = format!(
        "root:x:0:\n{name}:x:{gid}:\nnogroup:x:65534:\n",
        name = policy.user_name,
        gid = policy.gid
    );
    for (file, content) in [("passwd", passwd), ("group", group)] {
        let src = dir.join(file);
        std::fs::write(&src, content)?;
        let target = new_path(&Path::new("/etc").join(file));
        if target.exists() {
            sys::mount(Some(&src), &target, None, libc::MS_BIND, None)?;
            sys::mount_setattr(&target, sys::MOUNT_ATTR_RDONLY, false)?;
        }
    }
    Ok(())
}
