//! What keys `config.yaml` may contain, and what shape their values have.
//!
//! Three kinds of keys:
//! - keys hermes-rs reads (typed in [`crate::config`]),
//! - keys Hermes Agent knows that hermes-rs ignores: accepted silently, so an existing
//!   Hermes home loads without noise,
//! - anything else: a warning naming the key, with a "did you mean" for near misses.
//!
//! The shapes also drive a lenient normalisation before typed deserialisation, matching
//! what Hermes (PyYAML, YAML 1.1) accepts: `yes/no/on/off` for booleans, numbers written as
//! strings (values from the environment), numbers where a string is expected (`model: 4`),
//! enum values in any case, and `null` / `""` meaning "use the default".

use serde_norway::{Mapping, Value};

/// The shape of a value.
pub(crate) enum Shape {
    Str,
    /// A string where `""` means unset.
    OptStr,
    Bool,
    Int,
    Float,
    Enum(&'static [&'static str]),
    StrList,
    /// Free-form keys with string values.
    StrMap,
    /// A mapping with known keys.
    Section(&'static Section),
    /// Free-form keys whose values are sections (`providers.<name>`).
    MapOf(&'static Section),
    /// A list of sections.
    ListOf(&'static Section),
    /// A string or a section (`model`).
    StrOr(&'static Section),
}

/// A mapping with known keys.
pub(crate) struct Section {
    /// Keys hermes-rs reads.
    pub keys: &'static [(&'static str, Shape)],
    /// `(alias, canonical)`: alternative spellings Hermes accepts.
    pub aliases: &'static [(&'static str, &'static str)],
    /// Keys Hermes knows that hermes-rs ignores.
    pub hermes: &'static [&'static str],
}

impl Section {
    fn shape(&self, key: &str) -> Option<&'static Shape> {
        let key = self
            .aliases
            .iter()
            .find(|(a, _)| *a == key)
            .map_or(key, |(_, c)| *c);
        self.keys.iter().find(|(k, _)| *k == key).map(|(_, s)| s)
    }

    fn all_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.keys
            .iter()
            .map(|(k, _)| *k)
            .chain(self.aliases.iter().map(|(a, _)| *a))
            .chain(self.hermes.iter().copied())
    }
}

const API_MODE: Shape = Shape::Enum(&[
    "chat_completions",
    "anthropic_messages",
    "codex_responses",
    "bedrock_converse",
]);

pub(crate) static MODEL: Section = Section {
    keys: &[
        ("default", Shape::OptStr),
        ("provider", Shape::OptStr),
        ("base_url", Shape::OptStr),
        ("api_key", Shape::OptStr),
        ("api_mode", API_MODE),
        ("context_length", Shape::Int),
        ("streaming", Shape::Bool),
        ("max_tokens", Shape::Int),
        ("default_headers", Shape::StrMap),
    ],
    aliases: &[("model", "default")],
    hermes: &["extra_body", "reasoning_effort", "key_env", "temperature"],
};

static PROVIDER: Section = Section {
    keys: &[
        ("base_url", Shape::OptStr),
        ("api_key", Shape::OptStr),
        ("key_env", Shape::OptStr),
        ("api_mode", API_MODE),
        ("model", Shape::OptStr),
        ("extra_headers", Shape::StrMap),
        ("request_timeout_seconds", Shape::Int),
        ("context_length", Shape::Int),
    ],
    aliases: &[("default_model", "model")],
    hermes: &[
        "name",
        "key_cmd",
        "api_keys",
        "models",
        "max_output_tokens",
        "extra_body",
        "session_affinity_header",
        "transport",
    ],
};

static FALLBACK: Section = Section {
    keys: &[
        ("provider", Shape::Str),
        ("model", Shape::Str),
        ("base_url", Shape::OptStr),
        ("api_key", Shape::OptStr),
        ("key_env", Shape::OptStr),
        ("api_mode", API_MODE),
    ],
    aliases: &[],
    hermes: &["extra_headers", "extra_body", "context_length", "name"],
};

