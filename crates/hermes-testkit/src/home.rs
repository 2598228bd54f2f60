//! A throwaway `HERMES_HOME`.

use std::io;
use std::path::{Path, PathBuf};

/// A temporary directory used as `HERMES_HOME`; removed when dropped.
pub struct TempHome {
    dir: tempfile::TempDir,
}

impl TempHome {
    /// Creates an empty home in the system temp directory.
    pub fn new() -> io::Result<TempHome> {
        Ok(TempHome {
            dir: tempfile::Builder::new().prefix("hermes-home-").tempdir()?,
        })
    }

    /// The home directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `("HERMES_HOME", path)`, for `Command::env`.
    pub fn env(&self) -> (&'static str, PathBuf) {
        ("HERMES_HOME", self.path().to_path_buf())
    }

    /// Writes `config.yaml`.
    pub fn write_config(&self, yaml: &str) -> io::Result<PathBuf> {
        self.write_file("config.yaml", yaml)
    }

    /// Writes `.env`.
    pub fn write_env(&self, contents: &str) -> io::Result<PathBuf> {
        self.write_file(".env", contents)
    }

    /// Writes a file below the home (parent directories are created).
    pub fn write_file(&self, relative: impl AsRef<Path>, contents: &str) -> io::Result<PathBuf> {
        let path = self.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, contents)?;
        Ok(path)
    }

    /// Reads a file below the home.
    pub fn read_file(&self, relative: impl AsRef<Path>) -> io::Result<String> {
        std::fs::read_to_string(self.path().join(relative))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_config_and_env() {
        let home = TempHome::new().unwrap();
        home.write_config("model:\n  default: m\n").unwrap();
        home.write_env("OPENAI_API_KEY=x\n").unwrap();
        home.write_file("memories/MEMORY.md", "note").unwrap();
        assert_eq!(
            home.read_file("config.yaml").unwrap(),
            "model:\n  default: m\n"
        );
        assert!(home.path().join(".env").is_file());
        assert_eq!(home.read_file("memories/MEMORY.md").unwrap(), "note");
        let p = home.path().to_path_buf();
        drop(home);
        assert!(!p.exists());
    }
}
