//! `handler`: the endpoint's work per request, in process, without HTTP.

use super::common::*;
use super::endpoint::endpoint_database;
use std::time::{Duration, Instant};
use wsconsole::domain::Protocol;
use wsconsole::domain::routes::{Auth, server};
use wsconsole::store::Store;

/// The endpoint's own work per request, without HTTP or a load generator: the REST site-info
/// call of the endpoint benchmark sent to the router in this process, on one thread, beside
/// the same router answering a route that does no work. Steadier than the HTTP run on a
/// shared machine, so it is the figure to compare between two versions of the code.
pub fn handler_bench(args: &[String]) {
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::http::Request;
    use std::sync::Arc;
    use tower::ServiceExt;
    let requests = arg(args, "--requests", 200_000) as usize;
    let dir = work_dir(args, "handler");
    let (db, valid, tokens) = endpoint_database(args, &dir);
    let store = Arc::new(Store::open(&db).unwrap());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let peer = ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 40_000)));
    let (state, running) =
        wsconsole::endpoint::app(store, wsconsole::endpoint::Config { failure_limit: 0, ..Default::default() })
            .unwrap();
    let router = wsconsole::endpoint::router(state);
    let send = |uri: String| {
        let req = Request::get(uri).extension(peer).body(Body::empty()).unwrap();
        let router = router.clone();
        async move {
            let res = router.oneshot(req).await.unwrap();
            let status = res.status();
            let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
            (status, body)
        }
    };
    let site_info = |t: &str| {
        format!(
            "{}?wstoken={t}&wsfunction=core_webservice_get_site_info&moodlewsrestformat=json",
            server(Protocol::Rest, Auth::Token)
        )
    };
    let uris: Vec<String> = (0..requests).map(|_| site_info(&valid[rand::random_range(0..valid.len())])).collect();
    let measure = |uris: &[String]| {
        rt.block_on(async {
            let started = Instant::now();
            let cpu = thread_cpu();
            let mut bytes = 0;
            for uri in uris {
                let (status, body) = send(uri.clone()).await;
                assert!(status.is_success(), "{status}");
                bytes += body.len();
            }
            (started.elapsed(), thread_cpu() - cpu, bytes)
        })
    };
    // Warm up with every valid token once (the endpoint's caches fill, as in a server that
    // has run a while), and let the activity writer store what that did: its burst of
    // last-access writes would otherwise run beside the first measurement.
    let every_token: Vec<String> = valid.iter().map(|t| site_info(t)).collect();
    measure(&every_token);
    settle(&db);
    // Then blocks of the calls and of the same number of requests to a route that does no
    // work, in turn: whatever else the machine does falls on both, and the medians of the
    // blocks leave out the blocks it fell on hardest.
    let empty: Vec<String> = (0..requests).map(|_| "/healthz".to_string()).collect();
    let blocks = 10;
    let size = requests.div_ceil(blocks);
    let (mut routing, mut calls, mut cpus, mut bytes) = (Vec::new(), Vec::new(), Vec::new(), 0);
    for (calls_block, empty_block) in uris.chunks(size).zip(empty.chunks(size)) {
        let per = |d: Duration| d / u32::try_from(calls_block.len()).unwrap();
        routing.push(per(measure(empty_block).0));
        let (wall, cpu, b) = measure(calls_block);
        calls.push(per(wall));
        cpus.push(per(cpu));
        bytes += b;
    }
    assert!(bytes > requests * 1000, "site info answered");
    let (base, wall, cpu) = (median(routing), median(calls), median(cpus));
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("wsconsole endpoint handler benchmark (in process, one thread, no HTTP)");
    println!("{} valid tokens of {tokens}; {requests} REST JSON site-info calls, random token each", valid.len());
    println!("in {blocks} blocks, each beside as many requests to a route that does no work; medians of the blocks");
    println!("router with no work (/healthz): {:>7.2} us/request", us(base));
    println!(
        "site info:                      {:>7.2} us/request wall, {:.2} us CPU on the serving thread",
        us(wall),
        us(cpu)
    );
    println!(
        "work per request beyond routing: {:.2} us  (ratio site info / routing {:.1})",
        us(wall) - us(base),
        us(wall) / us(base)
    );
    drop(router);
    rt.block_on(async { tokio::task::yield_now().await });
    drop(rt);
    running.finish();
    std::fs::remove_dir_all(&dir).ok();
}

/// Waits until the database file has not changed for half a second (the endpoint's
/// activity writer has stored what it was given).
fn settle(path: &std::path::Path) {
    let stamp = || std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let mut last = stamp();
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = stamp();
        if now == last {
            return;
        }
        last = now;
    }
}

/// CPU time of the calling thread (Linux's schedstat: nanoseconds on a CPU).
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(stat.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0))
}
