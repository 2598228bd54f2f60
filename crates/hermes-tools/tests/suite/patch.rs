//! `patch` in replace mode and V4A mode, through the `Tool` trait on real files.

use hermes_core::Tool;
use hermes_tools::v4a;
use serde_json::json;

use super::files::{Ws, err_text, fails, ok};

#[tokio::test]
async fn replace_unique_match_returns_a_diff() {
    let ws = Ws::new();
    ws.write(
        "src/x.py",
        "def f():\n    return 1\n\ndef g():\n    return 5\n",
    );
    let p = ws.patch_tool();
    assert!(p.is_mutating(&json!({})));
    let v = ok(
        &p,
        json!({"mode": "replace", "path": "src/x.py", "old_string": "    return 1", "new_string": "    return 2"}),
    )
    .await;
    let abs = ws.path("src/x.py").display().to_string();
    assert_eq!(v["success"], true);
    assert_eq!(v["files_modified"], json!([abs]));
    assert_eq!(v["resolved_path"], abs);
    let diff = v["diff"].as_str().unwrap();
    assert!(
        diff.starts_with("--- a/src/x.py\n+++ b/src/x.py\n@@ -1,"),
        "{diff}"
    );
    assert!(diff.contains("\n-    return 1\n+    return 2\n"), "{diff}");
    assert_eq!(
        ws.read("src/x.py"),
        "def f():\n    return 2\n\ndef g():\n    return 5\n"
    );
}

#[tokio::test]
async fn replace_ambiguous_and_not_found_leave_the_file_alone() {
    let ws = Ws::new();
    let text = "x = 1\ny = 2\nx = 1\n";
    ws.write("a.py", text);
    let p = ws.patch_tool();
    let v = fails(
        &p,
        json!({"mode": "replace", "path": "a.py", "old_string": "x = 1", "new_string": "x = 3"}),
    )
    .await;
    assert_eq!(v["success"], false);
    assert_eq!(
        err_text(&v),
        "Found 2 matches for old_string. Provide more context to make it unique, or use \
         replace_all=true. Matches:\n  L1: x = 1\n  L3: x = 1"
    );
    let v = fails(
        &p,
        json!({"mode": "replace", "path": "a.py", "old_string": "y = 20000", "new_string": "y = 3"}),
    )
    .await;
    let e = err_text(&v);
    assert!(
        e.starts_with("Could not find a match for old_string in the file"),
        "{e}"
    );
    assert!(
        e.contains("\n\nDid you mean one of these sections?\n"),
        "{e}"
    );
    assert!(e.contains("   2| y = 2"), "{e}");
    assert!(v.get("_hint").is_none());

    let v = fails(
        &p,
        json!({"mode": "replace", "path": "a.py", "old_string": "qqqqqqqqqqqqqq", "new_string": "z"}),
    )
    .await;
    assert_eq!(
        v["_hint"],
        "old_string not found. Use read_file to verify the current content, or search_files to locate the text."
    );
    // Third failure on the same file: the stop-retrying hint.
    let v = fails(
        &p,
        json!({"mode": "replace", "path": "a.py", "old_string": "wwwwwwwwwwwwww", "new_string": "z"}),
    )
    .await;
    assert!(
        v["_hint"]
            .as_str()
            .unwrap()
            .starts_with("This is failure #3 patching 'a.py'.")
    );
    assert_eq!(ws.read("a.py"), text);
}

#[tokio::test]
async fn replace_all_and_argument_errors() {
    let ws = Ws::new();
    ws.write("a.txt", "foo bar foo\nfoo\n");
    let p = ws.patch_tool();
    ok(
        &p,
        json!({"mode": "replace", "path": "a.txt", "old_string": "foo", "new_string": "baz", "replace_all": true}),
    )
    .await;
    assert_eq!(ws.read("a.txt"), "baz bar baz\nbaz\n");

    let v = fails(&p, json!({"mode": "replace", "path": "a.txt"})).await;
    assert_eq!(v, json!({"error": "old_string and new_string required"}));
    let v = fails(
        &p,
        json!({"mode": "replace", "old_string": "a", "new_string": "b"}),
    )
    .await;
    assert_eq!(v, json!({"error": "path required"}));
    let v = fails(&p, json!({"mode": "patch"})).await;
    assert_eq!(v, json!({"error": "patch content required"}));
    let v = p.call(json!({"mode": "frob"}), &super::files::ctx()).await;
    assert!(
        matches!(v, Err(hermes_core::ToolError::RespondToModel(s)) if s.contains("Unknown mode: frob"))
    );
    let v = fails(
        &p,
        json!({"mode": "replace", "path": "missing.txt", "old_string": "a", "new_string": "b"}),
    )
    .await;
    assert!(
        err_text(&v).starts_with("Failed to read file: missing.txt"),
        "{v}"
    );
    let v = fails(
        &p,
        json!({"mode": "replace", "path": "a.txt", "old_string": "", "new_string": "b"}),
    )
    .await;
    assert_eq!(err_text(&v), "old_string cannot be empty");
}

