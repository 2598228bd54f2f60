//! Integration tests for hermes-config: real files in temporary homes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
