//! Shared test harness: a real endpoint on 127.0.0.1 with an ephemeral port, over a database
//! laid out like the site that recorded `../shared/moodle-fixtures-4.3`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use wsconsole::domain::secret::hash_token;
use wsconsole::domain::{AuthMethod, Protocol, Token, TokenOrigin};
use wsconsole::ops::{NewService, NewUser, Ops};
use wsconsole::store::{Queries, Store, StoreError};

/// The fixtures' main token (wsuser on testsvc).
pub const T: &str = "05d26cbd3d5da4fb831f50abd3ae7900";

pub struct Server {
    pub dir: tempfile::TempDir,
    pub store: Arc<Store>,
    pub ops: Ops,
    pub base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// An endpoint over a new database prepared by `setup`.
    pub fn start(setup: impl FnOnce(&Ops)) -> Server {
        Server::start_with(wsconsole::endpoint::Config::default(), setup)
    }

    /// As [`Server::start`], with `config`.
    pub fn start_with(config: wsconsole::endpoint::Config, setup: impl FnOnce(&Ops)) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("ws.redb")).unwrap());
        let ops = Ops::new(store.clone(), "test");
        setup(&ops);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let s = store.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                wsconsole::endpoint::serve(s, listener, config, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
            });
        });
        Server { dir, store, ops, base, stop: Some(tx), thread: Some(thread) }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("ws.redb")
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.base, path_and_query)
    }

    /// Stops the server and waits for the activity log to be flushed.
    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An HTTP client for the tests; a request that gets no answer within a minute fails the
/// test instead of hanging it.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into()
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn reply(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut r = r.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
    let body = r.body_mut().read_to_string().unwrap_or_default();
    Reply { status, headers, body }
}

pub fn get(url: &str) -> Reply {
    reply(agent().get(url).call())
}

/// Posts a raw body; status 0 when the server closed the connection before answering.
pub fn post_body(url: &str, content_type: &str, body: &[u8]) -> Reply {
    let Ok(mut r) = agent().post(url).content_type(content_type).send(body) else {
        return Reply { status: 0, headers: Vec::new(), body: String::new() };
    };
    let status = r.status().as_u16();
    let headers = r.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
    let body = r.body_mut().read_to_string().unwrap_or_default();
    Reply { status, headers, body }
}

pub fn post_form(url: &str, form: &str) -> Reply {
    reply(agent().post(url).content_type("application/x-www-form-urlencoded").send(form))
}

/// The fixtures' site: wsuser (manual) and wsonly (webservice) with the wsclient role, the
/// restricted "Test service" with wsuser authorised, and the token `T`.
pub fn fixture_site(ops: &Ops) {
    ops.set_web_services(true).unwrap();
    ops.set_protocol(Protocol::Rest, true).unwrap();
    ops.set_protocol(Protocol::Soap, true).unwrap();
    ops.set_protocol(Protocol::Xmlrpc, true).unwrap();
    ops.set_auth_plugin(wsconsole::domain::AuthPlugin::Webservice, true).unwrap();
    ops.set_setting("sitename", "Oracle Site").unwrap();
    let user = |name: &str, auth, pw: &str, first: &str, last: &str| {
        ops.create_user(NewUser {
            username: name.into(),
            auth,
            password: Some(pw.into()),
            firstname: first.into(),
            lastname: last.into(),
            email: format!("{name}@example.com"),
        })
        .unwrap()
    };
    user("admin", AuthMethod::Manual, "Admin-1234!", "Admin", "User");
    let wsuser = user("wsuser", AuthMethod::Manual, "Wsuser-1234!", "WS", "User");
    user("wsonly", AuthMethod::Webservice, "Wsonly-1234!", "WS", "Only");
    let caps: Vec<String> = [
        "webservice/rest:use",
        "webservice/soap:use",
        "webservice/xmlrpc:use",
        "moodle/webservice:createtoken",
        "moodle/user:viewdetails",
        "moodle/user:viewalldetails",
        "moodle/user:create",
        "moodle/user:update",
        "moodle/user:delete",
    ]
    .map(String::from)
    .to_vec();
    ops.create_role("wsclient", "WS client", &caps).unwrap();
    ops.set_role_assignment("wsclient", "wsuser", true).unwrap();
    ops.set_role_assignment("wsclient", "wsonly", true).unwrap();
    let svc = test_service(
        ops,
        &[
            "core_webservice_get_site_info",
            "core_user_get_users_by_field",
            "core_user_get_users",
            "core_user_create_users",
        ],
    );
    ops.set_service_enabled("moodle_mobile_app", true).unwrap();
    put_token(ops.store(), T, wsuser.id, svc.id, "", None);
}

/// The recorded sites' "Test service" (testsvc): enabled, authorised users only, with
/// `functions`, wsuser authorised.
pub fn test_service(ops: &Ops, functions: &[&str]) -> wsconsole::domain::Service {
    let svc = ops
        .create_service(NewService {
            name: "Test service".into(),
            shortname: "testsvc".into(),
            enabled: true,
            restricted_users: true,
            ..NewService::default()
        })
        .unwrap();
    let functions: Vec<String> = functions.iter().map(|f| f.to_string()).collect();
    ops.set_service_functions("testsvc", &functions, true).unwrap();
    ops.authorise_user("testsvc", "wsuser", "", None).unwrap();
    svc
}

