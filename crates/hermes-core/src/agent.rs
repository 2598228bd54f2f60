//! The agent loop: one user turn = model calls and tool calls until the model answers
//! without calling a tool, the iteration budget runs out, or the turn is cancelled.
//!
//! Every message is committed to the [`SessionStore`] as soon as it exists, so a crash at
//! any point loses at most the message being streamed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::compress::{self, CompressionConfig};
use crate::message::{Message, Role, ToolCall, Usage};
use crate::pricing::PriceTable;
use crate::provider::{Accumulator, ChatRequest, Completion, Provider, ProviderError};
use crate::redact::Redactor;
use crate::schema;
use crate::session::{CallRecord, NewSession, SessionStore, SessionStoreError};
use crate::tool::{ToolContext, ToolError, ToolRegistry};
use crate::truncate::{OutputLimits, cap_output};

/// How the loop behaves; built by the binary from `config.yaml`.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Model calls allowed per user turn (`agent.max_turns`).
    pub max_turns: u32,
    /// Safety-net caps applied to every tool result after the tool's own limits
    /// (Hermes' per-result budget, 100 000 characters by default).
    pub output_limits: OutputLimits,
    pub compression: CompressionConfig,
    /// Context window assumed when the provider does not say (tokens).
    pub default_context_length: u64,
    /// Where file tools resolve paths.
    pub workspace: std::path::PathBuf,
    /// Read-only tool calls run at most this many at once.
    pub max_parallel_tools: usize,
}

impl Default for AgentConfig {
    fn default() -> AgentConfig {
        AgentConfig {
            max_turns: 90,
            output_limits: OutputLimits {
                max_bytes: 100_000,
                max_lines: 0,
                max_line_length: 0,
            },
            compression: CompressionConfig::default(),
            default_context_length: 128_000,
            workspace: std::path::PathBuf::from("."),
            max_parallel_tools: 8,
        }
    }
}

/// The live state of one conversation.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    /// The first session id of this conversation; kept when compression rotates `id`.
    pub lineage_id: String,
    pub source: String,
    /// Frozen when the session starts so the provider's prompt cache stays valid.
    pub system_prompt: String,
    /// The conversation without the system prompt.
    pub messages: Vec<Message>,
    /// Usage of every call in this process's lifetime of the session.
    pub usage: Usage,
    pub cost_usd: f64,
    pub api_calls: u64,
    /// Input tokens of the most recent call, the best measure of the next prompt's size.
    last_input_tokens: u64,
    /// Messages counted in `last_input_tokens`.
    counted_messages: usize,
}

impl Session {
    /// A session object for messages already in the store (resume) or a fresh one.
    pub fn new(
        id: impl Into<String>,
        source: impl Into<String>,
        system_prompt: impl Into<String>,
        messages: Vec<Message>,
    ) -> Session {
        let id = id.into();
        Session {
            lineage_id: id.clone(),
            id,
            source: source.into(),
            system_prompt: system_prompt.into(),
            messages,
            usage: Usage::default(),
            cost_usd: 0.0,
            api_calls: 0,
            last_input_tokens: 0,
            counted_messages: 0,
        }
    }

    /// Estimated size of the next prompt in tokens.
    pub fn estimated_prompt_tokens(&self) -> u64 {
        let tail: u64 = self
            .messages
            .iter()
            .skip(self.counted_messages)
            .map(Message::estimated_tokens)
            .sum();
        if self.last_input_tokens > 0 {
            self.last_input_tokens + tail
        } else {
            (self.system_prompt.len() as u64).div_ceil(4) + tail
        }
    }
}

/// What happened during a turn, in order, for a UI to render.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentEvent {
    TextDelta(String),
    ReasoningDelta(String),
    /// The model finished one answer (there may be more after tool calls).
    AssistantMessage(Message),
    ToolStarted {
        call_id: String,
        name: String,
        arguments: String,
    },
    ToolFinished {
        call_id: String,
        name: String,
        output: String,
        is_error: bool,
        duration: Duration,
    },
    Usage {
        usage: Usage,
        cost_usd: Option<f64>,
    },
    /// The conversation was summarised and continues in a new session.
    Compressed {
        old_session_id: String,
        new_session_id: String,
        removed_messages: usize,
    },
    /// The provider failed and a fallback is being tried (informational).
    Notice(String),
}

