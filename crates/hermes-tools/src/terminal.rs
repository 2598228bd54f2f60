//! The `terminal` tool: shell commands through a [`hermes_sandbox::Executor`].
//!
//! Hermes promises the model that "current working directory and exported environment
//! variables persist between calls". Executors run every command in a fresh shell, so
//! the tool keeps a [`ShellState`] (cwd + exported environment) per session and carries
//! it over itself:
//!
//! 1. The command runs with `cwd = state.cwd` and `env = state.env` (which starts as the
//!    caller's already-allowlisted `base_env`, nothing else).
//! 2. It is wrapped so that, whenever the shell exits (an `EXIT` trap, so `exit N` inside
//!    the command is covered and N is preserved), the shell prints a trailer after a
//!    random per-call marker: its `pwd`, then its exported variables NUL-separated
//!    (bash builtins only, so a broken `PATH` cannot hide them; `env -0` under `sh`).
//! 3. The tool cuts the trailer off the output and adopts it for the next call, after
//!    checking it: the cwd must lie inside the workspace, names must be valid, shell
//!    bookkeeping (`PWD`, `OLDPWD`, `SHLVL`, `_`) and variables that would alter the
//!    wrapper shell itself (`BASH_ENV`, `ENV`, `SHELLOPTS`, `BASHOPTS`) are dropped, and
//!    the whole environment is capped at [`MAX_SAVED_ENV_BYTES`].
//!
//! The trailer is the command's own word about its own sandbox: it only ever becomes the
//! cwd/environment of later commands of the same session, never of the agent process. The
//! marker keeps ordinary output from being mistaken for a trailer; it is not a secret from
//! the command, which can read it from its own shell (`declare -f`) and print a trailer of
//! its own, before the real one, after it from a detached child, or instead of it after
//! killing its shell. What protects the session is therefore the validation in step 3: a
//! forged trailer can only set a state the command could have reached honestly with `cd`
//! and `export`. On top of that, output holding more than one trailer start is ambiguous
//! and adopts nothing (the previous state stays, with a warning). A command that kills its
//! shell (timeout, output flood, `exec`, `kill -9 $$`) leaves no trailer and the previous
//! state stays.
//!
//! The cwd that is kept is the canonical path that was checked, not the spelling the shell
//! reported, so swapping a symbolic link afterwards cannot move the next command elsewhere.
//!
//! Output follows Hermes: stdout and stderr merged, ANSI escapes removed, head 40% + tail
//! 60% kept beyond `tool_output.max_bytes` characters, a timeout marker and exit code 124
//! on timeout, and `exit_code_meaning` for the usual "non-zero but fine" statuses.
//!
//! `pty: true` runs the command on a pseudo-terminal (`Executor::spawn` with a pty) and
//! collects what it prints until it exits or the timeout kills it; the result has the
//! foreground shape (`\r\n` line ends become `\n`). A PTY command starts in the
//! session's cwd and environment but does not change them (there is no reliable state
//! trailer through a terminal).
//!
//! `background: true` starts the command through `Executor::spawn` (same sandbox, policy
//! and limits as a foreground command) and hands it to the [`ProcessRegistry`] given with
//! [`TerminalTool::with_processes`]; the `process` tool ([`crate::process`]) manages it.
//! It starts in the session's cwd and environment and does not change them. The result is
//! Hermes' background shape: `{"output": "Background process started", "session_id":
//! "proc_…", "pid": null, "exit_code": 0, "error": null}` plus the notification fields.
//! `pid` is always `null`: a sandboxed process has no host pid the model could use (it
//! lives in its own pid namespace), and `session_id` is the handle for everything. When
//! the registry has no one to deliver notifications to (a one-shot run), the flags are
//! dropped and the result says so (`notify_unsupported`) instead of promising a
//! notification that can never arrive. Without a registry, background calls are refused
//! with the reason.
//!
//! With [`TerminalTool::with_approvals`], every command — foreground, PTY and background
//! alike — passes the approval policy ([`hermes_core::approval`]) after its arguments are
//! validated and before the executor sees it. A refusal is Hermes' blocked result (`"status": "blocked"`, `"error":
//! "Command denied: …"`); a command the user (or the approval model) approved after
//! being asked carries an `"approval"` note.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex as StdMutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use hermes_core::approval::Approvals;
use hermes_core::{Tool, ToolContext, ToolError, ToolSpec};
use hermes_sandbox::{ExecError, ExecOutput, ExecRequest, Executor, SpawnRequest, Spawned};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::process::{BackgroundCommand, ProcessError, ProcessRegistry, parse_watch_patterns};
use crate::util::py_type;

/// Largest exported environment carried from one command to the next (names + values).
pub const MAX_SAVED_ENV_BYTES: usize = 64 * 1024;
/// The executor's own output cap is this many times `max_output_bytes`, at least 1 MiB.
const EXEC_CAP_FACTOR: usize = 4;
const EXEC_CAP_MIN: usize = 1 << 20;

/// Variables never carried over: shell bookkeeping, and variables that would change how
/// the wrapper shell itself starts or behaves.
const DROPPED_VARS: &[&str] = &[
    "PWD",
    "OLDPWD",
    "SHLVL",
    "_",
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
];

/// How the terminal tool runs commands.
#[derive(Debug, Clone)]
pub struct TerminalConfig {
    /// Where sessions start; the cwd never leaves it.
    pub workspace: PathBuf,
    /// `terminal.timeout` (default 180 s).
    pub default_timeout: Duration,
    /// Largest foreground timeout the model may ask for (default 600 s).
    pub max_foreground_timeout: Duration,
    /// `tool_output.max_bytes` (default 50 000; counted in characters, as Hermes does).
    pub max_output_bytes: usize,
    /// The environment every session starts with, already allowlisted by the caller.
    pub base_env: BTreeMap<String, String>,
}

impl TerminalConfig {
    /// Hermes' defaults for `workspace`, with an empty environment.
    pub fn new(workspace: impl Into<PathBuf>) -> TerminalConfig {
        TerminalConfig {
            workspace: workspace.into(),
            default_timeout: Duration::from_secs(180),
            max_foreground_timeout: Duration::from_secs(600),
            max_output_bytes: 50_000,
            base_env: BTreeMap::new(),
        }
    }
}

/// What persists between the commands of one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellState {
    pub cwd: PathBuf,
    pub env: BTreeMap<String, String>,
}

/// The `terminal` tool.
pub struct TerminalTool {
    spec: ToolSpec,
    executor: Arc<dyn Executor>,
    cfg: TerminalConfig,
    shells: StdMutex<HashMap<String, Arc<Mutex<ShellState>>>>,
    approvals: Option<Arc<Approvals>>,
    processes: Option<Arc<ProcessRegistry>>,
}

/// Foreground result in Hermes' key order.
#[derive(Debug, Serialize)]
struct CommandResult {
    output: String,
    exit_code: i64,
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    approval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code_meaning: Option<&'static str>,
    #[serde(rename = "_warning", skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
}

