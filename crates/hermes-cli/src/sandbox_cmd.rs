//! `hermes sandbox …`: inspect the execution boundary and run one command through it
//! exactly as the agent would.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use hermes_sandbox::native::probe;
use hermes_sandbox::{ExecError, ExecRequest};
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::cli::{Global, SandboxCmd, SandboxExecArgs};
use crate::exit::Failure;

pub async fn run(global: &Global, cmd: SandboxCmd) -> Result<ExitCode, Failure> {
    match cmd {
        SandboxCmd::Doctor => doctor(global).await,
        SandboxCmd::Exec(args) => exec(global, args).await,
    }
}

/// Parses `256M`, `2G`, `1048576`, `512K`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("'{s}' is not a size (examples: 256M, 2G, 1048576)"))
}

/// Joins arguments into one shell command line, quoting each (a single argument is taken
/// as a command line as it is).
fn command_line(args: &[String]) -> String {
    if args.len() == 1 {
        return args[0].clone();
    }
    args.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

async fn exec(global: &Global, args: SandboxExecArgs) -> Result<ExitCode, Failure> {
    if args.command.is_empty() {
        return Err(Failure::usage(
            "nothing to run: hermes sandbox exec -- CMD [ARGS…]",
        ));
    }
    let app = App::load(global)?;
    let workspace = match &args.workspace {
        Some(w) => w
            .canonicalize()
            .map_err(|e| Failure::usage(format!("--workspace {}: {e}", w.display())))?,
        None => app.workspace()?,
    };
    let backend = args
        .backend
        .clone()
        .unwrap_or_else(|| app.config().terminal.backend.as_str().to_string());
    let mut allow_read = Vec::new();
    for p in &args.allow_read {
        allow_read.push(
            p.canonicalize()
                .map_err(|e| Failure::usage(format!("--allow-read {}: {e}", p.display())))?,
        );
    }
    let mut overrides = crate::app::SandboxOverrides {
        allow_read,
        memory_bytes: None,
    };
    if let Some(m) = &args.memory {
        overrides.memory_bytes = Some(parse_size(m).map_err(Failure::usage)?);
    }
    let executor = app.executor_for(&backend, &workspace, &overrides)?;
    let cwd = match &args.cwd {
        Some(c) => {
            let c = if c.is_absolute() {
                c.clone()
            } else {
                workspace.join(c)
            };
            if !c.starts_with(&workspace) {
                return Err(Failure::usage(format!(
                    "--cwd {} is outside the workspace {}",
                    c.display(),
                    workspace.display()
                )));
            }
            c
        }
        None => workspace.clone(),
    };
    let stdin = if std::io::stdin().is_terminal() {
        None
    } else {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        Some(buf)
    };
    let mut env = app.command_env_for(&backend);
    for name in &args.env {
        if let Ok(v) = std::env::var(name) {
            env.insert(name.clone(), v);
        }
    }
    let request = ExecRequest {
        command: command_line(&args.command),
        cwd,
        env,
        timeout: Duration::from_secs_f64(args.timeout.max(0.001)),
        stdin,
        max_output_bytes: args.max_output.unwrap_or(64 << 20),
        scope: Some(format!("sandbox-exec-{}", std::process::id())),
    };
    let cancel = CancellationToken::new();
    let interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            interrupt.cancel();
        }
    });
    let out = match executor.exec(request, &cancel).await {
        Ok(o) => o,
        Err(ExecError::Cancelled) => return Ok(ExitCode::from(crate::exit::INTERRUPTED)),
        Err(e @ ExecError::Unavailable { .. }) => {
            return Err(Failure::failed(format!(
                "{e}\nRun `hermes sandbox doctor` for details."
            )));
        }
        Err(e) => return Err(Failure::failed(e)),
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out.output)?;
    stdout.flush()?;
    if out.output_truncated {
        eprintln!("hermes: output exceeded the limit; the command was stopped");
    }
    if out.timed_out {
        eprintln!(
            "hermes: the command timed out after {}s and was killed",
            args.timeout
        );
        return Ok(ExitCode::from(124));
    }
    Ok(ExitCode::from(out.status_code().clamp(0, 255) as u8))
}

