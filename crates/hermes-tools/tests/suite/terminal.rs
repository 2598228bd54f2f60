//! The `terminal` tool over the real local executor in a temporary workspace, plus small
//! scripted executors for the failure paths.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use hermes_core::schema::validate;
use hermes_core::{Tool, ToolContext, ToolError};
use hermes_sandbox::{ExecError, ExecOutput, ExecRequest, Executor, LocalExecutor, Unavailable};
use hermes_tools::terminal::{TerminalConfig, TerminalTool};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

struct Fixture {
    _dir: tempfile::TempDir,
    ws: PathBuf,
    tool: TerminalTool,
}

fn config(ws: &std::path::Path) -> TerminalConfig {
    let mut cfg = TerminalConfig::new(ws);
    cfg.base_env = BTreeMap::from([
        ("PATH".to_string(), "/usr/bin:/bin".to_string()),
        ("HERMES_TEST_BASE".to_string(), "from-base".to_string()),
    ]);
    cfg
}

fn fixture_with(edit: impl FnOnce(&mut TerminalConfig)) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let ws = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir(ws.join("sub")).unwrap();
    let mut cfg = config(&ws);
    edit(&mut cfg);
    Fixture {
        tool: TerminalTool::new(Arc::new(LocalExecutor::new()), cfg),
        ws,
        _dir: dir,
    }
}

fn fixture() -> Fixture {
    fixture_with(|_| {})
}

fn ctx(ws: &std::path::Path, session: &str) -> ToolContext {
    ToolContext {
        session_id: session.into(),
        lineage_id: session.into(),
        workspace: ws.to_path_buf(),
        cancel: CancellationToken::new(),
    }
}

impl Fixture {
    async fn raw_in(&self, session: &str, args: Value) -> String {
        validate(&self.tool.spec().parameters, &args).unwrap();
        self.tool.call(args, &ctx(&self.ws, session)).await.unwrap()
    }

    async fn run_in(&self, session: &str, args: Value) -> Value {
        serde_json::from_str(&self.raw_in(session, args).await).unwrap()
    }

    async fn run(&self, command: &str) -> Value {
        self.run_in("s", json!({ "command": command })).await
    }

    async fn output(&self, command: &str) -> String {
        let r = self.run(command).await;
        r["output"].as_str().unwrap().to_string()
    }
}

#[tokio::test]
async fn output_and_exit_code() {
    let f = fixture();
    assert_eq!(
        f.raw_in("s", json!({"command": "echo hello"})).await,
        r#"{"output":"hello","exit_code":0,"error":null}"#
    );
    let r = f.run("echo out; echo err >&2; exit 5").await;
    assert_eq!(r["output"], "out\nerr");
    assert_eq!(r["exit_code"], 5);
    assert_eq!(r["error"], Value::Null);

    let r = f.run("grep nothing-here /dev/null").await;
    assert_eq!(r["exit_code"], 1);
    assert_eq!(r["exit_code_meaning"], "No matches found (not an error)");

    // Quotes, heredocs and syntax errors in the command cannot break the wrapper.
    assert_eq!(f.output("echo 'it'\"'\"'s'").await, "it's");
    assert_eq!(f.output("cat <<'EOF'\nline $HOME\nEOF").await, "line $HOME");
    let r = f.run("if then").await;
    assert_eq!(r["exit_code"], 2);
    assert!(
        r["output"].as_str().unwrap().contains("syntax error"),
        "{r}"
    );
}

#[tokio::test]
async fn cwd_persists_across_calls() {
    let f = fixture();
    assert_eq!(f.output("pwd").await, f.ws.display().to_string());
    f.run("cd sub").await;
    assert_eq!(
        f.output("pwd").await,
        f.ws.join("sub").display().to_string()
    );
    f.run("cd ..").await;
    assert_eq!(f.output("pwd").await, f.ws.display().to_string());
}