/// How a turn ended.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnOutcome {
    /// The model gave its final answer.
    Completed { text: String },
    /// `agent.max_turns` model calls were made without a final answer.
    IterationLimit { text: String, limit: u32 },
    /// Stopped by the caller; everything up to this point is committed.
    Cancelled,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Store(#[from] SessionStoreError),
    #[error("tool {tool} failed: {message}")]
    Tool { tool: String, message: String },
}

/// Text appended to a compaction summary for a conversation (by lineage id), e.g. the
/// current todo list, so state the model relies on survives compression.
pub type CompactionNote = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Runs turns against one provider with one set of tools.
pub struct Agent {
    provider: Arc<dyn Provider>,
    tools: ToolRegistry,
    store: Arc<dyn SessionStore>,
    pricing: PriceTable,
    config: AgentConfig,
    compaction_notes: Vec<CompactionNote>,
    redactor: Option<Arc<Redactor>>,
}

type Events<'a> = &'a UnboundedSender<AgentEvent>;

fn emit(events: Events<'_>, ev: AgentEvent) {
    // A UI that went away is not an error for the agent.
    let _ = events.send(ev);
}

impl Agent {
    pub fn new(
        provider: Arc<dyn Provider>,
        tools: ToolRegistry,
        store: Arc<dyn SessionStore>,
        pricing: PriceTable,
        config: AgentConfig,
    ) -> Agent {
        Agent {
            provider,
            tools,
            store,
            pricing,
            config,
            compaction_notes: Vec::new(),
            redactor: None,
        }
    }

    /// Adds a source of text carried into every compaction summary.
    pub fn with_compaction_note(mut self, note: CompactionNote) -> Agent {
        self.compaction_notes.push(note);
        self
    }

    /// Scrubs secrets from every tool result before it is capped, committed, sent to
    /// the model and reported in [`AgentEvent::ToolFinished`]. Without one, tool output
    /// passes unchanged (`security.redact_secrets: false`).
    pub fn with_redactor(mut self, redactor: Arc<Redactor>) -> Agent {
        self.redactor = Some(redactor);
        self
    }

    fn scrub(&self, text: String) -> String {
        match &self.redactor {
            Some(r) => r.scrub_string(text),
            None => text,
        }
    }

    pub fn provider(&self) -> &Arc<dyn Provider> {
        &self.provider
    }

    pub fn tools(&self) -> &ToolRegistry {
        &self.tools
    }

    pub fn config(&self) -> &AgentConfig {
        &self.config
    }

    /// Creates and records a new session.
    pub fn start_session(
        &self,
        id: impl Into<String>,
        source: impl Into<String>,
        system_prompt: impl Into<String>,
    ) -> Result<Session, AgentError> {
        let session = Session::new(id, source, system_prompt, Vec::new());
        self.store
            .create_session(&self.new_session_record(&session, None))?;
        Ok(session)
    }

    fn new_session_record(&self, session: &Session, parent: Option<String>) -> NewSession {
        let info = self.provider.info();
        NewSession {
            id: session.id.clone(),
            source: session.source.clone(),
            model: info.model.clone(),
            provider: info.provider.clone(),
            base_url: info.base_url.clone(),
            system_prompt: Some(session.system_prompt.clone()),
            parent_session_id: parent,
            cwd: Some(self.config.workspace.display().to_string()),
            title: None,
        }
    }

    fn context_length(&self) -> u64 {
        self.provider
            .info()
            .context_length
            .unwrap_or(self.config.default_context_length)
    }

