//! The `slogate` binary: parses arguments and hands over to one subcommand.

mod cli;

/// mimalloc: generation and evaluation allocate many small strings and maps, which glibc's
/// allocator serves markedly slower (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc's index of its `purge_delay` option (`mi_option_purge_delay` in mimalloc.h, the
/// same in its v2 and v3; libmimalloc-sys names no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // Freed memory goes back to the OS at once, not 10 ms (100 ms in arenas) later: the OTLP
    // receiver's decode budget bounds what is allocated, and with a delay the memory freed by
    // one decode still counts in the RSS while the next one allocates (docs/security.md).
    // SAFETY: the first thing the process does, before any other thread exists
    // (`mi_option_set` is not thread-safe); 0 is a valid delay.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let args = match cli::Cli::try_parse_from(&argv) {
        Ok(args) => args,
        Err(e) if e.use_stderr() && cli::is_wait(&argv) => {
            let _ = e.print();
            return ExitCode::from(cli::EXIT_WAIT_USAGE);
        }
        Err(e) => e.exit(),
    };
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("slogate: {err:#}");
            ExitCode::from(cli::EXIT_USAGE)
        }
    }
}
