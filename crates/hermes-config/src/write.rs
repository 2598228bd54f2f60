//! `hermes config set / get / unset`.
//!
//! Like Hermes: keys that are environment variable names go to `.env` (upper-cased):
//! any all-uppercase name (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, `TELEGRAM_ALLOWED_USERS`),
//! and lower-case names ending in `_api_key`, `_token`, `_secret` or `_password` or
//! starting with `terminal_ssh`. Everything else is a dotted path into `config.yaml`
//! (numeric segments index lists), created as needed.
//!
//! Values are coerced as Hermes does: `true/yes/on` and `false/no/off` are booleans,
//! digits are integers, `1.5` is a float, anything else is a string. Ours in addition:
//! a value starting with `[` or `{` is read as a YAML flow value (`[a, b]`), and keys
//! that hold strings (`model.default`) always store the text as written (`4` stays `"4"`).
//!
//! Safety: the result must still load (types, ranges), otherwise nothing is written.
//! Unknown keys are refused with a "did you mean" unless forced. Strings that Hermes'
//! YAML 1.1 reader would take for booleans, null or numbers are single-quoted
//! (`mode: 'off'`). Files are replaced atomically ([`write_atomic`](crate::write_atomic)) and keep their mode;
//! a new `.env` or `config.yaml` is created 0600, and an existing `.env` readable by
//! others is tightened to 0600 when a secret is written to it. YAML comments in
//! `config.yaml` are not preserved by a `set` (as in Hermes).

use std::path::{Path, PathBuf};

use serde_norway::Value;

use crate::dotenv::{self, valid_name};
use crate::emit;
use crate::error::ConfigError;
use crate::fsutil;
use crate::home::HermesHome;
use crate::load::{env_var_for, load_text};
use crate::schema::{self, KeyStatus, Seg};
use crate::tree;

/// Options for [`set_value_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SetOptions {
    /// Write keys that neither hermes-rs nor Hermes knows (`config set --force`).
    pub force: bool,
}

/// Where a value was written.
#[derive(Debug, Clone, PartialEq)]
pub enum SetTarget {
    /// `NAME=value` in `.env` (the value is not repeated here).
    Env { path: PathBuf, name: String },
    /// A key in `config.yaml`, with the value as stored.
    Config {
        path: PathBuf,
        key: String,
        value: Value,
    },
}

/// What [`set_value`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct SetOutcome {
    pub target: SetTarget,
    /// Things to tell the user (key hermes-rs ignores, plain-text secret, …).
    pub warnings: Vec<String>,
    /// The environment variable that overrides this key when set (the caller can check
    /// the process environment and warn).
    pub env_override: Option<&'static str>,
    /// `.env` also held that variable and was updated to match, as Hermes does.
    pub synced_env: Option<String>,
}

impl std::fmt::Display for SetOutcome {
    /// The confirmation line `config set` prints (warnings are separate).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.target {
            SetTarget::Env { path, name } => write!(f, "✓ Set {name} in {}", path.display()),
            SetTarget::Config { path, key, value } => write!(
                f,
                "✓ Set {key} = {} in {}",
                value_to_display(value),
                path.display()
            ),
        }
    }
}

/// A value as `config get` prints it: scalars bare (`gpt-4o`, `90`, `true`, `null`),
/// lists and mappings as YAML.
pub fn value_to_display(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => serde_norway::to_string(other)
            .map(|s| s.trim_end().to_owned())
            .unwrap_or_else(|e| format!("(cannot display: {e})")),
    }
}

/// The `.env` variable name for `key`, when `key` belongs in `.env`.
pub fn env_key_name(key: &str) -> Option<String> {
    let key = key.trim();
    if !valid_name(key) {
        return None;
    }
    let upper = key.to_ascii_uppercase();
    let secretish = ["_API_KEY", "_TOKEN", "_SECRET", "_PASSWORD"]
        .iter()
        .any(|s| upper.ends_with(s))
        || upper.starts_with("TERMINAL_SSH");
    let all_upper = key == upper && key.chars().any(|c| c.is_ascii_uppercase());
    (all_upper || secretish).then_some(upper)
}

