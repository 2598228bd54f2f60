//! Estimated cost of model calls, from a built-in price table the user can extend.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::message::Usage;

/// Prices in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    #[serde(default)]
    pub cache_read: Option<f64>,
    #[serde(default)]
    pub cache_write: Option<f64>,
}

const fn p(input: f64, output: f64, cache_read: f64, cache_write: f64) -> Price {
    Price {
        input,
        output,
        cache_read: Some(cache_read),
        cache_write: Some(cache_write),
    }
}

/// Public list prices of common models (USD / 1M tokens). Matched by the longest prefix
/// of the model id, after any `vendor/` prefix is removed.
const BUILT_IN: &[(&str, Price)] = &[
    ("gpt-5-nano", p(0.05, 0.40, 0.005, 0.05)),
    ("gpt-5-mini", p(0.25, 2.00, 0.025, 0.25)),
    ("gpt-5", p(1.25, 10.00, 0.125, 1.25)),
    ("gpt-4.1-nano", p(0.10, 0.40, 0.025, 0.10)),
    ("gpt-4.1-mini", p(0.40, 1.60, 0.10, 0.40)),
    ("gpt-4.1", p(2.00, 8.00, 0.50, 2.00)),
    ("gpt-4o-mini", p(0.15, 0.60, 0.075, 0.15)),
    ("gpt-4o", p(2.50, 10.00, 1.25, 2.50)),
    ("o4-mini", p(1.10, 4.40, 0.275, 1.10)),
    ("o3-mini", p(1.10, 4.40, 0.55, 1.10)),
    ("o3", p(2.00, 8.00, 0.50, 2.00)),
    ("claude-opus-4-5", p(5.00, 25.00, 0.50, 6.25)),
    ("claude-opus-4", p(15.00, 75.00, 1.50, 18.75)),
    ("claude-sonnet-4", p(3.00, 15.00, 0.30, 3.75)),
    ("claude-3-7-sonnet", p(3.00, 15.00, 0.30, 3.75)),
    ("claude-3-5-sonnet", p(3.00, 15.00, 0.30, 3.75)),
    ("claude-haiku-4", p(1.00, 5.00, 0.10, 1.25)),
    ("claude-3-5-haiku", p(0.80, 4.00, 0.08, 1.00)),
    ("deepseek-chat", p(0.27, 1.10, 0.07, 0.27)),
    ("deepseek-reasoner", p(0.55, 2.19, 0.14, 0.55)),
];

/// How a cost figure was obtained, as Hermes records it in `sessions.cost_status` and
/// `cost_source`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CostStatus {
    /// From the built-in price table.
    Estimated,
    /// From a price the user configured (`pricing:` in config.yaml).
    UserPrice,
    /// A local endpoint: no per-token charge.
    Included,
    /// The model's price is unknown.
    #[default]
    Unknown,
}

impl CostStatus {
    /// Hermes' `cost_status` value.
    pub fn as_str(self) -> &'static str {
        match self {
            CostStatus::Estimated | CostStatus::UserPrice => "estimated",
            CostStatus::Included => "included",
            CostStatus::Unknown => "unknown",
        }
    }

    /// Hermes' `cost_source` value.
    pub fn source(self) -> &'static str {
        match self {
            CostStatus::Estimated => "official_docs_snapshot",
            CostStatus::UserPrice => "user_override",
            CostStatus::Included | CostStatus::Unknown => "none",
        }
    }
}

/// The price table in force: built-in prices overlaid with the user's own.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    overrides: BTreeMap<String, Price>,
}

impl PriceTable {
    pub fn new(overrides: BTreeMap<String, Price>) -> PriceTable {
        PriceTable { overrides }
    }

    /// The price of `model`, matched by longest prefix (user entries win ties).
    pub fn price(&self, model: &str) -> Option<Price> {
        self.lookup(model).map(|(p, _)| p)
    }

