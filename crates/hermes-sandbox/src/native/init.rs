//! The sandbox side. [`helper_main`] runs in a freshly executed, single-threaded process
//! (the `hermes` binary re-executed with `__sandbox-init`): it enters a new user namespace,
//! then the other namespaces, and forks the sandbox's init, PID 1 of a new pid namespace.
//! Init builds the view, then runs commands on request, each in a pid namespace of its own
//! so that nothing a command starts can outlive it.

use std::collections::HashMap;
use std::ffi::CString;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use super::landlock::{self, Ruleset};
use super::policy::Policy;
use super::protocol::{self, Event, ExecSpec, ReadyInfo, Request};
use super::{caps, seccomp, sys, view};

/// The descriptor number of the control socket in the helper.
pub const CONTROL_FD: RawFd = 3;

/// Environment variable selecting the helper's job: unset = run a sandbox;
/// [`MODE_HOLD_USERNS`] = hold a user namespace for an idmapped mount.
pub const MODE_ENV: &str = "HERMES_SANDBOX_MODE";
pub const MODE_HOLD_USERNS: &str = "hold-userns";

/// Entry point of the helper process. Never returns.
pub fn helper_main() -> ! {
    // SAFETY: the host passed the control socket as fd 3 and nothing else owns it.
    let sock = unsafe { UnixStream::from_raw_fd(CONTROL_FD) };
    if std::env::var_os(MODE_ENV).is_some_and(|m| m == MODE_HOLD_USERNS) {
        sys::exit_now(match hold_userns(&sock) {
            Ok(()) => 0,
            Err(e) => {
                let _ = (&sock).write_all(format!("E{e}").as_bytes());
                1
            }
        });
    }
    let code = match helper(&sock) {
        Ok(code) => code,
        Err(e) => {
            let _ = protocol::send(
                &sock,
                &Event::SetupFailed {
                    reason: e.to_string(),
                },
                &[],
            );
            1
        }
    };
    sys::exit_now(code)
}

/// Creates a user namespace mapping id 0 to our own uid and gid, says so, and keeps it
/// alive until the host closes the socket. The host uses it to make an idmapped mount on
/// which files owned by root appear (and are created) as our uid.
fn hold_userns(sock: &UnixStream) -> io::Result<()> {
    sys::set_pdeathsig()?;
    // SAFETY: geteuid/getegid cannot fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    sys::unshare(libc::CLONE_NEWUSER)?;
    sys::write_file("/proc/self/setgroups", "deny")?;
    sys::write_file("/proc/self/uid_map", &format!("0 {uid} 1"))?;
    sys::write_file("/proc/self/gid_map", &format!("0 {gid} 1"))?;
    let mut w = sock;
    w.write_all(b"K")?;
    let mut r = sock;
    let mut buf = [0u8; 1];
    let _ = r.read(&mut buf);
    Ok(())
}

fn helper(sock: &UnixStream) -> io::Result<i32> {
    sys::set_pdeathsig()?;
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    sys::unshare(libc::CLONE_NEWUSER).map_err(|e| {
        io::Error::other(format!(
            "cannot create a user namespace ({e}); unprivileged user namespaces may be disabled \
             (sysctl kernel.unprivileged_userns_clone / user.max_user_namespaces, or an AppArmor \
             restriction)"
        ))
    })?;
    // Map our own ids 1:1; nothing else exists in the namespace.
    sys::write_file("/proc/self/setgroups", "deny")?;
    sys::write_file("/proc/self/uid_map", &format!("{uid} {uid} 1"))?;
    sys::write_file("/proc/self/gid_map", &format!("{gid} {gid} 1"))?;

    let (policy, mut fds) = match protocol::recv::<Request>(sock)? {
        Some((Request::Setup(p), fds)) => (*p, fds),
        Some((other, _)) => return Err(io::Error::other(format!("expected setup, got {other:?}"))),
        None => return Ok(0),
    };
    let workspace_mount = if policy.idmapped_workspace {
        Some(
            fds.pop()
                .ok_or_else(|| io::Error::other("the idmapped workspace mount is missing"))?,
        )
    } else {
        None
    };
    sys::unshare(
        libc::CLONE_NEWNS
            | libc::CLONE_NEWNET
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWUTS
            | libc::CLONE_NEWCGROUP
            | libc::CLONE_NEWPID,
    )?;
    let pid = sys::fork()?;
    if pid == 0 {
        // The sandbox's init.
        let code = match init(sock, &policy, workspace_mount) {
            Ok(()) => 0,
            Err(e) => {
                let _ = protocol::send(
                    sock,
                    &Event::SetupFailed {
                        reason: e.to_string(),
                    },
                    &[],
                );
                1
            }
        };
        sys::exit_now(code);
    }
    drop(workspace_mount);
    // Wait for init; its exit ends the sandbox.
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid || (r < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR)) {
            break;
        }
    }
    Ok(if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        1
    })
}