/// `config set KEY VALUE` (unknown keys refused).
pub fn set_value(home: &HermesHome, key: &str, value: &str) -> Result<SetOutcome, ConfigError> {
    set_value_with(home, key, value, SetOptions::default())
}

/// `config set KEY VALUE` with options.
pub fn set_value_with(
    home: &HermesHome,
    key: &str,
    value: &str,
    options: SetOptions,
) -> Result<SetOutcome, ConfigError> {
    let mut warnings = home.ensure()?.warnings;
    if let Some(name) = env_key_name(key) {
        let path = home.env_path();
        warnings.extend(write_env_var(&path, &name, value)?);
        return Ok(SetOutcome {
            target: SetTarget::Env { path, name },
            warnings,
            env_override: None,
            synced_env: None,
        });
    }

    let bad_key = |message: String| ConfigError::Key {
        key: key.to_owned(),
        message,
    };
    let segs = tree::parse_key(key).map_err(bad_key)?;
    match schema::classify(&segs) {
        KeyStatus::Known => {}
        KeyStatus::Hermes => warnings.push(format!(
            "`{key}` is a Hermes setting that hermes-rs does not use; it is saved for Hermes"
        )),
        KeyStatus::Unknown { suggestion } if !options.force => {
            let hint = suggestion.map_or(String::new(), |s| format!("did you mean `{s}`? "));
            return Err(bad_key(format!(
                "unknown config key; {hint}(use --force to write it anyway)"
            )));
        }
        KeyStatus::Unknown { .. } => warnings.push(format!(
            "`{key}` is not a known key; it was written because of --force and will be ignored"
        )),
    }
    let mut segs = schema::canonical_path(&segs);
    let path = real_path(&home.config_path());
    let text = fsutil::read_optional(&path)?.unwrap_or_default();
    let mut file_tree = tree::parse_file(&text, &path)?;
    // `config set model X` on a mapping-form model changes the model name, not the
    // whole section (which would drop provider and base_url).
    if segs == [Seg::Key("model".into())]
        && matches!(tree::get(&file_tree, &segs), Some(Value::Mapping(_)))
    {
        segs.push(Seg::Key("default".into()));
    }
    let dotted = schema::dotted(&segs);
    if dotted.ends_with("api_key") && !value.trim().is_empty() && value.trim() != "no-key-required"
    {
        warnings.push(format!(
            "{dotted} is stored in config.yaml in plain text; prefer keeping keys in .env \
             (e.g. `hermes config set OPENAI_API_KEY <key>`, or providers.<name>.key_env)"
        ));
    }

    let stored = if schema::is_string_key(&segs) {
        Value::String(value.to_owned())
    } else {
        coerce(value).map_err(|message| ConfigError::Refused {
            key: key.to_owned(),
            value: value.to_owned(),
            message,
            path: path.clone(),
        })?
    };
    tree::set(&mut file_tree, &segs, stored.clone()).map_err(bad_key)?;
    let new_text = emit::to_yaml(&file_tree).map_err(|message| ConfigError::Refused {
        key: key.to_owned(),
        value: value.to_owned(),
        message,
        path: path.clone(),
    })?;
    if let Err(e) = load_text(&new_text, &path, Default::default(), &|_| None, &[]) {
        let message = match e {
            ConfigError::Invalid {
                key: bad, message, ..
            } if bad == dotted => message,
            ConfigError::Invalid {
                key: bad, message, ..
            } => format!("{bad}: {message}"),
            other => other.to_string(),
        };
        return Err(ConfigError::Refused {
            key: key.to_owned(),
            value: value.to_owned(),
            message,
            path,
        });
    }
    fsutil::replace(&path, new_text.as_bytes(), None)?;

    let env_override = env_var_for(&dotted);
    let mut synced_env = None;
    if let Some(var) = env_override {
        let env_path = home.env_path();
        if dotenv::read_dotenv(&env_path)?.contains_key(var) {
            let text_value = match &stored {
                Value::String(s) => s.clone(),
                other => serde_norway::to_string(other)
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_else(|_| value.to_owned()),
            };
            warnings.extend(write_env_var(&env_path, var, &text_value)?);
            synced_env = Some(var.to_owned());
        }
    }
    Ok(SetOutcome {
        target: SetTarget::Config {
            path,
            key: dotted,
            value: stored,
        },
        warnings,
        env_override,
        synced_env,
    })
}