impl CommandResult {
    fn refused(error: String, status: Option<&'static str>) -> CommandResult {
        CommandResult {
            output: String::new(),
            exit_code: -1,
            error: Some(error),
            status,
            approval: None,
            exit_code_meaning: None,
            warning: None,
        }
    }

    fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            json!({"output": "", "exit_code": -1, "error": format!("could not encode the result: {e}")})
                .to_string()
        })
    }
}

/// A background call, validated and approved.
struct BackgroundRequest {
    command: String,
    workdir: Option<PathBuf>,
    pty: bool,
    notify_on_complete: bool,
    watch_patterns: Vec<String>,
    approval: Option<String>,
}

/// Hermes' background result, in its key order.
#[derive(Debug, Serialize)]
struct BackgroundResult {
    output: &'static str,
    session_id: String,
    /// Always `null`: see the module docs.
    pid: Option<u32>,
    exit_code: i64,
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notify_on_complete: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    watch_patterns: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    watch_patterns_ignored: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notify_unsupported: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    approval: Option<String>,
    #[serde(rename = "_warning", skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
}

/// Hermes' note when a background call sets neither notification flag.
pub const BACKGROUND_HINT: &str = "background=true without notify_on_complete=true means this \
process runs SILENTLY — you will not be told when it exits. If this is a bounded task (test \
suite, build, CI poller, deploy, anything with a defined end), you almost certainly wanted \
notify_on_complete=true so the system pings you on exit. Re-launch with \
notify_on_complete=true, or call process(action='poll') / process(action='wait') yourself to \
learn the outcome. Only ignore this hint for genuine long-lived processes that never exit \
(servers, watchers, daemons).";

/// Hermes' note when both notification flags are set.
pub const WATCH_PATTERNS_IGNORED: &str = "watch_patterns ignored because \
notify_on_complete=True; these two flags produce duplicate notifications when combined";

/// Hermes' note when the session cannot receive notifications (a one-shot run).
pub const NOTIFY_UNSUPPORTED: &str = "notify_on_complete / watch_patterns are not available in \
this session — it cannot receive an async completion after the turn ends (a one-shot runner \
such as `hermes -z`, a cron job, a Kanban worker, or a stateless HTTP endpoint). The process is \
running in the background; retrieve its result with process(action='poll') or \
process(action='wait').";

/// How long a PTY command may outlive its timeout before the executor ends it itself.
const PTY_LIFETIME_MARGIN: Duration = Duration::from_secs(30);
/// Output still read after a PTY command exited (children that keep the terminal open).
const PTY_DRAIN_AFTER_EXIT: Duration = Duration::from_millis(500);

