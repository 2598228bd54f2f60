//! The sandbox helper as a standalone binary, for running and testing this crate on its
//! own; the `hermes` binary embeds the same entry point (`hermes __sandbox-init`).

fn main() {
    hermes_sandbox::native::helper_main()
}
