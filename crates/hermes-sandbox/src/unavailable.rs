//! An executor that refuses every command with a reason: what a backend becomes when it
//! cannot be established with its full policy. Nothing ever runs through it.

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::{ExecError, ExecOutput, ExecRequest, Executor};

#[derive(Debug, Clone)]
pub struct Unavailable {
    backend: String,
    reason: String,
}

impl Unavailable {
    pub fn new(backend: impl Into<String>, reason: impl Into<String>) -> Unavailable {
        Unavailable {
            backend: backend.into(),
            reason: reason.into(),
        }
    }

    pub fn reason(&self) -> &str {
        &self.reason
    }
}

#[async_trait]
impl Executor for Unavailable {
    fn kind(&self) -> &'static str {
        "unavailable"
    }

    async fn exec(
        &self,
        _request: ExecRequest,
        _cancel: &CancellationToken,
    ) -> Result<ExecOutput, ExecError> {
        Err(ExecError::Unavailable {
            backend: self.backend.clone(),
            reason: self.reason.clone(),
        })
    }
}
