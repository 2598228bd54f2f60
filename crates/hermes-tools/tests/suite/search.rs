//! `search_files` on real directory trees.

use std::time::{Duration, SystemTime};

use hermes_core::Tool;
use serde_json::json;

use super::files::{Ws, err_text, fails, ok, ok_text};

fn tree() -> Ws {
    let ws = Ws::new();
    ws.write(
        "src/main.rs",
        "fn main() {\n    let total = compute();\n    println!(\"{total}\");\n}\n",
    );
    ws.write("src/lib.rs", "pub fn compute() -> u32 {\n    41 + 1\n}\n");
    ws.write("notes/todo.md", "compute the totals\nthen ship\n");
    ws.write("build/out.rs", "fn compute_generated() {}\n");
    ws.write(".gitignore", "build/\n*.log\n");
    ws.write("debug.log", "compute in a log\n");
    ws.write(".hidden/secret.rs", "fn compute_hidden() {}\n");
    ws.write("data.bin", b"compute\0\x01\x02");
    ws
}

#[tokio::test]
async fn content_search_respects_gitignore_hidden_and_binary() {
    let ws = tree();
    let s = ws.search_tool();
    assert!(!s.is_mutating(&json!({})));
    let v = ok(&s, json!({"pattern": "compute"})).await;
    // build/ and *.log are gitignored, .hidden/ is hidden, data.bin is binary.
    assert_eq!(
        v,
        json!({"total_count": 3, "matches": [
            {"path": "notes/todo.md", "line": 1, "content": "compute the totals"},
            {"path": "src/lib.rs", "line": 1, "content": "pub fn compute() -> u32 {"},
            {"path": "src/main.rs", "line": 2, "content": "    let total = compute();"},
        ]})
    );
    assert!(v.get("truncated").is_none());
}

#[tokio::test]
async fn content_search_with_glob_context_and_modes() {
    let ws = tree();
    let s = ws.search_tool();
    let v = ok(&s, json!({"pattern": "compute\\(", "file_glob": "*.rs"})).await;
    assert_eq!(v["total_count"], 2, "{v}");

    let v = ok(&s, json!({"pattern": "41", "path": "src", "context": 1})).await;
    assert_eq!(
        v["matches"],
        json!([
            {"path": "src/lib.rs", "line": 1, "content": "pub fn compute() -> u32 {"},
            {"path": "src/lib.rs", "line": 2, "content": "    41 + 1"},
            {"path": "src/lib.rs", "line": 3, "content": "}"},
        ])
    );

    let v = ok(
        &s,
        json!({"pattern": "compute", "output_mode": "files_only"}),
    )
    .await;
    assert_eq!(v["total_count"], 3);
    assert_eq!(
        v["files"],
        json!(["notes/todo.md", "src/lib.rs", "src/main.rs"])
    );

    let v = ok(
        &s,
        json!({"pattern": "compute|total", "output_mode": "count"}),
    )
    .await;
    assert_eq!(
        v["counts"],
        json!({"notes/todo.md": 1, "src/lib.rs": 1, "src/main.rs": 2})
    );
    assert_eq!(v["total_count"], 4);

    // A single file as the search root; path glob relative to the search root.
    let v = ok(&s, json!({"pattern": "ship", "path": "notes/todo.md"})).await;
    assert_eq!(
        v["matches"],
        json!([{"path": "notes/todo.md", "line": 2, "content": "then ship"}])
    );
    let v = ok(&s, json!({"pattern": "compute", "file_glob": "src/*.rs"})).await;
    assert_eq!(v["total_count"], 2);
    let v = ok(&s, json!({"pattern": "compute", "file_glob": "!*.rs"})).await;
    assert_eq!(v["total_count"], 1);
}

