//! `fleetsim`: the command-line harness with the bundled device classes. The harness is the
//! only crate that does IO, reads the wall clock or prints; see [`fleetsim::main_with`].

use scenarios::registry::Registry;
use std::process::ExitCode;

fn main() -> ExitCode {
    fleetsim::main_with(Registry::bundled())
}