#[tokio::test]
async fn replace_fuzzy_whitespace_and_indentation() {
    let ws = Ws::new();
    ws.write(
        "m.py",
        "class A:\n    def f(self):\n        x  =  1\n        return x\n",
    );
    let p = ws.patch_tool();
    // Model dropped the indentation (and the double spaces): matched line-by-line and the
    // replacement is re-indented to the file's indentation.
    ok(
        &p,
        json!({"mode": "replace", "path": "m.py",
               "old_string": "def f(self):\n    x = 1\n    return x",
               "new_string": "def f(self):\n    x = 2\n    y = 3\n    return x + y"}),
    )
    .await;
    assert_eq!(
        ws.read("m.py"),
        "class A:\n    def f(self):\n        x = 2\n        y = 3\n        return x + y\n"
    );
    // A whitespace-only difference inside a line.
    ok(
        &p,
        json!({"mode": "replace", "path": "m.py", "old_string": "y  =   3", "new_string": "y = 4"}),
    )
    .await;
    assert!(ws.read("m.py").contains("        y = 4\n"));
}

#[tokio::test]
async fn replace_keeps_crlf_and_mode() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Ws::new();
    ws.write("w.bat", "@echo off\r\necho one\r\n");
    std::fs::set_permissions(ws.path("w.bat"), std::fs::Permissions::from_mode(0o700)).unwrap();
    let p = ws.patch_tool();
    let v = ok(
        &p,
        json!({"mode": "replace", "path": "w.bat", "old_string": "echo one\n", "new_string": "echo two\necho three\n"}),
    )
    .await;
    assert!(!v["diff"].as_str().unwrap().contains('\r'));
    assert_eq!(ws.read("w.bat"), "@echo off\r\necho two\r\necho three\r\n");
    let mode = std::fs::metadata(ws.path("w.bat"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o700);
}

#[tokio::test]
async fn replace_already_applied_is_a_no_op() {
    let ws = Ws::new();
    ws.write("c.rs", "let answer = 42;\n");
    let p = ws.patch_tool();
    let v = ok(
        &p,
        json!({"mode": "replace", "path": "c.rs", "old_string": "let answer = 41;", "new_string": "let answer = 42;"}),
    )
    .await;
    assert_eq!(v["success"], true);
    assert_eq!(v["no_change"], true);
    assert!(v["note"].as_str().unwrap().contains("already applied"));
}

#[tokio::test]
async fn v4a_add_update_delete_move_in_one_patch() {
    let ws = Ws::new();
    ws.write(
        "src/app.py",
        "import os\n\ndef main():\n    print('hi')\n    return 0\n",
    );
    ws.write("old.txt", "bye\n");
    ws.write("docs/readme.md", "# Title\n");
    let patch = "*** Begin Patch\n\
                 *** Update File: src/app.py\n\
                 @@ def main(): @@\n\
                 \x20def main():\n\
                 -    print('hi')\n\
                 +    print('hello')\n\
                 +    print('world')\n\
                 \x20    return 0\n\
                 *** Add File: src/new/util.py\n\
                 +def helper():\n\
                 +    return 1\n\
                 *** Delete File: old.txt\n\
                 *** Move File: docs/readme.md -> README.md\n\
                 *** End Patch\n";
    let p = ws.patch_tool();
    let v = ok(&p, json!({"mode": "patch", "patch": patch})).await;
    assert_eq!(v["success"], true, "{v}");
    let abs = |r: &str| ws.path(r).display().to_string();
    assert_eq!(
        v["files_modified"],
        json!([
            abs("src/app.py"),
            format!("{} -> {}", abs("docs/readme.md"), abs("README.md"))
        ])
    );
    assert_eq!(v["files_created"], json!([abs("src/new/util.py")]));
    assert_eq!(v["files_deleted"], json!([abs("old.txt")]));
    let diff = v["diff"].as_str().unwrap();
    assert!(
        diff.contains("--- a/src/app.py\n+++ b/src/app.py\n"),
        "{diff}"
    );
    assert!(
        diff.contains("--- /dev/null\n+++ b/src/new/util.py\n"),
        "{diff}"
    );
    assert!(diff.contains("--- a/old.txt\n+++ /dev/null\n"), "{diff}");
    assert!(
        diff.contains("# Moved: docs/readme.md -> README.md"),
        "{diff}"
    );

    assert_eq!(
        ws.read("src/app.py"),
        "import os\n\ndef main():\n    print('hello')\n    print('world')\n    return 0\n"
    );
    assert_eq!(ws.read("src/new/util.py"), "def helper():\n    return 1\n");
    assert!(!ws.path("old.txt").exists());
    assert!(!ws.path("docs/readme.md").exists());
    assert_eq!(ws.read("README.md"), "# Title\n");
}

