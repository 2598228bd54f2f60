//! The tool contract and the registry the agent dispatches through.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// What the model is told about a tool: OpenAI function-calling shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: Value,
}

/// Per-call facts a tool may need. Long-lived dependencies (store, executor, paths) are
/// given to each tool when it is built; this carries only what changes per call.
#[derive(Debug, Clone)]
pub struct ToolContext {
    /// The session the call belongs to (changes when the conversation is compressed).
    pub session_id: String,
    /// Stable across compression: the id of the first session of this conversation.
    /// Tools that keep per-conversation state (todo list, shell state) key it by this.
    pub lineage_id: String,
    /// The root file tools resolve paths beneath; nothing outside it is reachable.
    pub workspace: PathBuf,
    pub cancel: CancellationToken,
}

/// Why a tool call did not produce a result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    /// Goes back to the model as the tool's output, so it can correct itself.
    #[error("{0}")]
    RespondToModel(String),
    /// Ends the turn: something is wrong that the model cannot fix.
    #[error("{0}")]
    Fatal(String),
    #[error("cancelled")]
    Cancelled,
}

impl ToolError {
    pub fn model(msg: impl Into<String>) -> ToolError {
        ToolError::RespondToModel(msg.into())
    }
}

/// A built-in (or later, MCP-provided) tool.
#[async_trait]
pub trait Tool: Send + Sync {
    fn spec(&self) -> &ToolSpec;

    /// Whether this call may change anything. Read-only calls of one model answer run
    /// concurrently; mutating calls run one at a time in the order the model gave them.
    /// The default is the defensive answer.
    fn is_mutating(&self, _args: &Value) -> bool {
        true
    }

    /// Runs the call. `args` has already been validated against the spec's schema.
    async fn call(&self, args: Value, ctx: &ToolContext) -> Result<String, ToolError>;
}

/// The tools available to one agent, by name.
#[derive(Clone, Default)]
pub struct ToolRegistry {
    tools: BTreeMap<String, Arc<dyn Tool>>,
}

impl std::fmt::Debug for ToolRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.tools.keys()).finish()
    }
}

impl ToolRegistry {
    pub fn new() -> ToolRegistry {
        ToolRegistry::default()
    }

    /// Adds a tool; a later tool with the same name replaces the earlier one.
    pub fn register(&mut self, tool: Arc<dyn Tool>) {
        self.tools.insert(tool.spec().name.clone(), tool);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.tools.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tools.keys().map(String::as_str)
    }

    pub fn specs(&self) -> Vec<ToolSpec> {
        self.tools.values().map(|t| t.spec().clone()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    pub fn len(&self) -> usize {
        self.tools.len()
    }

    /// Removes every tool whose name is in `names`.
    pub fn remove_all(&mut self, names: &[String]) {
        for n in names {
            self.tools.remove(n);
        }
    }
}
