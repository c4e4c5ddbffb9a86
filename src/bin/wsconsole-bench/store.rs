//! `store`: opening and reading the store at volume, beside plain redb.

use super::common::*;
use super::fill;
use redb::ReadableDatabase;
use std::time::{Duration, Instant};
use wsconsole::domain::secret::hash_token;

use wsconsole::store::{Queries, Store, TokenQuery, UserFilter};

/// The store's token table as plain redb sees it (the file format's name and types), for the
/// baseline that reads it without wsconsole's API.
const TOKENS: redb::TableDefinition<&[u8; 32], &[u8]> = redb::TableDefinition::new("tokens");

pub fn store_bench(args: &[String]) {
    let v = volume(args, 1_000);
    let (dir, empty, full) = databases(args, "store");

    println!("wsconsole store benchmark");
    println!("volume: {} users, {} services, {} tokens, {} call-log rows", v.users, v.services, v.tokens, v.calls);

    drop(Store::open(&empty).expect("empty database"));
    let store = Store::open(&full).expect("full database");
    let t = Instant::now();
    fill::fill(&store, v, wsconsole::store::now()).expect("fill");
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
    let keys: Vec<[u8; 32]> = (0..n).map(|i| hash_token(&fill::token_value(1 + (i * 7919) % v.tokens))).collect();
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
