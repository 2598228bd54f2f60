use hermes_testkit::Reply;
use serde_json::json;

use super::support::{World, all_text, messages};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oneshot_prints_only_the_final_text() {
    let w = World::new().await;
    w.mock.push(Reply::text("The answer is 42."));
    let r = w.run(&["-z", "what is the answer?"]).await;
    r.ok();
    assert_eq!(r.stdout(), "The answer is 42.\n");
    let reqs = w.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, "/v1/chat/completions");
    assert_eq!(reqs[0].body["model"], "gpt-4o");
    assert_eq!(
        reqs[0].headers.get("authorization").map(String::as_str),
        Some("Bearer sk-test-key-0123456789")
    );
    let msgs = messages(&reqs[0]);
    assert_eq!(msgs[0]["role"], "system");
    assert_eq!(msgs.last().unwrap()["content"], "what is the answer?");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_turn_chat_with_two_tool_calls_edits_a_file() {
    let w = World::new().await;
    std::fs::write(w.work().join("notes.txt"), "colour: red\nsize: 3\n").unwrap();
    w.mock
        .push(Reply::tool_call("read_file", json!({"path": "notes.txt"})));
    w.mock.push(Reply::tool_call(
        "patch",
        json!({"mode": "replace", "path": "notes.txt", "old_string": "colour: red", "new_string": "colour: blue"}),
    ));
    w.mock.push(Reply::text("I changed the colour to blue."));
    let r = w.run(&["chat", "-q", "make the colour blue"]).await;
    r.ok();
    assert!(
        r.stdout().contains("I changed the colour to blue."),
        "{}",
        r.stdout()
    );
    assert!(
        r.stderr().contains("read_file"),
        "tool progress shown: {}",
        r.stderr()
    );
    assert_eq!(
        std::fs::read_to_string(w.work().join("notes.txt")).unwrap(),
        "colour: blue\nsize: 3\n"
    );
    let reqs = w.requests();
    assert_eq!(reqs.len(), 3);
    // The read result went back to the model with line numbers.
    let second = messages(&reqs[1]);
    let tool_msg = second.iter().find(|m| m["role"] == "tool").unwrap();
    assert!(
        tool_msg["content"]
            .as_str()
            .unwrap()
            .contains("1|colour: red"),
        "{tool_msg}"
    );
    assert!(all_text(&reqs[2]).contains("+colour: blue"));

    // A second turn continues the same session with the whole history.
    w.mock.push(Reply::text("Still blue."));
    let r2 = w
        .run(&["chat", "--continue", "-q", "what colour now?"])
        .await;
    r2.ok();
    let reqs = w.requests();
    let last = messages(reqs.last().unwrap());
    let user_turns: Vec<&str> = last
        .iter()
        .filter(|m| m["role"] == "user")
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert_eq!(user_turns, ["make the colour blue", "what colour now?"]);
    assert_eq!(last.iter().filter(|m| m["role"] == "tool").count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repl_streams_answers_and_handles_commands() {
    let w = World::new().await;
    w.mock
        .push(Reply::text("Hello from the stream, friend.").chunked(4));
    w.mock.push(Reply::text("Second answer."));
    let r = w.repl("hi there\n/usage\nand again\n/help\n/quit\n").await;
    r.ok();
    let out = r.stdout();
    assert!(out.contains("Hello from the stream, friend."), "{out}");
    assert!(out.contains("Second answer."), "{out}");
    assert!(out.contains("model call"), "/usage printed: {out}");
    assert!(out.contains("/resume"), "/help printed: {out}");
    // Both turns went to one session.
    let reqs = w.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        messages(&reqs[1])
            .iter()
            .filter(|m| m["role"] == "user")
            .count(),
        2
    );
    assert_eq!(reqs[0].body["stream"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repl_new_starts_a_fresh_session() {
    let w = World::new().await;
    w.mock.push(Reply::text("one"));
    w.mock.push(Reply::text("two"));
    w.repl("first\n/new\nsecond\n").await.ok();
    let reqs = w.requests();
    assert_eq!(
        messages(&reqs[1])
            .iter()
            .filter(|m| m["role"] == "user")
            .count(),
        1
    );
    let n: i64 = w
        .db()
        .query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_wire_conversation_with_tools() {
    let mut w = World::new().await;
    std::fs::write(w.work().join("a.txt"), "alpha\n").unwrap();
    w.write_config(&format!(
        "model:\n  default: claude-sonnet-4-5\n  provider: anthropic\n  base_url: {}\n",
        w.mock.base_url()
    ));
    w.set_env("ANTHROPIC_API_KEY", "sk-ant-test-0123456789");
    w.mock
        .push(Reply::tool_call("read_file", json!({"path": "a.txt"})));
    w.mock.push(Reply::text("The file says alpha."));
    let r = w.run(&["-z", "what does a.txt say?"]).await;
    r.ok();
    assert_eq!(r.stdout().trim(), "The file says alpha.");
    let reqs = w.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].path, "/v1/messages");
    assert_eq!(
        reqs[0].headers.get("x-api-key").map(String::as_str),
        Some("sk-ant-test-0123456789")
    );
    assert!(reqs[0].body["system"].is_array() || reqs[0].body["system"].is_string());
    let msgs = reqs[1].body["messages"].as_array().unwrap();
    let last = msgs.last().unwrap();
    assert_eq!(last["role"], "user");
    let block = &last["content"][0];
    assert_eq!(block["type"], "tool_result");
    assert!(block.to_string().contains("alpha"));
    let tools = reqs[0].body["tools"].as_array().unwrap();
    assert!(
        tools
            .iter()
            .any(|t| t["name"] == "read_file" && t["input_schema"].is_object())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried() {
    let w = World::new().await;
    w.mock.push(Reply::rate_limited("0"));
    w.mock.push(Reply::error(500));
    w.mock.push(Reply::text("made it"));
    let r = w.run(&["-z", "hello"]).await;
    r.ok();
    assert_eq!(r.stdout().trim(), "made it");
    assert_eq!(w.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_failure_is_classified_and_never_echoes_the_key() {
    let w = World::new().await;
    w.mock.push(Reply::openai_error(
        401,
        "invalid_api_key",
        "Incorrect API key provided: sk-test-key-0123456789",
    ));
    let r = w.run(&["-z", "hello"]).await;
    assert_eq!(r.code(), 1);
    let err = r.stderr();
    assert!(err.contains("authentication failed"), "{err}");
    assert!(!err.contains("sk-test-key-0123456789"), "{err}");
    assert_eq!(w.requests().len(), 1, "auth errors are not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_stream_gives_a_clear_error() {
    let w = World::new().await;
    w.mock.push(Reply::malformed_sse());
    let r = w.run(&["-z", "hello"]).await;
    assert_eq!(r.code(), 1, "{}", r.stderr());
    assert!(r.stderr().contains("malformed"), "{}", r.stderr());
    assert_eq!(r.stdout(), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_stream_times_out_with_a_clear_error() {
    let w = World::new().await;
    w.mock.push(Reply::stall_after("partial answer", 1));
    let r = w.run(&["chat", "-q", "hello"]).await;
    assert_eq!(r.code(), 1, "{}", r.stderr());
    assert!(r.stderr().contains("stalled"), "{}", r.stderr());
    // The streamed part reached the user before the stall.
    let shown = r.stdout();
    assert!(
        !shown.trim().is_empty() && "partial answer".starts_with(shown.trim()),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iteration_limit_exits_2() {
    let w = World::new().await;
    for _ in 0..3 {
        w.mock.push(Reply::tool_call("todo", json!({})));
    }
    let r = w.run(&["--max-turns", "2", "-z", "loop forever"]).await;
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains("agent.max_turns"), "{}", r.stderr());
    assert_eq!(w.requests().len(), 2);
}

/// The default backend runs commands in the native sandbox: the workspace is writable,
/// the host is not visible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_runs_in_the_native_sandbox_by_default() {
    let w = World::new().await;
    let outside = w.home.path().join("outside.txt");
    std::fs::write(&outside, "host file").unwrap();
    w.mock.push(Reply::tool_call(
        "terminal",
        json!({"command": format!(
            "echo hi > made.txt; cat {} || echo HOST-HIDDEN; hostname", outside.display()
        )}),
    ));
    w.mock.push(Reply::text("ran"));
    w.run(&["-z", "run it"]).await.ok();
    assert_eq!(
        std::fs::read_to_string(w.work().join("made.txt")).unwrap(),
        "hi\n"
    );
    let result = all_text(&w.requests()[1]);
    assert!(result.contains("HOST-HIDDEN"), "{result}");
    assert!(result.contains("hermes-sandbox"), "{result}");
    assert!(!result.contains("host file"));
}

/// A backend that cannot run refuses, and says why; `local` runs on the host with a warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_backends_refuse_and_local_warns() {
    let w = World::new().await;
    w.mock.push(Reply::tool_call(
        "terminal",
        json!({"command": "echo hi > made.txt"}),
    ));
    w.mock.push(Reply::text("tried"));
    w.run(&["-c", "terminal.backend=docker", "-z", "run it"])
        .await
        .ok();
    assert!(!w.work().join("made.txt").exists(), "nothing ran");
    let second = all_text(&w.requests()[1]);
    assert!(
        second.contains("blocked") && second.contains("docker"),
        "the refusal says why: {second}"
    );

    w.mock.push(Reply::tool_call(
        "terminal",
        json!({"command": "echo hi > made.txt && cat made.txt"}),
    ));
    w.mock.push(Reply::text("ran"));
    let r = w
        .run(&["-c", "terminal.backend=local", "-z", "run it"])
        .await;
    r.ok();
    assert!(
        r.stderr().contains("directly on this machine"),
        "local warns: {}",
        r.stderr()
    );
    assert_eq!(
        std::fs::read_to_string(w.work().join("made.txt")).unwrap(),
        "hi\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_provider_says_what_to_do() {
    let w = World::new().await;
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        w.cmd(&["-z", "hi"])
            .env_remove("OPENAI_BASE_URL")
            .env_remove("OPENAI_API_KEY")
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("OPENAI_API_KEY") || err.contains("provider"),
        "{err}"
    );
}
