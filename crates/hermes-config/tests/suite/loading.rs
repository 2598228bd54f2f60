use hermes_config::{
    ApprovalMode, Config, ConfigError, TerminalBackend, get_value, load_from_process, parse_config,
};
use serde_norway::Value;

use super::{load_with, temp_home, write};

#[test]
fn defaults_when_there_is_no_file() {
    let (_d, home) = temp_home();
    let loaded = load_with(&home, &[], &[]).unwrap();
    assert_eq!(loaded.config, Config::default());
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.file_tree, Value::Mapping(Default::default()));
    // The effective tree carries the defaults for `config get`.
    assert_eq!(
        get_value(&loaded.tree, "agent.max_turns").and_then(Value::as_u64),
        Some(90)
    );
    assert_eq!(
        get_value(&loaded.tree, "approvals.mode").and_then(Value::as_str),
        Some("smart")
    );
    assert_eq!(
        get_value(&loaded.tree, "terminal.backend").and_then(Value::as_str),
        Some("native")
    );
}

#[test]
fn an_empty_or_comment_only_file_is_defaults() {
    let (_d, home) = temp_home();
    write(&home, "config.yaml", "# nothing yet\n\n");
    assert_eq!(
        load_with(&home, &[], &[]).unwrap().config,
        Config::default()
    );
}

#[test]
fn model_as_a_string() {
    let (_d, home) = temp_home();
    write(&home, "config.yaml", "model: anthropic/claude-sonnet-4\n");
    let c = load_with(&home, &[], &[]).unwrap().config;
    assert_eq!(
        c.model.default.as_deref(),
        Some("anthropic/claude-sonnet-4")
    );
    assert_eq!(c.model.provider, None);
    assert!(c.model.streaming);
}

