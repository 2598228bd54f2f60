//! Shared helpers and the test modules.

mod dotenv;
mod home;
mod loading;
mod resolve;
mod show;
mod write;

use std::collections::BTreeMap;
use std::path::Path;

use hermes_config::{ConfigError, Env, HermesHome, LoadedConfig, load, read_dotenv};
use tempfile::TempDir;

/// A fresh home in a temp dir (not created: tests decide).
pub fn temp_home() -> (TempDir, HermesHome) {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = HermesHome::new(dir.path().join("hermes"));
    home.ensure().expect("create home");
    (dir, home)
}

pub fn write(home: &HermesHome, name: &str, text: &str) {
    std::fs::write(home.root().join(name), text).expect("write file");
}

/// An environment with the given "process" variables and the home's real `.env`.
pub fn env_for(home: &HermesHome, process: &[(&str, &str)]) -> Env {
    // A malformed .env is reported by `load` itself.
    let dotenv = read_dotenv(&home.env_path()).unwrap_or_default();
    Env::isolated(
        process
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        dotenv,
    )
}

/// Loads with an isolated environment (never the real process environment).
pub fn load_with(
    home: &HermesHome,
    process: &[(&str, &str)],
    overrides: &[&str],
) -> Result<LoadedConfig, ConfigError> {
    let env = env_for(home, process);
    let overrides: Vec<String> = overrides.iter().map(|s| (*s).to_owned()).collect();
    load(home, &env, &overrides)
}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}
