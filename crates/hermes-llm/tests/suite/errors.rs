//! Error classes, retries and stream failures.

use std::time::Duration;

use hermes_core::ProviderError;
use hermes_testkit::{MockLlm, Reply};
use serde_json::json;

use super::common::*;

#[tokio::test]
async fn rate_limit_with_retry_after_is_retried_then_succeeds() {
    let mock = MockLlm::start().await;
    mock.push(Reply::rate_limited("0"));
    mock.push(Reply::text("after the wait"));
    let p = provider(openai_cfg(&mock));
    let (c, _) = complete(p.as_ref(), &simple_request("q")).await.unwrap();
    assert_eq!(c.message.content, "after the wait");
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn server_errors_are_retried() {
    let mock = MockLlm::start().await;
    mock.push(Reply::error(500));
    mock.push(Reply::anthropic_error(
        529,
        "overloaded_error",
        "Overloaded",
    ));
    mock.push(Reply::text("finally"));
    let p = provider(anthropic_cfg(&mock));
    let (c, _) = complete(p.as_ref(), &simple_request("q")).await.unwrap();
    assert_eq!(c.message.content, "finally");
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
async fn retries_give_up_after_max_retries() {
    let mock = MockLlm::start().await;
    for _ in 0..5 {
        mock.push(Reply::error(503));
    }
    let mut cfg = openai_cfg(&mock);
    cfg.retry.max_retries = 2;
    let p = provider(cfg);
    let e = complete(p.as_ref(), &simple_request("q"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProviderError::Server { status: 503, .. }),
        "{e:?}"
    );
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
async fn retry_after_longer_than_allowed_gives_up_at_once() {
    let mock = MockLlm::start().await;
    mock.push(Reply::rate_limited("120"));
    mock.push(Reply::text("never reached"));
    let p = provider(openai_cfg(&mock));
    let e = complete(p.as_ref(), &simple_request("q"))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ProviderError::RateLimited {
            provider: "openai".into(),
            retry_after: Some(Duration::from_secs(120))
        }
    );
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn auth_errors_are_not_retried_and_never_show_the_key() {
    let mock = MockLlm::start().await;
    mock.push(Reply::openai_error(
        401,
        "invalid_api_key",
        &format!("Incorrect API key provided: {KEY}. You can find your API key at https://platform.openai.com."),
    ));
    mock.push(Reply::text("never reached"));
    let p = provider(openai_cfg(&mock));
    let e = complete(p.as_ref(), &simple_request("q"))
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::Auth { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(!msg.contains(KEY), "{msg}");
    assert!(
        msg.contains("Incorrect API key provided: [REDACTED]"),
        "{msg}"
    );
    assert!(!format!("{e:?}").contains(KEY));
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn auth_errors_from_anthropic() {
    let mock = MockLlm::start().await;
    mock.require_api_key("a-different-key-0000");
    let p = provider(anthropic_cfg(&mock));
    let e = complete(p.as_ref(), &simple_request("q"))
        .await
        .unwrap_err();
    assert_eq!(e.class(), "auth", "{e}");
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn context_length_errors_are_recognised() {
    let mock = MockLlm::start().await;
    mock.push(Reply::openai_error(
        400,
        "context_length_exceeded",
        "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.",
    ));
    let p = provider(openai_cfg(&mock));
    let e = complete(p.as_ref(), &simple_request("q"))
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::ContextTooLong { .. }), "{e:?}");
    assert!(!e.should_fall_back());

    mock.push(Reply::anthropic_error(
        400,
        "invalid_request_error",
        "prompt is too long: 210000 tokens > 200000 maximum",
    ));
    let p = provider(anthropic_cfg(&mock));
    let e = complete(p.as_ref(), &simple_request("q"))
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::ContextTooLong { .. }), "{e:?}");
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn other_client_errors_quote_a_short_line() {
    let mock = MockLlm::start().await;
    let long = format!(
        "Invalid schema for function 'x':\n{}",
        "details ".repeat(100)
    );
    mock.push(Reply::openai_error(400, "invalid_request_error", &long));
    mock.push(Reply::openai_error(
        404,
        "model_not_found",
        "The model `gpt-test` does not exist",
    ));
    mock.push(Reply::openai_error(
        429,
        "insufficient_quota",
        "You exceeded your current quota",
    ));
    let p = provider(openai_cfg(&mock));
    let e = complete(p.as_ref(), &simple_request("q"))
        .await
        .unwrap_err();
    let ProviderError::BadRequest { status, detail, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*status, 400);
    assert!(
        detail.starts_with("Invalid schema for function 'x': details"),
        "{detail}"
    );
    assert!(
        !detail.contains('\n') && detail.chars().count() <= 301,
        "{detail}"
    );
    let e = complete(p.as_ref(), &simple_request("q"))
        .await
        .unwrap_err();
    assert_eq!(e.class(), "model_not_found", "{e}");
    let e = complete(p.as_ref(), &simple_request("q"))
        .await
        .unwrap_err();
    assert_eq!(e.class(), "quota", "{e}");
    assert_eq!(mock.requests().len(), 3, "none of these is retried");
}

#[tokio::test]
async fn malformed_sse_is_reported_with_an_excerpt() {
    for anthropic in [false, true] {
        let mock = MockLlm::start().await;
        mock.push(Reply::malformed_sse());
        let p = provider(if anthropic {
            anthropic_cfg(&mock)
        } else {
            openai_cfg(&mock)
        });
        let e = complete(p.as_ref(), &simple_request("q"))
            .await
            .unwrap_err();
        let ProviderError::Malformed { detail, .. } = &e else {
            panic!("{e:?}")
        };
        assert!(detail.contains("{this is not json"), "{detail}");
        if anthropic {
            assert!(detail.contains("content_block_delta"), "{detail}");
        }
        assert_eq!(
            mock.requests().len(),
            1,
            "malformed answers are not retried"
        );
    }
}

#[tokio::test]
async fn malformed_json_when_not_streaming() {
    let mock = MockLlm::start().await;
    mock.push(Reply::malformed_sse());
    let mut cfg = openai_cfg(&mock);
    cfg.streaming = false;
    let p = provider(cfg);
    let e = complete(p.as_ref(), &simple_request("q"))
        .await
        .unwrap_err();
    assert_eq!(e.class(), "malformed", "{e}");
}

#[tokio::test]
async fn stalled_stream_ends_with_stalled() {
    for anthropic in [false, true] {
        let mock = MockLlm::start().await;
        mock.push(Reply::stall_after("some text that never ends", 2));
        let mut cfg = if anthropic {
            anthropic_cfg(&mock)
        } else {
            openai_cfg(&mock)
        };
        cfg.stall_timeout = Duration::from_millis(300);
        let p = provider(cfg);
        let stream = p
            .stream(
                &simple_request("q"),
                &tokio_util::sync::CancellationToken::new(),
            )
            .await
            .unwrap();
        let (events, err) = drain(stream).await;
        assert!(
            !events.is_empty(),
            "the first pieces arrive before the stall"
        );
        let e = err.expect("the stream ends with an error");
        assert!(matches!(e, ProviderError::Stalled { .. }), "{e:?}");
    }
}

#[tokio::test]
async fn stall_before_the_first_event_is_retried() {
    let mock = MockLlm::start().await;
    mock.push(Reply::stall_after("never", 0));
    mock.push(Reply::text("second try"));
    let mut cfg = openai_cfg(&mock);
    cfg.stall_timeout = Duration::from_millis(300);
    let p = provider(cfg);
    let (c, _) = complete(p.as_ref(), &simple_request("q")).await.unwrap();
    assert_eq!(c.message.content, "second try");
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn anthropic_error_event_before_content_is_retried() {
    let mock = MockLlm::start().await;
    let overloaded = format!(
        "event: message_start\ndata: {}\n\nevent: error\ndata: {}\n\n",
        json!({"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "content": [], "model": "c", "usage": {"input_tokens": 5, "output_tokens": 1}}}),
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    );
    mock.push(Reply::raw("text/event-stream", overloaded));
    mock.push(Reply::text("recovered"));
    let p = provider(anthropic_cfg(&mock));
    let (c, _) = complete(p.as_ref(), &simple_request("q")).await.unwrap();
    assert_eq!(c.message.content, "recovered");
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn unreachable_server_is_a_network_error() {
    // Bind and drop a listener to find a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = hermes_llm::ProviderConfig::new(
        "custom",
        "m",
        format!("http://user:{KEY}@127.0.0.1:{port}/v1"),
        hermes_llm::ApiMode::ChatCompletions,
    )
    .with_api_key(KEY);
    cfg.retry = fast_retry();
    cfg.retry.max_retries = 1;
    let p = provider(cfg);
    let e = complete(p.as_ref(), &simple_request("q"))
        .await
        .unwrap_err();
    let ProviderError::Network { url, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(url, &format!("http://127.0.0.1:{port}/v1/chat/completions"));
    assert!(!e.to_string().contains(KEY), "{e}");
}

#[tokio::test]
async fn wrong_base_urls_get_a_hint() {
    let mock = MockLlm::start().await;
    mock.push(Reply::raw(
        "text/html; charset=utf-8",
        "<html><body>Welcome to nginx</body></html>",
    ));
    let p = provider(openai_cfg(&mock));
    let e = complete(p.as_ref(), &simple_request("q"))
        .await
        .unwrap_err();
    assert_eq!(e.class(), "malformed");
    assert!(
        e.to_string().contains("HTML page") && e.to_string().contains("model.base_url"),
        "{e}"
    );

    // No `/v1`: the mock answers unknown routes with 404.
    let mut cfg = openai_cfg(&mock);
    cfg.base_url = mock.base_url();
    let p = provider(cfg);
    let e = complete(p.as_ref(), &simple_request("q"))
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert_eq!(e.class(), "bad_request", "{msg}");
    assert!(
        msg.contains("/chat/completions") && msg.contains("check model.base_url"),
        "{msg}"
    );
}

#[tokio::test]
async fn an_absurd_request_timeout_is_treated_as_no_limit() {
    // `providers.*.request_timeout_seconds` accepts any u64; the body deadline must not
    // overflow.
    let mock = MockLlm::start().await;
    mock.push(Reply::openai_error(400, "bad", "nope"));
    mock.push(Reply::text("whole answer"));
    let mut cfg = openai_cfg(&mock);
    cfg.request_timeout = Duration::MAX;
    cfg.stall_timeout = Duration::MAX;
    cfg.streaming = false;
    let p = provider(cfg);
    let e = complete(p.as_ref(), &simple_request("q"))
        .await
        .unwrap_err();
    assert_eq!(e.class(), "bad_request", "{e}");
    let (c, _) = complete(p.as_ref(), &simple_request("q")).await.unwrap();
    assert_eq!(c.message.content, "whole answer");
}
