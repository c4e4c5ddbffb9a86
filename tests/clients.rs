//! Third-party Moodle web-service clients against a real `wsconsole serve`, and through one
//! that fronts another (issue 17).
//!
//! The other endpoint tests compare bytes with a recorded Moodle; these check that clients
//! written for Moodle by other people, installed from PyPI and npm at pinned versions, work
//! unchanged, the way their users run them: log in through `login/token.php` with a username,
//! password and service, read `core_webservice_get_site_info` and call a function with the
//! token they obtained. The site is set up only by the README's CLI commands on a fresh
//! database, with a manual user logging in with a password, as in Moodle.
//!
//! Each client is a script in `tests/clients/` that takes the site, user and service as
//! arguments and the password on stdin, and prints a JSON summary (never the token).
//! Python packages go into virtual environments and npm packages into a prefix under the
//! target directory, made once and shared by later runs.

mod common;

use common::Endpoint;
use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const USER: &str = "alice";
/// Only characters that URL encoding keeps as they are, so that [`redact`] finds it in any echo.
const PASSWORD: &str = "Alice-Client-1234";
/// A client's whole run, or one package install, may take at most this long.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);

/// Runs `cmd` with `stdin`, killing it after `timeout`; returns (success, stdout, stderr).
fn run(mut cmd: Command, stdin: &str, timeout: Duration) -> (bool, String, String) {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    // A child that exits without reading its input is judged by its status, not by the pipe.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status.success(), out.join().unwrap(), err.join().unwrap())
}

/// Output fit for a failure message: the password and anything shaped like a token (32 hex
/// digits) are masked.
fn redact(text: &str) -> String {
    let text = text.replace(PASSWORD, "<password>");
    let mut out = String::new();
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_hexdigit() {
            run.push(c);
            continue;
        }
        out.push_str(if run.len() == 32 { "<token>" } else { &run });
        run.clear();
        out.push(c);
    }
    out.pop();
    out
}

/// Makes `dir` once under the target directory with `install`, one installer at a time
/// (tests and test binaries run in parallel); `requirement` names what it holds, so a
/// version bump installs again.
fn installed(dir: &str, requirement: &str, install: impl FnOnce(&Path)) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(dir);
    let lock = std::fs::File::create(dir.with_extension("lock")).unwrap();
    lock.lock().unwrap();
    let marker = dir.join(format!(".installed-{requirement}"));
    if !marker.exists() {
        install(&dir);
        std::fs::write(&marker, "").unwrap();
    }
    dir
}

/// A Python with `requirement` (`name==version`) in a virtual environment of its own (moodlepy
/// and pymoodle both install a top-level `moodle` package, so they cannot share one).
fn python(requirement: &str) -> PathBuf {
    let name = requirement.split("==").next().unwrap();
    let venv = installed(&format!("clients-{name}-venv"), requirement, |venv| {
        let ok = Command::new("python3").args(["-m", "venv", "--clear"]).arg(venv).status().is_ok_and(|s| s.success());
        assert!(ok, "python3 -m venv failed (Debian: apt-get install python3-venv)");
        let mut pip = Command::new(venv.join("bin/python3"));
        pip.args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement]);
        let (ok, out, err) = run(pip, "", INSTALL_TIMEOUT);
        assert!(ok, "pip install {requirement} failed:\n{out}{err}");
    });
    venv.join("bin/python3")
}

/// The `node_modules` directory holding `requirement` (`name@version`).
fn node_modules(requirement: &str) -> PathBuf {
    let prefix = installed("clients-npm", requirement, |prefix| {
        let mut npm = Command::new("npm");
        npm.args(["install", "--no-audit", "--no-fund", "--prefix"]).arg(prefix).arg(requirement);
        let (ok, out, err) = run(npm, "", INSTALL_TIMEOUT);
        assert!(ok, "npm install {requirement} failed (is npm installed?):\n{out}{err}");
    });
    prefix.join("node_modules")
}

