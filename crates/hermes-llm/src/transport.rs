//! The HTTP side shared by both protocols: the client, one attempt (send, classify,
//! read), retries with backoff, and the reader that turns a streamed body into
//! [`StreamEvent`]s with stall detection and cancellation.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use hermes_core::provider::{EventStream, ModelInfo, ProviderError, StreamEvent};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use tokio_util::sync::CancellationToken;

use crate::classify;
use crate::config::{ProviderConfig, RetryPolicy};
use crate::scrub::{self, Scrubber};
use crate::sse::{SseDecoder, SseEvent};

/// The most bytes read from an error response.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// The most bytes read from a non-streamed answer.
const RESPONSE_LIMIT: usize = 32 * 1024 * 1024;
/// The longest connect phase, whatever the request timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Turns SSE events of one answer into stream events.
pub(crate) trait StreamParser: Send {
    /// Handles one SSE event, appending what it means to `out`.
    fn on_event(
        &mut self,
        event: SseEvent,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), ProviderError>;
    /// The body ended. Emits a final `Done` if the protocol allows, or errors.
    fn on_eof(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError>;
    /// The protocol's end marker was seen; nothing more is read.
    fn is_finished(&self) -> bool;
}

/// What a wire protocol contributes to a call.
pub(crate) trait Protocol: Send + Sync {
    fn stream_parser(&self, provider: &str, scrub: &Scrubber) -> Box<dyn StreamParser>;
    /// Converts a whole non-streamed answer into stream events.
    fn parse_response(
        &self,
        provider: &str,
        body: &[u8],
        scrub: &Scrubber,
    ) -> Result<Vec<StreamEvent>, ProviderError>;
}

/// Builds the HTTP client, with rustls on the ring provider. Redirects are never
/// followed: the request carries the key (and credential `extra_headers`), which must go
/// to the configured endpoint only, not to wherever it points (another host, or plain
/// HTTP). [`Transport`] reports a redirect as a configuration error instead.
pub(crate) fn build_client(cfg: &ProviderConfig) -> Result<reqwest::Client, ProviderError> {
    // Installing fails only when a provider is already installed, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(cfg.request_timeout.min(CONNECT_TIMEOUT))
        .user_agent(concat!("hermes-rs/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            ProviderError::Config(format!(
                "{}: could not set up the HTTP client: {}",
                cfg.label,
                classify::error_chain(&e)
            ))
        })
}

/// Builds request headers: the protocol's own, then `extra_headers` (which may override
/// them). Values of credential headers are marked sensitive.
pub(crate) fn build_headers(
    label: &str,
    own: Vec<(&'static str, String)>,
    extra: &[(String, String)],
) -> Result<HeaderMap, ProviderError> {
    let mut map = HeaderMap::new();
    let own = own.into_iter().map(|(k, v)| (k.to_string(), v));
    for (name, value) in own.chain(extra.iter().cloned()) {
        let header = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
            ProviderError::Config(format!(
                "{label}: `{name}` is not a valid HTTP header name; fix extra_headers"
            ))
        })?;
        let mut v = HeaderValue::from_str(value.trim()).map_err(|_| {
            ProviderError::Config(format!(
                "{label}: the value of header `{name}` contains characters HTTP does not allow (for example a line break); check the API key or extra_headers"
            ))
        })?;
        if is_credential_header(header.as_str()) {
            v.set_sensitive(true);
        }
        map.insert(header, v);
    }
    Ok(map)
}

/// Whether a header name looks like it carries a credential (`Authorization`,
/// `x-api-key`, `api-key`, `X-Auth-Token`, `x-client-secret`, …); case-insensitive.
fn is_credential_header(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    name == "authorization" || ["key", "token", "secret"].iter().any(|w| name.contains(w))
}

/// The secrets of a configuration: the key and credential-looking extra headers.
pub(crate) fn scrubber_for(cfg: &ProviderConfig) -> Scrubber {
    let password = reqwest::Url::parse(&cfg.base_url)
        .ok()
        .and_then(|u| u.password().map(str::to_string));
    let mut secrets: Vec<&str> = cfg.api_key.iter().map(String::as_str).collect();
    secrets.extend(password.as_deref());
    for (k, v) in &cfg.extra_headers {
        if is_credential_header(k) {
            secrets.push(v.strip_prefix("Bearer ").unwrap_or(v));
        }
    }
    Scrubber::new(secrets)
}

/// One endpoint: where to send, with which headers, and how patiently.
pub(crate) struct Transport {
    client: reqwest::Client,
    pub(crate) info: ModelInfo,
    url: String,
    display_url: String,
    headers: HeaderMap,
    streaming: bool,
    request_timeout: Duration,
    stall_timeout: Duration,
    retry: RetryPolicy,
    pub(crate) scrub: Scrubber,
}

