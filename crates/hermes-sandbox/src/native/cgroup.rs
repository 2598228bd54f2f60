//! Resource limits through cgroups: v2 where its controllers are delegated to us, v1 where
//! we may write the v1 hierarchies (root), otherwise none — and then the rlimits applied
//! to every command are the only bound, which `hermes sandbox doctor` reports.

use std::io;
use std::path::{Path, PathBuf};

use super::policy::Limits;

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
const ROOT: &str = "/sys/fs/cgroup";

/// Which cgroup interface enforces limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Unified hierarchy: a delegated cgroup under which we create one per sandbox.
    V2 { parent: PathBuf },
    /// Legacy hierarchies (memory, pids, cpu), writable by us.
    V1 {
        memory: PathBuf,
        pids: PathBuf,
        cpu: Option<PathBuf>,
    },
    /// No usable cgroup: rlimits only.
    None { why: String },
}

impl Mode {
    pub fn name(&self) -> &'static str {
        match self {
            Mode::V2 { .. } => "cgroup v2",
            Mode::V1 { .. } => "cgroup v1",
            Mode::None { .. } => "rlimits only",
        }
    }

    /// Whether memory is bounded per sandbox (otherwise per process, by RLIMIT_AS).
    pub fn limits_memory(&self) -> bool {
        !matches!(self, Mode::None { .. })
    }
}

fn is_cgroup2(path: &Path) -> bool {
    let Ok(c) = super::sys::cstr(path) else {
        return false;
    };
    // SAFETY: statfs into a local, zeroed struct.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        libc::statfs(c.as_ptr(), &mut st) == 0 && st.f_type as i64 == CGROUP2_SUPER_MAGIC
    }
}

fn writable(p: &Path) -> bool {
    let Ok(c) = super::sys::cstr(p) else {
        return false;
    };
    // SAFETY: access() with a valid C string.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// Our own cgroup v2 path, from /proc/self/cgroup (`0::/path`).
fn own_v2_path() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some(Path::new(ROOT).join(rel.trim_start_matches('/')))
}

/// Finds the interface that can enforce memory and pids limits here.
pub fn detect() -> Mode {
    // cgroup v2: the unified hierarchy must be the main one and offer memory and pids to a
    // cgroup we may write.
    if is_cgroup2(Path::new(ROOT))
        && let Some(own) = own_v2_path()
    {
        // A delegated subtree: we can create children and enable controllers in it.
        let controllers =
            std::fs::read_to_string(own.join("cgroup.controllers")).unwrap_or_default();
        let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
        if has("memory") && has("pids") && writable(&own) {
            return Mode::V2 { parent: own };
        }
        return Mode::None {
            why: format!(
                "cgroup v2 is mounted but {} does not offer writable memory and pids \
                 controllers (available: '{}'); delegate a cgroup (e.g. run under \
                 systemd-run --user -p Delegate=yes) to enable them",
                own.display(),
                controllers.trim()
            ),
        };
    }
    let memory = Path::new(ROOT).join("memory");
    let pids = Path::new(ROOT).join("pids");
    if memory.join("tasks").exists() && pids.join("tasks").exists() {
        if writable(&memory) && writable(&pids) {
            let cpu = Path::new(ROOT).join("cpu");
            return Mode::V1 {
                memory,
                pids,
                cpu: (cpu.join("cpu.cfs_quota_us").exists() && writable(&cpu)).then_some(cpu),
            };
        }
        return Mode::None {
            why: "cgroup v1 controllers exist but are not writable by this user (run as root, \
                  or use cgroup v2 with delegation)"
                .into(),
        };
    }
    let unified = Path::new(ROOT).join("unified");
    if is_cgroup2(&unified) {
        let controllers =
            std::fs::read_to_string(unified.join("cgroup.controllers")).unwrap_or_default();
        return Mode::None {
            why: format!(
                "hybrid cgroups: the v2 mount offers only '{}' and the v1 hierarchies are not \
                 usable",
                controllers.trim()
            ),
        };
    }
    Mode::None {
        why: "no cgroup filesystem found".into(),
    }
}

/// The cgroup(s) of one sandbox; removed when dropped.
#[derive(Debug)]
pub struct SandboxCgroup {
    dirs: Vec<PathBuf>,
}

fn write(dir: &Path, file: &str, value: &str) -> io::Result<()> {
    std::fs::write(dir.join(file), value)
        .map_err(|e| io::Error::new(e.kind(), format!("{}/{file}: {e}", dir.display())))
}

impl SandboxCgroup {
    /// Creates the cgroup(s) for sandbox `name` with `limits` and moves `pid` into them.
    pub fn create(
        mode: &Mode,
        name: &str,
        limits: &Limits,
        pid: u32,
    ) -> io::Result<Option<SandboxCgroup>> {
        match mode {
            Mode::None { .. } => Ok(None),
            Mode::V2 { parent } => {
                let dir = parent.join(name);
                std::fs::create_dir(&dir)?;
                let cg = SandboxCgroup {
                    dirs: vec![dir.clone()],
                };
                // Enabling controllers for children can fail when the parent holds
                // processes; then the controllers may already be enabled by a delegate.
                let _ = write(parent, "cgroup.subtree_control", "+memory +pids +cpu");
                write(&dir, "memory.max", &limits.memory_bytes.to_string())?;
                let _ = write(&dir, "memory.swap.max", "0");
                write(&dir, "pids.max", &limits.pids.to_string())?;
                if limits.cpu_percent > 0 {
                    let _ = write(
                        &dir,
                        "cpu.max",
                        &format!("{} 100000", limits.cpu_percent * 1000),
                    );
                }
                write(&dir, "cgroup.procs", &pid.to_string())?;
                Ok(Some(cg))
            }
            Mode::V1 { memory, pids, cpu } => {
                let mut cg = SandboxCgroup { dirs: Vec::new() };
                let m = memory.join("hermes").join(name);
                std::fs::create_dir_all(&m)?;
                cg.dirs.push(m.clone());
                write(
                    &m,
                    "memory.limit_in_bytes",
                    &limits.memory_bytes.to_string(),
                )?;
                if m.join("memory.memsw.limit_in_bytes").exists() {
                    let _ = write(
                        &m,
                        "memory.memsw.limit_in_bytes",
                        &limits.memory_bytes.to_string(),
                    );
                }
                let p = pids.join("hermes").join(name);
                std::fs::create_dir_all(&p)?;
                cg.dirs.push(p.clone());
                write(&p, "pids.max", &limits.pids.to_string())?;
                let mut all = vec![m, p];
                if let Some(cpu) = cpu
                    && limits.cpu_percent > 0
                {
                    let c = cpu.join("hermes").join(name);
                    std::fs::create_dir_all(&c)?;
                    cg.dirs.push(c.clone());
                    write(&c, "cpu.cfs_period_us", "100000")?;
                    write(
                        &c,
                        "cpu.cfs_quota_us",
                        &(limits.cpu_percent * 1000).to_string(),
                    )?;
                    all.push(c);
                }
                for d in &all {
                    write(d, "tasks", &pid.to_string())?;
                }
                Ok(Some(cg))
            }
        }
    }
}

impl Drop for SandboxCgroup {
    fn drop(&mut self) {
        for d in &self.dirs {
            // Processes leave the cgroup as they are reaped; retry briefly.
            for _ in 0..50 {
                if std::fs::remove_dir(d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}
