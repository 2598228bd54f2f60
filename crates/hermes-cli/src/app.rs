//! Composition: from HERMES_HOME and config to a store, a provider, tools and an agent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hermes_config::{Config, Env, HermesHome, LoadedConfig, ResolvedModel};
use hermes_core::compress::CompressionConfig;
use hermes_core::pricing::{Price, PriceTable};
use hermes_core::prompt::{self, PromptParts};
use hermes_core::redact::{self, Redactor};
use hermes_core::truncate::OutputLimits;
use hermes_core::{Agent, AgentConfig, Provider, ToolRegistry};
use hermes_llm::{ApiMode, ProviderConfig, RetryPolicy};
use hermes_sandbox::native::{Helper, NativeConfig, NativeExecutor, Policy};
use hermes_sandbox::{Executor, LocalExecutor, Unavailable};
use hermes_store::Store;
use hermes_tools::fs::FileAccess;
use hermes_tools::memory::{MemoryStore, MemoryTool};
use hermes_tools::process::{ProcessLimits, ProcessRegistry, ProcessTool, ProcessToolConfig};
use hermes_tools::todo::{TodoStore, TodoTool};

use crate::cli::Global;
use crate::exit::Failure;

/// Changes to the sandbox policy for one `hermes sandbox exec`.
#[derive(Debug, Clone, Default)]
pub struct SandboxOverrides {
    pub allow_read: Vec<PathBuf>,
    pub memory_bytes: Option<u64>,
}

/// Settings and paths of one run.
pub struct App {
    pub home: HermesHome,
    pub loaded: LoadedConfig,
    pub env: Env,
}

impl App {
    /// Resolves HERMES_HOME, creates it on first use, reads `.env` and `config.yaml`
    /// (with `-c` overrides), and prints config warnings.
    pub fn load(global: &Global) -> Result<App, Failure> {
        let home = HermesHome::resolve()?;
        for w in home.ensure()?.warnings {
            eprintln!("hermes: warning: {w}");
        }
        let dotenv = hermes_config::read_dotenv(&home.env_path())?;
        let env = Env::new(dotenv);
        let mut overrides = global.config.clone();
        if let Some(n) = global.max_turns {
            overrides.push(format!("agent.max_turns={n}"));
        }
        let loaded = hermes_config::load(&home, &env, &overrides)?;
        for w in &loaded.warnings {
            eprintln!("hermes: warning: {w}");
        }
        Ok(App { home, loaded, env })
    }

    pub fn config(&self) -> &Config {
        &self.loaded.config
    }

    pub fn open_store(&self) -> Result<Arc<Store>, Failure> {
        let path = self.home.state_db_path();
        Store::open(&path)
            .map(Arc::new)
            .map_err(|e| Failure::failed(format!("cannot open {}: {e}", path.display())))
    }

    /// The directory file tools and commands work in (`terminal.cwd`, default: where
    /// hermes was started).
    pub fn workspace(&self) -> Result<PathBuf, Failure> {
        let cwd = self.config().terminal.cwd.trim();
        let raw = if cwd.is_empty() || cwd == "." {
            std::env::current_dir()?
        } else if let Some(rest) = cwd.strip_prefix("~/") {
            home_dir()
                .map(|h| h.join(rest))
                .unwrap_or_else(|| PathBuf::from(cwd))
        } else {
            PathBuf::from(cwd)
        };
        raw.canonicalize().map_err(|e| {
            Failure::usage(format!(
                "terminal.cwd {} is not a usable directory: {e}",
                raw.display()
            ))
        })
    }

    /// The model endpoint and its fallbacks, as one provider.
    pub fn provider(&self, global: &Global) -> Result<Arc<dyn Provider>, Failure> {
        let primary = hermes_config::resolve_model(
            self.config(),
            &self.env,
            global.model.as_deref(),
            global.provider.as_deref(),
        )?;
        let mut chain = vec![self.build_provider(&primary)?];
        let (fallbacks, warnings) = hermes_config::resolve_fallbacks(self.config(), &self.env);
        for w in warnings {
            eprintln!("hermes: warning: {w}");
        }
        for f in &fallbacks {
            chain.push(self.build_provider(f)?);
        }
        if chain.len() == 1 {
            return chain.pop().ok_or_else(|| Failure::failed("no provider"));
        }
        let chain = hermes_llm::FallbackProvider::new(chain).map_err(Failure::usage)?;
        Ok(Arc::new(chain))
    }

