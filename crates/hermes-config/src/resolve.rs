//! Which endpoint, model and key a conversation uses.
//!
//! Simplified from Hermes 0.19's `runtime_provider`:
//!
//! 1. **Requested provider**: `--provider` → `model.provider` → `HERMES_INFERENCE_PROVIDER`
//!    → `auto`. `model.base_url`, `model.api_key`, `model.api_mode`,
//!    `model.context_length` and `model.default_headers` belong to the configured
//!    provider; they are ignored when `--provider` picks a different one.
//! 2. **Model**: `-m` → `model.default` (which `HERMES_INFERENCE_MODEL` overrides at load)
//!    → the provider entry's `model`/`default_model`. No model is an error that says how
//!    to set one.
//! 3. **`auto`**: a configured base URL or `OPENAI_BASE_URL` → `custom`; else
//!    `ANTHROPIC_API_KEY`/`ANTHROPIC_TOKEN` → `anthropic`; else `OPENROUTER_API_KEY` →
//!    `openrouter`; else `OPENAI_API_KEY` → `openai`; else an error listing what to set.
//! 4. **Named providers** (`providers.<name>`, also written `custom:<name>`) win over
//!    built-ins. With a `base_url` the entry is a complete endpoint (key: `api_key` →
//!    the variable named by `key_env` → the vendor's variable when the host is a known
//!    vendor). Without one, a built-in of the same name is used with the entry's key,
//!    headers, timeout and context length.
//! 5. **Built-ins**: `openai`, `anthropic`, `openrouter`, `deepseek` (fixed URL, vendor
//!    key required); `custom`, `vllm`, `llamacpp` (base URL required: `model.base_url` →
//!    `OPENAI_BASE_URL`); `ollama` (`http://127.0.0.1:11434/v1`) and `lmstudio`
//!    (`http://127.0.0.1:1234/v1`). The last four are recorded as `custom`, as in Hermes.
//! 6. **Keys** never come from a variable meant for another host: `OPENAI_API_KEY` is
//!    sent to a custom endpoint only when that endpoint came from `OPENAI_BASE_URL` or is
//!    `api.openai.com` (Hermes also restricts this). An endpoint on this machine or the
//!    local network may have no key; any other needs one, or the explicit
//!    `api_key: no-key-required` (Hermes' spelling for "none"). Hosts are read by
//!    [`crate::url`], with the HTTP client's own parser; a base URL whose host could be
//!    read two ways is refused.
//! 7. **API mode**: explicit `api_mode`, else `anthropic_messages` for `anthropic` or a
//!    base URL whose path ends in `/anthropic`, else `chat_completions`.
//!    `codex_responses` and `bedrock_converse` are refused as not supported yet.

use std::collections::BTreeMap;
use std::fmt;

use crate::config::{Config, FallbackEntry, ProviderEntry};
use crate::env::Env;
use crate::error::ConfigError;
use crate::schema;
use crate::url::{self, is_local_network_host};

/// The wire protocol spoken to the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiMode {
    /// OpenAI-compatible `/chat/completions`.
    ChatCompletions,
    /// Anthropic `/v1/messages`.
    AnthropicMessages,
}

impl ApiMode {
    /// Hermes' spelling (`chat_completions`, `anthropic_messages`).
    pub fn as_str(self) -> &'static str {
        match self {
            ApiMode::ChatCompletions => "chat_completions",
            ApiMode::AnthropicMessages => "anthropic_messages",
        }
    }
}

/// A fully resolved endpoint. `Debug` prints the key as `***`.
#[derive(Clone, PartialEq)]
pub struct ResolvedModel {
    /// Provider label recorded in `state.db` (`openai`, `custom`, a `providers` name, …).
    pub provider: String,
    pub model: String,
    /// Base URL without a trailing slash.
    pub base_url: String,
    pub api_key: Option<String>,
    pub api_mode: ApiMode,
    pub context_length: Option<u64>,
    pub streaming: bool,
    pub max_tokens: Option<u32>,
    pub extra_headers: Vec<(String, String)>,
    pub request_timeout_seconds: Option<u64>,
}