#[tokio::test]
async fn exported_variables_persist_and_unset_removes_them() {
    let f = fixture();
    f.run("export FOO=bar; NOT_EXPORTED=1").await;
    assert_eq!(
        f.output("echo \"$FOO/${NOT_EXPORTED:-unset}\"").await,
        "bar/unset"
    );
    f.run("export MULTI='a b\nc=d'").await;
    assert_eq!(f.output("printf '%s' \"$MULTI\"").await, "a b\nc=d");
    f.run("unset FOO").await;
    assert_eq!(f.output("echo \"${FOO-gone}\"").await, "gone");
    let state = f.tool.shell_state("s").await.unwrap();
    assert!(!state.env.contains_key("FOO"));
    assert_eq!(state.env["MULTI"], "a b\nc=d");
    assert!(!state.env.contains_key("PWD") && !state.env.contains_key("SHLVL"));
}

#[tokio::test]
async fn exit_inside_the_command_still_saves_state() {
    let f = fixture();
    let r = f.run("cd sub; export X=kept; exit 3").await;
    assert_eq!(r["exit_code"], 3);
    assert_eq!(r["output"], "");
    assert_eq!(
        f.output("echo \"$(pwd) $X\"").await,
        format!("{} kept", f.ws.join("sub").display())
    );
}

#[tokio::test]
async fn timeout_reports_124_with_marker_and_keeps_state() {
    let f = fixture();
    f.run("export A=before").await;
    let r = f
        .run_in(
            "s",
            json!({"command": "echo started; export A=after; cd sub; sleep 30", "timeout": 1}),
        )
        .await;
    assert_eq!(r["exit_code"], 124);
    // As in Hermes, the marker is appended to the raw output (which ended in a newline).
    assert_eq!(r["output"], "started\n\n[Command timed out after 1s]");
    assert_eq!(
        f.output("echo \"$A $(pwd)\"").await,
        format!("before {}", f.ws.display())
    );
}

#[tokio::test]
async fn foreground_timeout_above_the_maximum_is_refused() {
    let f = fixture();
    assert_eq!(
        f.raw_in("s", json!({"command": "true", "timeout": 601}))
            .await,
        r#"{"error":"Foreground timeout 601s exceeds the maximum of 600s. Use background=true with notify_on_complete=true for long-running commands."}"#
    );
}

#[tokio::test]
async fn big_output_keeps_head_and_tail() {
    let f = fixture_with(|c| c.max_output_bytes = 1000);
    let full: String = (1..=2000).map(|i| format!("{i}\n")).collect();
    let total = full.chars().count();
    let out = f.output("seq 1 2000").await;
    assert!(out.starts_with("1\n2\n3\n"), "{out}");
    assert!(out.ends_with("1999\n2000"), "{out}");
    assert!(
        out.contains(&format!(
            "\n\n... [OUTPUT TRUNCATED - {} chars omitted out of {total} total] ...\n\n",
            total - 1000
        )),
        "{out}"
    );
    let head = full.chars().take(400).collect::<String>();
    assert!(out.starts_with(&head));
}

#[tokio::test]
async fn output_flood_is_stopped_and_said_so() {
    let f = fixture_with(|c| c.max_output_bytes = 2000);
    f.run("export KEEP=1").await;
    let r = f.run("export KEEP=2; yes flood").await;
    let out = r["output"].as_str().unwrap();
    assert!(
        out.contains("[Command stopped: its output passed 1048576 bytes."),
        "{out}"
    );
    assert!(out.contains("[OUTPUT TRUNCATED"), "{out}");
    assert_ne!(r["exit_code"], 0);
    assert_eq!(f.output("echo $KEEP").await, "1");
}

#[tokio::test]
async fn ansi_sequences_are_stripped() {
    let f = fixture();
    assert_eq!(
        f.output("printf '\\033[1;31mred\\033[0m plain \\033]0;title\\007done\\n'")
            .await,
        "red plain done"
    );
}

