//! The typed `config.yaml`.
//!
//! Key names and defaults follow Hermes Agent 0.19 (`_config_version: 33`) for everything
//! hermes-rs supports; other Hermes keys are accepted and ignored (see `schema`). Every
//! struct is `#[serde(default)]`, so a partial file fills in the rest. Differences from
//! Hermes, on purpose:
//!
//! - `terminal.backend` defaults to `native` (our sandbox) instead of Hermes' `local`
//!   (commands straight on the host). `local` stays available when chosen explicitly.
//! - `compression.in_place` is accepted, but compaction always rotates to a new session
//!   linked by `parent_session_id` (Hermes' lineage model), so history is never rewritten.
//! - `pricing` is ours: USD per million tokens, overriding the built-in price table by
//!   model-id prefix.
//! - `context_file_max_chars: null` means the historical fixed 20000.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// A secret string from the configuration (an API key). Its `Debug` prints `***`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    /// The secret itself; keep it out of logs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The whole `config.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// `model`: a model name, or a mapping with endpoint settings.
    pub model: ModelConfig,
    /// `providers.<name>`: named endpoints, selected with `model.provider: <name>`.
    pub providers: BTreeMap<String, ProviderEntry>,
    /// `fallback_providers`: tried in order when the primary fails.
    pub fallback_providers: Vec<FallbackEntry>,
    /// Legacy single `fallback_model: {provider, model}`; used when `fallback_providers`
    /// is empty.
    pub fallback_model: Option<FallbackEntry>,
    pub agent: AgentConfig,
    pub terminal: TerminalConfig,
    pub approvals: ApprovalsConfig,
    /// Command patterns approved "always".
    pub command_allowlist: Vec<String>,
    pub memory: MemoryConfig,
    pub compression: CompressionConfig,
    pub tool_output: ToolOutputConfig,
    /// Largest number of characters `read_file` returns in one call.
    pub file_read_max_chars: u64,
    /// Cap per project context file (AGENTS.md, …) injected into the prompt.
    pub context_file_max_chars: u64,
    pub security: SecurityConfig,
    pub display: DisplayConfig,
    /// Ours: price overrides in USD per million tokens, keyed by model-id prefix.
    pub pricing: BTreeMap<String, PriceOverride>,
    /// IANA time zone for timestamps shown to the model; empty = the system zone.
    pub timezone: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            model: ModelConfig::default(),
            providers: BTreeMap::new(),
            fallback_providers: Vec::new(),
            fallback_model: None,
            agent: AgentConfig::default(),
            terminal: TerminalConfig::default(),
            approvals: ApprovalsConfig::default(),
            command_allowlist: Vec::new(),
            memory: MemoryConfig::default(),
            compression: CompressionConfig::default(),
            tool_output: ToolOutputConfig::default(),
            file_read_max_chars: 100_000,
            context_file_max_chars: 20_000,
            security: SecurityConfig::default(),
            display: DisplayConfig::default(),
            pricing: BTreeMap::new(),
            timezone: String::new(),
        }
    }
}

impl Config {
    /// The fallback chain: `fallback_providers`, or the legacy `fallback_model`.
    pub fn fallback_chain(&self) -> Vec<&FallbackEntry> {
        if self.fallback_providers.is_empty() {
            self.fallback_model.iter().collect()
        } else {
            self.fallback_providers.iter().collect()
        }
    }

