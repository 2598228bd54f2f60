use hermes_config::write::env_key_name;
use hermes_config::{
    ConfigError, SetOptions, SetTarget, get_value, read_dotenv, set_value, set_value_with,
    unset_value,
};
use serde_norway::Value;

#[cfg(unix)]
use super::mode;
use super::{load_with, temp_home, write};

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn no_temp_files(dir: &std::path::Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains(".tmp."), "left behind: {name}");
    }
}

#[test]
fn set_round_trips_through_load_and_get() {
    let (_d, home) = temp_home();
    let out = set_value(&home, "agent.max_turns", "5").unwrap();
    assert_eq!(
        out.target,
        SetTarget::Config {
            path: home.config_path(),
            key: "agent.max_turns".into(),
            value: Value::Number(5.into())
        }
    );
    set_value(&home, "display.show_cost", "yes").unwrap();
    set_value(&home, "compression.threshold", "0.75").unwrap();
    set_value(&home, "model.default", "4").unwrap();
    set_value(&home, "terminal.docker_env.DEBUG", "1").unwrap();
    set_value(&home, "approvals.deny", "[rm -rf /, mkfs]").unwrap();
    set_value(&home, "fallback_providers.0.provider", "openrouter").unwrap();
    set_value(&home, "fallback_providers.0.model", "a/b").unwrap();

    let loaded = load_with(&home, &[], &[]).unwrap();
    let c = &loaded.config;
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(c.agent.max_turns, 5);
    assert!(c.display.show_cost);
    assert_eq!(c.compression.threshold, 0.75);
    assert_eq!(c.model.default.as_deref(), Some("4"));
    assert_eq!(c.terminal.docker_env["DEBUG"], "1");
    assert_eq!(c.approvals.deny.len(), 2);
    assert_eq!(c.fallback_providers[0].model, "a/b");
    // String keys keep the text: `4` is stored as a string.
    assert_eq!(
        get_value(&loaded.file_tree, "model.default"),
        Some(&Value::String("4".into()))
    );
    assert_eq!(
        get_value(&loaded.tree, "agent.max_turns").and_then(Value::as_u64),
        Some(5)
    );
    assert_eq!(get_value(&loaded.tree, "agent.nope"), None);
    no_temp_files(home.root());
}

#[test]
fn enum_words_are_stored_as_text() {
    let (_d, home) = temp_home();
    set_value(&home, "approvals.mode", "off").unwrap();
    let loaded = load_with(&home, &[], &[]).unwrap();
    assert_eq!(loaded.config.approvals.mode.as_str(), "off");
    assert_eq!(
        get_value(&loaded.file_tree, "approvals.mode"),
        Some(&Value::String("off".into()))
    );
}

#[test]
fn setting_model_on_a_mapping_changes_only_the_name() {
    let (_d, home) = temp_home();
    write(
        &home,
        "config.yaml",
        "model:
  default: a
  provider: openrouter
",
    );
    let out = set_value(&home, "model", "b").unwrap();
    assert!(out.to_string().contains("model.default = b"), "{out}");
    let c = load_with(&home, &[], &[]).unwrap().config;
    assert_eq!(c.model.default.as_deref(), Some("b"));
    assert_eq!(c.model.provider.as_deref(), Some("openrouter"));
}

#[test]
fn set_turns_a_string_model_into_a_mapping() {
    let (_d, home) = temp_home();
    write(&home, "config.yaml", "model: gpt-4o\n");
    set_value(&home, "model.provider", "openai").unwrap();
    let c = load_with(&home, &[], &[]).unwrap().config;
    assert_eq!(c.model.default.as_deref(), Some("gpt-4o"));
    assert_eq!(c.model.provider.as_deref(), Some("openai"));
}

#[cfg(unix)]
#[test]
fn config_file_modes_new_0600_existing_preserved() {
    use std::os::unix::fs::PermissionsExt;
    let (_d, home) = temp_home();
    set_value(&home, "timezone", "Europe/Berlin").unwrap();
    assert_eq!(mode(&home.config_path()), 0o600);
    std::fs::set_permissions(home.config_path(), std::fs::Permissions::from_mode(0o640)).unwrap();
    set_value(&home, "timezone", "UTC").unwrap();
    assert_eq!(mode(&home.config_path()), 0o640);
}

