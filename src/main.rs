//! `wsconsole`: the CLI entry point. Parsing and dispatch live in `wsconsole::cli`.

use clap::Parser;

/// mimalloc: fewer allocator stalls under load than glibc's, and it returns argon2's 19 MiB
/// work areas to the system instead of keeping one per thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = wsconsole::cli::Cli::parse();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = wsconsole::cli::run(cli, &mut out);
    let flushed = std::io::Write::flush(&mut out);
    match (result, flushed) {
        (Ok(()), Ok(())) => ExitCode::SUCCESS,
        (Err(e), _) => {
            eprintln!("wsconsole: {}", e.0);
            ExitCode::FAILURE
        }
        (Ok(()), Err(e)) => {
            eprintln!("wsconsole: cannot write output: {e}");
            ExitCode::FAILURE
        }
    }
}
