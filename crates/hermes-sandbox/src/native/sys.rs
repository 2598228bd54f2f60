//! Thin wrappers over the Linux system calls the sandbox uses, returning `io::Result` with
//! the call named in the error. All of them are used from single-threaded processes (the
//! helper, the sandbox init and its forked children).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

pub fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::other(format!("{} contains a NUL byte", p.display())))
}

pub fn cstring(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::other(format!("{s:?} contains a NUL byte")))
}

fn fail(what: impl std::fmt::Display) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Checks a libc return value (negative = failure).
pub fn check(rc: i64, what: impl std::fmt::Display) -> io::Result<i64> {
    if rc < 0 { Err(fail(what)) } else { Ok(rc) }
}

pub fn unshare(flags: libc::c_int) -> io::Result<()> {
    // SAFETY: unshare takes a flag word only.
    check(unsafe { libc::unshare(flags) } as i64, "unshare").map(|_| ())
}

pub fn mount(
    src: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> io::Result<()> {
    let src_c = src.map(cstr).transpose()?;
    let target_c = cstr(target)?;
    let fs_c = fstype.map(cstring).transpose()?;
    let data_c = data.map(cstring).transpose()?;
    // SAFETY: every pointer is a valid C string or null, alive for the call.
    let rc = unsafe {
        libc::mount(
            src_c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            target_c.as_ptr(),
            fs_c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            flags,
            data_c
                .as_ref()
                .map_or(std::ptr::null(), |c| c.as_ptr() as *const libc::c_void),
        )
    };
    check(
        rc as i64,
        format_args!(
            "mount {} on {}",
            src.map_or_else(
                || fstype.unwrap_or("?").to_string(),
                |s| s.display().to_string()
            ),
            target.display()
        ),
    )
    .map(|_| ())
}

pub fn umount_detach(target: &Path) -> io::Result<()> {
    let c = cstr(target)?;
    // SAFETY: valid C string.
    check(
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } as i64,
        format_args!("unmount {}", target.display()),
    )
    .map(|_| ())
}

pub fn pivot_root(new_root: &Path, put_old: &Path) -> io::Result<()> {
    let a = cstr(new_root)?;
    let b = cstr(put_old)?;
    // SAFETY: valid C strings.
    check(
        unsafe { libc::syscall(libc::SYS_pivot_root, a.as_ptr(), b.as_ptr()) },
        "pivot_root",
    )
    .map(|_| ())
}

pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
const AT_RECURSIVE: libc::c_uint = 0x8000;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Sets mount attributes on `target` (and, with `recursive`, every mount below it).
pub fn mount_setattr(target: &Path, set: u64, recursive: bool) -> io::Result<()> {
    let c = cstr(target)?;
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: valid C string and attribute struct of the size passed.
    check(
        unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                libc::AT_FDCWD,
                c.as_ptr(),
                flags,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            )
        },
        format_args!("mount_setattr {}", target.display()),
    )
    .map(|_| ())
}

/// Makes `target` an idmapped mount using the user namespace `userns`.
pub fn mount_setattr_idmap(mount_fd: RawFd, userns: RawFd) -> io::Result<()> {
    let empty = c"";
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns as u64,
    };
    // SAFETY: valid descriptors and attribute struct.
    check(
        unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                mount_fd,
                empty.as_ptr(),
                libc::AT_EMPTY_PATH as libc::c_uint,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            )
        },
        "making the idmapped workspace mount",
    )
    .map(|_| ())
}

/// A detached copy of the mount at `path` (`open_tree(OPEN_TREE_CLONE)`).
pub fn open_tree_clone(path: &Path) -> io::Result<OwnedFd> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    let c = cstr(path)?;
    // SAFETY: valid C string; the result is a new descriptor we own.
    let fd = check(
        unsafe {
            libc::syscall(
                libc::SYS_open_tree,
                libc::AT_FDCWD,
                c.as_ptr(),
                OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
            )
        },
        format_args!("open_tree {}", path.display()),
    )?;
    // SAFETY: a descriptor the kernel just returned.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Attaches a detached mount (`mount_fd`) at `target`.
pub fn move_mount(mount_fd: RawFd, target: &Path) -> io::Result<()> {
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
    let empty = c"";
    let t = cstr(target)?;
    // SAFETY: valid descriptor and C strings.
    check(
        unsafe {
            libc::syscall(
                libc::SYS_move_mount,
                mount_fd,
                empty.as_ptr(),
                libc::AT_FDCWD,
                t.as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH,
            )
        },
        format_args!("attach mount at {}", target.display()),
    )
    .map(|_| ())
}

/// `clone` with namespace flags, fork-like (no new stack, no shared memory). Returns 0 in
/// the child. Only called from single-threaded processes.
pub fn clone_fork(flags: u64) -> io::Result<libc::pid_t> {
    #[repr(C)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
        cgroup: u64,
    }
    let args = CloneArgs {
        flags,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: 0,
    };
    // SAFETY: clone3 without CLONE_VM behaves like fork; the caller is single-threaded.
    let pid = check(
        unsafe {
            libc::syscall(
                libc::SYS_clone3,
                &args as *const CloneArgs,
                std::mem::size_of::<CloneArgs>(),
            )
        },
        "clone3",
    )?;
    Ok(pid as libc::pid_t)
}

pub fn fork() -> io::Result<libc::pid_t> {
    // SAFETY: called only from single-threaded processes.
    check(unsafe { libc::fork() } as i64, "fork").map(|p| p as libc::pid_t)
}

/// Ends the process immediately (no destructors or atexit handlers: safe after fork).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and is async-signal-safe.
    unsafe { libc::_exit(code) }
}

pub fn set_pdeathsig() -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    check(
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } as i64,
        "PR_SET_PDEATHSIG",
    )
    .map(|_| ())
}

pub fn write_file(path: &str, data: &str) -> io::Result<()> {
    std::fs::write(path, data).map_err(|e| io::Error::new(e.kind(), format!("writing {path}: {e}")))
}

/// A pipe with both ends close-on-exec.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    check(
        unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } as i64,
        "pipe2",
    )?;
    // SAFETY: the kernel returned two new descriptors we now own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub fn dup2(from: RawFd, to: RawFd) -> io::Result<()> {
    // SAFETY: plain descriptor numbers.
    check(unsafe { libc::dup2(from, to) } as i64, "dup2").map(|_| ())
}

pub fn raw<T: AsRawFd>(f: &T) -> RawFd {
    f.as_raw_fd()
}

pub fn setrlimit(resource: libc::__rlimit_resource_t, value: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: pointer to a local, initialised struct.
    check(
        unsafe { libc::setrlimit(resource, &lim) } as i64,
        format_args!("setrlimit {resource}"),
    )
    .map(|_| ())
}

/// Brings the loopback interface of the current network namespace up.
pub fn loopback_up() -> io::Result<()> {
    // SAFETY: a throwaway datagram socket and SIOC{G,S}IFFLAGS ioctls on a local ifreq.
    unsafe {
        let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        check(s as i64, "socket for loopback setup")?;
        let s = OwnedFd::from_raw_fd(s);
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        check(
            libc::ioctl(s.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) as i64,
            "reading loopback flags",
        )?;
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        check(
            libc::ioctl(s.as_raw_fd(), libc::SIOCSIFFLAGS, &req) as i64,
            "bringing loopback up",
        )?;
    }
    Ok(())
}
