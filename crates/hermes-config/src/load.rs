//! Loading the effective configuration.
//!
//! Precedence, lowest first: built-in defaults < `config.yaml` < environment variables <
//! `-c key=value` overrides. The environment is the process environment, then `.env`
//! (see [`Env`]). Environment variables that map onto config keys:
//!
//! | variable | key | rule |
//! |---|---|---|
//! | `HERMES_INFERENCE_MODEL` | `model.default` | overrides the file |
//! | `HERMES_INFERENCE_PROVIDER` | `model.provider` | only when the file sets no provider (or `auto`): a persisted choice beats a stale shell variable, as in Hermes 0.19 |
//! | `OPENAI_BASE_URL` | `model.base_url` | only when no base URL is configured and the provider is unset, `auto` or `custom` |
//! | `HERMES_MAX_TOKENS` | `model.max_tokens` | overrides the file |
//! | `TERMINAL_ENV` | `terminal.backend` | overrides the file; a warning says so when they differ |
//! | `TERMINAL_CWD`, `TERMINAL_TIMEOUT`, `TERMINAL_DOCKER_IMAGE`, `TERMINAL_PERSISTENT_SHELL`, `TERMINAL_CONTAINER_{CPU,MEMORY,DISK,PERSISTENT}`, `TERMINAL_SSH_{HOST,USER,PORT,KEY}` | `terminal.*` | override the file |
//!
//! (Hermes pushes `terminal.*` from the file *into* these variables at start-up, so in
//! Hermes the file wins; here the documented precedence applies, and a differing
//! `TERMINAL_ENV` is reported because it changes where commands run.)
//!
//! String values may reference variables as `${NAME}` (as in Hermes); references are
//! resolved for the typed [`Config`] only, so the trees shown by `config show/get` keep
//! the reference instead of the secret.
//!
//! An unknown `-c` key is an error (it was typed just now; the "did you mean" helps),
//! while an unknown key in the file is only a warning.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde_norway::{Mapping, Value};

use crate::config::Config;
use crate::dotenv::read_dotenv;
use crate::env::{Env, Lookup};
use crate::error::ConfigError;
use crate::fsutil;
use crate::home::HermesHome;
use crate::schema::{self, KeyStatus, Seg, dotted};
use crate::tree;

/// The result of [`load`].
#[derive(Clone)]
pub struct LoadedConfig {
    /// The typed, validated configuration.
    pub config: Config,
    /// The `.env` map (never copied into the process environment).
    pub dotenv: BTreeMap<String, String>,
    /// Problems worth telling the user about (unknown keys, …); loading went on.
    pub warnings: Vec<String>,
    /// The merged effective tree (defaults + file + environment + overrides) for
    /// `config show` / `config get`. `${VAR}` references are not resolved here.
    pub tree: Value,
    /// The user's `config.yaml` as written (an empty mapping when there is none).
    pub file_tree: Value,
}

impl fmt::Debug for LoadedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedConfig")
            .field("config", &self.config)
            .field("dotenv", &self.dotenv.keys().collect::<Vec<_>>())
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

impl LoadedConfig {
    /// Lookups through the process environment, then this home's `.env`.
    pub fn env(&self) -> Env {
        Env::new(self.dotenv.clone())
    }
}

/// How an environment variable applies to its key.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rule {
    Override,
    ProviderIfUnset,
    BaseUrlIfUnset,
}

