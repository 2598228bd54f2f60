//! The `local` backend: commands run on the host as the current user, in their own
//! process group. It confines nothing; it exists for users who choose it explicitly.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::output::{CappedBuffer, pump};
use crate::{ExecError, ExecOutput, ExecRequest, Executor};

/// Runs commands directly on the host. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct LocalExecutor {
    _private: (),
}

/// The warning shown whenever the local backend is in use.
pub const LOCAL_WARNING: &str = "terminal.backend is 'local': shell commands run directly on \
this machine as your user, with access to your files and network. Use it only if you trust \
every prompt and file the agent sees.";

impl LocalExecutor {
    pub fn new() -> LocalExecutor {
        LocalExecutor { _private: () }
    }
}

/// The shell used to run command lines.
pub fn shell() -> &'static str {
    if Path::new("/bin/bash").exists() {
        "/bin/bash"
    } else {
        "/bin/sh"
    }
}

fn kill_group(pgid: u32) {
    if pgid == 0 {
        return;
    }
    // SAFETY: kill(2) with a negative pid signals the process group we created for the
    // child; it has no memory-safety preconditions.
    unsafe {
        libc::kill(-(pgid as libc::pid_t), libc::SIGKILL);
    }
}

#[async_trait]
impl Executor for LocalExecutor {
    fn kind(&self) -> &'static str {
        "local"
    }

    async fn exec(
        &self,
        request: ExecRequest,
        cancel: &CancellationToken,
    ) -> Result<ExecOutput, ExecError> {
        let start = Instant::now();
        let mut cmd = Command::new(shell());
        cmd.arg("-c")
            .arg(&request.command)
            .current_dir(&request.cwd)
            .env_clear()
            .envs(&request.env)
            .stdin(if request.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            ExecError::Spawn(format!("{} in {}: {e}", shell(), request.cwd.display()))
        })?;
        let pgid = child.id().unwrap_or(0);

        if let (Some(data), Some(mut stdin)) = (request.stdin.clone(), child.stdin.take()) {
            tokio::spawn(async move {
                let _ = stdin.write_all(&data).await;
            });
        }
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
        if let Some(out) = child.stdout.take() {
            tokio::spawn(pump(out, tx.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(pump(err, tx.clone()));
        }
        drop(tx);

        let mut buf = CappedBuffer::new(request.max_output_bytes);
        let deadline = tokio::time::sleep(request.timeout);
        tokio::pin!(deadline);
        let mut timed_out = false;
        let mut status = None;
        let mut streams_open = true;
        loop {
            tokio::select! {
                chunk = rx.recv(), if streams_open => match chunk {
                    Some(c) => {
                        if !buf.push(&c) {
                            kill_group(pgid);
                        }
                    }
                    None => streams_open = false,
                },
                s = child.wait(), if status.is_none() => {
                    status = Some(s.map_err(|e| ExecError::Io(e.to_string()))?);
                    // Anything the command left running in its group ends with it.
                    kill_group(pgid);
                }
                () = &mut deadline, if status.is_none() => {
                    timed_out = true;
                    kill_group(pgid);
                }
                () = cancel.cancelled() => {
                    kill_group(pgid);
                    let _ = child.wait().await;
                    return Err(ExecError::Cancelled);
                }
            }
            if status.is_some() && !streams_open {
                break;
            }
            if status.is_some() {
                // Processes that left the group (setsid) may hold the pipes open; do not
                // wait for them longer than a moment.
                match tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
                    Ok(Some(c)) => {
                        buf.push(&c);
                    }
                    Ok(None) | Err(_) => break,
                }
            }
        }
        let status = status.ok_or_else(|| ExecError::Io("no exit status".into()))?;
        Ok(ExecOutput {
            exit_code: status.code(),
            signal: status.signal(),
            output: buf.data,
            timed_out,
            output_truncated: buf.overflowed,
            duration: start.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn req(cmd: &str) -> ExecRequest {
        let mut env = BTreeMap::new();
        env.insert("PATH".to_string(), "/usr/bin:/bin".to_string());
        ExecRequest {
            command: cmd.to_string(),
            cwd: std::env::temp_dir(),
            env,
            timeout: Duration::from_secs(10),
            stdin: None,
            max_output_bytes: 1 << 20,
        }
    }

    #[tokio::test]
    async fn runs_and_reports_status() {
        let out = LocalExecutor::new()
            .exec(
                req("echo hi; echo err >&2; exit 3"),
                &CancellationToken::new(),
            )
            .await
            .unwrap();
        assert_eq!(out.exit_code, Some(3));
        let text = String::from_utf8(out.output).unwrap();
        assert!(text.contains("hi") && text.contains("err"), "{text}");
    }

    #[tokio::test]
    async fn environment_is_only_what_was_given() {
        let out = LocalExecutor::new()
            .exec(req("env"), &CancellationToken::new())
            .await
            .unwrap();
        let text = String::from_utf8(out.output).unwrap();
        assert!(!text.contains("HOME="), "{text}");
        assert!(text.contains("PATH=/usr/bin:/bin"));
    }

    #[tokio::test]
    async fn timeout_kills_the_group() {
        let mut r = req("sleep 30 & sleep 30");
        r.timeout = Duration::from_millis(200);
        let out = LocalExecutor::new()
            .exec(r, &CancellationToken::new())
            .await
            .unwrap();
        assert!(out.timed_out);
        assert!(out.duration < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn output_cap_stops_the_command() {
        let mut r = req("yes");
        r.max_output_bytes = 10_000;
        let out = LocalExecutor::new()
            .exec(r, &CancellationToken::new())
            .await
            .unwrap();
        assert!(out.output_truncated);
        assert_eq!(out.output.len(), 10_000);
    }

    #[tokio::test]
    async fn stdin_is_delivered() {
        let mut r = req("cat");
        r.stdin = Some(b"piped".to_vec());
        let out = LocalExecutor::new()
            .exec(r, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(out.output, b"piped");
    }
}