/// `wsconsole --db DB ARGS` with `stdin`; its stdout.
fn wsconsole(db: &Path, args: &[&str], stdin: &str) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wsconsole"));
    cmd.arg("--db").arg(db).args(args);
    let (ok, out, err) = run(cmd, stdin, CLIENT_TIMEOUT);
    assert!(ok, "wsconsole {args:?} failed: {}", redact(&err));
    out
}

/// A site on a fresh database, set up by the README's CLI commands, served on an ephemeral
/// port of 127.0.0.1 (stopped on drop).
struct Site {
    db: PathBuf,
    endpoint: Endpoint,
    _dir: tempfile::TempDir,
}

impl Site {
    fn cli(&self, args: &[&str], stdin: &str) -> String {
        wsconsole(&self.db, args, stdin)
    }

    /// Web services and REST on, and the manual user `USER` (password on stdin) with
    /// `webservice/rest:use`. `service` is `moodle_mobile_app` (enabled; every user may
    /// create a mobile token) or a new restricted service with the two functions, `USER`
    /// authorised and `moodle/webservice:createtoken` in the role.
    fn new(service: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ws.redb");
        wsconsole(&db, &["settings", "set", "enablewebservices", "1"], "");
        let site = Site { endpoint: Endpoint::spawn(&db), db, _dir: dir };
        site.cli(&["settings", "set", "webserviceprotocols", "rest"], "");
        site.cli(&["settings", "set", "siteurl", &site.endpoint.base], "");
        site.cli(&["user", "add", USER, "--firstname", "Alice", "--lastname", "Client"], &format!("{PASSWORD}\n"));
        if service == "moodle_mobile_app" {
            site.cli(&["role", "add", "wsclient", "--cap", "webservice/rest:use"], "");
            site.cli(&["service", "enable", service], "");
        } else {
            let caps = ["--cap", "webservice/rest:use", "--cap", "moodle/webservice:createtoken"];
            site.cli(&[&["role", "add", "wsclient"][..], &caps].concat(), "");
            site.cli(&["service", "add", service, "--name", "Client service", "--enabled", "--restricted"], "");
            let functions = ["core_webservice_get_site_info", "core_user_get_users_by_field"];
            site.cli(&[&["service", "add-function", service][..], &functions].concat(), "");
            site.cli(&["service", "authorise", service, USER], "");
        }
        site.cli(&["role", "assign", "wsclient", USER], "");
        site
    }

    /// Runs a client script (`program` and its leading arguments) against the site as `USER`
    /// on `service`, and checks what the client saw.
    fn check_client(&self, mut program: Command, service: &str) {
        program.args([&self.endpoint.base, USER, service]);
        let (ok, out, err) = run(program, &format!("{PASSWORD}\n"), CLIENT_TIMEOUT);
        assert!(ok, "the client failed:\n{}", redact(&format!("{out}{err}")));
        let seen: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {}", redact(&out)));
        let users: Value = serde_json::from_str(&self.cli(&["user", "list", "--json"], "")).unwrap();
        let id = users.as_array().unwrap().iter().find(|u| u["username"] == USER).unwrap()["id"].clone();

        assert_eq!(seen["token_is_32_hex"], true, "{seen}");
        assert_eq!(seen["username"], USER, "{seen}");
        assert_eq!(seen["userid"], id, "{seen}");
        assert_eq!(seen["siteurl"], self.endpoint.base.as_str(), "{seen}");
        let functions = seen["functions"].as_array().unwrap();
        assert!(functions.iter().any(|f| f == "core_user_get_users_by_field"), "{seen}");
        let found = seen["found"].as_array().unwrap();
        assert!(!found.is_empty() && found.iter().all(|u| u["id"] == id && u["username"] == USER), "{seen}");
        // Moodle reports the key for fetching files without the token...
        assert_eq!(seen["has_userprivateaccesskey"], true, "site info lacks userprivateaccesskey: {seen}");
        // ...and hands back the same token when the user logs in again.
        assert_eq!(seen["same_token_on_relogin"], true, "a second login gave another token: {seen}");
        // One token, whichever way the client logged in.
        let tokens = self.cli(&["token", "list", "--user", USER, "--service", service, "--json"], "");
        assert_eq!(serde_json::from_str::<Value>(&tokens).unwrap().as_array().unwrap().len(), 1, "{tokens}");
    }
}

