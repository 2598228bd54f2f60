//! Integration tests of hermes-tools: one binary, one module per tool (see `suite/`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
