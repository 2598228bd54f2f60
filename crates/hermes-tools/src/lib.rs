//! hermes-tools: the built-in tools, with Hermes Agent's names and argument shapes.
//!
//! One module per tool:
//! - [`read_file`], [`write_file`], [`patch`] (replace mode and V4A patches, see [`v4a`]),
//!   [`search_files`]: file tools, confined to the workspace by [`fs`]
//! - [`terminal`]: shell commands through a `hermes_sandbox::Executor`, in the foreground,
//!   in a pseudo-terminal or in the background
//! - [`process`]: the registry of background processes and the `process` tool that manages
//!   them (poll, log, wait, kill, stdin), with completion and watch-pattern notifications
//! - [`todo`]: the per-session task list
//! - [`memory`]: `MEMORY.md` / `USER.md` and the frozen snapshot for the system prompt
//! - [`session_search`]: full-text search over past sessions
//!
//! Shared pieces: [`protected`] (paths refused inside the workspace: credentials, shell
//! startup files, git control files), `lines` (line reading with a memory bound) and
//! `util` (argument parsing, error results, number wording).

pub mod fs;
mod lines;
pub mod memory;
pub mod patch;
pub mod process;
pub mod protected;
pub mod read_file;
pub mod search_files;
pub mod session_search;
pub mod terminal;
pub mod todo;
mod util;
pub mod v4a;
pub mod write_file;
