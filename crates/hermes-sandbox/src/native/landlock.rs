//! Landlock, through its three system calls: the inner filesystem (and, where the ABI
//! has them, signal and abstract-socket) restrictions applied to every command.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

// Filesystem access rights (include/uapi/linux/landlock.h).
pub const EXECUTE: u64 = 1 << 0;
pub const WRITE_FILE: u64 = 1 << 1;
pub const READ_FILE: u64 = 1 << 2;
pub const READ_DIR: u64 = 1 << 3;
pub const REMOVE_DIR: u64 = 1 << 4;
pub const REMOVE_FILE: u64 = 1 << 5;
pub const MAKE_CHAR: u64 = 1 << 6;
pub const MAKE_DIR: u64 = 1 << 7;
pub const MAKE_REG: u64 = 1 << 8;
pub const MAKE_SOCK: u64 = 1 << 9;
pub const MAKE_FIFO: u64 = 1 << 10;
pub const MAKE_BLOCK: u64 = 1 << 11;
pub const MAKE_SYM: u64 = 1 << 12;
/// ABI 2.
pub const REFER: u64 = 1 << 13;
/// ABI 3.
pub const TRUNCATE: u64 = 1 << 14;
/// ABI 5.
pub const IOCTL_DEV: u64 = 1 << 15;

// Scopes (ABI 6).
pub const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
pub const SCOPE_SIGNAL: u64 = 1 << 1;

const CREATE_RULESET_VERSION: u32 = 1 << 0;
const RULE_PATH_BENEATH: libc::c_int = 1;

/// Read and execute.
pub const READ: u64 = EXECUTE | READ_FILE | READ_DIR;

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// The Landlock ABI version the kernel offers; 0 when Landlock is unavailable.
pub fn abi() -> u32 {
    // SAFETY: the version query takes no attribute pointer and has no side effects.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    if v < 0 { 0 } else { v as u32 }
}

/// Every filesystem right an ABI version knows.
pub fn fs_rights(abi: u32) -> u64 {
    let mut r = (MAKE_SYM << 1) - 1; // ABI 1: bits 0..=12
    if abi >= 2 {
        r |= REFER;
    }
    if abi >= 3 {
        r |= TRUNCATE;
    }
    if abi >= 5 {
        r |= IOCTL_DEV;
    }
    r
}

/// Write-side rights (everything but read and execute).
pub fn write_rights(abi: u32) -> u64 {
    fs_rights(abi) & !READ
}

/// A ruleset under construction; applied with [`Ruleset::restrict_self`].
#[derive(Debug)]
pub struct Ruleset {
    fd: OwnedFd,
    handled: u64,
    pub abi: u32,
    pub scoped: u64,
}

impl Ruleset {
    /// A ruleset that handles every filesystem right of the running ABI (nothing is allowed
    /// unless a rule grants it) and, on ABI ≥ 6, scopes signals and abstract sockets to the
    /// sandbox.
    pub fn new() -> io::Result<Ruleset> {
        let abi = abi();
        if abi == 0 {
            return Err(io::Error::other(
                "Landlock is not available (kernel without Landlock, or disabled at boot)",
            ));
        }
        let handled = fs_rights(abi);
        let scoped = if abi >= 6 {
            SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        } else {
            0
        };
        let attr = RulesetAttr {
            handled_access_fs: handled,
            handled_access_net: 0,
            scoped,
        };
        // Older ABIs do not know the `scoped` field; pass the size they understand.
        let size = if abi >= 6 {
            std::mem::size_of::<RulesetAttr>()
        } else {
            2 * std::mem::size_of::<u64>()
        };
        // SAFETY: `attr` is a valid, initialised struct of at least `size` bytes.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                &attr as *const RulesetAttr,
                size,
                0u32,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel returned a new file descriptor we now own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        Ok(Ruleset {
            fd,
            handled,
            abi,
            scoped,
        })
    }

    /// Allows `access` beneath `path`. Missing paths are skipped (returns `Ok(false)`).
    pub fn allow(&mut self, path: &Path, access: u64) -> io::Result<bool> {
        let c = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| io::Error::other("path contains a NUL byte"))?;
        // SAFETY: `c` is a valid C string; O_PATH opens are side-effect free.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
        if fd < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENOENT) {
                return Ok(false);
            }
            return Err(io::Error::other(format!("{}: {e}", path.display())));
        }
        // SAFETY: a descriptor we just opened.
        let parent = unsafe { OwnedFd::from_raw_fd(fd) };
        let is_dir = std::fs::metadata(path).map(|m| m.is_dir()).unwrap_or(false);
        // Rights that only make sense on directories are refused on files by the kernel.
        let mut access = access & self.handled;
        if !is_dir {
            access &= EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV;
        }
        let attr = PathBeneathAttr {
            allowed_access: access,
            parent_fd: parent.as_raw_fd(),
        };
        // SAFETY: valid ruleset fd and attribute struct.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                self.fd.as_raw_fd(),
                RULE_PATH_BENEATH,
                &attr as *const PathBeneathAttr,
                0u32,
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::other(format!(
                "landlock rule for {}: {e}",
                path.display()
            )));
        }
        Ok(true)
    }

    /// Enforces the ruleset on the calling thread and its future children. Requires
    /// `PR_SET_NO_NEW_PRIVS` (or CAP_SYS_ADMIN) first.
    pub fn restrict_self(&self) -> io::Result<()> {
        // SAFETY: valid ruleset fd; flags 0.
        let rc =
            unsafe { libc::syscall(libc::SYS_landlock_restrict_self, self.fd.as_raw_fd(), 0u32) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}