    /// The `providers` entry for `name` (exact, then case-insensitive).
    pub fn provider_entry(&self, name: &str) -> Option<(&str, &ProviderEntry)> {
        if let Some((k, v)) = self.providers.get_key_value(name) {
            return Some((k.as_str(), v));
        }
        self.providers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(k, v)| (k.as_str(), v))
    }

    /// Checks ranges and enumerations serde cannot express. Returns the dotted key and
    /// what is wrong with it.
    pub fn validate(&self) -> Result<(), (String, String)> {
        fn err(key: &str, msg: impl Into<String>) -> Result<(), (String, String)> {
            Err((key.to_owned(), msg.into()))
        }
        if let Some(mode) = &self.model.api_mode
            && !API_MODES.contains(&mode.as_str())
        {
            return err(
                "model.api_mode",
                format!(
                    "unknown API mode `{mode}`; expected one of {}",
                    API_MODES.join(", ")
                ),
            );
        }
        if self.model.context_length == Some(0) {
            return err("model.context_length", "must be at least 1 (or omit it)");
        }
        if self.model.max_tokens == Some(0) {
            return err("model.max_tokens", "must be at least 1 (or omit it)");
        }
        for (name, p) in &self.providers {
            if let Some(mode) = &p.api_mode
                && !API_MODES.contains(&mode.as_str())
            {
                return err(
                    &format!("providers.{name}.api_mode"),
                    format!(
                        "unknown API mode `{mode}`; expected one of {}",
                        API_MODES.join(", ")
                    ),
                );
            }
        }
        for (i, f) in self.fallback_providers.iter().enumerate() {
            if let Some(mode) = &f.api_mode
                && !API_MODES.contains(&mode.as_str())
            {
                return err(
                    &format!("fallback_providers.{i}.api_mode"),
                    format!(
                        "unknown API mode `{mode}`; expected one of {}",
                        API_MODES.join(", ")
                    ),
                );
            }
        }
        if self.agent.max_turns == 0 {
            return err("agent.max_turns", "must be at least 1");
        }
        if self.terminal.timeout == 0 {
            return err("terminal.timeout", "must be at least 1 second");
        }
        if !(self.terminal.container_cpu.is_finite() && self.terminal.container_cpu > 0.0) {
            return err(
                "terminal.container_cpu",
                "must be a positive number of CPUs",
            );
        }
        if self.terminal.container_memory == 0 {
            return err("terminal.container_memory", "must be at least 1 (MB)");
        }
        if self.terminal.container_disk == 0 {
            return err("terminal.container_disk", "must be at least 1 (MB)");
        }
        if self.terminal.sandbox_pids < 8 {
            return err("terminal.sandbox_pids", "must be at least 8");
        }
        if self.terminal.sandbox_tmpfs_mb == 0 {
            return err("terminal.sandbox_tmpfs_mb", "must be at least 1 (MB)");
        }
        if self.terminal.sandbox_uid == 0 {
            return err(
                "terminal.sandbox_uid",
                "must not be 0: sandboxed commands never run as root",
            );
        }
        if self.approvals.timeout == 0 {
            return err("approvals.timeout", "must be at least 1 second");
        }
        if self.memory.memory_char_limit == 0 {
            return err("memory.memory_char_limit", "must be at least 1");
        }
        if self.memory.user_char_limit == 0 {
            return err("memory.user_char_limit", "must be at least 1");
        }
        let c = &self.compression;
        if !(c.threshold.is_finite() && c.threshold > 0.0 && c.threshold <= 1.0) {
            return err(
                "compression.threshold",
                format!(
                    "{} is out of range; expected a fraction of the context window in (0, 1], e.g. 0.5",
                    c.threshold
                ),
            );
        }
        if !(c.target_ratio.is_finite() && c.target_ratio > 0.0 && c.target_ratio < 1.0) {
            return err(
                "compression.target_ratio",
                format!(
                    "{} is out of range; expected a fraction in (0, 1), e.g. 0.2",
                    c.target_ratio
                ),
            );
        }
        let t = &self.tool_output;
        for (key, v) in [
            ("tool_output.max_bytes", t.max_bytes),
            ("tool_output.max_lines", t.max_lines),
            ("tool_output.max_line_length", t.max_line_length),
            ("file_read_max_chars", self.file_read_max_chars),
            ("context_file_max_chars", self.context_file_max_chars),
        ] {
            if v == 0 {
                return err(key, "must be at least 1");
            }
        }
        for (prefix, p) in &self.pricing {
            for (field, v) in [
                ("input", Some(p.input)),
                ("output", Some(p.output)),
                ("cache_read", p.cache_read),
                ("cache_write", p.cache_write),
            ] {
                if let Some(v) = v
                    && !(v.is_finite() && v >= 0.0)
                {
                    return err(
                        &format!("pricing.{prefix}.{field}"),
                        "must be a price in USD per million tokens, 0 or more",
                    );
                }
            }
        }
        Ok(())
    }
}