impl fmt::Debug for ResolvedModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolvedModel")
            .field("provider", &self.provider)
            .field("model", &self.model)
            .field("base_url", &url::redact(&self.base_url))
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("api_mode", &self.api_mode)
            .field("context_length", &self.context_length)
            .field("streaming", &self.streaming)
            .field("max_tokens", &self.max_tokens)
            .field(
                "extra_headers",
                &self
                    .extra_headers
                    .iter()
                    .map(|(k, _)| k)
                    .collect::<Vec<_>>(),
            )
            .field("request_timeout_seconds", &self.request_timeout_seconds)
            .finish()
    }
}

/// Provider names hermes-rs knows without configuration.
pub const BUILT_IN_PROVIDERS: &[&str] = &[
    "openai",
    "anthropic",
    "openrouter",
    "deepseek",
    "custom",
    "ollama",
    "vllm",
    "llamacpp",
    "lmstudio",
];

/// Hermes providers that need OAuth or a protocol hermes-rs does not speak yet.
const NOT_YET: &[&str] = &[
    "nous",
    "openai-codex",
    "codex",
    "copilot",
    "copilot-acp",
    "gemini",
    "google",
    "xai",
    "zai",
    "kimi-coding",
    "moonshot",
    "minimax",
    "minimax-cn",
    "bedrock",
    "huggingface",
    "nvidia",
    "alibaba",
    "dashscope",
    "qwen",
    "azure",
    "vertex",
];

const NO_KEY_SENTINEL: &str = "no-key-required";

struct Builtin {
    name: &'static str,
    label: &'static str,
    /// Fixed base URL; `None` = required from config or `OPENAI_BASE_URL`.
    base: Option<&'static str>,
    /// Variable that overrides `base`.
    base_env: Option<&'static str>,
    key_vars: &'static [&'static str],
    key_required: bool,
    mode: ApiMode,
}

const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "openai",
        label: "openai",
        base: Some("https://api.openai.com/v1"),
        base_env: None,
        key_vars: &["OPENAI_API_KEY"],
        key_required: true,
        mode: ApiMode::ChatCompletions,
    },
    Builtin {
        name: "anthropic",
        label: "anthropic",
        base: Some("https://api.anthropic.com"),
        base_env: None,
        key_vars: &["ANTHROPIC_API_KEY", "ANTHROPIC_TOKEN"],
        key_required: true,
        mode: ApiMode::AnthropicMessages,
    },
    Builtin {
        name: "openrouter",
        label: "openrouter",
        base: Some("https://openrouter.ai/api/v1"),
        base_env: Some("OPENROUTER_BASE_URL"),
        key_vars: &["OPENROUTER_API_KEY"],
        key_required: true,
        mode: ApiMode::ChatCompletions,
    },
    Builtin {
        name: "deepseek",
        label: "deepseek",
        base: Some("https://api.deepseek.com/v1"),
        base_env: None,
        key_vars: &["DEEPSEEK_API_KEY"],
        key_required: true,
        mode: ApiMode::ChatCompletions,
    },
    Builtin {
        name: "ollama",
        label: "custom",
        base: Some("http://127.0.0.1:11434/v1"),
        base_env: None,
        key_vars: &["OLLAMA_API_KEY"],
        key_required: false,
        mode: ApiMode::ChatCompletions,
    },
    Builtin {
        name: "lmstudio",
        label: "custom",
        base: Some("http://127.0.0.1:1234/v1"),
        base_env: None,
        key_vars: &["LM_API_KEY"],
        key_required: false,
        mode: ApiMode::ChatCompletions,
    },
];

/// `custom` and the aliases that need a base URL.
const CUSTOM_LIKE: &[&str] = &["custom", "vllm", "llamacpp"];

