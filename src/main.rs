//! The `slogate` binary: parses arguments and hands over to one subcommand.

mod cli;

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
