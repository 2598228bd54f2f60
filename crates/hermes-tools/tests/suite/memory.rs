//! The memory store and tool on real files: result shapes, snapshot blocks, damaged files,
//! and concurrent writers (threads and processes) that must never lose an entry.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use hermes_core::schema::validate;
use hermes_core::{Tool, ToolContext};
use hermes_tools::memory::{MemoryResponse, MemoryStore, MemoryTarget, MemoryTool};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

fn ctx() -> ToolContext {
    ToolContext {
        session_id: "s".into(),
        lineage_id: "s".into(),
        workspace: std::env::temp_dir(),
        cancel: CancellationToken::new(),
    }
}

fn setup() -> (tempfile::TempDir, Arc<MemoryStore>, MemoryTool) {
    let home = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::new(home.path().join("memories")));
    let tool = MemoryTool::new(store.clone());
    (home, store, tool)
}

async fn call(tool: &MemoryTool, args: Value) -> String {
    validate(&tool.spec().parameters, &args).unwrap();
    tool.call(args, &ctx()).await.unwrap()
}

async fn call_json(tool: &MemoryTool, args: Value) -> Value {
    serde_json::from_str(&call(tool, args).await).unwrap()
}

#[tokio::test]
async fn add_returns_hermes_success_shape_and_writes_the_file() {
    let (_home, store, tool) = setup();
    let out = call(
        &tool,
        json!({"action": "add", "target": "memory", "content": "Project uses cargo nextest"}),
    )
    .await;
    assert_eq!(
        out,
        r#"{"success":true,"done":true,"target":"memory","usage":"1% — 26/2,200 chars","entry_count":1,"message":"Entry added.","note":"Write saved. This update is complete — do not repeat it."}"#
    );
    call(
        &tool,
        json!({"action": "add", "target": "memory", "content": "Deploys go through make release"}),
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(store.path(MemoryTarget::Memory)).unwrap(),
        "Project uses cargo nextest\n§\nDeploys go through make release"
    );
    assert!(store.dir().join("MEMORY.md.lock").exists());

    let dup = call_json(
        &tool,
        json!({"action": "add", "target": "memory", "content": "Project uses cargo nextest"}),
    )
    .await;
    assert_eq!(dup["success"], true);
    assert_eq!(dup["message"], "Entry already exists (no duplicate added).");
    assert_eq!(dup["entry_count"], 2);
}

#[tokio::test]
async fn tool_level_errors() {
    let (home, _store, tool) = setup();
    // The schema enum stops a bad target before the tool; the tool still refuses it.
    assert_eq!(
        tool.run(&json!({"action": "add", "target": "notes", "content": "x"})),
        r#"{"error":"Invalid target 'notes'. Use 'memory' or 'user'.","success":false}"#
    );
    assert_eq!(
        call(&tool, json!({"action": "add", "target": "user"})).await,
        r#"{"error":"Content is required for 'add' action.","success":false}"#
    );
    assert_eq!(
        call(
            &tool,
            json!({"action": "replace", "target": "user", "old_text": "x"})
        )
        .await,
        r#"{"error":"content is required for 'replace' action.","success":false}"#
    );

    call(
        &tool,
        json!({"action": "add", "target": "user", "content": "Name: Ada"}),
    )
    .await;
    let missing = call_json(&tool, json!({"action": "remove", "target": "user"})).await;
    assert_eq!(missing["success"], false);
    assert!(
        missing["error"]
            .as_str()
            .unwrap()
            .starts_with("'remove' needs old_text")
    );
    assert_eq!(missing["current_entries"], json!(["Name: Ada"]));
    assert_eq!(missing["usage"], "9/1,375");

    let disabled = MemoryTool::new(Arc::new(
        MemoryStore::new(home.path().join("memories")).with_enabled(true, false),
    ));
    assert_eq!(
        call(
            &disabled,
            json!({"action": "add", "target": "user", "content": "x"})
        )
        .await,
        r#"{"error":"Memory is not available. It may be disabled in config or this environment.","success":false}"#
    );
}

