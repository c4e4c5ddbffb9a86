//! Benchmarks that print figures, each beside a baseline measured in the same run. Not tests:
//! machines are shared and noisy, so targets are read off the output, not asserted.
//!
//! `cargo run --release --bin wsconsole-bench -- store`

use redb::ReadableDatabase;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wsconsole::domain::secret::hash_token;
use wsconsole::store::bulk::{self, Volume};
use wsconsole::store::tables::TOKENS;
use wsconsole::store::{Queries, Store, TokenQuery, UserFilter};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("store") => store_bench(&args[1..]),
        _ => {
            eprintln!("usage: wsconsole-bench store [--users N] [--services N] [--tokens N] [--calls N] [--dir DIR]");
            std::process::exit(2);
        }
    }
}

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name} takes a number")))
        .unwrap_or(default)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Median wall time of `runs` calls of `f`.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
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
fn open_time(path: &Path) -> Duration {
    time(21, || Store::open(path).expect("open"))
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn store_bench(args: &[String]) {
    let v = Volume {
        users: arg(args, "--users", 100_000),
        services: arg(args, "--services", 1_000),
        tokens: arg(args, "--tokens", 200_000),
        calls: arg(args, "--calls", 1_000_000),
    };
    let dir = args
        .iter()
        .position(|a| a == "--dir")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("wsconsole-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench directory");
    let empty = dir.join("empty.redb");
    let full = dir.join("full.redb");

    println!("wsconsole store benchmark");
    println!("volume: {} users, {} services, {} tokens, {} call-log rows", v.users, v.services, v.tokens, v.calls);

    drop(Store::open(&empty).expect("empty database"));
    let store = Store::open(&full).expect("full database");
    let t = Instant::now();
    bulk::fill(&store, v, wsconsole::store::now()).expect("fill");
    println!("fill: {:.1} s", t.elapsed().as_secs_f64());
    drop(store);

    let open_empty = open_time(&empty);
    let open_full = open_time(&full);
    println!(
        "open (median of 21): empty {}, full {}  ratio full/empty {:.2}  [target < 50 ms, ratio <= 2]",
        ms(open_empty),
        ms(open_full),
        open_full.as_secs_f64() / open_empty.as_secs_f64()
    );

    let store = Store::open(&full).expect("open");
    // The same pseudo-random keys for both paths.
    let n = 100_000u64;
    let keys: Vec<[u8; 32]> = (0..n).map(|i| hash_token(&bulk::token_value(1 + (i * 7919) % v.tokens))).collect();
    let raw = store.raw();
    // Warm the cache once for both.
    for k in &keys {
        let txn = raw.begin_read().unwrap();
        let table = txn.open_table(TOKENS).unwrap();
        std::hint::black_box(table.get(k).unwrap().map(|g| g.value().len()));
    }
    let mut raw_times = Vec::new();
    let mut api_times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for k in &keys {
            let txn = raw.begin_read().unwrap();
            let table = txn.open_table(TOKENS).unwrap();
            assert!(table.get(k).unwrap().is_some());
        }
        raw_times.push(t.elapsed());
        let t = Instant::now();
        for k in &keys {
            assert!(store.read().unwrap().token_by_hash(k).unwrap().is_some());
        }
        api_times.push(t.elapsed());
    }
    let (raw_t, api_t) = (median(raw_times), median(api_times));
    let per = |d: Duration| d.as_secs_f64() * 1e9 / n as f64;
    println!(
        "token lookup by hash (read txn + get, {n} keys, median of 5): raw redb {:.0} ns, store API {:.0} ns  ratio {:.2}  [target <= 1.5]",
        per(raw_t),
        per(api_t),
        api_t.as_secs_f64() / raw_t.as_secs_f64()
    );

    let page = |fragment: &str| {
        let q = TokenQuery { user: Some(UserFilter::Contains(fragment.into())), limit: 50, ..TokenQuery::default() };
        let mut total = 0;
        let d = time(11, || {
            let p = store.read().unwrap().list_tokens(&q).unwrap();
            total = p.total;
            p
        });
        (d, total)
    };
    // user042100 … user042199: 100 users, 2 tokens each.
    let selective = "user0421";
    let (d, total) = page(selective);
    println!(
        "token list, first page of 50, user contains \"{selective}\" ({total} matches): {}  [target < 50 ms]",
        ms(d)
    );
    let (d, total) = page("user");
    println!("token list, first page of 50, user contains \"user\" ({total} matches, every token): {}", ms(d));
    let unfiltered =
        time(5, || store.read().unwrap().list_tokens(&TokenQuery { limit: 50, ..TokenQuery::default() }).unwrap());
    println!("token list, first page of 50, no filter: {}", ms(unfiltered));

    let size = std::fs::metadata(&full).map(|m| m.len()).unwrap_or(0);
    println!(
        "file size: {:.1} MiB (empty database: {:.1} KiB)",
        size as f64 / 1048576.0,
        std::fs::metadata(&empty).map(|m| m.len()).unwrap_or(0) as f64 / 1024.0
    );
    println!("peak RSS of this benchmark: {:.1} MiB", peak_rss_kib() as f64 / 1024.0);
    drop(store);
    std::fs::remove_dir_all(&dir).ok();
}
