//! End-to-end tests of the `hermes` binary against the mock LLM server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