    /// Runs a store operation on the blocking pool: a slow or locked database must not
    /// stall the runtime that renders output and handles Ctrl-C.
    async fn with_store<T, F>(&self, op: F) -> Result<T, AgentError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn SessionStore) -> Result<T, SessionStoreError> + Send + 'static,
    {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || op(store.as_ref())).await {
            Ok(r) => Ok(r?),
            Err(e) => Err(AgentError::Store(SessionStoreError(format!(
                "the store task failed: {e}"
            )))),
        }
    }

    /// Commits a message, then adds it to the live session.
    async fn push(&self, session: &mut Session, message: Message) -> Result<(), AgentError> {
        let id = session.id.clone();
        let m = message.clone();
        self.with_store(move |s| s.append_message(&id, &m).map(|_| ()))
            .await?;
        session.messages.push(message);
        Ok(())
    }

    /// Runs one user turn. Events stream to `events` as they happen.
    pub async fn run_turn(
        &self,
        session: &mut Session,
        input: &str,
        events: Events<'_>,
        cancel: &CancellationToken,
    ) -> Result<TurnOutcome, AgentError> {
        if cancel.is_cancelled() {
            return Ok(TurnOutcome::Cancelled);
        }
        self.push(session, Message::user(input)).await?;
        let mut last_text = String::new();
        let mut context_retry_used = false;
        let mut iteration = 0;
        while iteration < self.config.max_turns {
            if cancel.is_cancelled() {
                return Ok(TurnOutcome::Cancelled);
            }
            if self.config.compression.enabled
                && self.needs_compression(session)
                && let Err(e) = self.compress(session, events, cancel).await
            {
                tracing::warn!(error = %e, "context compression failed");
            }
            let completion = match self.call_model(session, events, cancel).await {
                Ok(Some(c)) => c,
                Ok(None) => return Ok(TurnOutcome::Cancelled),
                Err(AgentError::Provider(ProviderError::ContextTooLong { .. }))
                    if self.config.compression.enabled && !context_retry_used =>
                {
                    // The estimate was off; compress now and try the call once more.
                    context_retry_used = true;
                    self.compress(session, events, cancel).await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            iteration += 1;
            let message = completion.message;
            last_text.clone_from(&message.content);
            let calls = message.tool_calls.clone();
            self.push(session, message.clone()).await?;
            emit(events, AgentEvent::AssistantMessage(message));
            if calls.is_empty() {
                return Ok(TurnOutcome::Completed { text: last_text });
            }
            if !self.run_tools(session, &calls, events, cancel).await? {
                return Ok(TurnOutcome::Cancelled);
            }
        }
        Ok(TurnOutcome::IterationLimit {
            text: last_text,
            limit: self.config.max_turns,
        })
    }

    /// One model call. `Ok(None)` means it was cancelled; any partial text is committed.
    async fn call_model(
        &self,
        session: &mut Session,
        events: Events<'_>,
        cancel: &CancellationToken,
    ) -> Result<Option<Completion>, AgentError> {
        let request = ChatRequest {
            system: session.system_prompt.clone(),
            messages: crate::message::repair_tool_pairs(&session.messages),
            tools: self.tools.specs(),
            max_tokens: None,
            temperature: None,
        };
        let completion = match self.stream_completion(&request, Some(events), cancel).await {
            Ok(c) => c,
            Err((partial, ProviderError::Cancelled)) => {
                if !partial.is_empty() {
                    let mut m = Message::assistant(partial);
                    m.finish_reason = Some("cancelled".to_string());
                    self.push(session, m).await?;
                }
                return Ok(None);
            }
            Err((_, e)) => return Err(e.into()),
        };
        self.record_usage(session, completion.usage, "main", events)
            .await?;
        Ok(Some(completion))
    }

    /// Streams one completion, forwarding deltas to `events` when given. On error,
    /// returns the text streamed so far with it.
    async fn stream_completion(
        &self,
        request: &ChatRequest,
        events: Option<Events<'_>>,
        cancel: &CancellationToken,
    ) -> Result<Completion, (String, ProviderError)> {
        let mut stream = tokio::select! {
            r = self.provider.stream(request, cancel) => r.map_err(|e| (String::new(), e))?,
            () = cancel.cancelled() => return Err((String::new(), ProviderError::Cancelled)),
        };
        let mut acc = Accumulator::new();
        loop {
            let item = tokio::select! {
                item = stream.next() => item,
                () = cancel.cancelled() => {
                    return Err((acc.text().to_string(), ProviderError::Cancelled));
                }
            };
            match item {
                None => break,
                Some(Err(e)) => return Err((acc.text().to_string(), e)),
                Some(Ok(ev)) => {
                    if let Some(events) = events {
                        match &ev {
                            crate::provider::StreamEvent::TextDelta(t) => {
                                emit(events, AgentEvent::TextDelta(t.clone()));
                            }
                            crate::provider::StreamEvent::ReasoningDelta(t) => {
                                emit(events, AgentEvent::ReasoningDelta(t.clone()));
                            }
                            _ => {}
                        }
                    }
                    acc.push(&ev);
                    if acc.is_done() {
                        break;
                    }
                }
            }
        }
        if !acc.is_done() {
            let info = self.provider.info();
            return Err((
                acc.text().to_string(),
                ProviderError::Malformed {
                    provider: info.provider.clone(),
                    detail: "the response stream ended before the model finished".to_string(),
                },
            ));
        }
        Ok(acc.finish())
    }

    async fn record_usage(
        &self,
        session: &mut Session,
        usage: Option<Usage>,
        task: &str,
        events: Events<'_>,
    ) -> Result<(), AgentError> {
        let info = self.provider.info();
        session.api_calls += 1;
        let usage = usage.unwrap_or_default();
        let (cost, cost_status) = self.pricing.estimate(&info.model, &info.base_url, &usage);
        session.usage.add(&usage);
        session.cost_usd += cost.unwrap_or(0.0);
        if task == "main" && usage.input_tokens > 0 {
            session.last_input_tokens = usage.input_tokens + usage.output_tokens;
            session.counted_messages = session.messages.len() + 1;
        }
        let record = CallRecord {
            model: info.model.clone(),
            provider: info.provider.clone(),
            base_url: info.base_url.clone(),
            usage,
            cost_usd: cost,
            cost_status,
            task: task.to_string(),
        };
        let id = session.id.clone();
        self.with_store(move |s| s.record_call(&id, &record))
            .await?;
        emit(
            events,
            AgentEvent::Usage {
                usage,
                cost_usd: cost,
            },
        );
        Ok(())
    }

    /// Runs the tool calls of one assistant message and commits their results in the
    /// order the model gave them. Returns `false` if the turn was cancelled.
    async fn run_tools(
        &self,
        session: &mut Session,
        calls: &[ToolCall],
        events: Events<'_>,
        cancel: &CancellationToken,
    ) -> Result<bool, AgentError> {
        let ctx = ToolContext {
            session_id: session.id.clone(),
            lineage_id: session.lineage_id.clone(),
            workspace: self.config.workspace.clone(),
            cancel: cancel.child_token(),
        };
        // Consecutive read-only calls form one concurrent batch; a mutating call is a
        // batch of its own, so mutations happen one at a time, in order.
        let mut i = 0;
        while i < calls.len() {
            let mut end = i + 1;
            if !self.is_mutating(&calls[i]) {
                while end < calls.len()
                    && end - i < self.config.max_parallel_tools.max(1)
                    && !self.is_mutating(&calls[end])
                {
                    end += 1;
                }
            }
            let batch = &calls[i..end];
            for c in batch {
                emit(
                    events,
                    AgentEvent::ToolStarted {
                        call_id: c.id.clone(),
                        name: c.name.clone(),
                        arguments: c.arguments.clone(),
                    },
                );
            }
            let results =
                futures::future::join_all(batch.iter().map(|c| self.run_one(c, &ctx))).await;
            for (call, (result, duration)) in batch.iter().zip(results) {
                let (output, is_error) = match result {
                    Ok(out) => (
                        cap_output(&self.scrub(out), &self.config.output_limits),
                        false,
                    ),
                    Err(ToolError::RespondToModel(msg)) => (
                        cap_output(
                            &format!("Error: {}", self.scrub(msg)),
                            &self.config.output_limits,
                        ),
                        true,
                    ),
                    Err(ToolError::Cancelled) => ("Error: cancelled by the user".to_string(), true),
                    Err(ToolError::Fatal(msg)) => {
                        let msg = self.scrub(msg);
                        // Keep the transcript well-formed before giving up.
                        self.push(
                            session,
                            Message::tool_result(&call.id, &call.name, format!("Error: {msg}")),
                        )
                        .await?;
                        self.close_unanswered(session, calls, "skipped after a fatal error")
                            .await?;
                        return Err(AgentError::Tool {
                            tool: call.name.clone(),
                            message: msg,
                        });
                    }
                };
                self.push(
                    session,
                    Message::tool_result(&call.id, &call.name, output.clone()),
                )
                .await?;
                emit(
                    events,
                    AgentEvent::ToolFinished {
                        call_id: call.id.clone(),
                        name: call.name.clone(),
                        output,
                        is_error,
                        duration,
                    },
                );
            }
            if cancel.is_cancelled() {
                self.close_unanswered(session, &calls[end..], "cancelled by the user")
                    .await?;
                return Ok(false);
            }
            i = end;
        }
        Ok(true)
    }

    /// Answers calls that will not run, so every tool call in the transcript has a result.
    async fn close_unanswered(
        &self,
        session: &mut Session,
        calls: &[ToolCall],
        why: &str,
    ) -> Result<(), AgentError> {
        for c in calls {
            let answered = session
                .messages
                .iter()
                .any(|m| m.role == Role::Tool && m.tool_call_id.as_deref() == Some(&c.id));
            if !answered {
                self.push(
                    session,
                    Message::tool_result(&c.id, &c.name, format!("Error: {why}")),
                )
                .await?;
            }
        }
        Ok(())
    }

    fn is_mutating(&self, call: &ToolCall) -> bool {
        match (
            self.tools.get(&call.name),
            serde_json::from_str::<Value>(&call.arguments),
        ) {
            (Some(tool), Ok(args)) => tool.is_mutating(&args),
            _ => true,
        }
    }

    async fn run_one(
        &self,
        call: &ToolCall,
        ctx: &ToolContext,
    ) -> (Result<String, ToolError>, Duration) {
        let start = Instant::now();
        let result = async {
            let Some(tool) = self.tools.get(&call.name) else {
                let known: Vec<&str> = self.tools.names().collect();
                return Err(ToolError::model(format!(
                    "unknown tool '{}'. Available tools: {}",
                    call.name,
                    known.join(", ")
                )));
            };
            let args: Value = serde_json::from_str(&call.arguments).map_err(|e| {
                ToolError::model(format!(
                    "the arguments for {} are not valid JSON ({e}); send a JSON object",
                    call.name
                ))
            })?;
            schema::validate(&tool.spec().parameters, &args).map_err(|e| {
                ToolError::model(format!("invalid arguments for {}:\n{e}", call.name))
            })?;
            if ctx.cancel.is_cancelled() {
                return Err(ToolError::Cancelled);
            }
            // Biased towards the tool, so a tool that observes the cancellation itself
            // gets to clean up and report it.
            tokio::select! {
                biased;
                r = tool.call(args, ctx) => r,
                () = ctx.cancel.cancelled() => Err(ToolError::Cancelled),
            }
        }
        .await;
        (result, start.elapsed())
    }

    fn needs_compression(&self, session: &Session) -> bool {
        let limit = (self.context_length() as f64 * self.config.compression.threshold) as u64;
        session.estimated_prompt_tokens() > limit
    }

    /// Summarises the middle of the conversation with the model and continues in a new
    /// session linked to the old one, as Hermes does.
    pub async fn compress(
        &self,
        session: &mut Session,
        events: Events<'_>,
        cancel: &CancellationToken,
    ) -> Result<(), AgentError> {
        let cfg = &self.config.compression;
        let Some(plan) = compress::plan(&session.messages, cfg) else {
            return Ok(());
        };
        let middle = &session.messages[plan.head..plan.tail];
        let request = compress::summary_request(middle, cfg, self.context_length());
        let summary = match self.stream_completion(&request, None, cancel).await {
            Ok(c) => {
                self.record_usage(session, c.usage, "compression", events)
                    .await?;
                c.message.content
            }
            Err((_, ProviderError::Cancelled)) => return Ok(()),
            Err((_, e)) if cfg.abort_on_summary_failure => return Err(e.into()),
            Err((_, e)) => {
                tracing::warn!(error = %e, "summary failed; dropping the middle of the conversation");
                String::new()
            }
        };
        let mut summary = summary;
        for note in &self.compaction_notes {
            if let Some(n) = note(&session.lineage_id).filter(|n| !n.trim().is_empty()) {
                summary.push_str("\n\n");
                summary.push_str(n.trim());
            }
        }
        let removed = plan.tail - plan.head;
        let mut messages = Vec::with_capacity(plan.head + 1 + session.messages.len() - plan.tail);
        messages.extend_from_slice(&session.messages[..plan.head]);
        messages.push(compress::summary_message(
            &summary,
            removed,
            plan.head.checked_sub(1).map(|i| session.messages[i].role),
        ));
        messages.extend_from_slice(&session.messages[plan.tail..]);

        let old_id = session.id.clone();
        let new_id = crate::ids::new_session_id();
        let mut next = Session::new(
            new_id.clone(),
            session.source.clone(),
            session.system_prompt.clone(),
            Vec::new(),
        );
        next.lineage_id.clone_from(&session.lineage_id);
        next.usage = session.usage;
        next.cost_usd = session.cost_usd;
        next.api_calls = session.api_calls;
        // One atomic step: the child session with its messages exists and the parent is
        // ended, or nothing changed.
        let record = self.new_session_record(&next, Some(old_id.clone()));
        let (parent, committed) = (old_id.clone(), messages.clone());
        self.with_store(move |s| {
            s.rotate_session(&record, &committed, Some(plan.head), &parent, "compression")
        })
        .await?;
        next.messages = messages;
        *session = next;
        emit(
            events,
            AgentEvent::Compressed {
                old_session_id: old_id,
                new_session_id: new_id,
                removed_messages: removed,
            },
        );
        Ok(())
    }
}