/// Collects a PTY command's output until it exits, killing it at `timeout`, when its
/// output passes `cap` bytes, on cancellation, or when this future is dropped.
async fn collect_pty(
    spawned: Spawned,
    timeout: Duration,
    cap: usize,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<ExecOutput, ToolError> {
    use tokio::io::AsyncReadExt;

    /// Kills the command unless disarmed (once it has exited).
    struct KillGuard(Box<dyn Fn() + Send + Sync>, bool);
    impl Drop for KillGuard {
        fn drop(&mut self) {
            if self.1 {
                (self.0)();
            }
        }
    }

    let start = std::time::Instant::now();
    let Spawned {
        mut output,
        input,
        mut exit,
        kill,
    } = spawned;
    let mut guard = KillGuard(kill, true);
    let mut data = Vec::new();
    let mut truncated = false;
    let mut timed_out = false;
    let mut status = None;
    let mut eof = false;
    let mut buf = vec![0u8; 16 * 1024];
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let drain = tokio::time::sleep(Duration::MAX);
    tokio::pin!(drain);
    while !(eof && status.is_some()) {
        tokio::select! {
            r = output.read(&mut buf), if !eof => match r {
                Ok(0) | Err(_) => eof = true,
                Ok(n) => {
                    let room = cap.saturating_sub(data.len());
                    data.extend_from_slice(&buf[..n.min(room)]);
                    if n > room && !truncated {
                        truncated = true;
                        (guard.0)();
                    }
                }
            },
            s = &mut exit, if status.is_none() => {
                status = Some(s);
                guard.1 = false;
                drain.as_mut().reset(tokio::time::Instant::now() + PTY_DRAIN_AFTER_EXIT);
            }
            () = &mut deadline, if status.is_none() && !timed_out => {
                timed_out = true;
                (guard.0)();
            }
            () = &mut drain, if status.is_some() => break,
            () = cancel.cancelled() => return Err(ToolError::Cancelled),
        }
    }
    drop(input);
    let status = status.unwrap_or_default();
    Ok(ExecOutput {
        exit_code: status.code,
        signal: status.signal,
        output: data,
        timed_out,
        output_truncated: truncated,
        duration: start.elapsed(),
    })
}

/// `\r\n` → `\n` (a terminal's line ends).
fn crlf_to_lf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

impl TerminalTool {
    pub fn new(executor: Arc<dyn Executor>, cfg: TerminalConfig) -> TerminalTool {
        TerminalTool {
            spec: spec(&cfg),
            executor,
            cfg,
            shells: StdMutex::new(HashMap::new()),
            approvals: None,
            processes: None,
        }
    }

    /// Checks every command against `approvals` before it runs.
    pub fn with_approvals(mut self, approvals: Arc<Approvals>) -> TerminalTool {
        self.approvals = Some(approvals);
        self
    }

    /// Runs `background: true` commands as processes of `registry`.
    pub fn with_processes(mut self, registry: Arc<ProcessRegistry>) -> TerminalTool {
        self.processes = Some(registry);
        self
    }

    pub fn config(&self) -> &TerminalConfig {
        &self.cfg
    }

    fn shells(&self) -> MutexGuard<'_, HashMap<String, Arc<Mutex<ShellState>>>> {
        // Entries are inserted whole; a poisoned map is still consistent.
        self.shells.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn shell(&self, session: &str) -> Arc<Mutex<ShellState>> {
        self.shells()
            .entry(session.to_string())
            .or_insert_with(|| {
                Arc::new(Mutex::new(ShellState {
                    cwd: self.cfg.workspace.clone(),
                    env: self.cfg.base_env.clone(),
                }))
            })
            .clone()
    }

    /// The saved state of `session`, if it has run anything.
    pub async fn shell_state(&self, session: &str) -> Option<ShellState> {
        let shell = self.shells().get(session).cloned()?;
        let state = shell.lock().await;
        Some(state.clone())
    }

    /// Forgets the shell state of `session` (e.g. when the session ends).
    pub fn forget_session(&self, session: &str) {
        self.shells().remove(session);
    }

    /// Runs one call; the result is the JSON text the model sees.
    pub async fn run(&self, args: &Value, ctx: &ToolContext) -> Result<String, ToolError> {
        let command = match args.get("command") {
            Some(Value::String(c)) => c.clone(),
            other => {
                let ty = other.map(py_type).unwrap_or("NoneType");
                return Ok(CommandResult::refused(
                    format!("Invalid command: expected string, got {ty}"),
                    Some("error"),
                )
                .to_json());
            }
        };
        let flag = |k: &str| args.get(k).and_then(Value::as_bool).unwrap_or(false);
        let background = flag("background");
        let pty = flag("pty");
        let watch_patterns = match parse_watch_patterns(args.get("watch_patterns")) {
            Ok(p) => p,
            Err(e) => return Ok(CommandResult::refused(e, Some("error")).to_json()),
        };

        let max = self.cfg.max_foreground_timeout.as_secs();
        let requested = match args.get("timeout") {
            Some(Value::Number(n)) => n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
            _ => None,
        }
        .filter(|t| *t > 0);
        if let Some(t) = requested
            && t > max
            && !background
        {
            return Ok(json!({
                "error": format!(
                    "Foreground timeout {t}s exceeds the maximum of {max}s. Use \
                     background=true with notify_on_complete=true for long-running commands."
                )
            })
            .to_string());
        }
        let timeout_secs = requested.unwrap_or(self.cfg.default_timeout.as_secs().max(1));

        let workspace = match std::fs::canonicalize(&self.cfg.workspace) {
            Ok(w) => w,
            Err(e) => {
                return Ok(CommandResult::refused(
                    format!(
                        "The workspace {} is not usable ({e}). Nothing was run; create the \
                         directory or fix terminal.cwd.",
                        self.cfg.workspace.display()
                    ),
                    Some("error"),
                )
                .to_json());
            }
        };
        let workdir = match args.get("workdir").and_then(Value::as_str) {
            Some(w) if !w.is_empty() => match check_workdir(w, &workspace) {
                Ok(p) => Some(p),
                Err(refusal) => return Ok(refusal.to_json()),
            },
            _ => None,
        };
        if command.contains('\0') {
            return Ok(CommandResult::refused(
                "Invalid command: it contains a NUL character, which no shell can run. Remove \
                 it and retry."
                    .into(),
                Some("error"),
            )
            .to_json());
        }

        let approval = match &self.approvals {
            Some(approvals) => match approvals.check(&ctx.lineage_id, &command).await {
                Ok(allowed) => allowed.note(),
                Err(refused) => {
                    return Ok(CommandResult::refused(refused.message, Some("blocked")).to_json());
                }
            },
            None => None,
        };

        if background {
            let request = BackgroundRequest {
                command,
                workdir,
                pty,
                notify_on_complete: flag("notify_on_complete"),
                watch_patterns,
                approval,
            };
            return Ok(self.start_background(request, ctx).await);
        }
        if pty {
            return self
                .run_pty(&command, workdir, timeout_secs, approval, ctx)
                .await;
        }

        let shell = self.shell(&ctx.lineage_id);
        let mut state = shell.lock().await;
        let mut warnings = Vec::new();
        if workdir.is_none() && !state.cwd.is_dir() {
            warnings.push(format!(
                "The previous working directory {} no longer exists; this command ran in the \
                 workspace root {}.",
                state.cwd.display(),
                self.cfg.workspace.display()
            ));
            state.cwd = self.cfg.workspace.clone();
        }
        let marker = format!("__HERMES_STATE_{}__", random_hex());
        let request = ExecRequest {
            command: wrap_command(&command, &marker),
            cwd: workdir.clone().unwrap_or_else(|| state.cwd.clone()),
            env: state.env.clone(),
            timeout: Duration::from_secs(timeout_secs),
            stdin: None,
            max_output_bytes: self
                .cfg
                .max_output_bytes
                .saturating_mul(EXEC_CAP_FACTOR)
                .max(EXEC_CAP_MIN),
            // One sandbox per conversation, like the shell state.
            scope: Some(ctx.lineage_id.clone()),
        };
        let exec_cap = request.max_output_bytes;
        let out = match self.executor.exec(request, &ctx.cancel).await {
            Ok(out) => out,
            Err(ExecError::Cancelled) => return Err(ToolError::Cancelled),
            Err(e @ ExecError::Unavailable { .. }) => {
                return Ok(Self::unavailable(&e).to_json());
            }
            Err(e) => {
                let kind = match e {
                    ExecError::Spawn(_) => "SpawnError",
                    _ => "IoError",
                };
                return Ok(CommandResult::refused(
                    format!("Command execution failed: {kind}: {e}"),
                    None,
                )
                .to_json());
            }
        };

        let parsed = parse_trailer(&out.output, &marker);
        if parsed.ambiguous {
            warnings.push(
                "The command printed this call's state marker itself, so its working directory \
                 and exported variables were not kept; the next command starts where this one \
                 did."
                    .to_string(),
            );
        }
        if !out.timed_out
            && !out.output_truncated
            && let Some(raw) = parsed.state
        {
            let next = adopt(&state, raw, &workspace, workdir.is_some(), &mut warnings);
            *state = next;
        }
        drop(state);

        let mut result = self.render(
            &command,
            &out,
            parsed.output,
            timeout_secs,
            exec_cap,
            warnings,
        );
        result.approval = approval;
        Ok(result.to_json())
    }

    /// The cwd and environment a command that does not change the session starts with.
    async fn snapshot(
        &self,
        lineage: &str,
        workdir: Option<PathBuf>,
    ) -> (PathBuf, BTreeMap<String, String>, Vec<String>) {
        let shell = self.shell(lineage);
        let state = shell.lock().await;
        let mut warnings = Vec::new();
        let cwd = match workdir {
            Some(w) => w,
            None if state.cwd.is_dir() => state.cwd.clone(),
            None => {
                warnings.push(format!(
                    "The previous working directory {} no longer exists; this command ran in \
                     the workspace root {}.",
                    state.cwd.display(),
                    self.cfg.workspace.display()
                ));
                self.cfg.workspace.clone()
            }
        };
        (cwd, state.env.clone(), warnings)
    }

    fn unavailable(e: &ExecError) -> CommandResult {
        CommandResult::refused(
            format!(
                "Command not run: {e}. No command can run until this is fixed: tell the user, \
                 who can repair the sandbox setup (see `hermes doctor`) or choose another \
                 terminal.backend in config.yaml."
            ),
            Some("blocked"),
        )
    }

    /// `background: true`: start the command as a process of the registry.
    async fn start_background(&self, req: BackgroundRequest, ctx: &ToolContext) -> String {
        let Some(registry) = &self.processes else {
            return CommandResult::refused(
                format!(
                    "Background processes are not available in this session: nothing here \
                     could track, poll or stop them. Run the command in the foreground \
                     (background=false) with a timeout of up to {}s; for a server or watcher, \
                     start it, check it and stop it within one foreground command.",
                    self.cfg.max_foreground_timeout.as_secs()
                ),
                Some("error"),
            )
            .to_json();
        };
        let wants_watch = !req.watch_patterns.is_empty();
        let mut result = BackgroundResult {
            output: "Background process started",
            session_id: String::new(),
            pid: None,
            exit_code: 0,
            error: None,
            notify_on_complete: None,
            watch_patterns: None,
            watch_patterns_ignored: None,
            hint: None,
            notify_unsupported: None,
            approval: req.approval,
            warning: None,
        };
        let (notify, watch) = if !registry.notifications_enabled() {
            result.notify_unsupported = Some(NOTIFY_UNSUPPORTED);
            (false, Vec::new())
        } else if req.notify_on_complete {
            result.notify_on_complete = Some(true);
            if wants_watch {
                result.watch_patterns_ignored = Some(WATCH_PATTERNS_IGNORED);
            }
            (true, Vec::new())
        } else if wants_watch {
            result.watch_patterns = Some(req.watch_patterns.clone());
            (false, req.watch_patterns)
        } else {
            result.hint = Some(BACKGROUND_HINT);
            (false, Vec::new())
        };
        let (cwd, env, warnings) = self.snapshot(&ctx.lineage_id, req.workdir).await;
        let started = registry
            .start(
                self.executor.as_ref(),
                &ctx.lineage_id,
                BackgroundCommand {
                    command: req.command,
                    cwd,
                    env,
                    pty: req.pty,
                    notify_on_complete: notify,
                    watch_patterns: watch,
                },
            )
            .await;
        match started {
            Ok(s) => {
                result.session_id = s.id;
                result.warning = (!warnings.is_empty()).then(|| warnings.join(" "));
                serde_json::to_string(&result).unwrap_or_else(|e| {
                    json!({"output": "", "exit_code": -1, "error": format!("could not encode the result: {e}")})
                        .to_string()
                })
            }
            Err(ProcessError::Exec(e @ ExecError::Unavailable { .. })) => {
                Self::unavailable(&e).to_json()
            }
            Err(e @ ProcessError::TooMany { .. }) => CommandResult::refused(
                format!("Failed to start background process: {e}"),
                Some("error"),
            )
            .to_json(),
            Err(e) => {
                CommandResult::refused(format!("Failed to start background process: {e}"), None)
                    .to_json()
            }
        }
    }

    /// `pty: true` in the foreground: run on a terminal, collect until exit or timeout.
    async fn run_pty(
        &self,
        command: &str,
        workdir: Option<PathBuf>,
        timeout_secs: u64,
        approval: Option<String>,
        ctx: &ToolContext,
    ) -> Result<String, ToolError> {
        let (cwd, env, warnings) = self.snapshot(&ctx.lineage_id, workdir).await;
        let timeout = Duration::from_secs(timeout_secs);
        let spawned = self
            .executor
            .spawn(SpawnRequest {
                command: command.to_string(),
                cwd,
                env,
                scope: Some(ctx.lineage_id.clone()),
                pty: true,
                // A backstop; the timeout below normally ends it first.
                lifetime: Some(timeout + PTY_LIFETIME_MARGIN),
            })
            .await;
        let spawned = match spawned {
            Ok(s) => s,
            Err(ExecError::Cancelled) => return Err(ToolError::Cancelled),
            Err(e @ ExecError::Unavailable { .. }) => {
                return Ok(CommandResult::refused(
                    format!(
                        "PTY mode is not available: {e}. Run the command without pty=true, \
                         non-interactively (pass input through flags, files or a pipe)."
                    ),
                    Some("error"),
                )
                .to_json());
            }
            Err(e) => {
                return Ok(CommandResult::refused(
                    format!("Command execution failed: SpawnError: {e}"),
                    None,
                )
                .to_json());
            }
        };
        let cap = self
            .cfg
            .max_output_bytes
            .saturating_mul(EXEC_CAP_FACTOR)
            .max(EXEC_CAP_MIN);
        let out = collect_pty(spawned, timeout, cap, &ctx.cancel).await?;
        let output = crlf_to_lf(&out.output);
        let mut result = self.render(command, &out, output, timeout_secs, cap, warnings);
        result.approval = approval;
        Ok(result.to_json())
    }

    fn render(
        &self,
        command: &str,
        out: &ExecOutput,
        output: Vec<u8>,
        timeout_secs: u64,
        exec_cap: usize,
        warnings: Vec<String>,
    ) -> CommandResult {
        let mut text = strip_ansi(&String::from_utf8_lossy(&output));
        let exit_code = if out.timed_out {
            text.push_str(&format!("\n[Command timed out after {timeout_secs}s]"));
            124
        } else {
            i64::from(out.status_code())
        };
        if out.output_truncated {
            text.push_str(&format!(
                "\n[Command stopped: its output passed {exec_cap} bytes. Redirect large output \
                 to a file and inspect parts of it instead.]"
            ));
        }
        let text = truncate_middle(&text, self.cfg.max_output_bytes);
        CommandResult {
            output: text.trim().to_string(),
            exit_code,
            error: None,
            status: None,
            approval: None,
            exit_code_meaning: interpret_exit_code(command, exit_code),
            warning: (!warnings.is_empty()).then(|| warnings.join(" ")),
        }
    }
}

#[async_trait]
impl Tool for TerminalTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    async fn call(&self, args: Value, ctx: &ToolContext) -> Result<String, ToolError> {
        self.run(&args, ctx).await
    }
}

