//! Connections are bounded (issue 13, item 3): a connection that sends no complete request
//! head in time (idle, half a header, idle on keep-alive) is closed, open connections are
//! capped, and 2 000 idle or slowloris connections do not keep a normal client out.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn config(max_connections: usize, header_timeout: Duration) -> wsconsole::endpoint::Config {
    wsconsole::endpoint::Config { max_connections, header_timeout, ..Default::default() }
}

fn addr(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_string()
}

/// Whether the server closed `s` (EOF or reset) within `within`.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

fn site_info(server: &Server) -> bool {
    get(&server.url(&format!(
        "/webservice/rest/server.php?wstoken={T}&wsfunction=core_webservice_get_site_info&moodlewsrestformat=json"
    )))
    .json()
    .get("username")
    .is_some()
}

#[test]
fn idle_and_slowloris_connections_do_not_keep_a_client_out() {
    let server = Server::start_with(config(4096, Duration::from_secs(2)), fixture_site);
    let mut hostile: Vec<TcpStream> = (0..2000)
        .map(|i| {
            let mut s = TcpStream::connect(addr(&server)).unwrap();
            if i % 2 == 0 {
                s.write_all(b"GET /webservice/rest/server.php HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
            }
            s
        })
        .collect();
    let started = Instant::now();
    for _ in 0..3 {
        assert!(site_info(&server), "a normal client is answered beside 2 000 idle connections");
    }
    assert!(started.elapsed() < Duration::from_secs(2), "answered at once: {:?}", started.elapsed());
    // Each of them is closed once its head has not come in time.
    let closed = hostile.iter_mut().map(|s| closed_within(s, Duration::from_secs(5))).filter(|c| *c).count();
    assert_eq!(closed, 2000, "idle and half-sent connections are closed after the header time-out");
}

#[test]
fn a_connection_idle_on_keep_alive_is_closed() {
    let server = Server::start_with(config(4096, Duration::from_secs(1)), fixture_site);
    let mut s = TcpStream::connect(addr(&server)).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 256];
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = s.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "the first request is answered");
    let idle = Instant::now();
    assert!(closed_within(&mut s, Duration::from_secs(5)), "then the idle connection is closed");
    assert!(idle.elapsed() >= Duration::from_millis(800), "not before the time-out: {:?}", idle.elapsed());
}

#[test]
fn beyond_the_cap_a_connection_waits_for_one_to_close() {
    let server = Server::start_with(config(10, Duration::from_secs(1)), fixture_site);
    let held: Vec<TcpStream> = (0..10).map(|_| TcpStream::connect(addr(&server)).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    // The eleventh is in the kernel's backlog until the first ten time out.
    let started = Instant::now();
    assert!(site_info(&server));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(500), "answered while ten connections were open: {waited:?}");
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    drop(held);
    assert!(site_info(&server), "and the server goes on");
}
