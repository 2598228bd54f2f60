//! Cancellation before, during and between attempts.

use std::time::Duration;

use futures::StreamExt;
use hermes_core::{ProviderError, StreamEvent};
use hermes_testkit::{MockLlm, Reply};
use tokio_util::sync::CancellationToken;

use super::common::*;

#[tokio::test]
async fn cancelling_mid_stream_ends_the_stream() {
    let mock = MockLlm::start().await;
    mock.push(Reply::stall_after("partial answer here", 1));
    let mut cfg = openai_cfg(&mock);
    cfg.stall_timeout = Duration::from_secs(60);
    let p = provider(cfg);
    let cancel = CancellationToken::new();
    let mut stream = p.stream(&simple_request("q"), &cancel).await.unwrap();
    let first = stream.next().await;
    assert!(
        matches!(first, Some(Ok(StreamEvent::TextDelta(_)))),
        "{first:?}"
    );
    cancel.cancel();
    let next = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("cancellation ends the stream promptly");
    assert_eq!(next, Some(Err(ProviderError::Cancelled)));
    assert_eq!(stream.next().await, None);
}

#[tokio::test]
async fn cancelling_during_a_retry_wait_returns_cancelled() {
    let mock = MockLlm::start().await;
    mock.push(Reply::error(500));
    let mut cfg = anthropic_cfg(&mock);
    cfg.retry.base_delay = Duration::from_secs(60);
    cfg.retry.max_delay = Duration::from_secs(60);
    let p = provider(cfg);
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let waiter = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        trigger.cancel();
    });
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        p.stream(&simple_request("q"), &cancel),
    )
    .await
    .expect("cancellation cuts the backoff short");
    assert!(matches!(r, Err(ProviderError::Cancelled)));
    assert_eq!(mock.requests().len(), 1);
    waiter.await.unwrap();
}

#[tokio::test]
async fn cancelled_token_means_no_request() {
    let mock = MockLlm::start().await;
    let p = provider(openai_cfg(&mock));
    let cancel = CancellationToken::new();
    cancel.cancel();
    let r = p.stream(&simple_request("q"), &cancel).await;
    assert!(matches!(r, Err(ProviderError::Cancelled)));
    assert!(mock.requests().is_empty());
}