/// What init keeps for every command: the compiled seccomp filters, and what the Landlock
/// ruleset is built from.
struct Hardening {
    filters: Vec<seccompiler::BpfProgram>,
    last_cap: u32,
    landlock_abi: u32,
    landlock_scoped: bool,
}

fn hardening() -> io::Result<Hardening> {
    // Check Landlock works here before any command needs it.
    let probe = Ruleset::new()?;
    Ok(Hardening {
        filters: seccomp::build()?,
        last_cap: caps::last_cap(),
        landlock_abi: probe.abi,
        landlock_scoped: probe.scoped != 0,
    })
}

/// The Landlock ruleset of one command, built after its `/proc` is mounted (rules attach
/// to mounts, so the rule for `/proc` must name the command's own).
fn ruleset(policy: &Policy) -> io::Result<Ruleset> {
    let mut rs = Ruleset::new()?;
    let abi = rs.abi;
    let all = landlock::fs_rights(abi);
    rs.allow(Path::new("/"), landlock::READ_DIR)?;
    for p in &policy.read_only {
        rs.allow(p, landlock::READ)?;
    }
    for p in ["/proc", "/dev", "/etc/passwd", "/etc/group"] {
        rs.allow(Path::new(p), landlock::READ)?;
    }
    for p in [&policy.workspace, &policy.home] {
        rs.allow(p, all)?;
    }
    for p in ["/tmp", "/dev/shm", "/run", "/dev/pts"] {
        rs.allow(Path::new(p), all)?;
    }
    let dev_rw =
        landlock::READ_FILE | landlock::WRITE_FILE | landlock::TRUNCATE | landlock::IOCTL_DEV;
    for d in [
        "null", "zero", "full", "random", "urandom", "tty", "pts/ptmx",
    ] {
        rs.allow(&Path::new("/dev").join(d), dev_rw)?;
    }
    Ok(rs)
}

struct Job {
    pid: libc::pid_t,
    status_rx: OwnedFd,
    deadline: Option<Instant>,
    timed_out: bool,
}

fn init(sock: &UnixStream, policy: &Policy, workspace_mount: Option<OwnedFd>) -> io::Result<()> {
    sys::set_pdeathsig()?;
    let last_cap = caps::last_cap();
    view::build(policy, workspace_mount)?;
    sys::loopback_up()?;
    let host = sys::cstring(&policy.hostname)?;
    // SAFETY: valid C string and length.
    sys::check(
        unsafe { libc::sethostname(host.as_ptr(), policy.hostname.len()) } as i64,
        "sethostname",
    )?;
    let mut h = hardening()?;
    h.last_cap = last_cap;
    protocol::send(
        sock,
        &Event::Ready(ReadyInfo {
            landlock_abi: h.landlock_abi,
            landlock_scoped: h.landlock_scoped,
            seccomp: true,
        }),
        &[],
    )?;
    serve(sock, policy, &h)
}

/// Blocks SIGCHLD and returns a signalfd for it.
fn sigchld_fd() -> io::Result<OwnedFd> {
    // SAFETY: local, initialised signal set; the returned fd is owned.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        sys::check(
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) as i64,
            "blocking SIGCHLD",
        )?;
        let fd = sys::check(
            libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) as i64,
            "signalfd",
        )?;
        Ok(OwnedFd::from_raw_fd(fd as RawFd))
    }
}

