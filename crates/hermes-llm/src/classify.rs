//! Turning HTTP failures and error bodies of both protocols into [`ProviderError`]
//! classes, with short scrubbed details.

use std::time::{Duration, SystemTime};

use hermes_core::ProviderError;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::scrub::Scrubber;

/// The longest detail quoted from a server's message.
pub(crate) const DETAIL_MAX: usize = 300;

/// What an error body says, in whichever shape it came.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ErrorInfo {
    pub message: String,
    /// `error.type` (OpenAI, Anthropic).
    pub kind: String,
    /// `error.code` (OpenAI; a number for some proxies).
    pub code: String,
    /// More text worth matching on but not quoting (OpenRouter's `metadata.raw`).
    pub extra: String,
}

impl ErrorInfo {
    fn haystack(&self) -> String {
        format!(
            "{} {} {} {}",
            self.message, self.kind, self.code, self.extra
        )
        .to_lowercase()
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn info_from_object(obj: &Value) -> ErrorInfo {
    ErrorInfo {
        message: obj
            .get("message")
            .or_else(|| obj.get("detail"))
            .map(value_text)
            .unwrap_or_default(),
        kind: obj.get("type").map(value_text).unwrap_or_default(),
        code: obj.get("code").map(value_text).unwrap_or_default(),
        extra: obj
            .get("metadata")
            .and_then(|m| m.get("raw"))
            .map(value_text)
            .unwrap_or_default(),
    }
}

/// Reads an error body: OpenAI `{"error": {"message", "type", "code"}}`, Anthropic
/// `{"type": "error", "error": {"type", "message"}}`, Ollama `{"error": "…"}`, FastAPI
/// `{"detail": …}`, a list of those, or plain text.
pub(crate) fn parse_error_body(body: &[u8]) -> ErrorInfo {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    let Ok(v) = serde_json::from_str::<Value>(trimmed) else {
        let looks_html = trimmed.starts_with('<');
        return ErrorInfo {
            message: if looks_html {
                "the server answered with an HTML page instead of JSON".to_string()
            } else {
                trimmed.to_string()
            },
            ..ErrorInfo::default()
        };
    };
    parse_error_value(&v)
}

/// Like [`parse_error_body`], for a parsed value.
pub(crate) fn parse_error_value(v: &Value) -> ErrorInfo {
    let v = match v {
        Value::Array(items) => match items.first() {
            Some(first) => first,
            None => return ErrorInfo::default(),
        },
        other => other,
    };
    match v.get("error") {
        Some(Value::String(s)) => ErrorInfo {
            message: s.clone(),
            ..ErrorInfo::default()
        },
        Some(obj @ Value::Object(_)) => info_from_object(obj),
        _ => match v {
            Value::Object(_) => {
                let mut info = info_from_object(v);
                if info.kind == "error" {
                    info.kind.clear();
                }
                info
            }
            Value::String(s) => ErrorInfo {
                message: s.clone(),
                ..ErrorInfo::default()
            },
            other => ErrorInfo {
                message: other.to_string(),
                ..ErrorInfo::default()
            },
        },
    }
}

fn is_quota(hay: &str) -> bool {
    [
        "insufficient_quota",
        "billing",
        "credit balance",
        "out of credits",
        "insufficient credits",
        "insufficient_credits",
        "payment required",
        "exceeded your current quota",
    ]
    .iter()
    .any(|w| hay.contains(w))
}

fn is_context_length(hay: &str) -> bool {
    [
        "context_length_exceeded",
        "maximum context length",
        "context length",
        "context window",
        "context limit",
        "prompt is too long",
        "too many tokens",
        "input is too long",
        "reduce the length",
        "exceeds the context",
    ]
    .iter()
    .any(|w| hay.contains(w))
}

/// Classifies an HTTP failure from its status, `Retry-After` and body.
pub(crate) fn classify_http(
    provider: &str,
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    scrub: &Scrubber,
) -> ProviderError {
    classify(
        provider,
        status,
        retry_after,
        &parse_error_body(body),
        scrub,
    )
}

/// Classifies a failure from a status (real, or implied by an error type) and what the
/// body said.
pub(crate) fn classify(
    provider: &str,
    status: u16,
    retry_after: Option<Duration>,
    info: &ErrorInfo,
    scrub: &Scrubber,
) -> ProviderError {
    let provider = provider.to_string();
    let hay = info.haystack();
    let detail = {
        let d = scrub.excerpt(&info.message, DETAIL_MAX);
        if d.is_empty() {
            let kind = scrub.excerpt(&info.kind, DETAIL_MAX);
            if kind.is_empty() {
                format!("HTTP {status}")
            } else {
                kind
            }
        } else {
            d
        }
    };
    match status {
        401 | 403 => {
            if status == 403 && is_quota(&hay) {
                ProviderError::Quota { provider, detail }
            } else {
                ProviderError::Auth { provider, detail }
            }
        }
        402 => ProviderError::Quota { provider, detail },
        429 => {
            if is_quota(&hay) {
                ProviderError::Quota { provider, detail }
            } else {
                ProviderError::RateLimited {
                    provider,
                    retry_after,
                }
            }
        }
        413 => ProviderError::ContextTooLong { provider, detail },
        408 => ProviderError::Server { provider, status },
        400..=499 => {
            if is_context_length(&hay) {
                ProviderError::ContextTooLong { provider, detail }
            } else if hay.contains("model_not_found") || (status == 404 && hay.contains("model")) {
                ProviderError::ModelNotFound { provider, detail }
            } else if is_quota(&hay) {
                ProviderError::Quota { provider, detail }
            } else {
                ProviderError::BadRequest {
                    provider,
                    status,
                    detail,
                }
            }
        }
        500..=599 => ProviderError::Server { provider, status },
        _ => ProviderError::Malformed {
            provider,
            detail: format!("unexpected HTTP status {status}: {detail}"),
        },
    }
}

/// The HTTP status an Anthropic (or OpenAI) error type stands for, for errors that arrive
/// inside a stream.
pub(crate) fn status_for_error_type(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" | "rate_limit_exceeded" => 429,
        "overloaded_error" => 529,
        "timeout_error" => 504,
        _ => 500,
    }
}

/// How long the server asks to wait: `retry-after-ms`, else `Retry-After` as seconds or
/// an HTTP-date. A value that is not a number in range is ignored (`retry-after-ms` then
/// falls back to `Retry-After`), and the usual backoff applies.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(wait) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .and_then(|ms| seconds(ms / 1000.0))
    {
        return Some(wait);
    }
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    parse_retry_after(value, SystemTime::now())
}