/// API modes Hermes knows. hermes-rs speaks the first two; the others are recognised so
/// that the error can say "not supported yet".
pub const API_MODES: &[&str] = &[
    "chat_completions",
    "anthropic_messages",
    "codex_responses",
    "bedrock_converse",
];

/// `model`: `model: "name"` or `model: {default, provider, …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelConfig {
    /// The model id (`model.default`, alias `model.model`, or the string form).
    pub default: Option<String>,
    /// `auto`, a built-in provider, or a `providers.<name>` entry.
    pub provider: Option<String>,
    pub base_url: Option<String>,
    pub api_key: Option<Secret>,
    /// `chat_completions` | `anthropic_messages` (others are not supported yet).
    pub api_mode: Option<String>,
    pub context_length: Option<u64>,
    pub streaming: bool,
    pub max_tokens: Option<u32>,
    pub default_headers: BTreeMap<String, String>,
}

impl Default for ModelConfig {
    fn default() -> ModelConfig {
        ModelConfig {
            default: None,
            provider: None,
            base_url: None,
            api_key: None,
            api_mode: None,
            context_length: None,
            streaming: true,
            max_tokens: None,
            default_headers: BTreeMap::new(),
        }
    }
}

/// The mapping form of `model`.
#[derive(Deserialize)]
#[serde(default)]
struct ModelMap {
    #[serde(alias = "model")]
    default: Option<String>,
    provider: Option<String>,
    base_url: Option<String>,
    api_key: Option<Secret>,
    api_mode: Option<String>,
    context_length: Option<u64>,
    streaming: bool,
    max_tokens: Option<u32>,
    default_headers: BTreeMap<String, String>,
}

impl Default for ModelMap {
    fn default() -> ModelMap {
        let d = ModelConfig::default();
        ModelMap {
            default: d.default,
            provider: d.provider,
            base_url: d.base_url,
            api_key: d.api_key,
            api_mode: d.api_mode,
            context_length: d.context_length,
            streaming: d.streaming,
            max_tokens: d.max_tokens,
            default_headers: d.default_headers,
        }
    }
}

impl<'de> Deserialize<'de> for ModelConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ModelConfig, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ModelConfig;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a model name or a mapping like {default: <model>, provider: <name>}")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ModelConfig, E> {
                Ok(ModelConfig {
                    default: Some(v.to_owned()).filter(|s| !s.is_empty()),
                    ..ModelConfig::default()
                })
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<ModelConfig, E> {
                Ok(ModelConfig::default())
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<ModelConfig, E> {
                Ok(ModelConfig::default())
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<ModelConfig, A::Error> {
                let m = ModelMap::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(ModelConfig {
                    default: m.default,
                    provider: m.provider,
                    base_url: m.base_url,
                    api_key: m.api_key,
                    api_mode: m.api_mode,
                    context_length: m.context_length,
                    streaming: m.streaming,
                    max_tokens: m.max_tokens,
                    default_headers: m.default_headers,
                })
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `providers.<name>`: a named endpoint (or overrides for a built-in provider when it has
/// no `base_url`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderEntry {
    pub base_url: Option<String>,
    pub api_key: Option<Secret>,
    /// Name of the environment variable (or `.env` entry) holding the key.
    pub key_env: Option<String>,
    pub api_mode: Option<String>,
    /// Model used when `model.default` is not set (alias `default_model`).
    #[serde(alias = "default_model")]
    pub model: Option<String>,
    pub extra_headers: BTreeMap<String, String>,
    pub request_timeout_seconds: Option<u64>,
    pub context_length: Option<u64>,
}

/// One `fallback_providers` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FallbackEntry {
    pub provider: String,
    pub model: String,
    pub base_url: Option<String>,
    pub api_key: Option<Secret>,
    pub key_env: Option<String>,
    pub api_mode: Option<String>,
}

/// `agent.*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentConfig {
    /// Tool-calling iterations per turn.
    pub max_turns: u32,
    /// Retries of a failed model call.
    pub api_max_retries: u32,
    pub disabled_toolsets: Vec<String>,
}

impl Default for AgentConfig {
    fn default() -> AgentConfig {
        AgentConfig {
            max_turns: 90,
            api_max_retries: 3,
            disabled_toolsets: Vec::new(),
        }
    }
}

/// `terminal.backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TerminalBackend {
    /// Our sandbox: user namespaces + Landlock + seccomp (the default).
    Native,
    /// A Docker container per session.
    Docker,
    /// Straight on the host, no isolation; only when chosen explicitly.
    Local,
    /// A remote host over SSH.
    Ssh,
    /// Hermes backends recognised in config but not provided by hermes-rs.
    Singularity,
    Modal,
    Daytona,
}