fn serve(sock: &UnixStream, policy: &Policy, h: &Hardening) -> io::Result<()> {
    let sigfd = sigchld_fd()?;
    let mut jobs: HashMap<u64, Job> = HashMap::new();
    loop {
        let now = Instant::now();
        let timeout_ms = jobs
            .values()
            .filter_map(|j| j.deadline)
            .map(|d| d.saturating_duration_since(now).as_millis() as i64)
            .min()
            .map_or(-1, |ms| ms.min(i32::MAX as i64));
        let mut pfds = [
            libc::pollfd {
                fd: sock.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: sigfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: a local array of pollfd of the length passed.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), 2, timeout_ms as libc::c_int) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if pfds[1].revents & libc::POLLIN != 0 {
            let mut buf = [0u8; 128 * 8];
            let mut f = std::fs::File::from(sigfd.try_clone()?);
            let _ = f.read(&mut buf);
            reap(sock, &mut jobs)?;
        }
        if pfds[0].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
            match protocol::recv::<Request>(sock)? {
                None => break,
                Some((Request::Exec(spec), fds)) => {
                    let id = spec.id;
                    match spawn(&spec, fds, policy, h) {
                        Ok(job) => {
                            jobs.insert(id, job);
                            protocol::send(sock, &Event::Started { id }, &[])?;
                        }
                        Err(e) => protocol::send(
                            sock,
                            &Event::SpawnFailed {
                                id,
                                reason: e.to_string(),
                            },
                            &[],
                        )?,
                    }
                }
                Some((Request::Kill { id }, _)) => {
                    if let Some(j) = jobs.get(&id) {
                        kill(j.pid);
                    }
                }
                Some((Request::Setup(_), _)) => {}
            }
        }
        let now = Instant::now();
        for j in jobs.values_mut() {
            if j.deadline.is_some_and(|d| d <= now) && !j.timed_out {
                j.timed_out = true;
                kill(j.pid);
            }
        }
    }
    // The host went away: end every command.
    for j in jobs.values() {
        kill(j.pid);
    }
    Ok(())
}

fn kill(pid: libc::pid_t) {
    // SAFETY: SIGKILL to a job's init, which we started; its pid namespace dies with it.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

/// Collects finished commands and reports them.
fn reap(sock: &UnixStream, jobs: &mut HashMap<u64, Job>) -> io::Result<()> {
    loop {
        let mut status = 0;
        // SAFETY: non-blocking wait for any child.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return Ok(());
        }
        let Some(id) = jobs.iter().find(|(_, j)| j.pid == pid).map(|(id, _)| *id) else {
            continue;
        };
        let Some(job) = jobs.remove(&id) else {
            continue;
        };
        // The job's init wrote the command's status, unless it was killed first.
        let mut buf = [0u8; 9];
        let mut f = std::fs::File::from(job.status_rx);
        let got = read_full(&mut f, &mut buf);
        let (code, signal) = if got == 9 {
            let v = i32::from_le_bytes([buf[1], buf[2], buf[3], buf[4]]);
            match buf[0] {
                b'x' | b'e' => (Some(v), None),
                _ => (None, Some(v)),
            }
        } else {
            (None, Some(libc::SIGKILL))
        };
        protocol::send(
            sock,
            &Event::Exited {
                id,
                code,
                signal,
                timed_out: job.timed_out,
            },
            &[],
        )?;
    }
}

fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    n
}

/// Starts one command in a pid and mount namespace of its own.
fn spawn(
    spec: &ExecSpec,
    mut fds: Vec<OwnedFd>,
    policy: &Policy,
    h: &Hardening,
) -> io::Result<Job> {
    let out = fds
        .pop()
        .ok_or_else(|| io::Error::other("the output descriptor is missing"))?;
    let stdin = if spec.stdin { fds.pop() } else { None };
    let argv: Vec<CString> = spec
        .argv
        .iter()
        .map(|a| sys::cstring(a))
        .collect::<io::Result<_>>()?;
    let env: Vec<CString> = spec
        .env
        .iter()
        .map(|(k, v)| sys::cstring(&format!("{k}={v}")))
        .collect::<io::Result<_>>()?;
    let (status_rx, status_tx) = sys::pipe()?;
    let pid = sys::clone_fork((libc::CLONE_NEWPID | libc::CLONE_NEWNS) as u64)?;
    if pid == 0 {
        drop(status_rx);
        let code = job_init(
            spec,
            &argv,
            &env,
            stdin.as_ref(),
            &out,
            &status_tx,
            policy,
            h,
        );
        sys::exit_now(code);
    }
    drop(status_tx);
    drop(out);
    drop(stdin);
    Ok(Job {
        pid,
        status_rx,
        deadline: spec
            .timeout_ms
            .map(|ms| Instant::now() + Duration::from_millis(ms)),
        timed_out: false,
    })
}