#[tokio::test]
async fn v4a_sequential_operations_on_one_file() {
    let ws = Ws::new();
    let patch = "*** Add File: notes.txt\n+one\n+two\n\
                 *** Update File: notes.txt\n@@\n one\n-two\n+2\n\
                 *** Move File: notes.txt -> archive/notes.txt\n";
    let v = ok(&ws.patch_tool(), json!({"mode": "patch", "patch": patch})).await;
    assert_eq!(v["success"], true);
    assert!(!ws.path("notes.txt").exists());
    assert_eq!(ws.read("archive/notes.txt"), "one\n2\n");
}

#[tokio::test]
async fn v4a_invalid_patch_leaves_every_file_untouched() {
    let ws = Ws::new();
    ws.write("a.txt", "alpha\nbeta\n");
    ws.write("b.txt", "one\ntwo\n");
    ws.write("d.txt", "delete me\n");
    ws.write("exists.txt", "here\n");
    let patch = "*** Begin Patch\n\
                 *** Update File: a.txt\n@@\n-alpha\n+ALPHA\n\
                 *** Add File: c.txt\n+new\n\
                 *** Update File: b.txt\n@@ section two @@\n-three\n+3\n\
                 *** Delete File: d.txt\n\
                 *** Delete File: gone.txt\n\
                 *** Add File: exists.txt\n+x\n\
                 *** Move File: nothing.txt -> somewhere.txt\n\
                 *** End Patch";
    let v = fails(&ws.patch_tool(), json!({"mode": "patch", "patch": patch})).await;
    assert_eq!(v["success"], false);
    let e = err_text(&v);
    assert!(
        e.starts_with("Patch validation failed (no files were modified):\n"),
        "{e}"
    );
    assert!(
        e.contains("  • b.txt: hunk 1 'section two' not found"),
        "{e}"
    );
    assert!(
        e.contains("  • gone.txt: file not found for deletion"),
        "{e}"
    );
    assert!(
        e.contains("  • exists.txt: file already exists — use Update File, not Add File"),
        "{e}"
    );
    assert!(
        e.contains("  • nothing.txt: source file not found for move"),
        "{e}"
    );
    assert_eq!(ws.read("a.txt"), "alpha\nbeta\n");
    assert_eq!(ws.read("b.txt"), "one\ntwo\n");
    assert_eq!(ws.read("d.txt"), "delete me\n");
    assert_eq!(ws.read("exists.txt"), "here\n");
    assert!(!ws.path("c.txt").exists());
    assert!(!ws.path("somewhere.txt").exists());
}

#[tokio::test]
async fn v4a_parse_errors_and_no_op_patches() {
    let ws = Ws::new();
    ws.write("a.txt", "a\n");
    let p = ws.patch_tool();
    let v = fails(
        &p,
        json!({"mode": "patch", "patch": "*** Begin Patch\n*** Update File: a.txt\n*** End Patch"}),
    )
    .await;
    assert_eq!(
        err_text(&v),
        "Failed to parse patch: Parse error: UPDATE 'a.txt': no hunks found"
    );
    let v = fails(
        &p,
        json!({"mode": "patch", "patch": "*** Update File: a.txt\n-a\n+b\n*** Move to: b.txt\n"}),
    )
    .await;
    assert!(
        err_text(&v).contains("'*** Move to: b.txt' is not supported"),
        "{v}"
    );
    let v = fails(
        &p,
        json!({"mode": "patch", "patch": "*** Update File: a.txt\n@@\n a\n"}),
    )
    .await;
    assert_eq!(
        err_text(&v),
        "Patch contains no changes (only context lines were provided)"
    );
    assert_eq!(ws.read("a.txt"), "a\n");
}

/// Garbage patches through the real filesystem path: never a panic, always a clear answer.
#[test]
fn v4a_garbage_through_apply_never_panics() {
    let ws = Ws::new();
    ws.write("a.txt", "a\nb\nc\n");
    let pieces = [
        "*** Begin Patch",
        "*** End Patch",
        "*** Update File: a.txt",
        "*** Add File: n.txt",
        "*** Delete File: a.txt",
        "*** Move File: a.txt -> m.txt",
        "*** Move File: x ->",
        "*** Move to: q",
        "*** End of File",
        "@@",
        "@@ b @@",
        "+",
        "-a",
        "-b",
        " c",
        "",
        "\\",
        "***",
        "+ü",
        "*** Update File: ../x",
        "*** Add File: /etc/x",
        "é\u{0}",
    ];
    let mut state: u64 = 0x0dd5eed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    for _ in 0..400 {
        let mut text = String::new();
        for _ in 0..next() % 10 {
            text.push_str(pieces[next() % pieces.len()]);
            text.push('\n');
        }
        match v4a::apply_patch(&ws.access, &text) {
            Ok(_) => {}
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
    // Nothing escaped the workspace.
    ws.assert_outside_untouched();
}
