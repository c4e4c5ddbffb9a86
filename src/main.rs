//! `wsconsole`: the CLI entry point. Parsing and dispatch live in `wsconsole::cli`.

use clap::Parser;

/// mimalloc, set up by `wsconsole::allocator::configure`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

fn main() -> ExitCode {
    wsconsole::allocator::configure();
    let cli = wsconsole::cli::Cli::parse();
    let stdout = std::io::stdout();
    // Subcommands print through one locked, buffered stdout. The console must not hold that
    // lock: its signal watcher restores the terminal from another thread.
    let mut out: Box<dyn std::io::Write> = if cli.command.is_some() {
        Box::new(std::io::BufWriter::new(stdout.lock()))
    } else {
        Box::new(std::io::sink())
    };
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
