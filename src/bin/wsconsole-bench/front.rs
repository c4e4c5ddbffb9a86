//! `front`: calls through a `wsconsole serve` that fronts a Moodle site, against the same
//! calls sent straight to that site, in one run: throughput ratio and added latency. Two
//! sites: a second `wsconsole serve` (fast: the front is the slower part) and `slow-site`, a
//! stand-in for a real Moodle that answers after `--site-delay-ms` (Moodle 4.3 on two cores
//! answers ~100 calls/s: the site is the slower part).

use super::common::*;
use super::endpoint::{WrkResult, free_port, wait_for, wrk};
use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;
use wsconsole::domain::{AuthMethod, Protocol};
use wsconsole::ops::{NewService, NewToken, NewUser, Ops};
use wsconsole::store::Store;

const CALL: &str = "wsfunction=core_user_get_users_by_field&moodlewsrestformat=json&field=username&values[0]=caller";

/// `slow-site ADDR DELAY_MS BODYFILE`: answers every request with the body, as JSON, after
/// the delay (many at once: the delay is a wait, not work).
pub fn slow_site(args: &[String]) {
    let usage = "slow-site ADDR DELAY_MS BODYFILE";
    let listen = args.first().expect(usage).clone();
    let delay = Duration::from_millis(args.get(1).expect(usage).parse().expect(usage));
    let body: &'static str = Box::leak(std::fs::read_to_string(args.get(2).expect(usage)).unwrap().into_boxed_str());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let app = axum::Router::new().fallback(axum::routing::any(move || async move {
            // A thread's sleep, not tokio's timer: tokio rounds a deadline up to its
            // millisecond tick, which lines callers up on ticks and turns a small added
            // delay into a whole millisecond or nothing. A real site's time is not on ticks.
            tokio::task::spawn_blocking(move || std::thread::sleep(delay)).await.unwrap();
            ([(axum::http::header::CONTENT_TYPE, "application/json")], body)
        }));
        let listener = tokio::net::TcpListener::bind(&listen).await.unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}

/// Child processes killed when the benchmark ends, also when it panics: a server left
/// behind would hold the terminal's output open.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A `wsconsole serve` on `db`, ready.
fn serve(db: &Path) -> (Child, String) {
    let exe_dir = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    let port = free_port();
    let child = Command::new(exe_dir.join("wsconsole"))
        .args(["serve", "--failure-limit", "0", "--listen", &format!("127.0.0.1:{port}"), "--db"])
        .arg(db)
        .env("RUST_LOG", "error")
        .spawn()
        .expect("target/release/wsconsole: build it first (cargo build --release)");
    let base = format!("http://127.0.0.1:{port}");
    wait_for(&format!("{base}/healthz"));
    (child, base)
}

/// A database with web services and REST on, a user allowed to use them, and an enabled
/// service `svc` with the benchmark's function; returns the user's token on it.
fn site_database(db: &Path) -> (Arc<Store>, String) {
    let store = Arc::new(Store::open(db).unwrap());
    let ops = Ops::new(store.clone(), "bench");
    ops.set_web_services(true).unwrap();
    ops.set_protocol(Protocol::Rest, true).unwrap();
    ops.create_user(NewUser::named("caller", AuthMethod::Webservice)).unwrap();
    let caps = ["webservice/rest:use", "moodle/user:viewdetails", "moodle/user:viewalldetails"].map(String::from);
    ops.create_role("client", "Client", &caps).unwrap();
    ops.set_role_assignment("client", "caller", true).unwrap();
    ops.create_service(NewService { name: "Svc".into(), shortname: "svc".into(), enabled: true, ..Default::default() })
        .unwrap();
    ops.set_service_functions("svc", &["core_user_get_users_by_field".to_string()], true).unwrap();
    let token = ops.create_token(NewToken { username: "caller".into(), service: "svc".into(), ..NewToken::default() });
    (store, token.unwrap().value)
}

fn script(dir: &Path, name: &str, token: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.lua"));
    let rest = wsconsole::domain::routes::server(Protocol::Rest, wsconsole::domain::routes::Auth::Token);
    std::fs::write(&path, format!("wrk.path = \"{rest}?wstoken={token}&{CALL}\"\n")).unwrap();
    path
}