/// Environment variables that set config keys, in the order they are applied.
const ENV_BINDINGS: &[(&str, &str, Rule)] = &[
    ("HERMES_INFERENCE_MODEL", "model.default", Rule::Override),
    (
        "HERMES_INFERENCE_PROVIDER",
        "model.provider",
        Rule::ProviderIfUnset,
    ),
    ("OPENAI_BASE_URL", "model.base_url", Rule::BaseUrlIfUnset),
    ("HERMES_MAX_TOKENS", "model.max_tokens", Rule::Override),
    ("TERMINAL_ENV", "terminal.backend", Rule::Override),
    ("TERMINAL_CWD", "terminal.cwd", Rule::Override),
    ("TERMINAL_TIMEOUT", "terminal.timeout", Rule::Override),
    (
        "TERMINAL_DOCKER_IMAGE",
        "terminal.docker_image",
        Rule::Override,
    ),
    (
        "TERMINAL_PERSISTENT_SHELL",
        "terminal.persistent_shell",
        Rule::Override,
    ),
    (
        "TERMINAL_CONTAINER_CPU",
        "terminal.container_cpu",
        Rule::Override,
    ),
    (
        "TERMINAL_CONTAINER_MEMORY",
        "terminal.container_memory",
        Rule::Override,
    ),
    (
        "TERMINAL_CONTAINER_DISK",
        "terminal.container_disk",
        Rule::Override,
    ),
    (
        "TERMINAL_CONTAINER_PERSISTENT",
        "terminal.container_persistent",
        Rule::Override,
    ),
    ("TERMINAL_SSH_HOST", "terminal.ssh_host", Rule::Override),
    ("TERMINAL_SSH_USER", "terminal.ssh_user", Rule::Override),
    ("TERMINAL_SSH_PORT", "terminal.ssh_port", Rule::Override),
    ("TERMINAL_SSH_KEY", "terminal.ssh_key", Rule::Override),
];

/// The environment variable that can override a config key, if any.
pub fn env_var_for(key: &str) -> Option<&'static str> {
    let key = tree::parse_key(key)
        .ok()
        .map(|p| dotted(&schema::canonical_path(&p)))?;
    ENV_BINDINGS
        .iter()
        .find(|(_, k, _)| *k == key)
        .map(|(v, _, _)| *v)
}

/// Loads the configuration of `home`. `env` looks up variables: an [`Env`] (process
/// environment, then `.env`) or any closure `|name: &str| -> Option<String>`; `overrides` are
/// `-c key=value` arguments.
pub fn load(
    home: &HermesHome,
    env: &dyn Lookup,
    overrides: &[String],
) -> Result<LoadedConfig, ConfigError> {
    let path = home.config_path();
    let text = fsutil::read_optional(&path)?.unwrap_or_default();
    let dotenv = read_dotenv(&home.env_path())?;
    load_text(&text, &path, dotenv, &|k: &str| env.lookup(k), overrides)
}

/// [`load`] with the process environment and the home's `.env`.
pub fn load_from_process(
    home: &HermesHome,
    overrides: &[String],
) -> Result<LoadedConfig, ConfigError> {
    let dotenv = read_dotenv(&home.env_path())?;
    let env = Env::new(dotenv).with_dotenv_path(home.env_path());
    load(home, &env, overrides)
}

/// Parses config text alone (no environment, no overrides), e.g. for tests and tools
/// that build a [`Config`] from a string. `path` is used in messages.
pub fn parse_config(text: &str, path: &Path) -> Result<Config, ConfigError> {
    Ok(load_text(text, path, BTreeMap::new(), &|_| None, &[])?.config)
}

pub(crate) fn load_text(
    text: &str,
    path: &Path,
    dotenv: BTreeMap<String, String>,
    env: &dyn Fn(&str) -> Option<String>,
    overrides: &[String],
) -> Result<LoadedConfig, ConfigError> {
    let file_tree = tree::parse_file(text, path)?;
    let mut warnings = Vec::new();
    for u in schema::unknown_keys(&file_tree) {
        let key = dotted(&u.path);
        let at = match tree::find_line(text, &u.path) {
            Some(n) => format!("{} line {n}", path.display()),
            None => path.display().to_string(),
        };
        warnings.push(match u.suggestion {
            Some(s) => format!("{at}: unknown key `{key}` (did you mean `{s}`?); it is ignored"),
            None => format!("{at}: unknown key `{key}`; it is ignored"),
        });
    }
    if let Some(Value::Sequence(items)) =
        tree::get(&file_tree, &[Seg::Key("custom_providers".into())])
        && !items.is_empty()
    {
        warnings.push(format!(
            "{}: `custom_providers` is the pre-0.19 list form and is not read; move each entry to `providers.<name>` (base_url, api_key or key_env, api_mode, default_model)",
            path.display()
        ));
    }

    let mut merged = defaults_tree();
    let mut user = file_tree.clone();
    tree::promote_model(&mut user);
    schema::canonicalize(&mut user);
    tree::deep_merge(&mut merged, user);

    let mut origins = Origins::default();
    apply_env(&mut merged, &file_tree, env, &mut origins, &mut warnings);
    for arg in overrides {
        apply_override(&mut merged, arg, &mut origins, &mut warnings)?;
    }

    let origin_of = |segs: &[Seg]| -> String {
        if let Some(o) = origins.find(segs) {
            return o.to_owned();
        }
        match tree::find_line(text, segs) {
            Some(n) => format!("{} line {n}", path.display()),
            None => path.display().to_string(),
        }
    };

    let mut work = merged.clone();
    expand_vars(&mut work, env, &mut Vec::new(), &mut warnings, &origin_of);
    schema::normalize(&mut work);
    let config: Config = serde_path_to_error::deserialize(work).map_err(|e| {
        let segs = segments(e.path());
        ConfigError::Invalid {
            origin: origin_of(&segs),
            key: if segs.is_empty() {
                "(top level)".to_owned()
            } else {
                dotted(&segs)
            },
            message: tidy_message(&e.inner().to_string()),
        }
    })?;
    config.validate().map_err(|(key, message)| {
        let segs = tree::parse_key(&key).unwrap_or_default();
        ConfigError::Invalid {
            origin: origin_of(&segs),
            key,
            message,
        }
    })?;
    Ok(LoadedConfig {
        config,
        dotenv,
        warnings,
        tree: merged,
        file_tree,
    })
}

