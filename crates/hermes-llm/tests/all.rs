//! Integration tests: real providers against the mock model server over real sockets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite {
    pub mod anthropic;
    pub mod cancel;
    pub mod common;
    pub mod errors;
    pub mod fallback;
    pub mod openai;
    pub mod redirect;
}
