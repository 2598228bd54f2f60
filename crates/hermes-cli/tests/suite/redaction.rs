//! Secrets a command prints never reach the model, `state.db` or hermes' own output.

use hermes_testkit::Reply;
use serde_json::json;

use super::support::{World, all_text};

const CANARY: &str = "canary-secret-value-123456";
/// `printf canary-secret-value-123456 | base64`
const CANARY_B64: &str = "Y2FuYXJ5LXNlY3JldC12YWx1ZS0xMjM0NTY=";
/// The provider key `World` puts in the process environment.
const PROVIDER_KEY: &str = "sk-test-key-0123456789";
/// A GitHub token shape nobody told hermes about.
const SHAPED: &str = "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij";

fn leaks(text: &str) -> Vec<&'static str> {
    [CANARY, CANARY_B64, PROVIDER_KEY, SHAPED, "63616e617279"]
        .into_iter()
        .filter(|s| text.contains(s))
        .collect()
}

/// Every byte of state.db and its WAL, FTS tables included.
fn db_bytes(w: &World) -> String {
    let mut all = Vec::new();
    for name in ["state.db", "state.db-wal"] {
        if let Ok(b) = std::fs::read(w.hermes_home().join(name)) {
            all.extend(b);
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printed_secrets_are_scrubbed_before_the_model_the_store_and_the_screen() {
    let mut w = World::new().await;
    w.write_dotenv(&format!("CANARY_TOKEN={CANARY}\n"));
    w.set_env("HERMES_LOG", "debug");
    // `.env` values are never exported to commands, so the command prints the values
    // itself. It splits each literal with `''` so that the command text (the model's
    // arguments, which are stored and sent as they are) does not contain them.
    let split = |s: &str| format!("{}''{}", &s[..6], &s[6..]);
    let (canary, key, shaped) = (split(CANARY), split(PROVIDER_KEY), split(SHAPED));
    let command = format!(
        "echo {canary}; printf {canary} | base64; printf {canary} | od -An -tx1 | tr -d ' \\n'; echo; \
         echo key={key}; echo {shaped}"
    );
    assert!(leaks(&command).is_empty());
    w.mock
        .push(Reply::tool_call("terminal", json!({"command": command})));
    w.mock.push(Reply::text("done"));
    let r = w
        .run(&["-c", "terminal.backend=local", "chat", "-q", "print it"])
        .await;
    r.ok();

    let reqs = w.requests();
    assert_eq!(reqs.len(), 2);
    let result = all_text(&reqs[1]);
    // The command ran and its output arrived, scrubbed.
    assert!(result.contains("[REDACTED:CANARY_TOKEN]"), "{result}");
    assert!(result.contains("[REDACTED:OPENAI_API_KEY]"), "{result}");
    assert!(result.contains("ghp_AB…ghij"), "{result}");
    for (i, req) in reqs.iter().enumerate() {
        assert_eq!(leaks(&all_text(req)), Vec::<&str>::new(), "request {i}");
    }

    let db = w.db();
    let mut stmt = db.prepare("SELECT content FROM messages").unwrap();
    let rows: Vec<String> = stmt
        .query_map([], |row| row.get::<_, Option<String>>(0))
        .unwrap()
        .map(|r| r.unwrap().unwrap_or_default())
        .collect();
    assert!(rows.iter().any(|c| c.contains("[REDACTED:CANARY_TOKEN]")));
    for c in &rows {
        assert_eq!(leaks(c), Vec::<&str>::new(), "stored message {c}");
    }
    drop(stmt);
    drop(db);
    assert_eq!(leaks(&db_bytes(&w)), Vec::<&str>::new(), "state.db bytes");

    // Debug logs and tool progress go to stderr.
    assert!(r.stderr().contains("DEBUG"), "{}", r.stderr());
    assert_eq!(leaks(&r.stdout()), Vec::<&str>::new(), "stdout");
    assert_eq!(leaks(&r.stderr()), Vec::<&str>::new(), "stderr");
}

/// `security.redact_secrets: false` turns scrubbing off, as in Hermes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redaction_can_be_turned_off() {
    let w = World::new().await;
    w.write_dotenv(&format!("CANARY_TOKEN={CANARY}\n"));
    w.write_config("security:\n  redact_secrets: false\n");
    w.mock.push(Reply::tool_call(
        "terminal",
        json!({"command": format!("echo {CANARY}")}),
    ));
    w.mock.push(Reply::text("done"));
    w.run(&["-c", "terminal.backend=local", "-z", "print it"])
        .await
        .ok();
    assert!(all_text(&w.requests()[1]).contains(CANARY));
}