#[test]
fn model_as_a_mapping_with_all_keys() {
    let (_d, home) = temp_home();
    write(
        &home,
        "config.yaml",
        "model:\n  default: gpt-4o\n  provider: openai\n  base_url: https://example.com/v1\n  \
         api_mode: chat_completions\n  context_length: 128000\n  streaming: false\n  max_tokens: 4096\n  \
         default_headers: {X-Test: '1'}\n",
    );
    let loaded = load_with(&home, &[], &[]).unwrap();
    let m = &loaded.config.model;
    assert_eq!(m.default.as_deref(), Some("gpt-4o"));
    assert_eq!(m.provider.as_deref(), Some("openai"));
    assert_eq!(m.base_url.as_deref(), Some("https://example.com/v1"));
    assert_eq!(m.context_length, Some(128_000));
    assert!(!m.streaming);
    assert_eq!(m.max_tokens, Some(4096));
    assert_eq!(m.default_headers["X-Test"], "1");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn model_model_is_an_alias_for_default() {
    let (_d, home) = temp_home();
    write(
        &home,
        "config.yaml",
        "model:\n  model: llama3\n  provider: ollama\n",
    );
    let loaded = load_with(&home, &[], &[]).unwrap();
    assert_eq!(loaded.config.model.default.as_deref(), Some("llama3"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn a_typical_hermes_config_loads_without_warnings() {
    let (_d, home) = temp_home();
    write(
        &home,
        "config.yaml",
        "_config_version: 33\nmodel:\n  default: anthropic/claude-opus-4.6\n  provider: openrouter\n\
         toolsets: [hermes-cli]\nagent:\n  max_turns: 60\n  gateway_timeout: 1800\n  reasoning_effort: medium\n\
         terminal:\n  backend: docker\n  modal_mode: auto\n  docker_image: 'python:3.12'\n  container_memory: 2048\n\
         approvals:\n  mode: manual\n  mcp_reload_confirm: true\ncommand_allowlist: ['git status']\n\
         display:\n  skin: default\n  streaming: true\n  personality: kawaii\nbrowser: {inactivity_timeout: 120}\n\
         gateway: {delivery_ledger: true}\ntelegram: {require_mention: true}\nsecurity:\n  tirith_enabled: true\n\
         compression: {threshold: 0.7, summary_model: x}\nprovides_nothing_else: 1\n",
    );
    let loaded = load_with(&home, &[], &[]).unwrap();
    let c = &loaded.config;
    assert_eq!(c.agent.max_turns, 60);
    assert_eq!(c.terminal.backend, TerminalBackend::Docker);
    assert_eq!(c.terminal.container_memory, 2048);
    assert_eq!(c.approvals.mode, ApprovalMode::Manual);
    assert!(c.display.streaming);
    assert_eq!(c.compression.threshold, 0.7);
    // Only the made-up key warns.
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(loaded.warnings[0].contains("provides_nothing_else"));
}

#[test]
fn unknown_keys_warn_with_file_line_and_suggestion() {
    let (_d, home) = temp_home();
    write(
        &home,
        "config.yaml",
        "model: gpt-4o\nagnet:\n  max_turns: 5\nagent:\n  api_max_retries: 2\n  max_turn: 7\n",
    );
    let loaded = load_with(&home, &[], &[]).unwrap();
    let path = home.config_path().display().to_string();
    assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
    let w0 = &loaded.warnings[0];
    assert!(w0.starts_with(&format!("{path} line 2:")), "{w0}");
    assert!(
        w0.contains("`agnet`") && w0.contains("did you mean `agent`?"),
        "{w0}"
    );
    let w1 = &loaded.warnings[1];
    assert!(w1.starts_with(&format!("{path} line 6:")), "{w1}");
    assert!(
        w1.contains("`agent.max_turn`") && w1.contains("`agent.max_turns`"),
        "{w1}"
    );
    // The misspelled values are not applied; the rest is.
    assert_eq!(loaded.config.agent.max_turns, 90);
    assert_eq!(loaded.config.agent.api_max_retries, 2);
}

#[test]
fn legacy_custom_providers_get_a_migration_hint() {
    let (_d, home) = temp_home();
    write(
        &home,
        "config.yaml",
        "custom_providers:\n  - name: box\n    base_url: http://10.0.0.2:8000/v1\n",
    );
    let loaded = load_with(&home, &[], &[]).unwrap();
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(loaded.warnings[0].contains("providers.<name>"));
}

#[test]
fn malformed_yaml_names_file_line_and_column() {
    let (_d, home) = temp_home();
    write(
        &home,
        "config.yaml",
        "model: gpt-4o\nagent:\n  max_turns: 5\n   bad: [x\n",
    );
    let err = load_with(&home, &[], &[]).unwrap_err();
    let ConfigError::Syntax { line, column, .. } = &err else {
        panic!("{err}")
    };
    assert!(line.is_some() && column.is_some());
    let msg = err.to_string();
    assert!(
        msg.contains(&home.config_path().display().to_string()),
        "{msg}"
    );
    assert!(msg.contains(&format!("line {}", line.unwrap())), "{msg}");
    assert!(msg.contains("column"), "{msg}");
}

#[test]
fn a_wrong_type_names_file_line_and_key() {
    let (_d, home) = temp_home();
    write(
        &home,
        "config.yaml",
        "model: gpt-4o\n# limits\nagent:\n  max_turns: lots\n",
    );
    let err = load_with(&home, &[], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{} line 4: agent.max_turns: invalid type: string \"lots\", expected an integer (0 or more)",
            home.config_path().display()
        )
    );
}

#[test]
fn wrong_types_in_lists_and_sections_name_the_key() {
    let (_d, home) = temp_home();
    write(
        &home,
        "config.yaml",
        "fallback_providers:\n  - provider: openrouter\n    model: [a, b]\n",
    );
    let msg = load_with(&home, &[], &[]).unwrap_err().to_string();
    assert!(
        msg.contains("line 3: fallback_providers.0.model: invalid type: sequence"),
        "{msg}"
    );

    write(&home, "config.yaml", "terminal: 5\n");
    let msg = load_with(&home, &[], &[]).unwrap_err().to_string();
    assert!(
        msg.contains("line 1: terminal: invalid type: integer `5`, expected a mapping"),
        "{msg}"
    );
}

#[test]
fn invalid_enums_and_ranges_are_errors_with_the_key() {
    let (_d, home) = temp_home();
    write(&home, "config.yaml", "approvals:\n  mode: sometimes\n");
    let msg = load_with(&home, &[], &[]).unwrap_err().to_string();
    assert!(
        msg.contains("line 2: approvals.mode: unknown variant `sometimes`"),
        "{msg}"
    );
    assert!(msg.contains("`manual`, `smart`, `off`"), "{msg}");

    write(&home, "config.yaml", "terminal:\n  backend: kubernetes\n");
    let msg = load_with(&home, &[], &[]).unwrap_err().to_string();
    assert!(
        msg.contains("terminal.backend") && msg.contains("`native`"),
        "{msg}"
    );

    write(
        &home,
        "config.yaml",
        "compression:\n  enabled: yes\n  threshold: 1.5\n",
    );
    let msg = load_with(&home, &[], &[]).unwrap_err().to_string();
    assert!(
        msg.contains("line 3: compression.threshold: 1.5 is out of range"),
        "{msg}"
    );
}

#[test]
fn yaml_1_1_spellings_are_accepted_like_hermes() {
    let (_d, home) = temp_home();
    write(
        &home,
        "config.yaml",
        "approvals:\n  mode: 'OFF'\nmemory:\n  memory_enabled: no\nterminal:\n  timeout: '300'\n  backend: Docker\n\
         timezone: null\nmodel: {base_url: ''}\ncontext_file_max_chars: null\n",
    );
    let c = load_with(&home, &[], &[]).unwrap().config;
    assert_eq!(c.approvals.mode, ApprovalMode::Off);
    assert!(!c.memory.memory_enabled);
    assert_eq!(c.terminal.timeout, 300);
    assert_eq!(c.terminal.backend, TerminalBackend::Docker);
    assert_eq!(c.timezone, "");
    assert_eq!(c.model.base_url, None);
    assert_eq!(c.context_file_max_chars, 20_000);
}

#[test]
fn precedence_file_then_environment_then_overrides() {
    let (_d, home) = temp_home();
    write(
        &home,
        "config.yaml",
        "model:\n  default: from-file\n  max_tokens: 100\nterminal:\n  timeout: 100\n  backend: docker\n  cwd: /file\n",
    );
    let env = [
        ("HERMES_INFERENCE_MODEL", "from-env"),
        ("HERMES_MAX_TOKENS", "200"),
        ("TERMINAL_TIMEOUT", "200"),
        ("TERMINAL_ENV", "local"),
        ("TERMINAL_CWD", "/env"),
    ];
    let overrides = [
        "model.default=from-cli",
        "terminal.timeout=300",
        "terminal.backend=native",
    ];

    let file = load_with(&home, &[], &[]).unwrap();
    assert_eq!(file.config.model.default.as_deref(), Some("from-file"));
    assert_eq!(file.config.terminal.timeout, 100);
    assert_eq!(file.config.terminal.backend, TerminalBackend::Docker);

    let with_env = load_with(&home, &env, &[]).unwrap();
    let c = &with_env.config;
    assert_eq!(c.model.default.as_deref(), Some("from-env"));
    assert_eq!(c.model.max_tokens, Some(200));
    assert_eq!(c.terminal.timeout, 200);
    assert_eq!(c.terminal.backend, TerminalBackend::Local);
    assert_eq!(c.terminal.cwd, "/env");
    // A different backend from the environment is called out.
    assert!(
        with_env
            .warnings
            .iter()
            .any(|w| w.contains("TERMINAL_ENV=local") && w.contains("docker")),
        "{:?}",
        with_env.warnings
    );

    let all = load_with(&home, &env, &overrides).unwrap();
    let c = &all.config;
    assert_eq!(c.model.default.as_deref(), Some("from-cli"));
    assert_eq!(c.terminal.timeout, 300);
    assert_eq!(c.terminal.backend, TerminalBackend::Native);
    assert_eq!(c.terminal.cwd, "/env");
    assert_eq!(c.model.max_tokens, Some(200));
    // The effective tree shows the winners; the file tree what the user wrote.
    assert_eq!(
        get_value(&all.tree, "terminal.timeout").and_then(Value::as_u64),
        Some(300)
    );
    assert_eq!(
        get_value(&all.file_tree, "terminal.timeout").and_then(Value::as_u64),
        Some(100)
    );
}

#[test]
fn environment_can_come_from_dotenv() {
    let (_d, home) = temp_home();
    write(
        &home,
        ".env",
        "TERMINAL_TIMEOUT=42\nHERMES_INFERENCE_MODEL=dot-model\n",
    );
    let c = load_with(&home, &[], &[]).unwrap().config;
    assert_eq!(c.terminal.timeout, 42);
    assert_eq!(c.model.default.as_deref(), Some("dot-model"));
    // The process environment beats .env.
    let c = load_with(&home, &[("TERMINAL_TIMEOUT", "7")], &[])
        .unwrap()
        .config;
    assert_eq!(c.terminal.timeout, 7);
}

#[test]
fn container_settings_from_the_environment() {
    let (_d, home) = temp_home();
    let c = load_with(
        &home,
        &[
            ("TERMINAL_DOCKER_IMAGE", "alpine:3"),
            ("TERMINAL_CONTAINER_CPU", "2.5"),
            ("TERMINAL_CONTAINER_MEMORY", "1024"),
            ("TERMINAL_CONTAINER_DISK", "4096"),
            ("TERMINAL_CONTAINER_PERSISTENT", "false"),
        ],
        &[],
    )
    .unwrap()
    .config;
    assert_eq!(c.terminal.docker_image, "alpine:3");
    assert_eq!(c.terminal.container_cpu, 2.5);
    assert_eq!(c.terminal.container_memory, 1024);
    assert_eq!(c.terminal.container_disk, 4096);
    assert!(!c.terminal.container_persistent);
}

#[test]
fn a_bad_environment_value_names_the_variable() {
    let (_d, home) = temp_home();
    let msg = load_with(&home, &[("TERMINAL_TIMEOUT", "soon")], &[])
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with(
            "environment variable TERMINAL_TIMEOUT: terminal.timeout: invalid type: string \"soon\""
        ),
        "{msg}"
    );
}

#[test]
fn overrides_parse_yaml_values_and_report_mistakes() {
    let (_d, home) = temp_home();
    let c = load_with(
        &home,
        &[],
        &[
            "agent.max_turns=5",
            "terminal.backend=local",
            "approvals.deny=[rm -rf /, mkfs]",
            "display.show_cost=true",
        ],
    )
    .unwrap()
    .config;
    assert_eq!(c.agent.max_turns, 5);
    assert_eq!(c.terminal.backend, TerminalBackend::Local);
    assert_eq!(
        c.approvals.deny,
        vec!["rm -rf /".to_owned(), "mkfs".to_owned()]
    );
    assert!(c.display.show_cost);

    let cases: &[(&str, &str)] = &[
        ("agent.max_turns", "expected key=value"),
        ("=5", "the key is empty"),
        ("agent..max_turns=5", "empty segment"),
        ("approvals.deny=[a, b", "not valid YAML"),
        ("agnet.max_turns=5", "did you mean `agent.max_turns`?"),
    ];
    for (arg, needle) in cases {
        let msg = load_with(&home, &[], &[arg]).unwrap_err().to_string();
        assert!(msg.contains(&format!("-c {arg}")), "{msg}");
        assert!(msg.contains(needle), "{arg}: {msg}");
    }
    let msg = load_with(&home, &[], &["agent.max_turns=lots"])
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        "-c agent.max_turns=lots: agent.max_turns: invalid type: string \"lots\", expected an integer (0 or more)"
    );
}

#[test]
fn hermes_only_override_keys_warn() {
    let (_d, home) = temp_home();
    let loaded = load_with(&home, &[], &["agent.gateway_timeout=5"]).unwrap();
    assert_eq!(loaded.warnings.len(), 1);
    assert!(loaded.warnings[0].contains("does not use"));
}

#[test]
fn parse_config_builds_a_config_from_text() {
    let c = parse_config(
        "model: m\nagent: {max_turns: 3}\n",
        std::path::Path::new("inline.yaml"),
    )
    .unwrap();
    assert_eq!(c.agent.max_turns, 3);
    let err = parse_config(
        "agent: {max_turns: -1}\n",
        std::path::Path::new("inline.yaml"),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("inline.yaml line 1: agent.max_turns"),
        "{err}"
    );
}

#[test]
fn load_accepts_a_plain_closure_for_lookups() {
    let (_d, home) = temp_home();
    let lookup = |name: &str| (name == "TERMINAL_TIMEOUT").then(|| "11".to_owned());
    let loaded = hermes_config::load(&home, &lookup, &[]).unwrap();
    assert_eq!(loaded.config.terminal.timeout, 11);
    let env = hermes_config::Env::from_pairs(&[("TERMINAL_TIMEOUT", "12")]);
    let loaded = hermes_config::load(&home, &|k: &str| env.get(k), &[]).unwrap();
    assert_eq!(loaded.config.terminal.timeout, 12);
}

#[test]
fn load_from_process_reads_the_home() {
    let (_d, home) = temp_home();
    write(&home, "config.yaml", "agent:\n  max_turns: 12\n");
    let loaded = load_from_process(&home, &["agent.api_max_retries=1".to_owned()]).unwrap();
    assert_eq!(loaded.config.agent.max_turns, 12);
    assert_eq!(loaded.config.agent.api_max_retries, 1);
}