/// The defaults as a tree.
pub(crate) fn defaults_tree() -> Value {
    serde_norway::to_value(Config::default()).unwrap_or_else(|_| Value::Mapping(Mapping::new()))
}

/// Which environment variable or override last set a key.
#[derive(Default)]
struct Origins(Vec<(Vec<Seg>, String)>);

impl Origins {
    fn record(&mut self, path: Vec<Seg>, origin: String) {
        self.0.retain(|(p, _)| !p.starts_with(&path));
        self.0.push((path, origin));
    }
    fn find(&self, path: &[Seg]) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(p, _)| path.starts_with(p))
            .map(|(_, o)| o.as_str())
    }
}

fn non_empty_str(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).filter(|s| !s.trim().is_empty())
}

fn apply_env(
    merged: &mut Value,
    file_tree: &Value,
    env: &dyn Fn(&str) -> Option<String>,
    origins: &mut Origins,
    warnings: &mut Vec<String>,
) {
    for (var, key, rule) in ENV_BINDINGS {
        let Some(value) = env(var).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let Ok(segs) = tree::parse_key(key) else {
            continue;
        };
        match rule {
            Rule::Override => {}
            Rule::ProviderIfUnset => {
                let current = non_empty_str(tree::get(merged, &segs));
                if current.is_some_and(|p| !p.eq_ignore_ascii_case("auto")) {
                    continue;
                }
            }
            Rule::BaseUrlIfUnset => {
                if non_empty_str(tree::get(merged, &segs)).is_some() {
                    continue;
                }
                let provider = non_empty_str(tree::get(
                    merged,
                    &[Seg::Key("model".into()), Seg::Key("provider".into())],
                ))
                .map(str::to_ascii_lowercase);
                if !matches!(provider.as_deref(), None | Some("auto") | Some("custom")) {
                    continue;
                }
            }
        }
        if *key == "terminal.backend"
            && let Some(file_value) = non_empty_str(tree::get(file_tree, &segs))
            && !file_value.trim().eq_ignore_ascii_case(value.trim())
        {
            warnings.push(format!(
                "environment variable {var}={} overrides terminal.backend: {file_value} from config.yaml; \
                 unset it (or remove it from .env) to use the configured backend",
                value.trim()
            ));
        }
        if tree::set(merged, &segs, Value::String(value)).is_ok() {
            origins.record(segs, format!("environment variable {var}"));
        }
    }
}

fn apply_override(
    merged: &mut Value,
    arg: &str,
    origins: &mut Origins,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let bad = |message: String| ConfigError::Override {
        arg: arg.to_owned(),
        message,
    };
    let Some((key, raw)) = arg.split_once('=') else {
        return Err(bad(
            "expected key=value, e.g. -c agent.max_turns=5".to_owned()
        ));
    };
    let segs = tree::parse_key(key).map_err(bad)?;
    match schema::classify(&segs) {
        KeyStatus::Known => {}
        KeyStatus::Hermes => warnings.push(format!(
            "-c {arg}: `{}` is a Hermes setting that hermes-rs does not use; it has no effect",
            key.trim()
        )),
        KeyStatus::Unknown { suggestion } => {
            return Err(bad(match suggestion {
                Some(s) => format!("unknown key `{}`; did you mean `{s}`?", key.trim()),
                None => format!("unknown key `{}`", key.trim()),
            }));
        }
    }
    let value = parse_value_arg(raw).map_err(bad)?;
    let segs = schema::canonical_path(&segs);
    tree::set(merged, &segs, value).map_err(bad)?;
    origins.record(segs, format!("-c {arg}"));
    Ok(())
}

