use hermes_testkit::Reply;

use super::support::World;

async fn seed(w: &World) {
    w.mock.push(Reply::text("Databases are fun."));
    w.run(&["chat", "-q", "Tell me about database migrations"])
        .await
        .ok();
    w.mock.push(Reply::text("好的"));
    w.run(&["chat", "-q", "我们今天讨论数据库迁移的问题"])
        .await
        .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_show_search_export() {
    let w = World::new().await;
    seed(&w).await;

    let list = w.run(&["sessions", "list"]).await;
    list.ok();
    let out = list.stdout();
    assert!(out.contains("Preview"), "{out}");
    assert!(out.contains("Tell me about database"), "{out}");
    assert_eq!(out.lines().count(), 4, "header, rule, two rows: {out}");

    // A word and a CJK substring are both found.
    let hit = w.run(&["sessions", "search", "migrations"]).await;
    hit.ok();
    assert!(hit.stdout().contains("migrations"), "{}", hit.stdout());
    let cjk = w.run(&["sessions", "search", "数据库"]).await;
    cjk.ok();
    assert!(cjk.stdout().contains("数据库"), "{}", cjk.stdout());
    let none = w.run(&["sessions", "search", "zebra"]).await;
    none.ok();
    assert!(none.stdout().contains("No messages match"));
    // Odd input is not an FTS syntax error.
    w.run(&["sessions", "search", "\"AND (OR *"]).await.ok();

    let id: String = w
        .db()
        .query_row(
            "SELECT session_id FROM messages WHERE content LIKE 'Tell me%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let show = w.run(&["sessions", "show", &id]).await;
    show.ok();
    assert!(show.stdout().contains("Databases are fun."));

    let export = w
        .run(&["sessions", "export", &id, "--format", "jsonl"])
        .await;
    export.ok();
    let exported = export.stdout();
    let lines: Vec<&str> = exported.lines().collect();
    assert_eq!(lines.len(), 1);
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["source"], "cli");
    let msgs = v["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[1]["content"], "Databases are fun.");

    let all = w.run(&["sessions", "export", "all.jsonl"]).await;
    all.ok();
    let text = std::fs::read_to_string(w.work().join("all.jsonl")).unwrap();
    assert_eq!(text.lines().count(), 2);

    w.run(&["sessions", "rename", &id, "Migration", "chat"])
        .await
        .ok();
    let list = w.run(&["sessions", "list"]).await;
    assert!(
        list.stdout().contains("Migration chat"),
        "{}",
        list.stdout()
    );
    let r = w
        .run(&[
            "--resume",
            "Migration chat",
            "sessions",
            "show",
            "Migration chat",
        ])
        .await;
    r.ok();

    let del = w.run(&["sessions", "delete", &id, "--yes"]).await;
    del.ok();
    let list = w.run(&["sessions", "list"]).await;
    assert_eq!(list.stdout().lines().count(), 3, "{}", list.stdout());
}

/// A `state.db` written by Hermes Agent 0.19 is read: listed, shown, searched, continued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_a_hermes_state_db() {
    let w = World::new().await;
    std::fs::create_dir_all(w.hermes_home()).unwrap();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../hermes-store/tests/fixtures/hermes_0_19_state.sql"
    );
    let sql = std::fs::read_to_string(fixture).unwrap();
    w.db().execute_batch(&sql).unwrap();
    let ids: Vec<String> = w
        .db()
        .prepare("SELECT id FROM sessions ORDER BY started_at")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!ids.is_empty());

    let list = w.run(&["sessions", "list", "--limit", "50"]).await;
    list.ok();
    for id in &ids {
        assert!(
            list.stdout().contains(id.as_str()),
            "{id} in {}",
            list.stdout()
        );
    }
    let show = w.run(&["sessions", "show", &ids[0]]).await;
    show.ok();
    let some_word: String = w
        .db()
        .query_row(
            "SELECT content FROM messages WHERE role = 'user' AND content IS NOT NULL LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let word = some_word
        .split_whitespace()
        .find(|t| t.len() > 4 && t.chars().all(char::is_alphanumeric))
        .unwrap()
        .to_string();
    let search = w.run(&["sessions", "search", &word]).await;
    search.ok();
    assert!(
        !search.stdout().contains("No messages match"),
        "{word}: {}",
        search.stdout()
    );

    // Continue a Hermes session with our binary.
    w.mock.push(Reply::text("continuing"));
    w.run(&["--resume", &ids[0], "-z", "go on"]).await.ok();
    let n: i64 = w
        .db()
        .query_row(
            "SELECT count(*) FROM messages WHERE session_id = ?1 AND content = 'go on'",
            [&ids[0]],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
}
