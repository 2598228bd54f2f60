use std::time::Duration;

use hermes_testkit::Reply;
use serde_json::json;
use tokio::io::AsyncReadExt;

use super::support::{World, messages};

/// Kills `hermes` with SIGKILL while the model is mid-answer (after a tool call was
/// committed), then resumes: everything committed is there and the database is sound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_survives_kill_9_mid_turn_and_resumes() {
    let mut w = World::new().await;
    // A long stall so the process is certainly mid-stream when killed.
    w.set_env("HERMES_API_CALL_STALE_TIMEOUT", "600");
    std::fs::write(w.work().join("plan.md"), "step one\n").unwrap();
    w.mock
        .push(Reply::tool_call("read_file", json!({"path": "plan.md"})));
    w.mock
        .push(Reply::stall_after("I have read the plan and", 1));

    let mut child = w.cmd(&["chat", "-q", "summarise plan.md"]).spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    // Wait until the partial answer has streamed: the tool result is committed by then.
    let mut seen = String::new();
    let mut buf = [0u8; 256];
    tokio::time::timeout(Duration::from_secs(30), async {
        while !seen.contains("I ha") {
            let n = stdout.read(&mut buf).await.unwrap();
            assert!(n > 0, "hermes exited early: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    })
    .await
    .expect("the partial answer streamed to stdout");
    assert!(
        child.try_wait().unwrap().is_none(),
        "still running mid-turn"
    );
    child.start_kill().unwrap(); // SIGKILL
    let status = child.wait().await.unwrap();
    assert!(!status.success());

    // The database opens cleanly and holds the committed part of the turn.
    {
        let db = w.db();
        let ok: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        let roles: Vec<String> = db
            .prepare("SELECT role FROM messages ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(roles, ["user", "assistant", "tool"]);
    }

    // Resuming continues the conversation with every committed message.
    w.mock.push(Reply::text("The plan has one step."));
    let r = w.run(&["chat", "--continue", "-q", "and?"]).await;
    r.ok();
    let reqs = w.requests();
    let msgs = messages(reqs.last().unwrap());
    let roles: Vec<&str> = msgs.iter().filter_map(|m| m["role"].as_str()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool", "user"]);
    assert!(msgs[3]["content"].as_str().unwrap().contains("step one"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_by_id_prefix_and_unknown_session_error() {
    let w = World::new().await;
    w.mock.push(Reply::text("first answer"));
    w.run(&["chat", "-q", "remember the word pineapple"])
        .await
        .ok();
    let id: String = w
        .db()
        .query_row("SELECT id FROM sessions", [], |r| r.get(0))
        .unwrap();
    w.mock.push(Reply::text("pineapple"));
    w.run(&["--resume", &id[..17], "-z", "which word?"])
        .await
        .ok();
    let msgs = messages(w.requests().last().unwrap());
    assert!(
        msgs.iter()
            .any(|m| m["content"] == "remember the word pineapple")
    );

    let r = w.run(&["--resume", "no-such-session", "-z", "hi"]).await;
    assert_eq!(r.code(), 1);
    assert!(r.stderr().contains("no-such-session"), "{}", r.stderr());
}

/// Killed while a tool is still running: the assistant's call has no result in
/// state.db. Resuming repairs the history so the provider accepts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_a_tool_call_still_resumes() {
    let w = World::new().await;
    let marker = w.work().join("started");
    // `exec` makes the recorded pid the sleep itself, so the test can end it afterwards.
    w.mock.push(Reply::tool_call(
        "terminal",
        json!({"command": format!("echo $$ > {0}.tmp && mv {0}.tmp {0} && exec sleep 60", marker.display())}),
    ));
    let mut child = w
        .cmd(&[
            "-c",
            "terminal.backend=local",
            "chat",
            "-q",
            "run the slow thing",
        ])
        .spawn()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), async {
        while !marker.exists() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the tool started");
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    // hermes was killed, so nothing ended the command's group: end the sleep by its pid.
    let pid: i32 = std::fs::read_to_string(&marker)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: signalling the process this test started.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    let roles: Vec<String> = w
        .db()
        .prepare("SELECT role FROM messages ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(roles, ["user", "assistant"], "the call has no result yet");

    w.mock.push(Reply::text("resumed fine"));
    w.run(&["chat", "--continue", "-q", "what happened?"])
        .await
        .ok();
    let msgs = messages(w.requests().last().unwrap());
    let roles: Vec<&str> = msgs.iter().filter_map(|m| m["role"].as_str()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool", "user"]);
    assert_eq!(msgs[3]["tool_call_id"], msgs[2]["tool_calls"][0]["id"]);
    assert!(msgs[3]["content"].as_str().unwrap().contains("interrupted"));
}
