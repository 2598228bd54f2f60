//! Background processes: output, input, terminals, kill, lifetime — on both backends.

use std::time::Duration;

use hermes_sandbox::{Executor, LocalExecutor, SpawnRequest, Spawned};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::support::*;

fn spawn_request(cwd: &std::path::Path, cmd: &str, pty: bool) -> SpawnRequest {
    let r = request(cwd, cmd);
    SpawnRequest {
        command: r.command,
        cwd: r.cwd,
        env: r.env,
        scope: r.scope,
        pty,
        lifetime: None,
    }
}

async fn read_until(p: &mut Spawned, needle: &str) -> String {
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(20), async {
        while !seen.contains(needle) {
            let n = p.output.read(&mut buf).await.unwrap();
            assert!(n > 0, "output ended before {needle:?}: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {needle:?} in {seen:?}"));
    seen
}

async fn exercise(ex: &dyn Executor, ws: &std::path::Path) {
    // Input reaches the command; its exit status is reported.
    let mut p = ex
        .spawn(spawn_request(
            ws,
            "read line; echo \"got $line\"; exit 7",
            false,
        ))
        .await
        .unwrap();
    p.input.write_all(b"hello\n").await.unwrap();
    read_until(&mut p, "got hello").await;
    let status = tokio::time::timeout(Duration::from_secs(20), p.exit)
        .await
        .unwrap();
    assert_eq!(status.code, Some(7));

    // A terminal: the command sees a tty and its window size.
    let mut p = ex
        .spawn(spawn_request(
            ws,
            "test -t 0 && echo IS-A-TTY; stty size",
            true,
        ))
        .await
        .unwrap();
    let out = read_until(&mut p, "40 120").await;
    assert!(out.contains("IS-A-TTY"), "{out}");
    tokio::time::timeout(Duration::from_secs(20), p.exit)
        .await
        .unwrap();

    // Kill ends the command and what it started.
    let marker = format!("bg-marker-{}", std::process::id());
    let p = ex
        .spawn(spawn_request(
            ws,
            &format!("sh -c 'sleep 300 # {marker}' & sleep 301 # {marker}"),
            false,
        ))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    (p.kill)();
    let status = tokio::time::timeout(Duration::from_secs(20), p.exit)
        .await
        .unwrap();
    assert_eq!(status.signal, Some(libc::SIGKILL), "{status:?}");
    assert!(
        no_process_with(&marker).await,
        "a killed background process survived"
    );
}

/// Whether no process on the host has `marker` in its command line (waits briefly for
/// stragglers to be reaped).
async fn no_process_with(marker: &str) -> bool {
    for _ in 0..100 {
        let mut found = false;
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            if let Ok(cmd) = std::fs::read(entry.path().join("cmdline"))
                && String::from_utf8_lossy(&cmd).contains(marker)
            {
                found = true;
            }
        }
        if !found {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn background_processes_in_the_native_sandbox() {
    let ws = tempfile::tempdir().unwrap();
    let ex = executor(ws.path());
    exercise(&ex, ws.path()).await;
}

#[tokio::test]
async fn background_processes_on_the_local_backend() {
    let ws = tempfile::tempdir().unwrap();
    exercise(&LocalExecutor::new(), ws.path()).await;
}

#[tokio::test]
async fn a_background_lifetime_is_enforced() {
    let ws = tempfile::tempdir().unwrap();
    let ex = executor(ws.path());
    let mut r = spawn_request(ws.path(), "sleep 300", false);
    r.lifetime = Some(Duration::from_millis(300));
    let p = ex.spawn(r).await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(20), p.exit)
        .await
        .unwrap();
    assert_eq!(status.signal, Some(libc::SIGKILL));
}
