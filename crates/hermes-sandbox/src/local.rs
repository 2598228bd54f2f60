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
use crate::{ExecError, ExecOutput, ExecRequest, Executor, ExitStatus, SpawnRequest, Spawned};

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

/// Kills the command's process group when dropped, so a call that is cancelled or whose
/// future is dropped leaves nothing of its group running.
struct GroupGuard(u32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        kill_group(self.0);
    }
}

/// How long to keep reading output after the shell exits: processes that left the group
/// (`setsid`) may hold the pipes open, and must not keep the call alive.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(200);

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
        let _guard = GroupGuard(pgid);

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
        // Armed when the shell exits: the last moment to collect output.
        let drain = tokio::time::sleep(Duration::MAX);
        tokio::pin!(drain);
        let mut timed_out = false;
        let mut status = None;
        let mut streams_open = true;
        while streams_open {
            tokio::select! {
                chunk = rx.recv() => match chunk {
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
                    drain.as_mut().reset(tokio::time::Instant::now() + DRAIN_AFTER_EXIT);
                }
                () = &mut deadline, if status.is_none() => {
                    timed_out = true;
                    kill_group(pgid);
                }
                () = &mut drain, if status.is_some() => break,
                () = cancel.cancelled() => {
                    kill_group(pgid);
                    let _ = child.wait().await;
                    return Err(ExecError::Cancelled);
                }
            }
        }
        // Dropping the receiver stops the readers; a writer that escaped the group gets
        // EPIPE instead of keeping this call alive.
        drop(rx);
        let status = match status {
            Some(s) => s,
            None => child
                .wait()
                .await
                .map_err(|e| ExecError::Io(e.to_string()))?,
        };
        Ok(ExecOutput {
            exit_code: status.code(),
            signal: status.signal(),
            output: buf.data,
            timed_out,
            output_truncated: buf.overflowed,
            duration: start.elapsed(),
        })
    }
    async fn spawn(&self, request: SpawnRequest) -> Result<Spawned, ExecError> {
        let io_err = |e: std::io::Error| ExecError::Io(e.to_string());
        let mut cmd = Command::new(shell());
        cmd.arg("-c")
            .arg(&request.command)
            .current_dir(&request.cwd)
            .env_clear()
            .envs(&request.env)
            .kill_on_drop(false);
        let (output, input): (
            Box<dyn tokio::io::AsyncRead + Send + Unpin>,
            Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
        );
        let mut child = if request.pty {
            let (master, slave) = crate::pty::open().map_err(io_err)?;
            let slave_fd = std::os::fd::AsRawFd::as_raw_fd(&slave);
            cmd.stdin(Stdio::from(slave.try_clone().map_err(io_err)?))
                .stdout(Stdio::from(slave.try_clone().map_err(io_err)?))
                .stderr(Stdio::from(slave));
            // SAFETY: setsid and ioctl are async-signal-safe; the slave stays open in the
            // child through the stdio descriptors.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setsid() < 0 || libc::ioctl(slave_fd, libc::TIOCSCTTY, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let child = cmd.spawn().map_err(|e| ExecError::Spawn(e.to_string()))?;
            let master2 = master.try_clone().map_err(io_err)?;
            output = Box::new(crate::pty::AsyncFdIo::new(master).map_err(io_err)?);
            input = Box::new(crate::pty::AsyncFdIo::new(master2).map_err(io_err)?);
            child
        } else {
            let (out_r, out_w) = std::io::pipe().map_err(io_err)?;
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::from(out_w.try_clone().map_err(io_err)?))
                .stderr(Stdio::from(out_w))
                .process_group(0);
            let mut child = cmd.spawn().map_err(|e| ExecError::Spawn(e.to_string()))?;
            let stdin = child
                .stdin
                .take()
                .ok_or_else(|| ExecError::Io("no stdin".into()))?;
            let out_r = std::os::fd::OwnedFd::from(out_r);
            output =
                Box::new(tokio::net::unix::pipe::Receiver::from_owned_fd(out_r).map_err(io_err)?);
            input = Box::new(stdin);
            child
        };
        drop(cmd);
        let pgid = child.id().unwrap_or(0);
        let lifetime = request.lifetime;
        let exit = Box::pin(async move {
            let status = match lifetime {
                Some(d) => match tokio::time::timeout(d, child.wait()).await {
                    Ok(s) => s,
                    Err(_) => {
                        kill_group(pgid);
                        child.wait().await
                    }
                },
                None => child.wait().await,
            };
            kill_group(pgid);
            match status {
                Ok(s) => ExitStatus {
                    code: s.code(),
                    signal: s.signal(),
                },
                Err(_) => ExitStatus {
                    code: None,
                    signal: Some(libc::SIGKILL),
                },
            }
        });
        Ok(Spawned {
            output,
            input,
            exit,
            kill: Box::new(move || kill_group(pgid)),
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
            scope: None,
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

    /// Waits (bounded, as a hang guard) until `pid` has exited and been reaped or is a
    /// zombie; false if it is still running after 10 s.
    async fn gone(pid: i32) -> bool {
        for _ in 0..200 {
            match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => return true,
                Ok(stat) => {
                    let state = stat.rsplit(')').next().unwrap_or("").trim_start();
                    if state.starts_with('Z') || state.starts_with('X') {
                        return true;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    fn pid_in(dir: &std::path::Path) -> i32 {
        std::fs::read_to_string(dir.join("pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    #[tokio::test]
    async fn timeout_kills_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = req("sleep 30 & echo $! > pid; sleep 30");
        r.cwd = dir.path().to_path_buf();
        r.timeout = Duration::from_millis(300);
        let out = LocalExecutor::new()
            .exec(r, &CancellationToken::new())
            .await
            .unwrap();
        assert!(out.timed_out);
        assert!(
            gone(pid_in(dir.path())).await,
            "the background sleep survived"
        );
    }

    #[tokio::test]
    async fn cancelling_or_dropping_the_call_kills_the_group() {
        for drop_it in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let mut r = req("sleep 300 & echo $! > pid; wait");
            r.cwd = dir.path().to_path_buf();
            let cancel = CancellationToken::new();
            let exec = LocalExecutor::new();
            let fut = exec.exec(r, &cancel);
            let pidfile = dir.path().join("pid");
            let wait_for_pid = async {
                while std::fs::read_to_string(&pidfile).map_or(true, |s| !s.ends_with('\n')) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            };
            if drop_it {
                tokio::select! {
                    _ = fut => panic!("the command finished on its own"),
                    () = wait_for_pid => {}
                }
            } else {
                tokio::pin!(fut);
                tokio::select! {
                    _ = &mut fut => panic!("the command finished on its own"),
                    () = wait_for_pid => {}
                }
                cancel.cancel();
                assert_eq!(fut.await, Err(ExecError::Cancelled));
            }
            assert!(
                gone(pid_in(dir.path())).await,
                "drop={drop_it}: sleep survived"
            );
        }
    }

    #[tokio::test]
    async fn a_detached_writer_does_not_keep_the_call_alive() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = req(
            "setsid sh -c 'echo $$ > pid; while :; do echo tick; sleep 0.05; done' & sleep 0.3; echo done",
        );
        r.cwd = dir.path().to_path_buf();
        r.timeout = Duration::from_secs(5);
        let out = tokio::time::timeout(
            Duration::from_secs(60),
            LocalExecutor::new().exec(r, &CancellationToken::new()),
        )
        .await
        .expect("exec returned although a detached process kept writing")
        .unwrap();
        assert_eq!(out.exit_code, Some(0));
        // The detached writer escaped the group (the local backend confines nothing);
        // end it ourselves, by the pid it recorded.
        let pid = pid_in(dir.path());
        // SAFETY: signalling the process this test started.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
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
