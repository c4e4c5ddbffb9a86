//! How the binaries set up their allocator, mimalloc: fewer allocator stalls under load than
//! glibc's, and it returns argon2's 7 MiB work areas to the system instead of keeping one per
//! thread. Both `wsconsole` and `wsconsole-bench` declare it as their global allocator, set up
//! here, so that the benchmarks measure what ships.

use libmimalloc_sys::{mi_option_set, mi_option_t};

/// `mi_option_arena_eager_commit` in mimalloc's `mi_option_e` (v2 and v3 alike;
/// libmimalloc-sys names no constant for it).
const MI_OPTION_ARENA_EAGER_COMMIT: mi_option_t = 4;
/// `mi_option_purge_delay`, likewise.
const MI_OPTION_PURGE_DELAY: mi_option_t = 15;
/// `mi_option_purge_extend_delay` in mimalloc v2 (the version built here).
const MI_OPTION_PURGE_EXTEND_DELAY: mi_option_t = 25;
/// Freed pages go back to the system this many milliseconds after they were freed.
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// Runs [`configure`] before `main`, as the loader runs C constructors: mimalloc reserves its
/// first arena at the process's first allocation, which the Rust runtime makes before `main`,
/// and an arena keeps the commit policy it was reserved under.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
#[used]
#[unsafe(link_section = ".init_array")]
static CONFIGURE_BEFORE_MAIN: extern "C" fn() = {
    extern "C" fn run() {
        configure();
    }
    run
};

/// Sets the options; idempotent. Also called at the start of `main`, for systems without
/// `.init_array`, where the first arena keeps mimalloc's defaults.
pub fn configure() {
    // SAFETY: each call sets one process-wide allocator option; mimalloc allows it at any time.
    unsafe {
        // Memory is committed as it is used, not a whole arena at a time: the console's peak
        // RSS at 200 000 tokens fell from 65 MiB to 50 MiB (`wsconsole-bench console`).
        mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
        // Freed pages go back to the system 10 ms after they were freed, and that delay is
        // never extended: by default each further free in a segment pushes its purge back,
        // so under load it never came and the endpoint's resident memory kept every peak.
        // Not at once (a delay of 0): then a request that frees the last block of a page
        // gives the page back and the next one faults it in again, two system calls and a
        // page fault per request, which made `/healthz` cost 7 µs instead of 1.6 µs in the
        // handler benchmark and a site-info call 0.5 µs more.
        mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS);
        mi_option_set(MI_OPTION_PURGE_EXTEND_DELAY, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test harness's `main` never calls `configure`: only the constructor can have.
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    #[test]
    fn the_options_are_set_before_main() {
        // SAFETY: reads three process-wide allocator options.
        let options = unsafe {
            (
                libmimalloc_sys::mi_option_get(MI_OPTION_ARENA_EAGER_COMMIT),
                libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY),
                libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_EXTEND_DELAY),
            )
        };
        // mimalloc's defaults: eager commit 2, extend delay 1 ms.
        assert_eq!(options, (0, PURGE_DELAY_MS, 0));
    }
}