/// One resolution request, from `model.*` or a fallback entry.
struct Request {
    /// Where the settings came from, for messages (`model`, `fallback_providers.0`).
    origin: String,
    provider: String,
    model: Option<String>,
    base_url: Option<String>,
    api_key: Option<String>,
    key_env: Option<String>,
    api_mode: Option<String>,
    context_length: Option<u64>,
    headers: BTreeMap<String, String>,
    streaming: bool,
    max_tokens: Option<u32>,
}

fn clean(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Resolves the primary model. `cli_model` / `cli_provider` are `-m` / `--provider`.
pub fn resolve_model(
    cfg: &Config,
    env: &Env,
    cli_model: Option<&str>,
    cli_provider: Option<&str>,
) -> Result<ResolvedModel, ConfigError> {
    let m = &cfg.model;
    let cfg_provider = clean(m.provider.as_deref());
    let env_provider = clean(env.get("HERMES_INFERENCE_PROVIDER").as_deref());
    let cli_provider = clean(cli_provider);
    let configured = cfg_provider
        .clone()
        .or(env_provider)
        .unwrap_or_else(|| "auto".to_owned());
    let requested = cli_provider.clone().unwrap_or_else(|| configured.clone());
    let same = |a: &str, b: &str| {
        let strip = |s: &str| s.trim_start_matches("custom:").to_ascii_lowercase();
        strip(a) == strip(b)
    };
    let from_cfg = match &cli_provider {
        None => true,
        Some(cli) => {
            same(cli, &configured)
                || (configured.eq_ignore_ascii_case("auto")
                    && cli.eq_ignore_ascii_case("custom")
                    && clean(m.base_url.as_deref()).is_some())
        }
    };
    let req = Request {
        origin: "model".to_owned(),
        provider: requested,
        model: clean(cli_model).or_else(|| clean(m.default.as_deref())),
        base_url: from_cfg.then(|| clean(m.base_url.as_deref())).flatten(),
        api_key: from_cfg
            .then(|| clean(m.api_key.as_ref().map(|k| k.expose())))
            .flatten(),
        key_env: None,
        api_mode: from_cfg.then(|| clean(m.api_mode.as_deref())).flatten(),
        context_length: if from_cfg { m.context_length } else { None },
        headers: if from_cfg {
            m.default_headers.clone()
        } else {
            BTreeMap::new()
        },
        streaming: m.streaming,
        max_tokens: m.max_tokens,
    };
    resolve_request(cfg, env, req)
}

/// Resolves the fallback chain (`fallback_providers`, or the legacy `fallback_model`).
/// Entries that cannot be resolved are skipped; the second list says why, one message
/// per skipped entry.
pub fn resolve_fallbacks(cfg: &Config, env: &Env) -> (Vec<ResolvedModel>, Vec<String>) {
    let legacy = cfg.fallback_providers.is_empty();
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (i, entry) in cfg.fallback_chain().into_iter().enumerate() {
        let origin = if legacy {
            "fallback_model".to_owned()
        } else {
            format!("fallback_providers.{i}")
        };
        match resolve_fallback(cfg, env, entry, &origin) {
            Ok(r) => out.push(r),
            Err(e) => warnings.push(format!("{origin} skipped: {e}")),
        }
    }
    (out, warnings)
}

fn resolve_fallback(
    cfg: &Config,
    env: &Env,
    entry: &FallbackEntry,
    origin: &str,
) -> Result<ResolvedModel, ConfigError> {
    if entry.provider.trim().is_empty() {
        return Err(ConfigError::Provider(format!(
            "{origin}.provider is empty; set it to a provider name (e.g. openrouter)"
        )));
    }
    let req = Request {
        origin: origin.to_owned(),
        provider: entry.provider.trim().to_owned(),
        model: clean(Some(&entry.model)),
        base_url: clean(entry.base_url.as_deref()),
        api_key: clean(entry.api_key.as_ref().map(|k| k.expose())),
        key_env: clean(entry.key_env.as_deref()),
        api_mode: clean(entry.api_mode.as_deref()),
        context_length: None,
        headers: BTreeMap::new(),
        streaming: cfg.model.streaming,
        max_tokens: cfg.model.max_tokens,
    };
    resolve_request(cfg, env, req)
}

fn resolve_request(cfg: &Config, env: &Env, req: Request) -> Result<ResolvedModel, ConfigError> {
    let raw = req.provider.trim().to_owned();
    let named_name = raw.strip_prefix("custom:").unwrap_or(&raw).to_owned();
    if raw.eq_ignore_ascii_case("auto") || raw.is_empty() {
        let detected = detect(&req, env)?;
        return builtin(env, detected, None, None, req);
    }
    if let Some((name, entry)) = cfg.provider_entry(&named_name) {
        if clean(entry.base_url.as_deref()).is_some() {
            return named(env, name, entry, req);
        }
        let lower = name.to_ascii_lowercase();
        if BUILT_IN_PROVIDERS.contains(&lower.as_str()) {
            return builtin(env, &lower, Some(entry), Some(name), req);
        }
        return Err(ConfigError::Provider(format!(
            "providers.{name} has no base_url; add one, e.g. `hermes config set providers.{name}.base_url http://127.0.0.1:8000/v1`"
        )));
    }
    let lower = raw.to_ascii_lowercase();
    if BUILT_IN_PROVIDERS.contains(&lower.as_str()) {
        return builtin(env, &lower, None, None, req);
    }
    if raw.starts_with("custom:") {
        return Err(ConfigError::Provider(format!(
            "{}.provider is `{raw}` but there is no providers.{named_name} entry in config.yaml",
            req.origin
        )));
    }
    if NOT_YET.contains(&lower.as_str()) {
        return Err(ConfigError::Provider(format!(
            "provider `{raw}` is a Hermes provider that hermes-rs does not support yet; use an OpenAI-compatible endpoint instead (`provider: custom` with `base_url`, or a providers.<name> entry)"
        )));
    }
    let names = BUILT_IN_PROVIDERS
        .iter()
        .copied()
        .chain(cfg.providers.keys().map(String::as_str));
    let hint = schema::closest(&lower, names)
        .map(|s| format!(" Did you mean `{s}`?"))
        .unwrap_or_default();
    Err(ConfigError::Provider(format!(
        "unknown provider `{raw}` (from {}.provider or --provider).{hint} Built-in providers: {}; or define providers.{raw} with a base_url in config.yaml",
        req.origin,
        BUILT_IN_PROVIDERS.join(", ")
    )))
}

fn detect(req: &Request, env: &Env) -> Result<&'static str, ConfigError> {
    if req.base_url.is_some() || env.is_set("OPENAI_BASE_URL") {
        Ok("custom")
    } else if env.is_set("ANTHROPIC_API_KEY") || env.is_set("ANTHROPIC_TOKEN") {
        Ok("anthropic")
    } else if env.is_set("OPENROUTER_API_KEY") {
        Ok("openrouter")
    } else if env.is_set("OPENAI_API_KEY") {
        Ok("openai")
    } else {
        Err(ConfigError::Provider(format!(
            "No LLM provider configured: set OPENAI_BASE_URL/OPENAI_API_KEY (any OpenAI-compatible server), ANTHROPIC_API_KEY or OPENROUTER_API_KEY in {}, or model.provider/base_url in config.yaml",
            env.dotenv_display()
        )))
    }
}

