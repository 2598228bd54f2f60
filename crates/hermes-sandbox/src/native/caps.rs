//! Dropping every privilege a command could use: capabilities (effective, permitted,
//! inheritable, ambient, bounding), the "root gets all capabilities on exec" rule
//! (securebits), and setuid/file-capability gains (no_new_privs).

use std::io;

const SECBIT_NOROOT: libc::c_ulong = 1 << 0;
const SECBIT_NOROOT_LOCKED: libc::c_ulong = 1 << 1;
const SECBIT_NO_SETUID_FIXUP: libc::c_ulong = 1 << 2;
const SECBIT_NO_SETUID_FIXUP_LOCKED: libc::c_ulong = 1 << 3;
const SECBIT_KEEP_CAPS_LOCKED: libc::c_ulong = 1 << 5;
const SECBIT_NO_CAP_AMBIENT_RAISE: libc::c_ulong = 1 << 6;
const SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED: libc::c_ulong = 1 << 7;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

fn check(rc: libc::c_int, what: &str) -> io::Result<()> {
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::other(format!("{what}: {e}")));
    }
    Ok(())
}

/// The highest capability number the kernel knows.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// Drops every capability for good. `last_cap` comes from [`last_cap`], read before the
/// view hides `/proc/sys` (it does not here, but callers should not depend on that).
pub fn drop_all(last_cap: u32) -> io::Result<()> {
    // SAFETY (all calls below): prctl/capset with integer arguments or pointers to local,
    // initialised structs; no memory is shared with the kernel beyond the call.
    unsafe {
        check(
            libc::prctl(
                libc::PR_SET_SECUREBITS,
                SECBIT_NOROOT
                    | SECBIT_NOROOT_LOCKED
                    | SECBIT_NO_SETUID_FIXUP
                    | SECBIT_NO_SETUID_FIXUP_LOCKED
                    | SECBIT_KEEP_CAPS_LOCKED
                    | SECBIT_NO_CAP_AMBIENT_RAISE
                    | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
            ),
            "setting securebits",
        )?;
        for cap in 0..=last_cap {
            let rc = libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong);
            // EINVAL: a capability this kernel does not know.
            if rc < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
                check(rc, "dropping the bounding set")?;
            }
        }
        check(
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                0,
                0,
                0,
            ),
            "clearing ambient capabilities",
        )?;
        let header = CapHeader {
            version: LINUX_CAPABILITY_VERSION_3,
            pid: 0,
        };
        let data = [CapData {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        }; 2];
        check(
            libc::syscall(libc::SYS_capset, &header, data.as_ptr()) as libc::c_int,
            "clearing capabilities",
        )?;
    }
    Ok(())
}

/// Sets `PR_SET_NO_NEW_PRIVS`: setuid bits and file capabilities no longer grant anything.
pub fn no_new_privs() -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    check(
        unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) },
        "setting no_new_privs",
    )
}

/// Makes the calling process non-dumpable: same-uid processes cannot read its memory or
/// `/proc/PID/environ`, and it cannot be ptrace-attached.
pub fn non_dumpable() -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    check(
        unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) },
        "making the process non-dumpable",
    )
}
