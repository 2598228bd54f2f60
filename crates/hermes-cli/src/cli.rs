//! The command-line interface: Hermes Agent's commands and flags.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A self-hosted AI agent with a sandboxed execution boundary.
///
/// Run `hermes` (or `hermes chat`) for an interactive session, or `hermes -z "…"` for one
/// answer. Settings live in $HERMES_HOME (default ~/.hermes): config.yaml, .env, SOUL.md.
#[derive(Debug, Parser)]
#[command(name = "hermes", version = crate::VERSION, disable_version_flag = true)]
#[command(
    after_help = "Exit codes: 0 success, 1 the run failed, 2 bad usage or configuration \
or an incomplete run (iteration limit), 130 interrupted."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Args, Default)]
pub struct Global {
    /// Print the version and exit.
    #[arg(short = 'V', long = "version", global = true)]
    pub version: bool,

    /// One-shot mode: answer PROMPT and print only the final text.
    #[arg(short = 'z', long = "oneshot", value_name = "PROMPT")]
    pub oneshot: Option<String>,

    /// Model to use (overrides model.default).
    #[arg(short = 'm', long = "model", global = true)]
    pub model: Option<String>,

    /// Provider to use (openai, anthropic, openrouter, custom, ollama, or a name under
    /// `providers:`).
    #[arg(long = "provider", global = true)]
    pub provider: Option<String>,

    /// Resume a session by id, id prefix or title.
    #[arg(short = 'r', long = "resume", value_name = "SESSION", global = true)]
    pub resume: Option<String>,

    /// Continue the most recent CLI session (or the newest one with this title).
    #[arg(long = "continue", value_name = "NAME", num_args = 0..=1, default_missing_value = "", global = true)]
    pub continue_: Option<String>,

    /// Override a config.yaml setting for this run, e.g. `-c agent.max_turns=20`
    /// (repeatable). `-c` without `=` means --continue.
    #[arg(long = "config", value_name = "KEY=VALUE", global = true)]
    pub config: Vec<String>,

    /// Maximum model calls per user turn (overrides agent.max_turns).
    #[arg(long = "max-turns", global = true)]
    pub max_turns: Option<u32>,

    /// Print more diagnostics on stderr (repeat for more).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Chat with the agent (interactive, or one query with -q).
    Chat(ChatArgs),
    /// Inspect, search and export stored sessions.
    #[command(subcommand)]
    Sessions(SessionsCmd),
    /// Show and change settings in config.yaml and .env.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Inspect the execution boundary and run commands through it.
    #[command(subcommand)]
    Sandbox(SandboxCmd),
    /// Print the version.
    Version,
}

#[derive(Debug, Clone, Args, Default)]
pub struct ChatArgs {
    /// Ask one question, print the answer and exit.
    #[arg(short = 'q', long = "query")]
    pub query: Option<String>,

