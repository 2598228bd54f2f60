//! Shared helpers: configurations pointing at a mock, and stream folding.

// Test helpers: a failed expectation is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use hermes_core::provider::{Accumulator, Completion, EventStream};
use hermes_core::{ChatRequest, Message, Provider, ProviderError, StreamEvent, ToolSpec};
use hermes_llm::{ApiMode, ProviderConfig, RetryPolicy, build_provider};
use hermes_testkit::MockLlm;
use serde_json::json;
use tokio_util::sync::CancellationToken;

pub const KEY: &str = "sk-test-key-1234567890abcdef";

/// Tiny delays so retry tests stay fast.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(10),
    }
}

pub fn openai_cfg(mock: &MockLlm) -> ProviderConfig {
    let mut cfg = ProviderConfig::new(
        "openai",
        "gpt-test",
        mock.openai_url(),
        ApiMode::ChatCompletions,
    )
    .with_api_key(KEY);
    cfg.retry = fast_retry();
    cfg.request_timeout = Duration::from_secs(10);
    cfg.stall_timeout = Duration::from_secs(10);
    cfg
}

pub fn anthropic_cfg(mock: &MockLlm) -> ProviderConfig {
    let mut cfg = ProviderConfig::new(
        "anthropic",
        "claude-test",
        mock.base_url(),
        ApiMode::AnthropicMessages,
    )
    .with_api_key(KEY);
    cfg.retry = fast_retry();
    cfg.request_timeout = Duration::from_secs(10);
    cfg.stall_timeout = Duration::from_secs(10);
    cfg
}

pub fn provider(cfg: ProviderConfig) -> Arc<dyn Provider> {
    build_provider(cfg).expect("provider builds")
}

pub fn simple_request(text: &str) -> ChatRequest {
    ChatRequest {
        system: "You are a test.".into(),
        messages: vec![Message::user(text)],
        ..ChatRequest::default()
    }
}

pub fn read_file_tool() -> ToolSpec {
    ToolSpec {
        name: "read_file".into(),
        description: "Read a file".into(),
        parameters: json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}),
    }
}

/// Drains a stream: its events, and the error that ended it, if any.
pub async fn drain(mut stream: EventStream) -> (Vec<StreamEvent>, Option<ProviderError>) {
    let mut events = Vec::new();
    let fut = async {
        while let Some(item) = stream.next().await {
            match item {
                Ok(ev) => events.push(ev),
                Err(e) => return Some(e),
            }
        }
        None
    };
    let err = tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .expect("stream finishes in time");
    (events, err)
}

/// One model call folded into a completion; the first error (from `stream()` or from the
/// stream) is returned instead.
pub async fn complete(
    p: &dyn Provider,
    req: &ChatRequest,
) -> Result<(Completion, Vec<StreamEvent>), ProviderError> {
    let cancel = CancellationToken::new();
    let stream = tokio::time::timeout(Duration::from_secs(20), p.stream(req, &cancel))
        .await
        .expect("stream() returns in time")?;
    let (events, err) = drain(stream).await;
    if let Some(e) = err {
        return Err(e);
    }
    let mut acc = Accumulator::new();
    for e in &events {
        acc.push(e);
    }
    assert!(acc.is_done(), "the stream ended without Done: {events:?}");
    Ok((acc.finish(), events))
}
