//! The `greenhouse` binary: fleetsim's command line with the greenhouse's class and app added.

fn main() -> std::process::ExitCode {
    fleetsim::main_with(greenhouse::registry())
}
