//! `endpoint`: `wsconsole serve` under wrk beside a do-nothing server; `baseline` is that server.

use super::common::*;
use super::fill::{self, Volume};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wsconsole::domain::Protocol;
use wsconsole::domain::routes::{self, Auth, server};
use wsconsole::domain::secret::hash_token;
use wsconsole::store::{Queries, Store};

/// A do-nothing HTTP server answering fixed bytes, the endpoint's body under the endpoint's
/// own headers: the baseline the endpoint is measured against.
pub fn baseline(args: &[String]) {
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

pub struct WrkResult {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub non_2xx: u64,
}

pub fn wrk(url: &str, connections: u32, seconds: u32, script: &Path) -> WrkResult {
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

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn wait_for(url: &str) {
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
pub fn endpoint_database(args: &[String], dir: &Path) -> (PathBuf, Vec<String>, u64) {
    use std::sync::Arc;
    use wsconsole::domain::Protocol;
    use wsconsole::ops::{NewUser, Ops};
    let tokens = arg(args, "--tokens", 100_000);
    std::fs::create_dir_all(dir).unwrap();
    let db = dir.join("bench.redb");
    let store = Arc::new(Store::open(&db).unwrap());
    fill::fill(&store, Volume { users: 10_000, services: 10, tokens, calls: 0 }, wsconsole::store::now()).unwrap();
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
        let value = fill::token_value(i);
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

pub fn endpoint_bench(args: &[String]) {
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
    let rss_flood = vm_hwm_kib(endpoint.id());
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
        "endpoint peak RSS: {:.1} MiB after the token run, {:.1} MiB after the flood, {:.1} MiB after the logins  [target < 64 MiB]",
        rss_plain as f64 / 1024.0,
        rss_flood as f64 / 1024.0,
        vm_hwm_kib(endpoint.id()) as f64 / 1024.0
    );
    let _ = std::process::Command::new("kill").args(["-TERM", &endpoint.id().to_string()]).status();
    let _ = endpoint.wait();
    let _ = base_server.kill();
    let _ = base_server.wait();
    std::fs::remove_dir_all(&dir).ok();
}
