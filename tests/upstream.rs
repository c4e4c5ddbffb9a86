//! Fronting a Moodle site (issue 17), as scripts use it: the site's URL as a setting, a
//! service's site token given on stdin, sealed, and never shown, printed or audited in clear.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::Output;

const CREDENTIAL: &str = "5f4dcc3b5aa765d61d8327deb882cf99";

struct Site {
    dir: tempfile::TempDir,
    db: PathBuf,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("front.redb");
        Site { dir, db }
    }

    fn run(&self, args: &[&str], stdin: &str) -> Output {
        common::cli(&self.db, args, stdin)
    }

    fn ok(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        err
    }

    fn link(&self) -> serde_json::Value {
        let shown: serde_json::Value =
            serde_json::from_str(&self.ok(&["service", "show", "moodle_mobile_app", "--json"], "")).unwrap();
        shown["upstream"].clone()
    }

    /// Every file beside the database (the database, the key file, anything else) and every
    /// text the CLI shows about the site: none holds the credential.
    fn assert_credential_nowhere(&self, credential: &str) {
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(!bytes.windows(credential.len()).any(|w| w == credential.as_bytes()), "in a file");
        }
        for args in [
            &["service", "show", "moodle_mobile_app", "--json"][..],
            &["service", "show", "moodle_mobile_app"],
            &["service", "list", "--json"],
            &["settings", "show"],
            &["audit", "--json"],
            &["audit"],
        ] {
            assert!(!self.ok(args, "").contains(credential), "{args:?}");
        }
    }
}