/// PID 1 of a command's pid namespace: starts the command, reaps everything, reports the
/// command's status, and exits — which kills whatever the command left behind.
#[allow(clippy::too_many_arguments)]
fn job_init(
    spec: &ExecSpec,
    argv: &[CString],
    env: &[CString],
    stdin: Option<&OwnedFd>,
    out: &OwnedFd,
    status_tx: &OwnedFd,
    policy: &Policy,
    h: &Hardening,
) -> i32 {
    let _ = sys::set_pdeathsig();
    let fail = |what: &str, e: io::Error| {
        let line = format!("hermes sandbox: could not start the command: {what}: {e}\n");
        // SAFETY: plain writes of local buffers to our own pipes.
        unsafe {
            libc::write(
                out.as_raw_fd(),
                line.as_ptr() as *const libc::c_void,
                line.len(),
            );
            let msg = [b'e', 127, 0, 0, 0, 0, 0, 0, 0];
            libc::write(
                status_tx.as_raw_fd(),
                msg.as_ptr() as *const libc::c_void,
                msg.len(),
            );
        }
        1
    };
    // A /proc that shows only this command's processes.
    if let Err(e) = sys::mount(
        None,
        Path::new("/proc"),
        Some("proc"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        None,
    ) {
        return fail("mounting /proc", e);
    }
    let rules = match ruleset(policy) {
        Ok(r) => r,
        Err(e) => return fail("landlock", e),
    };
    let _ = caps::non_dumpable();
    let (err_rx, err_tx) = match sys::pipe() {
        Ok(p) => p,
        Err(_) => return 1,
    };
    let pid = match sys::fork() {
        Ok(p) => p,
        Err(_) => return 1,
    };
    if pid == 0 {
        drop(err_rx);
        let e = command(
            spec,
            argv,
            env,
            stdin,
            out,
            err_tx.as_raw_fd(),
            policy,
            h,
            &rules,
        );
        let mut f = std::fs::File::from(err_tx);
        let _ = f.write_all(e.to_string().as_bytes());
        sys::exit_now(127);
    }
    drop(err_tx);
    let mut cmd_status = None;
    loop {
        let mut status = 0;
        // SAFETY: waiting for any child of this pid namespace.
        let r = unsafe { libc::waitpid(-1, &mut status, 0) };
        if r == pid {
            cmd_status = Some(status);
            break;
        }
        if r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD) {
            break;
        }
    }
    let mut err = String::new();
    let _ = std::fs::File::from(err_rx).read_to_string(&mut err);
    let mut msg = [0u8; 9];
    match cmd_status {
        Some(s) if !err.is_empty() => {
            let _ = s;
            msg[0] = b'e';
            msg[1..5].copy_from_slice(&127i32.to_le_bytes());
        }
        Some(s) if libc::WIFEXITED(s) => {
            msg[0] = b'x';
            msg[1..5].copy_from_slice(&libc::WEXITSTATUS(s).to_le_bytes());
        }
        Some(s) if libc::WIFSIGNALED(s) => {
            msg[0] = b's';
            msg[1..5].copy_from_slice(&libc::WTERMSIG(s).to_le_bytes());
        }
        _ => {
            msg[0] = b's';
            msg[1..5].copy_from_slice(&libc::SIGKILL.to_le_bytes());
        }
    }
    // SAFETY: a plain write of a local buffer to our status pipe.
    unsafe {
        libc::write(
            status_tx.as_raw_fd(),
            msg.as_ptr() as *const libc::c_void,
            msg.len(),
        );
    }
    if !err.is_empty() {
        // Tell the user why the command never ran, through its own output.
        let line = format!("hermes sandbox: could not start the command: {err}\n");
        // SAFETY: a plain write to the command's output pipe.
        unsafe {
            libc::write(
                out.as_raw_fd(),
                line.as_ptr() as *const libc::c_void,
                line.len(),
            );
        }
    }
    0
}

