use super::support::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_config_names_file_line_and_key() {
    let w = World::new().await;
    w.write_config("model:\n  default: gpt-4o\nagent:\n  max_turns: lots\n");
    let r = w.run(&["-z", "hi"]).await;
    assert_eq!(r.code(), 2, "{}", r.stderr());
    let err = r.stderr();
    assert!(err.contains("config.yaml"), "{err}");
    assert!(err.contains("line 4"), "{err}");
    assert!(err.contains("agent.max_turns"), "{err}");
    assert!(w.requests().is_empty(), "nothing was sent");

    w.write_config("model: [unclosed\n");
    let r = w.run(&["-z", "hi"]).await;
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("config.yaml"), "{}", r.stderr());
    assert!(r.stderr().contains("line"), "{}", r.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_dotenv_names_file_and_line() {
    let w = World::new().await;
    w.write_dotenv("GOOD=1\nthis is not an assignment\n");
    let r = w.run(&["-z", "hi"]).await;
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains(".env"), "{}", r.stderr());
    assert!(r.stderr().contains("line 2"), "{}", r.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_keys_warn_but_run() {
    let w = World::new().await;
    w.write_config("agnet:\n  max_turns: 3\n");
    w.mock.push(hermes_testkit::Reply::text("fine"));
    let r = w.run(&["-z", "hi"]).await;
    r.ok();
    assert!(r.stderr().contains("agnet"), "{}", r.stderr());
    assert_eq!(r.stdout(), "fine\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_get_set_show_path() {
    let mut w = World::new().await;
    let p = w.run(&["config", "path"]).await;
    p.ok();
    assert_eq!(
        p.stdout().trim(),
        w.hermes_home().join("config.yaml").display().to_string()
    );

    // The environment overrides config.yaml; `config set` says so.
    let set = w.run(&["config", "set", "model.default", "gpt-x"]).await;
    set.ok();
    assert!(
        set.stderr().contains("HERMES_INFERENCE_MODEL"),
        "{}",
        set.stderr()
    );
    let g = w.run(&["config", "get", "model.default"]).await;
    assert_eq!(g.stdout().trim(), "gpt-4o");
    w.unset_env("HERMES_INFERENCE_MODEL");
    let g = w.run(&["config", "get", "model.default"]).await;
    g.ok();
    assert_eq!(g.stdout().trim(), "gpt-x");
    w.run(&["config", "set", "agent.max_turns", "12"])
        .await
        .ok();
    let g = w.run(&["config", "get", "agent.max_turns", "--json"]).await;
    assert_eq!(g.stdout().trim(), "12");

    // Secrets go to .env, not config.yaml.
    w.run(&["config", "set", "OPENROUTER_API_KEY", "sk-or-secret-value"])
        .await
        .ok();
    let yaml = std::fs::read_to_string(w.hermes_home().join("config.yaml")).unwrap();
    assert!(!yaml.contains("sk-or-secret-value"));
    let env = std::fs::read_to_string(w.hermes_home().join(".env")).unwrap();
    assert!(env.contains("OPENROUTER_API_KEY=sk-or-secret-value"));

    // -c overrides apply for one run.
    let g = w
        .run(&[
            "-c",
            "agent.max_turns=7",
            "config",
            "get",
            "agent.max_turns",
        ])
        .await;
    assert_eq!(g.stdout().trim(), "7");

    let show = w.run(&["config", "show"]).await;
    show.ok();
    assert!(show.stdout().contains("gpt-x"), "{}", show.stdout());
    assert!(
        !show.stdout().contains("sk-or-secret-value"),
        "keys are redacted"
    );

    // A value of the wrong type is refused and the file is left as it was.
    let before = std::fs::read_to_string(w.hermes_home().join("config.yaml")).unwrap();
    let bad = w.run(&["config", "set", "agent.max_turns", "many"]).await;
    assert_eq!(bad.code(), 2);
    let after = std::fs::read_to_string(w.hermes_home().join("config.yaml")).unwrap();
    assert_eq!(before, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_creates_a_private_home_with_soul() {
    use std::os::unix::fs::PermissionsExt;
    let w = World::new().await;
    w.mock.push(hermes_testkit::Reply::text("hello"));
    w.run(&["-z", "hi"]).await.ok();
    let meta = std::fs::metadata(w.hermes_home()).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    for d in ["memories", "skills", "cron", "logs", "sessions"] {
        assert!(w.hermes_home().join(d).is_dir(), "{d}");
    }
    let soul = std::fs::read_to_string(w.hermes_home().join("SOUL.md")).unwrap();
    assert!(!soul.trim().is_empty());
    // SOUL.md is the start of the system prompt.
    let sys = w.requests()[0].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(sys.starts_with(soul.trim()), "{sys}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_and_help() {
    let w = World::new().await;
    let v = w.run(&["version"]).await;
    v.ok();
    assert!(v.stdout().starts_with("hermes "));
    let v2 = w.run(&["--version"]).await;
    assert_eq!(v.stdout(), v2.stdout());
    for cmd in [
        &["--help"][..],
        &["chat", "--help"],
        &["sessions", "--help"],
        &["config", "--help"],
        &["sessions", "export", "--help"],
    ] {
        let h = w.run(cmd).await;
        h.ok();
        assert!(h.stdout().contains("Usage"), "{cmd:?}");
    }
    let bad = w.run(&["no-such-command"]).await;
    assert_eq!(bad.code(), 2);
}

fn write_script(dir: &std::path::Path, name: &str, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_edit_opens_the_editor_and_checks_the_result() {
    use std::os::unix::fs::PermissionsExt;
    let mut w = World::new().await;
    let good = write_script(
        w.work(),
        "good-editor",
        "printf 'agent:\\n  max_turns: 7\\n' > \"$1\"\n",
    );
    let bad = write_script(
        w.work(),
        "bad-editor",
        "printf 'agent:\\n  max_turns: lots\\n' > \"$1\"\n",
    );
    w.set_env("EDITOR", &good.display().to_string());
    let r = w.run(&["config", "edit"]).await;
    r.ok();
    assert!(r.stdout().contains("config.yaml loads"), "{}", r.stdout());
    let cfg = w.hermes_home().join("config.yaml");
    // Created 0600 before the editor saw it.
    let mode = std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let g = w.run(&["config", "get", "agent.max_turns"]).await;
    assert_eq!(g.stdout().trim(), "7");

    // VISUAL wins over EDITOR, and a command with arguments works.
    w.set_env("VISUAL", &format!("sh {}", bad.display()));
    let r = w.run(&["config", "edit"]).await;
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains("agent.max_turns"), "{}", r.stderr());
    assert!(r.stderr().contains("no longer loads"), "{}", r.stderr());

    // An editor that fails is reported.
    let failing = write_script(w.work(), "failing-editor", "exit 3\n");
    w.set_env("VISUAL", &failing.display().to_string());
    std::fs::write(&cfg, "agent:\n  max_turns: 8\n").unwrap();
    let r = w.run(&["config", "edit"]).await;
    assert_eq!(r.code(), 1, "{}", r.stderr());
    assert!(r.stderr().contains("exited with"), "{}", r.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_set_force_and_quoting() {
    let w = World::new().await;
    // The refusal points at --force, and --force exists.
    let r = w.run(&["config", "set", "agent.max_turn", "5"]).await;
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("--force"), "{}", r.stderr());
    let r = w
        .run(&["config", "set", "--force", "agent.max_turn", "5"])
        .await;
    r.ok();
    assert!(r.stderr().contains("--force"), "{}", r.stderr());

    // `off` is written so that Hermes' YAML 1.1 reader sees a string.
    w.run(&["config", "set", "approvals.mode", "off"])
        .await
        .ok();
    let text = std::fs::read_to_string(w.hermes_home().join("config.yaml")).unwrap();
    assert!(text.contains("mode: 'off'"), "{text}");
    let g = w.run(&["config", "get", "approvals.mode"]).await;
    assert_eq!(g.stdout().trim(), "off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_unset_of_a_secret_says_dotenv() {
    let w = World::new().await;
    w.write_dotenv("A=1\nSOME_API_KEY=x\nB=2");
    let r = w.run(&["config", "unset", "SOME_API_KEY"]).await;
    r.ok();
    let env_path = w.hermes_home().join(".env");
    assert_eq!(
        r.stdout().trim(),
        format!("✓ Removed SOME_API_KEY from {}", env_path.display())
    );
    assert_eq!(std::fs::read_to_string(&env_path).unwrap(), "A=1\nB=2\n");
    let r = w.run(&["config", "unset", "SOME_API_KEY"]).await;
    assert_eq!(
        r.stdout().trim(),
        format!("SOME_API_KEY is not set in {}", env_path.display())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_show_hides_url_credentials_and_spaces_labels() {
    let w = World::new().await;
    w.write_config("model:\n  default: m\n  base_url: https://bob:hunter2@llm.example.com/v1\n");
    let r = w.run(&["config", "show"]).await;
    r.ok();
    let out = r.stdout();
    assert!(!out.contains("hunter2"), "{out}");
    assert!(out.contains("https://***@llm.example.com/v1"), "{out}");
    assert!(out.contains("Write approval: "), "{out}");
    // The footer only advertises commands that exist.
    for line in out
        .lines()
        .filter(|l| l.trim_start().starts_with("hermes config"))
    {
        let sub = line.split_whitespace().nth(2).unwrap();
        let h = w.run(&["config", sub, "--help"]).await;
        assert_eq!(
            h.code(),
            0,
            "`hermes config {sub}` is advertised: {}",
            h.stderr()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_warns_about_an_open_home() {
    use std::os::unix::fs::PermissionsExt;
    let w = World::new().await;
    w.write_config("model: gpt-4o\n");
    std::fs::set_permissions(w.hermes_home(), std::fs::Permissions::from_mode(0o755)).unwrap();
    w.mock.push(hermes_testkit::Reply::text("fine"));
    for args in [
        &["config", "show"][..],
        &["config", "get", "model.default"],
        &["config", "path"],
        &["config", "unset", "agent.max_turns"],
        &["sessions", "list"],
        &["-z", "hi"],
    ] {
        let r = w.run(args).await;
        r.ok();
        assert!(
            r.stderr().contains("accessible to other users") && r.stderr().contains("chmod 700"),
            "{args:?}: {}",
            r.stderr()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_the_real_dotenv() {
    let mut w = World::new().await;
    w.unset_env("OPENAI_BASE_URL");
    w.unset_env("OPENAI_API_KEY");
    let r = w.run(&["-z", "hi"]).await;
    assert_eq!(r.code(), 2, "{}", r.stderr());
    let env_path = w.hermes_home().join(".env");
    assert!(
        r.stderr().contains(&env_path.display().to_string()),
        "{}",
        r.stderr()
    );
    assert!(!r.stderr().contains("~/.hermes"), "{}", r.stderr());
}