impl TerminalBackend {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TerminalBackend::Native => "native",
            TerminalBackend::Docker => "docker",
            TerminalBackend::Local => "local",
            TerminalBackend::Ssh => "ssh",
            TerminalBackend::Singularity => "singularity",
            TerminalBackend::Modal => "modal",
            TerminalBackend::Daytona => "daytona",
        }
    }

    /// Whether hermes-rs has an executor for this backend.
    pub fn is_supported(self) -> bool {
        matches!(
            self,
            TerminalBackend::Native
                | TerminalBackend::Docker
                | TerminalBackend::Local
                | TerminalBackend::Ssh
        )
    }
}

impl fmt::Display for TerminalBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for TerminalBackend {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

const HERMES_IMAGE: &str = "nikolaik/python-nodejs:python3.11-nodejs20";

/// `terminal.*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TerminalConfig {
    /// Where commands run. Ours defaults to `native`; Hermes' default is `local`.
    pub backend: TerminalBackend,
    /// Working directory; `.` means the directory hermes was started in.
    pub cwd: String,
    /// Default per-command timeout in seconds.
    pub timeout: u64,
    /// Host environment variables passed into the sandbox.
    pub env_passthrough: Vec<String>,
    pub persistent_shell: bool,
    pub docker_image: String,
    pub docker_forward_env: Vec<String>,
    pub docker_env: BTreeMap<String, String>,
    pub docker_volumes: Vec<String>,
    pub docker_mount_cwd_to_workspace: bool,
    pub docker_extra_args: Vec<String>,
    pub docker_run_as_host_user: bool,
    pub docker_network: bool,
    /// CPUs for container backends.
    pub container_cpu: f64,
    /// Memory in MB for container backends.
    pub container_memory: u64,
    /// Disk in MB for container backends.
    pub container_disk: u64,
    pub container_persistent: bool,
    pub ssh_host: Option<String>,
    pub ssh_user: Option<String>,
    pub ssh_port: u16,
    pub ssh_key: Option<String>,
    /// Native sandbox: host paths made visible read-only (toolchains, SDKs), besides the
    /// system directories. `~` means the user's home.
    pub sandbox_allow_read: Vec<String>,
    /// Native sandbox: when hermes runs as root and the workspace belongs to root,
    /// commands run as this unprivileged uid (and gid). Not 65534: that is the kernel's
    /// overflow id, which files of unmapped owners show as inside the sandbox.
    pub sandbox_uid: u32,
    /// Native sandbox: processes and threads per sandbox.
    pub sandbox_pids: u64,
    /// Native sandbox: size of each private tmpfs (/tmp, /dev/shm, /run, home) in MB.
    pub sandbox_tmpfs_mb: u64,
}

