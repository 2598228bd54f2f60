//! A temporary HERMES_HOME and workspace, a mock LLM, and a way to run the binary.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use hermes_testkit::{MockLlm, RecordedRequest};
use tempfile::TempDir;
use tokio::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_hermes");

pub struct World {
    pub home: TempDir,
    pub work: TempDir,
    pub mock: MockLlm,
    extra_env: Vec<(String, String)>,
    removed_env: Vec<String>,
}

impl World {
    pub async fn new() -> World {
        let mock = MockLlm::start().await;
        World {
            home: tempfile::tempdir().unwrap(),
            work: tempfile::tempdir().unwrap(),
            mock,
            extra_env: Vec::new(),
            removed_env: Vec::new(),
        }
    }

    pub fn hermes_home(&self) -> PathBuf {
        self.home.path().join("hermes")
    }

    pub fn work(&self) -> &Path {
        self.work.path()
    }

    pub fn set_env(&mut self, k: &str, v: &str) {
        self.extra_env.push((k.to_string(), v.to_string()));
    }

    pub fn unset_env(&mut self, k: &str) {
        self.removed_env.push(k.to_string());
    }

    pub fn write_config(&self, yaml: &str) {
        std::fs::create_dir_all(self.hermes_home()).unwrap();
        std::fs::write(self.hermes_home().join("config.yaml"), yaml).unwrap();
    }

    pub fn write_dotenv(&self, text: &str) {
        std::fs::create_dir_all(self.hermes_home()).unwrap();
        std::fs::write(self.hermes_home().join(".env"), text).unwrap();
    }

    /// The binary with a hermetic environment pointed at the mock (OpenAI wire).
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("HERMES_HOME", self.hermes_home())
            .env("OPENAI_BASE_URL", self.mock.openai_url())
            .env("OPENAI_API_KEY", "sk-test-key-0123456789")
            .env("HERMES_INFERENCE_MODEL", "gpt-4o")
            .env("HERMES_API_CALL_STALE_TIMEOUT", "2")
            .current_dir(self.work.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in &self.extra_env {
            c.env(k, v);
        }
        for k in &self.removed_env {
            c.env_remove(k);
        }
        c
    }

    pub async fn run(&self, args: &[&str]) -> Run {
        let out = tokio::time::timeout(Duration::from_secs(60), self.cmd(args).output())
            .await
            .expect("hermes did not finish within 60s")
            .unwrap();
        Run(out)
    }

    /// Runs `hermes chat` with `input` on stdin (the REPL without a terminal).
    pub async fn repl(&self, input: &str) -> Run {
        use tokio::io::AsyncWriteExt;
        let mut c = self.cmd(&["chat"]);
        c.stdin(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).await.unwrap();
        drop(stdin);
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("hermes chat did not finish within 60s")
            .unwrap();
        Run(out)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.mock.requests()
    }

    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.hermes_home().join("state.db")).unwrap()
    }
}

pub struct Run(pub Output);

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }

    #[track_caller]
    pub fn ok(&self) -> &Run {
        assert_eq!(
            self.code(),
            0,
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code(),
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// The messages array of a recorded OpenAI request.
pub fn messages(req: &RecordedRequest) -> Vec<serde_json::Value> {
    req.body["messages"].as_array().cloned().unwrap_or_default()
}

/// All message contents of a recorded request, concatenated (for containment checks).
pub fn all_text(req: &RecordedRequest) -> String {
    req.body.to_string()
}
