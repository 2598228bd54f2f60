//! The native Linux sandbox: user, mount, pid, network, IPC, UTS and cgroup namespaces; a
//! filesystem view built from an allowlist; Landlock, seccomp, no capabilities and resource
//! limits on every command; our own init as PID 1, and a pid namespace per command so that
//! nothing outlives its call.
//!
//! - [`policy`]: what a sandbox may see and use
//! - [`host`]: [`NativeExecutor`], the host side
//! - [`init`]: the sandbox side ([`helper_main`])
//! - [`view`]: building the filesystem view
//! - [`landlock`], [`seccomp`], [`caps`]: the per-command restrictions
//! - [`cgroup`]: per-sandbox memory, pids and CPU limits
//! - [`probe`]: what the machine offers (for `hermes sandbox doctor`)
//! - [`protocol`]: host ⇄ init messages
//! - [`sys`]: system call wrappers

pub mod caps;
pub mod cgroup;
pub mod host;
pub mod init;
pub mod landlock;
pub mod policy;
pub mod probe;
pub mod protocol;
pub mod seccomp;
pub mod sys;
pub mod view;

pub use host::{Helper, NativeConfig, NativeExecutor};
pub use init::helper_main;
pub use policy::{Limits, Policy};
