//! One whole `hermes -z` turn with one tool call, through the binary, against the mock model
//! server: start, load config, open state.db, ask the model, run `read_file`, ask again,
//! print the answer, save the session, exit.
//!
//! `cargo bench -p hermes-cli --bench turn` (50 turns; `HERMES_BENCH_QUICK=1`: 10). Prints
//! wall time and peak RSS; asserts nothing about them. Every turn is checked for the right
//! result (exit 0, answer printed, two model requests, the file's text sent back as the
//! tool result); a wrong one stops the bench, since its timing would mean nothing.

mod support;

use std::fs::File;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use hermes_testkit::{MockLlm, RecordedRequest, Reply};
use serde_json::json;
use support::{Mode, Sample, Watchdog};

const BIN: &str = env!("CARGO_BIN_EXE_hermes");
const LIMIT: Duration = Duration::from_secs(60);
const NAME_WIDTH: usize = 34;
const MARKER: &str = "bench-readme-marker-7f3a";

fn main() -> ExitCode {
    let Some(mode) = Mode::detect() else {
        return ExitCode::SUCCESS;
    };
    match run(mode) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("turn bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Dirs {
    home: std::path::PathBuf,
    hermes_home: std::path::PathBuf,
    work: std::path::PathBuf,
    out: std::path::PathBuf,
    err: std::path::PathBuf,
}

fn run(mode: Mode) -> Result<(), String> {
    let n = mode.iterations(50, 10);
    // The mock serves from the runtime's worker threads while this thread blocks in wait4.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("could not start the tokio runtime: {e}"))?;
    // A fresh mock per turn (started outside the timed part): one that kept every request
    // would grow this process, and with it the floor under the child's RSS figure.
    let start_mock = || {
        runtime
            .block_on(MockLlm::try_start(0))
            .map_err(|e| format!("the mock model server could not bind 127.0.0.1: {e}"))
    };

    let tmp = tempfile::tempdir().map_err(|e| format!("could not create a temp dir: {e}"))?;
    let dirs = Dirs {
        home: tmp.path().join("home"),
        hermes_home: tmp.path().join("home").join(".hermes"),
        work: tmp.path().join("work"),
        out: tmp.path().join("stdout"),
        err: tmp.path().join("stderr"),
    };
    std::fs::create_dir_all(&dirs.hermes_home)
        .and_then(|()| std::fs::create_dir_all(&dirs.work))
        .and_then(|()| {
            std::fs::write(
                dirs.work.join("README.md"),
                format!("# Demo\n\nA small project. {MARKER}\n\nRun `make` to build.\n"),
            )
        })
        .map_err(|e| format!("could not set up the temp directories: {e}"))?;

    println!(
        "hermes turn: `hermes -z \"read it\"` against the mock model, one read_file call, \
         then the answer"
    );
    println!("binary:     {BIN}");
    println!("model:      hermes_testkit::MockLlm on 127.0.0.1, OpenAI wire, gpt-4o");
    println!(
        "iterations: {n} turns in one HERMES_HOME, after 1 uncounted warm-up that creates \
         state.db ({})",
        mode.label()
    );

    let watchdog = Watchdog::start();
    let mut samples = Vec::with_capacity(n);
    for i in 0..=n {
        let mock = start_mock()?;
        let sample = turn(&mock, &dirs, &watchdog).map_err(|e| format!("turn {i} of {n}: {e}"))?;
        drop(mock);
        if i > 0 {
            samples.push(sample);
        }
    }
    // After the turns, so it shows the floor as it stands at the end.
    let baseline = measure_true(n, &dirs, &watchdog)?;
    println!(
        "RSS floor:  this bench process peaked at {} MiB (VmHWM); a child's figure includes \
         what this process had resident when it spawned the child (Linux counts it)",
        support::mib(support::own_peak_kib())
    );
    println!();
    println!("{}", support::table_header(NAME_WIDTH));
    println!(
        "{}",
        support::result_line("/bin/true (baseline)", NAME_WIDTH, &baseline)
    );
    println!(
        "{}",
        support::result_line("hermes -z, 1 tool call, 2 requests", NAME_WIDTH, &samples)
    );
    Ok(())
}

fn command(program: &str, mock: Option<&MockLlm>, dirs: &Dirs) -> Result<Command, String> {
    let out =
        File::create(&dirs.out).map_err(|e| format!("could not create {:?}: {e}", dirs.out))?;
    let err =
        File::create(&dirs.err).map_err(|e| format!("could not create {:?}: {e}", dirs.err))?;
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &dirs.home)
        .env("HERMES_HOME", &dirs.hermes_home)
        .current_dir(&dirs.work)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    if let Some(mock) = mock {
        cmd.env("OPENAI_BASE_URL", mock.openai_url())
            .env("OPENAI_API_KEY", "x")
            .env("HERMES_INFERENCE_MODEL", "gpt-4o");
    }
    Ok(cmd)
}

fn measure_true(n: usize, dirs: &Dirs, watchdog: &Watchdog) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let mut cmd = command("/bin/true", None, dirs)?;
        samples.push(support::run_once(&mut cmd, "/bin/true", LIMIT, watchdog)?);
    }
    Ok(samples)
}

fn turn(mock: &MockLlm, dirs: &Dirs, watchdog: &Watchdog) -> Result<Sample, String> {
    mock.push(Reply::tool_call("read_file", json!({"path": "README.md"})));
    mock.push(Reply::text("done"));
    let mut cmd = command(BIN, Some(mock), dirs)?;
    cmd.args(["-z", "read it"]);
    let result = support::run_once(&mut cmd, "hermes -z", LIMIT, watchdog);
    let stdout = read(&dirs.out);
    let stderr = read(&dirs.err);
    let show = |why: String| format!("{why}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    let sample = result.map_err(show)?;
    if stdout.trim() != "done" {
        return Err(show(format!(
            "expected the answer \"done\" on stdout, got {:?}",
            stdout.trim()
        )));
    }
    let new = mock.requests();
    if new.len() != 2 || mock.pending() != 0 {
        return Err(show(format!(
            "expected 2 model requests and no reply left over, got {} requests and {} left",
            new.len(),
            mock.pending()
        )));
    }
    if !tool_result_has_marker(&new[1]) {
        return Err(show(format!(
            "the second request did not carry README.md's text as the tool result: {}",
            new[1].body
        )));
    }
    Ok(sample)
}

fn tool_result_has_marker(req: &RecordedRequest) -> bool {
    req.body["messages"].as_array().is_some_and(|msgs| {
        msgs.iter().any(|m| {
            m["role"] == "tool" && m["content"].as_str().is_some_and(|c| c.contains(MARKER))
        })
    })
}

fn read(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}
