//! What the agent needs from persistent storage. `hermes-store` implements this over
//! `state.db`; [`InMemorySessions`] serves tests.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::message::{Message, Usage};

/// A session about to be created.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewSession {
    pub id: String,
    /// Where the conversation comes from: `cli`, `api_server`, `telegram`, `cron`, …
    pub source: String,
    pub model: String,
    pub provider: String,
    pub base_url: String,
    pub system_prompt: Option<String>,
    /// Set when this session continues another one (context compression).
    pub parent_session_id: Option<String>,
    pub cwd: Option<String>,
    pub title: Option<String>,
}

/// Usage and cost of one model call, recorded against a session and a model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallRecord {
    pub model: String,
    pub provider: String,
    pub base_url: String,
    pub usage: Usage,
    /// Estimated cost in USD; `None` when the model's price is unknown.
    pub cost_usd: Option<f64>,
    /// How `cost_usd` was obtained.
    pub cost_status: crate::pricing::CostStatus,
    /// `main`, `compression`, `title`, … (Hermes' per-task usage split).
    pub task: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("session store: {0}")]
pub struct SessionStoreError(pub String);

/// Persistent session storage. Every call commits before it returns, so a crash loses
/// nothing that was acknowledged.
pub trait SessionStore: Send + Sync {
    fn create_session(&self, session: &NewSession) -> Result<(), SessionStoreError>;
    /// Appends a message and returns its id.
    fn append_message(&self, session_id: &str, message: &Message)
    -> Result<i64, SessionStoreError>;
    fn record_call(&self, session_id: &str, call: &CallRecord) -> Result<(), SessionStoreError>;
    fn end_session(&self, session_id: &str, reason: &str) -> Result<(), SessionStoreError>;

    /// Continues a conversation in a new session (context compression): creates `child`
    /// with `messages` (`summary_index` marks the compaction summary) and ends `parent`
    /// with `reason`. Stores should do this atomically; this default is not.
    fn rotate_session(
        &self,
        child: &NewSession,
        messages: &[Message],
        summary_index: Option<usize>,
        parent: &str,
        reason: &str,
    ) -> Result<(), SessionStoreError> {
        let _ = summary_index;
        self.create_session(child)?;
        for m in messages {
            self.append_message(&child.id, m)?;
        }
        self.end_session(parent, reason)
    }
}

/// A `SessionStore` that keeps everything in memory.
#[derive(Debug, Default)]
pub struct InMemorySessions {
    inner: Mutex<MemInner>,
}

#[derive(Debug, Default)]
struct MemInner {
    sessions: Vec<NewSession>,
    messages: HashMap<String, Vec<Message>>,
    calls: HashMap<String, Vec<CallRecord>>,
    ended: HashMap<String, String>,
}

impl InMemorySessions {
    pub fn new() -> InMemorySessions {
        InMemorySessions::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn sessions(&self) -> Vec<NewSession> {
        self.lock().sessions.clone()
    }

    pub fn messages(&self, session_id: &str) -> Vec<Message> {
        self.lock()
            .messages
            .get(session_id)
            .cloned()
            .unwrap_or_default()
    }

    pub fn calls(&self, session_id: &str) -> Vec<CallRecord> {
        self.lock()
            .calls
            .get(session_id)
            .cloned()
            .unwrap_or_default()
    }

    pub fn end_reason(&self, session_id: &str) -> Option<String> {
        self.lock().ended.get(session_id).cloned()
    }
}

impl SessionStore for InMemorySessions {
    fn create_session(&self, session: &NewSession) -> Result<(), SessionStoreError> {
        let mut g = self.lock();
        if g.sessions.iter().any(|s| s.id == session.id) {
            return Err(SessionStoreError(format!("session {} exists", session.id)));
        }
        g.sessions.push(session.clone());
        Ok(())
    }

    fn append_message(
        &self,
        session_id: &str,
        message: &Message,
    ) -> Result<i64, SessionStoreError> {
        let mut g = self.lock();
        if !g.sessions.iter().any(|s| s.id == session_id) {
            return Err(SessionStoreError(format!("no session {session_id}")));
        }
        let list = g.messages.entry(session_id.to_string()).or_default();
        list.push(message.clone());
        Ok(list.len() as i64)
    }

    fn record_call(&self, session_id: &str, call: &CallRecord) -> Result<(), SessionStoreError> {
        self.lock()
            .calls
            .entry(session_id.to_string())
            .or_default()
            .push(call.clone());
        Ok(())
    }

    fn end_session(&self, session_id: &str, reason: &str) -> Result<(), SessionStoreError> {
        self.lock()
            .ended
            .insert(session_id.to_string(), reason.to_string());
        Ok(())
    }
}
