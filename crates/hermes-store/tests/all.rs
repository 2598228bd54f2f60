//! Integration tests of hermes-store against real SQLite files.

#[cfg(test)]
mod suite;
