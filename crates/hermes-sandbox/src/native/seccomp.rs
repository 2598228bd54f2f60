//! The seccomp filter every command runs under: allow by default, refuse the system calls a
//! sandboxed command never needs and an escape would (ptrace, namespaces, mounts, keyrings,
//! BPF, io_uring, kernel modules, terminal injection, non-IP sockets).

use std::collections::BTreeMap;
use std::io;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op,
    SeccompCondition as Cond, SeccompFilter, SeccompRule, TargetArch,
};

/// System calls refused with EPERM whatever their arguments.
const DENIED: &[(&str, i64)] = &[
    ("ptrace", libc::SYS_ptrace),
    ("process_vm_readv", libc::SYS_process_vm_readv),
    ("process_vm_writev", libc::SYS_process_vm_writev),
    ("pidfd_getfd", libc::SYS_pidfd_getfd),
    ("kcmp", libc::SYS_kcmp),
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("io_uring_register", libc::SYS_io_uring_register),
    ("keyctl", libc::SYS_keyctl),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
    ("bpf", libc::SYS_bpf),
    ("perf_event_open", libc::SYS_perf_event_open),
    ("userfaultfd", libc::SYS_userfaultfd),
    ("fanotify_init", libc::SYS_fanotify_init),
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("pivot_root", libc::SYS_pivot_root),
    ("chroot", libc::SYS_chroot),
    ("move_mount", libc::SYS_move_mount),
    ("open_tree", libc::SYS_open_tree),
    ("fsopen", libc::SYS_fsopen),
    ("fsconfig", libc::SYS_fsconfig),
    ("fsmount", libc::SYS_fsmount),
    ("fspick", libc::SYS_fspick),
    ("mount_setattr", libc::SYS_mount_setattr),
    ("unshare", libc::SYS_unshare),
    ("setns", libc::SYS_setns),
    ("kexec_load", libc::SYS_kexec_load),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("init_module", libc::SYS_init_module),
    ("finit_module", libc::SYS_finit_module),
    ("delete_module", libc::SYS_delete_module),
    ("acct", libc::SYS_acct),
    ("swapon", libc::SYS_swapon),
    ("swapoff", libc::SYS_swapoff),
    ("reboot", libc::SYS_reboot),
    ("settimeofday", libc::SYS_settimeofday),
    ("clock_settime", libc::SYS_clock_settime),
    ("clock_adjtime", libc::SYS_clock_adjtime),
    ("adjtimex", libc::SYS_adjtimex),
    ("syslog", libc::SYS_syslog),
    ("quotactl", libc::SYS_quotactl),
    ("open_by_handle_at", libc::SYS_open_by_handle_at),
    ("name_to_handle_at", libc::SYS_name_to_handle_at),
    ("vhangup", libc::SYS_vhangup),
    #[cfg(target_arch = "x86_64")]
    ("iopl", libc::SYS_iopl),
    #[cfg(target_arch = "x86_64")]
    ("ioperm", libc::SYS_ioperm),
    #[cfg(target_arch = "x86_64")]
    ("uselib", libc::SYS_uselib),
];

/// Namespace flags that `clone` may not use.
const CLONE_NS_FLAGS: &[u64] = &[
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWCGROUP as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWNET as u64,
    0x80, // CLONE_NEWTIME
];

/// Terminal ioctls that inject input into, or control, another terminal.
#[allow(clippy::unnecessary_cast)] // the type of these constants differs between targets
const DENIED_IOCTLS: &[u64] = &[libc::TIOCSTI as u64, libc::TIOCLINUX as u64];

/// Syscall names the filter refuses, for `hermes sandbox doctor` and the docs.
pub fn denied_names() -> Vec<&'static str> {
    let mut v: Vec<&str> = DENIED.iter().map(|(n, _)| *n).collect();
    v.extend([
        "clone (namespace flags)",
        "clone3",
        "socket (families other than inet/inet6)",
        "socketpair (families other than unix)",
        "ioctl TIOCSTI/TIOCLINUX",
    ]);
    v
}

fn arch() -> io::Result<TargetArch> {
    match std::env::consts::ARCH {
        "x86_64" => Ok(TargetArch::x86_64),
        "aarch64" => Ok(TargetArch::aarch64),
        other => Err(io::Error::other(format!(
            "no seccomp filter is defined for the {other} architecture"
        ))),
    }
}

fn err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("seccomp filter: {e}"))
}

fn cond(arg: u8, len: Len, op: Op, value: u64) -> io::Result<Cond> {
    Cond::new(arg, len, op, value).map_err(err)
}

/// The two compiled filters: refusals with EPERM, and `clone3` with ENOSYS (so that libc
/// falls back to `clone`, whose flags the first filter can inspect).
pub fn build() -> io::Result<Vec<BpfProgram>> {
    let arch = arch()?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for (_, nr) in DENIED {
        rules.insert(*nr, Vec::new());
    }
    let mut clone_rules = Vec::new();
    for flag in CLONE_NS_FLAGS {
        clone_rules.push(
            SeccompRule::new(vec![cond(0, Len::Qword, Op::MaskedEq(*flag), *flag)?])
                .map_err(err)?,
        );
    }
    rules.insert(libc::SYS_clone, clone_rules);
    // socket(domain, …): only AF_INET and AF_INET6. No AF_UNIX clients, so no host unix
    // socket can be reached even if one were visible; no netlink, packet or raw families.
    rules.insert(
        libc::SYS_socket,
        vec![
            SeccompRule::new(vec![
                cond(0, Len::Dword, Op::Ne, libc::AF_INET as u64)?,
                cond(0, Len::Dword, Op::Ne, libc::AF_INET6 as u64)?,
            ])
            .map_err(err)?,
        ],
    );
    rules.insert(
        libc::SYS_socketpair,
        vec![
            SeccompRule::new(vec![cond(0, Len::Dword, Op::Ne, libc::AF_UNIX as u64)?])
                .map_err(err)?,
        ],
    );
    let mut ioctl_rules = Vec::new();
    for req in DENIED_IOCTLS {
        ioctl_rules.push(SeccompRule::new(vec![cond(1, Len::Dword, Op::Eq, *req)?]).map_err(err)?);
    }
    rules.insert(libc::SYS_ioctl, ioctl_rules);

    let deny = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(err)?;
    let mut clone3 = BTreeMap::new();
    clone3.insert(libc::SYS_clone3, Vec::new());
    let clone3 = SeccompFilter::new(
        clone3,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(err)?;
    Ok(vec![
        BpfProgram::try_from(deny).map_err(err)?,
        BpfProgram::try_from(clone3).map_err(err)?,
    ])
}

/// Installs compiled filters on the calling thread. Requires `PR_SET_NO_NEW_PRIVS`.
pub fn apply(filters: &[BpfProgram]) -> io::Result<()> {
    for f in filters {
        seccompiler::apply_filter(f).map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_compile() {
        let f = build().unwrap();
        assert_eq!(f.len(), 2);
        assert!(!f[0].is_empty());
        assert!(denied_names().contains(&"ptrace"));
    }
}