#[tokio::test]
async fn replace_remove_and_ambiguity_through_the_tool() {
    let (_home, store, tool) = setup();
    for c in ["prefers tabs", "prefers dark mode", "lives in Lisbon"] {
        call(
            &tool,
            json!({"action": "add", "target": "user", "content": c}),
        )
        .await;
    }
    let amb = call_json(
        &tool,
        json!({"action": "remove", "target": "user", "old_text": "prefers"}),
    )
    .await;
    assert_eq!(
        amb,
        json!({
            "success": false,
            "error": "Multiple entries matched 'prefers'. Be more specific.",
            "matches": ["prefers tabs", "prefers dark mode"]
        })
    );
    let r = call_json(
        &tool,
        json!({"action": "replace", "target": "user", "old_text": "Lisbon", "content": "lives in Porto"}),
    )
    .await;
    assert_eq!(r["message"], "Entry replaced.");
    let r = call_json(
        &tool,
        json!({"action": "remove", "target": "user", "old_text": "dark"}),
    )
    .await;
    assert_eq!(r["message"], "Entry removed.");
    assert_eq!(
        store.entries(MemoryTarget::User).unwrap(),
        vec!["prefers tabs", "lives in Porto"]
    );
}

#[tokio::test]
async fn batch_through_the_tool_frees_room_and_adds_in_one_call() {
    let home = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::new(home.path().join("memories")).with_limits(40, 40));
    let tool = MemoryTool::new(store.clone());
    call(
        &tool,
        json!({"action": "add", "target": "memory", "content": "a long stale note about x"}),
    )
    .await;
    let alone = call_json(
        &tool,
        json!({"action": "add", "target": "memory", "content": "new important fact"}),
    )
    .await;
    assert_eq!(alone["success"], false);
    assert_eq!(alone["usage"], "25/40");
    assert_eq!(
        alone["current_entries"],
        json!(["a long stale note about x"])
    );

    let batch = call_json(
        &tool,
        json!({"target": "memory", "operations": [
            {"action": "remove", "old_text": "stale note"},
            {"action": "add", "content": "new important fact"},
            {"action": "add", "content": "x is y"}
        ]}),
    )
    .await;
    assert_eq!(batch["message"], "Applied 3 operation(s).");
    assert_eq!(batch["usage"], "67% — 27/40 chars");
    assert_eq!(
        store.entries(MemoryTarget::Memory).unwrap(),
        vec!["new important fact", "x is y"]
    );
}

#[test]
fn snapshot_blocks_render_both_targets_and_skip_empty_or_disabled() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("memories");
    let store = MemoryStore::new(&dir);
    assert!(store.snapshot_blocks().is_empty());

    store
        .add(MemoryTarget::Memory, "The repo builds with cargo")
        .unwrap();
    let rule = "═".repeat(46);
    assert_eq!(
        store.snapshot_blocks(),
        vec![format!(
            "{rule}\nMEMORY (your personal notes) [1% — 26/2,200 chars]\n{rule}\nThe repo builds with cargo"
        )]
    );

    // A file as Hermes writes it, with 924 chars → 42% of 2,200.
    let first = "a".repeat(460);
    let second = "b".repeat(461);
    std::fs::write(dir.join("MEMORY.md"), format!("{first}\n§\n{second}")).unwrap();
    std::fs::write(dir.join("USER.md"), "Name: Ada\n§\nTimezone: UTC").unwrap();
    let blocks = store.snapshot_blocks();
    assert_eq!(blocks.len(), 2);
    assert_eq!(
        blocks[0],
        format!(
            "{rule}\nMEMORY (your personal notes) [42% — 924/2,200 chars]\n{rule}\n{first}\n§\n{second}"
        )
    );
    assert_eq!(
        blocks[1],
        format!(
            "{rule}\nUSER PROFILE (who the user is) [1% — 25/1,375 chars]\n{rule}\nName: Ada\n§\nTimezone: UTC"
        )
    );

    let only_user = MemoryStore::new(&dir).with_enabled(false, true);
    assert_eq!(only_user.snapshot_blocks(), vec![blocks[1].clone()]);
}

#[tokio::test]
async fn invalid_utf8_is_read_lossily_and_backed_up_before_rewrite() {
    let (_home, store, tool) = setup();
    std::fs::create_dir_all(store.dir()).unwrap();
    let raw = b"caf\xe9 latte\n\xc2\xa7\nsecond".to_vec(); // Latin-1 é, then a valid §
    std::fs::write(store.path(MemoryTarget::Memory), &raw).unwrap();

    let blocks = store.snapshot_blocks();
    assert_eq!(blocks.len(), 1);
    assert!(
        blocks[0].ends_with("caf\u{fffd} latte\n§\nsecond"),
        "{}",
        blocks[0]
    );

    let out = call_json(
        &tool,
        json!({"action": "add", "target": "memory", "content": "third"}),
    )
    .await;
    assert_eq!(out["success"], true);
    let warning = out["_warning"].as_str().unwrap();
    assert!(warning.contains("not valid UTF-8"), "{warning}");
    let backups: Vec<_> = std::fs::read_dir(store.dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("MEMORY.md.bak."))
        .collect();
    assert_eq!(backups.len(), 1);
    assert_eq!(std::fs::read(&backups[0]).unwrap(), raw);
    assert_eq!(
        store.entries(MemoryTarget::Memory).unwrap(),
        vec!["caf\u{fffd} latte", "second", "third"]
    );
}

