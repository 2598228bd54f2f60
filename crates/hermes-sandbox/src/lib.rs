//! hermes-sandbox: the executors that run the agent's shell commands.
//!
//! This crate knows nothing of the agent. It takes an [`ExecRequest`] — a command line,
//! a working directory, an environment built by the caller from an allowlist, limits —
//! and runs it through one backend:
//!
//! - [`native`]: the Linux sandbox (namespaces, Landlock, seccomp, limits), the default.
//! - [`local`]: directly on the host, as the current user. Only when the user chose it
//!   explicitly (`terminal.backend: local`); it warns at every start.
//! - [`unavailable`]: what a backend becomes when it cannot be established: every command
//!   is refused with the reason.
//!
//! Backends fail closed: if one cannot enforce its policy it returns
//! [`ExecError::Unavailable`] and runs nothing.

pub mod local;
pub mod native;
mod output;
pub mod pty;
pub mod unavailable;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

pub use local::LocalExecutor;
pub use unavailable::Unavailable;

/// One command to run.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    /// A shell command line, run by `bash -c` (or `sh -c` where bash is missing).
    pub command: String,
    /// Absolute working directory.
    pub cwd: PathBuf,
    /// The complete environment of the command; nothing else is inherited.
    pub env: BTreeMap<String, String>,
    /// Wall-clock limit; the whole process tree is killed when it passes.
    pub timeout: Duration,
    /// Bytes written to the command's stdin, which is then closed. `None` = `/dev/null`.
    pub stdin: Option<Vec<u8>>,
    /// Output (stdout and stderr together) beyond this many bytes stops the command.
    pub max_output_bytes: usize,
    /// Commands with the same scope share a sandbox (its `/tmp`, home and background
    /// processes) — typically one conversation. `None` uses a shared default scope.
    pub scope: Option<String>,
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit status, when the command exited normally.
    pub exit_code: Option<i32>,
    /// Signal that ended it, if any.
    pub signal: Option<i32>,
    /// stdout and stderr, interleaved in arrival order.
    pub output: Vec<u8>,
    pub timed_out: bool,
    /// The output cap was hit and the command was stopped.
    pub output_truncated: bool,
    pub duration: Duration,
}

impl ExecOutput {
    /// The status a shell would report: the exit code, or 128 + signal.
    pub fn status_code(&self) -> i32 {
        match (self.exit_code, self.signal) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            (None, None) => -1,
        }
    }
}

/// How a background command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExitStatus {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl ExitStatus {
    /// The status a shell would report: the exit code, or 128 + signal.
    pub fn status_code(&self) -> i32 {
        match (self.code, self.signal) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            (None, None) => -1,
        }
    }
}

/// A command to start in the background.
#[derive(Debug, Clone)]
pub struct SpawnRequest {
    pub command: String,
    pub cwd: PathBuf,
    pub env: BTreeMap<String, String>,
    /// As in [`ExecRequest::scope`]: background processes live in the scope's sandbox.
    pub scope: Option<String>,
    /// Give the command a pseudo-terminal (for interactive programs).
    pub pty: bool,
    /// Killed after this long; `None` = runs until it exits or is killed.
    pub lifetime: Option<Duration>,
}

/// A command running in the background. Dropping it does not stop the command; call
/// `kill`.
pub struct Spawned {
    /// Its output (stdout and stderr, or the terminal with a pty). EOF comes when the
    /// command and everything it started are gone.
    pub output: Box<dyn tokio::io::AsyncRead + Send + Unpin>,
    /// Its input (stdin, or the terminal with a pty). Drop it to send EOF.
    pub input: Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
    /// Resolves with the command's status once it has ended.
    pub exit: std::pin::Pin<Box<dyn std::future::Future<Output = ExitStatus> + Send>>,
    /// Ends the command and everything it started.
    pub kill: Box<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for Spawned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spawned").finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The backend cannot run commands with its full policy; nothing was run.
    #[error("the {backend} executor is unavailable: {reason}")]
    Unavailable { backend: String, reason: String },
    #[error("could not start the command: {0}")]
    Spawn(String),
    #[error("i/o error while running the command: {0}")]
    Io(String),
    #[error("cancelled")]
    Cancelled,
}

/// A place where shell commands run.
#[async_trait]
pub trait Executor: Send + Sync {
    /// Backend name as configured in `terminal.backend`.
    fn kind(&self) -> &'static str;

    async fn exec(
        &self,
        request: ExecRequest,
        cancel: &CancellationToken,
    ) -> Result<ExecOutput, ExecError>;

    /// Ends whatever the executor keeps for `scope` (the native backend's sandbox, with
    /// everything still running in it). Later commands of that scope start afresh.
    async fn release(&self, _scope: &str) {}

    /// Starts a command in the background, under the same policy and limits as `exec`.
    async fn spawn(&self, _request: SpawnRequest) -> Result<Spawned, ExecError> {
        Err(ExecError::Unavailable {
            backend: self.kind().to_string(),
            reason: "this executor cannot run background processes".into(),
        })
    }
}

/// Environment variable names a command may receive from the host by default.
pub const DEFAULT_ENV_ALLOWLIST: &[&str] = &["PATH", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ"];
