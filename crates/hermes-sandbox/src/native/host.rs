//! The host side: starting sandboxes, sending them commands, collecting output.
//!
//! Each sandbox ("box") is one helper process tree; the host talks to its init over a
//! stream socket from a dedicated reader thread. Command output flows through a pipe the
//! host creates: EOF on that pipe means every process of the command is gone, because the
//! command's pid namespace dies with it.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::io::AsyncReadExt;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::init::CONTROL_FD;
use super::policy::Policy;
use super::protocol::{self, Event, ExecSpec, ReadyInfo, Request};
use crate::{ExecError, ExecOutput, ExecRequest, Executor, ExitStatus, SpawnRequest, Spawned};

/// How to start the helper: a program and its arguments (the `hermes` binary with
/// `__sandbox-init`, or the crate's `hermes-sandbox-helper`).
#[derive(Debug, Clone)]
pub struct Helper {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

impl Helper {
    /// The running executable re-executed with `arg` (e.g. `__sandbox-init`).
    pub fn current_exe(arg: &str) -> io::Result<Helper> {
        Ok(Helper {
            program: std::env::current_exe()?,
            args: vec![arg.into()],
        })
    }
}

/// Configuration of the native backend.
#[derive(Debug, Clone)]
pub struct NativeConfig {
    pub helper: Helper,
    pub policy: Policy,
    /// How long a sandbox may take to come up before it counts as failed.
    pub start_timeout: Duration,
    /// When hermes runs as root and the workspace belongs to root, commands run as this
    /// unprivileged uid/gid (the workspace is idmapped so that it stays writable).
    pub root_sandbox_id: (u32, u32),
    /// How memory, pids and CPU are limited (see [`super::cgroup::detect`]).
    pub cgroups: super::cgroup::Mode,
}

/// Who commands run as, and whether the workspace must be idmapped for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    /// Spawn the helper as this uid/gid (hermes runs as root).
    pub drop_from_root: bool,
    /// The workspace belongs to root: attach it through an idmapped mount.
    pub idmap: bool,
}

/// Commands never run as host root. As a regular user, commands run as that user. As
/// root, they run as the workspace's owner when that is not root, else as
/// `root_sandbox_id` with an idmapped workspace.
pub fn identity(workspace: &std::path::Path, root_sandbox_id: (u32, u32)) -> io::Result<Identity> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid/getegid cannot fail.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if euid != 0 {
        return Ok(Identity {
            uid: euid,
            gid: egid,
            drop_from_root: false,
            idmap: false,
        });
    }
    let meta = std::fs::metadata(workspace)
        .map_err(|e| io::Error::new(e.kind(), format!("workspace {}: {e}", workspace.display())))?;
    if meta.uid() != 0 {
        return Ok(Identity {
            uid: meta.uid(),
            gid: meta.gid(),
            drop_from_root: true,
            idmap: false,
        });
    }
    Ok(Identity {
        uid: root_sandbox_id.0,
        gid: root_sandbox_id.1,
        drop_from_root: true,
        idmap: true,
    })
}

/// The workspace as an idmapped mount: files owned by root on disk appear (and are
/// created) as `id`'s uid and gid. Needs root and a filesystem that supports idmapped
/// mounts (ext4, xfs, btrfs, tmpfs since 6.3, …).
fn idmapped_workspace(
    helper: &Helper,
    workspace: &std::path::Path,
    id: Identity,
) -> io::Result<OwnedFd> {
    let (host, guest) = UnixStream::pair()?;
    let guest_fd = guest.as_raw_fd();
    let mut cmd = Command::new(&helper.program);
    cmd.args(&helper.args)
        .env_clear()
        .env(super::init::MODE_ENV, super::init::MODE_HOLD_USERNS)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .uid(id.uid)
        .gid(id.gid);
    // SAFETY: only async-signal-safe calls (dup2, prctl) run between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(guest_fd, CONTROL_FD) < 0 {
                return Err(io::Error::last_os_error());
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    drop(guest);
    let result = (|| {
        use std::io::Read;
        let mut buf = [0u8; 512];
        let n = (&host).read(&mut buf)?;
        if n == 0 || buf[0] != b'K' {
            return Err(io::Error::other(format!(
                "the user namespace for the idmapped workspace could not be made: {}",
                String::from_utf8_lossy(&buf[1..n.max(1)])
            )));
        }
        let userns = std::fs::File::open(format!("/proc/{}/ns/user", child.id()))?;
        let mnt = super::sys::open_tree_clone(workspace)?;
        super::sys::mount_setattr_idmap(mnt.as_raw_fd(), userns.as_raw_fd()).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "{e} — the filesystem of {} may not support idmapped mounts; run hermes as \
                     the workspace's owner, or give the workspace to a regular user",
                    workspace.display()
                ),
            )
        })?;
        Ok(mnt)
    })();
    drop(host);
    let _ = child.kill();
    let _ = child.wait();
    result
}

