//! `wsconsole`: the CLI entry point. Parsing and dispatch live in `wsconsole::cli`.

use clap::Parser;

/// mimalloc: fewer allocator stalls under load than glibc's, and it returns argon2's 7 MiB
/// work areas to the system instead of keeping one per thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (v2 and v3 alike; libmimalloc-sys names
/// no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // Freed pages go back to the system at once rather than after 10 ms: under load the
    // delay never elapses, and the endpoint's resident memory would keep every peak.
    // SAFETY: sets a process-wide allocator option; mimalloc allows it at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
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