    /// The price and whether it came from the user's table.
    fn lookup(&self, model: &str) -> Option<(Price, bool)> {
        let id = model
            .rsplit('/')
            .next()
            .unwrap_or(model)
            .to_ascii_lowercase();
        let mut best: Option<(usize, Price, bool)> = None;
        let candidates = self
            .overrides
            .iter()
            .map(|(k, v)| (k.as_str(), *v, true))
            .chain(BUILT_IN.iter().map(|(k, v)| (*k, *v, false)));
        for (prefix, price, user) in candidates {
            let prefix_lc = prefix.to_ascii_lowercase();
            let prefix_id = prefix_lc.rsplit('/').next().unwrap_or(&prefix_lc);
            if id.starts_with(prefix_id) && best.is_none_or(|(len, _, _)| prefix_id.len() > len) {
                best = Some((prefix_id.len(), price, user));
            }
        }
        best.map(|(_, p, user)| (p, user))
    }

    /// Estimated cost of one call. Local endpoints cost nothing.
    pub fn estimate(
        &self,
        model: &str,
        base_url: &str,
        usage: &Usage,
    ) -> (Option<f64>, CostStatus) {
        if is_local_url(base_url) && !self.overrides.contains_key(model) {
            return (Some(0.0), CostStatus::Included);
        }
        let Some((price, user)) = self.lookup(model) else {
            return (None, CostStatus::Unknown);
        };
        let per = |tokens: u64, rate: f64| tokens as f64 * rate / 1_000_000.0;
        // Providers report cached tokens inside or beside input tokens; both OpenAI and
        // our Anthropic adapter report `input_tokens` including cache reads, so charge the
        // cached part at the cache rate.
        let uncached = usage.input_tokens.saturating_sub(usage.cache_read_tokens);
        let cost = per(uncached, price.input)
            + per(
                usage.cache_read_tokens,
                price.cache_read.unwrap_or(price.input),
            )
            + per(
                usage.cache_write_tokens,
                price.cache_write.unwrap_or(price.input),
            )
            + per(usage.output_tokens, price.output);
        let status = if user {
            CostStatus::UserPrice
        } else {
            CostStatus::Estimated
        };
        (Some(cost), status)
    }
}

/// Loopback endpoints (`localhost`, `127.x`, `::1`, `0.0.0.0`): local models cost nothing.
/// Parsed the way the HTTP client parses it, so a URL that merely looks local (a user name
/// of `localhost`, `127.0.0.1.nip.io`) is not free.
pub fn is_local_url(url: &str) -> bool {
    hermes_config::is_local_endpoint(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins() {
        let t = PriceTable::default();
        assert_eq!(t.price("gpt-4o-mini-2024-07-18").unwrap().input, 0.15);
        assert_eq!(t.price("openai/gpt-4o").unwrap().input, 2.50);
        assert_eq!(
            t.price("anthropic/claude-sonnet-4-20250514")
                .unwrap()
                .output,
            15.0
        );
        assert!(t.price("llama3.1:8b").is_none());
    }

    #[test]
    fn user_prices_override() {
        let mut m = BTreeMap::new();
        m.insert(
            "gpt-4o".to_string(),
            Price {
                input: 1.0,
                output: 1.0,
                cache_read: None,
                cache_write: None,
            },
        );
        let t = PriceTable::new(m);
        assert_eq!(t.price("gpt-4o-2024").unwrap().input, 1.0);
        assert_eq!(
            t.estimate("gpt-4o", "https://api.openai.com/v1", &Usage::default())
                .1,
            CostStatus::UserPrice
        );
        assert_eq!(t.price("gpt-4o-mini").unwrap().input, 0.15);
    }

    #[test]
    fn estimates_and_local_endpoints() {
        let t = PriceTable::default();
        let u = Usage {
            input_tokens: 1_000_000,
            output_tokens: 100_000,
            cache_read_tokens: 500_000,
            ..Usage::default()
        };
        let (c, s) = t.estimate("gpt-4o", "https://api.openai.com/v1", &u);
        assert_eq!(s, CostStatus::Estimated);
        assert!((c.unwrap() - (1.25 + 0.625 + 1.0)).abs() < 1e-9);
        assert_eq!(
            t.estimate("gpt-4o", "http://127.0.0.1:11434/v1", &u),
            (Some(0.0), CostStatus::Included)
        );
        assert_eq!(
            t.estimate("mystery", "https://x.example/v1", &u),
            (None, CostStatus::Unknown)
        );
        assert!(is_local_url("http://[::1]:8080/v1"));
        assert!(is_local_url("http://LOCALHOST/v1"));
        assert!(!is_local_url("http://localhost:pw@api.openai.com/v1"));
        assert!(!is_local_url("https://127.0.0.1.nip.io/v1"));
    }
}
