//! Crash safety: a writer killed with SIGKILL mid-loop loses nothing it acknowledged and
//! leaves a consistent database.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use hermes_core::Message;
use hermes_store::Store;

use super::common::*;

const CHILD_ENV: &str = "HERMES_STORE_CRASH_CHILD_DB";

/// Run by `killed_writer_loses_no_acknowledged_message` in a child process: appends
/// messages forever, printing `ack <n> <id>` after each append returns.
#[test]
#[ignore = "helper process for killed_writer_loses_no_acknowledged_message"]
fn crash_child_appender() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = Store::open(std::path::Path::new(&path)).unwrap();
    let mut out = std::io::stdout().lock();
    let started = std::time::Instant::now();
    let mut n: u64 = 0;
    // Bounded so an orphaned child cannot run forever.
    while started.elapsed() < std::time::Duration::from_secs(120) {
        let text = format!("crash payload number{n} with some words to index");
        let msg = if n % 3 == 2 {
            Message::tool_result(format!("call_{n}"), "terminal", text)
        } else {
            Message::user(text)
        };
        let id = store.append_message("crash", &msg).unwrap();
        writeln!(out, "ack {n} {id}").unwrap();
        out.flush().unwrap();
        n += 1;
    }
}

#[test]
fn killed_writer_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = store_with_session(dir.path(), "crash");
    drop(store);

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "suite::crash::crash_child_appender",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut acked: Vec<(u64, i64)> = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let Some(rest) = line.strip_prefix("ack ") else {
            continue;
        };
        let mut parts = rest.split(' ');
        let n: u64 = parts.next().unwrap().parse().unwrap();
        let id: i64 = parts.next().unwrap().parse().unwrap();
        acked.push((n, id));
        if acked.len() >= 400 {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL, while it keeps appending
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child should have been killed");
    assert_eq!(acked.len(), 400, "child stopped acknowledging early");

    let store = Store::open(&path).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    fts_integrity(&path, "messages_fts");
    fts_integrity(&path, "messages_fts_trigram");
    let rows = store.messages("crash").unwrap();
    for (n, id) in &acked {
        let row = rows
            .iter()
            .find(|r| r.id == *id)
            .unwrap_or_else(|| panic!("acknowledged message {n} (id {id}) is missing"));
        assert_eq!(
            row.content.as_deref(),
            Some(format!("crash payload number{n} with some words to index").as_str())
        );
    }
    // Counters were bumped in the same transaction as each row.
    let session = store.get_session("crash").unwrap().unwrap();
    assert_eq!(session.message_count, rows.len() as i64);
    // The last acknowledged message is searchable.
    let (last_n, last_id) = acked[acked.len() - 1];
    let hits = store
        .search(&format!("number{last_n}"), &Default::default())
        .unwrap();
    assert!(hits.iter().any(|h| h.message_id == last_id), "{hits:?}");
    // And the store keeps working after the crash.
    store
        .append_message("crash", &Message::user("after the crash"))
        .unwrap();
}