impl Default for TerminalConfig {
    fn default() -> TerminalConfig {
        TerminalConfig {
            backend: TerminalBackend::Native,
            cwd: ".".to_owned(),
            timeout: 180,
            env_passthrough: Vec::new(),
            persistent_shell: true,
            docker_image: HERMES_IMAGE.to_owned(),
            docker_forward_env: Vec::new(),
            docker_env: BTreeMap::new(),
            docker_volumes: Vec::new(),
            docker_mount_cwd_to_workspace: false,
            docker_extra_args: Vec::new(),
            docker_run_as_host_user: false,
            docker_network: true,
            container_cpu: 1.0,
            container_memory: 5120,
            container_disk: 51200,
            container_persistent: true,
            ssh_host: None,
            ssh_user: None,
            ssh_port: 22,
            ssh_key: None,
            sandbox_allow_read: Vec::new(),
            sandbox_uid: 10001,
            sandbox_pids: 512,
            sandbox_tmpfs_mb: 512,
        }
    }
}

/// `approvals.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalMode {
    /// Ask for every dangerous command.
    Manual,
    /// Auto-approve low-risk commands, ask for the rest (the 0.19 default).
    Smart,
    /// Never ask (`--yolo`).
    Off,
}

impl ApprovalMode {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalMode::Manual => "manual",
            ApprovalMode::Smart => "smart",
            ApprovalMode::Off => "off",
        }
    }
}

impl fmt::Display for ApprovalMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `approvals.cron_mode`: what unattended cron runs do with dangerous commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CronApprovalMode {
    Deny,
    Approve,
}

impl CronApprovalMode {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CronApprovalMode::Deny => "deny",
            CronApprovalMode::Approve => "approve",
        }
    }
}

/// `approvals.*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApprovalsConfig {
    pub mode: ApprovalMode,
    /// Seconds to wait for the user's answer.
    pub timeout: u64,
    pub cron_mode: CronApprovalMode,
    /// Command patterns always refused.
    pub deny: Vec<String>,
}

impl Default for ApprovalsConfig {
    fn default() -> ApprovalsConfig {
        ApprovalsConfig {
            mode: ApprovalMode::Smart,
            timeout: 60,
            cron_mode: CronApprovalMode::Deny,
            deny: Vec::new(),
        }
    }
}

/// `memory.*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryConfig {
    pub memory_enabled: bool,
    pub user_profile_enabled: bool,
    pub memory_char_limit: u32,
    pub user_char_limit: u32,
    /// Ask the user before the agent writes memory.
    pub write_approval: bool,
    /// External memory provider; empty = built-in files.
    pub provider: String,
}

impl Default for MemoryConfig {
    fn default() -> MemoryConfig {
        MemoryConfig {
            memory_enabled: true,
            user_profile_enabled: true,
            memory_char_limit: 2200,
            user_char_limit: 1375,
            write_approval: false,
            provider: String::new(),
        }
    }
}

/// `compression.*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompressionConfig {
    pub enabled: bool,
    /// Fraction of the context window that triggers compaction, in (0, 1].
    pub threshold: f64,
    /// Fraction of the threshold preserved as the recent tail, in (0, 1).
    pub target_ratio: f64,
    pub protect_first_n: u32,
    pub protect_last_n: u32,
    /// Accepted for compatibility; hermes-rs always rotates to a child session.
    pub in_place: bool,
    pub abort_on_summary_failure: bool,
}

impl Default for CompressionConfig {
    fn default() -> CompressionConfig {
        CompressionConfig {
            enabled: true,
            threshold: 0.5,
            target_ratio: 0.2,
            protect_first_n: 3,
            protect_last_n: 20,
            in_place: true,
            abort_on_summary_failure: false,
        }
    }
}

/// `tool_output.*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ToolOutputConfig {
    /// Terminal output cap (characters; the name is Hermes').
    pub max_bytes: u64,
    /// Most lines `read_file` returns.
    pub max_lines: u64,
    /// Longest line `read_file` returns before clipping.
    pub max_line_length: u64,
}

