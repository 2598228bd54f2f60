//! Background processes: `terminal(background=true)` and the `process` tool over the real
//! local executor in a temporary workspace. (The native sandbox is exercised end to end
//! in hermes-cli, which has the sandbox helper binary.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hermes_core::approval::{ApprovalMode, ApprovalPolicy, Approvals};
use hermes_core::redact::Redactor;
use hermes_core::schema::validate;
use hermes_core::{Tool, ToolContext, ToolError};
use hermes_sandbox::LocalExecutor;
use hermes_tools::process::{ProcessLimits, ProcessRegistry, ProcessTool, ProcessToolConfig};
use hermes_tools::terminal::{
    BACKGROUND_HINT, NOTIFY_UNSUPPORTED, TerminalConfig, TerminalTool, WATCH_PATTERNS_IGNORED,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Hang guard for anything that waits on a process.
const GUARD: Duration = Duration::from_secs(30);

struct Fixture {
    _dir: tempfile::TempDir,
    ws: PathBuf,
    terminal: TerminalTool,
    process: ProcessTool,
    registry: Arc<ProcessRegistry>,
}

fn build(limits: ProcessLimits, notifications: bool, approvals: Option<Approvals>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let ws = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir(ws.join("sub")).unwrap();
    let mut cfg = TerminalConfig::new(&ws);
    cfg.base_env = BTreeMap::from([("PATH".to_string(), "/usr/bin:/bin".to_string())]);
    let registry = Arc::new(ProcessRegistry::new(limits).with_redactor(Some(Arc::new(
        Redactor::new(["sekrit-value-12345".to_string()]),
    ))));
    registry.set_notifications_enabled(notifications);
    let mut terminal =
        TerminalTool::new(Arc::new(LocalExecutor::new()), cfg).with_processes(registry.clone());
    if let Some(a) = approvals {
        terminal = terminal.with_approvals(Arc::new(a));
    }
    let process = ProcessTool::new(
        registry.clone(),
        ProcessToolConfig {
            max_wait: Duration::from_secs(20),
            max_output_chars: 50_000,
        },
    );
    Fixture {
        _dir: dir,
        ws,
        terminal,
        process,
        registry,
    }
}

fn fixture() -> Fixture {
    build(ProcessLimits::default(), true, None)
}

fn ctx(ws: &Path, lineage: &str) -> ToolContext {
    ToolContext {
        session_id: lineage.into(),
        lineage_id: lineage.into(),
        workspace: ws.to_path_buf(),
        cancel: CancellationToken::new(),
    }
}

impl Fixture {
    async fn terminal_in(&self, lineage: &str, args: Value) -> Value {
        validate(&self.terminal.spec().parameters, &args).unwrap();
        let raw = self
            .terminal
            .call(args, &ctx(&self.ws, lineage))
            .await
            .unwrap();
        serde_json::from_str(&raw).unwrap()
    }

    /// Starts `command` in the background in conversation "s"; returns its id.
    async fn start(&self, command: &str, extra: Value) -> String {
        let mut args = json!({"command": command, "background": true});
        for (k, v) in extra.as_object().unwrap() {
            args[k] = v.clone();
        }
        let r = self.terminal_in("s", args).await;
        assert_eq!(r["output"], "Background process started", "{r}");
        r["session_id"].as_str().unwrap().to_string()
    }

    async fn process_raw(&self, lineage: &str, args: Value) -> Result<String, ToolError> {
        validate(&self.process.spec().parameters, &args).unwrap();
        self.process.call(args, &ctx(&self.ws, lineage)).await
    }

    async fn process(&self, args: Value) -> Value {
        let raw = self.process_raw("s", args).await.unwrap();
        serde_json::from_str(&raw).unwrap()
    }

    async fn act(&self, action: &str, id: &str) -> Value {
        self.process(json!({"action": action, "session_id": id}))
            .await
    }

    /// Polls until the output so far contains `needle` (hang-guarded).
    async fn poll_until(&self, id: &str, needle: &str) -> String {
        let mut seen = String::new();
        tokio::time::timeout(GUARD, async {
            loop {
                let r = self.act("poll", id).await;
                seen.push_str(r["new_output"].as_str().unwrap());
                if seen.contains(needle) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{needle:?} never appeared; saw {seen:?}"));
        seen
    }

    /// Waits until a notification is queued for "s" and takes them.
    async fn notifications(&self) -> Vec<String> {
        let mut changes = self.registry.subscribe();
        tokio::time::timeout(GUARD, async {
            loop {
                let n = self.registry.take_notifications("s");
                if !n.is_empty() {
                    return n;
                }
                changes.changed().await.unwrap();
            }
        })
        .await
        .expect("no notification arrived")
    }

    async fn wait_for_file(&self, name: &str) -> String {
        let path = self.ws.join(name);
        tokio::time::timeout(GUARD, async {
            loop {
                if let Ok(s) = std::fs::read_to_string(&path)
                    && s.ends_with('\n')
                {
                    return s.trim().to_string();
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{name} was never written"))
    }
}

fn error_of(e: Result<String, ToolError>) -> Value {
    match e {
        Err(ToolError::RespondToModel(s)) => serde_json::from_str(&s).unwrap(),
        other => panic!("expected an error for the model, got {other:?}"),
    }
}

/// Whether process `pid` has ended (gone or a zombie), waiting up to the hang guard.
async fn gone(pid: i32) -> bool {
    tokio::time::timeout(GUARD, async {
        loop {
            match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => return,
                Ok(stat) => {
                    let state = stat.rsplit(')').next().unwrap_or("").trim_start();
                    if state.starts_with('Z') || state.starts_with('X') {
                        return;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .is_ok()
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit(')').next().unwrap_or("").trim_start();
        !state.starts_with('Z') && !state.starts_with('X')
    })
}

#[tokio::test]
async fn background_results_have_hermes_shape() {
    let f = fixture();
    let c = ctx(&f.ws, "s");
    let raw = f
        .terminal
        .call(
            json!({"command": "sleep 0.1", "background": true, "notify_on_complete": true}),
            &c,
        )
        .await
        .unwrap();
    let r: Value = serde_json::from_str(&raw).unwrap();
    let id = r["session_id"].as_str().unwrap();
    assert!(
        id.len() == 17 && id.starts_with("proc_") && id[5..].chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
    assert_eq!(
        raw,
        format!(
            r#"{{"output":"Background process started","session_id":"{id}","pid":null,"exit_code":0,"error":null,"notify_on_complete":true}}"#
        )
    );

    // Neither flag: Hermes' hint.
    let r = f
        .terminal_in("s", json!({"command": "sleep 0.1", "background": true}))
        .await;
    assert_eq!(r["hint"], BACKGROUND_HINT);
    assert!(r.get("notify_on_complete").is_none());

    // Both: watch_patterns is dropped.
    let r = f
        .terminal_in(
            "s",
            json!({"command": "sleep 0.1", "background": true, "notify_on_complete": true,
                   "watch_patterns": ["x"]}),
        )
        .await;
    assert_eq!(r["notify_on_complete"], true);
    assert_eq!(r["watch_patterns_ignored"], WATCH_PATTERNS_IGNORED);
    assert!(r.get("watch_patterns").is_none());

    // Watch patterns alone are echoed.
    let r = f
        .terminal_in(
            "s",
            json!({"command": "sleep 0.1", "background": true, "watch_patterns": ["x", "y"]}),
        )
        .await;
    assert_eq!(r["watch_patterns"], json!(["x", "y"]));
    assert!(r.get("hint").is_none());

    // Bad watch patterns are refused before anything runs.
    let raw = f
        .terminal
        .call(
            json!({"command": "touch ran", "background": true, "watch_patterns": "x"}),
            &c,
        )
        .await
        .unwrap();
    let r: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(r["status"], "error");
    assert!(!f.ws.join("ran").exists());
}

#[tokio::test]
async fn without_a_notification_sink_the_flags_are_refused_not_dropped_silently() {
    let f = build(ProcessLimits::default(), false, None);
    for extra in [
        json!({"notify_on_complete": true}),
        json!({"watch_patterns": ["READY"]}),
        json!({}),
    ] {
        let mut args = json!({"command": "echo READY; sleep 0.1", "background": true});
        for (k, v) in extra.as_object().unwrap() {
            args[k] = v.clone();
        }
        let r = f.terminal_in("s", args).await;
        assert_eq!(r["notify_unsupported"], NOTIFY_UNSUPPORTED, "{r}");
        assert!(r.get("notify_on_complete").is_none(), "{r}");
        assert!(r.get("watch_patterns").is_none(), "{r}");
        assert!(r.get("hint").is_none(), "{r}");
        let id = r["session_id"].as_str().unwrap();
        let w = f
            .process(json!({"action": "wait", "session_id": id, "timeout": 20}))
            .await;
        assert_eq!(w["status"], "exited");
    }
    assert!(f.registry.take_notifications("s").is_empty());
}

#[tokio::test]
async fn wait_returns_the_exit_and_output() {
    let f = fixture();
    let id = f
        .start(
            "for i in 1 2 3; do echo line $i; done; printf '\\033[1mbold\\033[0m\\n'; exit 3",
            json!({"notify_on_complete": true}),
        )
        .await;
    let r = f
        .process(json!({"action": "wait", "session_id": id, "timeout": 20}))
        .await;
    assert_eq!(r["status"], "exited", "{r}");
    assert_eq!(r["exit_code"], 3);
    assert_eq!(r["completion_reason"], "exited");
    assert_eq!(r["output"], "line 1\nline 2\nline 3\nbold");
    assert!(r.get("output_cut").is_none());
    // The model has the result: no completion notification repeats it.
    assert!(f.registry.take_notifications("s").is_empty());

    // Poll and log after the exit.
    let p = f.act("poll", &id).await;
    assert_eq!(p["status"], "exited");
    assert_eq!(p["exit_code"], 3);
    assert!(p["pid"].is_null());
    assert_eq!(p["output_preview"], "line 1\nline 2\nline 3\nbold\n");
    let l = f.act("log", &id).await;
    assert_eq!(l["total_lines"], 4);
    assert_eq!(l["showing"], "4 lines");
    assert_eq!(l["output"], "line 1\nline 2\nline 3\nbold");

    // Writing to an exited process.
    let w = f
        .process(json!({"action": "write", "session_id": id, "data": "x"}))
        .await;
    assert_eq!(
        w,
        json!({"status": "already_exited", "error": "Process has already finished"})
    );
    // Killing it reports how it ended.
    let k = f.act("kill", &id).await;
    assert_eq!(k["status"], "already_exited");
    assert_eq!(k["exit_code"], 3);
}

#[tokio::test]
async fn completion_notifications_carry_the_tail_and_are_scrubbed() {
    let f = fixture();
    let id = f
        .start(
            "echo building; echo token sekrit-value-12345; exit 2",
            json!({"notify_on_complete": true}),
        )
        .await;
    let n = f.notifications().await;
    assert_eq!(n.len(), 1, "{n:?}");
    let text = &n[0];
    assert!(
        text.starts_with(&format!(
            "[IMPORTANT: Background process {id} completed (exit code 2).\nCommand: echo \
             building; echo token "
        )),
        "{text}"
    );
    assert!(text.contains("\nOutput:\nbuilding\ntoken "), "{text}");
    assert!(text.ends_with(']'));
    assert!(!text.contains("sekrit-value-12345"), "scrubbed: {text}");
    // Taken once.
    assert!(f.registry.take_notifications("s").is_empty());
}

#[tokio::test]
async fn a_summary_is_announced_once_and_the_notification_stays_queued() {
    let f = fixture();
    let id = f
        .start("echo hi", json!({"notify_on_complete": true}))
        .await;
    let mut changes = f.registry.subscribe();
    let summary = tokio::time::timeout(GUARD, async {
        loop {
            let a = f.registry.announce("s");
            if !a.is_empty() {
                return a;
            }
            changes.changed().await.unwrap();
        }
    })
    .await
    .unwrap();
    assert_eq!(
        summary,
        vec![format!(
            "background process {id} finished (exit code 0): echo hi"
        )]
    );
    assert!(f.registry.announce("s").is_empty(), "announced once");
    let n = f.registry.take_notifications("s");
    assert_eq!(n.len(), 1);
    assert!(n[0].contains("Output:\nhi]"), "{n:?}");
}

#[tokio::test]
async fn watch_patterns_notify_on_a_matching_line() {
    let f = fixture();
    let id = f
        .start(
            "echo starting; echo 'Server READY on 8080'; exec sleep 1000",
            json!({"watch_patterns": ["READY"]}),
        )
        .await;
    let n = f.notifications().await;
    assert_eq!(
        n,
        vec![format!(
            "[IMPORTANT: Background process {id} matched watch pattern \"READY\".\nCommand: \
             echo starting; echo 'Server READY on 8080'; exec sleep 1000\nMatched output:\n\
             Server READY on 8080]"
        )]
    );
    let k = f.act("kill", &id).await;
    assert_eq!(k["status"], "killed", "{k}");
    // Killed on request: no completion notification.
    assert!(f.registry.take_notifications("s").is_empty());
}

#[tokio::test]
async fn stdin_write_submit_and_close() {
    let f = fixture();
    let id = f
        .start(
            "echo ready; while read l; do echo got-$l; done; echo eof",
            json!({}),
        )
        .await;
    f.poll_until(&id, "ready").await;
    let s = f
        .process(json!({"action": "submit", "session_id": id, "data": "a"}))
        .await;
    assert_eq!(s, json!({"status": "ok", "bytes_written": 2}));
    let seen = f.poll_until(&id, "got-a").await;
    assert!(
        !seen.contains("ready"),
        "poll shows only new output: {seen}"
    );
    let w = f
        .process(json!({"action": "write", "session_id": id, "data": "b"}))
        .await;
    assert_eq!(w, json!({"status": "ok", "bytes_written": 1}));
    f.process(json!({"action": "submit", "session_id": id, "data": "c"}))
        .await;
    f.poll_until(&id, "got-bc").await;
    let c = f.act("close", &id).await;
    assert_eq!(c, json!({"status": "ok", "message": "stdin closed"}));
    let r = f
        .process(json!({"action": "wait", "session_id": id, "timeout": 20}))
        .await;
    assert_eq!(r["status"], "exited");
    assert_eq!(r["exit_code"], 0);
    assert_eq!(r["output"], "ready\ngot-a\ngot-bc\neof");
}

#[tokio::test]
async fn a_pty_process_talks_through_its_terminal() {
    let f = fixture();
    let id = f
        .start(
            "test -t 0 && echo on-a-tty; printf 'name? '; read n; echo hello-$n; cat; echo \
             after-eof",
            json!({"pty": true}),
        )
        .await;
    f.poll_until(&id, "name? ").await;
    f.process(json!({"action": "submit", "session_id": id, "data": "bob"}))
        .await;
    f.poll_until(&id, "hello-bob").await;
    // Ctrl-D ends `cat`.
    let c = f.act("close", &id).await;
    assert_eq!(c, json!({"status": "ok", "message": "EOF sent"}));
    let r = f
        .process(json!({"action": "wait", "session_id": id, "timeout": 20}))
        .await;
    assert_eq!(r["status"], "exited", "{r}");
    let out = r["output"].as_str().unwrap();
    assert!(out.starts_with("on-a-tty\nname? bob\nhello-bob"), "{out:?}");
    assert!(out.ends_with("after-eof"), "{out:?}");
    assert!(!out.contains('\r'), "{out:?}");
}

#[tokio::test]
async fn kill_ends_the_process_and_its_children() {
    let f = fixture();
    let id = f
        .start(
            "sleep 1000 & echo $! > child.pid; echo $$ > shell.pid; wait",
            json!({"notify_on_complete": true}),
        )
        .await;
    let child: i32 = f.wait_for_file("child.pid").await.parse().unwrap();
    let shell: i32 = f.wait_for_file("shell.pid").await.parse().unwrap();
    assert!(alive(child));
    let k = f.act("kill", &id).await;
    assert_eq!(k["status"], "killed", "{k}");
    assert_eq!(k["session_id"], id.as_str());
    assert_eq!(k["completion_reason"], "killed");
    assert_eq!(k["termination_source"], "process.kill");
    assert!(
        k["exit_code"].as_i64().unwrap() < 0,
        "ended by a signal: {k}"
    );
    assert!(gone(child).await, "the child survived the kill");
    assert!(gone(shell).await, "the shell survived the kill");
    assert!(f.registry.take_notifications("s").is_empty());
    let l = f.process(json!({"action": "list"})).await;
    let entry = &l["processes"][0];
    assert_eq!(entry["status"], "exited");
    assert_eq!(entry["session_id"], id.as_str());
}

#[tokio::test]
async fn release_kills_a_conversation_and_leaves_others() {
    let f = fixture();
    let c_a = ctx(&f.ws, "a");
    let c_b = ctx(&f.ws, "b");
    for (c, name) in [(&c_a, "a1"), (&c_a, "a2"), (&c_b, "b1")] {
        let r: Value = serde_json::from_str(
            &f.terminal
                .call(
                    json!({"command": format!("echo $$ > {name}.pid; exec sleep 1000"),
                           "background": true, "notify_on_complete": true}),
                    c,
                )
                .await
                .unwrap(),
        )
        .unwrap();
        assert!(r["session_id"].is_string(), "{r}");
    }
    let a1: i32 = f.wait_for_file("a1.pid").await.parse().unwrap();
    let a2: i32 = f.wait_for_file("a2.pid").await.parse().unwrap();
    let b1: i32 = f.wait_for_file("b1.pid").await.parse().unwrap();
    assert_eq!(f.registry.running("a"), 2);
    f.registry.release("a");
    assert!(
        gone(a1).await && gone(a2).await,
        "conversation a's processes survived"
    );
    assert!(alive(b1), "conversation b's process was killed");
    assert_eq!(f.registry.running("a"), 0);
    assert!(f.registry.take_notifications("a").is_empty());
    let list: Value = serde_json::from_str(
        &f.process
            .call(json!({"action": "list"}), &c_a)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(list, json!({"processes": []}));
    // Dropping the registry (the agent going away) ends the rest.
    let Fixture {
        terminal,
        process,
        registry,
        _dir,
        ..
    } = f;
    drop((terminal, process, registry));
    assert!(
        gone(b1).await,
        "conversation b's process outlived the registry"
    );
}

#[tokio::test]
async fn conversations_cannot_see_each_others_processes() {
    let f = fixture();
    let id = f.start("exec sleep 1000", json!({})).await;
    let e = error_of(
        f.process_raw("other", json!({"action": "kill", "session_id": id}))
            .await,
    );
    assert_eq!(
        e,
        json!({"status": "not_found", "error": format!("No process with ID {id}")})
    );
    let l: Value = serde_json::from_str(
        &f.process_raw("other", json!({"action": "list"}))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(l, json!({"processes": []}));
    // A unique prefix works within the conversation.
    let k = f.act("kill", &id[..9]).await;
    assert_eq!(k["status"], "killed", "{k}");
}

#[tokio::test]
async fn the_running_limit_is_enforced_per_conversation() {
    let f = build(
        ProcessLimits {
            max_running: 2,
            ..ProcessLimits::default()
        },
        true,
        None,
    );
    let a = f.start("exec sleep 1000", json!({})).await;
    f.start("exec sleep 1000", json!({})).await;
    let r = f
        .terminal_in("s", json!({"command": "touch third", "background": true}))
        .await;
    assert_eq!(r["status"], "error");
    assert_eq!(r["exit_code"], -1);
    let err = r["error"].as_str().unwrap();
    assert!(
        err.starts_with(
            "Failed to start background process: 2 background processes are already running"
        ) && err.contains("process(action='kill')"),
        "{err}"
    );
    assert!(!f.ws.join("third").exists());
    // Another conversation has its own allowance.
    let r = f
        .terminal_in(
            "t",
            json!({"command": "exec sleep 1000", "background": true}),
        )
        .await;
    assert!(r["session_id"].is_string(), "{r}");
    // Room again after a kill.
    f.act("kill", &a).await;
    f.start("exec sleep 1000", json!({})).await;
    f.registry.release_all();
}

#[tokio::test]
async fn output_beyond_the_buffer_keeps_the_tail_and_counts_lines() {
    let f = build(
        ProcessLimits {
            max_buffer_bytes: 10_000,
            ..ProcessLimits::default()
        },
        true,
        None,
    );
    let id = f.start("seq 1 20000", json!({})).await;
    let r = f
        .process(json!({"action": "wait", "session_id": id, "timeout": 20}))
        .await;
    assert_eq!(r["status"], "exited");
    assert!(r["output"].as_str().unwrap().ends_with("19999\n20000"));
    assert!(r["output_cut"].as_u64().unwrap() > 100_000, "{r}");
    let l = f.act("log", &id).await;
    assert_eq!(l["total_lines"], 20000);
    assert_eq!(l["showing"], "200 lines");
    let out = l["output"].as_str().unwrap();
    assert!(
        out.starts_with("19801\n") && out.ends_with("\n20000"),
        "{out}"
    );
    // A page that was dropped says so and starts where the kept output does.
    let l = f
        .process(json!({"action": "log", "session_id": id, "offset": 0, "limit": 3}))
        .await;
    let first: u64 = l["output"]
        .as_str()
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(first > 15000, "{l}");
    assert!(
        l["note"].as_str().unwrap().contains("no longer kept"),
        "{l}"
    );
    // A kept page is exact.
    let l = f
        .process(json!({"action": "log", "session_id": id, "offset": 19990, "limit": 5}))
        .await;
    assert_eq!(l["output"], "19991\n19992\n19993\n19994\n19995");
    assert_eq!(l["showing"], "5 lines");
}

#[tokio::test]
async fn log_pages_by_line() {
    let f = fixture();
    let id = f.start("seq 1 500", json!({})).await;
    f.process(json!({"action": "wait", "session_id": id, "timeout": 20}))
        .await;
    let l = f
        .process(json!({"action": "log", "session_id": id, "offset": 10, "limit": 5}))
        .await;
    assert_eq!(l["output"], "11\n12\n13\n14\n15");
    assert_eq!(l["total_lines"], 500);
    assert_eq!(l["status"], "exited");
    assert!(l.get("note").is_none());
    let l = f
        .process(json!({"action": "log", "session_id": id, "offset": 498}))
        .await;
    assert_eq!(l["output"], "499\n500");
    assert_eq!(l["showing"], "2 lines");
}

#[tokio::test]
async fn wait_times_out_with_partial_output_and_a_note() {
    let f = fixture();
    let id = f
        .start(
            "echo partial; exec sleep 1000",
            json!({"notify_on_complete": true}),
        )
        .await;
    f.poll_until(&id, "partial").await;
    let r = f
        .process(json!({"action": "wait", "session_id": id, "timeout": 1}))
        .await;
    assert_eq!(r["status"], "timeout");
    assert_eq!(r["process_running"], true);
    assert_eq!(r["output"], "partial\n");
    let note = r["timeout_note"].as_str().unwrap();
    assert!(
        note.starts_with("Wait window of 1s elapsed — the process is still running.")
            && note.contains("you will be notified on exit"),
        "{note}"
    );
    // Longer than allowed: clamped, and said so.
    let r = f.process(json!({"action": "kill", "session_id": id})).await;
    assert_eq!(r["status"], "killed");
    let r = f
        .process(json!({"action": "wait", "session_id": id, "timeout": 9999}))
        .await;
    assert_eq!(r["status"], "exited");
    assert_eq!(
        r["timeout_note"],
        "Requested wait of 9999s was clamped to configured limit of 20s"
    );
}

#[tokio::test]
async fn a_cancelled_wait_ends_the_call() {
    let f = fixture();
    let id = f.start("exec sleep 1000", json!({})).await;
    let c = ctx(&f.ws, "s");
    let cancel = c.cancel.clone();
    let waiting = f.process.call(
        json!({"action": "wait", "session_id": id, "timeout": 20}),
        &c,
    );
    cancel.cancel();
    assert_eq!(
        tokio::time::timeout(GUARD, waiting).await.unwrap(),
        Err(ToolError::Cancelled)
    );
    f.registry.release_all();
}

#[tokio::test]
async fn hermes_error_texts() {
    let f = fixture();
    let e = error_of(f.process_raw("s", json!({"action": "poll"})).await);
    assert_eq!(e, json!({"error": "session_id is required for poll"}));
    let e = error_of(
        f.process_raw("s", json!({"action": "kill", "session_id": "  "}))
            .await,
    );
    assert_eq!(e, json!({"error": "session_id is required for kill"}));
    let e = error_of(
        f.process_raw(
            "s",
            json!({"action": "log", "session_id": "proc_000000000000"}),
        )
        .await,
    );
    assert_eq!(
        e,
        json!({"status": "not_found", "error": "No process with ID proc_000000000000"})
    );
    // An action outside the schema (a caller that skips validation).
    let e = error_of(
        f.process
            .call(json!({"action": "stop"}), &ctx(&f.ws, "s"))
            .await,
    );
    assert_eq!(
        e,
        json!({"error": "Unknown process action: stop. Use: list, poll, log, wait, kill, write, submit, close"})
    );
    // Unknown ids are refused before any waiting.
    let e = error_of(
        f.process_raw(
            "s",
            json!({"action": "wait", "session_id": "x", "timeout": 1}),
        )
        .await,
    );
    assert_eq!(e["status"], "not_found");
}

#[tokio::test]
async fn background_commands_pass_the_approval_check() {
    let f = build(
        ProcessLimits::default(),
        true,
        Some(Approvals::new(ApprovalPolicy {
            mode: ApprovalMode::Manual,
            ..ApprovalPolicy::default()
        })),
    );
    std::fs::create_dir_all(f.ws.join("build/obj")).unwrap();
    std::fs::write(f.ws.join("build/obj/a.o"), "x").unwrap();
    for pty in [false, true] {
        let r = f
            .terminal_in(
                "s",
                json!({"command": "rm -rf build", "background": true, "pty": pty,
                       "notify_on_complete": true}),
            )
            .await;
        assert_eq!(r["status"], "blocked", "{r}");
        assert!(
            r["error"]
                .as_str()
                .unwrap()
                .starts_with("Command denied: recursive delete."),
            "{r}"
        );
        assert!(r.get("session_id").is_none());
    }
    // The foreground PTY path is checked too.
    let r = f
        .terminal_in("s", json!({"command": "rm -rf build", "pty": true}))
        .await;
    assert_eq!(r["status"], "blocked", "{r}");
    assert_eq!(f.registry.running("s"), 0);
    let l = f.process(json!({"action": "list"})).await;
    assert_eq!(l, json!({"processes": []}));
    assert!(f.ws.join("build/obj/a.o").exists(), "nothing was deleted");
}

#[tokio::test]
async fn background_commands_start_in_the_session_state_without_changing_it() {
    let f = fixture();
    f.terminal_in("s", json!({"command": "cd sub && export GREETING=hi"}))
        .await;
    let id = f
        .start(
            "pwd; echo $GREETING; cd ..; export GREETING=changed",
            json!({}),
        )
        .await;
    let r = f
        .process(json!({"action": "wait", "session_id": id, "timeout": 20}))
        .await;
    assert_eq!(
        r["output"],
        format!("{}\nhi", f.ws.join("sub").display()).as_str()
    );
    let r = f
        .terminal_in("s", json!({"command": "pwd; echo $GREETING"}))
        .await;
    assert_eq!(
        r["output"],
        format!("{}\nhi", f.ws.join("sub").display()).as_str()
    );
    // workdir applies to background commands as well.
    let id = f
        .start("pwd", json!({"workdir": f.ws.display().to_string()}))
        .await;
    let r = f
        .process(json!({"action": "wait", "session_id": id, "timeout": 20}))
        .await;
    assert_eq!(r["output"], f.ws.display().to_string().as_str());
}

#[test]
fn spec_is_hermes_shape() {
    let registry = Arc::new(ProcessRegistry::default());
    let tool = ProcessTool::new(registry, ProcessToolConfig::default());
    let spec = tool.spec();
    assert_eq!(spec.name, "process");
    assert!(spec.description.starts_with(
        "Manage background processes started with terminal(background=true). Actions: 'list'"
    ));
    assert_eq!(spec.parameters["required"], json!(["action"]));
    assert_eq!(
        spec.parameters["properties"]["action"]["enum"],
        json!([
            "list", "poll", "log", "wait", "kill", "write", "submit", "close"
        ])
    );
    let props: Vec<&str> = spec.parameters["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for want in ["action", "session_id", "data", "timeout", "offset", "limit"] {
        assert!(props.contains(&want), "{want}");
    }
    assert!(!tool.is_mutating(&json!({"action": "poll"})));
    assert!(tool.is_mutating(&json!({"action": "kill"})));
}
