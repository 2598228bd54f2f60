//! Redirects are never followed: credentials go only to the configured endpoint.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hermes_core::ProviderError;
use hermes_llm::{ApiMode, ProviderConfig, RetryPolicy};
use hermes_testkit::MockLlm;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::common::*;

const EXTRA_SECRET: &str = "AZURE-SECRET-987654321";

/// A raw HTTP endpoint that answers every request with `307` to `location`, recording the
/// head of each request it saw.
struct Redirector {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Redirector {
    async fn start(location: impl Fn(u16) -> String) -> Redirector {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let location = location(port);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let head = read_request(&mut stream).await;
                log.lock().unwrap().push(head);
                let response = format!(
                    "HTTP/1.1 307 Temporary Redirect\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        });
        Redirector { port, seen }
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// Reads one request (head and `content-length` body) and returns the head.
async fn read_request(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&buf).into_owned(),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    head
}

fn cfg(mode: ApiMode, front: &Redirector) -> ProviderConfig {
    let base = match mode {
        ApiMode::ChatCompletions => format!("http://127.0.0.1:{}/v1", front.port),
        ApiMode::AnthropicMessages => format!("http://127.0.0.1:{}", front.port),
    };
    let mut cfg = ProviderConfig::new("vendor", "m", base, mode).with_api_key(KEY);
    cfg.extra_headers
        .push(("api-key".into(), EXTRA_SECRET.to_string()));
    cfg.retry = RetryPolicy::none();
    cfg.request_timeout = Duration::from_secs(10);
    cfg
}

#[tokio::test]
async fn keys_never_follow_a_redirect_to_another_host() {
    for mode in [ApiMode::ChatCompletions, ApiMode::AnthropicMessages] {
        let other = MockLlm::start().await;
        let other_port = other.addr().port();
        let front =
            Redirector::start(|_| format!("http://localhost:{other_port}/v1/chat/completions"))
                .await;
        let p = provider(cfg(mode, &front));
        let result = complete(p.as_ref(), &simple_request("hi")).await;

        let leaked: Vec<String> = other
            .requests()
            .iter()
            .map(|r| format!("{} {} {:?}", r.method, r.path, r.headers))
            .collect();
        assert!(
            leaked.is_empty(),
            "{mode:?}: the redirect target received requests: {leaked:?}"
        );
        assert!(
            !leaked
                .iter()
                .any(|r| r.contains(KEY) || r.contains(EXTRA_SECRET)),
            "{mode:?}: credentials leaked: {leaked:?}"
        );
        assert_eq!(front.requests().len(), 1, "{mode:?}: not retried");
        let e = result.unwrap_err();
        assert!(matches!(e, ProviderError::Config(_)), "{mode:?}: {e:?}");
        let text = e.to_string();
        assert!(
            text.contains(&format!("localhost:{other_port}")),
            "{mode:?}: names the target host: {text}"
        );
        assert!(text.contains("model.base_url"), "{mode:?}: {text}");
        assert!(text.contains("307"), "{mode:?}: {text}");
        assert!(
            !text.contains(KEY) && !text.contains(EXTRA_SECRET),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_redirect_on_the_same_host_is_not_followed_either() {
    // A relative Location: following it would resend the key to the same server on
    // another path (or, behind a proxy, over another scheme).
    let front = Redirector::start(|_| "/elsewhere?token=abc123secretvalue".to_string()).await;
    let p = provider(cfg(ApiMode::ChatCompletions, &front));
    let e = complete(p.as_ref(), &simple_request("hi"))
        .await
        .unwrap_err();
    assert_eq!(
        front.requests().len(),
        1,
        "followed: {:?}",
        front.requests()
    );
    let text = e.to_string();
    assert!(
        text.contains(&format!("127.0.0.1:{}/elsewhere", front.port)),
        "{text}"
    );
    assert!(!text.contains("abc123secretvalue"), "no query: {text}");
}
