//! What the benchmarks share: arguments, work directories, timing and memory figures.

use super::fill::Volume;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wsconsole::store::Store;

pub fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name} takes a number")))
        .unwrap_or(default)
}

/// A fresh directory for one benchmark's files, under `--dir` or the system's temp dir.
pub fn work_dir(args: &[String], name: &str) -> PathBuf {
    args.iter()
        .position(|a| a == "--dir")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("wsconsole-bench-{name}-{}", std::process::id()))
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Median wall time of `runs` calls of `f`.
pub fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

/// Median time of opening the store (a fresh handle each time, as a new process does).
pub fn open_time(path: &Path) -> Duration {
    time(21, || Store::open(path).expect("open"))
}

pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The full database's size: the command line's, or the defaults.
pub fn volume(args: &[String], services: u64) -> Volume {
    Volume {
        users: arg(args, "--users", 100_000),
        services: arg(args, "--services", services),
        tokens: arg(args, "--tokens", 200_000),
        calls: arg(args, "--calls", 1_000_000),
    }
}

/// A fresh work directory and the paths of its empty and full databases.
pub fn databases(args: &[String], name: &str) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let dir = work_dir(args, name);
    std::fs::create_dir_all(&dir).expect("bench directory");
    let (empty, full) = (dir.join("empty.redb"), dir.join("full.redb"));
    (dir, empty, full)
}