#[test]
fn a_site_token_is_given_on_stdin_sealed_and_never_shown() {
    let site = Site::new();
    site.ok(&["settings", "set", "upstreamurl", "https://moodle.example.com/"], "");
    assert!(site.ok(&["settings", "show"], "").contains("https://moodle.example.com"));
    assert_eq!(site.link()["credential"], false);

    let said = site.ok(&["service", "upstream", "moodle_mobile_app"], &format!("{CREDENTIAL}\n"));
    assert!(said.contains("credential set") && !said.contains(CREDENTIAL), "{said}");
    let link = site.link();
    assert_eq!(link["credential"], true, "{link}");
    assert!(link["credentialset"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(link["sync"], serde_json::Value::Null);
    site.assert_credential_nowhere(CREDENTIAL);

    // The limit changes alone; the credential stays.
    site.ok(&["service", "upstream", "moodle_mobile_app", "--calls-per-minute", "120"], "");
    let link = site.link();
    assert_eq!((link["credential"].as_bool(), link["callsperminute"].as_u64()), (Some(true), Some(120)));
    assert!(site.ok(&["service", "show", "moodle_mobile_app"], "").contains("120 calls per minute"));

    // Bad input: a clear error, and the stored credential is untouched.
    let err = site.fails(&["service", "upstream", "moodle_mobile_app"], "not a token!\n");
    assert!(err.contains("not a Moodle token"), "{err}");
    assert!(site.fails(&["service", "upstream", "moodle_mobile_app"], "\n").contains("empty"));
    assert!(site.fails(&["service", "upstream", "nosuch"], &format!("{CREDENTIAL}\n")).contains("nosuch"));
    assert_eq!(site.link()["credential"], true);
    // Never an argument: there is no place for it.
    assert_eq!(site.run(&["service", "upstream", "moodle_mobile_app", CREDENTIAL], "").status.code(), Some(2));

    let audit = site.ok(&["audit", "--filter", "upstream"], "");
    assert!(audit.contains("set upstream credential") && audit.contains("set upstream rate"), "{audit}");

    site.ok(&["service", "upstream", "moodle_mobile_app", "--remove"], "");
    assert_eq!(site.link()["credential"], false);
    assert_eq!(site.link()["callsperminute"], 120, "the limit is the service's, kept");
    assert!(site.fails(&["service", "upstream", "moodle_mobile_app", "--remove"], "").contains("no upstream"));
    site.assert_credential_nowhere(CREDENTIAL);
}

#[test]
fn upstream_settings_are_checked() {
    let site = Site::new();
    for (name, value, says) in [
        ("upstreamurl", "moodle.example.com", "not an http"),
        ("upstreamconcurrency", "0", "at least 1"),
        ("upstreamtimeout", "0", "1 to 600"),
    ] {
        let err = site.fails(&["settings", "set", name, value], "");
        assert!(err.contains(says), "{name}: {err}");
    }
    site.ok(&["settings", "set", "upstreamtimeout", "5"], "");
    site.ok(&["settings", "set", "upstreamurl", ""], "");
    let shown = site.ok(&["settings", "show"], "");
    assert!(shown.lines().any(|l| l.contains("upstreamtimeout") && l.trim_end().ends_with('5')), "{shown}");
}

/// A second `wsconsole serve` on its own database plays the Moodle site: the recorded
/// fixtures' site, whose token `common::T` is wsuser's on testsvc (four functions).
fn moodle_site(dir: &std::path::Path) -> common::Endpoint {
    let db = dir.join("site.redb");
    let store = std::sync::Arc::new(wsconsole::store::Store::open(&db).unwrap());
    common::fixture_site(&wsconsole::ops::Ops::new(store, "site-admin"));
    common::Endpoint::spawn(&db)
}

#[test]
fn sync_asks_the_site_what_the_credential_may_call_and_records_failures() {
    let moodle = tempfile::tempdir().unwrap();
    let moodle = (moodle_site(moodle.path()), moodle);
    let front = Site::new();
    // No credential yet: said so, and nothing is asked.
    let err = front.fails(&["service", "sync", "moodle_mobile_app"], "");
    assert!(err.contains("no upstream credential"), "{err}");

    front.ok(&["service", "upstream", "moodle_mobile_app"], &format!("{}\n", common::T));
    // No site yet.
    let err = front.fails(&["service", "sync", "moodle_mobile_app"], "");
    assert!(err.contains("settings set upstreamurl"), "{err}");

    front.ok(&["settings", "set", "upstreamurl", &moodle.0.base], "");
    let said = front.ok(&["service", "sync", "moodle_mobile_app"], "");
    assert_eq!(said.trim(), "moodle_mobile_app: Oracle Site (4.5 (wsconsole 0.1)) as wsuser: 4 functions");
    let synced: serde_json::Value =
        serde_json::from_str(&front.ok(&["service", "sync", "moodle_mobile_app", "--json"], "")).unwrap();
    assert_eq!(
        synced["functions"],
        serde_json::json!([
            "core_user_create_users",
            "core_user_get_users",
            "core_user_get_users_by_field",
            "core_webservice_get_site_info"
        ])
    );
    let link = front.link();
    assert_eq!((link["sync"]["sitename"].as_str(), link["sync"]["functions"].as_u64()), (Some("Oracle Site"), Some(4)));
    assert_eq!(link["lasterror"], serde_json::Value::Null);

    // A credential the site does not know: the site's own refusal, recorded; the last good
    // sync is dropped with the credential it belonged to.
    front.ok(&["service", "upstream", "moodle_mobile_app"], "0000aaaa0000aaaa0000aaaa0000aaaa\n");
    let err = front.fails(&["service", "sync", "moodle_mobile_app"], "");
    assert!(err.contains("the site refused") && err.contains("invalidtoken"), "{err}");
    assert!(front.link()["lasterror"]["message"].as_str().unwrap().contains("invalidtoken"));

    // The site down: a clear error within the time-out, recorded.
    front.ok(&["service", "upstream", "moodle_mobile_app"], &format!("{}\n", common::T));
    drop(moodle);
    let err = front.fails(&["service", "sync", "moodle_mobile_app"], "");
    assert!(err.contains("could not be reached"), "{err}");
    let shown = front.ok(&["service", "show", "moodle_mobile_app"], "");
    assert!(shown.contains("last error") && shown.contains("could not be reached"), "{shown}");
    front.assert_credential_nowhere(common::T);
}

/// The front's own setup, by CLI: web services and REST/XML-RPC on, a web-service user with a
/// role that may use them, a custom service `front` with two functions, open to all users,
/// and a token for the user. Returns the token.
fn front_setup(front: &Site) -> String {
    front.ok(&["settings", "set", "enablewebservices", "1"], "");
    front.ok(&["settings", "set", "webserviceprotocols", "rest,xmlrpc,soap,amf"], "");
    front.ok(&["user", "add", "caller", "--auth", "webservice"], "Caller-pass-1\n");
    front.ok(
        &[
            "role",
            "add",
            "client",
            "--name",
            "Client",
            "--cap",
            "webservice/rest:use",
            "--cap",
            "webservice/xmlrpc:use",
            "--cap",
            "webservice/soap:use",
            "--cap",
            "webservice/amf:use",
        ],
        "",
    );
    front.ok(&["role", "assign", "client", "caller"], "");
    front.ok(&["service", "add", "front", "--name", "Front", "--enabled"], "");
    front
        .ok(&["service", "add-function", "front", "core_webservice_get_site_info", "core_user_get_users_by_field"], "");
    front.ok(&["token", "create", "--user", "caller", "--service", "front"], "").trim().to_string()
}

/// Requests the site's own database holds in its call log, once its activity writer (which
/// flushes every 250 ms) has written what it was given.
fn site_calls(db: &std::path::Path) -> u64 {
    use wsconsole::store::Queries;
    std::thread::sleep(std::time::Duration::from_millis(700));
    wsconsole::store::Store::open(db).unwrap().read().unwrap().call_count().unwrap()
}

#[test]
fn calls_pass_the_front_s_decision_then_the_site_answers_them() {
    let moodle_dir = tempfile::tempdir().unwrap();
    let moodle = moodle_site(moodle_dir.path());
    let site_db = moodle_dir.path().join("site.redb");
    let front = Site::new();
    let token = front_setup(&front);
    front.ok(&["settings", "set", "upstreamurl", &moodle.base], "");
    front.ok(&["service", "upstream", "front"], &format!("{}\n", common::T));
    front.ok(&["service", "sync", "front"], "");
    let endpoint = common::Endpoint::spawn(&front.db);
    let rest = |base: &str, token: &str, query: &str| {
        common::get(&format!("{base}/webservice/rest/server.php?wstoken={token}&{query}"))
    };

    // REST: the site's bytes, status and content type, as if the caller had called the site.
    let query = "wsfunction=core_user_get_users_by_field&moodlewsrestformat=json&field=username&values[0]=wsuser";
    let direct = rest(&moodle.base, common::T, query);
    let fronted = rest(&endpoint.base, &token, query);
    assert_eq!((fronted.status, fronted.body.clone()), (direct.status, direct.body.clone()));
    assert!(fronted.body.contains("\"username\":\"wsuser\""), "{}", fronted.body);
    assert_eq!(fronted.header("content-type"), direct.header("content-type"));
    let xml_query = "wsfunction=core_user_get_users_by_field&field=username&values[0]=wsuser";
    assert_eq!(rest(&endpoint.base, &token, xml_query).body, rest(&moodle.base, common::T, xml_query).body);
    // POST with the form in the body, as clients send it.
    let posted = common::post_form(
        &format!("{}/webservice/rest/server.php", endpoint.base),
        &format!("wstoken={token}&{query}"),
    );
    assert_eq!(posted.body, direct.body);

    // Site info: the site's, but only the front service's functions and the caller's own key.
    let info = endpoint.site_info(&token);
    let direct_info = moodle.site_info(common::T);
    assert_eq!(info["sitename"], "Oracle Site");
    assert_eq!(info["username"], "wsuser", "the site's account, as the site says");
    let names: Vec<&str> = info["functions"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["core_user_get_users_by_field", "core_webservice_get_site_info"]);
    assert_eq!(direct_info["functions"].as_array().unwrap().len(), 4);
    let key = info["userprivateaccesskey"].as_str().unwrap();
    assert!(key.len() == 32 && key != direct_info["userprivateaccesskey"].as_str().unwrap());

    // The front's call log: what the site did with each forwarded call.
    std::thread::sleep(std::time::Duration::from_millis(700));
    use wsconsole::store::Queries;
    let logged = wsconsole::store::Store::open(&front.db).unwrap().read().unwrap().call_entries(10).unwrap();
    let forwarded = logged.iter().find(|c| c.function == "core_user_get_users_by_field").unwrap();
    let site = forwarded.site.expect("the site's figures");
    assert_eq!(site.status, 200);
    assert!(site.bytes > 100 && site.latency_micros > 0 && site.latency_micros <= forwarded.duration_micros);

    // XML-RPC: the site's answer re-encoded.
    let xml = common::post_body(
        &format!("{}/webservice/xmlrpc/server.php?wstoken={token}", endpoint.base),
        "text/xml",
        b"<?xml version=\"1.0\"?><methodCall><methodName>core_user_get_users_by_field</methodName><params><param><value><string>username</string></value></param><param><value><array><data><value><string>wsuser</string></value></data></array></value></param></params></methodCall>",
    );
    assert!(xml.body.contains("<name>username</name><value><string>wsuser</string></value>"), "{}", xml.body);

    // Refused here: nothing reaches the site.
    let before = site_calls(&site_db);
    let not_listed = rest(
        &endpoint.base,
        &token,
        "wsfunction=core_user_get_users&moodlewsrestformat=json&criteria[0][key]=username&criteria[0][value]=wsuser",
    );
    assert_eq!(not_listed.json()["errorcode"], "accessexception", "{}", not_listed.body);
    let bad_token = rest(&endpoint.base, "0000aaaa0000aaaa0000aaaa0000aaaa", query);
    assert_eq!(bad_token.json()["errorcode"], "invalidtoken");
    // A token restricted to another address, and one past its valid-until.
    {
        let store = wsconsole::store::Store::open(&front.db).unwrap();
        let (user, service) = (common::user_id(&store, "caller"), common::service_id(&store, "front"));
        common::put_token(&store, "1111bbbb1111bbbb1111bbbb1111bbbb", user, service, "10.9.9.9", None);
        common::put_token(&store, "2222cccc2222cccc2222cccc2222cccc", user, service, "", Some(1));
    }
    for other in ["1111bbbb1111bbbb1111bbbb1111bbbb", "2222cccc2222cccc2222cccc2222cccc"] {
        let refused = rest(&endpoint.base, other, query);
        assert_eq!(refused.json()["errorcode"], "accessexception", "{}", refused.body);
    }
    // A connected service lists only what the site offers it.
    let err = front.fails(&["service", "add-function", "front", "core_user_update_users"], "");
    assert!(err.contains("the Moodle site does not offer core_user_update_users"), "{err}");
    front.ok(&["token", "revoke", "--user", "caller"], "");
    let revoked = rest(&endpoint.base, &token, query);
    assert_eq!(revoked.json()["errorcode"], "invalidtoken", "revoked in the console, refused on the next call");
    assert_eq!(site_calls(&site_db), before, "the site saw none of the refused calls");

    // The site down: a Moodle-shaped error naming the failure, at once.
    let token = front.ok(&["token", "create", "--user", "caller", "--service", "front"], "").trim().to_string();
    drop(moodle);
    let down = rest(&endpoint.base, &token, query);
    assert_eq!(down.json()["errorcode"], "upstreamerror", "{}", down.body);
    assert!(down.json()["message"].as_str().unwrap().contains("could not be reached"), "{}", down.body);
    assert!(endpoint.site_info(&token)["errorcode"] == "upstreamerror");
}

/// How a scripted Moodle site misbehaves.
#[derive(Clone, Copy)]
enum Fault {
    /// Answers after 10 s.
    Slow,
    Status500,
    /// Closes the connection without a word.
    Reset,
    /// HTTP 200, "JSON", but an HTML page.
    Garbage,
    /// HTTP 200 with 100 MB of JSON-looking bytes, written as fast as they are read.
    Huge,
}

/// A site that misbehaves as `fault` says on every request; its base URL.
fn faulty_site(fault: Fault) -> String {
    use std::io::{BufRead, BufReader, Read};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let _ = reader.take(length).read_to_end(&mut Vec::new());
                let mut out = stream;
                let head = |status: &str, length: usize| {
                    format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
                    )
                };
                let _ = match fault {
                    Fault::Slow => {
                        std::thread::sleep(std::time::Duration::from_secs(10));
                        out.write_all(format!("{}[]", head("200 OK", 2)).as_bytes())
                    }
                    Fault::Status500 => {
                        out.write_all(format!("{}oops!", head("500 Internal Server Error", 5)).as_bytes())
                    }
                    Fault::Reset => Ok(()),
                    Fault::Garbage => out.write_all(format!("{}<html>", head("200 OK", 6)).as_bytes()),
                    Fault::Huge => {
                        let size = 100 << 20;
                        let chunk = vec![b' '; 64 << 10];
                        let mut r = out.write_all(head("200 OK", size).as_bytes());
                        for _ in 0..size / chunk.len() {
                            r = r.and_then(|_| out.write_all(&chunk));
                        }
                        r
                    }
                };
            });
        }
    });
    base
}