#[tokio::test]
async fn content_search_pagination() {
    let ws = Ws::new();
    ws.write("a.txt", "hit 1\nmiss\nhit 2\nhit 3\n");
    ws.write("b.txt", "hit 4\nhit 5\nhit 6\nhit 7\n");
    let s = ws.search_tool();
    let text = ok_text(&s, json!({"pattern": "hit", "limit": 3})).await;
    assert!(
        text.ends_with(
            "\n\n[Hint: Results truncated. Use offset=3 to see more, or narrow with a more specific pattern or file_glob.]"
        ),
        "{text}"
    );
    let v = super::files::parse(&text);
    assert_eq!(v["total_count"], 7);
    assert_eq!(v["truncated"], true);
    let got: Vec<&str> = v["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec!["hit 1", "hit 2", "hit 3"]);

    let v = ok(&s, json!({"pattern": "hit", "limit": 3, "offset": 3})).await;
    let got: Vec<&str> = v["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec!["hit 4", "hit 5", "hit 6"]);
    assert_eq!(v["truncated"], true);

    let text = ok_text(&s, json!({"pattern": "hit", "limit": 3, "offset": 6})).await;
    assert!(!text.contains("[Hint"));
    let v = super::files::parse(&text);
    assert_eq!(v["matches"].as_array().unwrap().len(), 1);
    assert!(v.get("truncated").is_none());

    let v = ok(
        &s,
        json!({"pattern": "hit", "output_mode": "files_only", "limit": 1}),
    )
    .await;
    assert_eq!(v["files"], json!(["a.txt"]));
    assert_eq!(v["total_count"], 2);
    assert_eq!(v["truncated"], true);
}

#[tokio::test]
async fn pagination_with_extreme_numbers_does_not_overflow() {
    let ws = tree();
    let s = ws.search_tool();
    for mode in ["content", "files_only", "count"] {
        let v = ok(
            &s,
            json!({"pattern": "compute", "output_mode": mode, "limit": i64::MAX, "offset": i64::MAX}),
        )
        .await;
        assert!(v.get("truncated").is_none(), "{v}");
    }
    let v = ok(
        &s,
        json!({"pattern": "*", "target": "files", "limit": i64::MAX, "offset": i64::MAX}),
    )
    .await;
    assert_eq!(v["files"], json!([]));
}

#[tokio::test]
async fn file_search_sorted_newest_first() {
    let ws = Ws::new();
    let now = SystemTime::now();
    for (i, name) in ["old.rs", "mid/mid.rs", "new.rs", "readme.md"]
        .iter()
        .enumerate()
    {
        ws.write(name, "x\n");
        let f = std::fs::File::options()
            .write(true)
            .open(ws.path(name))
            .unwrap();
        f.set_modified(now - Duration::from_secs(1000 - i as u64 * 100))
            .unwrap();
    }
    ws.write("build/gen.rs", "x\n");
    ws.write(".gitignore", "build/\n");
    let s = ws.search_tool();
    let v = ok(&s, json!({"pattern": "*.rs", "target": "files"})).await;
    assert_eq!(v["files"], json!(["new.rs", "mid/mid.rs", "old.rs"]));
    assert_eq!(v["total_count"], 3);
    // Names without a leading '*' are wrapped as '*{pattern}'.
    let v = ok(&s, json!({"pattern": "mid.rs", "target": "files"})).await;
    assert_eq!(v["files"], json!(["mid/mid.rs"]));
    let v = ok(&s, json!({"pattern": "*", "target": "files", "limit": 2})).await;
    assert_eq!(v["total_count"], 4);
    assert_eq!(v["files"], json!(["readme.md", "new.rs"]));
    assert_eq!(v["truncated"], true);
    // "find" is accepted as an alias of "files".
    let v = s
        .call(
            json!({"pattern": "*.md", "target": "find"}),
            &super::files::ctx(),
        )
        .await
        .unwrap();
    assert!(v.contains("readme.md"));
}

#[tokio::test]
async fn search_errors() {
    let ws = tree();
    let s = ws.search_tool();
    let v = fails(&s, json!({"pattern": "compute("})).await;
    assert_eq!(v["total_count"], 0);
    assert!(
        err_text(&v).starts_with("Invalid regex pattern 'compute(':"),
        "{v}"
    );
    assert!(err_text(&v).contains("unclosed group"), "{v}");

    let v = fails(&s, json!({"pattern": "x", "path": "srcs"})).await;
    assert_eq!(err_text(&v), "Path not found: srcs. Similar paths: src");
    let v = fails(&s, json!({"pattern": "x", "path": "../outside"})).await;
    assert!(err_text(&v).starts_with("Access denied"), "{v}");
    let v = fails(&s, json!({"pattern": "x", "path": "/"})).await;
    assert!(err_text(&v).starts_with("Access denied"), "{v}");
    let v = fails(&s, json!({"pattern": "x", "file_glob": "a{b"})).await;
    assert!(err_text(&v).starts_with("Invalid file_glob 'a{b'"), "{v}");
}