/// The key from `api_key` (honouring `no-key-required`) or the variable named by
/// `key_env`. `Ok(None)` when neither is configured; `Err` when `key_env` names an
/// unset variable.
fn explicit_key(
    api_key: Option<&str>,
    key_env: Option<&str>,
    env: &Env,
    origin: &str,
) -> Result<Option<Option<String>>, ConfigError> {
    if let Some(k) = clean(api_key) {
        return Ok(Some((k != NO_KEY_SENTINEL).then_some(k)));
    }
    if let Some(var) = clean(key_env) {
        return match env.get(&var) {
            Some(k) => Ok(Some(Some(k.trim().to_owned()))),
            None => Err(ConfigError::Provider(format!(
                "{origin}.key_env names {var}, but {var} is not set in the environment or in {}; set it with `hermes config set {var} <key>`",
                env.dotenv_display()
            ))),
        };
    }
    Ok(None)
}

fn builtin(
    env: &Env,
    name: &str,
    entry: Option<&ProviderEntry>,
    entry_name: Option<&str>,
    req: Request,
) -> Result<ResolvedModel, ConfigError> {
    let entry_origin = entry_name.map(|n| format!("providers.{n}"));
    let custom_like = CUSTOM_LIKE.contains(&name);
    let spec = BUILTINS.iter().find(|b| b.name == name);
    let label = spec.map_or("custom", |s| s.label);

    // Base URL.
    let mut base_from_openai_env = false;
    let base = match (&req.base_url, spec) {
        (Some(b), _) => {
            base_from_openai_env = custom_like && env.get("OPENAI_BASE_URL").as_deref() == Some(b);
            b.clone()
        }
        (None, Some(s)) => s
            .base_env
            .and_then(|v| env.get(v))
            .unwrap_or_else(|| s.base.unwrap_or_default().to_owned()),
        (None, None) => match env.get("OPENAI_BASE_URL") {
            Some(b) => {
                base_from_openai_env = true;
                b
            }
            None => {
                return Err(ConfigError::Provider(format!(
                    "provider `{name}` needs the server's base URL: set model.base_url in config.yaml (`hermes config set model.base_url http://127.0.0.1:8000/v1`) or OPENAI_BASE_URL in {}",
                    env.dotenv_display()
                )));
            }
        },
    };
    let (base, host, path) = check_url(&base, &format!("{}.base_url", req.origin))?;

    // Key.
    let mut key = explicit_key(
        req.api_key.as_deref(),
        req.key_env.as_deref(),
        env,
        &req.origin,
    )?;
    if key.is_none()
        && let Some(e) = entry
    {
        key = explicit_key(
            e.api_key.as_ref().map(|k| k.expose()),
            e.key_env.as_deref(),
            env,
            entry_origin.as_deref().unwrap_or("providers"),
        )?;
    }
    // `no-key-required` (Some(None)) is a deliberate "none".
    let explicitly_none = matches!(key, Some(None));
    let key = match key {
        Some(k) => k,
        None if custom_like => {
            let openai = (base_from_openai_env || is_openai_host(&host))
                .then(|| env.get("OPENAI_API_KEY"))
                .flatten();
            openai.or_else(|| vendor_key(&host, env))
        }
        None => spec.and_then(|s| s.key_vars.iter().find_map(|v| env.get(v))),
    };
    let key = key.map(|k| k.trim().to_owned()).filter(|k| !k.is_empty());
    if key.is_none() && !explicitly_none {
        let required =
            spec.is_some_and(|s| s.key_required) || (custom_like && !is_local_network_host(&host));
        if required {
            return Err(ConfigError::Provider(missing_key_message(
                name,
                spec,
                &base,
                &req.origin,
                &env.dotenv_display(),
            )));
        }
    }

    let model = req
        .model
        .clone()
        .or_else(|| entry.and_then(|e| clean(e.model.as_deref())))
        .ok_or_else(|| no_model(label, &req.origin))?;
    let api_mode = api_mode(
        req.api_mode
            .as_deref()
            .or(entry.and_then(|e| e.api_mode.as_deref())),
        spec.map_or(ApiMode::ChatCompletions, |s| s.mode),
        &path,
        &req.origin,
    )?;
    let mut headers = entry.map(|e| e.extra_headers.clone()).unwrap_or_default();
    headers.extend(req.headers.clone());
    Ok(ResolvedModel {
        provider: label.to_owned(),
        model,
        base_url: base,
        api_key: key,
        api_mode,
        context_length: req.context_length.or(entry.and_then(|e| e.context_length)),
        streaming: req.streaming,
        max_tokens: req.max_tokens,
        extra_headers: headers.into_iter().collect(),
        request_timeout_seconds: entry.and_then(|e| e.request_timeout_seconds),
    })
}

