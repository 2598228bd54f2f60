//! `hermes_core::SessionStore` over `state.db`, so the agent loop commits through us.

use hermes_core::{CallRecord, Message, NewSession, SessionStore, SessionStoreError};

use crate::error::StoreError;
use crate::store::Store;

fn wrap(e: StoreError) -> SessionStoreError {
    SessionStoreError(e.to_string())
}

impl SessionStore for Store {
    fn create_session(&self, session: &NewSession) -> Result<(), SessionStoreError> {
        Store::create_session(self, session).map_err(wrap)
    }

    fn append_message(
        &self,
        session_id: &str,
        message: &Message,
    ) -> Result<i64, SessionStoreError> {
        Store::append_message(self, session_id, message).map_err(wrap)
    }

    fn record_call(&self, session_id: &str, call: &CallRecord) -> Result<(), SessionStoreError> {
        Store::record_call(self, session_id, call).map_err(wrap)
    }

    fn end_session(&self, session_id: &str, reason: &str) -> Result<(), SessionStoreError> {
        Store::end_session(self, session_id, reason).map_err(wrap)
    }

    fn rotate_session(
        &self,
        child: &NewSession,
        messages: &[Message],
        summary_index: Option<usize>,
        parent: &str,
        reason: &str,
    ) -> Result<(), SessionStoreError> {
        Store::rotate_session(self, child, messages, summary_index, parent, reason)
            .map(|_| ())
            .map_err(wrap)
    }
}