const BACKEND: &str = "native";

fn unavailable(reason: impl std::fmt::Display) -> ExecError {
    ExecError::Unavailable {
        backend: BACKEND.to_string(),
        reason: reason.to_string(),
    }
}

type Waiters = Arc<Mutex<HashMap<u64, oneshot::Sender<Event>>>>;

/// One running sandbox.
struct SandboxBox {
    /// Dropped after the processes are gone (fields drop after `Drop::drop`).
    _cgroup: Option<super::cgroup::SandboxCgroup>,
    sock: Mutex<UnixStream>,
    waiters: Waiters,
    /// Set once the sandbox has died; later commands are refused with it.
    dead: Arc<Mutex<Option<String>>>,
    child: Mutex<Child>,
    ready: ReadyInfo,
}

impl SandboxBox {
    fn start(cfg: &NativeConfig) -> Result<SandboxBox, ExecError> {
        let id = identity(&cfg.policy.workspace, cfg.root_sandbox_id)
            .map_err(|e| unavailable(e.to_string()))?;
        let mut policy = cfg.policy.clone();
        policy.uid = id.uid;
        policy.gid = id.gid;
        policy.idmapped_workspace = id.idmap;
        policy.limits.address_space_bytes = if cfg.cgroups.limits_memory() {
            0
        } else {
            policy.limits.memory_bytes
        };
        let workspace_mount = if id.idmap {
            Some(
                idmapped_workspace(&cfg.helper, &policy.workspace, id)
                    .map_err(|e| unavailable(format!("preparing the workspace: {e}")))?,
            )
        } else {
            None
        };
        let (host, guest) =
            UnixStream::pair().map_err(|e| unavailable(format!("socketpair: {e}")))?;
        let guest_fd = guest.as_raw_fd();
        let mut cmd = Command::new(&cfg.helper.program);
        cmd.args(&cfg.helper.args)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if id.drop_from_root {
            // Never host root: the helper (and so every command) runs as `id`, with no
            // supplementary groups.
            cmd.uid(id.uid).gid(id.gid);
        }
        // SAFETY: only async-signal-safe calls (dup2, prctl) run between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(guest_fd, CONTROL_FD) < 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| {
            unavailable(format!(
                "could not start the sandbox helper {}: {e}",
                cfg.helper.program.display()
            ))
        })?;
        drop(guest);
        let cgroup_name = format!("sandbox-{}-{}", std::process::id(), child.id());
        let cgroup = match super::cgroup::SandboxCgroup::create(
            &cfg.cgroups,
            &cgroup_name,
            &policy.limits,
            child.id(),
        ) {
            Ok(c) => c,
            Err(e) => {
                let mut child = child;
                let _ = child.kill();
                let _ = child.wait();
                return Err(unavailable(format!(
                    "could not apply {} limits: {e}",
                    cfg.cgroups.name()
                )));
            }
        };
        let child = Mutex::new(child);
        let kill = |child: &Mutex<Child>| {
            if let Ok(mut c) = child.lock() {
                let _ = c.kill();
                let _ = c.wait();
            }
        };
        let mount_fds: Vec<i32> = workspace_mount.iter().map(|m| m.as_raw_fd()).collect();
        let sent = protocol::send(&host, &Request::Setup(Box::new(policy)), &mount_fds);
        drop(workspace_mount);
        if let Err(e) = sent {
            kill(&child);
            return Err(unavailable(format!(
                "the sandbox helper did not take its setup: {e}"
            )));
        }
        let _ = host.set_read_timeout(Some(cfg.start_timeout));
        let ready = match protocol::recv::<Event>(&host) {
            Ok(Some((Event::Ready(info), _))) => info,
            Ok(Some((Event::SetupFailed { reason }, _))) => {
                kill(&child);
                return Err(unavailable(format!(
                    "the sandbox could not be set up with its full policy: {reason}"
                )));
            }
            Ok(Some((other, _))) => {
                kill(&child);
                return Err(unavailable(format!(
                    "unexpected message from the sandbox: {other:?}"
                )));
            }
            Ok(None) => {
                kill(&child);
                return Err(unavailable("the sandbox helper exited during setup"));
            }
            Err(e) => {
                kill(&child);
                return Err(unavailable(format!(
                    "no answer from the sandbox during setup: {e}"
                )));
            }
        };
        let _ = host.set_read_timeout(None);
        let waiters: Waiters = Arc::default();
        let dead = Arc::new(Mutex::new(None));
        let reader = host
            .try_clone()
            .map_err(|e| unavailable(format!("socket: {e}")))?;
        {
            let waiters = waiters.clone();
            let dead = dead.clone();
            std::thread::Builder::new()
                .name("hermes-sandbox-reader".into())
                .spawn(move || read_events(reader, waiters, dead))
                .map_err(|e| unavailable(format!("thread: {e}")))?;
        }
        Ok(SandboxBox {
            _cgroup: cgroup,
            sock: Mutex::new(host),
            waiters,
            dead,
            child,
            ready,
        })
    }

    /// Starts command `spec` with descriptors `fds` and returns where its end will be
    /// reported. The caller may close its copies of `fds` once this returns.
    fn run(&self, spec: ExecSpec, fds: &[i32]) -> Result<oneshot::Receiver<Event>, ExecError> {
        let id = spec.id;
        let (tx, rx) = oneshot::channel();
        self.waiters
            .lock()
            .map_err(|_| unavailable("sandbox lock poisoned"))?
            .insert(id, tx);
        if let Err(e) = self.send(&Request::Exec(spec), fds) {
            if let Ok(mut w) = self.waiters.lock() {
                w.remove(&id);
            }
            return Err(e);
        }
        Ok(rx)
    }

    fn send(&self, req: &Request, fds: &[i32]) -> Result<(), ExecError> {
        if let Some(reason) = self.dead.lock().ok().and_then(|d| d.clone()) {
            return Err(unavailable(reason));
        }
        let sock = self
            .sock
            .lock()
            .map_err(|_| unavailable("sandbox lock poisoned"))?;
        protocol::send(&sock, req, fds)
            .map_err(|e| unavailable(format!("the sandbox is gone: {e}")))
    }
}