static AGENT: Section = Section {
    keys: &[
        ("max_turns", Shape::Int),
        ("api_max_retries", Shape::Int),
        ("disabled_toolsets", Shape::StrList),
    ],
    aliases: &[],
    hermes: &[
        "gateway_timeout",
        "restart_drain_timeout",
        "service_tier",
        "tool_use_enforcement",
        "task_completion_guidance",
        "environment_probe",
        "environment_hint",
        "gateway_timeout_warning",
        "clarify_timeout",
        "gateway_notify_interval",
        "gateway_auto_continue_freshness",
        "image_input_mode",
        "reasoning_overrides",
        "reasoning_effort",
        "max_verify_nudges",
        "execution_guidance",
        "parallel_tool_call_guidance",
        "stall_guards",
        "budget_warning_ratio",
        "run_budget_seconds",
        "coding_context",
        "verify_on_stop",
        "verbose",
        "system_prompt",
        "personalities",
        "quiet_mode",
    ],
};

static TERMINAL: Section = Section {
    keys: &[
        (
            "backend",
            Shape::Enum(&[
                "native",
                "docker",
                "local",
                "ssh",
                "singularity",
                "modal",
                "daytona",
            ]),
        ),
        ("cwd", Shape::Str),
        ("timeout", Shape::Int),
        ("env_passthrough", Shape::StrList),
        ("persistent_shell", Shape::Bool),
        ("docker_image", Shape::Str),
        ("docker_forward_env", Shape::StrList),
        ("docker_env", Shape::StrMap),
        ("docker_volumes", Shape::StrList),
        ("docker_mount_cwd_to_workspace", Shape::Bool),
        ("docker_extra_args", Shape::StrList),
        ("docker_run_as_host_user", Shape::Bool),
        ("docker_network", Shape::Bool),
        ("container_cpu", Shape::Float),
        ("container_memory", Shape::Int),
        ("container_disk", Shape::Int),
        ("container_persistent", Shape::Bool),
        ("sandbox_allow_read", Shape::StrList),
        ("sandbox_uid", Shape::Int),
        ("sandbox_pids", Shape::Int),
        ("sandbox_tmpfs_mb", Shape::Int),
        ("ssh_host", Shape::OptStr),
        ("ssh_user", Shape::OptStr),
        ("ssh_port", Shape::Int),
        ("ssh_key", Shape::OptStr),
    ],
    aliases: &[],
    hermes: &[
        "modal_mode",
        "shell_init_files",
        "auto_source_bashrc",
        "singularity_image",
        "modal_image",
        "daytona_image",
        "home_mode",
        "docker_persist_across_processes",
        "docker_orphan_reaper",
        "docker_shm_size",
        "docker_snap_compat",
        "credential_files",
        "lifetime_seconds",
        "sandbox_dir",
        "max_foreground_timeout",
        "ssh_persistent",
        "sudo_password",
    ],
};

static APPROVALS: Section = Section {
    keys: &[
        ("mode", Shape::Enum(&["manual", "smart", "off"])),
        ("timeout", Shape::Int),
        ("cron_mode", Shape::Enum(&["deny", "approve"])),
        ("deny", Shape::StrList),
    ],
    aliases: &[],
    hermes: &["mcp_reload_confirm", "destructive_slash_confirm"],
};

static MEMORY: Section = Section {
    keys: &[
        ("memory_enabled", Shape::Bool),
        ("user_profile_enabled", Shape::Bool),
        ("memory_char_limit", Shape::Int),
        ("user_char_limit", Shape::Int),
        ("write_approval", Shape::Bool),
        ("provider", Shape::Str),
    ],
    aliases: &[],
    hermes: &["nudge_interval", "flush_min_turns"],
};

static COMPRESSION: Section = Section {
    keys: &[
        ("enabled", Shape::Bool),
        ("threshold", Shape::Float),
        ("target_ratio", Shape::Float),
        ("protect_first_n", Shape::Int),
        ("protect_last_n", Shape::Int),
        ("in_place", Shape::Bool),
        ("abort_on_summary_failure", Shape::Bool),
    ],
    aliases: &[],
    hermes: &[
        "hygiene_hard_message_limit",
        "summary_model",
        "summary_provider",
        "summary_base_url",
    ],
};

static TOOL_OUTPUT: Section = Section {
    keys: &[
        ("max_bytes", Shape::Int),
        ("max_lines", Shape::Int),
        ("max_line_length", Shape::Int),
    ],
    aliases: &[],
    hermes: &[],
};