/// Peak resident memory of a process, in MiB (`VmHWM`).
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 =
        status.lines().find(|l| l.starts_with("VmHWM:")).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024.0
}

#[test]
fn a_failing_site_gets_the_caller_a_moodle_error_in_time_and_the_front_stays_healthy() {
    let front = Site::new();
    let token = front_setup(&front);
    // A service answered here, for the callers a failing site must not harm.
    front.ok(&["service", "add", "local", "--name", "Local", "--enabled"], "");
    front.ok(&["service", "add-function", "local", "core_webservice_get_site_info"], "");
    let local = front.ok(&["token", "create", "--user", "caller", "--service", "local"], "").trim().to_string();
    front.ok(&["service", "upstream", "front"], &format!("{}\n", common::T));
    front.ok(&["settings", "set", "upstreamtimeout", "2"], "");
    let endpoint = common::Endpoint::spawn_with(&front.db, &["--metrics-listen", "127.0.0.1:0"]);
    let metrics = endpoint.metrics_url();
    let (_, before) = common::scrape_settled(&metrics);
    let call = |token: &str| {
        let started = std::time::Instant::now();
        let reply = common::get(&format!(
            "{}/webservice/rest/server.php?wstoken={token}&wsfunction=core_user_get_users_by_field&moodlewsrestformat=json&field=id&values[0]=1",
            endpoint.base
        ));
        (reply, started.elapsed())
    };
    for (fault, says) in [
        (Fault::Slow, "did not answer within 2 s"),
        (Fault::Status500, "answered HTTP 500"),
        (Fault::Reset, "could not be reached"),
        (Fault::Garbage, "not a Moodle answer"),
        (Fault::Huge, "larger than 16 MiB"),
    ] {
        front.ok(&["settings", "set", "upstreamurl", &faulty_site(fault)], "");
        let (reply, took) = call(&token);
        let answer = reply.json();
        assert_eq!(answer["errorcode"], "upstreamerror", "{}", reply.body);
        assert!(answer["message"].as_str().unwrap().contains(says), "{says}: {}", reply.body);
        assert!(took < std::time::Duration::from_secs(4), "{says}: took {took:?}");
    }
    // The metrics count what the site did: five requests, one answered 500, one with garbage
    // (200), and three with no whole answer (status "none": too slow, reset, beyond the size
    // bound); every one an upstreamerror to the caller.
    let (text, after) = common::scrape_settled(&metrics);
    let site = |status: &str| {
        common::moved(&before, &after, &format!(r#"wsconsole_site_requests_total{{status="{status}"}}"#))
    };
    assert_eq!(["none", "2xx", "4xx", "5xx"].map(site).iter().sum::<f64>(), 5.0, "{text}");
    assert_eq!(site("5xx"), 1.0, "{text}");
    assert_eq!(site("2xx"), 1.0, "{text}");
    assert_eq!(site("none"), 3.0, "{text}");
    assert_eq!(common::moved(&before, &after, "wsconsole_site_seconds_count"), 5.0, "{text}");
    let failed =
        r#"wsconsole_calls_total{protocol="rest",function="core_user_get_users_by_field",outcome="upstreamerror"}"#;
    assert_eq!(common::moved(&before, &after, failed), 5.0, "{text}");
    let peak = peak_rss_mib(endpoint.child.id());
    eprintln!("front's peak RSS after a 100 MB answer: {peak:.1} MiB");
    assert!(peak < 100.0, "the front read the 100 MB answer into memory: {peak:.1} MiB");

    // Two calls in flight at most, the last of them kept for another caller: a caller's
    // second call is told at once and another caller gets the other place; beyond both,
    // everyone is told at once, with Retry-After; a caller of a service answered here is
    // served meanwhile.
    // A caller is an account: another token of the same account counts as the same caller.
    let [other, third] = ["second", "third"].map(|name| {
        front.ok(&["user", "add", name, "--auth", "webservice"], "Caller-pass-1\n");
        front.ok(&["role", "assign", "client", name], "");
        front.ok(&["token", "create", "--user", name, "--service", "front"], "").trim().to_string()
    });
    let same_account = front.ok(&["token", "create", "--user", "caller", "--service", "front"], "").trim().to_string();
    front.ok(&["settings", "set", "upstreamconcurrency", "2"], "");
    // Time enough that the first two calls are surely still in flight when the others come.
    front.ok(&["settings", "set", "upstreamtimeout", "5"], "");
    front.ok(&["settings", "set", "upstreamurl", &faulty_site(Fault::Slow)], "");
    let told_at_once = |(reply, took): (common::Reply, std::time::Duration), says: &str| {
        let answer = reply.json();
        assert_eq!(answer["errorcode"], "upstreambusy", "{}", reply.body);
        assert!(answer["message"].as_str().unwrap().contains(says), "{says}: {}", reply.body);
        assert_eq!(reply.header("retry-after"), Some("1"));
        assert!(took < std::time::Duration::from_secs(1), "told at once, not queued: {took:?}");
    };
    std::thread::scope(|s| {
        let first = s.spawn(|| call(&token));
        std::thread::sleep(std::time::Duration::from_millis(500));
        told_at_once(
            call(&token),
            "keeps the last of its places for calls in flight for callers holding fewer places than this one",
        );
        told_at_once(call(&same_account), "for callers holding fewer places than this one");
        let second = s.spawn(|| call(&other));
        std::thread::sleep(std::time::Duration::from_millis(500));
        told_at_once(call(&third), "already has 2 calls in flight");
        let started = std::time::Instant::now();
        assert_eq!(endpoint.site_info(&local)["username"], "caller");
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "the local service is unharmed");
        for t in [first, second] {
            assert_eq!(t.join().unwrap().0.json()["errorcode"], "upstreamerror", "both places went to the site");
        }
    });

    // Calls a minute per service: beyond them, told at once with the wait.
    front.ok(&["settings", "set", "upstreamurl", &faulty_site(Fault::Status500)], "");
    front.ok(&["service", "upstream", "front", "--calls-per-minute", "2"], "");
    for _ in 0..2 {
        assert_eq!(call(&token).0.json()["errorcode"], "upstreamerror");
    }
    let (limited, _) = call(&token);
    assert_eq!(limited.json()["errorcode"], "upstreamratelimit", "{}", limited.body);
    let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // AMF: the one HTTP answer of the packet carries the wait too.
    let mut packet = vec![0, 0, 0, 0, 0, 1];
    let function = "core_user_get_users_by_field";
    packet.extend((function.len() as u16).to_be_bytes());
    packet.extend(function.as_bytes());
    packet.extend([0, 2, b'/', b'1', 0, 0, 0, 0, 0x0a, 0, 0, 0, 0]);
    let mut amf = common::agent()
        .post(format!("{}/webservice/amf/server.php?wstoken={token}", endpoint.base))
        .content_type("application/x-amf")
        .send(&packet[..])
        .unwrap();
    let wait = amf.headers().get("retry-after").map(|w| w.to_str().unwrap().parse::<u64>().unwrap());
    let body = amf.body_mut().read_to_vec().unwrap();
    assert!(body.windows(17).any(|w| w == b"upstreamratelimit"), "{}", String::from_utf8_lossy(&body));
    assert!(wait.is_some_and(|w| (1..=60).contains(&w)), "{wait:?}");
}

/// A Moodle site over TLS whose certificate a private CA signed, speaking HTTP/2 and HTTP/1.1
/// (offered by ALPN, h2 first): answers site info to any token. Returns its base URL
/// (`https://localhost:PORT`), the CA's PEM, and the HTTP versions of the requests it answered.
fn tls_site() -> (String, String, std::sync::Arc<std::sync::Mutex<Vec<hyper::Version>>>) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let site_key = KeyPair::generate().unwrap();
    let site_cert =
        CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&site_key, &ca_cert, &ca_key).unwrap();
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![site_cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(site_key.serialize_der().into()),
        )
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let versions = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = versions.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let (acceptor, seen) = (acceptor.clone(), seen.clone());
                tokio::spawn(async move {
                    // A client that does not trust the CA ends the handshake: nothing to serve.
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let answer = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        seen.lock().unwrap().push(req.version());
                        async {
                            let info = r#"{"sitename":"TLS Moodle","username":"svc","release":"4.3","functions":[{"name":"core_webservice_get_site_info","version":"1"}]}"#;
                            let mut response = hyper::Response::new(info.to_string());
                            response.headers_mut().insert("content-type", "application/json".parse().unwrap());
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                    let builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
                    let _ = builder.serve_connection(hyper_util::rt::TokioIo::new(tls), answer).await;
                });
            }
        });
    });
    (format!("https://localhost:{port}"), ca_cert.pem(), versions)
}

