use std::time::Duration;

use hermes_testkit::Reply;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::support::World;

fn sigint(pid: u32) {
    // SAFETY: kill(2) on the pid of a child this test spawned.
    let rc = unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0);
}

/// Ctrl-C during `chat -q` stops the answer, keeps what streamed, and exits 130.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_cancels_a_query_and_keeps_the_partial_answer() {
    let mut w = World::new().await;
    w.set_env("HERMES_API_CALL_STALE_TIMEOUT", "600");
    w.mock.push(Reply::stall_after("Thinking about it", 1));
    let mut child = w.cmd(&["chat", "-q", "a long question"]).spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(30), out.read(&mut buf))
        .await
        .expect("partial answer streamed")
        .unwrap();
    assert!(n > 0);
    sigint(child.id().unwrap());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("hermes stopped after Ctrl-C")
        .unwrap();
    assert_eq!(status.code(), Some(130));
    let (content, reason): (String, String) = w
        .db()
        .query_row(
            "SELECT content, finish_reason FROM messages WHERE role = 'assistant'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(
        "Thinking about it".starts_with(&content) && !content.is_empty(),
        "{content}"
    );
    assert_eq!(reason, "cancelled");
}

/// In the REPL, Ctrl-C stops the current answer, not the program.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_in_the_repl_stops_the_turn_not_the_program() {
    let mut w = World::new().await;
    w.set_env("HERMES_API_CALL_STALE_TIMEOUT", "600");
    w.mock.push(Reply::stall_after("Working on", 1));
    w.mock.push(Reply::text("Second answer arrived."));
    let mut c = w.cmd(&["chat"]);
    c.stdin(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut out = child.stdout.take().unwrap();

    stdin.write_all(b"first question\n").await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(30), out.read(&mut buf))
        .await
        .expect("partial answer streamed")
        .unwrap();
    assert!(n > 0);
    sigint(child.id().unwrap());
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = err.next_line().await.unwrap() {
            if line.contains("interrupted") {
                return;
            }
        }
        panic!("stderr closed without an interruption notice");
    })
    .await
    .expect("interruption reported");

    stdin.write_all(b"second question\n").await.unwrap();
    drop(stdin);
    let mut rest = String::new();
    tokio::time::timeout(Duration::from_secs(30), out.read_to_string(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert!(rest.contains("Second answer arrived."), "{rest}");
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(0));
    // Both questions are in one session, with the cancelled partial answer between.
    let reqs = w.requests();
    let msgs = reqs.last().unwrap().body["messages"]
        .as_array()
        .unwrap()
        .clone();
    let roles: Vec<&str> = msgs.iter().filter_map(|m| m["role"].as_str()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
}
