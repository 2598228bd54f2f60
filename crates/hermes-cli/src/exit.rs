//! Exit codes scripts can rely on, and the error type that carries them.
//!
//! - 0: success
//! - 1: the run failed (provider, store or tool failure)
//! - 2: bad usage or configuration, or an incomplete run (the iteration limit was reached)
//! - 130: interrupted (Ctrl-C)

use std::fmt::Display;

pub const FAILED: u8 = 1;
pub const USAGE: u8 = 2;
pub const INCOMPLETE: u8 = 2;
pub const INTERRUPTED: u8 = 130;

/// An error on its way to the user, with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Display) -> Failure {
        Failure {
            code,
            message: message.to_string(),
        }
    }

    /// Bad usage or configuration (exit 2).
    pub fn usage(message: impl Display) -> Failure {
        Failure::new(USAGE, message)
    }

    /// The run failed (exit 1).
    pub fn failed(message: impl Display) -> Failure {
        Failure::new(FAILED, message)
    }

    pub fn code(&self) -> u8 {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<hermes_config::ConfigError> for Failure {
    fn from(e: hermes_config::ConfigError) -> Failure {
        Failure::usage(e)
    }
}

impl From<hermes_store::StoreError> for Failure {
    fn from(e: hermes_store::StoreError) -> Failure {
        Failure::failed(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::failed(e)
    }
}
