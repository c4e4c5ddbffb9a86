//! Benchmarks that print figures, each beside a baseline measured in the same run. Not tests:
//! machines are shared and noisy, so targets are read off the output, not asserted.
//!
//! `cargo run --release --bin wsconsole-bench -- store`
//! `cargo build --release && target/release/wsconsole-bench endpoint` (needs `wrk`)
//! `cargo run --release --bin wsconsole-bench -- handler` (the endpoint's work without HTTP)
//! `cargo run --release --bin wsconsole-bench -- console`

use redb::ReadableDatabase;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wsconsole::domain::Protocol;
use wsconsole::domain::routes::{self, Auth, server};
use wsconsole::domain::secret::hash_token;
use wsconsole::store::bulk::{self, Volume};
use wsconsole::store::tables::TOKENS;
use wsconsole::store::{Queries, Store, TokenQuery, UserFilter};

/// The allocator `wsconsole` itself runs with, set up the same way, so that in-process
/// figures are the endpoint's and the console's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    wsconsole::allocator::configure();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("store") => store_bench(&args[1..]),
        Some("endpoint") => endpoint_bench(&args[1..]),
        Some("baseline") => baseline(&args[1..]),
        Some("handler") => handler_bench(&args[1..]),
        Some("console") => console_bench(&args[1..]),
        Some("console-measure") => console_measure(&args[1..]),
        _ => {
            eprintln!("usage: wsconsole-bench store [--users N] [--services N] [--tokens N] [--calls N] [--dir DIR]");
            eprintln!(
                "       wsconsole-bench endpoint [--tokens N] [--seconds N] [--rounds N] [--warmup N] [--connections N] [--dir DIR]"
            );
            eprintln!("       wsconsole-bench handler [--tokens N] [--requests N] [--dir DIR]");
            eprintln!("       wsconsole-bench console [--users N] [--tokens N] [--calls N] [--dir DIR]");
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

/// A fresh directory for one benchmark's files, under `--dir` or the system's temp dir.
fn work_dir(args: &[String], name: &str) -> PathBuf {
    args.iter()
        .position(|a| a == "--dir")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("wsconsole-bench-{name}-{}", std::process::id()))
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

/// The full database's size: the command line's, or the defaults.
fn volume(args: &[String], services: u64) -> Volume {
    Volume {
        users: arg(args, "--users", 100_000),
        services: arg(args, "--services", services),
        tokens: arg(args, "--tokens", 200_000),
        calls: arg(args, "--calls", 1_000_000),
    }
}

/// A fresh work directory and the paths of its empty and full databases.
fn databases(args: &[String], name: &str) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let dir = work_dir(args, name);
    std::fs::create_dir_all(&dir).expect("bench directory");
    let (empty, full) = (dir.join("empty.redb"), dir.join("full.redb"));
    (dir, empty, full)
}