/// Validates a `workdir` argument: Hermes' character allowlist, absolute, an existing
/// directory inside the workspace. Returns the directory to run in.
// The error is the call's result, built at most once per call; boxing it buys nothing.
#[allow(clippy::result_large_err)]
fn check_workdir(workdir: &str, workspace: &Path) -> Result<PathBuf, CommandResult> {
    let blocked = |msg: String| CommandResult::refused(msg, Some("blocked"));
    if let Some(bad) = workdir.chars().find(|c| !workdir_char_ok(*c)) {
        return Err(blocked(format!(
            "Blocked: workdir contains disallowed character {}. Use a simple filesystem path \
             without shell metacharacters.",
            py_repr_char(bad)
        )));
    }
    let path = Path::new(workdir);
    if !path.is_absolute() {
        return Err(blocked(format!(
            "Blocked: workdir '{workdir}' is not an absolute path. Use an absolute path inside \
             the workspace {}.",
            workspace.display()
        )));
    }
    let real = match std::fs::canonicalize(path) {
        Ok(r) => r,
        Err(_) if !lexically_inside(path, workspace) => {
            return Err(outside(workdir, workspace));
        }
        Err(e) => {
            return Err(CommandResult::refused(
                format!(
                    "workdir '{workdir}' cannot be used ({e}). Create it first or pick an \
                     existing directory inside the workspace."
                ),
                Some("error"),
            ));
        }
    };
    if !real.starts_with(workspace) {
        return Err(outside(workdir, workspace));
    }
    if !real.is_dir() {
        return Err(CommandResult::refused(
            format!(
                "workdir '{workdir}' is not a directory. Pass a directory inside the workspace."
            ),
            Some("error"),
        ));
    }
    Ok(real)
}