#[test]
fn invalid_values_are_refused_and_the_file_is_untouched() {
    let (_d, home) = temp_home();
    let original = "# my settings\nagent:\n  max_turns: 10   # keep\n";
    write(&home, "config.yaml", original);
    for (key, value, needle) in [
        ("agent.max_turns", "lots", "expected an integer"),
        ("agent.max_turns", "-3", "expected an integer"),
        ("compression.threshold", "2", "out of range"),
        ("approvals.mode", "sometimes", "unknown variant"),
        ("terminal.backend", "[a]", "terminal.backend"),
        ("approvals.deny", "[a, b", "does not parse"),
    ] {
        let err = set_value(&home, key, value).unwrap_err();
        assert!(
            matches!(err, ConfigError::Refused { .. }),
            "{key}={value}: {err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains(needle) && msg.contains("left unchanged"),
            "{key}={value}: {msg}"
        );
        assert_eq!(
            read(&home.config_path()),
            original,
            "{key}={value} changed the file"
        );
    }
    no_temp_files(home.root());
}

#[test]
fn unknown_keys_need_force_and_hermes_keys_warn() {
    let (_d, home) = temp_home();
    let err = set_value(&home, "agent.max_turn", "5").unwrap_err();
    assert!(
        err.to_string().contains("did you mean `agent.max_turns`?"),
        "{err}"
    );
    assert!(!home.config_path().exists());
    let out = set_value_with(&home, "agent.max_turn", "5", SetOptions { force: true }).unwrap();
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    let out = set_value(&home, "agent.gateway_timeout", "60").unwrap();
    assert!(
        out.warnings.iter().any(|w| w.contains("does not use")),
        "{:?}",
        out.warnings
    );
}

#[test]
fn a_broken_config_is_not_overwritten() {
    let (_d, home) = temp_home();
    write(&home, "config.yaml", "agent: [unclosed\n");
    let err = set_value(&home, "agent.max_turns", "5").unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err}");
    assert_eq!(read(&home.config_path()), "agent: [unclosed\n");
}

#[test]
fn secrets_go_to_dotenv_0600_keeping_other_lines() {
    let (_d, home) = temp_home();
    let out = set_value(&home, "OPENAI_API_KEY", "sk-first").unwrap();
    assert_eq!(
        out.target,
        SetTarget::Env {
            path: home.env_path(),
            name: "OPENAI_API_KEY".into()
        }
    );
    #[cfg(unix)]
    assert_eq!(mode(&home.env_path()), 0o600);
    assert_eq!(read(&home.env_path()), "OPENAI_API_KEY=sk-first\n");
    assert!(!home.config_path().exists(), "a key went into config.yaml");

    // Existing lines and comments stay byte for byte; the key's line is replaced.
    let before = "# Provider keys\nOPENROUTER_API_KEY=sk-or   # main\n\nOPENAI_API_KEY=sk-first\nexport EXTRA=\"x y\"\n";
    write(&home, ".env", before);
    set_value(&home, "OPENAI_API_KEY", "sk-second $with spaces").unwrap();
    set_value(&home, "deepseek_api_key", "sk-ds").unwrap();
    let after = read(&home.env_path());
    assert_eq!(
        after,
        "# Provider keys\nOPENROUTER_API_KEY=sk-or   # main\n\nOPENAI_API_KEY='sk-second $with spaces'\nexport EXTRA=\"x y\"\nDEEPSEEK_API_KEY=sk-ds\n"
    );
    let map = read_dotenv(&home.env_path()).unwrap();
    assert_eq!(map["OPENAI_API_KEY"], "sk-second $with spaces");
    assert_eq!(map["DEEPSEEK_API_KEY"], "sk-ds");
    assert_eq!(map["OPENROUTER_API_KEY"], "sk-or");
    no_temp_files(home.root());
}