fn store_bench(args: &[String]) {
    let v = volume(args, 1_000);
    let (dir, empty, full) = databases(args, "store");

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

/// The endpoint's own work per request, without HTTP or a load generator: the REST site-info
/// call of the endpoint benchmark sent to the router in this process, on one thread, beside
/// the same router answering a route that does no work. Steadier than the HTTP run on a
/// shared machine, so it is the figure to compare between two versions of the code.
fn handler_bench(args: &[String]) {
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

/// A do-nothing HTTP server answering fixed bytes, the endpoint's body under the endpoint's
/// own headers: the baseline the endpoint is measured against.
fn baseline(args: &[String]) {
    use axum::http::{HeaderMap, HeaderName, HeaderValue};
    let usage = "baseline ADDR BODYFILE HEADERFILE";
    let listen = args.first().expect(usage).clone();
    let body: &'static str = Box::leak(std::fs::read_to_string(args.get(1).expect(usage)).unwrap().into_boxed_str());
    // Every header the endpoint sent except those hyper writes itself.
    let mut headers = HeaderMap::new();
    for line in std::fs::read_to_string(args.get(2).expect(usage)).unwrap().lines().skip(1) {
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            if !matches!(name.as_str(), "date" | "content-length" | "connection" | "transfer-encoding") {
                headers.append(
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_str(value.trim()).unwrap(),
                );
            }
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let app = axum::Router::new().fallback(axum::routing::any(move || {
            let headers = headers.clone();
            async move { (headers, body) }
        }));
        let listener = tokio::net::TcpListener::bind(&listen).await.unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}

struct WrkResult {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    non_2xx: u64,
}

fn wrk(url: &str, connections: u32, seconds: u32, script: &Path) -> WrkResult {
    let out = std::process::Command::new("wrk")
        .args(["-t2", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .expect("wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |prefix: &str| -> Option<String> {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1))
            .map(String::from)
    };
    let duration_ms = |v: &str| -> f64 {
        let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len()));
        let n: f64 = num.parse().unwrap_or(f64::NAN);
        match unit {
            "us" => n / 1000.0,
            "ms" => n,
            "s" => n * 1000.0,
            _ => f64::NAN,
        }
    };
    let non_2xx = text
        .lines()
        .find(|l| l.contains("Non-2xx or 3xx responses:"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    WrkResult {
        rps: field("Requests/sec:").and_then(|v| v.parse().ok()).unwrap_or(f64::NAN),
        p50_ms: field("50%").map(|v| duration_ms(&v)).unwrap_or(f64::NAN),
        p99_ms: field("99%").map(|v| duration_ms(&v)).unwrap_or(f64::NAN),
        non_2xx,
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for(url: &str) {
    for _ in 0..200 {
        if std::process::Command::new("curl").args(["-sf", "-o", "/dev/null", url]).status().is_ok_and(|s| s.success())
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{url} did not come up");
}

fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The endpoint benchmarks' database in `dir`: 10 000 users, 10 services, `--tokens` tokens
/// (100 000), every protocol on; returns its path, the valid tokens' values and how many
/// tokens it holds.
fn endpoint_database(args: &[String], dir: &Path) -> (PathBuf, Vec<String>, u64) {
    use std::sync::Arc;
    use wsconsole::domain::Protocol;
    use wsconsole::ops::{NewUser, Ops};
    let tokens = arg(args, "--tokens", 100_000);
    std::fs::create_dir_all(dir).unwrap();
    let db = dir.join("bench.redb");
    let store = Arc::new(Store::open(&db).unwrap());
    bulk::fill(&store, Volume { users: 10_000, services: 10, tokens, calls: 0 }, wsconsole::store::now()).unwrap();
    let ops = Ops::new(store.clone(), "bench");
    ops.set_web_services(true).unwrap();
    ops.set_protocol(Protocol::Rest, true).unwrap();
    ops.set_protocol(Protocol::Xmlrpc, true).unwrap();
    ops.set_protocol(Protocol::Soap, true).unwrap();
    // Every user may call REST, XML-RPC and SOAP and create tokens, through the implicit role.
    ops.set_role_capabilities(
        "user",
        &[
            "webservice/rest:use".into(),
            "webservice/xmlrpc:use".into(),
            "webservice/soap:use".into(),
            "moodle/webservice:createtoken".into(),
        ],
        true,
    )
    .unwrap();
    ops.create_user(NewUser {
        password: Some("Right-pass-1".into()),
        ..NewUser::named("flood", wsconsole::domain::AuthMethod::Manual)
    })
    .unwrap();
    // Accounts that log in for the first time during the logins round: each login issues a
    // new token, a write like an administrator's.
    let logins: Vec<NewUser> = (0..LOGIN_USERS)
        .map(|i| NewUser {
            password: Some("Right-pass-1".into()),
            ..NewUser::named(&format!("login{i}"), wsconsole::domain::AuthMethod::Manual)
        })
        .collect();
    ops.create_users(logins).unwrap();
    drop(ops);
    drop(store);

    // Valid, unexpired tokens only (bulk makes a third of them with a date, some past).
    let now = wsconsole::store::now();
    let store = Store::open(&db).unwrap();
    let v = store.read().unwrap();
    let mut valid = Vec::new();
    for i in 1..=tokens {
        let value = bulk::token_value(i);
        if v.token_by_hash(&hash_token(&value)).unwrap().is_some_and(|t| t.valid_until.is_none_or(|u| u > now + 3600)) {
            valid.push(value);
        }
    }
    drop(v);
    drop(store);
    (db, valid, tokens)
}

/// Accounts for the round with logins: more than its seconds times its rate.
const LOGIN_USERS: u64 = 400;
/// Logins a second in the round with logins.
const LOGINS_PER_SECOND: u64 = 10;

/// Logs in at [`LOGINS_PER_SECOND`] for `seconds` to `login/token.php` on `service`: each
/// account once with its password (a first login: a new token is written), or the flood
/// account with a wrong one (no write). Returns how many logins got a token.
fn logins(base: &str, service: &str, seconds: u32, right: bool) -> u64 {
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(10))).build().into();
    let mut issued = 0;
    let start = Instant::now();
    for i in 0..u64::from(seconds) * LOGINS_PER_SECOND {
        let due = start + Duration::from_millis(i * 1000 / LOGINS_PER_SECOND);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let (user, password) =
            if right { (format!("login{i}"), "Right-pass-1") } else { ("flood".to_string(), "wrong-password") };
        let body = format!("username={user}&password={password}&service={service}");
        let answer = agent
            .post(&format!("{base}{}", routes::LOGIN_TOKEN))
            .content_type("application/x-www-form-urlencoded")
            .send(body.as_bytes())
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .unwrap_or_default();
        issued += u64::from(answer.contains("\"token\""));
    }
    issued
}

fn endpoint_bench(args: &[String]) {
    let seconds = arg(args, "--seconds", 10) as u32;
    let rounds = arg(args, "--rounds", 2).max(1) as u32;
    let warmup = arg(args, "--warmup", 3) as u32;
    let connections = arg(args, "--connections", 64) as u32;
    if std::process::Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("wsconsole-bench endpoint needs wrk: apt-get install wrk");
        std::process::exit(2);
    }
    let dir = work_dir(args, "endpoint");
    let (db, valid, tokens) = endpoint_database(args, &dir);
    let token_file = dir.join("tokens.txt");
    std::fs::write(&token_file, valid.join("\n")).unwrap();
    let script = dir.join("tokens.lua");
    std::fs::write(
        &script,
        format!(
            r#"local tokens = {{}}
for line in io.lines("{}") do tokens[#tokens + 1] = line end
math.randomseed(os.time())
request = function()
  local t = tokens[math.random(#tokens)]
  return wrk.format("GET", "{rest}?wstoken=" .. t .. "&wsfunction=core_webservice_get_site_info&moodlewsrestformat=json")
end
"#,
            token_file.display(),
            rest = server(Protocol::Rest, Auth::Token),
        ),
    )
    .unwrap();
    // The same call over the XML protocols: a POST per random token.
    let post_script = |name: &str, path: &str, body: &str| {
        let file = dir.join(name);
        let body = body.replace('\\', "\\\\").replace('"', "\\\"");
        std::fs::write(
            &file,
            format!(
                r#"local tokens = {{}}
for line in io.lines("{}") do tokens[#tokens + 1] = line end
math.randomseed(os.time())
local body = "{body}"
request = function()
  local t = tokens[math.random(#tokens)]
  return wrk.format("POST", "{path}?wstoken=" .. t, {{["Content-Type"] = "text/xml; charset=utf-8"}}, body)
end
"#,
                token_file.display()
            ),
        )
        .unwrap();
        file
    };
    let xmlrpc_script = post_script(
        "xmlrpc.lua",
        server(Protocol::Xmlrpc, Auth::Token),
        "<?xml version=\"1.0\"?><methodCall><methodName>core_webservice_get_site_info</methodName><params></params></methodCall>",
    );
    let soap_script = post_script(
        "soap.lua",
        server(Protocol::Soap, Auth::Token),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:ns1=\"urn:wsconsole\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:SOAP-ENC=\"http://schemas.xmlsoap.org/soap/encoding/\" SOAP-ENV:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><SOAP-ENV:Body><ns1:core_webservice_get_site_info><serviceshortnames SOAP-ENC:arrayType=\"xsd:string[0]\" xsi:type=\"SOAP-ENC:Array\"/></ns1:core_webservice_get_site_info></SOAP-ENV:Body></SOAP-ENV:Envelope>",
    );
    let flood_script = dir.join("flood.lua");
    std::fs::write(&flood_script, "wrk.method = \"POST\"\nwrk.body = \"username=flood&password=wrong-password&service=svc0001\"\nwrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\n").unwrap();

    let exe_dir = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    let port = free_port();
    // The throttle is off so that the login flood really costs argon2 work.
    let mut endpoint = std::process::Command::new(exe_dir.join("wsconsole"))
        .args(["serve", "--failure-limit", "0", "--listen", &format!("127.0.0.1:{port}"), "--db"])
        .arg(&db)
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("target/release/wsconsole: build it first (cargo build --release)");
    let base = format!("http://127.0.0.1:{port}");
    wait_for(&format!("{base}/healthz"));
    let header_file = dir.join("headers.txt");
    let sample = std::process::Command::new("curl")
        .arg("-D")
        .arg(&header_file)
        .args([
            "-s",
            &format!(
                "{base}{}?wstoken={}&wsfunction=core_webservice_get_site_info&moodlewsrestformat=json",
                server(Protocol::Rest, Auth::Token),
                valid[0]
            ),
        ])
        .output()
        .unwrap()
        .stdout;
    assert!(
        sample.starts_with(b"{\"sitename\""),
        "the endpoint answers site info: {}",
        String::from_utf8_lossy(&sample)
    );
    let body_file = dir.join("body.json");
    std::fs::write(&body_file, &sample).unwrap();
    let bport = free_port();
    let mut base_server = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["baseline", &format!("127.0.0.1:{bport}")])
        .arg(&body_file)
        .arg(&header_file)
        .spawn()
        .unwrap();
    wait_for(&format!("http://127.0.0.1:{bport}/"));

    let rss_idle = vm_hwm_kib(endpoint.id());
    println!("wsconsole endpoint benchmark");
    println!("endpoint RSS after start and one call: {:.1} MiB", rss_idle as f64 / 1024.0);
    println!(
        "{} valid tokens of {tokens}; core_webservice_get_site_info over REST JSON, random token per request",
        valid.len()
    );
    println!("wrk -t2 -c{connections} -d{seconds}s per run, on the same 2 cores as the servers");
    let baseline_url = format!("http://127.0.0.1:{bport}/");
    // The first seconds of a fresh endpoint fill its record cache and write every token's
    // first last access: shown apart, then both servers are compared warm (the baseline has
    // nothing to warm).
    if warmup > 0 {
        let cold = wrk(&base, connections, warmup, &script);
        println!("endpoint warm-up, first {warmup} s from start: {:>9.0} req/s  p99 {:.2} ms", cold.rps, cold.p99_ms);
    }
    // Rounds alternate the two servers, so that a slow spell of this shared machine weighs on
    // both; the ratio is taken over every round's requests.
    let (mut b_all, mut e_all) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let b = wrk(&baseline_url, connections, seconds, &script);
        let e = wrk(&base, connections, seconds, &script);
        println!(
            "round {round}: baseline (axum, same bytes) {:>9.0} req/s  p50 {:.2} ms  p99 {:.2} ms",
            b.rps, b.p50_ms, b.p99_ms
        );
        println!(
            "round {round}: endpoint                   {:>9.0} req/s  p50 {:.2} ms  p99 {:.2} ms  non-2xx {}  ratio {:.2}",
            e.rps,
            e.p50_ms,
            e.p99_ms,
            e.non_2xx,
            e.rps / b.rps
        );
        b_all.push(b);
        e_all.push(e);
    }
    let mean = |runs: &[WrkResult]| runs.iter().map(|r| r.rps).sum::<f64>() / runs.len() as f64;
    let worst_p99 = e_all.iter().map(|r| r.p99_ms).fold(0.0, f64::max);
    let (b_rps, e_rps) = (mean(&b_all), mean(&e_all));
    println!(
        "ratio endpoint/baseline over {rounds} rounds: {:.2} ({e_rps:.0} / {b_rps:.0} req/s); endpoint p99 at worst {worst_p99:.2} ms  [target >= 0.6; p99 target < 10 ms]",
        e_rps / b_rps
    );
    let rss_plain = vm_hwm_kib(endpoint.id());
    for (label, script) in [("XML-RPC (POST methodCall)", &xmlrpc_script), ("SOAP (POST envelope)", &soap_script)] {
        let x = wrk(&base, connections, seconds, script);
        println!(
            "{label:<26} {:>9.0} req/s  p50 {:.2} ms  p99 {:.2} ms  non-2xx {}  ratio to REST JSON {:.2}  [target >= 0.5]",
            x.rps,
            x.p50_ms,
            x.p99_ms,
            x.non_2xx,
            x.rps / e_rps
        );
    }

    // Second run: 8 connections sending wrong passwords to login/token.php meanwhile.
    let flood_url = format!("{base}{}", routes::LOGIN_TOKEN);
    let flood = std::thread::spawn({
        let flood_script = flood_script.clone();
        move || wrk(&flood_url, 8, seconds, &flood_script)
    });
    std::thread::sleep(Duration::from_millis(300));
    let under = wrk(&base, connections, seconds.saturating_sub(1).max(1), &script);
    let f = flood.join().unwrap();
    println!(
        "under a login flood (8 connections, wrong passwords, {:.0} logins/s refused): {:.0} req/s  p99 {:.2} ms  ratio to unflooded {:.2}  [target >= 0.5]",
        f.rps,
        under.rps,
        under.p99_ms,
        under.rps / e_rps
    );
    // Third: logins at 10 a second beside the token calls, first logins (each writes a new
    // token) and, for comparison, wrong passwords (the same argon2 work, no write).
    let service = {
        let store = Store::open(&db).unwrap();
        let v = store.read().unwrap();
        v.all_services().unwrap().into_iter().find(|s| !s.builtin).expect("a bulk service").shortname
    };
    for right in [true, false] {
        let login = std::thread::spawn({
            let (base, service) = (base.clone(), service.clone());
            move || logins(&base, &service, seconds, right)
        });
        let with = wrk(&base, connections, seconds, &script);
        let issued = login.join().unwrap();
        let what = if right { "first logins, each a new token written" } else { "wrong passwords, nothing written" };
        println!(
            "with {LOGINS_PER_SECOND} logins/s ({what}; {issued} tokens issued): {:.0} req/s  p99 {:.2} ms  ratio to no logins {:.2}",
            with.rps,
            with.p99_ms,
            with.rps / e_rps
        );
    }
    println!(
        "endpoint peak RSS: {:.1} MiB after the token run, {:.1} MiB after the flood  [target < 64 MiB]",
        rss_plain as f64 / 1024.0,
        vm_hwm_kib(endpoint.id()) as f64 / 1024.0
    );
    let _ = std::process::Command::new("kill").args(["-TERM", &endpoint.id().to_string()]).status();
    let _ = endpoint.wait();
    let _ = base_server.kill();
    let _ = base_server.wait();
    std::fs::remove_dir_all(&dir).ok();
}

/// The console on an empty and on a full database, each measured in a fresh process of its own
/// (so that its peak RSS is the console's alone, not the fill's).
fn console_bench(args: &[String]) {
    let v = volume(args, 100);
    let (dir, empty, full) = databases(args, "console");
    drop(Store::open(&empty).expect("empty database"));
    let store = Store::open(&full).expect("full database");
    let t = Instant::now();
    bulk::fill(&store, v, wsconsole::store::now()).expect("fill");
    drop(store);
    // Who the other process creates tokens for while the console is measured.
    for db in [&empty, &full] {
        let ops = wsconsole::ops::Ops::new(std::sync::Arc::new(Store::open(db).expect("open")), "bench");
        ops.create_user(wsconsole::ops::NewUser::named("writer", wsconsole::domain::AuthMethod::Webservice))
            .expect("writer");
        ops.create_service(wsconsole::ops::NewService {
            name: "Writes".into(),
            shortname: "writes".into(),
            enabled: true,
            restricted_users: false,
            required_capability: None,
            download_files: false,
            upload_files: false,
        })
        .expect("service");
    }
    println!("wsconsole console benchmark (in process, 160x48 TestBackend frames; each database in a fresh process)");
    println!(
        "volume: {} users, {} services, {} tokens, {} call-log rows (fill {:.1} s)",
        v.users,
        v.services,
        v.tokens,
        v.calls,
        t.elapsed().as_secs_f64()
    );
    let measure = |db: &Path| -> Vec<f64> {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .arg("console-measure")
            .arg(db)
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("run the measuring process");
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace().map(|x| x.parse().expect("a figure")).collect()
    };
    let e = measure(&empty);
    let f = measure(&full);
    let names = [
        "first frame (start to frame)",
        "data on screen (start to loaded frame)",
        "filter keystroke to frame, median",
        "filter keystroke to frame, worst",
        "scroll (PgDn/Down) to frame, median",
        "scroll (PgDn/Down) to frame, worst",
    ];
    println!("{:<42} {:>10} {:>10} {:>7}", "", "empty", "full", "ratio");
    for (i, name) in names.iter().enumerate() {
        println!("{name:<42} {:>7.2} ms {:>7.2} ms {:>7.2}", e[i], f[i], f[i] / e[i].max(1e-6));
    }
    println!(
        "another process creates a token twice a second for {FOLLOW_SECONDS} s (wsconsole token create), the console open on Tokens:"
    );
    println!("{:<42} {:>7.2} ms {:>7.2} ms", "  change to data on screen, median", e[7], f[7]);
    println!("{:<42} {:>7.2} ms {:>7.2} ms", "  change to data on screen, worst", e[8], f[8]);
    println!("{:<42} {:>8.1} % {:>8.1} %", "  console CPU (of one core)", e[9], f[9]);
    println!("{:<42} {:>10} {:>10}", "  full reads after the first", e[10], f[10]);
    println!("peak RSS: empty {:.1} MiB, full {:.1} MiB  [target < 64 MiB]", e[6] / 1024.0, f[6] / 1024.0);
    println!(
        "[targets: first frame < 100 ms and <= 1.5x empty; keystroke to frame < 16 ms; change on screen < 100 ms; CPU < 5 %]"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// One console on `db`: prints start→first frame, start→loaded frame, keystroke and scroll
/// frame times (ms) and peak RSS (KiB), space-separated.
fn console_measure(args: &[String]) {
    use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
    use ratatui::{Terminal, backend::TestBackend};
    use std::sync::Arc;
    use wsconsole::console::{shell::Shell, theme::Theme};
    let db = PathBuf::from(&args[0]);
    let start = Instant::now();
    let store = Arc::new(Store::open_with_cache(&db, wsconsole::console::CACHE_BYTES).expect("open"));
    let mut app = Shell::new(store, false, Theme { mono: false });
    app.handle(&Event::Resize(160, 48));
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    term.draw(|f| app.draw(f)).unwrap();
    let first = start.elapsed();
    app.settle();
    term.draw(|f| app.draw(f)).unwrap();
    let loaded = start.elapsed();
    let mut frame = |app: &mut Shell, code: KeyCode| {
        let t = Instant::now();
        app.handle(&Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
        term.draw(|f| app.draw(f)).unwrap();
        t.elapsed()
    };
    frame(&mut app, KeyCode::Char('7'));
    frame(&mut app, KeyCode::Char('/'));
    let mut typing = Vec::new();
    for c in "user0421".chars() {
        typing.push(frame(&mut app, KeyCode::Char(c)));
    }
    for _ in 0..8 {
        typing.push(frame(&mut app, KeyCode::Backspace));
    }
    frame(&mut app, KeyCode::Enter);
    let mut scrolling = Vec::new();
    for i in 0..60 {
        scrolling.push(frame(&mut app, if i % 2 == 0 { KeyCode::PageDown } else { KeyCode::Down }));
    }
    let worst = |v: &[Duration]| v.iter().max().copied().unwrap_or_default();
    let f = |d: Duration| d.as_secs_f64() * 1e3;
    let (follow, cpu, reads) = follow_writes(&mut app, &mut term, &db);
    println!(
        "{} {} {} {} {} {} {} {} {} {} {}",
        f(first),
        f(loaded),
        f(median(typing.clone())),
        f(worst(&typing)),
        f(median(scrolling.clone())),
        f(worst(&scrolling)),
        peak_rss_kib(),
        f(median(follow.clone())),
        f(worst(&follow)),
        cpu,
        reads,
    );
}

const FOLLOW_SECONDS: u64 = 10;

/// CPU time of this process (every thread), from getrusage.
fn cpu_time() -> Duration {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid rusage to fill in.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &raw mut usage) };
    let t = |tv: libc::timeval| Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
    t(usage.ru_utime) + t(usage.ru_stime)
}

/// The console as its terminal loop runs it (news every 40 ms, a frame when something
/// changed) while another process creates a token twice a second: how long each change takes
/// to be on screen, the console's CPU share, and how many full reads it made.
fn follow_writes(
    app: &mut wsconsole::console::shell::Shell,
    term: &mut ratatui::Terminal<ratatui::backend::TestBackend>,
    db: &Path,
) -> (Vec<Duration>, f64, u64) {
    let exe = std::env::current_exe().unwrap().parent().unwrap().join("wsconsole");
    let (done, written) = std::sync::mpsc::channel::<Instant>();
    let db_arg = db.to_path_buf();
    let writer = std::thread::spawn(move || {
        for _ in 0..FOLLOW_SECONDS * 2 {
            let start = Instant::now();
            let status = std::process::Command::new(&exe)
                .arg("--db")
                .arg(&db_arg)
                .args(["token", "create", "--user", "writer", "--service", "writes"])
                .stdout(std::process::Stdio::null())
                .status()
                .expect("target/release/wsconsole: build it first (cargo build --release)");
            assert!(status.success(), "token create failed");
            let _ = done.send(Instant::now());
            std::thread::sleep(Duration::from_millis(500).saturating_sub(start.elapsed()));
        }
    });
    let reads_before = app.full_reads;
    let held = |app: &wsconsole::console::shell::Shell| app.data().map_or(0, |d| d.tokens.total());
    let mut shown = held(app);
    let mut pending: std::collections::VecDeque<Instant> = std::collections::VecDeque::new();
    let mut latencies = Vec::new();
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    while !writer.is_finished() || !pending.is_empty() && wall0.elapsed() < Duration::from_secs(FOLLOW_SECONDS + 5) {
        pending.extend(written.try_iter());
        if app.tick() {
            term.draw(|f| app.draw(f)).unwrap();
            let now_held = held(app);
            for _ in shown..now_held {
                if let Some(at) = pending.pop_front() {
                    latencies.push(at.elapsed());
                }
            }
            shown = now_held;
        }
        std::thread::sleep(Duration::from_millis(40));
    }
    let cpu = (cpu_time() - cpu0).as_secs_f64() / wall0.elapsed().as_secs_f64() * 100.0;
    writer.join().unwrap();
    (latencies, cpu, app.full_reads - reads_before)
}
