//! Shared pieces of the `hermes` benchmarks: how many iterations, running one child process
//! with its wall time and peak RSS, and printing the results.
//!
//! Peak RSS comes from `wait4`'s `ru_maxrss` for the reaped child. Linux carries the
//! resident size a process had *before* `exec` into that figure (the spawner's memory, when
//! the child was cloned from it), so no child reads below what the spawner had resident
//! when it spawned it; each bench prints the spawner's peak, and `/bin/true` shows the floor
//! in practice.

use std::fmt::Write as _;
use std::process::Command;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// How the bench binary was started.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `cargo test --benches` / `--all-targets`: a few runs, only to prove the bench works.
    Smoke,
    /// `HERMES_BENCH_QUICK=1 cargo bench` (what CI runs).
    Quick,
    /// `cargo bench`.
    Full,
}

impl Mode {
    /// Reads the command line and `HERMES_BENCH_QUICK`. `None` when only a listing of
    /// benchmarks was asked for (`--list`), which has nothing to list.
    pub fn detect() -> Option<Mode> {
        let args: Vec<String> = std::env::args().collect();
        if args.iter().any(|a| a == "--list") {
            return None;
        }
        // `cargo bench` passes `--bench`; without it this runs as a test target.
        if !args.iter().any(|a| a == "--bench") {
            return Some(Mode::Smoke);
        }
        if std::env::var("HERMES_BENCH_QUICK").is_ok_and(|v| v == "1") {
            return Some(Mode::Quick);
        }
        Some(Mode::Full)
    }

    /// The iteration count for this mode.
    pub fn iterations(self, full: usize, quick: usize) -> usize {
        match self {
            Mode::Smoke => 3,
            Mode::Quick => quick,
            Mode::Full => full,
        }
    }

    /// A short label for the header.
    pub fn label(self) -> &'static str {
        match self {
            Mode::Smoke => "smoke run (no --bench)",
            Mode::Quick => "quick (HERMES_BENCH_QUICK=1)",
            Mode::Full => "full",
        }
    }
}

/// One finished child process.
pub struct Sample {
    /// From just before spawning to just after reaping.
    pub wall: Duration,
    /// `ru_maxrss` of the child, in KiB.
    pub maxrss_kib: i64,
}

/// Kills a child that runs past its deadline, so a hung binary fails the bench instead of
/// hanging it. One thread serves every run.
pub struct Watchdog {
    tx: Sender<Option<(libc::pid_t, Instant)>>,
}

impl Watchdog {
    pub fn start() -> Watchdog {
        let (tx, rx) = mpsc::channel::<Option<(libc::pid_t, Instant)>>();
        std::thread::spawn(move || {
            let mut armed: Option<(libc::pid_t, Instant)> = None;
            loop {
                let msg = match armed {
                    None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                    Some((_, deadline)) => {
                        rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    }
                };
                match msg {
                    Ok(next) => armed = next,
                    Err(RecvTimeoutError::Timeout) => {
                        if let Some((pid, _)) = armed.take() {
                            // SAFETY: kill(2) takes plain integers and touches no memory.
                            unsafe { libc::kill(pid, libc::SIGKILL) };
                        }
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        });
        Watchdog { tx }
    }

    fn arm(&self, pid: libc::pid_t, limit: Duration) {
        let _ = self.tx.send(Some((pid, Instant::now() + limit)));
    }

    fn disarm(&self) {
        let _ = self.tx.send(None);
    }
}

/// Spawns `cmd`, reaps it with `wait4`, and returns its wall time and peak RSS. A child that
/// exits non-zero, dies from a signal, or outlives `limit` (then it is killed) is an error
/// naming `what`.
pub fn run_once(
    cmd: &mut Command,
    what: &str,
    limit: Duration,
    watchdog: &Watchdog,
) -> Result<Sample, String> {
    let started = Instant::now();
    let child = cmd
        .spawn()
        .map_err(|e| format!("{what}: could not start the program: {e}"))?;
    let pid = libc::pid_t::try_from(child.id())
        .map_err(|_| format!("{what}: process id {} does not fit pid_t", child.id()))?;
    watchdog.arm(pid, limit);
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain integers and timevals; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live locals of the right types.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if reaped == -1 && err.kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        watchdog.disarm();
        return Err(format!("{what}: wait4 on pid {pid} failed: {err}"));
    }
    let wall = started.elapsed();
    watchdog.disarm();
    // The child is reaped; dropping the handle only closes its pipes (there are none).
    drop(child);
    if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        let why = if sig == libc::SIGKILL && wall >= limit {
            format!("did not finish within {} s and was killed", limit.as_secs())
        } else {
            format!("was killed by signal {sig}")
        };
        return Err(format!("{what}: {why}"));
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!(
            "{what}: exited with status {} (expected 0)",
            libc::WEXITSTATUS(status)
        ));
    }
    Ok(Sample {
        wall,
        maxrss_kib: usage.ru_maxrss,
    })
}

/// Peak resident size of this bench process's own memory so far (`VmHWM`), in KiB: the
/// floor under every child's figure. (Its own `ru_maxrss` would not do: that in turn
/// carries the memory of whatever started it, cargo for instance.)
pub fn own_peak_kib() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// KiB as MiB with one decimal.
pub fn mib(kib: i64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

/// Column headings for [`result_line`].
pub fn table_header(name_width: usize) -> String {
    format!(
        "{:<name_width$}  {:>9}  {:>9}  {:>9}  {:>9}    {:>13}  {:>13}",
        "what", "min ms", "median ms", "p95 ms", "max ms", "RSS med MiB", "RSS max MiB",
    )
}

/// One aligned line: min / median / p95 / max wall time and median / max peak RSS.
pub fn result_line(name: &str, name_width: usize, samples: &[Sample]) -> String {
    let mut wall: Vec<f64> = samples
        .iter()
        .map(|s| s.wall.as_secs_f64() * 1000.0)
        .collect();
    wall.sort_by(f64::total_cmp);
    let mut rss: Vec<i64> = samples.iter().map(|s| s.maxrss_kib).collect();
    rss.sort_unstable();
    let mut line = String::new();
    let _ = write!(
        line,
        "{name:<name_width$}  {:>9.2}  {:>9.2}  {:>9.2}  {:>9.2}    {:>13}  {:>13}",
        wall.first().copied().unwrap_or(0.0),
        median(&wall),
        nearest_rank(&wall, 0.95),
        wall.last().copied().unwrap_or(0.0),
        mib(rss
            .get(rss.len().saturating_sub(1) / 2)
            .copied()
            .unwrap_or(0)),
        mib(rss.last().copied().unwrap_or(0)),
    );
    line
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The nearest-rank percentile `q` (0..=1) of sorted values.
fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