fn named(
    env: &Env,
    name: &str,
    entry: &ProviderEntry,
    req: Request,
) -> Result<ResolvedModel, ConfigError> {
    let origin = format!("providers.{name}");
    let (base, host, path) = check_url(
        entry.base_url.as_deref().unwrap_or_default(),
        &format!("{origin}.base_url"),
    )?;
    let key = match explicit_key(
        req.api_key.as_deref(),
        req.key_env.as_deref(),
        env,
        &req.origin,
    )? {
        Some(k) => k,
        None => match explicit_key(
            entry.api_key.as_ref().map(|k| k.expose()),
            entry.key_env.as_deref(),
            env,
            &origin,
        )? {
            Some(k) => k,
            None => {
                let openai = is_openai_host(&host)
                    .then(|| env.get("OPENAI_API_KEY"))
                    .flatten();
                let key = openai.or_else(|| vendor_key(&host, env));
                if key.is_none() && !is_local_network_host(&host) {
                    return Err(ConfigError::Provider(format!(
                        "{origin} ({}) has no API key: set {origin}.key_env to the name of a variable in {} (and set that variable with `hermes config set NAME <key>`), or {origin}.api_key; if the server needs no key, set {origin}.api_key: {NO_KEY_SENTINEL}",
                        url::redact(&base),
                        env.dotenv_display()
                    )));
                }
                key
            }
        },
    };
    let model = req
        .model
        .clone()
        .or_else(|| clean(entry.model.as_deref()))
        .ok_or_else(|| no_model(name, &req.origin))?;
    let mode = api_mode(
        req.api_mode.as_deref().or(entry.api_mode.as_deref()),
        ApiMode::ChatCompletions,
        &path,
        &origin,
    )?;
    let mut headers = entry.extra_headers.clone();
    headers.extend(req.headers.clone());
    Ok(ResolvedModel {
        provider: name.to_owned(),
        model,
        base_url: base,
        api_key: key.map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()),
        api_mode: mode,
        context_length: req.context_length.or(entry.context_length),
        streaming: req.streaming,
        max_tokens: req.max_tokens,
        extra_headers: headers.into_iter().collect(),
        request_timeout_seconds: entry.request_timeout_seconds,
    })
}