async fn doctor(global: &Global) -> Result<ExitCode, Failure> {
    let app = App::load(global)?;
    let p = probe::posture();
    let backend = app.config().terminal.backend.as_str().to_string();
    let mut out = String::new();
    let line = |out: &mut String, k: &str, v: String| out.push_str(&format!("{k:<18}{v}\n"));
    line(&mut out, "Kernel", format!("{} ({})", p.kernel, p.arch));
    line(
        &mut out,
        "User namespaces",
        match &p.user_namespaces {
            Ok(()) => "available".into(),
            Err(e) => format!("NOT available: {e}"),
        },
    );
    line(
        &mut out,
        "Landlock",
        match p.landlock_abi {
            0 => "NOT available".into(),
            n => format!(
                "ABI {n}: filesystem rules{}",
                if n >= 6 {
                    ", signal and abstract-socket scoping"
                } else {
                    " (no signal/abstract-socket scoping before ABI 6)"
                }
            ),
        },
    );
    line(
        &mut out,
        "seccomp",
        if p.seccomp {
            "available".into()
        } else {
            "NOT available".into()
        },
    );
    let cg = match &p.cgroups {
        hermes_sandbox::native::cgroup::Mode::V2 { parent } => {
            format!(
                "cgroup v2 (delegated at {}): memory, pids and CPU per sandbox",
                parent.display()
            )
        }
        hermes_sandbox::native::cgroup::Mode::V1 { cpu, .. } => format!(
            "cgroup v1: memory and pids{} per sandbox",
            if cpu.is_some() { ", CPU" } else { "" }
        ),
        hermes_sandbox::native::cgroup::Mode::None { why } => format!(
            "none usable — falling back to rlimits (memory per process via RLIMIT_AS, processes \
             via RLIMIT_NPROC in the sandbox's user namespace, CPU time via RLIMIT_CPU). Why: {why}"
        ),
    };
    line(&mut out, "Limits", cg);
    let workspace = app.workspace()?;
    let identity = hermes_sandbox::native::host::identity(&workspace, app.sandbox_root_id());
    line(
        &mut out,
        "Identity",
        match identity {
            Ok(id) if p.euid != 0 => format!("commands run as your uid {} (never root)", id.uid),
            Ok(id) if id.idmap => format!(
                "hermes runs as root; commands run as uid {}, and the root-owned workspace is \
                 attached through an idmapped mount",
                id.uid
            ),
            Ok(id) => format!(
                "hermes runs as root; commands run as the workspace owner, uid {}",
                id.uid
            ),
            Err(e) => format!("unknown: {e}"),
        },
    );
    line(&mut out, "Workspace", workspace.display().to_string());
    line(&mut out, "Backend", format!("terminal.backend: {backend}"));
    out.push_str(
        "\nEnforced for every command: user, mount, pid, network, IPC, UTS and cgroup \
         namespaces; only system directories (read-only), the workspace (read-write, \
         .git/hooks and .git/config read-only) and private /tmp, /dev/shm, /run and home are \
         visible; no network but loopback; no capabilities; no_new_privs; Landlock; a seccomp \
         filter (ptrace, mounts, namespaces, keyrings, BPF, io_uring, kernel modules, \
         TIOCSTI, unix and raw sockets); a pid namespace per command so nothing outlives it; \
         timeouts, output and resource limits.\n\n",
    );
    let verdict = match p.ready() {
        Err(e) => Err(e),
        Ok(()) => {
            // Prove it: start a sandbox and look at a command from the inside.
            let overrides = crate::app::SandboxOverrides::default();
            match app.executor_for("native", &workspace, &overrides) {
                Err(e) => Err(e.message().to_string()),
                Ok(ex) => {
                    let req = ExecRequest {
                        command: "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; id -u"
                            .into(),
                        cwd: workspace.clone(),
                        env: app.command_env_for("native"),
                        timeout: Duration::from_secs(10),
                        stdin: None,
                        max_output_bytes: 1 << 16,
                        scope: Some("doctor".into()),
                    };
                    match ex.exec(req, &CancellationToken::new()).await {
                        Ok(o) if o.exit_code == Some(0) => {
                            let text = String::from_utf8_lossy(&o.output).to_string();
                            let ok = text.contains("CapEff:\t0000000000000000")
                                && text.contains("NoNewPrivs:\t1")
                                && text.contains("Seccomp:\t2")
                                && !text.lines().any(|l| l.trim() == "0");
                            if ok {
                                Ok(())
                            } else {
                                Err(format!("a test command saw unexpected privileges:\n{text}"))
                            }
                        }
                        Ok(o) => Err(format!(
                            "a test command failed: {}",
                            String::from_utf8_lossy(&o.output).trim()
                        )),
                        Err(e) => Err(e.to_string()),
                    }
                }
            }
        }
    };
    match &verdict {
        Ok(()) => out.push_str("Result            ✓ the native sandbox works here with its full policy (checked by running a command in it)\n"),
        Err(e) => out.push_str(&format!(
            "Result            ✗ the native sandbox cannot run here: {e}\n                  \
             Commands are refused rather than run unconfined. Options: fix the cause above, \
             use terminal.backend: docker, or (only if you accept the risk) terminal.backend: local.\n"
        )),
    }
    print!("{out}");
    Ok(if verdict.is_ok() || backend != "native" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::FAILED)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256M").unwrap(), 256 << 20);
        assert_eq!(parse_size("2g").unwrap(), 2 << 30);
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }

    #[test]
    fn command_lines() {
        assert_eq!(command_line(&["echo $HOME".into()]), "echo $HOME");
        assert_eq!(
            command_line(&["printf".into(), "%s\n".into(), "it's".into()]),
            r"printf '%s
' 'it'\''s'"
        );
    }
}