#[cfg(unix)]
#[test]
fn an_open_dotenv_is_tightened_when_a_secret_is_written() {
    use std::os::unix::fs::PermissionsExt;
    let (_d, home) = temp_home();
    write(&home, ".env", "A=1\n");
    std::fs::set_permissions(home.env_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = set_value(&home, "ANTHROPIC_API_KEY", "sk-ant").unwrap();
    assert_eq!(mode(&home.env_path()), 0o600);
    assert!(
        out.warnings.iter().any(|w| w.contains("now 0600")),
        "{:?}",
        out.warnings
    );
}

#[test]
fn a_plain_text_api_key_in_config_warns() {
    let (_d, home) = temp_home();
    let out = set_value(&home, "model.api_key", "sk-plain").unwrap();
    assert!(
        out.warnings.iter().any(|w| w.contains("plain text")),
        "{:?}",
        out.warnings
    );
}

#[test]
fn bridged_keys_update_a_matching_dotenv_line() {
    let (_d, home) = temp_home();
    write(&home, ".env", "TERMINAL_ENV=local\n");
    let out = set_value(&home, "terminal.backend", "docker").unwrap();
    assert_eq!(out.env_override, Some("TERMINAL_ENV"));
    assert_eq!(out.synced_env.as_deref(), Some("TERMINAL_ENV"));
    assert_eq!(read(&home.env_path()), "TERMINAL_ENV=docker\n");
    let c = load_with(&home, &[], &[]).unwrap().config;
    assert_eq!(c.terminal.backend.as_str(), "docker");
    // Without the variable in .env, nothing is added there.
    let (_d2, other) = temp_home();
    let out = set_value(&other, "terminal.backend", "docker").unwrap();
    assert_eq!(out.synced_env, None);
    assert!(!other.env_path().exists());
}

#[test]
fn unset_removes_config_keys_and_dotenv_lines() {
    let (_d, home) = temp_home();
    write(
        &home,
        "config.yaml",
        "model: gpt-4o\nagent:\n  max_turns: 5\n",
    );
    write(&home, ".env", "# k\nOPENAI_API_KEY=x\nB=2\n");
    let out = unset_value(&home, "agent.max_turns").unwrap();
    assert!(out.removed);
    assert_eq!(out.path, home.config_path());
    let out = unset_value(&home, "agent.max_turns").unwrap();
    assert!(!out.removed);
    assert_eq!(
        out.to_string(),
        format!(
            "agent.max_turns is not set in {}",
            home.config_path().display()
        )
    );
    assert!(unset_value(&home, "model.default").unwrap().removed);
    let out = unset_value(&home, "OPENAI_API_KEY").unwrap();
    assert!(out.removed);
    assert_eq!(out.path, home.env_path());
    assert_eq!(
        out.to_string(),
        format!(
            "✓ Removed OPENAI_API_KEY from {}",
            home.env_path().display()
        )
    );
    assert_eq!(read(&home.env_path()), "# k\nB=2\n");
    let loaded = load_with(&home, &[], &[]).unwrap();
    assert_eq!(loaded.config.agent.max_turns, 90);
    assert_eq!(loaded.config.model.default, None);
}

#[test]
fn env_key_routing() {
    assert_eq!(
        env_key_name("OPENAI_API_KEY").as_deref(),
        Some("OPENAI_API_KEY")
    );
    assert_eq!(
        env_key_name("github_token").as_deref(),
        Some("GITHUB_TOKEN")
    );
    assert_eq!(env_key_name("agent.max_turns"), None);
}

#[test]
fn unset_of_a_secret_names_dotenv_and_keeps_a_final_newline() {
    let (_d, home) = temp_home();
    // A .env written without a final newline (as some editors do).
    write(&home, ".env", "SOME_API_KEY=x\nB=2");
    let out = unset_value(&home, "some_api_key").unwrap();
    assert!(out.removed);
    assert_eq!(out.key, "SOME_API_KEY");
    assert_eq!(out.path, home.env_path());
    assert_eq!(read(&home.env_path()), "B=2\n");
    // Removing the last variable leaves an empty file, not a lone newline.
    assert!(unset_value(&home, "B_TOKEN").map(|o| !o.removed).unwrap());
    write(&home, ".env", "B_TOKEN=1");
    assert!(unset_value(&home, "B_TOKEN").unwrap().removed);
    assert_eq!(read(&home.env_path()), "");
    // No .env at all.
    std::fs::remove_file(home.env_path()).unwrap();
    let out = unset_value(&home, "OPENAI_API_KEY").unwrap();
    assert!(!out.removed);
    assert_eq!(out.path, home.env_path());
    assert!(!home.config_path().exists());
}

/// Hermes reads config.yaml with PyYAML (YAML 1.1), where a plain `off` is `false`.
#[test]
fn strings_yaml11_would_misread_are_quoted_in_the_file() {
    let (_d, home) = temp_home();
    set_value(&home, "approvals.mode", "off").unwrap();
    set_value(&home, "model.default", "yes").unwrap();
    set_value(&home, "timezone", "1_000").unwrap();
    set_value(&home, "model.provider", "Y").unwrap();
    set_value(&home, "approvals.deny", "[on, 'no', rm -rf /]").unwrap();
    let text = read(&home.config_path());
    for line in [
        "  mode: 'off'",
        "  default: 'yes'",
        "timezone: '1_000'",
        "  provider: 'Y'",
        "  - 'on'",
        "  - 'no'",
        "  - rm -rf /",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?}:\n{text}");
    }
    let loaded = load_with(&home, &[], &[]).unwrap();
    assert_eq!(loaded.config.approvals.mode.as_str(), "off");
    assert_eq!(loaded.config.model.default.as_deref(), Some("yes"));
    assert_eq!(loaded.config.timezone, "1_000");
    assert_eq!(loaded.config.approvals.deny, ["on", "no", "rm -rf /"]);
    // Booleans stay booleans; an unset keeps the quoting of the rest.
    set_value(&home, "display.show_cost", "on").unwrap();
    unset_value(&home, "timezone").unwrap();
    let text = read(&home.config_path());
    assert!(text.contains("show_cost: true"), "{text}");
    assert!(text.contains("mode: 'off'"), "{text}");
}