fn missing_key_message(
    name: &str,
    spec: Option<&Builtin>,
    base: &str,
    origin: &str,
    dotenv: &str,
) -> String {
    match spec {
        Some(s) if !CUSTOM_LIKE.contains(&name) => {
            let vars = s.key_vars.join(" or ");
            format!(
                "provider `{name}` needs an API key: set {vars} in {dotenv} (`hermes config set {} <key>`)",
                s.key_vars.first().copied().unwrap_or("API_KEY")
            )
        }
        _ => format!(
            "the custom endpoint {} has no API key: set {origin}.api_key in config.yaml, or set OPENAI_BASE_URL together with OPENAI_API_KEY in {dotenv}, or use a providers.<name> entry with key_env; if the server needs no key, set {origin}.api_key: {NO_KEY_SENTINEL}",
            url::redact(base)
        ),
    }
}

fn no_model(provider: &str, origin: &str) -> ConfigError {
    if origin == "model" {
        ConfigError::Provider(format!(
            "No model configured for provider `{provider}`: set model.default in config.yaml (`hermes config set model.default <model>`), set HERMES_INFERENCE_MODEL, or pass -m <model>"
        ))
    } else {
        ConfigError::Provider(format!("{origin}.model is empty; set the model to use"))
    }
}

/// The API mode: explicit, else the provider's default, else from the base URL's `path`.
fn api_mode(
    explicit: Option<&str>,
    default: ApiMode,
    path: &str,
    origin: &str,
) -> Result<ApiMode, ConfigError> {
    match explicit.map(str::trim).filter(|s| !s.is_empty()) {
        Some("chat_completions") => Ok(ApiMode::ChatCompletions),
        Some("anthropic_messages") => Ok(ApiMode::AnthropicMessages),
        Some(m @ ("codex_responses" | "bedrock_converse")) => Err(ConfigError::Provider(format!(
            "{origin}.api_mode `{m}` is not supported yet; use chat_completions (OpenAI-compatible) or anthropic_messages"
        ))),
        Some(other) => Err(ConfigError::Provider(format!(
            "{origin}.api_mode `{other}` is unknown; use chat_completions or anthropic_messages"
        ))),
        None => {
            if default == ApiMode::AnthropicMessages
                || path.trim_end_matches('/').ends_with("/anthropic")
            {
                Ok(ApiMode::AnthropicMessages)
            } else {
                Ok(ApiMode::ChatCompletions)
            }
        }
    }
}