/// A failed attempt, with the server's requested wait.
struct Failure {
    error: ProviderError,
    retry_after: Option<Duration>,
}

impl From<ProviderError> for Failure {
    fn from(error: ProviderError) -> Failure {
        Failure {
            error,
            retry_after: None,
        }
    }
}

impl Transport {
    pub(crate) fn new(
        cfg: &ProviderConfig,
        client: reqwest::Client,
        url: String,
        headers: HeaderMap,
    ) -> Transport {
        Transport {
            client,
            info: ModelInfo {
                provider: cfg.label.clone(),
                model: cfg.model.clone(),
                base_url: scrub::display_url(&cfg.base_url),
                context_length: cfg.context_length,
            },
            display_url: scrub::display_url(&url),
            url,
            headers,
            streaming: cfg.streaming,
            request_timeout: cfg.request_timeout,
            stall_timeout: cfg.stall_timeout,
            retry: cfg.retry.clone(),
            scrub: scrubber_for(cfg),
        }
    }

    pub(crate) fn streaming(&self) -> bool {
        self.streaming
    }

    fn provider(&self) -> &str {
        &self.info.provider
    }

    /// Sends `body`, retrying retryable failures that happen before the first event.
    pub(crate) async fn run(
        &self,
        body: &serde_json::Value,
        protocol: &dyn Protocol,
        cancel: &CancellationToken,
    ) -> Result<EventStream, ProviderError> {
        let mut retries = 0u32;
        loop {
            if cancel.is_cancelled() {
                return Err(ProviderError::Cancelled);
            }
            let failure = match self.attempt(body, protocol, cancel).await {
                Ok(stream) => return Ok(stream),
                Err(f) => f,
            };
            let error = failure.error;
            if !error.is_retryable() || retries >= self.retry.max_retries {
                if retries > 0 {
                    tracing::warn!(
                        provider = self.provider(),
                        class = error.class(),
                        attempts = retries + 1,
                        "model call failed after retries: {error}"
                    );
                }
                return Err(error);
            }
            let delay = match failure.retry_after {
                Some(wait) if wait > self.retry.max_retry_after => {
                    tracing::warn!(
                        provider = self.provider(),
                        retry_after_secs = wait.as_secs(),
                        "the server asks to wait longer than max_retry_after; not retrying"
                    );
                    return Err(error);
                }
                Some(wait) => wait,
                None => self.retry.backoff(retries),
            };
            retries += 1;
            tracing::warn!(
                provider = self.provider(),
                class = error.class(),
                retry = retries,
                max_retries = self.retry.max_retries,
                delay_ms = delay.as_millis() as u64,
                "model call failed, retrying: {error}"
            );
            tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(ProviderError::Cancelled),
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    async fn attempt(
        &self,
        body: &serde_json::Value,
        protocol: &dyn Protocol,
        cancel: &CancellationToken,
    ) -> Result<EventStream, Failure> {
        let request = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .json(body);
        let response = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(ProviderError::Cancelled.into()),
            r = tokio::time::timeout(self.request_timeout, request.send()) => match r {
                Err(_) => {
                    return Err(ProviderError::Timeout {
                        provider: self.provider().to_string(),
                        after: self.request_timeout,
                    }
                    .into())
                }
                Ok(Err(e)) => return Err(self.transport_error(&e).into()),
                Ok(Ok(resp)) => resp,
            }
        };

        let status = response.status().as_u16();
        if response.status().is_redirection() {
            return Err(self.redirect_error(&response).into());
        }
        if !response.status().is_success() {
            let retry_after = classify::retry_after(response.headers());
            let body = self
                .read_body(response, ERROR_BODY_LIMIT, false, cancel)
                .await
                .unwrap_or_default();
            let mut error =
                classify::classify_http(self.provider(), status, retry_after, &body, &self.scrub);
            if let ProviderError::BadRequest {
                status: 404,
                detail,
                ..
            } = &mut error
            {
                // Usually a base URL without (or with a doubled) `/v1`.
                detail.push_str(&format!(
                    " (no such endpoint: {}; check model.base_url)",
                    self.display_url
                ));
            }
            return Err(Failure { error, retry_after });
        }

        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.contains("html") {
            return Err(ProviderError::Malformed {
                provider: self.provider().to_string(),
                detail: format!(
                    "{} answered with an HTML page instead of a model response; check model.base_url",
                    self.display_url
                ),
            }
            .into());
        }
        let is_sse = if content_type.contains("event-stream") {
            true
        } else if content_type.contains("json") {
            false
        } else {
            self.streaming
        };

        if !is_sse {
            let body = self
                .read_body(response, RESPONSE_LIMIT, true, cancel)
                .await?;
            let events = protocol.parse_response(self.provider(), &body, &self.scrub)?;
            return Ok(stream::iter(events.into_iter().map(Ok)).boxed());
        }

        let mut reader = Reader {
            body: response.bytes_stream().boxed(),
            decoder: SseDecoder::new(),
            parser: protocol.stream_parser(self.provider(), &self.scrub),
            queue: VecDeque::new(),
            error: None,
            ended: false,
            cancel: cancel.clone(),
            stall_timeout: self.stall_timeout,
            provider: self.provider().to_string(),
            url: self.display_url.clone(),
            scrub: self.scrub.clone(),
        };
        // Read until the first event that carries content, so that failures before it
        // (a stall, an `error` event right after `message_start`) can still be retried.
        let mut head = Vec::new();
        while let Some(item) = reader.next().await {
            let event = item?;
            let is_content = !matches!(event, StreamEvent::Usage(_));
            head.push(event);
            if is_content {
                break;
            }
        }
        let tail = stream::unfold(reader, |mut r| async move {
            r.next().await.map(|item| (item, r))
        });
        Ok(stream::iter(head.into_iter().map(Ok)).chain(tail).boxed())
    }

    /// Reads a whole body, bounded in size and time. With `strict`, a body over the limit
    /// is an error; otherwise it is cut.
    async fn read_body(
        &self,
        mut response: reqwest::Response,
        limit: usize,
        strict: bool,
        cancel: &CancellationToken,
    ) -> Result<Vec<u8>, ProviderError> {
        let mut buf = Vec::new();
        let deadline = deadline_after(self.request_timeout);
        loop {
            let chunk = tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(ProviderError::Cancelled),
                r = tokio::time::timeout_at(deadline, tokio::time::timeout(self.stall_timeout, response.chunk())) => r,
            };
            let chunk = match chunk {
                Err(_) => {
                    return Err(ProviderError::Timeout {
                        provider: self.provider().to_string(),
                        after: self.request_timeout,
                    });
                }
                Ok(Err(_)) => {
                    return Err(ProviderError::Stalled {
                        provider: self.provider().to_string(),
                        after: self.stall_timeout,
                    });
                }
                Ok(Ok(Err(e))) => return Err(self.transport_error(&e)),
                Ok(Ok(Ok(None))) => return Ok(buf),
                Ok(Ok(Ok(Some(c)))) => c,
            };
            if buf.len() + chunk.len() > limit {
                if strict {
                    return Err(ProviderError::Malformed {
                        provider: self.provider().to_string(),
                        detail: format!("the response is larger than {} MiB", limit >> 20),
                    });
                }
                buf.extend_from_slice(&chunk[..limit - buf.len()]);
                return Ok(buf);
            }
            buf.extend_from_slice(&chunk);
        }
    }