/// What [`unset_value`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsetOutcome {
    /// The key as removed: the `.env` variable name (`OPENAI_API_KEY`) or the key as given.
    pub key: String,
    /// The file the key was looked for in (`.env` or `config.yaml`).
    pub path: PathBuf,
    /// Whether the key was there (and is now gone).
    pub removed: bool,
}

impl std::fmt::Display for UnsetOutcome {
    /// The line `config unset` prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.removed {
            write!(f, "✓ Removed {} from {}", self.key, self.path.display())
        } else {
            write!(f, "{} is not set in {}", self.key, self.path.display())
        }
    }
}

/// `config unset KEY`: removes a `.env` variable (for environment-style names, see the
/// module docs) or a `config.yaml` key, and says which file it looked in.
pub fn unset_value(home: &HermesHome, key: &str) -> Result<UnsetOutcome, ConfigError> {
    if let Some(name) = env_key_name(key) {
        let path = real_path(&home.env_path());
        let Some(text) = fsutil::read_optional(&path)? else {
            return Ok(UnsetOutcome {
                key: name,
                path,
                removed: false,
            });
        };
        let (mut new_text, found) = dotenv::remove_in_text(&text, &name);
        if found {
            if !new_text.is_empty() && !new_text.ends_with('\n') {
                new_text.push('\n');
            }
            fsutil::replace(&path, new_text.as_bytes(), None)?;
        }
        return Ok(UnsetOutcome {
            key: name,
            path,
            removed: found,
        });
    }
    let segs = tree::parse_key(key).map_err(|message| ConfigError::Key {
        key: key.to_owned(),
        message,
    })?;
    let path = real_path(&home.config_path());
    let outcome = |removed| UnsetOutcome {
        key: key.trim().to_owned(),
        path: path.clone(),
        removed,
    };
    let Some(text) = fsutil::read_optional(&path)? else {
        return Ok(outcome(false));
    };
    let mut file_tree = tree::parse_file(&text, &path)?;
    tree::promote_model_if_needed(&mut file_tree, &segs);
    let removed = tree::remove(&mut file_tree, &schema::canonical_path(&segs))
        | tree::remove(&mut file_tree, &segs);
    if removed {
        let new_text = emit::to_yaml(&file_tree).map_err(|message| ConfigError::Key {
            key: key.to_owned(),
            message: format!(
                "not removed: {message}; {} was left unchanged",
                path.display()
            ),
        })?;
        fsutil::replace(&path, new_text.as_bytes(), None)?;
    }
    Ok(outcome(removed))
}

/// `config get KEY`: the value at a dotted key in a tree (use [`LoadedConfig::tree`] for
/// the effective value, `file_tree` for what the user wrote).
///
/// [`LoadedConfig::tree`]: crate::LoadedConfig::tree
pub fn get_value<'a>(tree: &'a Value, key: &str) -> Option<&'a Value> {
    let segs = tree::parse_key(key).ok()?;
    tree::get(tree, &schema::canonical_path(&segs)).or_else(|| tree::get(tree, &segs))
}

/// Hermes' value coercion, plus YAML flow values.
fn coerce(raw: &str) -> Result<Value, String> {
    let lower = raw.trim().to_ascii_lowercase();
    match lower.as_str() {
        "true" | "yes" | "on" => return Ok(Value::Bool(true)),
        "false" | "no" | "off" => return Ok(Value::Bool(false)),
        _ => {}
    }
    let t = raw.trim();
    if !t.is_empty()
        && t.chars().all(|c| c.is_ascii_digit())
        && let Ok(n) = t.parse::<u64>()
    {
        return Ok(Value::Number(n.into()));
    }
    if let Some((a, b)) = t.split_once('.')
        && !(a.is_empty() && b.is_empty())
        && a.chars().all(|c| c.is_ascii_digit())
        && b.chars().all(|c| c.is_ascii_digit())
        && let Ok(f) = t.parse::<f64>()
    {
        return Ok(Value::Number(f.into()));
    }
    if t.starts_with('[') || t.starts_with('{') {
        return serde_norway::from_str::<Value>(t).map_err(|e| {
            format!(
                "it looks like a YAML list or mapping but does not parse ({})",
                crate::tree::strip_position(&e.to_string())
            )
        });
    }
    Ok(Value::String(raw.to_owned()))
}

