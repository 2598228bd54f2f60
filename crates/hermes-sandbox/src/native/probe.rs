//! What this machine offers the native sandbox, for `hermes sandbox doctor` and for
//! choosing a backend.

use std::path::Path;

use super::{cgroup, landlock};

/// The machine's sandboxing posture.
#[derive(Debug, Clone)]
pub struct Posture {
    pub kernel: String,
    pub arch: String,
    /// `Ok(())` when unprivileged user namespaces can be created, else why not.
    pub user_namespaces: Result<(), String>,
    pub landlock_abi: u32,
    pub seccomp: bool,
    pub cgroups: cgroup::Mode,
    pub euid: u32,
}

impl Posture {
    /// Whether everything the native sandbox requires is present.
    pub fn ready(&self) -> Result<(), String> {
        self.user_namespaces.clone()?;
        if self.landlock_abi == 0 {
            return Err(
                "Landlock is not available (needs Linux 5.13+ with Landlock enabled in \
                        the boot LSM list)"
                    .into(),
            );
        }
        if !self.seccomp {
            return Err("seccomp filtering is not available in this kernel".into());
        }
        if !matches!(self.arch.as_str(), "x86_64" | "aarch64") {
            return Err(format!("no seccomp filter is defined for {}", self.arch));
        }
        Ok(())
    }
}

fn read_trim(p: &str) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Probes user namespaces without creating one in this (possibly multi-threaded) process:
/// by the sysctls that disable them and, when unclear, a short-lived child.
fn user_namespaces() -> Result<(), String> {
    if read_trim("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return Err("user namespaces are disabled (user.max_user_namespaces = 0)".into());
    }
    if read_trim("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return Err(
            "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0)"
                .into(),
        );
    }
    if read_trim("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        return Err("AppArmor restricts unprivileged user namespaces \
                    (kernel.apparmor_restrict_unprivileged_userns = 1)"
            .into());
    }
    if !Path::new("/proc/self/ns/user").exists() {
        return Err("this kernel has no user namespaces".into());
    }
    Ok(())
}

pub fn posture() -> Posture {
    // SAFETY: uname into a local struct; prctl(PR_GET_SECCOMP) and geteuid have no side
    // effects.
    let (kernel, arch, seccomp, euid) = unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        libc::uname(&mut u);
        let s = |f: &[libc::c_char]| {
            std::ffi::CStr::from_ptr(f.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        (
            s(&u.release),
            s(&u.machine),
            libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) >= 0,
            libc::geteuid(),
        )
    };
    Posture {
        kernel,
        arch,
        user_namespaces: user_namespaces(),
        landlock_abi: landlock::abi(),
        seccomp,
        cgroups: cgroup::detect(),
        euid,
    }
}
