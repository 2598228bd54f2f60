//! Background processes end to end, in the native sandbox (the default backend): the
//! scripted model starts processes, polls them, talks to their input, kills them; the
//! REPL hands completion notifications to the model with the next message; nothing
//! survives a kill, `/new` or the end of the program; and background commands pass the
//! same approval check as foreground ones.

use std::process::Stdio;
use std::time::Duration;

use hermes_testkit::Reply;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use super::support::{World, messages};

/// Hang guard for anything that waits.
const GUARD: Duration = Duration::from_secs(60);

/// A `sleep` argument no other process on the machine has: processes are found by it.
fn marker() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "86400.{:03}{:06}",
        std::process::id() % 1000,
        nanos % 1_000_000
    )
}

/// Live processes (not zombies) whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|s| {
            let state = s.rsplit(')').next().unwrap_or("").trim_start();
            state.starts_with('Z') || state.starts_with('X')
        });
        if !zombie && String::from_utf8_lossy(&cmdline).contains(needle) {
            out.push(pid);
        }
    }
    out
}

async fn until(what: &str, mut check: impl FnMut() -> bool) {
    tokio::time::timeout(GUARD, async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for: {what}"));
}

/// The results (parsed JSON) of the tool calls a request answers: its trailing tool
/// messages, in order.
fn tool_results(req: &hermes_testkit::RecordedRequest) -> Vec<Value> {
    let all = messages(req);
    let trailing = all.iter().rev().take_while(|m| m["role"] == "tool").count();
    all[all.len() - trailing..]
        .iter()
        .map(|m| {
            let content = m["content"].as_str().unwrap();
            serde_json::from_str(content).unwrap_or_else(|_| Value::String(content.to_string()))
        })
        .collect()
}

/// The last user message of a request.
fn last_user(req: &hermes_testkit::RecordedRequest) -> String {
    messages(req)
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// `hermes chat` with its input on a pipe, driven line by line.
struct Repl {
    child: tokio::process::Child,
    stdin: Option<tokio::process::ChildStdin>,
    stderr: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
}

impl Repl {
    fn start(w: &World) -> Repl {
        let mut c = w.cmd(&["chat"]);
        c.stdin(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let stdin = child.stdin.take();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Repl {
            child,
            stdin,
            stderr: rx,
            seen: Vec::new(),
        }
    }

    async fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
    }

    /// Waits for a stderr line containing `needle`.
    async fn stderr_line(&mut self, needle: &str) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        let seen = &mut self.seen;
        let rx = &mut self.stderr;
        tokio::time::timeout(GUARD, async {
            while let Some(line) = rx.recv().await {
                seen.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
            panic!("stderr closed before {needle:?}; saw {seen:?}");
        })
        .await
        .unwrap_or_else(|_| panic!("no stderr line with {needle:?}"))
    }

    /// Ends the input (Ctrl-D) and waits for the program to exit.
    async fn finish(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        tokio::time::timeout(GUARD, self.child.wait())
            .await
            .expect("hermes chat did not exit after end of input")
            .unwrap()
    }
}

async fn turn_done(w: &World, total_requests: usize) -> Vec<hermes_testkit::RecordedRequest> {
    let reqs = w.mock.wait_for_requests(total_requests, GUARD).await;
    assert!(
        reqs.len() >= total_requests,
        "only {} of {total_requests} model requests arrived",
        reqs.len()
    );
    reqs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_processes_in_the_repl() {
    let w = World::new().await;
    let m1 = marker();
    let reader_cmd = "while read l; do echo got-$l; done; echo input-closed";

    // Turn 1: a sleeper (with a child of its own), a line reader and a prompt on a
    // terminal.
    w.mock.push(Reply::tool_calls(vec![
        (
            "terminal".into(),
            json!({"command": format!("sleep {m1} & sleep {m1}; wait"), "background": true}),
        ),
        (
            "terminal".into(),
            json!({"command": reader_cmd, "background": true, "notify_on_complete": true}),
        ),
        (
            "terminal".into(),
            json!({"command": "test -t 0 && echo on-a-tty; printf 'name? '; read n; echo hi-$n",
                   "background": true, "pty": true}),
        ),
    ]));
    w.mock.push(Reply::text("started"));
    let mut repl = Repl::start(&w);
    repl.say("start them").await;
    let reqs = turn_done(&w, 2).await;
    let started = tool_results(&reqs[1]);
    assert_eq!(started.len(), 3, "{started:?}");
    for r in &started {
        assert_eq!(r["output"], "Background process started", "{r}");
        assert!(r["pid"].is_null());
    }
    assert_eq!(started[1]["notify_on_complete"], true);
    assert!(started[0]["hint"].is_string());
    let sleeper = started[0]["session_id"].as_str().unwrap().to_string();
    let reader = started[1]["session_id"].as_str().unwrap().to_string();
    let prompt = started[2]["session_id"].as_str().unwrap().to_string();
    until("both sleeps run", || processes_with(&m1).len() >= 2).await;

    // Turn 2: poll the sleeper, feed the reader and the prompt.
    w.mock.push(Reply::tool_calls(vec![
        (
            "process".into(),
            json!({"action": "poll", "session_id": sleeper}),
        ),
        (
            "process".into(),
            json!({"action": "submit", "session_id": reader, "data": "hello"}),
        ),
        (
            "process".into(),
            json!({"action": "submit", "session_id": prompt, "data": "bob"}),
        ),
    ]));
    w.mock.push(Reply::text("fed"));
    repl.say("feed them").await;
    let reqs = turn_done(&w, 4).await;
    let r = tool_results(&reqs[3]);
    assert_eq!(r[0]["status"], "running", "{r:?}");
    assert_eq!(r[0]["session_id"], sleeper.as_str());
    assert_eq!(r[1], json!({"status": "ok", "bytes_written": 6}));
    assert_eq!(r[2], json!({"status": "ok", "bytes_written": 4}));

    // Turn 3: close the reader's input; it finishes, and the idle REPL says so.
    w.mock.push(Reply::tool_call(
        "process",
        json!({"action": "close", "session_id": reader}),
    ));
    w.mock.push(Reply::text("closed"));
    repl.say("close it").await;
    let reqs = turn_done(&w, 6).await;
    assert_eq!(
        tool_results(&reqs[5])[0],
        json!({"status": "ok", "message": "stdin closed"})
    );
    let notice = repl
        .stderr_line(&format!(
            "background process {reader} finished (exit code 0)"
        ))
        .await;
    assert!(notice.contains("with your next message"), "{notice}");

    // Turn 4: the notification arrives with the next message; then wait for the prompt
    // process, kill the sleeper and list.
    w.mock.push(Reply::tool_calls(vec![
        (
            "process".into(),
            json!({"action": "wait", "session_id": prompt, "timeout": 30}),
        ),
        (
            "process".into(),
            json!({"action": "kill", "session_id": sleeper}),
        ),
        ("process".into(), json!({"action": "list"})),
    ]));
    w.mock.push(Reply::text("stopped"));
    repl.say("stop the sleeper").await;
    let reqs = turn_done(&w, 8).await;
    assert_eq!(
        last_user(&reqs[6]),
        format!(
            "[IMPORTANT: Background process {reader} completed (exit code 0).\nCommand: \
             {reader_cmd}\nOutput:\ngot-hello\ninput-closed]\n\nstop the sleeper"
        )
    );
    let r = tool_results(&reqs[7]);
    assert_eq!(r[0]["status"], "exited", "{r:?}");
    let out = r[0]["output"].as_str().unwrap();
    assert!(
        out.contains("on-a-tty") && out.contains("hi-bob") && !out.contains('\r'),
        "{out:?}"
    );
    assert_eq!(r[1]["status"], "killed", "{r:?}");
    let list = r[2]["processes"].as_array().unwrap();
    assert_eq!(list.len(), 3, "{list:?}");
    assert!(list.iter().all(|p| p["status"] == "exited"), "{list:?}");
    until("the killed sleeper and its child are gone", || {
        processes_with(&m1).is_empty()
    })
    .await;

    // Turn 5: another process; `/new` ends it.
    let m2 = marker();
    w.mock.push(Reply::tool_call(
        "terminal",
        json!({"command": format!("sleep {m2}"), "background": true}),
    ));
    w.mock.push(Reply::text("started again"));
    repl.say("one more").await;
    turn_done(&w, 10).await;
    until("the second sleeper runs", || {
        !processes_with(&m2).is_empty()
    })
    .await;
    repl.say("/new").await;
    until("/new ends the conversation's processes", || {
        processes_with(&m2).is_empty()
    })
    .await;

    // Turn 6: one more in the new session; leaving the program ends it.
    let m3 = marker();
    w.mock.push(Reply::tool_call(
        "terminal",
        json!({"command": format!("sleep {m3}"), "background": true}),
    ));
    w.mock.push(Reply::text("and again"));
    repl.say("last one").await;
    turn_done(&w, 12).await;
    until("the third sleeper runs", || !processes_with(&m3).is_empty()).await;
    let status = repl.finish().await;
    assert!(status.success(), "{status:?}");
    until("nothing survives the program", || {
        processes_with(&m3).is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oneshot_background_is_checked_and_cannot_notify() {
    let w = World::new().await;
    let build = w.work().join("build");
    std::fs::create_dir_all(build.join("obj")).unwrap();
    std::fs::write(build.join("obj/a.o"), "x").unwrap();
    let m = marker();
    w.mock.push(Reply::tool_calls(vec![
        (
            "terminal".into(),
            json!({"command": "rm -rf build", "background": true, "notify_on_complete": true}),
        ),
        (
            "terminal".into(),
            json!({"command": format!("sleep {m}"), "background": true,
                   "notify_on_complete": true}),
        ),
        (
            "terminal".into(),
            json!({"command": "test -t 0 && echo on-a-tty", "pty": true}),
        ),
    ]));
    w.mock.push(Reply::text("done"));
    let r = w.run(&["-z", "clean up and start a job"]).await;
    r.ok();
    assert!(build.join("obj/a.o").exists(), "nothing was deleted");
    let results = tool_results(&w.requests()[1]);
    assert_eq!(results[0]["status"], "blocked", "{results:?}");
    assert!(
        results[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("Command denied: recursive delete."),
        "{results:?}"
    );
    assert!(results[0].get("session_id").is_none());
    // No one can deliver a notification after a one-shot turn: the model is told.
    assert_eq!(results[1]["output"], "Background process started");
    assert!(
        results[1]["notify_unsupported"]
            .as_str()
            .unwrap()
            .contains("hermes -z"),
        "{results:?}"
    );
    assert!(results[1].get("notify_on_complete").is_none());
    // A foreground command on a terminal, in the sandbox.
    assert_eq!(results[2]["output"], "on-a-tty", "{results:?}");
    assert_eq!(results[2]["exit_code"], 0);
    // The program ended, and its background process with it.
    until("the background sleep ends with the program", || {
        processes_with(&m).is_empty()
    })
    .await;
}