    /// With -q: print only the final answer, no streaming or tool progress.
    #[arg(short = 'Q', long = "quiet")]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum SessionsCmd {
    /// List recent sessions, newest activity first.
    List {
        /// Only sessions from this source (cli, oneshot, api_server, telegram, cron, …).
        #[arg(long)]
        source: Option<String>,
        /// How many to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Print one session's messages.
    Show {
        /// Session id, unique id prefix, or title.
        session: String,
    },
    /// Full-text search over every stored message.
    Search {
        /// Words to find (a CJK substring works too).
        query: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Only this session.
        #[arg(long = "session-id")]
        session_id: Option<String>,
    },
    /// Export sessions as JSON lines (one session with its messages per line).
    ///
    /// `hermes sessions export ID` writes one session to stdout; `hermes sessions export
    /// FILE` writes every session to FILE; `--session-id ID` selects a session when the
    /// positional argument is the output file (Hermes' form).
    Export {
        /// Session id/prefix/title, or an output file (`-` for stdout).
        target: Option<String>,
        #[arg(long = "session-id")]
        session_id: Option<String>,
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Write to this file instead of stdout.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
    /// Set a session's title.
    Rename {
        session: String,
        /// The new title (words are joined with spaces).
        #[arg(required = true, num_args = 1..)]
        title: Vec<String>,
    },
    /// Delete a session and its messages.
    Delete {
        session: String,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long = "yes")]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SandboxCmd {
    /// Report what this machine enforces (namespaces, Landlock, seccomp, cgroups) and
    /// check the sandbox by running a command in it.
    Doctor,
    /// Run one command exactly as the agent would: `hermes sandbox exec -- CMD [ARGS…]`.
    Exec(SandboxExecArgs),
}

#[derive(Debug, Clone, Args)]
pub struct SandboxExecArgs {
    /// Executor to use (default: terminal.backend).
    #[arg(long)]
    pub backend: Option<String>,
    /// The writable project directory (default: terminal.cwd, or the current directory).
    #[arg(long)]
    pub workspace: Option<PathBuf>,
    /// Make this host path visible read-only (repeatable), e.g. a toolchain.
    #[arg(long = "allow-read", value_name = "PATH")]
    pub allow_read: Vec<PathBuf>,
    /// Kill the command after this many seconds.
    #[arg(long, default_value_t = 180.0)]
    pub timeout: f64,
    /// Memory limit, e.g. 256M or 2G (default: terminal.container_memory).
    #[arg(long)]
    pub memory: Option<String>,
    /// Working directory inside the workspace.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Pass this environment variable through (repeatable; secrets are refused).
    #[arg(long = "env", value_name = "NAME")]
    pub env: Vec<String>,
    /// Stop the command when it prints more than this many bytes.
    #[arg(long = "max-output")]
    pub max_output: Option<usize>,
    /// The command and its arguments (after `--`).
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Jsonl,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Show the effective configuration.
    Show,
    /// Print one setting (dotted key, e.g. model.default).
    Get {
        key: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change one setting. API keys and tokens go to .env, everything else to config.yaml.
    Set {
        key: String,
        #[arg(allow_hyphen_values = true)]
        value: String,
        /// Write a key that neither hermes-rs nor Hermes knows.
        #[arg(long)]
        force: bool,
    },
    /// Remove a setting from config.yaml (or, for API keys and tokens, from .env).
    Unset { key: String },
    /// Open config.yaml in $VISUAL or $EDITOR (default: vi), then check that it loads.
    Edit,
    /// Print the path of config.yaml.
    Path,
    /// Print the path of .env.
    EnvPath,
    /// Check config.yaml and .env and report problems.
    Check,
}

/// Rewrites `-c KEY=VALUE` into `--config KEY=VALUE` and a bare `-c [NAME]` into
/// `--continue [NAME]`, so Hermes' `-c/--continue` and config overrides share the flag.
pub fn preprocess_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let args: Vec<OsString> = args.into_iter().collect();
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    let mut after_dashdash = false;
    while i < args.len() {
        let a = &args[i];
        if after_dashdash {
            out.push(a.clone());
        } else if a == "--" {
            after_dashdash = true;
            out.push(a.clone());
        } else if a == "-c" {
            match args.get(i + 1).and_then(|n| n.to_str()) {
                Some(next) if next.contains('=') && !next.starts_with('-') => {
                    out.push("--config".into());
                    out.push(next.into());
                    i += 1;
                }
                _ => out.push("--continue".into()),
            }
        } else if let Some(rest) = a.to_str().and_then(|s| s.strip_prefix("-c"))
            && rest.contains('=')
        {
            out.push("--config".into());
            out.push(rest.into());
        } else {
            out.push(a.clone());
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pre(v: &[&str]) -> Vec<String> {
        preprocess_args(v.iter().map(OsString::from))
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect()
    }

    #[test]
    fn dash_c_means_override_or_continue() {
        assert_eq!(
            pre(&["hermes", "-c", "agent.max_turns=5", "chat"]),
            ["hermes", "--config", "agent.max_turns=5", "chat"]
        );
        assert_eq!(pre(&["hermes", "-c"]), ["hermes", "--continue"]);
        assert_eq!(
            pre(&["hermes", "-c", "my project"]),
            ["hermes", "--continue", "my project"]
        );
        assert_eq!(
            pre(&["hermes", "-cmodel.default=x"]),
            ["hermes", "--config", "model.default=x"]
        );
        assert_eq!(
            pre(&["hermes", "chat", "-q", "x", "--", "-c"]),
            ["hermes", "chat", "-q", "x", "--", "-c"]
        );
    }

    #[test]
    fn parses_the_documented_commands() {
        for line in [
            "hermes chat",
            "hermes chat -q hello",
            "hermes -z hello",
            "hermes sessions list",
            "hermes sessions show abc",
            "hermes sessions search word",
            "hermes sessions export abc --format jsonl",
            "hermes config show",
            "hermes config get model.default",
            "hermes config set model.default gpt-x",
            "hermes config set --force agent.custom 1",
            "hermes config set agent.max_turns -5",
            "hermes config unset OPENAI_API_KEY",
            "hermes config edit",
            "hermes config path",
            "hermes version",
            "hermes sandbox doctor",
            "hermes sandbox exec -- true",
            "hermes sandbox exec --workspace /tmp --allow-read /opt --timeout 5 --memory 256M -- echo hi",
            "hermes --continue",
            "hermes --resume abc chat",
        ] {
            let args = preprocess_args(line.split(' ').map(OsString::from));
            Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{line}: {e}"));
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