    fn build_provider(&self, m: &ResolvedModel) -> Result<Arc<dyn Provider>, Failure> {
        let api_mode = match m.api_mode {
            hermes_config::ApiMode::ChatCompletions => ApiMode::ChatCompletions,
            hermes_config::ApiMode::AnthropicMessages => ApiMode::AnthropicMessages,
        };
        let mut cfg = ProviderConfig::new(&m.provider, &m.model, &m.base_url, api_mode);
        if let Some(k) = &m.api_key {
            cfg = cfg.with_api_key(k.clone());
        }
        cfg.context_length = m.context_length;
        cfg.streaming = m.streaming;
        cfg.max_tokens = m.max_tokens;
        cfg.extra_headers = m.extra_headers.clone();
        if let Some(t) = m.request_timeout_seconds {
            cfg.request_timeout = Duration::from_secs(t);
        }
        if let Some(secs) = env_secs(&self.env, "HERMES_API_CALL_STALE_TIMEOUT") {
            cfg.stall_timeout = Duration::from_secs(secs);
        }
        cfg.retry = RetryPolicy {
            max_retries: self.config().agent.api_max_retries,
            ..cfg.retry
        };
        hermes_llm::build_provider(cfg).map_err(Failure::usage)
    }

    /// The uid/gid commands run as when hermes runs as root and the workspace belongs to
    /// root.
    pub fn sandbox_root_id(&self) -> (u32, u32) {
        let id = self.config().terminal.sandbox_uid;
        (id, id)
    }

    /// Home directory inside the native sandbox (a private tmpfs): the same path as the
    /// user's, so paths the user mentions mean the same inside.
    fn sandbox_home(&self) -> PathBuf {
        match home_dir() {
            Some(h) if h.is_absolute() && h != Path::new("/") => h,
            _ => PathBuf::from("/home/sandbox"),
        }
    }

    /// The native sandbox policy for `workspace`, from config.yaml and `overrides`.
    pub fn native_policy(&self, workspace: &Path, overrides: &SandboxOverrides) -> Policy {
        let t = &self.config().terminal;
        let mut p = Policy::new(workspace.to_path_buf());
        for entry in &t.sandbox_allow_read {
            let path = match entry.strip_prefix("~/") {
                Some(rest) => match home_dir() {
                    Some(h) => h.join(rest),
                    None => continue,
                },
                None => PathBuf::from(entry),
            };
            // Only existing, absolute paths; the view cannot show what is not there.
            if let Ok(real) = path.canonicalize() {
                p.read_only.push(real);
            }
        }
        p.read_only.extend(overrides.allow_read.iter().cloned());
        p.limits.pids = t.sandbox_pids;
        p.limits.tmpfs_bytes = t.sandbox_tmpfs_mb.saturating_mul(1 << 20);
        p.home = self.sandbox_home();
        p.limits.memory_bytes = overrides
            .memory_bytes
            .unwrap_or(t.container_memory.saturating_mul(1 << 20));
        p.limits.cpu_percent = (t.container_cpu * 100.0).round().max(0.0) as u64;
        p
    }

    /// The executor for the `terminal` tool, per `terminal.backend`.
    pub fn executor(&self, workspace: &Path) -> Result<Arc<dyn Executor>, Failure> {
        let backend = self.config().terminal.backend.as_str().to_string();
        self.executor_for(&backend, workspace, &SandboxOverrides::default())
    }