impl Drop for SandboxBox {
    fn drop(&mut self) {
        // Closing the socket ends init, which ends every command; give it a moment to go
        // on its own, then make sure.
        if let Ok(s) = self.sock.lock() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        if let Ok(mut c) = self.child.lock() {
            for _ in 0..100 {
                if matches!(c.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn read_events(sock: UnixStream, waiters: Waiters, dead: Arc<Mutex<Option<String>>>) {
    let reason = loop {
        match protocol::recv::<Event>(&sock) {
            Ok(Some((ev, _))) => {
                let id = match &ev {
                    Event::Exited { id, .. } | Event::SpawnFailed { id, .. } => *id,
                    _ => continue,
                };
                if let Some(tx) = waiters.lock().ok().and_then(|mut w| w.remove(&id)) {
                    let _ = tx.send(ev);
                }
            }
            Ok(None) => break "the sandbox exited".to_string(),
            Err(e) => break format!("lost contact with the sandbox: {e}"),
        }
    };
    if let Ok(mut d) = dead.lock() {
        *d = Some(reason);
    }
    // Waiters see their sender dropped.
    if let Ok(mut w) = waiters.lock() {
        w.clear();
    }
}

/// Files git reads from a repository's git directory that would make git on the host take
/// its config and hooks from elsewhere. The sandbox can create them (the git directory
/// stays writable so commits work), so they are moved aside after every command, before
/// git on the host can read them.
const GIT_REDIRECTS: &[&str] = &["commondir"];

/// Moves redirect files planted in the workspace's git directories aside; returns a note
/// for the command's output when it had to.
pub fn guard_git(policy: &Policy) -> Option<String> {
    let mut dirs: Vec<PathBuf> = policy
        .protected
        .iter()
        .filter_map(|p| p.parent().map(std::path::Path::to_path_buf))
        .collect();
    dirs.sort();
    dirs.dedup();
    let mut moved = Vec::new();
    for d in dirs {
        for name in GIT_REDIRECTS {
            let p = d.join(name);
            if std::fs::symlink_metadata(&p).is_ok() {
                let aside = d.join(format!(
                    "{name}.blocked-by-hermes-{}",
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|t| t.as_secs())
                        .unwrap_or(0)
                ));
                match std::fs::rename(&p, &aside) {
                    Ok(()) => moved.push(format!("{} (moved to {})", p.display(), aside.display())),
                    Err(e) => tracing::error!("could not move aside {}: {e}", p.display()),
                }
            }
        }
    }
    if moved.is_empty() {
        return None;
    }
    tracing::warn!("blocked git redirection files: {}", moved.join(", "));
    Some(format!(
        "\n[hermes: the command created {}, which would make git on the host read another \
         directory's config and hooks; it was moved aside and not used]\n",
        moved.join(", ")
    ))
}

/// Runs commands in native Linux sandboxes: one sandbox per scope (a conversation), kept
/// while it is used, so `/tmp` and home persist between the commands of a conversation.
pub struct NativeExecutor {
    cfg: NativeConfig,
    boxes: tokio::sync::Mutex<HashMap<String, Arc<SandboxBox>>>,
    next_id: AtomicU64,
}

impl NativeExecutor {
    pub fn new(cfg: NativeConfig) -> NativeExecutor {
        NativeExecutor {
            cfg,
            boxes: tokio::sync::Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.cfg.policy
    }

    /// Starts (or reuses) the sandbox of `scope` and reports what it enforces.
    pub async fn ready_info(&self, scope: &str) -> Result<ReadyInfo, ExecError> {
        Ok(self.sandbox(scope).await?.ready.clone())
    }

    async fn sandbox(&self, scope: &str) -> Result<Arc<SandboxBox>, ExecError> {
        let mut boxes = self.boxes.lock().await;
        if let Some(b) = boxes.get(scope) {
            if b.dead.lock().map(|d| d.is_none()).unwrap_or(false) {
                return Ok(b.clone());
            }
            boxes.remove(scope);
        }
        let cfg = self.cfg.clone();
        let b = tokio::task::spawn_blocking(move || SandboxBox::start(&cfg))
            .await
            .map_err(|e| unavailable(format!("sandbox start task failed: {e}")))??;
        let b = Arc::new(b);
        boxes.insert(scope.to_string(), b.clone());
        Ok(b)
    }
}

/// A command line run by the sandbox's shell.
fn shell_argv(command: &str) -> Vec<String> {
    vec!["/bin/sh".to_string(), "-c".to_string(), command.to_string()]
}

fn nonblocking_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = super::sys::pipe()?;
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(r.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(r.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    Ok((r, w))
}

#[async_trait]
impl Executor for NativeExecutor {
    fn kind(&self) -> &'static str {
        BACKEND
    }

    async fn release(&self, scope: &str) {
        let sb = self.boxes.lock().await.remove(scope);
        // Tearing a sandbox down waits for its processes; keep that off the runtime.
        if let Some(sb) = sb {
            let _ = tokio::task::spawn_blocking(move || drop(sb)).await;
        }
    }

    async fn exec(
        &self,
        request: ExecRequest,
        cancel: &CancellationToken,
    ) -> Result<ExecOutput, ExecError> {
        let start = Instant::now();
        let scope = request
            .scope
            .clone()
            .unwrap_or_else(|| "default".to_string());
        let sb = self.sandbox(&scope).await?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (out_r, out_w) = nonblocking_pipe().map_err(|e| ExecError::Io(e.to_string()))?;
        let stdin = match &request.stdin {
            Some(data) => {
                let (r, w) = super::sys::pipe().map_err(|e| ExecError::Io(e.to_string()))?;
                Some((r, w, data.clone()))
            }
            None => None,
        };
        let spec = ExecSpec {
            id,
            argv: shell_argv(&request.command),
            cwd: request.cwd.display().to_string(),
            env: request.env.clone().into_iter().collect(),
            stdin: stdin.is_some(),
            timeout_ms: Some(request.timeout.as_millis().min(u64::MAX as u128) as u64),
            pty: false,
        };
        let mut fds = Vec::new();
        if let Some((r, _, _)) = &stdin {
            fds.push(r.as_raw_fd());
        }
        fds.push(out_w.as_raw_fd());
        let started = sb.run(spec, &fds);
        drop(out_w);
        let rx = started?;
        if let Some((r, w, data)) = stdin {
            drop(r);
            tokio::task::spawn_blocking(move || {
                use std::io::Write;
                let mut f = std::fs::File::from(w);
                let _ = f.write_all(&data);
            });
        }
        // From here on, a dropped future must not leave the command running.
        struct KillOnDrop<'a>(&'a SandboxBox, u64, bool);
        impl Drop for KillOnDrop<'_> {
            fn drop(&mut self) {
                if self.2 {
                    let _ = self.0.send(&Request::Kill { id: self.1 }, &[]);
                }
            }
        }
        let mut guard = KillOnDrop(&sb, id, true);

        let mut reader = tokio::net::unix::pipe::Receiver::from_owned_fd(out_r)
            .map_err(|e| ExecError::Io(e.to_string()))?;
        let mut buf = crate::output::CappedBuffer::new(request.max_output_bytes);
        let mut chunk = vec![0u8; 64 * 1024];
        let mut exited: Option<Event> = None;
        let mut rx = rx;
        let mut eof = false;
        let mut cancelled = false;
        while !(eof && exited.is_some()) {
            tokio::select! {
                n = reader.read(&mut chunk), if !eof => match n {
                    Ok(0) | Err(_) => eof = true,
                    Ok(n) => {
                        if !buf.push(&chunk[..n]) {
                            let _ = sb.send(&Request::Kill { id }, &[]);
                        }
                    }
                },
                ev = &mut rx, if exited.is_none() => {
                    match ev {
                        Ok(ev) => exited = Some(ev),
                        Err(_) => {
                            guard.2 = false;
                            let reason = sb.dead.lock().ok().and_then(|d| d.clone())
                                .unwrap_or_else(|| "the sandbox exited".into());
                            return Err(unavailable(reason));
                        }
                    }
                }
                () = cancel.cancelled(), if !cancelled => {
                    cancelled = true;
                    let _ = sb.send(&Request::Kill { id }, &[]);
                }
            }
        }
        guard.2 = false;
        if let Some(note) = guard_git(&self.cfg.policy) {
            buf.push(note.as_bytes());
        }
        if cancelled {
            return Err(ExecError::Cancelled);
        }
        match exited {
            Some(Event::Exited {
                code,
                signal,
                timed_out,
                ..
            }) => Ok(ExecOutput {
                exit_code: code,
                signal: if timed_out || buf.overflowed {
                    signal.or(Some(libc::SIGKILL))
                } else {
                    signal
                },
                output: buf.data,
                timed_out,
                output_truncated: buf.overflowed,
                duration: start.elapsed(),
            }),
            Some(Event::SpawnFailed { reason, .. }) => Err(ExecError::Spawn(reason)),
            _ => Err(ExecError::Io("no exit status from the sandbox".into())),
        }
    }

    async fn spawn(&self, request: SpawnRequest) -> Result<Spawned, ExecError> {
        let scope = request
            .scope
            .clone()
            .unwrap_or_else(|| "default".to_string());
        let sb = self.sandbox(&scope).await?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let io_err = |e: io::Error| ExecError::Io(e.to_string());
        // With a pty the command's stdin, stdout and stderr are the terminal; otherwise a
        // stdin pipe and an output pipe.
        let (output, input, child_in, child_out): (
            Box<dyn tokio::io::AsyncRead + Send + Unpin>,
            Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
            OwnedFd,
            OwnedFd,
        ) = if request.pty {
            let (master, slave) = crate::pty::open().map_err(io_err)?;
            let master2 = master.try_clone().map_err(io_err)?;
            let slave2 = slave.try_clone().map_err(io_err)?;
            (
                Box::new(crate::pty::AsyncFdIo::new(master).map_err(io_err)?),
                Box::new(crate::pty::AsyncFdIo::new(master2).map_err(io_err)?),
                slave,
                slave2,
            )
        } else {
            let (out_r, out_w) = nonblocking_pipe().map_err(io_err)?;
            let (in_r, in_w) = super::sys::pipe().map_err(io_err)?;
            (
                Box::new(tokio::net::unix::pipe::Receiver::from_owned_fd(out_r).map_err(io_err)?),
                Box::new(tokio::net::unix::pipe::Sender::from_owned_fd(in_w).map_err(io_err)?),
                in_r,
                out_w,
            )
        };
        let spec = ExecSpec {
            id,
            argv: shell_argv(&request.command),
            cwd: request.cwd.display().to_string(),
            env: request.env.clone().into_iter().collect(),
            stdin: true,
            timeout_ms: request
                .lifetime
                .map(|d| d.as_millis().min(u64::MAX as u128) as u64),
            pty: request.pty,
        };
        let started = sb.run(spec, &[child_in.as_raw_fd(), child_out.as_raw_fd()]);
        drop(child_in);
        drop(child_out);
        let rx = started?;
        let killer = sb.clone();
        let keep = sb.clone();
        let policy = self.cfg.policy.clone();
        Ok(Spawned {
            output,
            input,
            exit: Box::pin(async move {
                let _keep = keep;
                let status = rx.await;
                guard_git(&policy);
                match status {
                    Ok(Event::Exited { code, signal, .. }) => ExitStatus { code, signal },
                    Ok(Event::SpawnFailed { .. }) => ExitStatus {
                        code: Some(127),
                        signal: None,
                    },
                    _ => ExitStatus {
                        code: None,
                        signal: Some(libc::SIGKILL),
                    },
                }
            }),
            kill: Box::new(move || {
                let _ = killer.send(&Request::Kill { id }, &[]);
            }),
        })
    }
}
