//! What a provider needs to know: endpoint, model, key, wire protocol, timeouts, retries.

use std::fmt;
use std::time::Duration;

/// Which wire protocol an endpoint speaks (Hermes' `api_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiMode {
    /// `POST {base_url}/chat/completions` (OpenAI, OpenRouter, Ollama, vLLM, llama.cpp, …).
    ChatCompletions,
    /// `POST {base}/v1/messages` (Anthropic).
    AnthropicMessages,
}

impl ApiMode {
    /// Parses Hermes' `api_mode` names (`chat_completions`, `anthropic_messages`).
    pub fn parse(s: &str) -> Option<ApiMode> {
        match s.trim() {
            "chat_completions" | "" => Some(ApiMode::ChatCompletions),
            "anthropic_messages" => Some(ApiMode::AnthropicMessages),
            _ => None,
        }
    }

    /// The Hermes name of this mode.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiMode::ChatCompletions => "chat_completions",
            ApiMode::AnthropicMessages => "anthropic_messages",
        }
    }
}

/// How often and how patiently a failed request is tried again. Retries happen only
/// before the first event of an answer reaches the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (Hermes' `agent.api_max_retries`, default 3).
    pub max_retries: u32,
    /// The first backoff delay; doubled on every further retry.
    pub base_delay: Duration,
    /// The longest backoff delay.
    pub max_delay: Duration,
    /// A server asking to wait longer than this (`Retry-After`) is not retried: the
    /// rate-limit error is returned at once, carrying the requested delay.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The backoff before retry number `retry` (0-based): `base_delay · 2^retry`, capped
    /// at `max_delay`, scaled by a random factor in [0.5, 1.0] so that many clients do
    /// not retry in lockstep.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(20));
        let full = self.base_delay.saturating_mul(factor).min(self.max_delay);
        // [0, 1) from the top 53 bits; scaling only the half keeps `mul_f64` from
        // overflowing, even for `Duration::MAX`.
        let unit = (hermes_core::ids::random_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let half = full / 2;
        (full - half).saturating_add(half.mul_f64(unit))
    }
}

/// One configured endpoint + model.
#[derive(Clone)]
pub struct ProviderConfig {
    /// Provider name recorded in `state.db` (`openai`, `anthropic`, `custom`, `openrouter`, …).
    pub label: String,
    pub model: String,
    /// `https://api.openai.com/v1`, `http://127.0.0.1:11434/v1`, …; for Anthropic
    /// `https://api.anthropic.com`, with or without `/v1`.
    pub base_url: String,
    pub api_key: Option<String>,
    pub api_mode: ApiMode,
    /// Context window in tokens, when known.
    pub context_length: Option<u64>,
    /// `false` sends non-streaming requests; the answer still arrives as stream events.
    pub streaming: bool,
    /// Extra HTTP headers sent with every request.
    pub extra_headers: Vec<(String, String)>,
    /// Output token limit. Anthropic requires one; [`DEFAULT_ANTHROPIC_MAX_TOKENS`] is
    /// used there when neither this nor the request sets it.
    pub max_tokens: Option<u32>,
    /// Limit for connecting and receiving the response headers (for non-streaming
    /// requests: the whole answer).
    pub request_timeout: Duration,
    /// No bytes for this long in the middle of a streamed answer ends it as stalled.
    pub stall_timeout: Duration,
    pub retry: RetryPolicy,
    /// Anthropic prompt caching (`cache_control` on the system prompt and the last three
    /// messages).
    pub cache_control: bool,
}

/// The output token limit sent to Anthropic when none is configured.
pub const DEFAULT_ANTHROPIC_MAX_TOKENS: u32 = 8192;

/// Hermes' `HERMES_API_TIMEOUT` default.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(1800);

/// Hermes' `HERMES_API_CALL_STALE_TIMEOUT` default.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(90);

impl ProviderConfig {
    /// A configuration with default timeouts, retries and caching.
    pub fn new(
        label: impl Into<String>,
        model: impl Into<String>,
        base_url: impl Into<String>,
        api_mode: ApiMode,
    ) -> ProviderConfig {
        ProviderConfig {
            label: label.into(),
            model: model.into(),
            base_url: base_url.into(),
            api_key: None,
            api_mode,
            context_length: None,
            streaming: true,
            extra_headers: Vec::new(),
            max_tokens: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            retry: RetryPolicy::default(),
            cache_control: true,
        }
    }

    /// Sets the API key (builder style).
    pub fn with_api_key(mut self, key: impl Into<String>) -> ProviderConfig {
        self.api_key = Some(key.into());
        self
    }
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("label", &self.label)
            .field("model", &self.model)
            .field("base_url", &crate::scrub::display_url(&self.base_url))
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .field("api_mode", &self.api_mode)
            .field("context_length", &self.context_length)
            .field("streaming", &self.streaming)
            .field(
                "extra_headers",
                &self
                    .extra_headers
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("max_tokens", &self.max_tokens)
            .field("request_timeout", &self.request_timeout)
            .field("stall_timeout", &self.stall_timeout)
            .field("retry", &self.retry)
            .field("cache_control", &self.cache_control)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            max_retry_after: Duration::from_secs(60),
        };
        for _ in 0..50 {
            let d0 = p.backoff(0);
            assert!(d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100));
            let d2 = p.backoff(2);
            assert!(d2 >= Duration::from_millis(200) && d2 <= Duration::from_millis(400));
            let d9 = p.backoff(9);
            assert!(d9 >= Duration::from_millis(500) && d9 <= Duration::from_millis(1000));
            assert!(p.backoff(u32::MAX) <= Duration::from_millis(1000));
        }
        let huge = RetryPolicy {
            base_delay: Duration::MAX,
            max_delay: Duration::MAX,
            ..p
        };
        for retry in [0, 1, 64, u32::MAX] {
            assert!(huge.backoff(retry) >= Duration::MAX / 2);
        }
    }

    #[test]
    fn debug_hides_the_key() {
        let cfg = ProviderConfig::new(
            "openai",
            "m",
            "https://u:p@x.test/v1",
            ApiMode::ChatCompletions,
        )
        .with_api_key("sk-secret-value");
        let s = format!("{cfg:?}");
        assert!(!s.contains("sk-secret-value"), "{s}");
        assert!(!s.contains("u:p"), "{s}");
    }

    #[test]
    fn api_mode_names() {
        assert_eq!(
            ApiMode::parse("anthropic_messages"),
            Some(ApiMode::AnthropicMessages)
        );
        assert_eq!(
            ApiMode::parse("chat_completions"),
            Some(ApiMode::ChatCompletions)
        );
        assert_eq!(ApiMode::parse("codex_responses"), None);
        assert_eq!(ApiMode::AnthropicMessages.as_str(), "anthropic_messages");
    }
}
