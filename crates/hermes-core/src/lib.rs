//! hermes-core: the conversation model, the provider and tool contracts, and the agent
//! loop that drives them.
//!
//! - [`message`]: roles, messages, tool calls, usage
//! - [`provider`]: the `Provider` trait, stream events, error classes, the accumulator
//! - [`tool`]: the `Tool` trait and the registry
//! - [`schema`]: argument validation against a tool's JSON Schema
//! - [`session`]: the `SessionStore` trait the agent commits through
//! - [`agent`]: `Agent::run_turn`, events and outcomes
//! - [`approval`]: which shell commands run, are refused, or need the user's approval
//! - [`compress`]: context compression
//! - [`prompt`]: system prompt assembly and context-file discovery
//! - [`truncate`]: tool-output caps
//! - [`redact`]: secret scrubbing (known values, their encodings, credential shapes)
//! - [`pricing`]: cost estimates
//! - [`ids`]: session ids and timestamps

pub mod agent;
pub mod approval;
pub mod compress;
pub mod ids;
pub mod message;
pub mod pricing;
pub mod prompt;
pub mod provider;
pub mod redact;
pub mod schema;
pub mod session;
pub mod tool;
pub mod truncate;

pub use agent::{Agent, AgentConfig, AgentError, AgentEvent, Session, TurnOutcome};
pub use message::{Message, Role, ToolCall, Usage};
pub use provider::{ChatRequest, EventStream, ModelInfo, Provider, ProviderError, StreamEvent};
pub use session::{CallRecord, NewSession, SessionStore, SessionStoreError};
pub use tool::{Tool, ToolContext, ToolError, ToolRegistry, ToolSpec};