/// Follows a symlinked file so that the link survives an atomic replace.
fn real_path(path: &Path) -> PathBuf {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
        }
        _ => path.to_owned(),
    }
}

/// Sets one variable in a `.env` file; returns warnings.
fn write_env_var(path: &Path, name: &str, value: &str) -> Result<Vec<String>, ConfigError> {
    let path = real_path(path);
    let mut warnings = Vec::new();
    let text = fsutil::read_optional(&path)?.unwrap_or_default();
    let new_text =
        dotenv::set_in_text(&text, name, value).map_err(|message| ConfigError::Refused {
            key: name.to_owned(),
            value: "***".to_owned(),
            message,
            path: path.clone(),
        })?;
    // The result must read back as written (and the rest of the file must still parse).
    let parsed = dotenv::parse_dotenv(&new_text, &path)?;
    if parsed.get(name).map(String::as_str) != Some(value) {
        return Err(ConfigError::Refused {
            key: name.to_owned(),
            value: "***".to_owned(),
            message: "the value would not read back unchanged from .env".to_owned(),
            path,
        });
    }
    let mode = match fsutil::mode_of(&path) {
        Some(m) if m & 0o077 != 0 => {
            warnings.push(format!(
                "{} was readable by other users (mode {m:o}); it is now 0600",
                path.display()
            ));
            fsutil::PRIVATE_FILE
        }
        Some(m) => m,
        None => fsutil::PRIVATE_FILE,
    };
    fsutil::replace(&path, new_text.as_bytes(), Some(mode))?;
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_display_plainly() {
        assert_eq!(value_to_display(&Value::String("gpt-4o".into())), "gpt-4o");
        assert_eq!(value_to_display(&Value::Number(90.into())), "90");
        let list: Value = serde_norway::from_str("[a, b]").unwrap();
        assert_eq!(value_to_display(&list), "- a\n- b");
        let out = SetOutcome {
            target: SetTarget::Config {
                path: PathBuf::from("/h/config.yaml"),
                key: "agent.max_turns".into(),
                value: Value::Number(5.into()),
            },
            warnings: Vec::new(),
            env_override: None,
            synced_env: None,
        };
        assert_eq!(
            out.to_string(),
            "✓ Set agent.max_turns = 5 in /h/config.yaml"
        );
    }

    #[test]
    fn env_keys_are_recognised() {
        assert_eq!(
            env_key_name("OPENAI_API_KEY").as_deref(),
            Some("OPENAI_API_KEY")
        );
        assert_eq!(
            env_key_name("openrouter_api_key").as_deref(),
            Some("OPENROUTER_API_KEY")
        );
        assert_eq!(
            env_key_name("OPENAI_BASE_URL").as_deref(),
            Some("OPENAI_BASE_URL")
        );
        assert_eq!(
            env_key_name("telegram_bot_token").as_deref(),
            Some("TELEGRAM_BOT_TOKEN")
        );
        assert_eq!(env_key_name("model.api_key"), None);
        assert_eq!(env_key_name("timezone"), None);
        assert_eq!(env_key_name("telegram.bot_token"), None);
    }

    #[test]
    fn coercion_follows_hermes() {
        assert_eq!(coerce("yes").unwrap(), Value::Bool(true));
        assert_eq!(coerce("Off").unwrap(), Value::Bool(false));
        assert_eq!(coerce("42").unwrap(), Value::Number(42.into()));
        assert_eq!(coerce("0.5").unwrap(), Value::Number(0.5.into()));
        assert_eq!(coerce("-5").unwrap(), Value::String("-5".into()));
        assert_eq!(coerce("1.2.3").unwrap(), Value::String("1.2.3".into()));
        assert_eq!(coerce("gpt-4o").unwrap(), Value::String("gpt-4o".into()));
        assert!(matches!(coerce("[a, b]").unwrap(), Value::Sequence(v) if v.len() == 2));
        assert!(coerce("[a, b").is_err());
    }
}