    /// An executor for `backend`. A backend that cannot enforce its policy here becomes
    /// one that refuses every command with the reason — never a weaker fallback.
    pub fn executor_for(
        &self,
        backend: &str,
        workspace: &Path,
        overrides: &SandboxOverrides,
    ) -> Result<Arc<dyn Executor>, Failure> {
        Ok(match backend {
            "local" => {
                eprintln!("hermes: warning: {}", hermes_sandbox::local::LOCAL_WARNING);
                Arc::new(LocalExecutor::new())
            }
            "native" => {
                let posture = hermes_sandbox::native::probe::posture();
                if let Err(reason) = posture.ready() {
                    return Ok(Arc::new(Unavailable::new(
                        "native",
                        format!(
                            "{reason}. Shell commands are refused rather than run unconfined; \
                             see `hermes sandbox doctor`."
                        ),
                    )));
                }
                let helper = Helper::current_exe(crate::SANDBOX_HELPER_ARG).map_err(|e| {
                    Failure::failed(format!("cannot locate the hermes binary: {e}"))
                })?;
                Arc::new(NativeExecutor::new(NativeConfig {
                    helper,
                    policy: self.native_policy(workspace, overrides),
                    start_timeout: Duration::from_secs(20),
                    root_sandbox_id: self.sandbox_root_id(),
                    cgroups: posture.cgroups,
                }))
            }
            other => Arc::new(Unavailable::new(
                other,
                format!(
                    "terminal.backend '{other}' is not available in this build; shell commands \
                     are refused. Use terminal.backend: native (the default)."
                ),
            )),
        })
    }

    /// The environment commands start with on the configured backend.
    pub fn command_env(&self) -> BTreeMap<String, String> {
        let backend = self.config().terminal.backend.as_str().to_string();
        self.command_env_for(&backend)
    }