/// Parses an override value as a YAML scalar or flow value (`5`, `true`, `gpt-4o`,
/// `[a, b]`, `{x: 1}`).
pub(crate) fn parse_value_arg(raw: &str) -> Result<Value, String> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(Value::String(String::new()));
    }
    match serde_norway::from_str::<Value>(t) {
        Ok(Value::Null) if !matches!(t, "null" | "Null" | "NULL" | "~") => {
            Ok(Value::String(t.to_owned()))
        }
        Ok(v) => Ok(v),
        Err(e) => Err(format!(
            "the value is not valid YAML ({}); quote it, e.g. '\"{t}\"'",
            crate::tree::strip_position(&e.to_string())
        )),
    }
}

/// Resolves `${NAME}` in string values. Unresolved references stay as written and are
/// reported for keys hermes-rs reads.
fn expand_vars(
    v: &mut Value,
    env: &dyn Fn(&str) -> Option<String>,
    path: &mut Vec<Seg>,
    warnings: &mut Vec<String>,
    origin_of: &dyn Fn(&[Seg]) -> String,
) {
    match v {
        Value::String(s) if s.contains("${") => {
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            let mut missing = Vec::new();
            while let Some(start) = rest.find("${") {
                out.push_str(&rest[..start]);
                let after = &rest[start + 2..];
                match after.find('}') {
                    Some(end) if crate::dotenv::valid_name(&after[..end]) => {
                        let name = &after[..end];
                        match env(name).filter(|x| !x.is_empty()) {
                            Some(val) => out.push_str(&val),
                            None => {
                                missing.push(name.to_owned());
                                out.push_str(&rest[start..start + 3 + end]);
                            }
                        }
                        rest = &after[end + 1..];
                    }
                    _ => {
                        out.push_str("${");
                        rest = after;
                    }
                }
            }
            out.push_str(rest);
            if !missing.is_empty() && schema::classify(path) == KeyStatus::Known {
                warnings.push(format!(
                    "{}: {}: ${{{}}} is not set in the environment or .env; the text is used as written",
                    origin_of(path),
                    dotted(path),
                    missing.join("}, ${")
                ));
            }
            *s = out;
        }
        Value::Mapping(m) => {
            for (k, item) in m.iter_mut() {
                path.push(Seg::Key(match k.as_str() {
                    Some(s) => s.to_owned(),
                    None => continue,
                }));
                expand_vars(item, env, path, warnings, origin_of);
                path.pop();
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(Seg::Index(i));
                expand_vars(item, env, path, warnings, origin_of);
                path.pop();
            }
        }
        _ => {}
    }
}

fn segments(path: &serde_path_to_error::Path) -> Vec<Seg> {
    path.iter()
        .filter_map(|s| match s {
            serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
            serde_path_to_error::Segment::Map { key } => Some(Seg::Key(key.clone())),
            serde_path_to_error::Segment::Enum { variant } => Some(Seg::Key(variant.clone())),
            serde_path_to_error::Segment::Unknown => None,
        })
        .collect()
}

