//! Per-command latency of the execution boundary.
//!
//! `cargo bench -p hermes-cli --bench sandbox` (`HERMES_BENCH_QUICK=1`: fewer runs).
//! Whole processes: `sh -c true` (the floor) and `hermes sandbox exec -- true` (start
//! hermes, build a sandbox, run, tear down). In process: `true` through the local
//! executor, through the native sandbox when its sandbox is already up (how the agent runs
//! every command after the first of a conversation) and when it is built for the command,
//! and a whole `terminal` tool call (shell state capture included) on a warm sandbox.
//! Prints numbers; asserts nothing about them. A failing command stops the bench.

#[allow(dead_code)] // shared with the other benches; this one does not report RSS
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hermes_core::{Tool, ToolContext};
use hermes_sandbox::native::{Helper, NativeConfig, NativeExecutor, Policy};
use hermes_sandbox::{ExecRequest, Executor, LocalExecutor};
use support::{Mode, Sample, Watchdog};
use tokio_util::sync::CancellationToken;

const BIN: &str = env!("CARGO_BIN_EXE_hermes");
const NAME_WIDTH: usize = 36;

fn main() -> ExitCode {
    let Some(mode) = Mode::detect() else {
        return ExitCode::SUCCESS;
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sandbox bench: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(mode)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sandbox bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn line(name: &str, mut ms: Vec<f64>) -> String {
    ms.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        let rank = (q * ms.len() as f64).ceil() as usize;
        ms[rank.clamp(1, ms.len()) - 1]
    };
    format!(
        "{name:<NAME_WIDTH$}  {:>9.2}  {:>9.2}  {:>9.2}  {:>9.2}",
        ms[0],
        pick(0.5),
        pick(0.95),
        ms[ms.len() - 1]
    )
}

fn request(ws: &Path, scope: &str) -> ExecRequest {
    let mut env = BTreeMap::new();
    env.insert("PATH".into(), "/usr/bin:/bin".into());
    ExecRequest {
        command: "true".into(),
        cwd: ws.to_path_buf(),
        env,
        timeout: Duration::from_secs(30),
        stdin: None,
        max_output_bytes: 1 << 20,
        scope: Some(scope.into()),
    }
}

fn native(ws: &Path) -> Result<NativeExecutor, String> {
    if let Err(why) = hermes_sandbox::native::probe::posture().ready() {
        return Err(format!("the native sandbox cannot run here: {why}"));
    }
    Ok(NativeExecutor::new(NativeConfig {
        helper: Helper {
            program: BIN.into(),
            args: vec!["__sandbox-init".into()],
        },
        policy: Policy::new(ws.to_path_buf()),
        start_timeout: Duration::from_secs(20),
        root_sandbox_id: (65534, 65534),
        cgroups: hermes_sandbox::native::cgroup::detect(),
    }))
}

async fn time_exec(
    ex: &dyn Executor,
    ws: &Path,
    n: usize,
    scope: impl Fn(usize) -> String,
) -> Result<Vec<f64>, String> {
    let mut ms = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        let out = ex
            .exec(request(ws, &scope(i)), &CancellationToken::new())
            .await
            .map_err(|e| format!("{} exec: {e}", ex.kind()))?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        if out.exit_code != Some(0) {
            return Err(format!("{} exec exited {:?}", ex.kind(), out.exit_code));
        }
    }
    Ok(ms)
}

async fn run(mode: Mode) -> Result<(), String> {
    let n = mode.iterations(200, 30);
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let ws = dir
        .path()
        .canonicalize()
        .map_err(|e| format!("temp dir: {e}"))?;
    let home = dir.path().join("hermes-home");
    std::fs::create_dir_all(&home).map_err(|e| format!("temp home: {e}"))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("temp home: {e}"))?;
    }

    println!(
        "Per-command latency of the execution boundary — {} ({n} runs each)",
        mode.label()
    );
    println!("binary: {BIN}");
    println!();
    println!(
        "{:<NAME_WIDTH$}  {:>9}  {:>9}  {:>9}  {:>9}",
        "what", "min ms", "median ms", "p95 ms", "max ms"
    );

    let watchdog = Watchdog::start();
    let mut floor: Vec<Sample> = Vec::new();
    let mut cli: Vec<Sample> = Vec::new();
    for _ in 0..n {
        floor.push(support::run_once(
            Command::new("/bin/sh")
                .args(["-c", "true"])
                .stdout(Stdio::null()),
            "sh -c true",
            Duration::from_secs(10),
            &watchdog,
        )?);
        cli.push(support::run_once(
            Command::new(BIN)
                .args(["sandbox", "exec", "--", "true"])
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .env("HOME", dir.path())
                .env("HERMES_HOME", &home)
                .current_dir(&ws)
                .stdout(Stdio::null()),
            "hermes sandbox exec -- true",
            Duration::from_secs(30),
            &watchdog,
        )?);
    }
    let ms = |s: &[Sample]| {
        s.iter()
            .map(|x| x.wall.as_secs_f64() * 1000.0)
            .collect::<Vec<_>>()
    };
    println!("{}", line("sh -c true (process)", ms(&floor)));
    println!(
        "{}",
        line("hermes sandbox exec -- true (process)", ms(&cli))
    );

    let local = LocalExecutor::new();
    println!(
        "{}",
        line(
            "local executor: true",
            time_exec(&local, &ws, n, |_| "l".into()).await?
        )
    );

    let ex = native(&ws)?;
    time_exec(&ex, &ws, 1, |_| "warm".into()).await?; // build the sandbox once
    println!(
        "{}",
        line(
            "native, sandbox up: true",
            time_exec(&ex, &ws, n, |_| "warm".into()).await?
        )
    );
    let cold_n = n.min(50);
    println!(
        "{}",
        line(
            "native, new sandbox each: true",
            time_exec(&ex, &ws, cold_n, |i| format!("cold-{i}")).await?
        )
    );
    for i in 0..cold_n {
        ex.release(&format!("cold-{i}")).await;
    }

    // A whole terminal tool call, on the warm sandbox.
    let mut env = BTreeMap::new();
    env.insert("PATH".to_string(), "/usr/bin:/bin".to_string());
    let mut cfg = hermes_tools::terminal::TerminalConfig::new(ws.clone());
    cfg.base_env = env;
    let tool = hermes_tools::terminal::TerminalTool::new(Arc::new(ex), cfg);
    let ctx = ToolContext {
        session_id: "bench".into(),
        lineage_id: "warm".into(),
        workspace: ws.clone(),
        cancel: CancellationToken::new(),
    };
    let mut calls = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let out = tool
            .call(serde_json::json!({"command": "true"}), &ctx)
            .await
            .map_err(|e| format!("terminal call: {e}"))?;
        calls.push(t.elapsed().as_secs_f64() * 1000.0);
        if !out.contains("\"exit_code\":0") {
            return Err(format!("terminal call failed: {out}"));
        }
    }
    println!("{}", line("terminal tool call: true (native)", calls));
    Ok(())
}