/// Stores a token with a chosen value, as the fixtures' site had (ops only makes random ones).
pub fn put_token(store: &Store, value: &str, user: u64, service: u64, ip: &str, valid_until: Option<i64>) -> u64 {
    store
        .write(|t| {
            let id = t.next_id("token")?;
            let token = Token {
                id,
                name: format!("Webservice-{id}"),
                user,
                service,
                ip_restriction: ip.into(),
                valid_until,
                created: wsconsole::store::now(),
                creator: "test".into(),
                last_access: None,
                origin: TokenOrigin::Admin,
            };
            t.put_token(&hash_token(value), &token)?;
            Ok::<_, StoreError>(id)
        })
        .unwrap()
}

pub fn user_id(store: &Store, name: &str) -> u64 {
    store.read().unwrap().user_by_username(name).unwrap().unwrap().id
}

pub fn service_id(store: &Store, shortname: &str) -> u64 {
    store.read().unwrap().service_by_shortname(shortname).unwrap().unwrap().id
}

/// A recorded fixture: its meta record and body.
pub struct Fixture {
    pub meta: serde_json::Value,
    pub body: String,
}

pub fn fixtures_dir() -> PathBuf {
    std::env::var_os("WSCONSOLE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/moodle-fixtures-4.3"))
}

pub fn fixture(name: &str) -> Fixture {
    let dir = fixtures_dir();
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("{name}.meta.json")))
            .unwrap_or_else(|e| panic!("fixture {name} in {} ({e}); set WSCONSOLE_FIXTURES", dir.display())),
    )
    .unwrap();
    let file = meta["file"].as_str().unwrap().to_string();
    let body = std::fs::read_to_string(dir.join(file)).unwrap();
    Fixture { meta, body }
}

/// Moodle 4.3's exception class names as 4.5 spells them (moodle-ws-reference.md §2.6).
pub fn as_45(body: &str) -> String {
    let mut out = body.to_string();
    for class in ["moodle_exception", "invalid_parameter_exception"] {
        out = out
            .replace(&format!("\"exception\":\"{class}\""), &format!("\"exception\":\"core\\\\exception\\\\{class}\""))
            .replace(&format!("class=\"{class}\""), &format!("class=\"core\\exception\\{class}\""));
    }
    out
}

/// Sends the fixture's request (method, path, query, form) to `server`, with the token
/// swapped for `token` when given.
pub fn replay(server: &Server, f: &Fixture, token: Option<&str>) -> Reply {
    let encode = |obj: &serde_json::Value| -> String {
        // Recorded either as an object or as a list of [name, value] pairs.
        let pairs: Vec<(String, String)> = match obj {
            serde_json::Value::Object(map) => {
                map.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect()
            }
            serde_json::Value::Array(list) => list
                .iter()
                .map(|p| (p[0].as_str().unwrap_or_default().to_string(), p[1].as_str().unwrap_or_default().to_string()))
                .collect(),
            _ => Vec::new(),
        };
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            let v = match (k.as_str(), token) {
                ("wstoken", Some(t)) => t,
                _ => v.as_str(),
            };
            s.append_pair(k, v);
        }
        s.finish()
    };
    let path = f.meta["path"].as_str().unwrap();
    let query = encode(&f.meta["query"]);
    let url = if query.is_empty() { server.url(path) } else { server.url(&format!("{path}?{query}")) };
    match f.meta["method"].as_str().unwrap() {
        "POST" => post_form(&url, &encode(&f.meta["form"])),
        _ => get(&url),
    }
}

/// Same status, content type and body as the recording (4.5 class names).
pub fn assert_like(server: &Server, name: &str, token: Option<&str>) {
    let f = fixture(name);
    let r = replay(server, &f, token);
    assert_eq!(r.status, f.meta["status"].as_u64().unwrap() as u16, "{name}: status");
    if r.status == 200 {
        assert_eq!(r.header("content-type"), f.meta["content_type"].as_str(), "{name}: content type");
    }
    assert_eq!(r.body, as_45(&f.body), "{name}: body");
}

/// `wsconsole serve` as its own process on an ephemeral port.
pub struct Endpoint {
    pub child: Child,
    pub base: String,
    /// Everything the endpoint wrote to stderr (its log).
    pub log: Arc<std::sync::Mutex<String>>,
}

impl Endpoint {
    pub fn spawn(db: &std::path::Path) -> Endpoint {
        Endpoint::spawn_with(db, &[])
    }

    /// As [`Endpoint::spawn`], with more `serve` options.
    pub fn spawn_with(db: &std::path::Path, options: &[&str]) -> Endpoint {
        Endpoint::spawn_logging(db, options, "info")
    }