/// Replaces Rust type names in serde messages with words.
pub(crate) fn tidy_message(msg: &str) -> String {
    let mut out = msg.to_owned();
    for (from, to) in [
        ("expected u8", "expected an integer (0 to 255)"),
        ("expected u16", "expected an integer (0 to 65535)"),
        ("expected u32", "expected an integer (0 or more)"),
        ("expected u64", "expected an integer (0 or more)"),
        ("expected usize", "expected an integer (0 or more)"),
        ("expected i32", "expected an integer"),
        ("expected i64", "expected an integer"),
        ("expected f32", "expected a number"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected a list"),
        ("expected a map", "expected a mapping"),
        ("expected a borrowed string", "expected a string"),
    ] {
        out = out.replace(from, to);
    }
    if let Some(i) = out.find("expected struct ") {
        out.truncate(i);
        out.push_str("expected a mapping of settings");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(
        text: &str,
        env: &[(&str, &str)],
        overrides: &[&str],
    ) -> Result<LoadedConfig, ConfigError> {
        let env = Env::from_pairs(env);
        let overrides: Vec<String> = overrides.iter().map(|s| (*s).to_owned()).collect();
        load_text(
            text,
            Path::new("/h/config.yaml"),
            BTreeMap::new(),
            &|k| env.get(k),
            &overrides,
        )
    }

    #[test]
    fn provider_env_only_fills_an_unset_provider() {
        let c = load_str(
            "model: {provider: openrouter}\n",
            &[("HERMES_INFERENCE_PROVIDER", "anthropic")],
            &[],
        )
        .unwrap();
        assert_eq!(c.config.model.provider.as_deref(), Some("openrouter"));
        let c = load_str(
            "model: {provider: auto}\n",
            &[("HERMES_INFERENCE_PROVIDER", "anthropic")],
            &[],
        )
        .unwrap();
        assert_eq!(c.config.model.provider.as_deref(), Some("anthropic"));
    }

    #[test]
    fn openai_base_url_only_when_unconfigured() {
        let env = [("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")];
        let c = load_str("", &env, &[]).unwrap();
        assert_eq!(
            c.config.model.base_url.as_deref(),
            Some("http://127.0.0.1:8000/v1")
        );
        let c = load_str("model: {base_url: 'http://x/v1'}\n", &env, &[]).unwrap();
        assert_eq!(c.config.model.base_url.as_deref(), Some("http://x/v1"));
        let c = load_str("model: {provider: anthropic}\n", &env, &[]).unwrap();
        assert_eq!(c.config.model.base_url, None);
    }

    #[test]
    fn dollar_references_resolve_in_config_but_not_in_tree() {
        let c = load_str(
            "model: {api_key: '${MY_KEY}', base_url: 'http://h/${NOPE}'}\n",
            &[("MY_KEY", "sk-123")],
            &[],
        )
        .unwrap();
        assert_eq!(
            c.config.model.api_key.as_ref().map(|s| s.expose()),
            Some("sk-123")
        );
        assert_eq!(c.config.model.base_url.as_deref(), Some("http://h/${NOPE}"));
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("${NOPE}") && w.contains("model.base_url")),
            "{:?}",
            c.warnings
        );
        let tree_key = tree::get(&c.tree, &tree::parse_key("model.api_key").unwrap());
        assert_eq!(tree_key.and_then(Value::as_str), Some("${MY_KEY}"));
    }

    #[test]
    fn override_values_parse_as_yaml() {
        assert_eq!(parse_value_arg("5").unwrap(), Value::Number(5.into()));
        assert_eq!(
            parse_value_arg("gpt-4o").unwrap(),
            Value::String("gpt-4o".into())
        );
        assert_eq!(parse_value_arg("# x").unwrap(), Value::String("# x".into()));
        assert!(matches!(
            parse_value_arg("[a, b]").unwrap(),
            Value::Sequence(_)
        ));
        assert!(parse_value_arg("[a, b").is_err());
    }

    #[test]
    fn alias_overrides_land_on_the_canonical_key() {
        let c = load_str("model: {default: a}\n", &[], &["model.model=b"]).unwrap();
        assert_eq!(c.config.model.default.as_deref(), Some("b"));
        let c = load_str("model: {model: a}\n", &[], &[]).unwrap();
        assert_eq!(c.config.model.default.as_deref(), Some("a"));
    }

    #[test]
    fn tidy_message_speaks_words() {
        assert_eq!(
            tidy_message("invalid type: string \"lots\", expected u32"),
            "invalid type: string \"lots\", expected an integer (0 or more)"
        );
        assert_eq!(
            tidy_message("invalid type: integer `5`, expected struct AgentConfig"),
            "invalid type: integer `5`, expected a mapping of settings"
        );
    }

    #[test]
    fn env_var_for_known_keys() {
        assert_eq!(env_var_for("terminal.backend"), Some("TERMINAL_ENV"));
        assert_eq!(env_var_for("model.model"), Some("HERMES_INFERENCE_MODEL"));
        assert_eq!(env_var_for("agent.max_turns"), None);
    }
}