impl Default for ToolOutputConfig {
    fn default() -> ToolOutputConfig {
        ToolOutputConfig {
            max_bytes: 50_000,
            max_lines: 2000,
            max_line_length: 2000,
        }
    }
}

/// `security.*` (the subset hermes-rs uses).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecurityConfig {
    pub redact_secrets: bool,
    /// Let web tools reach private and loopback addresses.
    pub allow_private_urls: bool,
}

impl Default for SecurityConfig {
    fn default() -> SecurityConfig {
        SecurityConfig {
            redact_secrets: true,
            allow_private_urls: false,
        }
    }
}

/// `display.*` (the subset hermes-rs uses).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DisplayConfig {
    /// Print tokens as they arrive in the CLI.
    pub streaming: bool,
    pub show_cost: bool,
    pub show_reasoning: bool,
}

/// One `pricing.<model-prefix>` entry, USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PriceOverride {
    pub input: f64,
    pub output: f64,
    #[serde(default)]
    pub cache_read: Option<f64>,
    #[serde(default)]
    pub cache_write: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_hermes_019_except_documented_differences() {
        let c = Config::default();
        assert_eq!(c.agent.max_turns, 90);
        assert_eq!(c.agent.api_max_retries, 3);
        assert_eq!(c.terminal.backend, TerminalBackend::Native);
        assert_eq!(c.terminal.timeout, 180);
        assert_eq!(c.terminal.container_memory, 5120);
        assert_eq!(c.approvals.mode, ApprovalMode::Smart);
        assert_eq!(c.approvals.cron_mode, CronApprovalMode::Deny);
        assert_eq!(c.memory.memory_char_limit, 2200);
        assert_eq!(c.memory.user_char_limit, 1375);
        assert_eq!(c.compression.threshold, 0.5);
        assert_eq!(c.compression.protect_last_n, 20);
        assert_eq!(c.tool_output.max_bytes, 50_000);
        assert_eq!(c.file_read_max_chars, 100_000);
        assert_eq!(c.context_file_max_chars, 20_000);
        assert!(c.model.streaming);
        assert!(c.security.redact_secrets);
        assert!(!c.display.streaming);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn enums_print_their_config_spelling() {
        assert_eq!(TerminalBackend::Native.to_string(), "native");
        assert!(TerminalBackend::Local == "local");
        assert_eq!(ApprovalMode::Smart.to_string(), "smart");
        assert!(!TerminalBackend::Modal.is_supported());
    }

    #[test]
    fn secret_debug_is_redacted() {
        let m = ModelConfig {
            api_key: Some(Secret::new("sk-very-secret")),
            ..ModelConfig::default()
        };
        let s = format!("{m:?}");
        assert!(!s.contains("very-secret"), "{s}");
        assert!(s.contains("***"));
    }

    #[test]
    fn fallback_chain_prefers_the_list() {
        let mut c = Config {
            fallback_model: Some(FallbackEntry {
                provider: "openrouter".into(),
                model: "a".into(),
                ..FallbackEntry::default()
            }),
            ..Config::default()
        };
        assert_eq!(c.fallback_chain().len(), 1);
        c.fallback_providers.push(FallbackEntry {
            provider: "openai".into(),
            model: "b".into(),
            ..FallbackEntry::default()
        });
        let chain = c.fallback_chain();
        assert_eq!(chain.len(), 1);
        assert_eq!(chain[0].model, "b");
    }

    #[test]
    fn validate_rejects_out_of_range_values() {
        let mut c = Config::default();
        c.compression.threshold = 1.5;
        assert_eq!(c.validate().unwrap_err().0, "compression.threshold");
        let mut c = Config::default();
        c.compression.threshold = 1.0;
        assert!(c.validate().is_ok());
        c.agent.max_turns = 0;
        assert_eq!(c.validate().unwrap_err().0, "agent.max_turns");
        let mut c = Config::default();
        c.model.api_mode = Some("grpc".into());
        assert_eq!(c.validate().unwrap_err().0, "model.api_mode");
    }
}
