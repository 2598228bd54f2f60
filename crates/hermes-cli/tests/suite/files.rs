use hermes_testkit::Reply;
use serde_json::json;

use super::support::{World, all_text};

/// File tools driven by the model cannot reach outside the workspace, and the files
/// outside are unchanged afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_escapes_fail_and_the_host_is_unchanged() {
    let w = World::new().await;
    let outside = w.home.path().join("secret.txt");
    std::fs::write(&outside, "TOP-SECRET-CANARY\n").unwrap();
    std::os::unix::fs::symlink(&outside, w.work().join("link.txt")).unwrap();
    std::fs::write(
        w.hermes_home_env_file(),
        "OPENAI_API_KEY=sk-test-key-0123456789\n",
    )
    .unwrap();

    let attempts = [
        ("read_file", json!({"path": "../secret.txt"})),
        ("read_file", json!({"path": outside.display().to_string()})),
        ("read_file", json!({"path": "link.txt"})),
        (
            "write_file",
            json!({"path": "link.txt", "content": "pwned"}),
        ),
        (
            "write_file",
            json!({"path": "../secret.txt", "content": "pwned"}),
        ),
        (
            "patch",
            json!({"mode": "replace", "path": "link.txt", "old_string": "TOP", "new_string": "pwned"}),
        ),
        ("search_files", json!({"pattern": "CANARY", "path": ".."})),
    ];
    for (tool, args) in &attempts {
        w.mock.push(Reply::tool_call(*tool, args.clone()));
    }
    w.mock.push(Reply::text("done"));
    // One turn per attempt would be slower; the model makes them in sequence.
    let r = w.run(&["-z", "try to escape"]).await;
    r.ok();
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap(),
        "TOP-SECRET-CANARY\n"
    );
    for req in w.requests() {
        assert!(
            !all_text(&req).contains("TOP-SECRET-CANARY"),
            "the canary leaked to the model"
        );
        assert!(!all_text(&req).contains("sk-test-key-0123456789"));
    }
    assert!(
        std::fs::symlink_metadata(w.work().join("link.txt"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

impl World {
    fn hermes_home_env_file(&self) -> std::path::PathBuf {
        std::fs::create_dir_all(self.hermes_home()).unwrap();
        self.hermes_home().join(".env")
    }
}

/// When the workspace contains HERMES_HOME (hermes started in the parent of its home),
/// the agent still cannot read its own secrets or database through file tools.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hermes_home_inside_the_workspace_stays_closed() {
    let w = World::new().await;
    std::fs::write(
        w.hermes_home_env_file(),
        "OPENAI_API_KEY=sk-test-key-0123456789\nEXTRA_SECRET=canary-in-dotenv\n",
    )
    .unwrap();
    for args in [
        json!({"path": "hermes/.env"}),
        json!({"path": "hermes/state.db"}),
        json!({"path": "hermes/config.yaml"}),
    ] {
        w.mock.push(Reply::tool_call("read_file", args));
    }
    w.mock.push(Reply::tool_call(
        "search_files",
        json!({"pattern": "canary", "path": "."}),
    ));
    w.mock.push(Reply::text("done"));
    let out = w
        .cmd(&["-z", "read your own secrets"])
        .current_dir(w.home.path())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for req in w.requests() {
        let t = all_text(&req);
        assert!(
            !t.contains("canary-in-dotenv"),
            "a secret reached the model"
        );
        assert!(!t.contains("sk-test-key-0123456789"));
    }
}
