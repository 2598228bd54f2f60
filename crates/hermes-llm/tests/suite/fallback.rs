//! The fallback chain.

use std::sync::Arc;

use hermes_core::{Provider, ProviderError};
use hermes_llm::FallbackProvider;
use hermes_testkit::{MockLlm, Reply};

use super::common::*;

#[tokio::test]
async fn moves_to_the_next_provider_after_an_auth_error() {
    let primary = MockLlm::start().await;
    let backup = MockLlm::start().await;
    primary.push(Reply::error(401));
    backup.push(Reply::text("from the backup"));
    backup.push(Reply::text("still the backup"));
    let chain = FallbackProvider::new(vec![
        provider(openai_cfg(&primary)),
        provider(anthropic_cfg(&backup)),
    ])
    .unwrap();
    assert_eq!(
        chain.info().provider,
        "openai",
        "the primary until a fallback answers"
    );
    let (c, _) = complete(&chain, &simple_request("q")).await.unwrap();
    assert_eq!(c.message.content, "from the backup");
    assert_eq!(chain.info().provider, "anthropic");
    assert_eq!(chain.active_index(), 1);
    // Sticky: the next call goes straight to the backup.
    let (c, _) = complete(&chain, &simple_request("q")).await.unwrap();
    assert_eq!(c.message.content, "still the backup");
    assert_eq!(primary.requests().len(), 1);
    assert_eq!(backup.requests().len(), 2);
    chain.reset();
    assert_eq!(chain.info().provider, "openai");
}

#[tokio::test]
async fn context_errors_do_not_fall_back() {
    let primary = MockLlm::start().await;
    let backup = MockLlm::start().await;
    primary.push(Reply::openai_error(
        400,
        "context_length_exceeded",
        "maximum context length exceeded",
    ));
    let chain = FallbackProvider::new(vec![
        provider(openai_cfg(&primary)),
        provider(openai_cfg(&backup)),
    ])
    .unwrap();
    let e = complete(&chain, &simple_request("q")).await.unwrap_err();
    assert_eq!(e.class(), "context_length");
    assert!(backup.requests().is_empty());
}

#[tokio::test]
async fn the_last_error_is_returned_when_all_fail() {
    let a = MockLlm::start().await;
    let b = MockLlm::start().await;
    a.push(Reply::error(401));
    b.push(Reply::error(402));
    let chain =
        FallbackProvider::new(vec![provider(openai_cfg(&a)), provider(openai_cfg(&b))]).unwrap();
    let e = complete(&chain, &simple_request("q")).await.unwrap_err();
    assert_eq!(e.class(), "quota", "{e}");
}

#[tokio::test]
async fn an_empty_chain_is_a_config_error() {
    let empty: Vec<Arc<dyn Provider>> = Vec::new();
    assert!(matches!(
        FallbackProvider::new(empty),
        Err(ProviderError::Config(_))
    ));
}
