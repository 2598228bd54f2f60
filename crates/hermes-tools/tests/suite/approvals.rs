//! The `terminal` tool with command approvals, over the real local executor in a temporary
//! workspace, with a scripted approver in place of the user.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hermes_core::approval::{
    ApprovalChoice, ApprovalMode, ApprovalPolicy, ApprovalRecord, ApprovalRequest, Approvals,
    Approver, Decision,
};
use hermes_core::{Tool, ToolContext};
use hermes_sandbox::LocalExecutor;
use hermes_tools::terminal::{TerminalConfig, TerminalTool};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

struct Scripted {
    answer: ApprovalChoice,
    asked: AtomicUsize,
}

impl Scripted {
    fn new(answer: ApprovalChoice) -> Arc<Scripted> {
        Arc::new(Scripted {
            answer,
            asked: AtomicUsize::new(0),
        })
    }

    fn asked(&self) -> usize {
        self.asked.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Approver for Scripted {
    async fn ask(&self, _request: &ApprovalRequest) -> ApprovalChoice {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.answer
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    ws: PathBuf,
    tool: TerminalTool,
}

fn fixture(approvals: Approvals) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let ws = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir_all(ws.join("build/obj")).unwrap();
    std::fs::write(ws.join("build/obj/a.o"), "x").unwrap();
    let mut cfg = TerminalConfig::new(&ws);
    cfg.base_env = BTreeMap::from([("PATH".to_string(), "/usr/bin:/bin".to_string())]);
    let tool =
        TerminalTool::new(Arc::new(LocalExecutor::new()), cfg).with_approvals(Arc::new(approvals));
    Fixture {
        tool,
        ws,
        _dir: dir,
    }
}

fn ctx(ws: &Path, lineage: &str) -> ToolContext {
    ToolContext {
        session_id: lineage.into(),
        lineage_id: lineage.into(),
        workspace: ws.to_path_buf(),
        cancel: CancellationToken::new(),
    }
}

impl Fixture {
    async fn raw(&self, lineage: &str, command: &str) -> String {
        self.tool
            .call(json!({ "command": command }), &ctx(&self.ws, lineage))
            .await
            .unwrap()
    }

    async fn run(&self, lineage: &str, command: &str) -> Value {
        serde_json::from_str(&self.raw(lineage, command).await).unwrap()
    }

    /// A script in the workspace that leaves `ran-<name>` behind if it ever runs.
    fn decoy(&self, name: &str) {
        let path = self.ws.join(name);
        std::fs::write(&path, format!("#!/bin/sh\ntouch ran-{name}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn policy(mode: ApprovalMode) -> ApprovalPolicy {
    ApprovalPolicy {
        mode,
        ..ApprovalPolicy::default()
    }
}

#[tokio::test]
async fn nobody_to_ask_refuses_with_hermes_blocked_shape() {
    let f = fixture(Approvals::new(policy(ApprovalMode::Manual)));
    let raw = f.raw("s", "rm -rf build").await;
    let r: Value = serde_json::from_str(&raw).unwrap();
    assert!(
        raw.starts_with(
            r#"{"output":"","exit_code":-1,"error":"Command denied: recursive delete. "#
        ),
        "{raw}"
    );
    assert_eq!(r["status"], "blocked");
    assert!(
        r["error"].as_str().unwrap().contains("command_allowlist"),
        "{r}"
    );
    assert!(f.ws.join("build/obj/a.o").exists(), "nothing ran");
    // Harmless commands run as before, with no approval note.
    assert_eq!(
        f.raw("s", "echo hello").await,
        r#"{"output":"hello","exit_code":0,"error":null}"#
    );
}

#[tokio::test]
async fn approved_once_runs_and_says_so() {
    let who = Scripted::new(ApprovalChoice::Once);
    let f = fixture(Approvals::new(policy(ApprovalMode::Manual)).with_approver(who.clone()));
    let raw = f.raw("s", "rm -rf build && echo gone").await;
    assert_eq!(
        raw,
        r#"{"output":"gone","exit_code":0,"error":null,"approval":"Command required approval (recursive delete) and was approved by the user."}"#
    );
    assert!(!f.ws.join("build").exists());
    std::fs::create_dir(f.ws.join("build")).unwrap();
    f.run("s", "rm -rf build").await;
    assert_eq!(who.asked(), 2, "once is not remembered");
}

#[tokio::test]
async fn session_approval_lasts_for_the_conversation() {
    let who = Scripted::new(ApprovalChoice::Session);
    let f = fixture(Approvals::new(policy(ApprovalMode::Manual)).with_approver(who.clone()));
    f.run("one", "rm -rf build/obj").await;
    let r = f.run("one", "rm -rf build").await;
    assert_eq!(r["exit_code"], 0);
    assert!(r.get("approval").is_none(), "not asked again: {r}");
    assert_eq!(who.asked(), 1);
    std::fs::create_dir(f.ws.join("build")).unwrap();
    f.run("two", "rm -rf build").await;
    assert_eq!(who.asked(), 2, "another conversation asks again");
}

#[tokio::test]
async fn denied_leaves_everything_in_place() {
    let who = Scripted::new(ApprovalChoice::Deny);
    let f = fixture(Approvals::new(policy(ApprovalMode::Manual)).with_approver(who.clone()));
    let r = f.run("s", "rm -rf build").await;
    assert_eq!(r["status"], "blocked");
    assert_eq!(r["exit_code"], -1);
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .starts_with("Command denied: recursive delete. The user refused it."),
        "{r}"
    );
    assert!(f.ws.join("build/obj/a.o").exists());
}

#[tokio::test]
async fn hardline_and_deny_rules_hold_in_mode_off() {
    let records = Arc::new(Mutex::new(Vec::<ApprovalRecord>::new()));
    let sink = records.clone();
    let who = Scripted::new(ApprovalChoice::Always);
    let f = fixture(
        Approvals::new(ApprovalPolicy {
            mode: ApprovalMode::Off,
            deny: vec!["git push *".into()],
            allowlist: vec!["*".into()],
            ..ApprovalPolicy::default()
        })
        .with_approver(who.clone())
        .with_audit(Arc::new(move |r: &ApprovalRecord| {
            sink.lock().unwrap().push(r.clone())
        })),
    );
    f.decoy("reboot");
    f.decoy("git");
    let r = f.run("s", "./reboot").await;
    assert_eq!(r["status"], "blocked", "{r}");
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .starts_with("Command denied: shuts down or reboots the machine."),
        "{r}"
    );
    let r = f
        .run("s", "PATH=.:$PATH sh -c 'git push origin main'")
        .await;
    assert_eq!(r["status"], "blocked", "{r}");
    assert!(r["error"].as_str().unwrap().contains("'git push *'"), "{r}");
    assert!(!f.ws.join("ran-reboot").exists() && !f.ws.join("ran-git").exists());
    // Everything else runs without asking in mode off.
    let r = f.run("s", "rm -rf build && echo gone").await;
    assert_eq!(r["output"], "gone");
    assert_eq!(who.asked(), 0);
    let decisions: Vec<Decision> = records.lock().unwrap().iter().map(|r| r.decision).collect();
    assert_eq!(
        decisions,
        [Decision::Hardline, Decision::DenyRule, Decision::ModeOff]
    );
}