    /// A redirect answer, which is not followed: names where it points (scheme, host,
    /// port and path; no userinfo or query) so that the user can fix the base URL.
    fn redirect_error(&self, response: &reqwest::Response) -> ProviderError {
        let status = response.status().as_u16();
        let target = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|loc| response.url().join(loc.trim()).ok());
        let what = match target {
            Some(url) => {
                let host = match (url.host_str(), url.port()) {
                    (Some(h), Some(p)) => format!("{h}:{p}"),
                    (Some(h), None) => h.to_string(),
                    (None, _) => "(no host)".to_string(),
                };
                format!(
                    "to host `{host}` ({})",
                    self.scrub
                        .excerpt(&scrub::display_url(url.as_str()), classify::DETAIL_MAX)
                )
            }
            None => "without a usable Location header".to_string(),
        };
        ProviderError::Config(format!(
            "{}: {} answered with a redirect (HTTP {status}) {what}; redirects are not followed, so that the API key only goes to the configured endpoint. If you trust that address, set model.base_url (or this provider's base_url in config.yaml) to it",
            self.provider(),
            self.display_url,
        ))
    }

    fn transport_error(&self, e: &reqwest::Error) -> ProviderError {
        classify::transport_error(
            self.provider(),
            &self.display_url,
            e,
            self.request_timeout,
            &self.scrub,
        )
    }
}

/// Reads a streamed body event by event.
struct Reader {
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    decoder: SseDecoder,
    parser: Box<dyn StreamParser>,
    queue: VecDeque<StreamEvent>,
    /// An error to report once the events before it are out.
    error: Option<ProviderError>,
    ended: bool,
    cancel: CancellationToken,
    stall_timeout: Duration,
    provider: String,
    url: String,
    scrub: Scrubber,
}

