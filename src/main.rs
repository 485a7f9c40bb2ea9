//! The `slogate` binary: parses arguments and hands over to one subcommand.

mod cli;

/// mimalloc: generation and evaluation allocate many small strings and maps, which glibc's
/// allocator serves markedly slower (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("slogate: {err:#}");
            ExitCode::from(cli::EXIT_USAGE)
        }
    }
}
