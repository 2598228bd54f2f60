//! Integration tests of the executors against real namespaces, files and processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
