//! hermes-testkit: test support for the hermes crates.
//!
//! - [`server`]: [`MockLlm`], a mock model server speaking OpenAI chat completions and
//!   Anthropic messages (streamed and not) on 127.0.0.1, recording every request
//! - [`reply`]: [`Reply`], the scripted answers (also the JSON script format of the
//!   `hermes-mock-llm` binary)
//! - [`home`]: [`TempHome`], a throwaway `HERMES_HOME`
//!
//! Internals: `render` (a reply in the wire protocol of a request).

pub mod home;
mod render;
pub mod reply;
pub mod server;

pub use home::TempHome;
pub use reply::{MockUsage, Reply};
pub use server::{MockLlm, RecordedRequest};