#[tokio::test]
async fn unreadable_file_is_left_alone_and_reported() {
    let (_home, store, tool) = setup();
    // A directory where MEMORY.md should be: unreadable even for root.
    std::fs::create_dir_all(store.path(MemoryTarget::Memory)).unwrap();
    store.add(MemoryTarget::User, "Name: Ada").unwrap();

    let blocks = store.snapshot_blocks();
    assert_eq!(blocks.len(), 1);
    assert!(blocks[0].contains("USER PROFILE"));

    let out = call_json(
        &tool,
        json!({"action": "add", "target": "memory", "content": "x"}),
    )
    .await;
    assert_eq!(out["success"], false);
    let err = out["error"].as_str().unwrap();
    assert!(
        err.contains("could not read") && err.contains("MEMORY.md"),
        "{err}"
    );
    assert!(store.path(MemoryTarget::Memory).is_dir());
}

#[test]
fn concurrent_threads_never_lose_an_entry() {
    let home = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::new(home.path().join("memories")).with_limits(100_000, 100));
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..15 {
                    let r = store
                        .add(MemoryTarget::Memory, &format!("thread {t} entry {i}"))
                        .unwrap();
                    assert!(r.is_success(), "{r:?}");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let entries = store.entries(MemoryTarget::Memory).unwrap();
    assert_eq!(entries.len(), 8 * 15);
}

const CHILD_DIR: &str = "HERMES_TOOLS_TEST_MEMORY_DIR";
const CHILD_TAG: &str = "HERMES_TOOLS_TEST_MEMORY_TAG";
const PER_WRITER: usize = 25;

/// Run by `concurrent_processes_never_lose_an_entry` in child processes.
#[test]
#[ignore = "runs only as a child of concurrent_processes_never_lose_an_entry"]
fn child_writer() {
    let dir = std::env::var(CHILD_DIR).expect("child_writer needs its directory");
    let tag = std::env::var(CHILD_TAG).expect("child_writer needs its tag");
    let store = MemoryStore::new(dir).with_limits(100_000, 100);
    for i in 0..PER_WRITER {
        match store
            .add(MemoryTarget::Memory, &format!("{tag} entry {i}"))
            .unwrap()
        {
            MemoryResponse::Success(_) => {}
            MemoryResponse::Failure(f) => panic!("{f:?}"),
        }
    }
}

fn spawn_child(dir: &Path, tag: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "suite::memory::child_writer",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir)
        .env(CHILD_TAG, tag)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn concurrent_processes_never_lose_an_entry() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("memories");
    let children: Vec<_> = ["proc-a", "proc-b"]
        .iter()
        .map(|tag| spawn_child(&dir, tag))
        .collect();
    // This process writes at the same time.
    let store = MemoryStore::new(&dir).with_limits(100_000, 100);
    for i in 0..PER_WRITER {
        assert!(
            store
                .add(MemoryTarget::Memory, &format!("parent entry {i}"))
                .unwrap()
                .is_success()
        );
    }
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Guard against a filter that matched nothing (0 tests also "succeeds").
        assert!(stdout.contains("1 passed"), "{stdout}");
    }
    let entries = store.entries(MemoryTarget::Memory).unwrap();
    assert_eq!(entries.len(), 3 * PER_WRITER, "{entries:?}");
    for tag in ["parent", "proc-a", "proc-b"] {
        for i in 0..PER_WRITER {
            let want = format!("{tag} entry {i}");
            assert!(entries.contains(&want), "missing {want}");
        }
    }
}

#[test]
fn spec_is_hermes_shape() {
    let (_home, _store, tool) = setup();
    let spec = tool.spec();
    assert_eq!(spec.name, "memory");
    assert_eq!(spec.parameters["required"], json!(["target"]));
    assert_eq!(
        spec.parameters["properties"]["operations"]["items"]["required"],
        json!(["action"])
    );
    assert!(
        spec.description
            .starts_with("Save durable facts to persistent memory")
    );
}