/// The command's own process: applies every restriction, then executes. Returns only on
/// failure.
#[allow(clippy::too_many_arguments)]
fn command(
    spec: &ExecSpec,
    argv: &[CString],
    env: &[CString],
    stdin: Option<&OwnedFd>,
    out: &OwnedFd,
    err_fd: RawFd,
    policy: &Policy,
    h: &Hardening,
    rules: &Ruleset,
) -> io::Error {
    let stage = |what: &str, e: io::Error| io::Error::new(e.kind(), format!("{what}: {e}"));
    // SAFETY: setsid in a fresh child; cannot fail except when already a group leader.
    unsafe {
        libc::setsid();
    }
    if spec.pty
        && let Some(tty) = stdin
    {
        // SAFETY: TIOCSCTTY on the terminal we were given, as a new session leader.
        if unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
            return stage("controlling terminal", io::Error::last_os_error());
        }
    }
    let devnull;
    let stdin_fd = match stdin {
        Some(fd) => fd.as_raw_fd(),
        None => {
            // SAFETY: opening /dev/null read-only.
            devnull = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
            devnull
        }
    };
    for (from, to) in [(stdin_fd, 0), (out.as_raw_fd(), 1), (out.as_raw_fd(), 2)] {
        if let Err(e) = sys::dup2(from, to) {
            return stage("setting up stdio", e);
        }
    }
    if let Err(e) = std::env::set_current_dir(&spec.cwd) {
        return stage(&format!("working directory {}", spec.cwd), e);
    }
    if let Err(e) = limits(policy) {
        return stage("resource limits", e);
    }
    if let Err(e) = caps::drop_all(h.last_cap) {
        return e;
    }
    if let Err(e) = caps::no_new_privs() {
        return e;
    }
    if let Err(e) = rules.restrict_self() {
        return stage("landlock", e);
    }
    if let Err(e) = seccomp::apply(&h.filters) {
        return e;
    }
    // Nothing else is inherited (the ruleset and control descriptors included), except
    // the error pipe, which is close-on-exec and reports a failure before exec.
    let keep = err_fd as u32;
    // SAFETY: close_range on descriptors this process owns.
    unsafe {
        if keep > 3 {
            libc::syscall(libc::SYS_close_range, 3u32, keep - 1, 0u32);
        }
        libc::syscall(libc::SYS_close_range, keep + 1, u32::MAX, 0u32);
    }
    // Default signal handling and an empty mask for the command.
    // SAFETY: resetting the mask and dispositions of this process.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        for sig in 1..32 {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut env_p: Vec<*const libc::c_char> = env.iter().map(|a| a.as_ptr()).collect();
    env_p.push(std::ptr::null());
    // SAFETY: null-terminated arrays of valid C strings, alive for the call.
    unsafe {
        libc::execve(argv_p[0], argv_p.as_ptr(), env_p.as_ptr());
    }
    stage(
        &format!("executing {}", argv[0].to_string_lossy()),
        io::Error::last_os_error(),
    )
}

fn limits(policy: &Policy) -> io::Result<()> {
    let l = &policy.limits;
    sys::setrlimit(libc::RLIMIT_CORE, 0)?;
    sys::setrlimit(libc::RLIMIT_NOFILE, l.open_files)?;
    sys::setrlimit(libc::RLIMIT_FSIZE, l.file_size_bytes)?;
    sys::setrlimit(libc::RLIMIT_NPROC, l.pids)?;
    if l.address_space_bytes > 0 {
        sys::setrlimit(libc::RLIMIT_AS, l.address_space_bytes)?;
    }
    if l.cpu_seconds > 0 {
        sys::setrlimit(libc::RLIMIT_CPU, l.cpu_seconds)?;
    }
    Ok(())
}