static SECURITY: Section = Section {
    keys: &[
        ("redact_secrets", Shape::Bool),
        ("allow_private_urls", Shape::Bool),
    ],
    aliases: &[],
    hermes: &[
        "tirith_enabled",
        "tirith_path",
        "tirith_timeout",
        "tirith_fail_open",
        "website_blocklist",
        "allow_lazy_installs",
        "terminal_secret_isolation",
    ],
};

static DISPLAY: Section = Section {
    keys: &[
        ("streaming", Shape::Bool),
        ("show_cost", Shape::Bool),
        ("show_reasoning", Shape::Bool),
    ],
    aliases: &[],
    hermes: &[
        "compact",
        "personality",
        "resume_display",
        "busy_input_mode",
        "bell_on_complete",
        "timestamps",
        "final_response_markdown",
        "inline_diffs",
        "skin",
        "language",
        "tool_preview_length",
        "tool_progress",
        "tool_progress_command",
        "interim_assistant_messages",
        "platforms",
        "persistent_output",
        "persistent_output_max_lines",
        "runtime_footer",
        "resume_recap",
        "resume_max_messages",
        "tui_theme",
        "tui_mouse",
        "show_tool_output",
    ],
};

static PRICE: Section = Section {
    keys: &[
        ("input", Shape::Float),
        ("output", Shape::Float),
        ("cache_read", Shape::Float),
        ("cache_write", Shape::Float),
    ],
    aliases: &[],
    hermes: &[],
};

/// The whole file.
pub(crate) static ROOT: Section = Section {
    keys: &[
        ("model", Shape::StrOr(&MODEL)),
        ("providers", Shape::MapOf(&PROVIDER)),
        ("fallback_providers", Shape::ListOf(&FALLBACK)),
        ("fallback_model", Shape::Section(&FALLBACK)),
        ("agent", Shape::Section(&AGENT)),
        ("terminal", Shape::Section(&TERMINAL)),
        ("approvals", Shape::Section(&APPROVALS)),
        ("command_allowlist", Shape::StrList),
        ("memory", Shape::Section(&MEMORY)),
        ("compression", Shape::Section(&COMPRESSION)),
        ("tool_output", Shape::Section(&TOOL_OUTPUT)),
        ("file_read_max_chars", Shape::Int),
        ("context_file_max_chars", Shape::Int),
        ("security", Shape::Section(&SECURITY)),
        ("display", Shape::Section(&DISPLAY)),
        ("pricing", Shape::MapOf(&PRICE)),
        ("timezone", Shape::Str),
    ],
    aliases: &[],
    hermes: &[
        "_config_version",
        "custom_providers",
        "credential_pool_strategies",
        "toolsets",
        "platform_toolsets",
        "max_live_sessions",
        "prompt_caching",
        "context",
        "delegation",
        "skills",
        "checkpoints",
        "tool_loop_guardrails",
        "tool_budget",
        "auxiliary",
        "gateway",
        "sessions",
        "cron",
        "dashboard",
        "browser",
        "web",
        "streaming",
        "tts",
        "stt",
        "voice",
        "code_execution",
        "tools",
        "mcp",
        "mcp_servers",
        "curator",
        "kanban",
        "hooks",
        "hooks_auto_accept",
        "quick_commands",
        "personalities",
        "platform_hints",
        "privacy",
        "lsp",
        "secrets",
        "logging",
        "network",
        "database",
        "runtime",
        "attachments",
        "plugins",
        "smart_model_routing",
        "moa",
        "bundles",
        "worktree",
        "group_sessions_per_user",
        "session_reset",
        "reset_triggers",
        "human_delay",
        "honcho",
        "api_server",
        "webhook",
        "platforms",
        "telegram",
        "discord",
        "slack",
        "mattermost",
        "matrix",
        "whatsapp",
        "whatsapp_cloud",
        "signal",
        "email",
        "sms",
        "homeassistant",
        "dingtalk",
        "feishu",
        "wecom",
        "weixin",
        "qqbot",
        "bluebubbles",
        "unauthorized_dm_behavior",
    ],
};

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

impl Seg {
    pub(crate) fn as_text(&self) -> String {
        match self {
            Seg::Key(k) => k.clone(),
            Seg::Index(i) => i.to_string(),
        }
    }
}