    /// The environment commands start with: an allowlist, never secrets.
    pub fn command_env_for(&self, backend: &str) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for name in hermes_sandbox::DEFAULT_ENV_ALLOWLIST {
            if let Ok(v) = std::env::var(name) {
                env.insert((*name).to_string(), v);
            }
        }
        env.entry("PATH".to_string())
            .or_insert_with(|| "/usr/local/bin:/usr/bin:/bin".to_string());
        match backend {
            "local" => {
                if let Some(h) = home_dir() {
                    env.insert("HOME".into(), h.display().to_string());
                }
            }
            _ => {
                env.insert("HOME".into(), self.sandbox_home().display().to_string());
            }
        }
        for name in &self.config().terminal.env_passthrough {
            if looks_secret(name) || self.loaded.dotenv.contains_key(name) {
                eprintln!(
                    "hermes: warning: terminal.env_passthrough: {name} looks like a secret and is not passed to commands"
                );
                continue;
            }
            if let Ok(v) = std::env::var(name) {
                env.insert(name.clone(), v);
            }
        }
        env
    }

    pub fn pricing(&self) -> PriceTable {
        let overrides: BTreeMap<String, Price> = self
            .config()
            .pricing
            .iter()
            .map(|(k, p)| {
                (
                    k.clone(),
                    Price {
                        input: p.input,
                        output: p.output,
                        cache_read: p.cache_read,
                        cache_write: p.cache_write,
                    },
                )
            })
            .collect();
        PriceTable::new(overrides)
    }

    pub fn memory_store(&self) -> MemoryStore {
        let m = &self.config().memory;
        MemoryStore::new(self.home.memories_dir())
            .with_limits(m.memory_char_limit as usize, m.user_char_limit as usize)
            .with_enabled(m.memory_enabled, m.user_profile_enabled)
    }

    /// Background processes of this run's conversations, their notifications scrubbed
    /// like tool output.
    pub fn process_registry(&self) -> Arc<ProcessRegistry> {
        Arc::new(ProcessRegistry::new(ProcessLimits::default()).with_redactor(self.redactor()))
    }

    /// The built-in tools, minus `agent.disabled_toolsets`, and the todo store (whose
    /// list is carried across context compression). Background commands and the
    /// `process` tool use `processes`.
    /// Shell commands pass the approval policy; `approver` answers its prompts (without
    /// one, commands that need approval are refused).
    pub fn tools(
        &self,
        workspace: &Path,
        store: Arc<Store>,
        approver: Option<Arc<dyn hermes_core::approval::Approver>>,
        processes: Arc<ProcessRegistry>,
        executor: Arc<dyn Executor>,
    ) -> Result<(ToolRegistry, Arc<TodoStore>), Failure> {
        let cfg = self.config();
        let access = FileAccess::new(workspace, vec![self.home.root().to_path_buf()])
            .map_err(|e| Failure::usage(format!("workspace {}: {e}", workspace.display())))?;
        let access = Arc::new(access);
        let read_limits = hermes_tools::read_file::ReadLimits {
            max_chars: to_usize(cfg.file_read_max_chars),
            max_line_length: to_usize(cfg.tool_output.max_line_length),
            max_lines: to_usize(cfg.tool_output.max_lines),
        };
        let mut reg = ToolRegistry::new();
        reg.register(Arc::new(hermes_tools::read_file::ReadFileTool::new(
            access.clone(),
            read_limits,
        )));
        reg.register(Arc::new(hermes_tools::write_file::WriteFileTool::new(
            access.clone(),
        )));
        reg.register(Arc::new(hermes_tools::patch::PatchTool::new(
            access.clone(),
        )));
        reg.register(Arc::new(hermes_tools::search_files::SearchFilesTool::new(
            access,
        )));
        reg.register(Arc::new(
            hermes_tools::terminal::TerminalTool::new(
                executor,
                hermes_tools::terminal::TerminalConfig {
                    workspace: workspace.to_path_buf(),
                    default_timeout: Duration::from_secs(cfg.terminal.timeout),
                    max_foreground_timeout: Duration::from_secs(
                        env_secs(&self.env, "TERMINAL_MAX_FOREGROUND_TIMEOUT").unwrap_or(600),
                    ),
                    max_output_bytes: to_usize(cfg.tool_output.max_bytes),
                    base_env: self.command_env(),
                },
            )
            .with_approvals(crate::approve::approvals(self, approver))
            .with_processes(processes.clone()),
        ));
        reg.register(Arc::new(ProcessTool::new(
            processes,
            ProcessToolConfig {
                max_wait: Duration::from_secs(cfg.terminal.timeout.max(1)),
                max_output_chars: to_usize(cfg.tool_output.max_bytes),
            },
        )));
        let todos = Arc::new(TodoStore::new());
        reg.register(Arc::new(TodoTool::new(todos.clone())));
        if cfg.memory.memory_enabled || cfg.memory.user_profile_enabled {
            reg.register(Arc::new(MemoryTool::new(Arc::new(self.memory_store()))));
        }
        reg.register(Arc::new(
            hermes_tools::session_search::SessionSearchTool::new(store),
        ));
        let disabled = disabled_tools(&cfg.agent.disabled_toolsets);
        reg.remove_all(&disabled);
        Ok((reg, todos))
    }

    pub fn agent_config(&self, workspace: &Path) -> AgentConfig {
        let cfg = self.config();
        let c = &cfg.compression;
        AgentConfig {
            max_turns: cfg.agent.max_turns,
            output_limits: OutputLimits {
                max_bytes: 100_000,
                max_lines: 0,
                max_line_length: 0,
            },
            compression: CompressionConfig {
                enabled: c.enabled,
                threshold: c.threshold,
                target_ratio: c.target_ratio,
                protect_first_n: c.protect_first_n as usize,
                protect_last_n: c.protect_last_n as usize,
                abort_on_summary_failure: c.abort_on_summary_failure,
            },
            default_context_length: 128_000,
            workspace: workspace.to_path_buf(),
            max_parallel_tools: 8,
        }
    }

    /// The system prompt for a new session: SOUL.md, guidance, the memory snapshot
    /// (frozen now), project context and session facts.
    pub fn system_prompt(
        &self,
        workspace: &Path,
        tools: &ToolRegistry,
        provider: &dyn Provider,
        platform_hint: &str,
    ) -> String {
        let soul = std::fs::read_to_string(self.home.soul_path()).unwrap_or_default();
        let mut guidance = Vec::new();
        if tools.get("memory").is_some() {
            guidance.push(prompt::MEMORY_GUIDANCE.to_string());
        }
        if tools.get("session_search").is_some() {
            guidance.push(prompt::SESSION_SEARCH_GUIDANCE.to_string());
        }
        let memory_blocks = if tools.get("memory").is_some() {
            self.memory_store().snapshot_blocks()
        } else {
            Vec::new()
        };
        let cap = to_usize(self.config().context_file_max_chars);
        let info = provider.info();
        prompt::build_system_prompt(&PromptParts {
            soul,
            tool_guidance: guidance,
            system_message: None,
            memory_blocks,
            context_files: prompt::discover_context_files(workspace, cap),
            model: Some(info.model.clone()),
            provider: Some(info.provider.clone()),
            platform_hint: Some(platform_hint.to_string()),
        })
    }

    pub fn agent(
        &self,
        provider: Arc<dyn Provider>,
        tools: ToolRegistry,
        todos: Arc<TodoStore>,
        store: Arc<Store>,
        workspace: &Path,
    ) -> Agent {
        let agent = Agent::new(
            provider,
            tools,
            store,
            self.pricing(),
            self.agent_config(workspace),
        )
        .with_compaction_note(Arc::new(move |lineage: &str| {
            todos.format_for_injection(lineage)
        }));
        match self.redactor() {
            Some(r) => agent.with_redactor(r),
            None => agent,
        }
    }

    /// What tool output is scrubbed of before the model, `state.db` or the screen see
    /// it: every `.env` value, the resolved provider keys (the primary, every
    /// `providers` entry — so `--provider` is covered — and the fallbacks) and process
    /// variables whose names look secret. `None` when `security.redact_secrets: false`:
    /// as in Hermes, that turns scrubbing off entirely, and anything a command prints —
    /// provider keys included — then reaches the model and the transcript verbatim.
    pub fn redactor(&self) -> Option<Arc<Redactor>> {
        let cfg = self.config();
        if !cfg.security.redact_secrets {
            return None;
        }
        let mut b = Redactor::builder();
        for (name, value) in &self.loaded.dotenv {
            b.env(name, value);
        }
        for (name, value) in std::env::vars_os() {
            if let (Some(n), Some(v)) = (name.to_str(), value.to_str())
                && redact::name_looks_secret(n)
            {
                b.named(n, v);
            }
        }
        // Keys from config.yaml, or from variables named by `key_env` (any name).
        let mut models: Vec<ResolvedModel> =
            hermes_config::resolve_model(cfg, &self.env, None, None)
                .into_iter()
                .collect();
        for name in cfg.providers.keys() {
            models.extend(hermes_config::resolve_model(cfg, &self.env, None, Some(name)).ok());
        }
        models.extend(hermes_config::resolve_fallbacks(cfg, &self.env).0);
        for m in &models {
            if let Some(key) = &m.api_key {
                b.named(&format!("{}.api_key", m.provider), key);
            }
        }
        Some(Arc::new(b.build()))
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn env_secs(env: &Env, name: &str) -> Option<u64> {
    env.get(name).and_then(|v| v.trim().parse().ok())
}

pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    ["KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL"]
        .iter()
        .any(|w| n.contains(w))
}

/// Tool names of Hermes' toolsets that can be disabled with `agent.disabled_toolsets`.
fn disabled_tools(toolsets: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for t in toolsets {
        let names: &[&str] = match t.as_str() {
            "terminal" => &["terminal", "process"],
            "file" => &["read_file", "write_file", "patch", "search_files"],
            "memory" => &["memory"],
            "session_search" => &["session_search"],
            "todo" => &["todo"],
            other => {
                tracing::warn!("agent.disabled_toolsets: unknown toolset {other}");
                &[]
            }
        };
        out.extend(names.iter().map(|s| (*s).to_string()));
    }
    out
}
