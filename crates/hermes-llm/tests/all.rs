//! Integration tests: real providers against the mock model server over real sockets.

mod suite {
    pub mod anthropic;
    pub mod cancel;
    pub mod common;
    pub mod errors;
    pub mod fallback;
    pub mod openai;
}