/// Dotted display of a path (`fallback_providers.0.model`), the form `config set` takes.
pub(crate) fn dotted(path: &[Seg]) -> String {
    path.iter().map(Seg::as_text).collect::<Vec<_>>().join(".")
}

/// A key that is neither ours nor Hermes'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnknownKey {
    pub path: Vec<Seg>,
    /// The dotted path of a close known key, if any.
    pub suggestion: Option<String>,
}

/// Finds keys in a user tree that are neither ours nor Hermes'.
pub(crate) fn unknown_keys(tree: &Value) -> Vec<UnknownKey> {
    let mut out = Vec::new();
    if let Value::Mapping(m) = tree {
        walk_section(m, &ROOT, &mut Vec::new(), &mut out);
    }
    out
}

fn walk_section(m: &Mapping, section: &Section, path: &mut Vec<Seg>, out: &mut Vec<UnknownKey>) {
    for (k, v) in m {
        let Some(key) = k.as_str() else {
            path.push(Seg::Key(scalar_text(k)));
            out.push(UnknownKey {
                path: path.clone(),
                suggestion: None,
            });
            path.pop();
            continue;
        };
        path.push(Seg::Key(key.to_owned()));
        match section.shape(key) {
            Some(shape) => walk_value(v, shape, path, out),
            None if section.hermes.contains(&key) => {}
            None => {
                let suggestion = closest(key, section.all_names()).map(|s| {
                    let mut p = path.clone();
                    p.pop();
                    p.push(Seg::Key(s.to_owned()));
                    dotted(&p)
                });
                out.push(UnknownKey {
                    path: path.clone(),
                    suggestion,
                });
            }
        }
        path.pop();
    }
}

fn walk_value(v: &Value, shape: &Shape, path: &mut Vec<Seg>, out: &mut Vec<UnknownKey>) {
    match (shape, v) {
        (Shape::Section(s) | Shape::StrOr(s), Value::Mapping(m)) => walk_section(m, s, path, out),
        (Shape::MapOf(s), Value::Mapping(m)) => {
            for (k, item) in m {
                path.push(Seg::Key(scalar_text(k)));
                if let Value::Mapping(im) = item {
                    walk_section(im, s, path, out);
                }
                path.pop();
            }
        }
        (Shape::ListOf(s), Value::Sequence(items)) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                if let Value::Mapping(im) = item {
                    walk_section(im, s, path, out);
                }
                path.pop();
            }
        }
        _ => {}
    }
}

/// How a dotted key relates to the schema (for `-c` and `config set`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyStatus {
    /// hermes-rs reads it.
    Known,
    /// Hermes knows it; hermes-rs ignores it.
    Hermes,
    /// Neither; `suggestion` is a close known key.
    Unknown { suggestion: Option<String> },
}

/// Classifies a key path.
pub(crate) fn classify(path: &[Seg]) -> KeyStatus {
    let mut shape_section: &Section = &ROOT;
    let mut i = 0;
    while i < path.len() {
        let Seg::Key(key) = &path[i] else {
            return KeyStatus::Unknown { suggestion: None };
        };
        let Some(shape) = shape_section.shape(key) else {
            if shape_section.hermes.contains(&key.as_str()) {
                return KeyStatus::Hermes;
            }
            let suggestion = closest(key, shape_section.all_names()).map(|s| {
                let mut p: Vec<Seg> = path[..i].to_vec();
                p.push(Seg::Key(s.to_owned()));
                p.extend_from_slice(&path[i + 1..]);
                dotted(&p)
            });
            return KeyStatus::Unknown { suggestion };
        };
        i += 1;
        if i == path.len() {
            return KeyStatus::Known;
        }
        match shape {
            Shape::Section(s) | Shape::StrOr(s) => shape_section = s,
            Shape::MapOf(s) => {
                // Any entry name, then the entry's keys.
                i += 1;
                if i == path.len() {
                    return KeyStatus::Known;
                }
                shape_section = s;
            }
            Shape::ListOf(s) => {
                if !matches!(path[i], Seg::Index(_)) {
                    return KeyStatus::Unknown { suggestion: None };
                }
                i += 1;
                if i == path.len() {
                    return KeyStatus::Known;
                }
                shape_section = s;
            }
            Shape::StrMap => {
                return if path.len() == i + 1 {
                    KeyStatus::Known
                } else {
                    KeyStatus::Unknown { suggestion: None }
                };
            }
            Shape::StrList => {
                return if path.len() == i + 1 && matches!(path[i], Seg::Index(_)) {
                    KeyStatus::Known
                } else {
                    KeyStatus::Unknown { suggestion: None }
                };
            }
            _ => return KeyStatus::Unknown { suggestion: None },
        }
    }
    KeyStatus::Known
}

