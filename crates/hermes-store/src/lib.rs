//! hermes-store: `state.db`, the SQLite session store shared with Hermes Agent.
//!
//! A file written by Hermes Agent 0.19 (schema 22, legacy inline FTS) or by a newer
//! Hermes (external-content FTS) opens, lists and searches here, and a file we create is
//! one Hermes 0.19 reads as its own (its schema version, FTS tables and triggers, with the
//! newer columns on top). Schema choices are explained in [`schema`]; what opening a file
//! does in [`migrate`].
//!
//! - [`store`]: [`Store`], opening the file, connection settings, transactions
//! - [`schema`]: Hermes' DDL and the versions we stamp
//! - [`migrate`]: column reconciliation, our numbered migration steps, the CJK trap
//! - [`fts_layout`]: which FTS layout a file carries (legacy inline or external content)
//! - [`sessions`]: create / list / get / resolve / end / delete sessions
//! - [`titles`]: title sanitising, uniqueness, `"title #N"` lineage
//! - [`messages`]: appending messages, transcripts, conversations, anchored windows
//! - [`search`]: FTS5 search (unicode61, trigram, LIKE fallback)
//! - [`fts_query`]: turning user text into a safe FTS5 query
//! - [`usage`]: token and cost accounting per session, model and task
//! - [`export`]: Hermes' JSONL export shape
//! - [`session_store`]: the `hermes_core::SessionStore` implementation
//! - [`error`]: the crate's error type, `StoreError`

pub mod error;
pub mod export;
pub mod fts_layout;
pub mod fts_query;
pub mod messages;
pub mod migrate;
mod rowmap;
pub mod schema;
pub mod search;
pub mod session_store;
pub mod sessions;
pub mod store;
pub mod titles;
pub mod usage;

pub use error::StoreError;
pub use fts_layout::FtsLayout;
pub use messages::{AnchoredView, MessageState, MessageWindow, StoredMessage};
pub use migrate::InitReport;
pub use search::{SearchHit, SearchOptions, SearchRoute, SearchSort};
pub use sessions::{Lineage, SessionFilter, SessionRow, SessionSummary};
pub use store::Store;
pub use usage::ModelUsage;
