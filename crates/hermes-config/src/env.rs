//! Environment lookups: the process environment first, then `$HERMES_HOME/.env`.
//!
//! `.env` is read into a map and consulted here; it is never copied into the process
//! environment, so secrets do not leak into child processes. Empty values count as unset.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::home::HermesHome;

/// Anything that can look a variable up: an [`Env`], or a closure
/// `|name| -> Option<String>` (handy in tests).
pub trait Lookup {
    /// The value of `name`, if set.
    fn lookup(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Lookup for F {
    fn lookup(&self, name: &str) -> Option<String> {
        self(name)
    }
}

impl Lookup for Env {
    fn lookup(&self, name: &str) -> Option<String> {
        self.get(name)
    }
}

/// Where a variable's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvSource {
    /// The process environment.
    Process,
    /// `$HERMES_HOME/.env`.
    DotEnv,
}

#[derive(Clone)]
enum Process {
    Real,
    Fixed(BTreeMap<String, String>),
}

/// Variable lookup: process environment, then the `.env` map.
#[derive(Clone)]
pub struct Env {
    process: Process,
    dotenv: BTreeMap<String, String>,
    /// Where `dotenv` was read from, when the caller said so.
    dotenv_path: Option<PathBuf>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: values may be secrets.
        f.debug_struct("Env")
            .field(
                "process",
                &match &self.process {
                    Process::Real => "real".to_owned(),
                    Process::Fixed(m) => format!("{:?}", m.keys().collect::<Vec<_>>()),
                },
            )
            .field("dotenv", &self.dotenv.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Env {
    /// The real process environment, then `dotenv`.
    pub fn new(dotenv: BTreeMap<String, String>) -> Env {
        Env {
            process: Process::Real,
            dotenv,
            dotenv_path: None,
        }
    }

    /// A fixed "process environment" instead of the real one (tests, embedding).
    pub fn isolated(process: BTreeMap<String, String>, dotenv: BTreeMap<String, String>) -> Env {
        Env {
            process: Process::Fixed(process),
            dotenv,
            dotenv_path: None,
        }
    }

    /// Convenience for tests: an isolated environment from pairs, with an empty `.env`.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Env {
        Env::isolated(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            BTreeMap::new(),
        )
    }

    /// The value of `name`, ignoring empty values.
    pub fn get(&self, name: &str) -> Option<String> {
        self.get_with_source(name).map(|(v, _)| v)
    }

    /// The value of `name` and where it came from.
    pub fn get_with_source(&self, name: &str) -> Option<(String, EnvSource)> {
        let process = match &self.process {
            Process::Real => std::env::var(name).ok(),
            Process::Fixed(m) => m.get(name).cloned(),
        };
        if let Some(v) = process.filter(|v| !v.trim().is_empty()) {
            return Some((v, EnvSource::Process));
        }
        self.dotenv
            .get(name)
            .filter(|v| !v.trim().is_empty())
            .map(|v| (v.clone(), EnvSource::DotEnv))
    }

    /// Whether `name` has a non-empty value.
    pub fn is_set(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The `.env` map.
    pub fn dotenv(&self) -> &BTreeMap<String, String> {
        &self.dotenv
    }

    /// Records the file the `.env` map was read from (used in messages).
    pub fn with_dotenv_path(mut self, path: impl Into<PathBuf>) -> Env {
        self.dotenv_path = Some(path.into());
        self
    }

    /// The `.env` file as messages should name it: the path given to
    /// [`with_dotenv_path`](Env::with_dotenv_path), else the one this environment's
    /// `HERMES_HOME` (or `HOME`) points to, else `$HERMES_HOME/.env`.
    pub fn dotenv_display(&self) -> String {
        if let Some(p) = &self.dotenv_path {
            return p.display().to_string();
        }
        let home = match &self.process {
            Process::Real => HermesHome::resolve(),
            Process::Fixed(m) => HermesHome::resolve_with(&|k| m.get(k).cloned(), None, None),
        };
        home.map_or_else(
            |_| "$HERMES_HOME/.env".to_owned(),
            |h| h.env_path().display().to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_wins_and_empty_means_unset() {
        let dotenv: BTreeMap<String, String> = [("A", "file"), ("B", "file"), ("C", "")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let process = [("A", "proc"), ("B", "")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let env = Env::isolated(process, dotenv);
        assert_eq!(
            env.get_with_source("A"),
            Some(("proc".into(), EnvSource::Process))
        );
        assert_eq!(
            env.get_with_source("B"),
            Some(("file".into(), EnvSource::DotEnv))
        );
        assert_eq!(env.get("C"), None);
        assert_eq!(env.get("D"), None);
    }

    #[test]
    fn the_dotenv_path_follows_hermes_home() {
        let env = Env::from_pairs(&[("HERMES_HOME", "/srv/hermes"), ("HOME", "/home/u")]);
        assert_eq!(env.dotenv_display(), "/srv/hermes/.env");
        let env = Env::from_pairs(&[("HOME", "/home/u")]);
        assert_eq!(env.dotenv_display(), "/home/u/.hermes/.env");
        assert_eq!(Env::from_pairs(&[]).dotenv_display(), "$HERMES_HOME/.env");
        let env = Env::from_pairs(&[]).with_dotenv_path("/x/.env");
        assert_eq!(env.dotenv_display(), "/x/.env");
    }

    #[test]
    fn debug_shows_names_not_values() {
        let env = Env::from_pairs(&[("OPENAI_API_KEY", "sk-secret")]);
        let s = format!("{env:?}");
        assert!(
            s.contains("OPENAI_API_KEY") && !s.contains("sk-secret"),
            "{s}"
        );
    }
}