/// Validates a base URL (see [`crate::url::parse_base_url`]) and returns it without
/// surrounding space and trailing slashes, with its host and path.
fn check_url(raw: &str, what: &str) -> Result<(String, String, String), ConfigError> {
    let parsed =
        url::parse_base_url(raw).map_err(|e| ConfigError::Provider(format!("{what}: {e}")))?;
    let host = url::host(&parsed).ok_or_else(|| {
        ConfigError::Provider(format!(
            "{what}: base URL `{}` has no host",
            url::redact(raw.trim())
        ))
    })?;
    let base = raw.trim().trim_end_matches('/').to_owned();
    Ok((base, host, parsed.path().to_owned()))
}

fn is_openai_host(host: &str) -> bool {
    host == "api.openai.com" || host.ends_with(".openai.azure.com")
}

/// The vendor variable for a well-known host.
fn vendor_key(host: &str, env: &Env) -> Option<String> {
    let var = if host == "openrouter.ai" || host.ends_with(".openrouter.ai") {
        "OPENROUTER_API_KEY"
    } else if host == "api.anthropic.com" {
        "ANTHROPIC_API_KEY"
    } else if host == "api.deepseek.com" {
        "DEEPSEEK_API_KEY"
    } else if is_openai_host(host) {
        "OPENAI_API_KEY"
    } else {
        return None;
    };
    env.get(var)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_checks() {
        let ok = |u: &str| check_url(u, "k").unwrap();
        assert_eq!(
            ok("http://x:1/v1/"),
            ("http://x:1/v1".into(), "x".into(), "/v1/".into())
        );
        assert_eq!(
            ok("http://user:pw@Example.com:8080/v1").1,
            "example.com".to_owned()
        );
        assert_eq!(ok("http://[::1]:11434/v1").1, "::1".to_owned());
        for bad in [
            "ftp://x",
            "localhost:8000",
            "http://",
            "https://a\\b.openai.azure.com",
        ] {
            let err = check_url(bad, "model.base_url").unwrap_err().to_string();
            assert!(err.starts_with("model.base_url: base URL"), "{err}");
        }
    }

    #[test]
    fn api_mode_detection() {
        let m = |e, d, p| api_mode(e, d, p, "model");
        assert_eq!(
            m(None, ApiMode::ChatCompletions, "/v1").unwrap(),
            ApiMode::ChatCompletions
        );
        assert_eq!(
            m(None, ApiMode::ChatCompletions, "/anthropic/").unwrap(),
            ApiMode::AnthropicMessages
        );
        assert_eq!(
            m(Some("chat_completions"), ApiMode::AnthropicMessages, "/").unwrap(),
            ApiMode::ChatCompletions
        );
        let err = m(Some("codex_responses"), ApiMode::ChatCompletions, "/").unwrap_err();
        assert!(err.to_string().contains("not supported yet"), "{err}");
    }
}
