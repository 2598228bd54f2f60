//! Every acknowledged write is committed and visible to other connections at once.

use std::os::unix::fs::PermissionsExt;

use hermes_core::Message;
use hermes_store::Store;

use super::common::*;

#[test]
fn appended_messages_are_visible_to_a_second_connection_immediately() {
    let dir = tempfile::tempdir().unwrap();
    let (a, path) = store_with_session(dir.path(), "s1");
    let b = Store::open(&path).unwrap();
    assert_eq!(a.journal_mode(), "wal");
    assert_eq!(b.journal_mode(), "wal");
    for i in 0..5 {
        let id = a
            .append_message("s1", &Message::user(format!("message {i}")))
            .unwrap();
        // No close, no checkpoint: the other connection sees the row right away.
        let seen = b.messages("s1").unwrap();
        assert_eq!(seen.len(), i + 1);
        assert_eq!(seen[i].id, id);
        assert_eq!(
            seen[i].content.as_deref(),
            Some(format!("message {i}").as_str())
        );
        assert_eq!(
            b.get_session("s1").unwrap().unwrap().message_count,
            (i + 1) as i64
        );
    }
    // A plain connection agrees that the file is in WAL mode.
    let mode: String = raw(&path)
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // And it sees the committed rows too.
    let n: i64 = raw(&path)
        .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 5);
}

#[test]
fn database_files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("home").join("state.db");
    let store = Store::open(&path).unwrap();
    store.create_session(&new_session("s", "cli")).unwrap();
    store.append_message("s", &Message::user("hi")).unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{}{suffix}", path.display());
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{p} has mode {mode:o}");
    }
    let dir_mode = std::fs::metadata(dir.path().join("home"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);
}

#[test]
fn an_existing_world_readable_file_is_narrowed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    drop(Store::open(&path).unwrap());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(Store::open(&path).unwrap());
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn a_failed_write_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _path) = store_with_session(dir.path(), "s1");
    // Unknown session: refused as a whole, nothing half-written.
    let err = store
        .append_messages("nope", &[Message::user("a"), Message::user("b")])
        .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    assert!(store.messages("nope").unwrap().is_empty());
    let ids = store
        .append_messages("s1", &[Message::user("a"), Message::assistant("b")])
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] < ids[1]);
    let rows = store.messages("s1").unwrap();
    assert!(rows[0].timestamp < rows[1].timestamp);
}

#[test]
fn a_write_waits_for_another_process_holding_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = store_with_session(dir.path(), "s1");
    // Another writer takes the write lock and keeps it past the 5 s busy timeout.
    let holder = raw(&path);
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    holder
        .execute(
            "INSERT INTO messages (session_id, role, content, timestamp, active)
             VALUES ('s1', 'user', 'from the other writer', 1.0, 1)",
            [],
        )
        .unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(6));
        holder.execute_batch("COMMIT").unwrap();
    });
    let id = store.append_message("s1", &Message::user("ours")).unwrap();
    release.join().unwrap();
    let rows = store.messages("s1").unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].id, id);
    assert_eq!(rows[0].content.as_deref(), Some("from the other writer"));
}
