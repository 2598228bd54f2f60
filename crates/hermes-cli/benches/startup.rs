//! Cold start of the `hermes` binary: wall time from spawn to exit, and peak RSS.
//!
//! `cargo bench -p hermes-cli --bench startup` (200 runs per command;
//! `HERMES_BENCH_QUICK=1`: 20). Measures `hermes --version`, `hermes version` and
//! `hermes config show` (which reads config.yaml and .env from a temporary HERMES_HOME),
//! with `/bin/true` as the floor of what starting any process costs here. Prints numbers;
//! asserts nothing about them. A run that fails (non-zero exit) stops the bench.

mod support;

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use support::{Mode, Sample, Watchdog};

const BIN: &str = env!("CARGO_BIN_EXE_hermes");
const LIMIT: Duration = Duration::from_secs(30);
const NAME_WIDTH: usize = 24;

const CONFIG: &str = "\
model:
  default: gpt-4o
  provider: openai
agent:
  max_turns: 60
terminal:
  backend: local
  timeout: 180
display:
  compact: false
";

fn main() -> ExitCode {
    let Some(mode) = Mode::detect() else {
        return ExitCode::SUCCESS;
    };
    match run(mode) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("startup bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(mode: Mode) -> Result<(), String> {
    let n = mode.iterations(200, 20);
    let dir = tempfile::tempdir().map_err(|e| format!("could not create a temp dir: {e}"))?;
    let home = dir.path().join("home");
    let hermes_home = home.join(".hermes");
    std::fs::create_dir_all(&hermes_home)
        .and_then(|()| std::fs::write(hermes_home.join("config.yaml"), CONFIG))
        .and_then(|()| std::fs::write(hermes_home.join(".env"), "OPENAI_API_KEY=x\n"))
        .map_err(|e| format!("could not write the temp HERMES_HOME: {e}"))?;

    let version = Command::new(BIN)
        .arg("--version")
        .output()
        .map_err(|e| format!("could not run {BIN}: {e}"))?;
    println!("hermes startup: wall time from spawn to exit, peak RSS from wait4 ru_maxrss");
    println!("binary:     {BIN}");
    println!(
        "version:    {}",
        String::from_utf8_lossy(&version.stdout).trim()
    );
    println!(
        "iterations: {n} per command, after 1 uncounted warm-up ({})",
        mode.label()
    );

    let watchdog = Watchdog::start();
    let cases: [(&str, &str, &[&str]); 4] = [
        ("/bin/true (baseline)", "/bin/true", &[]),
        ("hermes --version", BIN, &["--version"]),
        ("hermes version", BIN, &["version"]),
        ("hermes config show", BIN, &["config", "show"]),
    ];
    let mut lines = Vec::new();
    for (name, program, args) in cases {
        let samples = measure(name, program, args, &home, &hermes_home, n, &watchdog)?;
        lines.push(support::result_line(name, NAME_WIDTH, &samples));
    }
    println!(
        "RSS floor:  this bench process peaked at {} MiB (VmHWM); a child's figure includes \
         what this process had resident when it spawned the child (Linux counts it)",
        support::mib(support::own_peak_kib())
    );
    println!();
    println!("{}", support::table_header(NAME_WIDTH));
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

fn measure(
    name: &str,
    program: &str,
    args: &[&str],
    home: &Path,
    hermes_home: &Path,
    n: usize,
    watchdog: &Watchdog,
) -> Result<Vec<Sample>, String> {
    let command = || {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("HERMES_HOME", hermes_home)
            .current_dir(home)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    };
    let mut samples = Vec::with_capacity(n);
    for i in 0..=n {
        let sample = support::run_once(&mut command(), name, LIMIT, watchdog).map_err(|e| {
            // Once more with the output kept, to say why.
            let stderr = command()
                .stderr(Stdio::piped())
                .output()
                .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                .unwrap_or_default();
            format!("run {i} of {n}: {e}\nstderr of a repeat run:\n{stderr}")
        })?;
        if i > 0 {
            samples.push(sample);
        }
    }
    Ok(samples)
}