pub fn front_bench(args: &[String]) {
    let seconds = arg(args, "--seconds", 5) as u32;
    let connections = arg(args, "--connections", 32) as u32;
    let delay = arg(args, "--site-delay-ms", 10);
    let dir = work_dir(args, "front");
    std::fs::create_dir_all(&dir).unwrap();
    // The site: a second wsconsole.
    let (_site_store, site_token) = site_database(&dir.join("site.redb"));
    let mut children = Children(Vec::new());
    let (site, site_base) = serve(&dir.join("site.redb"));
    children.0.push(site);
    // The front: the same setup, its service connected to the site with the site's token.
    let (front_store, front_token) = site_database(&dir.join("front.redb"));
    let ops = Ops::new(front_store.clone(), "bench");
    ops.set_setting("upstreamurl", &site_base).unwrap();
    ops.set_setting("upstreamconcurrency", &(connections * 2).to_string()).unwrap();
    ops.set_upstream_credential("svc", &site_token).unwrap();
    drop((ops, front_store));
    let (front, front_base) = serve(&dir.join("front.redb"));
    children.0.push(front);
    let direct_script = script(&dir, "direct", &site_token);
    let front_script = script(&dir, "front", &front_token);
    let sample = Command::new("curl")
        .args(["-s", "-g"])
        .arg(format!("{front_base}{}", std::fs::read_to_string(&front_script).unwrap().split('"').nth(1).unwrap()))
        .output()
        .unwrap()
        .stdout;
    assert!(sample.starts_with(b"[{\"id\":"), "the front forwards: {}", String::from_utf8_lossy(&sample));
    println!("wsconsole front benchmark: REST core_user_get_users_by_field, JSON passed through");
    println!("wrk -t2 -c{connections} -d{seconds}s per run, on the same 2 cores as the servers");
    let run = |name: &str, site_url: &str, front_url: &str, targets: bool| {
        let _ = wrk(site_url, connections, 1, &direct_script);
        let _ = wrk(front_url, connections, 1, &front_script);
        let d = wrk(site_url, connections, seconds, &direct_script);
        let f = wrk(front_url, connections, seconds, &front_script);
        report(name, &d, &f, targets);
    };
    run("site = a second wsconsole (the front is the slower part)", &site_base, &front_base, false);

    // The site that is the slower part: answers after the delay.
    let body = dir.join("answer.json");
    std::fs::write(&body, &sample).unwrap();
    let port = free_port();
    let slow = Command::new(std::env::current_exe().unwrap())
        .args(["slow-site", &format!("127.0.0.1:{port}"), &delay.to_string()])
        .arg(&body)
        .spawn()
        .unwrap();
    children.0.push(slow);
    let slow_base = format!("http://127.0.0.1:{port}");
    wait_for(&format!("{slow_base}/healthz"));
    Ops::new(Arc::new(Store::open(&dir.join("front.redb")).unwrap()), "bench")
        .set_setting("upstreamurl", &slow_base)
        .unwrap();
    let since = wsconsole::store::now();
    run(
        &format!("site = a stand-in answering after {delay} ms (the site is the slower part)"),
        &slow_base,
        &front_base,
        true,
    );
    own_time(&dir.join("front.redb"), since);
    drop(children);
    std::fs::remove_dir_all(&dir).ok();
}

/// The front's own time per forwarded call, from its call log: the call's whole duration in
/// the front less the site's latency, as the front measured both (no client, no wrk).
fn own_time(db: &Path, since: i64) {
    use wsconsole::store::Queries;
    std::thread::sleep(Duration::from_millis(700));
    let logged = Store::open(db).unwrap().read().unwrap().call_entries(1_000_000).unwrap();
    let mut own: Vec<u64> = logged
        .iter()
        .filter(|c| c.time >= since)
        .filter_map(|c| c.site.map(|s| c.duration_micros.saturating_sub(s.latency_micros)))
        .collect();
    own.sort_unstable();
    if own.is_empty() {
        return;
    }
    let at = |q: f64| own[((own.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    println!(
        "  the front's own time per forwarded call (its call log, {} calls): p50 {:.3} ms, p99 {:.3} ms",
        own.len(),
        at(0.5),
        at(0.99)
    );
}

fn report(name: &str, direct: &WrkResult, front: &WrkResult, targets: bool) {
    println!("{name}:");
    println!(
        "  straight to the site: {:>8.0} calls/s  p50 {:>6.2} ms  p99 {:>6.2} ms  non-2xx {}",
        direct.rps, direct.p50_ms, direct.p99_ms, direct.non_2xx
    );
    println!(
        "  through the front:    {:>8.0} calls/s  p50 {:>6.2} ms  p99 {:>6.2} ms  non-2xx {}",
        front.rps, front.p50_ms, front.p99_ms, front.non_2xx
    );
    println!(
        "  throughput ratio {:.2}; added latency p50 {:+.2} ms, p99 {:+.2} ms{}",
        front.rps / direct.rps,
        front.p50_ms - direct.p50_ms,
        front.p99_ms - direct.p99_ms,
        // The targets hold where the site is the slower part, as a real Moodle is.
        if targets { "  [targets: ratio >= 0.9, p50 <= +0.5 ms]" } else { "" }
    );
}