/// Two sites set up alike: `site` plays the Moodle site, `front` fronts it (issue 17), its
/// `service` linked to the site's same service with a token of the site's `USER`, and synced.
/// A client that logs in on the front gets a front token; its calls are decided by the front
/// and answered by the site.
fn fronted(service: &str) -> (Site, Site) {
    let site = Site::new(service);
    let front = Site::new(service);
    let site_token = site.cli(&["token", "create", "--user", USER, "--service", service], "");
    front.cli(&["settings", "set", "upstreamurl", &site.endpoint.base], "");
    front.cli(&["service", "upstream", service], &site_token);
    front.cli(&["service", "sync", service], "");
    (front, site)
}

/// Calls the Moodle site answered, as its own call log counts them.
fn site_calls(site: &Site) -> u64 {
    use wsconsole::store::Queries;
    std::thread::sleep(Duration::from_millis(700));
    wsconsole::store::Store::open(&site.db).unwrap().read().unwrap().call_count().unwrap()
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients").join(name)
}

/// PyPI moodlepy: `Moodle.login` GETs login/token.php; its typed site info refuses an answer
/// missing any field it requires.
#[test]
fn moodlepy_logs_in_to_the_mobile_service() {
    let site = Site::new("moodle_mobile_app");
    let mut client = Command::new(python("moodlepy==0.24.1"));
    client.arg(script("moodlepy_client.py"));
    site.check_client(client, "moodle_mobile_app");
}

/// PyPI pymoodle: `get_token` reads the public config from lib/ajax/service.php first, then
/// POSTs login/token.php.
#[test]
fn pymoodle_logs_in_to_the_mobile_service() {
    let site = Site::new("moodle_mobile_app");
    let mut client = Command::new(python("pymoodle==0.4.1"));
    client.arg(script("pymoodle_client.py"));
    site.check_client(client, "moodle_mobile_app");
}

/// npm moodle-client: POSTs login/token.php for a custom service, calls with GET and POST.
#[test]
fn moodle_client_logs_in_to_a_custom_service() {
    let site = Site::new("clientsvc");
    let mut client = Command::new("node");
    client.arg(script("moodle_client.js")).env("NODE_PATH", node_modules("moodle-client@0.5.2"));
    site.check_client(client, "clientsvc");
}

/// npm moodle-client through the front door: it logs in on the front (a front token) and its
/// calls are answered by the site behind, with the front's address in site info.
#[test]
fn moodle_client_works_through_the_front_door() {
    let (front, site) = fronted("clientsvc");
    let before = site_calls(&site);
    let mut client = Command::new("node");
    client.arg(script("moodle_client.js")).env("NODE_PATH", node_modules("moodle-client@0.5.2"));
    front.check_client(client, "clientsvc");
    // Site info and the search, at least, were answered by the site.
    assert!(site_calls(&site) >= before + 2, "the site answered the client's calls");
}

/// PyPI moodlepy through the front door, on the built-in mobile service.
#[test]
fn moodlepy_works_through_the_front_door() {
    let (front, site) = fronted("moodle_mobile_app");
    let before = site_calls(&site);
    let mut client = Command::new(python("moodlepy==0.24.1"));
    client.arg(script("moodlepy_client.py"));
    front.check_client(client, "moodle_mobile_app");
    // Site info and the search, at least, were answered by the site.
    assert!(site_calls(&site) >= before + 2, "the site answered the client's calls");
}