    /// As [`Endpoint::spawn_with`], logging at `rust_log`.
    pub fn spawn_logging(db: &std::path::Path, options: &[&str], rust_log: &str) -> Endpoint {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wsconsole"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(options)
            .arg("--db")
            .arg(db)
            .env("RUST_LOG", rust_log)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let log = Arc::new(std::sync::Mutex::new(String::new()));
        let base = loop {
            let line = lines.next().expect("the endpoint says where it listens").unwrap();
            log.lock().unwrap().push_str(&line);
            if let Some(rest) = line.split("address=").nth(1) {
                break format!("http://{}", rest.split_whitespace().next().unwrap());
            }
        };
        // Keep draining stderr so the child never blocks on a full pipe.
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut log = kept.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Endpoint { child, base, log }
    }

    /// Where its `/metrics` are, for an endpoint started with `--metrics-listen`.
    pub fn metrics_url(&self) -> String {
        for _ in 0..100 {
            let log = self.log.lock().unwrap().clone();
            if let Some(rest) = log.split("metrics=").nth(1) {
                return format!("http://{}/metrics", rest.split_whitespace().next().unwrap());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the endpoint does not say where its metrics are");
    }

    pub fn site_info(&self, token: &str) -> serde_json::Value {
        get(&format!("{}/webservice/rest/server.php?wstoken={token}&wsfunction=core_webservice_get_site_info&moodlewsrestformat=json", self.base)).json()
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        // SIGTERM: the endpoint stops gracefully.
        unsafe_kill_term(self.child.id());
        let _ = self.child.wait();
    }
}

/// `wsconsole --db DB ARGS…` with `stdin`, as a script runs it (no `WSCONSOLE_DB`).
pub fn cli(db: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_wsconsole"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("WSCONSOLE_DB")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

pub fn unsafe_kill_term(pid: u32) {
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
}

/// A Python with `module` importable: the system's, or a virtual environment under the target
/// directory with `requirement` installed from PyPI (made once, shared by the tests).
pub fn python_with(module: &str, requirement: &str) -> PathBuf {
    let has = |python: &std::path::Path| {
        // A missing module is the expected answer on a fresh machine, not an error to print.
        Command::new(python)
            .args(["-c", &format!("import {module}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if has(std::path::Path::new("python3")) {
        return PathBuf::from("python3");
    }
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("python-venv");
    let python = venv.join("bin/python3");
    // One installer at a time: tests of several binaries may get here together.
    let lock = std::fs::File::create(venv.with_extension("lock")).unwrap();
    lock.lock().unwrap();
    if !python.exists() {
        let ok = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().is_ok_and(|s| s.success());
        assert!(ok, "python3 -m venv failed (Debian: apt-get install python3-venv)");
    }
    if !has(&python) {
        let ok = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "pip install {requirement} failed");
    }
    python
}

/// Every sample of a `/metrics` scrape, `name{labels}` → value, and the text itself.
pub fn scrape(url: &str) -> (String, std::collections::HashMap<String, f64>) {
    let reply = get(url);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/openmetrics-text; version=1.0.0; charset=utf-8"));
    assert!(reply.body.ends_with("# EOF\n"), "{}", reply.body);
    let samples = reply
        .body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').unwrap();
            (name.to_string(), value.parse::<f64>().unwrap())
        })
        .collect();
    (reply.body, samples)
}

/// [`scrape`] once the activity writer has taken every logged call from its queue: it counts
/// the calls as it takes them, so only then do they all show. The scrape that sees the queue
/// empty may have read the call counters (written before the queue) a moment earlier, so the
/// figures come from the scrape after it.
pub fn scrape_settled(url: &str) -> (String, std::collections::HashMap<String, f64>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while scrape(url).1.get("wsconsole_activity_queue") != Some(&0.0) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    scrape(url)
}

/// How far `sample` moved between two scrapes (absent counts as 0).
pub fn moved(
    before: &std::collections::HashMap<String, f64>,
    after: &std::collections::HashMap<String, f64>,
    sample: &str,
) -> f64 {
    after.get(sample).copied().unwrap_or(0.0) - before.get(sample).copied().unwrap_or(0.0)
}

/// One part of a `multipart/form-data` body a scripted site received: a text field has no
/// file name.
pub struct FormPart {
    pub name: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// The parts of a `multipart/form-data` request, in order, as a scripted site reads them.
pub async fn form_parts(headers: &axum::http::HeaderMap, body: axum::body::Bytes) -> Vec<FormPart> {
    let boundary = multer::parse_boundary(headers[axum::http::header::CONTENT_TYPE].to_str().unwrap()).unwrap();
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    while let Some(field) = form.next_field().await.unwrap() {
        let name = field.name().unwrap().to_string();
        let file_name = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(|m| m.to_string());
        parts.push(FormPart { name, file_name, content_type, bytes: field.bytes().await.unwrap().to_vec() });
    }
    parts
}

/// A port for a scripted site, and its base URL (known before the site's router is built).
pub fn site_listener() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (listener, base)
}

/// Serves a scripted site's router on `listener`, on a thread of its own, for the test's life.
pub fn serve_site(listener: std::net::TcpListener, app: axum::Router) {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
}