/// Whether the key at `path` holds a string or an enumeration value (so `config set`
/// stores the text as is: `approvals.mode off` stays the word `off`).
pub(crate) fn is_string_key(path: &[Seg]) -> bool {
    let path = canonical_path(path);
    let mut section: &Section = &ROOT;
    let mut i = 0;
    while i < path.len() {
        let Seg::Key(key) = &path[i] else {
            return false;
        };
        let Some(shape) = section.shape(key) else {
            return false;
        };
        i += 1;
        let last = i == path.len();
        match shape {
            Shape::Str | Shape::OptStr | Shape::StrOr(_) | Shape::Enum(_) if last => return true,
            Shape::StrMap => return path.len() == i + 1,
            Shape::StrList => return path.len() == i + 1 && matches!(path[i], Seg::Index(_)),
            Shape::Section(s) | Shape::StrOr(s) => section = s,
            Shape::MapOf(s) | Shape::ListOf(s) => {
                i += 1;
                section = s;
            }
            _ => return false,
        }
    }
    false
}

/// Renames alias keys (`model.model`, `providers.<n>.default_model`) to their canonical
/// names. When both are written, the canonical key wins unless it is `null`.
pub(crate) fn canonicalize(tree: &mut Value) {
    if let Value::Mapping(m) = tree {
        canonicalize_walk(m, &ROOT);
    }
}

fn canonicalize_walk(m: &mut Mapping, section: &Section) {
    canonicalize_section(m, section);
    for (k, v) in m.iter_mut() {
        let Some(shape) = k.as_str().and_then(|s| section.shape(s)) else {
            continue;
        };
        match (shape, v) {
            (Shape::Section(s) | Shape::StrOr(s), Value::Mapping(inner)) => {
                canonicalize_walk(inner, s)
            }
            (Shape::MapOf(s), Value::Mapping(inner)) => {
                for item in inner.values_mut() {
                    if let Value::Mapping(im) = item {
                        canonicalize_walk(im, s);
                    }
                }
            }
            (Shape::ListOf(s), Value::Sequence(items)) => {
                for item in items {
                    if let Value::Mapping(im) = item {
                        canonicalize_walk(im, s);
                    }
                }
            }
            _ => {}
        }
    }
}

fn canonicalize_section(m: &mut Mapping, section: &Section) {
    for (alias, canonical) in section.aliases {
        if let Some(v) = m.remove(*alias) {
            let take = m.get(*canonical).is_none_or(Value::is_null);
            if take {
                m.insert(Value::String((*canonical).to_owned()), v);
            }
        }
    }
}

/// A key path with alias segments replaced by their canonical names.
pub(crate) fn canonical_path(path: &[Seg]) -> Vec<Seg> {
    let mut out = Vec::with_capacity(path.len());
    let mut section: Option<&Section> = Some(&ROOT);
    let mut skip_entry_name = false;
    for seg in path {
        if skip_entry_name {
            skip_entry_name = false;
            out.push(seg.clone());
            continue;
        }
        let Seg::Key(k) = seg else {
            out.push(seg.clone());
            continue;
        };
        let Some(sec) = section else {
            out.push(seg.clone());
            continue;
        };
        let canonical = sec
            .aliases
            .iter()
            .find(|(a, _)| a == k)
            .map_or(k.as_str(), |(_, c)| *c);
        out.push(Seg::Key(canonical.to_owned()));
        section = match sec.shape(canonical) {
            Some(Shape::Section(s) | Shape::StrOr(s)) => Some(s),
            Some(Shape::MapOf(s) | Shape::ListOf(s)) => {
                skip_entry_name = true;
                Some(s)
            }
            _ => None,
        };
    }
    out
}