/// What a scripted site's upload script was sent: (token, file name, bytes) for each file.
type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, String, Vec<u8>)>>>;

/// A Moodle site, scripted, for uploads: site info for the sync, and its upload script, which
/// keeps what it was sent (the token, each file's name and bytes) and answers Moodle's records.
fn upload_site() -> (String, Received) {
    use axum::http::{HeaderMap, header};
    use axum::response::IntoResponse;
    let received: Received = Default::default();
    let (listener, base) = common::site_listener();
    let info = format!(
        r#"{{"sitename":"Upload Site","username":"frontdoor","siteurl":"{base}","userprivateaccesskey":"k","release":"4.3","functions":[{{"name":"core_webservice_get_site_info","version":"1"}}]}}"#
    );
    let upload = |axum::extract::State(received): axum::extract::State<Received>,
                  headers: HeaderMap,
                  body: axum::body::Bytes| async move {
        let (mut token, mut records) = (String::new(), Vec::new());
        for part in common::form_parts(&headers, body).await {
            match part.file_name {
                Some(name) => {
                    records.push(format!(
                        r#"{{"filename":"{name}","filearea":"draft","itemid":4711,"filesize":{}}}"#,
                        part.bytes.len()
                    ));
                    received.lock().unwrap().push((token.clone(), name, part.bytes));
                }
                None if part.name == "token" => token = String::from_utf8(part.bytes).unwrap(),
                None => {}
            }
        }
        ([(header::CONTENT_TYPE, "application/json")], format!("[{}]", records.join(","))).into_response()
    };
    let app = axum::Router::new()
        .route("/webservice/rest/server.php", axum::routing::post(move || async move { info }))
        .route("/webservice/upload.php", axum::routing::post(upload))
        .with_state(received.clone());
    common::serve_site(listener, app);
    (base, received)
}

/// npm moodle-client's `upload` through the front door: it logs in on the front, sends its
/// file with the front token in the query; the front checks the token and the service's "can
/// upload files", and the site's upload script gets the file with the service's own token.
#[test]
fn moodle_client_uploads_through_the_front_door() {
    const SITE_TOKEN: &str = "5174e0c7a1b2c3d4e5f60718293a4b5c";
    let (site, received) = upload_site();
    let front = Site::new("clientsvc");
    front.cli(&["settings", "set", "upstreamurl", &site], "");
    front.cli(&["service", "upstream", "clientsvc"], &format!("{SITE_TOKEN}\n"));
    front.cli(&["service", "sync", "clientsvc"], "");
    let ops = wsconsole::ops::Ops::new(std::sync::Arc::new(wsconsole::store::Store::open(&front.db).unwrap()), "test");
    let edit = wsconsole::ops::ServiceEdit { upload_files: Some(true), ..Default::default() };
    ops.edit_service("clientsvc", edit).unwrap();
    let mut client = Command::new("node");
    client.arg(script("moodle_client_upload.js")).env("NODE_PATH", node_modules("moodle-client@0.5.2"));
    client.args([&front.endpoint.base, USER, "clientsvc"]);
    let (ok, out, err) = run(client, &format!("{PASSWORD}\n"), CLIENT_TIMEOUT);
    assert!(ok, "the client failed:\n{}", redact(&format!("{out}{err}")));
    let records: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {}", redact(&out)));
    let content = "wsconsole upload test\n".repeat(1000);
    assert_eq!((records[0]["filename"].as_str(), records[0]["filesize"].as_u64()), (Some("notes.txt"), Some(22_000)));
    let received = received.lock().unwrap();
    assert_eq!(received.len(), 1, "one upload reached the site");
    let (token, name, bytes) = &received[0];
    assert_eq!((token.as_str(), name.as_str()), (SITE_TOKEN, "notes.txt"), "the site got the service's token");
    assert!(bytes == content.as_bytes(), "the file arrived byte for byte");
}