impl Reader {
    async fn next(&mut self) -> Option<Result<StreamEvent, ProviderError>> {
        loop {
            if let Some(ev) = self.queue.pop_front() {
                return Some(Ok(ev));
            }
            if let Some(e) = self.error.take() {
                return Some(Err(e));
            }
            if self.ended {
                return None;
            }
            if self.parser.is_finished() {
                self.ended = true;
                continue;
            }
            let chunk = tokio::select! {
                biased;
                () = self.cancel.cancelled() => {
                    self.ended = true;
                    return Some(Err(ProviderError::Cancelled));
                }
                r = tokio::time::timeout(self.stall_timeout, self.body.next()) => r,
            };
            let result = match chunk {
                Err(_) => Err(ProviderError::Stalled {
                    provider: self.provider.clone(),
                    after: self.stall_timeout,
                }),
                Ok(None) => {
                    self.ended = true;
                    self.finish_input()
                }
                Ok(Some(Err(e))) => Err(ProviderError::Network {
                    provider: self.provider.clone(),
                    url: self.url.clone(),
                    detail: format!(
                        "the connection broke during the answer: {}",
                        self.scrub
                            .excerpt(&classify::error_chain(&e), classify::DETAIL_MAX)
                    ),
                }),
                Ok(Some(Ok(bytes))) => self.feed(&bytes),
            };
            if let Err(e) = result {
                self.error = Some(e);
                self.ended = true;
            }
        }
    }

    fn malformed(&self, e: &crate::sse::SseError) -> ProviderError {
        ProviderError::Malformed {
            provider: self.provider.clone(),
            detail: format!("the event stream is malformed: {e}"),
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<(), ProviderError> {
        let events = self.decoder.feed(bytes).map_err(|e| self.malformed(&e))?;
        for ev in events {
            self.parser.on_event(ev, &mut self.queue)?;
            if self.parser.is_finished() {
                break;
            }
        }
        Ok(())
    }

    fn finish_input(&mut self) -> Result<(), ProviderError> {
        if !self.parser.is_finished()
            && let Some(ev) = self.decoder.finish().map_err(|e| self.malformed(&e))?
        {
            self.parser.on_event(ev, &mut self.queue)?;
        }
        if !self.parser.is_finished() {
            self.parser.on_eof(&mut self.queue)?;
        }
        Ok(())
    }
}

/// The instant `timeout` from now; for a timeout too large to represent (an absurd
/// configured value), a point far enough away to mean "no limit".
fn deadline_after(timeout: Duration) -> tokio::time::Instant {
    /// About thirty years, as tokio uses for "never".
    const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);
    let now = tokio::time::Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(FAR_FUTURE))
        .unwrap_or(now)
}

/// A short excerpt of a JSON text that failed to parse, for `Malformed` details.
pub(crate) fn json_excerpt(scrub: &Scrubber, text: &str) -> String {
    format!("`{}`", scrub.excerpt(text, 120))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_validate_and_mark_secrets() {
        let h = build_headers(
            "p",
            vec![("authorization", "Bearer sk-1".to_string())],
            &[("X-Title".to_string(), "hermes".to_string())],
        )
        .unwrap();
        assert!(h["authorization"].is_sensitive());
        assert!(!h["x-title"].is_sensitive());
        let e = build_headers("p", vec![], &[("bad header".into(), "v".into())]).unwrap_err();
        assert!(
            e.to_string().contains("not a valid HTTP header name"),
            "{e}"
        );
        let e = build_headers("p", vec![("x-api-key", "a\nb".into())], &[]).unwrap_err();
        assert!(!e.to_string().contains("a\nb"));
    }

    #[test]
    fn one_rule_decides_which_headers_are_credentials() {
        for (name, secret) in [
            ("Authorization", true),
            ("X-API-Key", true),
            ("api-key", true),
            ("X-Auth-Token", true),
            ("Client-Secret", true),
            ("X-Title", false),
            ("HTTP-Referer", false),
        ] {
            let value = "value-1234567890";
            let h = build_headers("p", vec![], &[(name.into(), value.into())]).unwrap();
            assert_eq!(h[name].is_sensitive(), secret, "{name}");
            let mut cfg = ProviderConfig::new(
                "p",
                "m",
                "https://x.test/v1",
                crate::ApiMode::ChatCompletions,
            );
            cfg.extra_headers.push((name.into(), value.into()));
            assert_eq!(scrubber_for(&cfg).scrub(value) != value, secret, "{name}");
        }
    }

    #[test]
    fn scrubber_covers_key_headers_and_url_password() {
        let mut cfg = ProviderConfig::new(
            "p",
            "m",
            "https://user:hunter2hunter2@x.test/v1",
            crate::ApiMode::ChatCompletions,
        )
        .with_api_key("sk-abcdefgh1234");
        cfg.extra_headers
            .push(("X-Custom-Token".into(), "tok-0987654321".into()));
        let s = scrubber_for(&cfg);
        let out = s.scrub("sk-abcdefgh1234 tok-0987654321 hunter2hunter2");
        assert_eq!(out, "[REDACTED] [REDACTED] [REDACTED]");
    }
}