/// The longest wait taken from a header, in seconds (about 31 years); anything longer is
/// nonsense.
const MAX_RETRY_AFTER_SECS: f64 = 1e9;

/// `secs` as a duration when it is a sane wait: not negative, NaN, infinite or beyond
/// [`MAX_RETRY_AFTER_SECS`].
fn seconds(secs: f64) -> Option<Duration> {
    if (0.0..MAX_RETRY_AFTER_SECS).contains(&secs) {
        Duration::try_from_secs_f64(secs).ok()
    } else {
        None
    }
}

/// Parses a `Retry-After` value relative to `now`.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(secs) = value.parse::<f64>() {
        return seconds(secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Classifies a transport failure (connect, DNS, TLS, broken connection).
pub(crate) fn transport_error(
    provider: &str,
    url: &str,
    err: &reqwest::Error,
    timeout: Duration,
    scrub: &Scrubber,
) -> ProviderError {
    if err.is_timeout() {
        return ProviderError::Timeout {
            provider: provider.to_string(),
            after: timeout,
        };
    }
    ProviderError::Network {
        provider: provider.to_string(),
        url: url.to_string(),
        detail: scrub.excerpt(&error_chain(err), DETAIL_MAX),
    }
}

/// The messages of an error's sources, without reqwest's own top line (which repeats the
/// URL, possibly with userinfo).
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    if parts.is_empty() {
        return "request failed".to_string();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cls(status: u16, body: Value) -> ProviderError {
        classify_http(
            "p",
            status,
            Some(Duration::from_secs(2)),
            body.to_string().as_bytes(),
            &Scrubber::new(["sk-live-1234567890"]),
        )
    }

    #[test]
    fn openai_shapes() {
        assert!(matches!(
            cls(401, json!({"error": {"message": "Incorrect API key provided: sk-live-1234567890", "type": "invalid_request_error", "code": "invalid_api_key"}})),
            ProviderError::Auth { detail, .. } if detail.contains("[REDACTED]") && !detail.contains("sk-live")
        ));
        assert!(matches!(
            cls(
                429,
                json!({"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": "insufficient_quota"}})
            ),
            ProviderError::Quota { .. }
        ));
        assert_eq!(
            cls(
                429,
                json!({"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}})
            ),
            ProviderError::RateLimited {
                provider: "p".into(),
                retry_after: Some(Duration::from_secs(2))
            }
        );
        assert!(matches!(
            cls(
                400,
                json!({"error": {"message": "This model's maximum context length is 8192 tokens", "code": "context_length_exceeded"}})
            ),
            ProviderError::ContextTooLong { .. }
        ));
        assert!(matches!(
            cls(
                404,
                json!({"error": {"message": "The model `gpt-9` does not exist", "code": "model_not_found"}})
            ),
            ProviderError::ModelNotFound { .. }
        ));
        assert!(matches!(cls(402, json!({})), ProviderError::Quota { .. }));
        assert!(matches!(
            cls(503, json!({})),
            ProviderError::Server { status: 503, .. }
        ));
    }

    #[test]
    fn anthropic_shapes() {
        assert!(matches!(
            cls(
                400,
                json!({"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long: 210000 tokens > 200000 maximum"}})
            ),
            ProviderError::ContextTooLong { .. }
        ));
        assert!(matches!(
            cls(
                400,
                json!({"type": "error", "error": {"type": "invalid_request_error", "message": "Your credit balance is too low to access the Anthropic API."}})
            ),
            ProviderError::Quota { .. }
        ));
        assert!(matches!(
            cls(
                529,
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
            ),
            ProviderError::Server { status: 529, .. }
        ));
        let e = cls(
            400,
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": "messages.1: roles must alternate"}}),
        );
        assert_eq!(
            e,
            ProviderError::BadRequest {
                provider: "p".into(),
                status: 400,
                detail: "messages.1: roles must alternate".into()
            }
        );
        assert!(matches!(
            cls(404, json!({"error": "model 'llama9' not found"})),
            ProviderError::ModelNotFound { .. }
        ));
        assert!(matches!(
            cls(413, json!({})),
            ProviderError::ContextTooLong { .. }
        ));
    }

    #[test]
    fn details_are_short_single_line_and_never_raw_html() {
        let body = format!(
            "{{\"error\": {{\"message\": \"line one\\nline two {}\"}}}}",
            "x".repeat(1000)
        );
        let e = classify_http("p", 400, None, body.as_bytes(), &Scrubber::default());
        let ProviderError::BadRequest { detail, .. } = e else {
            panic!("{e:?}")
        };
        assert!(!detail.contains('\n'));
        assert!(detail.chars().count() <= DETAIL_MAX + 1);
        let e = classify_http(
            "p",
            400,
            None,
            b"<html><body>nginx</body></html>",
            &Scrubber::default(),
        );
        assert!(e.to_string().contains("HTML page"), "{e}");
        let e = classify_http("p", 418, None, b"", &Scrubber::default());
        assert!(e.to_string().contains("HTTP 418"), "{e}");
    }

    #[test]
    fn retry_after_forms() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
    }

    #[test]
    fn absurd_retry_after_values_are_ignored_not_fatal() {
        for bad in [
            "1e300",
            "inf",
            "-inf",
            "NaN",
            "-1",
            "1e12",
            "18446744073709551616",
        ] {
            let mut h = HeaderMap::new();
            h.insert("retry-after-ms", bad.parse().unwrap());
            assert_eq!(retry_after(&h), None, "retry-after-ms: {bad}");
            // An unusable `retry-after-ms` falls back to `Retry-After`.
            h.insert("retry-after", "3".parse().unwrap());
            assert_eq!(
                retry_after(&h),
                Some(Duration::from_secs(3)),
                "retry-after-ms: {bad}"
            );
            let mut h = HeaderMap::new();
            h.insert("retry-after", bad.parse().unwrap());
            assert_eq!(retry_after(&h), None, "Retry-After: {bad}");
        }
        let mut h = HeaderMap::new();
        h.insert("retry-after-ms", "2000000000000".parse().unwrap());
        assert_eq!(retry_after(&h), None, "more than the bound");
        h.insert("retry-after-ms", "1500.5".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_micros(1_500_500)));
        h.insert("retry-after-ms", "0".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }

    #[test]
    fn stream_error_types_map_to_statuses() {
        assert_eq!(status_for_error_type("overloaded_error"), 529);
        assert_eq!(status_for_error_type("rate_limit_error"), 429);
        assert_eq!(status_for_error_type("something_new"), 500);
    }
}
