//! The one error type of this crate.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while finding the data directory, loading or writing
/// configuration, or resolving a model endpoint. Messages say what failed, why, and what
/// to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No data directory could be determined.
    #[error("cannot find the Hermes data directory: {0}; set HERMES_HOME to the directory to use")]
    Home(String),

    /// A file or directory operation failed.
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A YAML file is not well-formed.
    #[error("{}{}: {message}; fix the YAML syntax (indent with spaces, quote values containing `: ` or `#`)", path.display(), position(*line, *column))]
    Syntax {
        path: PathBuf,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },

    /// A value has the wrong type or is out of range. `origin` says where it came from:
    /// `<file> line N`, `environment variable X` or `-c key=value`.
    #[error("{origin}: {key}: {message}")]
    Invalid {
        origin: String,
        key: String,
        message: String,
    },

    /// A `.env` line could not be parsed.
    #[error("{} line {line}: {message}", path.display())]
    Dotenv {
        path: PathBuf,
        line: usize,
        message: String,
    },

    /// A `-c key=value` argument is malformed.
    #[error("invalid override `-c {arg}`: {message}")]
    Override { arg: String, message: String },

    /// A key given to `config set/get/unset` is not acceptable.
    #[error("{key}: {message}")]
    Key { key: String, message: String },

    /// `config set` refused a value because the result would not load.
    #[error("not saved: {key} = {value:?} is invalid: {message}; {} was left unchanged", path.display())]
    Refused {
        key: String,
        value: String,
        message: String,
        path: PathBuf,
    },

    /// A base URL is malformed, or could be read as pointing at a different host than the
    /// HTTP client would connect to. `url` has any credentials replaced by `***`.
    #[error("base URL `{url}` {reason}")]
    BadUrl { url: String, reason: String },

    /// No usable model endpoint could be determined.
    #[error("{0}")]
    Provider(String),
}

fn position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" line {l} column {c}"),
        (Some(l), None) => format!(" line {l}"),
        _ => String::new(),
    }
}

impl ConfigError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        ConfigError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
