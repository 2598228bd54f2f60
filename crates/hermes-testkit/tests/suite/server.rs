//! The mock server, spoken to with hand-written HTTP/1.1.

// Test helpers: a failed expectation is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use hermes_testkit::{MockLlm, Reply};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Answer {
    status: u16,
    head: String,
    body: String,
}

async fn http(
    mock: &MockLlm,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut s = tokio::net::TcpStream::connect(mock.addr()).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Answer {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

#[tokio::test]
async fn echoes_and_records_requests() {
    let mock = MockLlm::start().await;
    let body =
        json!({"model": "m", "messages": [{"role": "user", "content": "hello"}]}).to_string();
    let a = http(
        &mock,
        "POST",
        "/v1/chat/completions",
        &[("X-Custom", "Value")],
        &body,
    )
    .await;
    assert_eq!(a.status, 200);
    let v: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "You said: hello");
    assert_eq!(v["object"], "chat.completion");
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/v1/chat/completions");
    assert_eq!(reqs[0].header("X-CUSTOM"), Some("Value"));
    assert_eq!(
        reqs[0].headers.get("x-custom").map(String::as_str),
        Some("Value")
    );
    assert_eq!(reqs[0].body["messages"][0]["content"], "hello");
}

#[tokio::test]
async fn streams_sse_in_the_request_protocol() {
    let mock = MockLlm::start().await;
    mock.push(Reply::text("abc"));
    mock.push(Reply::text("xyz"));
    let body =
        json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "q"}]})
            .to_string();
    let a = http(&mock, "POST", "/v1/chat/completions", &[], &body).await;
    assert!(
        a.head.contains("content-type: text/event-stream"),
        "{}",
        a.head
    );
    assert!(a.body.contains("data: [DONE]"));
    assert!(a.body.contains("\"content\":\"abc\""));
    let body = json!({"model": "m", "max_tokens": 5, "stream": true, "messages": [{"role": "user", "content": "q"}]}).to_string();
    let a = http(&mock, "POST", "/v1/messages", &[], &body).await;
    assert!(a.body.contains("event: message_start"));
    assert!(a.body.contains("\"text\":\"xyz\""));
    assert!(a.body.contains("event: message_stop"));
    assert_eq!(mock.pending(), 0);
}

#[tokio::test]
async fn errors_carry_status_body_and_retry_after() {
    let mock = MockLlm::start().await;
    mock.push(Reply::rate_limited("3"));
    mock.push(Reply::error(529));
    let a = http(&mock, "POST", "/v1/chat/completions", &[], "{}").await;
    assert_eq!(a.status, 429);
    assert!(a.head.contains("retry-after: 3"), "{}", a.head);
    let v: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    let a = http(&mock, "POST", "/v1/messages", &[], "{}").await;
    assert_eq!(a.status, 529);
    let v: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["error"]["type"], "overloaded_error");
}

#[tokio::test]
async fn models_unknown_routes_and_required_keys() {
    let mock = MockLlm::start().await;
    let a = http(&mock, "GET", "/v1/models", &[], "").await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("mock-model"));
    let a = http(&mock, "POST", "/chat/completions", &[], "{}").await;
    assert_eq!(a.status, 404);

    mock.require_api_key("secret-key");
    mock.push(Reply::text("for the key holder"));
    let a = http(
        &mock,
        "POST",
        "/v1/messages",
        &[("x-api-key", "wrong")],
        "{}",
    )
    .await;
    assert_eq!(a.status, 401);
    assert_eq!(
        mock.pending(),
        1,
        "a refused request does not use up the script"
    );
    let a = http(
        &mock,
        "POST",
        "/v1/chat/completions",
        &[("Authorization", "Bearer secret-key")],
        "{}",
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("for the key holder"));
    assert_eq!(mock.requests().len(), 4);
}

#[tokio::test]
async fn requests_are_recorded_before_a_delayed_answer() {
    let mock = MockLlm::start().await;
    mock.push(Reply::text("late").delayed(Duration::from_secs(30)));
    let addr = mock.addr();
    let client = tokio::spawn(async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
        )
        .await
        .unwrap();
        let mut buf = [0u8; 16];
        let _ = s.read(&mut buf).await;
    });
    let reqs = mock.wait_for_requests(1, Duration::from_secs(10)).await;
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].body, json!({}));
    client.abort();
}
