// The attacks use x86_64 system call numbers.
#[cfg(target_arch = "x86_64")]
mod escape;
mod native;
mod spawn;
mod support;