/// Rewrites a tree into the form the typed structs expect (see the module docs).
pub(crate) fn normalize(tree: &mut Value) {
    if let Value::Mapping(m) = tree {
        normalize_section(m, &ROOT);
    }
}

fn normalize_section(m: &mut Mapping, section: &Section) {
    canonicalize_section(m, section);
    let keys: Vec<Value> = m.keys().cloned().collect();
    for k in keys {
        let Some(shape) = k.as_str().and_then(|s| section.shape(s)) else {
            continue;
        };
        let remove = match m.get_mut(&k) {
            Some(v) => normalize_value(v, shape),
            None => false,
        };
        if remove {
            m.remove(&k);
        }
    }
}

/// Returns true when the value means "unset" and the key should be dropped.
fn normalize_value(v: &mut Value, shape: &Shape) -> bool {
    if v.is_null() {
        return true;
    }
    match shape {
        Shape::Str => stringify(v),
        Shape::OptStr => {
            stringify(v);
            return v.as_str() == Some("");
        }
        Shape::Bool => {
            if let Some(b) = v.as_str().and_then(parse_bool) {
                *v = Value::Bool(b);
            }
        }
        Shape::Int => {
            if let Some(s) = v.as_str() {
                let t = s.trim();
                if t.is_empty() {
                    return true;
                }
                if let Ok(n) = t.parse::<u64>() {
                    *v = Value::Number(n.into());
                } else if let Ok(n) = t.parse::<i64>() {
                    *v = Value::Number(n.into());
                }
            }
        }
        Shape::Float => {
            if let Some(s) = v.as_str() {
                let t = s.trim();
                if t.is_empty() {
                    return true;
                }
                if let Ok(n) = t.parse::<f64>() {
                    *v = Value::Number(n.into());
                }
            }
        }
        Shape::Enum(variants) => match v {
            Value::String(s) => {
                if s.trim().is_empty() {
                    return true;
                }
                *s = s.trim().to_ascii_lowercase();
            }
            Value::Bool(false) if variants.contains(&"off") => *v = Value::String("off".into()),
            _ => {}
        },
        Shape::StrList => {
            if let Value::Sequence(items) = v {
                items.iter_mut().for_each(stringify);
            }
        }
        Shape::StrMap => {
            if let Value::Mapping(m) = v {
                m.values_mut().for_each(stringify);
            } else if v.as_str() == Some("") {
                return true;
            }
        }
        Shape::Section(s) => match v {
            Value::Mapping(m) => normalize_section(m, s),
            Value::String(t) if t.trim().is_empty() => return true,
            _ => {}
        },
        Shape::StrOr(s) => match v {
            Value::Mapping(m) => normalize_section(m, s),
            Value::String(_) => {}
            other => stringify(other),
        },
        Shape::MapOf(s) => match v {
            Value::Mapping(m) => {
                for item in m.values_mut() {
                    if let Value::Mapping(im) = item {
                        normalize_section(im, s);
                    }
                }
            }
            Value::String(t) if t.trim().is_empty() => return true,
            _ => {}
        },
        Shape::ListOf(s) => {
            if let Value::Sequence(items) = v {
                for item in items {
                    if let Value::Mapping(im) = item {
                        normalize_section(im, s);
                    }
                }
            }
        }
    }
    false
}

/// Numbers and booleans where a string is expected become strings.
fn stringify(v: &mut Value) {
    match v {
        Value::Number(n) => *v = Value::String(n.to_string()),
        Value::Bool(b) => *v = Value::String(b.to_string()),
        _ => {}
    }
}

