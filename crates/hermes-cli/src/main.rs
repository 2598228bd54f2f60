//! `hermes`: the command-line entry point. This is the only place where concrete types are
//! wired together (config → provider, store, executor, tools → agent).

mod app;
mod approve;
mod chat;
mod cli;
mod config_cmd;
mod exit;
mod logging;
mod render;
mod sandbox_cmd;
mod sessions;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::exit::Failure;

/// The version printed by `hermes version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The hidden argument that turns this binary into the sandbox helper.
pub const SANDBOX_HELPER_ARG: &str = "__sandbox-init";

fn main() -> ExitCode {
    // The sandbox helper: the binary re-executed by the native executor. Nothing else
    // (no runtime, no parsing) may run before it.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == SANDBOX_HELPER_ARG)
    {
        hermes_sandbox::native::helper_main();
    }
    // Same-user processes (including commands the agent runs on the `local` backend)
    // cannot read this process's memory or /proc/PID/environ.
    if let Err(e) = hermes_sandbox::native::caps::non_dumpable() {
        eprintln!("hermes: warning: {e}");
    }
    let args = cli::preprocess_args(std::env::args_os());
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE } else { 0 });
        }
    };
    // Fast path: no runtime, no files touched.
    if cli.global.version || matches!(cli.command, Some(Command::Version)) {
        println!("hermes {VERSION} (hermes-rs; compatible with Hermes Agent 0.19)");
        return ExitCode::SUCCESS;
    }
    init_logging(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hermes: could not start the async runtime: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("hermes: {}", failure.message());
            ExitCode::from(failure.code())
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        None => {
            let mode = match cli.global.oneshot.clone() {
                Some(prompt) => chat::Mode::Oneshot(prompt),
                None => chat::Mode::Interactive,
            };
            chat::run(&cli.global, mode).await
        }
        Some(Command::Chat(args)) => {
            if cli.global.oneshot.is_some() {
                return Err(Failure::usage(
                    "-z/--oneshot cannot be combined with `chat`; use `hermes chat -q` or `hermes -z`",
                ));
            }
            let mode = match args.query {
                Some(q) => chat::Mode::Query {
                    text: q,
                    quiet: args.quiet,
                },
                None => chat::Mode::Interactive,
            };
            chat::run(&cli.global, mode).await
        }
        Some(Command::Sessions(cmd)) => sessions::run(&cli.global, cmd),
        Some(Command::Config(cmd)) => config_cmd::run(&cli.global, cmd),
        Some(Command::Sandbox(cmd)) => sandbox_cmd::run(&cli.global, cmd).await,
        Some(Command::Version) => Ok(ExitCode::SUCCESS),
    }
}

/// Logs go to stderr, scrubbed of credential shapes (see [`logging`]). `HERMES_LOG` (or
/// `RUST_LOG`) sets the filter; `-v` raises the level.
fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info,hermes=debug",
        _ => "debug",
    };
    let filter = std::env::var("HERMES_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .map(EnvFilter::new)
        .unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(logging::ScrubbedStderr)
        .with_target(false)
        .without_time()
        .try_init();
}
