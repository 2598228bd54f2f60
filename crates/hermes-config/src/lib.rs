//! hermes-config: where Hermes keeps its data, and what its configuration says.
//!
//! - [`home`]: `HERMES_HOME` resolution, layout, first-run setup ([`HermesHome`])
//! - [`config`]: the typed `config.yaml` with Hermes 0.19 keys and defaults ([`Config`])
//! - `schema` (internal): known keys, Hermes-only keys, typo warnings
//! - [`dotenv`]: `.env` read into a map, never into the process environment
//! - [`env`](mod@env): variable lookup, process environment first, then `.env` ([`Env`])
//! - [`load`](mod@load): defaults < `config.yaml` < environment < `-c key=value` ([`load()`])
//! - [`resolve`]: which endpoint, model and key to use ([`resolve_model`])
//! - [`url`](mod@url): base URLs parsed as the HTTP client parses them, and where they
//!   point (loopback, local network) ([`parse_base_url`])
//! - [`write`](mod@write): `config set/get/unset` with atomic writes and secrets routed to `.env`
//! - [`show`]: the plain-text `config show` report
//! - `emit` (internal): writing `config.yaml` so that Hermes' YAML 1.1 reader agrees
//! - [`write_atomic`]: atomic file replacement with exact modes
//! - [`error`]: the crate's error type, [`ConfigError`]

pub mod config;
pub mod dotenv;
pub mod env;
pub mod error;
pub mod home;
pub mod load;
pub mod resolve;
pub mod show;
pub mod url;
pub mod write;

mod emit;
mod fsutil;
mod schema;
mod tree;

pub use config::{
    AgentConfig, ApprovalMode, ApprovalsConfig, CompressionConfig, Config, CronApprovalMode,
    DisplayConfig, FallbackEntry, MemoryConfig, ModelConfig, PriceOverride, ProviderEntry, Secret,
    SecurityConfig, TerminalBackend, TerminalConfig, ToolOutputConfig,
};
pub use dotenv::read_dotenv;
pub use env::{Env, EnvSource, Lookup};
pub use error::ConfigError;
pub use fsutil::write_atomic;
pub use home::{EnsureReport, HermesHome};
pub use load::{LoadedConfig, env_var_for, load, load_from_process, parse_config};
pub use resolve::{ApiMode, ResolvedModel, resolve_fallbacks, resolve_model};
pub use show::{redact_key, render_show, render_show_with};
pub use url::{is_local_endpoint, parse_base_url};
pub use write::{
    SetOptions, SetOutcome, SetTarget, UnsetOutcome, get_value, set_value, set_value_with,
    unset_value, value_to_display,
};
