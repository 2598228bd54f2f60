use super::support::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_and_checks_the_sandbox() {
    let w = World::new().await;
    let r = w.run(&["sandbox", "doctor"]).await;
    r.ok();
    let out = r.stdout();
    for needle in [
        "User namespaces",
        "Landlock",
        "seccomp",
        "Limits",
        "Identity",
        "✓",
    ] {
        assert!(out.contains(needle), "{needle} in {out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_runs_one_command_exactly_as_the_agent_would() {
    let w = World::new().await;
    std::fs::write(w.work().join("in.txt"), "workspace file\n").unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("note"), "outside file\n").unwrap();

    let r = w.run(&["sandbox", "exec", "--", "cat", "in.txt"]).await;
    r.ok();
    assert_eq!(r.stdout(), "workspace file\n");

    // Exit codes pass through; a timeout is 124.
    let r = w
        .run(&["sandbox", "exec", "--", "sh", "-c", "exit 3"])
        .await;
    assert_eq!(r.code(), 3);
    let r = w
        .run(&["sandbox", "exec", "--timeout", "0.3", "--", "sleep", "30"])
        .await;
    assert_eq!(r.code(), 124, "{}", r.stderr());

    // The host outside the workspace is invisible, unless listed with --allow-read.
    let note = outside.path().join("note").display().to_string();
    let r = w.run(&["sandbox", "exec", "--", "cat", &note]).await;
    assert_ne!(r.code(), 0);
    assert!(!r.stdout().contains("outside file"));
    let dir = outside.path().display().to_string();
    let r = w
        .run(&["sandbox", "exec", "--allow-read", &dir, "--", "cat", &note])
        .await;
    r.ok();
    assert_eq!(r.stdout(), "outside file\n");
    // … read-only.
    let r = w
        .run(&[
            "sandbox",
            "exec",
            "--allow-read",
            &dir,
            "--",
            "sh",
            "-c",
            &format!("echo x >> {note}"),
        ])
        .await;
    assert_ne!(r.code(), 0);
    assert_eq!(
        std::fs::read_to_string(outside.path().join("note")).unwrap(),
        "outside file\n"
    );

    // Another workspace, and a memory limit the command cannot exceed.
    let r = w
        .run(&["sandbox", "exec", "--workspace", &dir, "--", "ls"])
        .await;
    r.ok();
    assert_eq!(r.stdout().trim(), "note");
    let r = w
        .run(&[
            "sandbox",
            "exec",
            "--memory",
            "64M",
            "--",
            "python3",
            "-c",
            "b = bytearray(512 * 1024 * 1024); print('allocated')",
        ])
        .await;
    assert_ne!(r.code(), 0);
    assert!(!r.stdout().contains("allocated"), "{}", r.stdout());
}

/// The two other identity cases: hermes running as a regular user (commands run as that
/// user), and root with a workspace owned by a regular user (commands run as the owner,
/// no idmapped mount). Only testable when the tests run as root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_as_a_regular_user_and_for_a_user_owned_workspace() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to act as another user");
        return;
    }
    let uid = 1234;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let ws = dir.path().join("ws");
    let home = dir.path().join("home");
    for d in [&ws, &home] {
        std::fs::create_dir(d).unwrap();
        std::os::unix::fs::chown(d, Some(uid), Some(uid)).unwrap();
    }
    let run = |as_user: bool| {
        let mut c = std::process::Command::new(super::support::BIN);
        c.args([
            "sandbox",
            "exec",
            "--",
            "sh",
            "-c",
            "id -u; touch made-$(id -u)",
        ])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &home)
        .env("HERMES_HOME", home.join(".hermes"))
        .current_dir(&ws);
        if as_user {
            use std::os::unix::process::CommandExt;
            c.uid(uid).gid(uid);
        }
        c.output().unwrap()
    };
    for as_user in [true, false] {
        let out = run(as_user);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "as_user={as_user}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout.trim(), uid.to_string(), "as_user={as_user}");
        let made = ws.join(format!("made-{uid}"));
        assert_eq!(std::fs::metadata(&made).unwrap().uid(), uid);
        std::fs::remove_file(made).unwrap();
    }
}
