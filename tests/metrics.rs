//! `/metrics` (issue 18): served only where `serve --metrics-listen` says, apart from the web
//! services; scraped before and after known calls, its counters move by exactly those calls,
//! sent concurrently; no token, username, password or client address appears in it.

mod common;

use common::*;
use std::sync::Arc;
use wsconsole::ops::Ops;
use wsconsole::store::Store;

/// `wsconsole serve` with metrics on an ephemeral port: the endpoint and the metrics' URL.
fn endpoint_with_metrics(extra: &[&str]) -> (tempfile::TempDir, Ops, Endpoint, String) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ws.redb");
    let ops = Ops::new(Arc::new(Store::open(&db).unwrap()), "admin");
    fixture_site(&ops);
    let mut options = vec!["--metrics-listen", "127.0.0.1:0"];
    options.extend_from_slice(extra);
    let endpoint = Endpoint::spawn_with(&db, &options);
    let metrics = endpoint.metrics_url();
    (dir, ops, endpoint, metrics)
}

fn rest(endpoint: &Endpoint, token: &str, function: &str) -> Reply {
    get(&format!(
        "{}/webservice/rest/server.php?wstoken={token}&wsfunction={function}&moodlewsrestformat=json",
        endpoint.base
    ))
}

#[test]
fn counters_move_by_exactly_the_calls_made_and_show_no_secret() {
    let (_dir, _ops, endpoint, metrics) = endpoint_with_metrics(&[]);
    // The web services' own address does not serve them.
    assert_eq!(get(&format!("{}/metrics", endpoint.base)).status, 404);
    let (_, before) = scrape_settled(&metrics);

    // Known calls, from eight threads at once.
    const THREADS: usize = 8;
    const EACH: usize = 25;
    let wrong = "0123456789abcdef0123456789abcdef";
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..EACH {
                    assert_eq!(rest(&endpoint, T, "core_webservice_get_site_info").json()["username"], "wsuser");
                }
            });
        }
    });
    for _ in 0..2 {
        assert_eq!(rest(&endpoint, wrong, "core_webservice_get_site_info").json()["errorcode"], "invalidtoken");
    }
    // A function the service lacks (named: it is catalogued), and one nobody has heard of
    // (refused, and not named: a client must not be able to fill the labels).
    assert_eq!(rest(&endpoint, T, "core_role_assign_roles").json()["errorcode"], "accessexception");
    assert_eq!(rest(&endpoint, T, "local_secret_thing").json()["errorcode"], "invalidrecord");
    let login = |password: &str| {
        post_form(
            &format!("{}/login/token.php", endpoint.base),
            &format!("username=wsuser&password={password}&service=testsvc"),
        )
        .json()
    };
    assert!(login("Wsuser-1234!")["token"].is_string());
    assert_eq!(login("Not-the-password-1")["errorcode"], "invalidlogin");

    let (text, after) = scrape_settled(&metrics);
    let calls = |function: &str, outcome: &str| {
        moved(
            &before,
            &after,
            &format!(r#"wsconsole_calls_total{{protocol="rest",function="{function}",outcome="{outcome}"}}"#),
        )
    };
    assert_eq!(calls("core_webservice_get_site_info", "ok"), (THREADS * EACH) as f64, "{text}");
    assert_eq!(calls("core_webservice_get_site_info", "invalidtoken"), 2.0, "{text}");
    assert_eq!(calls("core_role_assign_roles", "accessexception"), 1.0, "catalogued: named\n{text}");
    assert_eq!(calls("other", "invalidrecord"), 1.0, "unknown and refused: not named\n{text}");
    assert!(!text.contains("local_secret_thing"), "{text}");
    assert_eq!(moved(&before, &after, r#"wsconsole_refusals_total{reason="invalidtoken"}"#), 2.0, "{text}");
    assert_eq!(moved(&before, &after, r#"wsconsole_refusals_total{reason="accessexception"}"#), 1.0, "{text}");
    assert_eq!(moved(&before, &after, r#"wsconsole_refusals_total{reason="invalidrecord"}"#), 1.0, "{text}");
    assert_eq!(moved(&before, &after, r#"wsconsole_logins_total{reason="ok"}"#), 1.0, "{text}");
    assert_eq!(moved(&before, &after, r#"wsconsole_logins_total{reason="invalidlogin"}"#), 1.0, "{text}");
    let rest_calls = (THREADS * EACH + 4) as f64;
    assert_eq!(moved(&before, &after, r#"wsconsole_call_seconds_count{protocol="rest"}"#), rest_calls, "{text}");
    assert_eq!(
        moved(&before, &after, r#"wsconsole_call_seconds_bucket{le="+Inf",protocol="rest"}"#),
        rest_calls,
        "{text}"
    );
    assert_eq!(moved(&before, &after, r#"wsconsole_call_seconds_count{protocol="login"}"#), 2.0, "{text}");
    let logins = r#"wsconsole_calls_total{protocol="login",function="login/token.php",outcome="invalidlogin"}"#;
    assert_eq!(moved(&before, &after, logins), 1.0, "{text}");
    // The login wrote a token: the endpoint took at least one new snapshot.
    assert!(moved(&before, &after, "wsconsole_snapshot_refreshes_total") >= 1.0, "{text}");

    // Nothing that identifies or authenticates anyone.
    for secret in [T, wrong, "wsuser", "Wsuser-1234!", "Not-the-password-1", "127.0.0.1"] {
        assert!(!text.contains(secret), "{secret} in\n{text}");
    }
}

#[test]
fn gauges_show_connections_the_activity_queue_and_throttled_addresses() {
    let (_dir, _ops, endpoint, metrics) = endpoint_with_metrics(&["--failure-limit", "3"]);
    let gauge = |name: &str| scrape(&metrics).1.get(name).copied().unwrap_or(-1.0);
    let eventually = |name: &str, want: f64| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let got = gauge(name);
            if got == want || std::time::Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    assert_eq!(eventually("wsconsole_open_connections", 0.0), 0.0);
    // Three connections held open (the scrapes go to the other address, not counted).
    let held: Vec<std::net::TcpStream> =
        (0..3).map(|_| std::net::TcpStream::connect(endpoint.base.trim_start_matches("http://")).unwrap()).collect();
    assert_eq!(eventually("wsconsole_open_connections", 3.0), 3.0);
    drop(held);
    assert_eq!(eventually("wsconsole_open_connections", 0.0), 0.0);

    // Calls queue call-log rows; the writer takes them all within its period.
    for _ in 0..20 {
        rest(&endpoint, T, "core_webservice_get_site_info");
    }
    assert_eq!(eventually("wsconsole_activity_queue", 0.0), 0.0);
    // The rows are written (and the write timed) just after they leave the queue.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while gauge("wsconsole_activity_flush_seconds_count") < 1.0 {
        assert!(std::time::Instant::now() < deadline, "no write of the activity log was timed");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (text, samples) = scrape(&metrics);
    assert_eq!(samples["wsconsole_activity_dropped_total"], 0.0, "{text}");

    // Three bad tokens from this address: its next failure is refused for now (a valid token
    // still works), and the address is counted once.
    assert_eq!(gauge("wsconsole_throttled_addresses"), 0.0);
    let bad = || rest(&endpoint, "0123456789abcdef0123456789abcdef", "core_webservice_get_site_info").status;
    for _ in 0..3 {
        assert_eq!(bad(), 200);
    }
    assert_eq!(bad(), 429);
    assert_eq!(rest(&endpoint, T, "core_webservice_get_site_info").status, 200);
    let (text, samples) = scrape(&metrics);
    assert_eq!(samples["wsconsole_throttled_addresses"], 1.0, "{text}");
    assert!(samples[r#"wsconsole_refusals_total{reason="toomany"}"#] >= 1.0, "{text}");
    // A body over the size limit is refused by the limit's own layer, and counted.
    let mut raw = std::net::TcpStream::connect(endpoint.base.trim_start_matches("http://")).unwrap();
    use std::io::{Read, Write};
    raw.write_all(b"POST /webservice/rest/server.php HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\nConnection: close\r\n\r\n").unwrap();
    let mut head = String::new();
    let _ = raw.read_to_string(&mut head);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    let (text, samples) = scrape(&metrics);
    assert_eq!(samples.get(r#"wsconsole_refusals_total{reason="toolarge"}"#), Some(&1.0), "{text}");
    // Anything but /metrics there is not found.
    assert_eq!(get(&metrics.replace("/metrics", "/")).status, 404);
}
