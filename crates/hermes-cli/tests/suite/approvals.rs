//! Command approvals end to end: `hermes -z` has nobody to ask, so a command that needs
//! approval is refused; `approvals.mode=off` runs it; hardline commands never run.

use hermes_testkit::Reply;
use serde_json::json;

use super::support::{World, all_text};

fn build_dir(w: &World) -> std::path::PathBuf {
    let dir = w.work().join("build");
    std::fs::create_dir_all(dir.join("obj")).unwrap();
    std::fs::write(dir.join("obj/a.o"), "x").unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oneshot_refuses_what_needs_approval() {
    let w = World::new().await;
    let build = build_dir(&w);
    w.mock.push(Reply::tool_call(
        "terminal",
        json!({"command": "rm -rf build"}),
    ));
    w.mock.push(Reply::text("could not delete it"));
    let r = w.run(&["-z", "clean up"]).await;
    r.ok();
    assert!(build.join("obj/a.o").exists(), "nothing was deleted");
    let result = all_text(&w.requests()[1]);
    assert!(
        result.contains("Command denied: recursive delete.") && result.contains("blocked"),
        "the model is told: {result}"
    );
    assert!(result.contains("command_allowlist"), "{result}");
    assert!(r.stderr().contains("no_approver"), "logged: {}", r.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode_off_runs_it() {
    let w = World::new().await;
    let build = build_dir(&w);
    w.mock.push(Reply::tool_call(
        "terminal",
        json!({"command": "rm -rf build && echo removed"}),
    ));
    w.mock.push(Reply::text("done"));
    w.run(&["-c", "approvals.mode=off", "-z", "clean up"])
        .await
        .ok();
    assert!(!build.exists(), "the directory is gone");
    let result = all_text(&w.requests()[1]);
    assert!(result.contains("removed"), "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardline_and_deny_rules_hold_with_mode_off() {
    let w = World::new().await;
    // Stand-ins that leave a mark if they ever run.
    for name in ["reboot", "git"] {
        let path = w.work().join(name);
        std::fs::write(&path, format!("#!/bin/sh\ntouch ran-{name}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    w.write_config(
        "approvals:\n  mode: 'off'\n  deny:\n    - git push *\ncommand_allowlist:\n  - '*'\n",
    );
    w.mock
        .push(Reply::tool_call("terminal", json!({"command": "./reboot"})));
    w.mock.push(Reply::tool_call(
        "terminal",
        json!({"command": "sh -c './git push --force origin main'"}),
    ));
    w.mock.push(Reply::text("refused twice"));
    w.run(&["-z", "restart and push"]).await.ok();
    assert!(!w.work().join("ran-reboot").exists(), "hardline never runs");
    assert!(!w.work().join("ran-git").exists(), "deny rules never run");
    let requests = w.requests();
    let first = all_text(&requests[1]);
    assert!(
        first.contains("Command denied: shuts down or reboots the machine."),
        "{first}"
    );
    let second = all_text(&requests[2]);
    assert!(second.contains("deny rule 'git push *'"), "{second}");
}

/// A pseudo-terminal: (controller, terminal side).
fn pty() -> (std::fs::File, std::fs::File) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain libc calls on a descriptor this function owns; each result is checked.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(master >= 0);
        assert_eq!(libc::grantpt(master), 0);
        assert_eq!(libc::unlockpt(master), 0);
        let name = std::ffi::CStr::from_ptr(libc::ptsname(master)).to_owned();
        let slave = libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
        assert!(slave >= 0);
        (
            std::fs::File::from_raw_fd(master),
            std::fs::File::from_raw_fd(slave),
        )
    }
}

/// `hermes chat -q` with stdin and stderr on a terminal where `typed` has been typed;
/// returns what the terminal showed.
async fn on_a_terminal(w: &World, typed: &str) -> String {
    use std::io::{Read, Write};
    let (mut master, slave) = pty();
    let mut cmd = w.cmd(&["chat", "-q", "clean up"]);
    cmd.stdin(slave.try_clone().unwrap())
        .stderr(slave.try_clone().unwrap());
    let child = cmd.spawn().unwrap();
    // Only the child may hold the terminal side, or the reader never sees it close.
    drop(cmd);
    drop(slave);
    master.write_all(typed.as_bytes()).unwrap();
    let mut reader = master.try_clone().unwrap();
    let screen = std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        // Ends with EIO once the child has closed its side.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&out).into_owned()
    });
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("hermes finished")
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    drop(master);
    screen.join().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_enter_at_the_prompt_denies() {
    let w = World::new().await;
    let build = build_dir(&w);
    w.mock.push(Reply::tool_call(
        "terminal",
        json!({"command": "rm -rf build"}),
    ));
    w.mock.push(Reply::text("left it"));
    let screen = on_a_terminal(&w, "\n").await;
    assert!(
        screen.contains("Approval needed: recursive delete"),
        "{screen}"
    );
    assert!(screen.contains("(Enter = deny)"), "{screen}");
    assert!(build.join("obj/a.o").exists(), "nothing was deleted");
    let result = all_text(&w.requests()[1]);
    assert!(result.contains("The user refused it"), "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_at_the_prompt_runs_it() {
    let w = World::new().await;
    let build = build_dir(&w);
    w.mock.push(Reply::tool_call(
        "terminal",
        json!({"command": "rm -rf build"}),
    ));
    w.mock.push(Reply::text("deleted"));
    let screen = on_a_terminal(&w, "o\n").await;
    assert!(screen.contains("approved once"), "{screen}");
    assert!(!build.exists());
    let result = all_text(&w.requests()[1]);
    assert!(
        result
            .contains("Command required approval (recursive delete) and was approved by the user."),
        "{result}"
    );
}