#[test]
fn a_site_with_a_private_ca_is_trusted_only_through_upstreamca() {
    let (url, ca_pem, versions) = tls_site();
    let front = Site::new();
    front.ok(&["settings", "set", "upstreamurl", &url], "");
    front.ok(&["service", "upstream", "moodle_mobile_app"], &format!("{CREDENTIAL}\n"));
    let err = front.fails(&["service", "sync", "moodle_mobile_app"], "");
    assert!(err.contains("could not be reached") && err.to_lowercase().contains("certificate"), "{err}");

    let ca = front.dir.path().join("private-ca.pem");
    std::fs::write(&ca, &ca_pem).unwrap();
    front.ok(&["settings", "set", "upstreamca", ca.to_str().unwrap()], "");
    let said = front.ok(&["service", "sync", "moodle_mobile_app"], "");
    assert_eq!(said.trim(), "moodle_mobile_app: TLS Moodle (4.3) as svc: 1 function");
    assert_eq!(*versions.lock().unwrap(), [hyper::Version::HTTP_2], "HTTP/2, negotiated by ALPN");

    // A CA file that holds no certificate: said so, not silently the system's roots alone.
    std::fs::write(&ca, "not a certificate\n").unwrap();
    let err = front.fails(&["service", "sync", "moodle_mobile_app"], "");
    assert!(err.contains("trusted CA file") && err.contains("no PEM certificate"), "{err}");
}
