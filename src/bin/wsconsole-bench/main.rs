//! Benchmarks that print figures, each beside a baseline measured in the same run. Not tests:
//! machines are shared and noisy, so targets are read off the output, not asserted.
//!
//! `cargo run --release --bin wsconsole-bench -- store`
//! `cargo build --release && target/release/wsconsole-bench endpoint` (needs `wrk`)
//! `cargo run --release --bin wsconsole-bench -- handler` (the endpoint's work without HTTP)
//! `cargo run --release --bin wsconsole-bench -- console`

mod common;
mod console;
mod endpoint;
mod fill;
mod front;
mod handler;
mod store;

/// The allocator `wsconsole` itself runs with, set up the same way, so that in-process
/// figures are the endpoint's and the console's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    wsconsole::allocator::configure();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("store") => store::store_bench(&args[1..]),
        Some("endpoint") => endpoint::endpoint_bench(&args[1..]),
        Some("baseline") => endpoint::baseline(&args[1..]),
        Some("handler") => handler::handler_bench(&args[1..]),
        Some("front") => front::front_bench(&args[1..]),
        Some("slow-site") => front::slow_site(&args[1..]),
        Some("console") => console::console_bench(&args[1..]),
        Some("console-measure") => console::console_measure(&args[1..]),
        _ => {
            eprintln!("usage: wsconsole-bench store [--users N] [--services N] [--tokens N] [--calls N] [--dir DIR]");
            eprintln!(
                "       wsconsole-bench endpoint [--tokens N] [--seconds N] [--rounds N] [--warmup N] [--connections N] [--dir DIR]"
            );
            eprintln!("       wsconsole-bench handler [--tokens N] [--requests N] [--dir DIR]");
            eprintln!("       wsconsole-bench front [--seconds N] [--connections N] [--site-delay-ms N] [--dir DIR]");
            eprintln!("       wsconsole-bench console [--users N] [--tokens N] [--calls N] [--dir DIR]");
            std::process::exit(2);
        }
    }
}