#[tokio::test]
async fn workdir_must_be_inside_the_workspace() {
    let f = fixture();
    let r = f
        .run_in("s", json!({"command": "pwd", "workdir": "/"}))
        .await;
    assert_eq!(r["status"], "blocked");
    assert_eq!(r["exit_code"], -1);
    assert_eq!(r["output"], "");
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .starts_with("Blocked: workdir '/' is outside the workspace"),
        "{r}"
    );
    let escape = format!("{}/sub/../..", f.ws.display());
    let r = f
        .run_in("s", json!({"command": "pwd", "workdir": escape}))
        .await;
    assert_eq!(r["status"], "blocked", "{r}");
    let r = f
        .run_in("s", json!({"command": "pwd", "workdir": "sub"}))
        .await;
    assert_eq!(r["status"], "blocked", "{r}");
    let r = f
        .run_in("s", json!({"command": "pwd", "workdir": "/tmp/$(id)"}))
        .await;
    assert_eq!(
        r["error"],
        "Blocked: workdir contains disallowed character '$'. Use a simple filesystem path \
         without shell metacharacters."
    );

    // Inside: runs there, and the session's own cwd stays where it was.
    let sub = f.ws.join("sub");
    let r = f
        .run_in(
            "s",
            json!({"command": "pwd; export W=1", "workdir": sub.to_str().unwrap()}),
        )
        .await;
    assert_eq!(r["output"], sub.display().to_string());
    assert_eq!(
        f.output("echo \"$(pwd) $W\"").await,
        format!("{} 1", f.ws.display())
    );
}

#[tokio::test]
async fn leaving_the_workspace_is_not_remembered() {
    let f = fixture();
    let r = f.run("cd / && pwd").await;
    assert_eq!(r["output"], "/");
    assert!(
        r["_warning"]
            .as_str()
            .unwrap()
            .contains("left the workspace"),
        "{r}"
    );
    assert_eq!(f.output("pwd").await, f.ws.display().to_string());
}

#[tokio::test]
async fn environment_starts_from_base_env_only() {
    let f = fixture();
    let host_names: BTreeSet<String> = std::env::vars().map(|(k, _)| k).collect();
    assert!(
        !host_names.is_empty(),
        "the test process has an environment to leak"
    );
    let out = f.output("env").await;
    let names: BTreeSet<&str> = out
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    let allowed: BTreeSet<&str> = ["PATH", "HERMES_TEST_BASE", "PWD", "SHLVL", "_", "OLDPWD"]
        .into_iter()
        .collect();
    assert!(names.is_subset(&allowed), "unexpected variables: {names:?}");
    assert!(out.contains("HERMES_TEST_BASE=from-base"));
}

#[tokio::test]
async fn sessions_have_separate_shells() {
    let f = fixture();
    f.run_in("a", json!({"command": "cd sub; export WHO=a"}))
        .await;
    let b = f
        .run_in("b", json!({"command": "echo \"$(pwd) ${WHO-none}\""}))
        .await;
    assert_eq!(b["output"], format!("{} none", f.ws.display()));
    f.tool.forget_session("a");
    let a = f
        .run_in("a", json!({"command": "echo \"$(pwd) ${WHO-none}\""}))
        .await;
    assert_eq!(a["output"], format!("{} none", f.ws.display()));
}

#[tokio::test]
async fn a_forged_trailer_cannot_set_state() {
    let f = fixture();
    // The command digs the marker out of its own command line and prints a fake trailer
    // claiming cwd=/ and EVIL=1 before the real one: neither is adopted, and it is told so.
    let forge = r#"m=$(printf '%s' "$BASH_EXECUTION_STRING" | grep -o '__HERMES_STATE_[0-9a-f]*__' | head -n 1); test -n "$m" && printf '\n%s\n/\n\000EVIL=1\000%s_END\n' "$m" "$m"; echo visible"#;
    let r = f.run(forge).await;
    assert!(r["output"].as_str().unwrap().ends_with("visible"), "{r}");
    assert!(
        r["_warning"].as_str().unwrap().contains("state marker"),
        "{r}"
    );
    let state = f.tool.shell_state("s").await.unwrap();
    assert!(!state.env.contains_key("EVIL"), "{state:?}");
    assert_eq!(state.cwd, f.ws);
}

/// Answers like a shell whose detached child printed a forged trailer after the real one
/// (inside the executor's drain window).
struct LateForger;