fn outside(workdir: &str, workspace: &Path) -> CommandResult {
    CommandResult::refused(
        format!(
            "Blocked: workdir '{workdir}' is outside the workspace {}. Commands run only inside \
             the workspace; use an absolute path within it.",
            workspace.display()
        ),
        Some("blocked"),
    )
}

/// Whether `path`, with `.` and `..` resolved by name, lies inside `root`.
fn lexically_inside(path: &Path, root: &Path) -> bool {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out.starts_with(root)
}

/// Hermes' workdir allowlist: `[A-Za-z0-9/\\:_\-.~ +@=,]`.
fn workdir_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/\\:_-.~ +@=,".contains(c)
}

/// A char as Python's `repr()` shows it (`';'`, `"'"`, `'\n'`).
fn py_repr_char(c: char) -> String {
    match c {
        '\'' => "\"'\"".into(),
        '\\' => "'\\\\'".into(),
        '\n' => "'\\n'".into(),
        '\r' => "'\\r'".into(),
        '\t' => "'\\t'".into(),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => format!("'\\x{:02x}'", c as u32),
        c => format!("'{c}'"),
    }
}

/// 128 random bits as hex, from the kernel; falls back to std's randomly keyed hasher.
fn random_hex() -> String {
    let mut buf = [0u8; 16];
    let from_kernel = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .is_ok();
    if !from_kernel {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let a = RandomState::new().hash_one((nanos, std::process::id()));
        let b = RandomState::new().hash_one((a, nanos));
        buf[..8].copy_from_slice(&a.to_le_bytes());
        buf[8..].copy_from_slice(&b.to_le_bytes());
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// `s` as one single-quoted shell word.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The command wrapped so that the shell reports its state after `marker` when it exits.
///
/// The command itself runs through `eval` of a quoted string, so nothing it contains
/// (an unclosed quote, a heredoc, a syntax error) can reach the wrapper's own lines; `cd`
/// and `export` inside `eval` still act on this shell. stderr is merged into stdout at the
/// start so the trailer cannot be overtaken by late stderr bytes.
pub fn wrap_command(command: &str, marker: &str) -> String {
    let func = "__hermes_state_trailer";
    // Bash: exported names from `compgen -e`, values by indirection; builtins only.
    // It is evaluated from a string so that `sh` (which lacks `${!name}`) never parses it.
    let bash_env = "IFS=' \t\n'; for __hermes_n in $(compgen -e); do \
                    [ -n \"${!__hermes_n+x}\" ] || continue; \
                    command printf '%s=%s\\000' \"$__hermes_n\" \"${!__hermes_n}\"; done";
    format!(
        "exec 2>&1\n\
         {func}() {{\n\
         __hermes_rc=$?\n\
         {{ set +x; }} 2>/dev/null\n\
         set +e +u\n\
         trap - EXIT\n\
         command printf '\\n%s\\n' '{marker}'\n\
         command pwd\n\
         command printf '\\000'\n\
         if [ -n \"${{BASH_VERSION-}}\" ]; then\n\
         eval {bash_env}\n\
         else\n\
         command env -0 2>/dev/null\n\
         fi\n\
         command printf '%s\\n' '{marker}_END'\n\
         exit \"$__hermes_rc\"\n\
         }}\n\
         trap {func} EXIT\n\
         eval {cmd}\n",
        bash_env = shell_quote(bash_env),
        cmd = shell_quote(command),
    )
}

/// The shell state as the trailer reported it, before validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawShellState {
    pub cwd: Vec<u8>,
    /// `(name, value)` pairs in the order printed.
    pub env: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Command output with the trailer removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedOutput {
    pub output: Vec<u8>,
    /// `None` when there was no complete, well-formed trailer, or more than one.
    pub state: Option<RawShellState>,
    /// The trailer start appeared more than once: the command printed it itself, so no
    /// state is taken from this output.
    pub ambiguous: bool,
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (0..=hay.len() - needle.len())
        .rev()
        .find(|&i| &hay[i..i + needle.len()] == needle)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Splits the trailer written by [`wrap_command`] off `output`.
///
/// The last `"\n{marker}\n"` starts the trailer; it ends at the next `"{marker}_END\n"`.
/// Bytes after the end (late output of leftover children) stay in the output. A trailer
/// that starts but never ends (the shell was killed mid-way) is removed and reports no
/// state; so is one whose body is not `pwd \n \0 (name=value \0)*`. When the start
/// appears more than once, some of it was printed by the command (before the real
/// trailer, or after it from a detached child): which one is real cannot be told, so the
/// last is removed, the others stay visible as output, and no state is reported.
pub fn parse_trailer(output: &[u8], marker: &str) -> ParsedOutput {
    let start = format!("\n{marker}\n");
    let end = format!("{marker}_END\n");
    let Some(s) = rfind(output, start.as_bytes()) else {
        return ParsedOutput {
            output: output.to_vec(),
            state: None,
            ambiguous: false,
        };
    };
    let before = &output[..s];
    // The start's leading newline may be the previous start's trailing one; searching
    // `before` plus the shared newline finds a start that overlaps this one, too.
    let ambiguous = find(&output[..s + 1], start.as_bytes()).is_some();
    let rest = &output[s + start.len()..];
    let Some(e) = find(rest, end.as_bytes()) else {
        return ParsedOutput {
            output: before.to_vec(),
            state: None,
            ambiguous,
        };
    };
    let mut kept = before.to_vec();
    kept.extend_from_slice(&rest[e + end.len()..]);
    ParsedOutput {
        output: kept,
        state: if ambiguous {
            None
        } else {
            parse_state(&rest[..e])
        },
        ambiguous,
    }
}

fn parse_state(body: &[u8]) -> Option<RawShellState> {
    let nul = body.iter().position(|b| *b == 0)?;
    let cwd = body[..nul].strip_suffix(b"\n")?.to_vec();
    let vars = &body[nul + 1..];
    if !vars.is_empty() && vars.last() != Some(&0) {
        return None;
    }
    let env = vars
        .split(|b| *b == 0)
        .filter(|e| !e.is_empty())
        .filter_map(|e| {
            let eq = e.iter().position(|b| *b == b'=')?;
            Some((e[..eq].to_vec(), e[eq + 1..].to_vec()))
        })
        .collect();
    Some(RawShellState { cwd, env })
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The next state from a reported one: the cwd only if it lies inside the workspace (and
/// the command did not run in an explicit `workdir`), the environment only if it fits.
fn adopt(
    prev: &ShellState,
    raw: RawShellState,
    workspace: &Path,
    ran_in_workdir: bool,
    warnings: &mut Vec<String>,
) -> ShellState {
    let mut next = prev.clone();
    if !ran_in_workdir {
        match String::from_utf8(raw.cwd) {
            Ok(cwd) => {
                let cwd = PathBuf::from(cwd);
                let real = cwd
                    .is_absolute()
                    .then(|| std::fs::canonicalize(&cwd).ok())
                    .flatten()
                    .filter(|real| real.starts_with(workspace));
                if let Some(real) = real {
                    // Keep what was checked: a link swapped later cannot move the next command.
                    next.cwd = real;
                } else {
                    warnings.push(format!(
                        "The shell left the workspace (cwd {}); the next command starts in {} \
                         again. Commands run only inside the workspace {}.",
                        cwd.display(),
                        prev.cwd.display(),
                        workspace.display()
                    ));
                }
            }
            Err(_) => warnings.push(format!(
                "The working directory's name is not valid UTF-8; the next command starts in {} \
                 again.",
                prev.cwd.display()
            )),
        }
    }
    let mut env = BTreeMap::new();
    for (name, value) in raw.env {
        let (Ok(name), Ok(value)) = (String::from_utf8(name), String::from_utf8(value)) else {
            continue;
        };
        if valid_name(&name) && !DROPPED_VARS.contains(&name.as_str()) {
            env.insert(name, value);
        }
    }
    let size: usize = env.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    if size > MAX_SAVED_ENV_BYTES {
        warnings.push(format!(
            "The exported environment ({size} bytes) is larger than {MAX_SAVED_ENV_BYTES} \
             bytes; it was not kept, and the next command gets the previous environment."
        ));
    } else {
        next.env = env;
    }
    next
}

/// Removes ANSI escape sequences (CSI, OSC, DCS/SOS/PM/APC strings, two-byte escapes,
/// and their 8-bit C1 forms). A lone ESC is dropped; what follows it stays.
pub fn strip_ansi(s: &str) -> String {
    type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;
    /// Skips a control string up to BEL or ST (ESC + backslash, or U+009C).
    fn skip_string(chars: &mut Chars<'_>) {
        while let Some(c) = chars.next() {
            match c {
                '\u{7}' | '\u{9c}' => return,
                '\u{1b}' => {
                    if chars.peek() == Some(&'\\') {
                        chars.next();
                    }
                    return;
                }
                _ => {}
            }
        }
    }
    /// Skips CSI parameters and intermediates and the final byte; stops early (keeping
    /// the character) at anything that cannot belong to the sequence.
    fn skip_csi(chars: &mut Chars<'_>) {
        while let Some(&c) = chars.peek() {
            match c {
                '\u{20}'..='\u{3f}' => {
                    chars.next();
                }
                '\u{40}'..='\u{7e}' => {
                    chars.next();
                    return;
                }
                _ => return,
            }
        }
    }

    if !s.contains(['\u{1b}', '\u{9b}', '\u{9d}']) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{9b}' => skip_csi(&mut chars),
            '\u{9d}' => skip_string(&mut chars),
            '\u{1b}' => match chars.peek().copied() {
                Some('[') => {
                    chars.next();
                    skip_csi(&mut chars);
                }
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    chars.next();
                    skip_string(&mut chars);
                }
                Some('\u{20}'..='\u{2f}') => {
                    // nF escape: intermediates, then one final byte.
                    while chars
                        .peek()
                        .is_some_and(|c| ('\u{20}'..='\u{2f}').contains(c))
                    {
                        chars.next();
                    }
                    if chars
                        .peek()
                        .is_some_and(|c| ('\u{30}'..='\u{7e}').contains(c))
                    {
                        chars.next();
                    }
                }
                Some('\u{30}'..='\u{7e}') => {
                    chars.next();
                }
                _ => {}
            },
            c => out.push(c),
        }
    }
    out
}

/// Keeps the first 40% and last 60% of `max` characters of `text`, with Hermes' marker in
/// between, when `text` is longer than `max` characters.
pub fn truncate_middle(text: &str, max: usize) -> String {
    let total = text.chars().count();
    if total <= max {
        return text.to_string();
    }
    let head = max * 4 / 10;
    let tail = max - head;
    let omitted = total - head - tail;
    let byte_at = |n: usize| text.char_indices().nth(n).map_or(text.len(), |(i, _)| i);
    format!(
        "{}\n\n... [OUTPUT TRUNCATED - {omitted} chars omitted out of {total} total] ...\n\n{}",
        &text[..byte_at(head)],
        &text[byte_at(total - tail)..]
    )
}

/// Hermes' note for non-zero statuses that are not failures (`grep` 1 = no matches, …),
/// judged by the last command of a pipeline or chain.
pub fn interpret_exit_code(command: &str, code: i64) -> Option<&'static str> {
    if code == 0 {
        return None;
    }
    let last = command
        .rsplit("&&")
        .next()
        .unwrap_or(command)
        .rsplit(['|', ';'])
        .next()
        .unwrap_or("");
    let base = last
        .split_whitespace()
        .find(|w| !w.contains('=') || w.starts_with('-'))?
        .rsplit('/')
        .next()?;
    const NO_MATCH: &str = "No matches found (not an error)";
    const DIFFER: &str = "Files differ (expected, not an error)";
    const FALSE: &str = "Condition evaluated to false (expected, not an error)";
    match (base, code) {
        ("grep" | "egrep" | "fgrep" | "rg" | "ag" | "ack", 1) => Some(NO_MATCH),
        ("diff" | "colordiff", 1) => Some(DIFFER),
        ("find", 1) => {
            Some("Some directories were inaccessible (partial results may still be valid)")
        }
        ("test" | "[", 1) => Some(FALSE),
        ("curl", 6) => Some("Could not resolve host"),
        ("curl", 7) => Some("Failed to connect to host"),
        ("curl", 22) => Some("HTTP response code indicated error (e.g. 404, 500)"),
        ("curl", 28) => Some("Operation timed out"),
        ("git", 1) => {
            Some("Non-zero exit (often normal — e.g. 'git diff' returns 1 when files differ)")
        }
        _ => None,
    }
}

const DESCRIPTION: &str = "Execute shell commands on a Linux environment. Filesystem, current \
working directory, and exported environment variables persist between calls.

Do NOT use cat/head/tail to read files — use read_file instead.
Do NOT use grep/rg/find to search — use search_files instead.
Do NOT use ls to list directories — use search_files(target='files') instead.
Do NOT use sed/awk to edit files — use patch instead.
Do NOT use echo/cat heredoc to create files — use write_file instead.
Reserve terminal for: builds, installs, git, processes, scripts, network, package managers, and \
anything that needs a shell.
Because exported environment state persists, activate a virtualenv or export setup variables \
once per session; do not re-source the same environment before every command unless a command \
proves the shell state was reset.

Foreground (default): Commands return INSTANTLY when done, even if the timeout is high. Set \
timeout=300 for long builds/scripts — you'll still get the result in seconds if it's fast. \
Prefer foreground for short commands.
Background: Set background=true to get a session_id. Almost always pair with \
notify_on_complete=true — bg without notify runs SILENTLY and you have no way to learn it \
finished short of calling process(action='poll') yourself. Two legitimate uses:
  (1) Long-lived processes that never exit (servers, watchers, daemons) — silent is correct, \
there's no exit to notify on.
  (2) Long-running bounded tasks (tests, builds, deploys, CI pollers, batch jobs) — MUST set \
notify_on_complete=true. Without it you'll either forget to poll or sit blocked waiting for the \
user to surface the result.
For servers/watchers, do NOT use shell-level background wrappers (nohup/disown/setsid/trailing \
'&') in foreground mode. Use background=true so Hermes can track lifecycle and output.
After starting a server, verify readiness with a health check or log signal, then run tests in \
a separate terminal() call. Avoid blind sleep loops.
Use process(action=\"poll\") for progress checks, process(action=\"wait\") to block until done.
Working directory: Use 'workdir' for per-command cwd.
PTY mode: Set pty=true for interactive CLI tools (Codex, Claude Code, Python REPL).

Do NOT use vim/nano/interactive tools without pty=true — they hang without a pseudo-terminal. \
Pipe git output to cat if it might page.
";

fn spec(cfg: &TerminalConfig) -> ToolSpec {
    let max = cfg.max_foreground_timeout.as_secs();
    let default = cfg.default_timeout.as_secs();
    ToolSpec {
        name: "terminal".into(),
        description: DESCRIPTION.into(),
        parameters: json!({
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The command to execute on the VM"},
                "background": {
                    "type": "boolean",
                    "description": "Run the command in the background. Almost always pair with notify_on_complete=true — without it, the process runs silently and you'll have no way to learn it finished short of calling process(action='poll') yourself (easy to forget, leading to silent blindness on long jobs). Two legitimate patterns: (1) Long-lived processes that never exit (servers, watchers, daemons) — these stay silent because there's no exit to notify on. (2) Long-running bounded tasks (tests, builds, deploys, CI pollers, batch jobs) — these MUST set notify_on_complete=true. For short commands, prefer foreground with a generous timeout instead.",
                    "default": false
                },
                "timeout": {
                    "type": "integer",
                    "description": format!("Max seconds to wait (default: {default}, foreground max: {max}). Returns INSTANTLY when command finishes — set high for long tasks, you won't wait unnecessarily. Foreground timeout above {max}s is rejected; use background=true for longer commands."),
                    "minimum": 1
                },
                "workdir": {
                    "type": "string",
                    "description": "Working directory for this command (absolute path). Defaults to the session working directory."
                },
                "pty": {
                    "type": "boolean",
                    "description": "Run in pseudo-terminal (PTY) mode for interactive CLI tools like Codex, Claude Code, or Python REPL. Only works with local and SSH backends. Default: false.",
                    "default": false
                },
                "notify_on_complete": {
                    "type": "boolean",
                    "description": "When true (and background=true), you'll be automatically notified exactly once when the process finishes. **This is the right choice for almost every long-running task** — tests, builds, deployments, multi-item batch jobs, anything that takes over a minute and has a defined end. Use this and keep working on other things; the system notifies you on exit. MUTUALLY EXCLUSIVE with watch_patterns — when both are set, watch_patterns is dropped.",
                    "default": false
                },
                "watch_patterns": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Strings to watch for in background process output. HARD RATE LIMIT: at most 1 notification per 15 seconds per process — matches arriving inside the cooldown are dropped. After 3 consecutive 15-second windows with dropped matches, watch_patterns is automatically disabled for that process and promoted to notify_on_complete behavior (one notification on exit, no more mid-process spam). USE ONLY for truly rare, one-shot mid-process signals on LONG-LIVED processes that will never exit on their own — e.g. ['Application startup complete'] on a server so you know when to hit its endpoint, or ['migration done'] on a daemon. DO NOT use for: (1) end-of-run markers like 'DONE'/'PASS' — use notify_on_complete instead; (2) error patterns like 'ERROR'/'Traceback' in loops or multi-item batch jobs — they fire on every iteration and you'll hit the strike limit fast; (3) anything you'd ever combine with notify_on_complete. When in doubt, choose notify_on_complete. MUTUALLY EXCLUSIVE with notify_on_complete — set one, not both."
                }
            },
            "required": ["command"]
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "__HERMES_STATE_abc__";

    fn trailer(cwd: &str, vars: &[(&str, &str)]) -> Vec<u8> {
        let mut t = format!("\n{M}\n{cwd}\n\0").into_bytes();
        for (k, v) in vars {
            t.extend_from_slice(format!("{k}={v}\0").as_bytes());
        }
        t.extend_from_slice(format!("{M}_END\n").as_bytes());
        t
    }

    #[test]
    fn trailer_is_split_off() {
        let mut out = b"hello".to_vec();
        out.extend(trailer("/w/sub", &[("A", "1"), ("B", "x=y\nz")]));
        let p = parse_trailer(&out, M);
        assert_eq!(p.output, b"hello");
        let s = p.state.unwrap();
        assert_eq!(s.cwd, b"/w/sub");
        assert_eq!(
            s.env,
            vec![
                (b"A".to_vec(), b"1".to_vec()),
                (b"B".to_vec(), b"x=y\nz".to_vec())
            ]
        );
    }

    #[test]
    fn missing_trailer_keeps_output_and_reports_nothing() {
        let p = parse_trailer(b"just output\n", M);
        assert_eq!(p.output, b"just output\n");
        assert_eq!(p.state, None);
    }

    #[test]
    fn a_forged_trailer_before_the_real_one_gives_no_state() {
        // The command prints the marker (and a fake end) before the real trailer.
        let mut out = format!("a\n{M}\n/etc\n\0EVIL=1\0{M}_END\nb").into_bytes();
        out.extend(trailer("/w", &[("GOOD", "1")]));
        let p = parse_trailer(&out, M);
        assert_eq!(p.state, None);
        assert!(p.ambiguous);
        // The fake trailer stays visible as ordinary output; the last one is removed.
        assert!(p.output.starts_with(b"a\n"));
        assert!(p.output.ends_with(b"b"));
    }

    #[test]
    fn a_forged_trailer_after_the_real_one_gives_no_state() {
        // A detached child prints a trailer after the shell's real one, inside the
        // executor's drain window: taking the last trailer would adopt the forgery.
        let mut out = b"out".to_vec();
        out.extend(trailer("/w", &[("GOOD", "1")]));
        out.extend(trailer("/w/elsewhere", &[("EVIL", "1")]));
        let p = parse_trailer(&out, M);
        assert_eq!(p.state, None);
        assert!(p.ambiguous);
        // A start glued to the previous one's newline counts as well.
        let glued = format!("x\n{M}\n{M}\n/w\n\0{M}_END\n").into_bytes();
        let p = parse_trailer(&glued, M);
        assert_eq!(p.state, None);
        assert!(p.ambiguous);
        // One trailer alone is not ambiguous.
        let p = parse_trailer(&trailer("/w", &[]), M);
        assert!(!p.ambiguous);
        assert!(p.state.is_some());
    }

    #[test]
    fn truncated_trailer_is_removed_without_state() {
        let mut out = b"out".to_vec();
        let t = trailer("/w", &[("A", "1")]);
        out.extend_from_slice(&t[..t.len() - 8]);
        let p = parse_trailer(&out, M);
        assert_eq!(p.output, b"out");
        assert_eq!(p.state, None);
    }

    #[test]
    fn bytes_after_the_trailer_stay_in_the_output() {
        let mut out = b"out".to_vec();
        out.extend(trailer("/w", &[]));
        out.extend_from_slice(b"late child output");
        let p = parse_trailer(&out, M);
        assert_eq!(p.output, b"outlate child output");
        assert_eq!(p.state.unwrap().env, vec![]);
    }

    #[test]
    fn garbage_bodies_give_no_state() {
        for body in [
            &b"no nul at all"[..],
            b"/w\0",            // pwd without its newline
            b"/w\n\0A=1\0junk", // env not NUL-terminated
        ] {
            let mut out = format!("\n{M}\n").into_bytes();
            out.extend_from_slice(body);
            out.extend_from_slice(format!("{M}_END\n").as_bytes());
            assert_eq!(parse_trailer(&out, M).state, None, "{body:?}");
        }
        // Entries without '=' are skipped, the rest kept.
        let mut out = format!("\n{M}\n/w\n\0noequals\0A=1\0").into_bytes();
        out.extend_from_slice(format!("{M}_END\n").as_bytes());
        assert_eq!(
            parse_trailer(&out, M).state.unwrap().env,
            vec![(b"A".to_vec(), b"1".to_vec())]
        );
    }

    #[test]
    fn adopt_validates_names_cwd_and_size() {
        let ws = tempfile::tempdir().unwrap();
        let ws_real = std::fs::canonicalize(ws.path()).unwrap();
        std::fs::create_dir(ws_real.join("sub")).unwrap();
        let prev = ShellState {
            cwd: ws_real.clone(),
            env: BTreeMap::from([("KEEP".to_string(), "1".to_string())]),
        };
        let mut warnings = Vec::new();
        let next = adopt(
            &prev,
            RawShellState {
                cwd: ws_real.join("sub").to_string_lossy().as_bytes().to_vec(),
                env: vec![
                    (b"GOOD".to_vec(), b"v".to_vec()),
                    (b"PWD".to_vec(), b"/x".to_vec()),
                    (b"BASH_ENV".to_vec(), b"/x".to_vec()),
                    (b"BASH_FUNC_f%%".to_vec(), b"() { :; }".to_vec()),
                    (b"1BAD".to_vec(), b"v".to_vec()),
                    (b"BIN".to_vec(), vec![0xff, 0xfe]),
                ],
            },
            &ws_real,
            false,
            &mut warnings,
        );
        assert_eq!(next.cwd, ws_real.join("sub"));
        assert_eq!(
            next.env,
            BTreeMap::from([("GOOD".to_string(), "v".to_string())])
        );
        assert!(warnings.is_empty());

        let outside = adopt(
            &prev,
            RawShellState {
                cwd: b"/".to_vec(),
                env: vec![(b"BIG".to_vec(), vec![b'x'; MAX_SAVED_ENV_BYTES])],
            },
            &ws_real,
            false,
            &mut warnings,
        );
        assert_eq!(outside, prev);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
    }

    #[test]
    fn adopt_keeps_the_canonical_cwd_it_checked() {
        let ws = tempfile::tempdir().unwrap();
        let ws_real = std::fs::canonicalize(ws.path()).unwrap();
        std::fs::create_dir(ws_real.join("sub")).unwrap();
        std::os::unix::fs::symlink("sub", ws_real.join("link")).unwrap();
        let prev = ShellState {
            cwd: ws_real.clone(),
            env: BTreeMap::new(),
        };
        let mut warnings = Vec::new();
        let next = adopt(
            &prev,
            RawShellState {
                cwd: ws_real.join("link").to_string_lossy().as_bytes().to_vec(),
                env: Vec::new(),
            },
            &ws_real,
            false,
            &mut warnings,
        );
        // Not the link: retargeting it later must not move the next command.
        assert_eq!(next.cwd, ws_real.join("sub"));
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn ansi_sequences_are_removed() {
        assert_eq!(strip_ansi("plain"), "plain");
        assert_eq!(strip_ansi("\x1b[1;31mred\x1b[0m ok"), "red ok");
        assert_eq!(strip_ansi("\x1b]0;title\x07text"), "text");
        assert_eq!(
            strip_ansi("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"),
            "link"
        );
        assert_eq!(strip_ansi("\x1b(Bcharset\x1b=k"), "charsetk");
        assert_eq!(strip_ansi("\u{9b}2Jc1"), "c1");
        assert_eq!(strip_ansi("dangling\x1b"), "dangling");
        assert_eq!(strip_ansi("cut\x1b[12\nnext"), "cut\nnext");
        assert_eq!(strip_ansi("esc\x1b\nkept"), "esc\nkept");
        assert_eq!(strip_ansi("\x1b7saved\x1b8"), "saved");
    }

    #[test]
    fn truncation_keeps_head_and_tail() {
        assert_eq!(truncate_middle("short", 10), "short");
        let text: String = ('a'..='z').collect();
        assert_eq!(
            truncate_middle(&text, 10),
            "abcd\n\n... [OUTPUT TRUNCATED - 16 chars omitted out of 26 total] ...\n\nuvwxyz"
        );
        // Multi-byte characters are counted as characters and never split.
        let t = truncate_middle(&"é".repeat(30), 10);
        assert!(
            t.starts_with("éééé\n\n... [OUTPUT TRUNCATED - 20 chars"),
            "{t}"
        );
    }

    #[test]
    fn exit_code_meanings() {
        assert_eq!(interpret_exit_code("grep foo x", 0), None);
        assert_eq!(
            interpret_exit_code("cat x | grep foo", 1),
            Some("No matches found (not an error)")
        );
        assert_eq!(
            interpret_exit_code("cd a && LC_ALL=C /usr/bin/diff a b", 1),
            Some("Files differ (expected, not an error)")
        );
        assert_eq!(interpret_exit_code("grep foo x; ls", 1), None);
        assert_eq!(
            interpret_exit_code("curl -s x", 28),
            Some("Operation timed out")
        );
        assert_eq!(
            interpret_exit_code("[ -f x ]", 1),
            Some("Condition evaluated to false (expected, not an error)")
        );
        assert_eq!(interpret_exit_code("make", 2), None);
    }

    #[test]
    fn workdir_characters_follow_hermes() {
        let ws = Path::new("/nonexistent-ws");
        let err = check_workdir("/tmp;rm -rf /", ws).unwrap_err();
        assert_eq!(
            err.error.as_deref(),
            Some(
                "Blocked: workdir contains disallowed character ';'. Use a simple filesystem \
                 path without shell metacharacters."
            )
        );
        assert_eq!(err.status, Some("blocked"));
        assert_eq!(py_repr_char('\''), "\"'\"");
        assert_eq!(py_repr_char('\n'), "'\\n'");
        assert!(check_workdir("relative/dir", ws).is_err());
    }

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
