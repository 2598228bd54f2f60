//! Building sandboxes for tests.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use hermes_sandbox::native::{Helper, NativeConfig, NativeExecutor, Policy};
use hermes_sandbox::{ExecOutput, ExecRequest, Executor};
use tokio_util::sync::CancellationToken;

/// Who commands run as when the tests run as root and the workspace belongs to root.
pub const SANDBOX_ID: u32 = 10001;

pub fn executor(workspace: &Path) -> NativeExecutor {
    executor_with(Policy::new(workspace.canonicalize().unwrap()))
}

pub fn executor_with(policy: Policy) -> NativeExecutor {
    NativeExecutor::new(NativeConfig {
        helper: Helper {
            program: env!("CARGO_BIN_EXE_hermes-sandbox-helper").into(),
            args: Vec::new(),
        },
        policy,
        start_timeout: Duration::from_secs(20),
        root_sandbox_id: (SANDBOX_ID, SANDBOX_ID),
        cgroups: hermes_sandbox::native::cgroup::detect(),
    })
}

pub fn request(cwd: &Path, cmd: &str) -> ExecRequest {
    let mut env = BTreeMap::new();
    env.insert(
        "PATH".to_string(),
        "/usr/local/bin:/usr/bin:/bin".to_string(),
    );
    env.insert("HOME".to_string(), "/home/sandbox".to_string());
    ExecRequest {
        command: cmd.to_string(),
        cwd: cwd.canonicalize().unwrap(),
        env,
        timeout: Duration::from_secs(30),
        stdin: None,
        max_output_bytes: 1 << 20,
        scope: Some("test".into()),
    }
}

pub async fn run(ex: &NativeExecutor, cwd: &Path, cmd: &str) -> ExecOutput {
    ex.exec(request(cwd, cmd), &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

pub fn text(out: &ExecOutput) -> String {
    String::from_utf8_lossy(&out.output).into_owned()
}