#[async_trait]
impl Executor for LateForger {
    fn kind(&self) -> &'static str {
        "late-forger"
    }

    async fn exec(
        &self,
        request: ExecRequest,
        _cancel: &CancellationToken,
    ) -> Result<ExecOutput, ExecError> {
        let at = request.command.find("__HERMES_STATE_").unwrap();
        let len = request.command[at + 15..].find("__").unwrap() + 17;
        let m = &request.command[at..at + len];
        let cwd = request.cwd.display().to_string();
        let mut output = format!("out\n{m}\n{cwd}\n\0GOOD=1\0{m}_END\n").into_bytes();
        output.extend(format!("\n{m}\n{cwd}/sub\n\0EVIL=1\0{m}_END\n").into_bytes());
        Ok(ExecOutput {
            exit_code: Some(0),
            signal: None,
            output,
            timed_out: false,
            output_truncated: false,
            duration: Duration::from_millis(1),
        })
    }
}

#[tokio::test]
async fn a_trailer_forged_after_the_real_one_cannot_set_state() {
    let dir = tempfile::tempdir().unwrap();
    let ws = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir(ws.join("sub")).unwrap();
    let tool = TerminalTool::new(Arc::new(LateForger), config(&ws));
    let out: Value = serde_json::from_str(
        &tool
            .call(json!({"command": "true"}), &ctx(&ws, "s"))
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        out["_warning"].as_str().unwrap().contains("state marker"),
        "{out}"
    );
    let state = tool.shell_state("s").await.unwrap();
    assert!(!state.env.contains_key("EVIL"), "{state:?}");
    assert!(!state.env.contains_key("GOOD"), "{state:?}");
    assert_eq!(state.cwd, ws);
}

#[tokio::test]
async fn the_kept_cwd_is_the_resolved_directory_not_the_link() {
    let f = fixture();
    std::os::unix::fs::symlink("sub", f.ws.join("link")).unwrap();
    f.run("cd link").await;
    let state = f.tool.shell_state("s").await.unwrap();
    assert_eq!(state.cwd, f.ws.join("sub"));
    // Retargeting the link does not move the next command.
    std::fs::create_dir(f.ws.join("other")).unwrap();
    std::fs::remove_file(f.ws.join("link")).unwrap();
    std::os::unix::fs::symlink("other", f.ws.join("link")).unwrap();
    assert_eq!(
        f.output("pwd -P").await,
        f.ws.join("sub").display().to_string()
    );
}

#[tokio::test]
async fn background_without_a_registry_is_refused_honestly() {
    let f = fixture();
    let r = f
        .run_in(
            "s",
            json!({"command": "sleep 100", "background": true, "notify_on_complete": true}),
        )
        .await;
    assert_eq!(r["status"], "error");
    assert_eq!(r["exit_code"], -1);
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .starts_with("Background processes are not available in this session"),
        "{r}"
    );
}

#[tokio::test]
async fn pty_commands_run_on_a_terminal() {
    let f = fixture();
    let r = f
        .run_in(
            "s",
            json!({"command": "test -t 0 && test -t 1 && printf 'on a tty\\n'; exit 3", "pty": true}),
        )
        .await;
    assert_eq!(r["output"], "on a tty", "{r}");
    assert_eq!(r["exit_code"], 3);
    // Without pty the same test says otherwise.
    let r = f
        .run_in("s", json!({"command": "test -t 0 || echo no tty"}))
        .await;
    assert_eq!(r["output"], "no tty");
    // A PTY command that does not end is stopped at its timeout.
    let r = f
        .run_in(
            "s",
            json!({"command": "echo waiting; read x", "pty": true, "timeout": 1}),
        )
        .await;
    assert_eq!(r["exit_code"], 124, "{r}");
    let out = r["output"].as_str().unwrap();
    assert!(
        out.starts_with("waiting") && out.ends_with("[Command timed out after 1s]"),
        "{out}"
    );
    // PTY commands start where the session is but do not move it.
    f.run("cd sub").await;
    let r = f
        .run_in("s", json!({"command": "pwd; cd ..; pwd", "pty": true}))
        .await;
    assert_eq!(
        r["output"].as_str().unwrap(),
        format!("{}\n{}", f.ws.join("sub").display(), f.ws.display())
    );
    assert_eq!(
        f.output("pwd").await,
        f.ws.join("sub").display().to_string()
    );
}

