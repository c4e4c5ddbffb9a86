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
    // has run a while), then the same number of requests to a route that does no work.
    let every_token: Vec<String> = valid.iter().map(|t| site_info(t)).collect();
    measure(&every_token);
    let empty: Vec<String> = (0..requests).map(|_| "/healthz".to_string()).collect();
    let (base_wall, _, _) = measure(&empty);
    let (wall, cpu, bytes) = measure(&uris);
    assert!(bytes > requests * 1000, "site info answered");
    let per = |d: Duration| d.as_secs_f64() * 1e6 / requests as f64;
    println!("wsconsole endpoint handler benchmark (in process, one thread, no HTTP)");
    println!("{} valid tokens of {tokens}; {requests} REST JSON site-info calls, random token each", valid.len());
    println!("router with no work (/healthz): {:>7.2} us/request", per(base_wall));
    println!(
        "site info:                      {:>7.2} us/request wall, {:.2} us CPU on the serving thread",
        per(wall),
        per(cpu)
    );
    println!(
        "work per request beyond routing: {:.2} us  (ratio site info / routing {:.1})",
        per(wall) - per(base_wall),
        per(wall) / per(base_wall)
    );
    drop(router);
    rt.block_on(async { tokio::task::yield_now().await });
    drop(rt);
    running.finish();
    std::fs::remove_dir_all(&dir).ok();
}

/// CPU time of the calling thread (Linux's schedstat: nanoseconds on a CPU).
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(stat.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0))
}