/// YAML 1.1 booleans, as PyYAML (and so Hermes) reads them.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "y" => Some(true),
        "false" | "no" | "off" | "n" => Some(false),
        _ => None,
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_owned(),
        _ => "<complex key>".to_owned(),
    }
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let w = word.to_ascii_lowercase();
    let limit = match w.chars().count() {
        0..=3 => 1,
        4..=7 => 2,
        _ => 3,
    };
    candidates
        .map(|c| (edit_distance(&w, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance with adjacent transpositions counted as one edit.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn keys(s: &str) -> Vec<Seg> {
        s.split('.')
            .map(|p| match p.parse::<usize>() {
                Ok(i) => Seg::Index(i),
                Err(_) => Seg::Key(p.to_owned()),
            })
            .collect()
    }

    /// Every field of `Config` must be in the schema, and every schema key must be a field:
    /// otherwise the warnings would lie.
    #[test]
    fn schema_matches_the_typed_config() {
        let tree = serde_norway::to_value(Config::default()).unwrap();
        assert!(unknown_keys(&tree).is_empty(), "{:?}", unknown_keys(&tree));
        let Value::Mapping(root) = &tree else {
            panic!()
        };
        fn check(section: &Section, m: &Mapping, at: &str) {
            for (k, shape) in section.keys {
                let Some(v) = m.get(*k) else {
                    panic!("schema key {at}{k} is not a field of Config");
                };
                if let (Shape::Section(s) | Shape::StrOr(s), Value::Mapping(inner)) = (shape, v) {
                    check(s, inner, &format!("{at}{k}."));
                }
            }
        }
        check(&ROOT, root, "");
        let Some(Value::Mapping(model)) = root.get("model") else {
            panic!()
        };
        assert_eq!(model.len(), MODEL.keys.len());
    }

    #[test]
    fn typos_are_reported_with_suggestions_and_hermes_keys_are_not() {
        let tree: Value = serde_norway::from_str(
            "agnet: {max_turns: 3}\nagent: {max_turn: 4, gateway_timeout: 5}\ntoolsets: [x]\n\
             providers: {mine: {base_url: x, key_envv: Y}}\nfallback_providers: [{provider: a, modle: b}]\n\
             totally_new: 1\n",
        )
        .unwrap();
        let found: Vec<(String, Option<String>)> = unknown_keys(&tree)
            .into_iter()
            .map(|u| (dotted(&u.path), u.suggestion))
            .collect();
        assert_eq!(
            found,
            vec![
                ("agnet".into(), Some("agent".into())),
                ("agent.max_turn".into(), Some("agent.max_turns".into())),
                (
                    "providers.mine.key_envv".into(),
                    Some("providers.mine.key_env".into())
                ),
                (
                    "fallback_providers.0.modle".into(),
                    Some("fallback_providers.0.model".into())
                ),
                ("totally_new".into(), None),
            ]
        );
    }

    #[test]
    fn classify_paths() {
        assert_eq!(classify(&keys("agent.max_turns")), KeyStatus::Known);
        assert_eq!(classify(&keys("providers.x.base_url")), KeyStatus::Known);
        assert_eq!(
            classify(&keys("providers.x.default_model")),
            KeyStatus::Known
        );
        assert_eq!(
            classify(&keys("fallback_providers.0.model")),
            KeyStatus::Known
        );
        assert_eq!(classify(&keys("terminal.docker_env.FOO")), KeyStatus::Known);
        assert_eq!(classify(&keys("toolsets")), KeyStatus::Hermes);
        assert_eq!(classify(&keys("agent.gateway_timeout")), KeyStatus::Hermes);
        assert_eq!(
            classify(&keys("agent.max_turn")),
            KeyStatus::Unknown {
                suggestion: Some("agent.max_turns".into())
            }
        );
        assert!(matches!(
            classify(&keys("agent.max_turns.x")),
            KeyStatus::Unknown { .. }
        ));
    }

    #[test]
    fn normalize_is_lenient_like_pyyaml() {
        let mut tree: Value = serde_norway::from_str(
            "model: {model: m1, base_url: '', streaming: 'no'}\napprovals: {mode: OFF}\n\
             terminal: {timeout: '300', docker_env: {A: 1}, backend: null}\nagent: ''\n\
             memory: {memory_enabled: on}\n",
        )
        .unwrap();
        normalize(&mut tree);
        let want: Value = serde_norway::from_str(
            "model: {default: m1, streaming: false}\napprovals: {mode: 'off'}\n\
             terminal: {timeout: 300, docker_env: {A: '1'}}\nmemory: {memory_enabled: true}\n",
        )
        .unwrap();
        assert_eq!(tree, want);
    }

    #[test]
    fn edit_distance_counts_transpositions_once() {
        assert_eq!(edit_distance("agnet", "agent"), 1);
        assert_eq!(edit_distance("max_turn", "max_turns"), 1);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(closest("xyz", ["agent", "model"].into_iter()), None);
    }
}
