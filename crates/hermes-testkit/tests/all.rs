//! Integration tests: the mock server over real sockets.

mod suite {
    pub mod server;
}
