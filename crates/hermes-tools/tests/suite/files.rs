//! `read_file` and `write_file` through the `Tool` trait, and the path-escape suite: every
//! attack must fail AND leave the file outside the workspace unchanged.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hermes_core::schema::validate;
use hermes_core::{Tool, ToolContext, ToolError};
use hermes_tools::fs::FileAccess;
use hermes_tools::patch::PatchTool;
use hermes_tools::read_file::{ReadFileTool, ReadLimits};
use hermes_tools::search_files::SearchFilesTool;
use hermes_tools::write_file::WriteFileTool;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// A workspace `base/ws` next to `base/outside`, with a deny-listed `ws/hermes-home`.
pub struct Ws {
    _base: tempfile::TempDir,
    pub root: PathBuf,
    pub outside: PathBuf,
    pub access: Arc<FileAccess>,
}

pub const OUTSIDE_SECRET: &str = "outside-secret-content-7f3a\n";

impl Ws {
    pub fn new() -> Ws {
        Ws::with_home(None)
    }

    pub fn with_home(home: Option<&str>) -> Ws {
        let base = tempfile::tempdir().unwrap();
        let root = base.path().join("ws");
        let outside = base.path().join("outside");
        std::fs::create_dir(&root).unwrap();
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("secret.txt"), OUTSIDE_SECRET).unwrap();
        let home = home.map(|h| base.path().join(h));
        let access = FileAccess::new(&root, vec![root.join("hermes-home")])
            .unwrap()
            .with_home(home);
        Ws {
            _base: base,
            root: std::fs::canonicalize(&root).unwrap(),
            outside: std::fs::canonicalize(&outside).unwrap(),
            access: Arc::new(access),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(p, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    pub fn read_tool(&self) -> ReadFileTool {
        ReadFileTool::new(self.access.clone(), ReadLimits::default())
    }

    pub fn write_tool(&self) -> WriteFileTool {
        WriteFileTool::new(self.access.clone())
    }

    pub fn patch_tool(&self) -> PatchTool {
        PatchTool::new(self.access.clone())
    }

    pub fn search_tool(&self) -> SearchFilesTool {
        SearchFilesTool::new(self.access.clone())
    }

    /// The outside file is still exactly what it was.
    pub fn assert_outside_untouched(&self) {
        assert_eq!(
            std::fs::read_to_string(self.outside.join("secret.txt")).unwrap(),
            OUTSIDE_SECRET
        );
        let names: Vec<_> = std::fs::read_dir(&self.outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec!["secret.txt"],
            "files appeared outside the workspace"
        );
    }
}

pub fn ctx() -> ToolContext {
    ToolContext {
        session_id: "s1".into(),
        lineage_id: "s1".into(),
        workspace: std::env::temp_dir(),
        cancel: CancellationToken::new(),
    }
}

/// Parses the JSON at the start of a result (search results may carry a trailing hint).
pub fn parse(text: &str) -> Value {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .next()
        .unwrap_or_else(|| panic!("no JSON in {text:?}"))
        .unwrap_or_else(|e| panic!("bad JSON in {text:?}: {e}"))
}

/// Calls a tool that must succeed; returns the raw text.
pub async fn ok_text(tool: &dyn Tool, args: Value) -> String {
    validate(&tool.spec().parameters, &args).unwrap();
    match tool.call(args.clone(), &ctx()).await {
        Ok(s) => s,
        Err(e) => panic!("{} {args} failed: {e:?}", tool.spec().name),
    }
}

pub async fn ok(tool: &dyn Tool, args: Value) -> Value {
    parse(&ok_text(tool, args).await)
}

/// Calls a tool that must fail with a message for the model; returns the parsed JSON.
pub async fn fails(tool: &dyn Tool, args: Value) -> Value {
    validate(&tool.spec().parameters, &args).unwrap();
    match tool.call(args.clone(), &ctx()).await {
        Err(ToolError::RespondToModel(s)) => parse(&s),
        other => panic!(
            "{} {args}: expected a model-facing error, got {other:?}",
            tool.spec().name
        ),
    }
}

pub fn err_text(v: &Value) -> String {
    v["error"].as_str().unwrap_or_default().to_string()
}

fn numbered(n: usize) -> String {
    (1..=n).map(|i| format!("line {i}\n")).collect()
}

#[tokio::test]
async fn read_pages_with_offset_limit_and_hint() {
    let ws = Ws::new();
    ws.write("ten.txt", numbered(10));
    let t = ws.read_tool();
    let v = ok(&t, json!({"path": "ten.txt", "offset": 3, "limit": 4})).await;
    assert_eq!(v["content"], "3|line 3\n4|line 4\n5|line 5\n6|line 6");
    assert_eq!(v["total_lines"], 10);
    assert_eq!(v["truncated"], true);
    assert_eq!(v["file_size"], numbered(10).len());
    assert_eq!(v["is_binary"], false);
    assert_eq!(v["is_image"], false);
    assert_eq!(
        v["hint"],
        "Use offset=7 to continue reading (showing 3-6 of 10 lines)"
    );

    let v = ok(&t, json!({"path": "ten.txt", "offset": 7})).await;
    assert_eq!(v["truncated"], false);
    assert!(v.get("hint").is_none());
    assert!(v["content"].as_str().unwrap().starts_with("7|line 7\n"));
    assert!(v["content"].as_str().unwrap().ends_with("10|line 10"));

    let v = ok(&t, json!({"path": "ten.txt", "offset": 50})).await;
    assert_eq!(v["content"], "");
    assert_eq!(
        v["hint"],
        "Note: offset 50 is beyond the end of the file (10 lines total). Retry with offset <= 10."
    );
}

#[tokio::test]
async fn read_with_extreme_numbers_does_not_overflow() {
    let ws = Ws::new();
    ws.write("ten.txt", numbered(10));
    let t = ws.read_tool();
    let v = ok(
        &t,
        json!({"path": "ten.txt", "offset": i64::MAX, "limit": 2000}),
    )
    .await;
    assert_eq!(v["content"], "");
    let hint = v["hint"].as_str().unwrap();
    assert!(hint.contains("is beyond the end of the file"), "{hint}");
    // Past the schema (the agent validates first, but the tool must not rely on it).
    let args = json!({"path": "ten.txt", "offset": i64::MAX, "limit": i64::MAX});
    let out = t.call(args, &ctx()).await.unwrap();
    assert_eq!(parse(&out)["content"], "");
    let v = ok(&t, json!({"path": "ten.txt", "offset": 1, "limit": 0})).await;
    assert_eq!(v["total_lines"], 10);
    assert_eq!(v["truncated"], false);
}

#[tokio::test]
async fn read_empty_bom_crlf_and_absolute() {
    let ws = Ws::new();
    ws.write("empty.txt", "");
    ws.write("bom.txt", "\u{feff}first\r\nsecond\r\nlast-without-newline");
    let t = ws.read_tool();
    let v = ok(&t, json!({"path": "empty.txt"})).await;
    assert_eq!(v["content"], "");
    assert_eq!(v["total_lines"], 0);
    assert_eq!(v["hint"], "File is empty (0 bytes).");

    let abs = ws.path("bom.txt").display().to_string();
    let v = ok(&t, json!({"path": abs})).await;
    assert_eq!(v["content"], "1|first\n2|second\n3|last-without-newline");
    assert_eq!(v["total_lines"], 3);
}

#[tokio::test]
async fn read_limits_are_enforced() {
    let ws = Ws::new();
    ws.write("long.txt", format!("{}\nshort\n", "x".repeat(50)));
    ws.write("many.txt", numbered(30));
    let limits = ReadLimits {
        max_chars: 60,
        max_line_length: 10,
        max_lines: 5,
    };
    let t = ReadFileTool::new(ws.access.clone(), limits);
    let v = ok(&t, json!({"path": "long.txt"})).await;
    assert_eq!(v["content"], "1|xxxxxxxxxx... [truncated]\n2|short");

    // limit is capped at max_lines.
    let v = ok(&t, json!({"path": "many.txt", "limit": 100})).await;
    assert_eq!(v["content"].as_str().unwrap().lines().count(), 5);
    assert_eq!(
        v["hint"],
        "Use offset=6 to continue reading (showing 1-5 of 30 lines)"
    );

    let t = ReadFileTool::new(
        ws.access.clone(),
        ReadLimits {
            max_chars: 20,
            ..ReadLimits::default()
        },
    );
    let v = fails(&t, json!({"path": "many.txt"})).await;
    let e = err_text(&v);
    assert!(
        e.starts_with("Read produced ") && e.contains("exceeds the safety limit (20 chars)"),
        "{e}"
    );
    assert!(e.ends_with("The file has 30 lines total."), "{e}");
    assert_eq!(v["total_lines"], 30);
}

#[tokio::test]
async fn binary_files_are_refused() {
    let ws = Ws::new();
    let t = ws.read_tool();
    let v = fails(&t, json!({"path": "picture.PNG"})).await;
    assert_eq!(
        err_text(&v),
        "Cannot read binary file 'picture.PNG' (.png). Use vision_analyze for images, or terminal to inspect binary files."
    );
    ws.write("blob.dat", b"abc\0def\x01\x02");
    let v = fails(&t, json!({"path": "blob.dat"})).await;
    assert_eq!(v["is_binary"], true);
    assert_eq!(v["file_size"], 9);
    assert!(err_text(&v).starts_with("Binary file (9 bytes) — cannot display as text."));
    ws.write("latin1.txt", b"caf\xe9 cr\xe8me\n");
    let v = fails(&t, json!({"path": "latin1.txt"})).await;
    assert_eq!(v["is_binary"], true);
}

#[tokio::test]
async fn missing_file_suggests_similar_names() {
    let ws = Ws::new();
    ws.write("config.yaml", "a: 1\n");
    ws.write("src/main.py", "print()\n");
    ws.write("src/other.rs", "\n");
    ws.write("src/.env", "KEY=secret\n");
    let t = ws.read_tool();
    let v = fails(&t, json!({"path": "confg.yaml"})).await;
    assert_eq!(err_text(&v), "File not found: confg.yaml");
    assert_eq!(v["similar_files"], json!(["config.yaml"]));

    let v = fails(&t, json!({"path": "src/main.rs"})).await;
    assert_eq!(v["similar_files"][0], "src/main.py");
    assert_eq!(v["content"], "");
    assert_eq!(v["total_lines"], 0);

    // Secret files are never suggested.
    let v = fails(&t, json!({"path": "src/.en"})).await;
    let sims = v["similar_files"].as_array().cloned().unwrap_or_default();
    assert!(
        !sims.iter().any(|s| s.as_str().unwrap().contains(".env")),
        "{sims:?}"
    );

    let v = fails(&t, json!({"path": "nowhere/x.txt"})).await;
    assert!(v.get("similar_files").is_none());
}

#[tokio::test]
async fn directories_and_fifos_are_refused_without_blocking() {
    let ws = Ws::new();
    std::fs::create_dir(ws.path("dir")).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(ws.path("pipe"))
        .status()
        .unwrap();
    assert!(status.success());
    let t = ws.read_tool();
    for p in ["dir", "pipe", "."] {
        let v = fails(&t, json!({"path": p})).await;
        assert!(
            err_text(&v).contains("not a regular file"),
            "{p}: {}",
            err_text(&v)
        );
    }
    // write_file over a FIFO or a directory is refused too.
    let w = ws.write_tool();
    for p in ["dir", "pipe"] {
        fails(&w, json!({"path": p, "content": "x"})).await;
    }
}

#[tokio::test]
async fn write_creates_parents_atomically_and_reports() {
    let ws = Ws::new();
    let w = ws.write_tool();
    assert!(w.is_mutating(&json!({})));
    assert!(!ws.read_tool().is_mutating(&json!({})));
    let v = ok(&w, json!({"path": "a/b/c.txt", "content": "héllo\n"})).await;
    let abs = ws.path("a/b/c.txt").display().to_string();
    assert_eq!(v["bytes_written"], "héllo\n".len());
    assert_eq!(v["dirs_created"], true);
    assert_eq!(v["resolved_path"], abs);
    assert_eq!(v["files_modified"], json!([abs]));
    assert_eq!(ws.read("a/b/c.txt"), "héllo\n");
    let names: Vec<_> = std::fs::read_dir(ws.path("a/b"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["c.txt"], "temporary files were left behind");

    let v = ok(&w, json!({"path": "a/b/c.txt", "content": "again"})).await;
    assert_eq!(v["dirs_created"], false);
    assert_eq!(ws.read("a/b/c.txt"), "again");
}

#[tokio::test]
async fn write_keeps_mode_crlf_and_bom() {
    let ws = Ws::new();
    ws.write("run.sh", "\u{feff}echo 1\r\necho 2\r\n");
    std::fs::set_permissions(ws.path("run.sh"), std::fs::Permissions::from_mode(0o750)).unwrap();
    let w = ws.write_tool();
    ok(&w, json!({"path": "run.sh", "content": "echo 3\necho 4\n"})).await;
    assert_eq!(ws.read("run.sh"), "\u{feff}echo 3\r\necho 4\r\n");
    let mode = std::fs::metadata(ws.path("run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o750);
}

#[tokio::test]
async fn write_refuses_read_file_display_text_and_bad_arguments() {
    let ws = Ws::new();
    let w = ws.write_tool();
    let v = fails(
        &w,
        json!({"path": "x.txt", "content": "1|first\n2|second\n3|third\n"}),
    )
    .await;
    assert!(err_text(&v).starts_with("Refusing to write internal read_file display text"));
    assert!(!ws.path("x.txt").exists());
    // A lone numbered line is fine.
    ok(&w, json!({"path": "x.txt", "content": "1|value\n"})).await;

    let v = w.call(json!({"path": "y.txt", "content": 5}), &ctx()).await;
    let Err(ToolError::RespondToModel(s)) = v else {
        panic!("{v:?}")
    };
    assert_eq!(
        err_text(&parse(&s)),
        "write_file: 'content' must be a string, got number."
    );
    let v = w.call(json!({"path": "y.txt"}), &ctx()).await;
    assert!(
        matches!(v, Err(ToolError::RespondToModel(s)) if s.contains("missing required field 'content'"))
    );
    // The git hooks of the workspace are off limits.
    let v = fails(
        &w,
        json!({"path": ".git/hooks/pre-commit", "content": "#!/bin/sh\n"}),
    )
    .await;
    assert!(err_text(&v).contains("git hook"), "{v}");
    assert!(!ws.path(".git").exists());
}

// ---------------------------------------------------------------------------------------
// Path-escape suite.

fn assert_names_root(ws: &Ws, v: &Value) {
    let e = err_text(v);
    assert!(
        e.contains(&ws.root.display().to_string()),
        "error does not name the workspace root: {e}"
    );
}

#[tokio::test]
async fn escape_dotdot() {
    let ws = Ws::new();
    for p in [
        "../outside/secret.txt",
        "sub/../../outside/secret.txt",
        "./../outside",
    ] {
        let v = fails(&ws.read_tool(), json!({"path": p})).await;
        assert!(err_text(&v).starts_with("Access denied"), "{v}");
        assert_names_root(&ws, &v);
        let v = fails(&ws.write_tool(), json!({"path": p, "content": "pwned"})).await;
        assert_names_root(&ws, &v);
        fails(
            &ws.patch_tool(),
            json!({"mode": "replace", "path": p, "old_string": "outside", "new_string": "pwned"}),
        )
        .await;
    }
    let v = fails(
        &ws.write_tool(),
        json!({"path": "../outside/new.txt", "content": "x"}),
    )
    .await;
    assert_names_root(&ws, &v);
    ws.assert_outside_untouched();
}

#[tokio::test]
async fn escape_absolute_path_and_home() {
    let ws = Ws::with_home(Some("outside"));
    let abs = ws.outside.join("secret.txt").display().to_string();
    let v = fails(&ws.read_tool(), json!({"path": abs})).await;
    assert_names_root(&ws, &v);
    fails(&ws.write_tool(), json!({"path": abs, "content": "pwned"})).await;
    fails(&ws.read_tool(), json!({"path": "/etc/passwd"})).await;
    // `~` is the (outside) home directory here: refused as well.
    let v = fails(&ws.read_tool(), json!({"path": "~/secret.txt"})).await;
    assert_names_root(&ws, &v);
    fails(
        &ws.write_tool(),
        json!({"path": "~/new.txt", "content": "x"}),
    )
    .await;
    ws.assert_outside_untouched();
}

#[tokio::test]
async fn escape_symlinked_file() {
    let ws = Ws::new();
    std::os::unix::fs::symlink(ws.outside.join("secret.txt"), ws.path("link.txt")).unwrap();
    let v = fails(&ws.read_tool(), json!({"path": "link.txt"})).await;
    assert!(err_text(&v).contains("symbolic link"), "{v}");
    assert_names_root(&ws, &v);
    fails(
        &ws.write_tool(),
        json!({"path": "link.txt", "content": "pwned"}),
    )
    .await;
    fails(
        &ws.patch_tool(),
        json!({"mode": "replace", "path": "link.txt", "old_string": "outside", "new_string": "pwned"}),
    )
    .await;
    assert!(
        std::fs::symlink_metadata(ws.path("link.txt"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    ws.assert_outside_untouched();

    // A relative link that climbs out is refused the same way.
    std::os::unix::fs::symlink("../outside/secret.txt", ws.path("rel-link")).unwrap();
    fails(&ws.read_tool(), json!({"path": "rel-link"})).await;
    fails(
        &ws.write_tool(),
        json!({"path": "rel-link", "content": "pwned"}),
    )
    .await;
    ws.assert_outside_untouched();

    // Links that stay inside work.
    ws.write("real.txt", "inside\n");
    std::os::unix::fs::symlink("real.txt", ws.path("good-link")).unwrap();
    let v = ok(&ws.read_tool(), json!({"path": "good-link"})).await;
    assert_eq!(v["content"], "1|inside");
    ok(
        &ws.write_tool(),
        json!({"path": "good-link", "content": "changed\n"}),
    )
    .await;
    assert_eq!(ws.read("real.txt"), "changed\n");
}

#[tokio::test]
async fn escape_symlinked_directory() {
    let ws = Ws::new();
    std::os::unix::fs::symlink(&ws.outside, ws.path("linkdir")).unwrap();
    ws.write("deep/a/b/keep.txt", "x\n");
    std::os::unix::fs::symlink("../../../../outside", ws.path("deep/a/b/up")).unwrap();
    for p in ["linkdir/secret.txt", "deep/a/b/up/secret.txt"] {
        let v = fails(&ws.read_tool(), json!({"path": p})).await;
        assert!(err_text(&v).contains("symbolic link"), "{v}");
        fails(&ws.write_tool(), json!({"path": p, "content": "pwned"})).await;
    }
    fails(
        &ws.write_tool(),
        json!({"path": "linkdir/new.txt", "content": "pwned"}),
    )
    .await;
    fails(
        &ws.write_tool(),
        json!({"path": "linkdir/sub/new.txt", "content": "pwned"}),
    )
    .await;
    // search: the link as the root is refused, and a search of the workspace does not
    // descend through it.
    let s = ws.search_tool();
    let v = fails(&s, json!({"pattern": "outside-secret", "path": "linkdir"})).await;
    assert!(err_text(&v).contains("symbolic link"), "{v}");
    let v = ok(&s, json!({"pattern": "outside-secret"})).await;
    assert_eq!(v["total_count"], 0, "{v}");
    let v = ok(&s, json!({"pattern": "secret*", "target": "files"})).await;
    assert_eq!(v["total_count"], 0, "{v}");
    ws.assert_outside_untouched();
}

#[tokio::test]
async fn escape_final_component_symlink_for_write() {
    let ws = Ws::new();
    // Dangling link whose target would be created outside.
    std::os::unix::fs::symlink(ws.outside.join("created.txt"), ws.path("dangling")).unwrap();
    let v = fails(
        &ws.write_tool(),
        json!({"path": "dangling", "content": "pwned"}),
    )
    .await;
    assert!(err_text(&v).contains("symbolic link"), "{v}");
    // Link to an existing outside file.
    std::os::unix::fs::symlink(ws.outside.join("secret.txt"), ws.path("existing")).unwrap();
    fails(
        &ws.write_tool(),
        json!({"path": "existing", "content": "pwned"}),
    )
    .await;
    let patch = "*** Begin Patch\n*** Add File: dangling\n+pwned\n*** End Patch";
    fails(&ws.patch_tool(), json!({"mode": "patch", "patch": patch})).await;
    ws.assert_outside_untouched();
}

#[tokio::test]
async fn escape_hard_link_is_replaced_not_written_through() {
    let ws = Ws::new();
    let target = ws.outside.join("secret.txt");
    if std::fs::hard_link(&target, ws.path("hard.txt")).is_err() {
        eprintln!("skipping: hard links across these directories are not possible here");
        return;
    }
    let v = ok(
        &ws.write_tool(),
        json!({"path": "hard.txt", "content": "replaced\n"}),
    )
    .await;
    assert_eq!(v["bytes_written"], 9);
    assert_eq!(ws.read("hard.txt"), "replaced\n");
    ws.assert_outside_untouched();

    std::fs::remove_file(ws.path("hard.txt")).unwrap();
    std::fs::hard_link(&target, ws.path("hard2.txt")).unwrap();
    ok(
        &ws.patch_tool(),
        json!({"mode": "replace", "path": "hard2.txt", "old_string": "outside-secret", "new_string": "patched"}),
    )
    .await;
    assert!(ws.read("hard2.txt").starts_with("patched"));
    ws.assert_outside_untouched();
}

#[tokio::test]
async fn escape_deny_listed_home_inside_workspace() {
    let ws = Ws::new();
    ws.write("hermes-home/.env", "OPENAI_API_KEY=sk-live\n");
    ws.write("hermes-home/config.yaml", "model: x\n");
    ws.write("hermes-home/notes.md", "private notes token-91ab\n");
    for p in [
        "hermes-home/config.yaml",
        "hermes-home/notes.md",
        "./hermes-home/../hermes-home/notes.md",
    ] {
        let v = fails(&ws.read_tool(), json!({"path": p})).await;
        assert!(err_text(&v).starts_with("Access denied"), "{v}");
        fails(&ws.write_tool(), json!({"path": p, "content": "pwned"})).await;
    }
    fails(
        &ws.write_tool(),
        json!({"path": "hermes-home/new.txt", "content": "x"}),
    )
    .await;
    // Through a link inside the workspace, too.
    std::os::unix::fs::symlink("hermes-home", ws.path("alias")).unwrap();
    fails(&ws.read_tool(), json!({"path": "alias/notes.md"})).await;
    let s = ws.search_tool();
    let v = ok(&s, json!({"pattern": "token-91ab"})).await;
    assert_eq!(v["total_count"], 0, "{v}");
    let v = ok(&s, json!({"pattern": "*.md", "target": "files"})).await;
    assert_eq!(v["total_count"], 0, "{v}");
    fails(&s, json!({"pattern": "x", "path": "hermes-home"})).await;
    assert_eq!(ws.read("hermes-home/config.yaml"), "model: x\n");
    assert_eq!(
        ws.read("hermes-home/notes.md"),
        "private notes token-91ab\n"
    );
    assert!(!ws.path("hermes-home/new.txt").exists());
}

#[tokio::test]
async fn escape_project_env_files_are_not_read() {
    let ws = Ws::new();
    ws.write(".env", "API_KEY=sk-live-123\n");
    ws.write("app/.env.production", "DB_PASSWORD=hunter2\n");
    ws.write("app/.env.example", "DB_PASSWORD=\n");
    let r = ws.read_tool();
    for p in [".env", "app/.env.production"] {
        let v = fails(&r, json!({"path": p})).await;
        assert!(
            err_text(&v).contains("secret-bearing environment file"),
            "{v}"
        );
        fails(
            &ws.patch_tool(),
            json!({"mode": "replace", "path": p, "old_string": "=", "new_string": ":"}),
        )
        .await;
    }
    ok(&r, json!({"path": "app/.env.example"})).await;
    // A link named innocently but pointing at .env is refused as well.
    std::os::unix::fs::symlink(".env", ws.path("innocent.txt")).unwrap();
    fails(&r, json!({"path": "innocent.txt"})).await;
    // Search never reads them (not even as an oracle, whatever the glob).
    let s = ws.search_tool();
    for glob in [".env*", "*", "!*.rs"] {
        let v = ok(&s, json!({"pattern": "sk-live|hunter2", "file_glob": glob})).await;
        assert_eq!(v["total_count"], 0, "{v}");
    }
    let v = ok(&s, json!({"pattern": "sk-live", "path": ".env"})).await;
    assert_eq!(v["total_count"], 0, "{v}");
    let v = ok(&s, json!({"pattern": ".env*", "target": "files"})).await;
    assert_eq!(v["total_count"], 0, "{v}");
    assert_eq!(ws.read(".env"), "API_KEY=sk-live-123\n");
}

#[tokio::test]
async fn escape_v4a_headers() {
    let ws = Ws::new();
    ws.write("inside.txt", "a\n");
    std::os::unix::fs::symlink(&ws.outside, ws.path("linkdir")).unwrap();
    let p = ws.patch_tool();
    let patches = [
        "*** Begin Patch\n*** Update File: ../outside/secret.txt\n@@\n-outside-secret-content-7f3a\n+pwned\n*** End Patch",
        "*** Begin Patch\n*** Add File: ../outside/new.txt\n+pwned\n*** End Patch",
        "*** Begin Patch\n*** Delete File: ../outside/secret.txt\n*** End Patch",
        "*** Begin Patch\n*** Move File: inside.txt -> ../outside/moved.txt\n*** End Patch",
    ];
    for patch in patches {
        let v = fails(&p, json!({"mode": "patch", "patch": patch})).await;
        assert_eq!(v["success"], false);
        assert!(
            err_text(&v).starts_with("V4A patch header contains '..' traversal"),
            "{v}"
        );
    }
    let abs = ws.outside.join("secret.txt").display().to_string();
    let patches = [
        format!("*** Update File: {abs}\n@@\n-outside-secret-content-7f3a\n+pwned\n"),
        format!("*** Delete File: {abs}\n"),
        "*** Add File: linkdir/new.txt\n+pwned\n".to_string(),
        "*** Update File: linkdir/secret.txt\n@@\n-outside-secret-content-7f3a\n+pwned\n"
            .to_string(),
        "*** Move File: linkdir/secret.txt -> stolen.txt\n".to_string(),
    ];
    for patch in patches {
        let v = fails(&p, json!({"mode": "patch", "patch": patch})).await;
        assert!(
            err_text(&v).starts_with("Patch validation failed (no files were modified)"),
            "{v}"
        );
    }
    assert!(!ws.path("stolen.txt").exists());
    assert_eq!(ws.read("inside.txt"), "a\n");
    ws.assert_outside_untouched();
}

#[test]
fn workspace_must_exist() {
    let e = FileAccess::new(Path::new("/nonexistent/hermes-ws-test"), Vec::new()).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/hermes-ws-test"), "{e}");
}