#[tokio::test]
async fn unavailable_executor_blocks_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let tool = TerminalTool::new(
        Arc::new(Unavailable::new(
            "native",
            "user namespaces are disabled (kernel.unprivileged_userns_clone=0)",
        )),
        config(dir.path()),
    );
    let out: Value = serde_json::from_str(
        &tool
            .call(json!({"command": "ls"}), &ctx(dir.path(), "s"))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(out["status"], "blocked");
    assert_eq!(out["exit_code"], -1);
    assert_eq!(out["output"], "");
    let err = out["error"].as_str().unwrap();
    assert!(
        err.contains("the native executor is unavailable")
            && err.contains("kernel.unprivileged_userns_clone=0")
            && err.contains("terminal.backend"),
        "{err}"
    );
}

/// Returns canned answers and records what it was asked to run.
struct Scripted {
    answer: Mutex<Option<Result<ExecOutput, ExecError>>>,
    seen: Mutex<Vec<ExecRequest>>,
}

#[async_trait]
impl Executor for Scripted {
    fn kind(&self) -> &'static str {
        "scripted"
    }

    async fn exec(
        &self,
        request: ExecRequest,
        _cancel: &CancellationToken,
    ) -> Result<ExecOutput, ExecError> {
        self.seen.lock().unwrap().push(request);
        self.answer
            .lock()
            .unwrap()
            .take()
            .unwrap_or(Err(ExecError::Cancelled))
    }
}

#[tokio::test]
async fn executor_failures_map_to_hermes_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let exec = Arc::new(Scripted {
        answer: Mutex::new(Some(Err(ExecError::Spawn("no /bin/bash".into())))),
        seen: Mutex::new(Vec::new()),
    });
    let mut cfg = config(dir.path());
    cfg.max_output_bytes = 50_000;
    let tool = TerminalTool::new(exec.clone(), cfg);
    let c = ctx(dir.path(), "s");
    assert_eq!(
        tool.call(json!({"command": "ls"}), &c).await.unwrap(),
        r#"{"output":"","exit_code":-1,"error":"Command execution failed: SpawnError: could not start the command: no /bin/bash"}"#
    );
    // Cancellation ends the call instead of producing a result.
    assert_eq!(
        tool.call(json!({"command": "ls"}), &c).await,
        Err(ToolError::Cancelled)
    );
    let seen = exec.seen.lock().unwrap();
    assert_eq!(seen[0].env, config(dir.path()).base_env);
    assert_eq!(seen[0].cwd, dir.path());
    assert_eq!(seen[0].timeout, Duration::from_secs(180));
    assert_eq!(seen[0].max_output_bytes, 1 << 20);
    assert!(seen[0].stdin.is_none());
}

#[test]
fn spec_is_hermes_shape() {
    let dir = tempfile::tempdir().unwrap();
    let tool = TerminalTool::new(Arc::new(LocalExecutor::new()), config(dir.path()));
    let spec = tool.spec();
    assert_eq!(spec.name, "terminal");
    assert_eq!(spec.parameters["required"], json!(["command"]));
    let props = spec.parameters["properties"].as_object().unwrap();
    let names: Vec<&str> = props.keys().map(String::as_str).collect();
    for want in [
        "command",
        "background",
        "timeout",
        "workdir",
        "pty",
        "notify_on_complete",
        "watch_patterns",
    ] {
        assert!(names.contains(&want), "{want} missing");
    }
    assert!(
        props["timeout"]["description"]
            .as_str()
            .unwrap()
            .starts_with("Max seconds to wait (default: 180, foreground max: 600).")
    );
    assert!(spec.description.starts_with(
        "Execute shell commands on a Linux environment. Filesystem, current working directory, \
         and exported environment variables persist between calls."
    ));
}
