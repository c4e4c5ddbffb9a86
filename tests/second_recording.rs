//! The second recording (`t2_*` in `../shared/moodle-fixtures-4.3`): a Moodle 4.3 with `auth`
//! at its install default, where manual accounts log in through login/token.php, site info
//! carries a per-user `userprivateaccesskey`, the app's pre-login AJAX scripts answer, and a
//! function Moodle has outside the service is told from a name no Moodle has. Replayed over
//! real HTTP; each difference from the recording is asserted as such and listed in the README.

mod common;

use common::*;
use std::process::{Command, Stdio};
use wsconsole::domain::{AuthMethod, Protocol};
use wsconsole::ops::{NewUser, Ops};

/// The recorded site's address: the site URL setting says the same, so links match.
const WWWROOT: &str = "http://127.0.0.1:8081";

/// The second recording's site, with no `auth` setting at all: web services and REST on, the
/// mobile service enabled, `webservice/rest:use` for every user (`enablemobilewebservice`),
/// wsuser and other (manual), the restricted testsvc with wsuser authorised, and wsuser holding
/// a role with `moodle/webservice:createtoken`.
fn t2_site(ops: &Ops) {
    ops.set_web_services(true).unwrap();
    ops.set_protocol(Protocol::Rest, true).unwrap();
    ops.set_setting("sitename", "Oracle Site").unwrap();
    ops.set_setting("siteurl", WWWROOT).unwrap();
    ops.set_service_enabled("moodle_mobile_app", true).unwrap();
    ops.set_role_capabilities("user", &["webservice/rest:use".into()], true).unwrap();
    for (name, pw, first, last) in [
        ("admin", "Admin-1234!", "Admin", "User"),
        ("wsuser", "Wsuser-1234!", "Web", "Service"),
        ("other", "Other-1234!", "Other", "User"),
    ] {
        ops.create_user(NewUser {
            username: name.into(),
            auth: AuthMethod::Manual,
            password: Some(pw.into()),
            firstname: first.into(),
            lastname: last.into(),
            email: format!("{name}@example.com"),
        })
        .unwrap();
    }
    test_service(ops, &["core_webservice_get_site_info", "core_user_get_users_by_field"]);
    ops.create_role("wsclient", "WS client", &["moodle/webservice:createtoken".into()]).unwrap();
    ops.set_role_assignment("wsclient", "wsuser", true).unwrap();
}

/// The recorded answer with the recorded token in it swapped for the one we issued.
fn token_answer(server: &Server, name: &str) -> String {
    let f = fixture(name);
    let r = replay(server, &f, None);
    assert_eq!(r.status, 200, "{name}");
    assert_eq!(r.header("content-type"), f.meta["content_type"].as_str(), "{name}");
    let ours = r.json()["token"].as_str().unwrap_or_else(|| panic!("{name}: {}", r.body)).to_string();
    let theirs: serde_json::Value = serde_json::from_str(&f.body).unwrap();
    assert_eq!(r.body, f.body.replace(theirs["token"].as_str().unwrap(), &ours), "{name}");
    ours
}

/// The three logins the recording starts with: tokens for (wsuser, mobile), (wsuser,
/// testsvc) and (other, mobile).
fn logins(server: &Server) -> [String; 3] {
    [
        token_answer(server, "t2_tokenphp_manual_auth_default"),
        token_answer(server, "t2_tokenphp_manual_auth_default_testsvc"),
        token_answer(server, "t2_tokenphp_other_mobile"),
    ]
}

fn keys(v: &serde_json::Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn manual_accounts_log_in_with_auth_at_its_default() {
    let server = Server::start(t2_site);
    let settings = server.store.read().unwrap();
    assert!(wsconsole::store::Queries::settings(&settings).unwrap().auth_plugins.is_empty(), "no auth setting");
    drop(settings);
    let [mobile, testsvc, other] = logins(&server);
    assert!(mobile != testsvc && mobile != other);
    // Logging in again hands back the same tokens, as Moodle does.
    assert_eq!(logins(&server), [mobile, testsvc, other]);
}

#[test]
fn site_info_has_a_stable_private_access_key_per_user() {
    let server = Server::start(t2_site);
    let [mobile, _, other] = logins(&server);
    let first = replay(&server, &fixture("t2_site_info_wsuser_1"), Some(&mobile)).json();
    let second = replay(&server, &fixture("t2_site_info_wsuser_2"), Some(&mobile)).json();
    let others = replay(&server, &fixture("t2_site_info_other"), Some(&other)).json();
    let key = |v: &serde_json::Value| v["userprivateaccesskey"].as_str().unwrap().to_string();
    assert!(wsconsole::domain::secret::is_token_format(&key(&first)), "{first}");
    assert_eq!(key(&first), key(&second), "the same on every call");
    assert_ne!(key(&first), key(&others), "different between users");
    for token in [&mobile, &other] {
        assert!(key(&first) != *token && key(&others) != *token, "never a token");
    }
    for (name, ours) in [("t2_site_info_wsuser_1", &first), ("t2_site_info_other", &others)] {
        let theirs: serde_json::Value = serde_json::from_str(&fixture(name).body).unwrap();
        // Moodle 4.5 adds policyagreed at the end, which 4.3 lacks.
        let mut expected = keys(&theirs);
        expected.push("policyagreed".into());
        assert_eq!(keys(ours), expected, "{name}");
        for same in ["sitename", "username", "firstname", "lastname", "fullname", "lang", "siteurl", "downloadfiles"] {
            assert_eq!(ours[same], theirs[same], "{name}: {same}");
        }
        // Difference: Moodle's mobile service lists 415 functions; ours lists the ones this
        // endpoint implements (README, "What the Moodle app gets").
        assert_eq!(theirs["functions"].as_array().unwrap().len(), 415);
        let names: Vec<&str> =
            ours["functions"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
        // Listed by name; Moodle lists them in its install order (README).
        assert_eq!(names, ["core_user_get_users_by_field", "core_webservice_get_site_info"], "{name}");
    }
    // Another endpoint process on the same database gives the same key: it is the key file's.
    let again = Endpoint::spawn(&server.db());
    assert_eq!(key(&again.site_info(&mobile)), key(&first));
}

#[test]
fn a_function_moodle_has_is_told_from_one_no_moodle_has() {
    let server = Server::start(t2_site);
    let [mobile, testsvc, _] = logins(&server);
    for name in ["t2_rest_moodle_fn_not_in_service_json", "t2_rest_no_such_fn_json"] {
        let f = fixture(name);
        let r = replay(&server, &f, Some(&testsvc));
        assert_eq!(r.body, f.body, "{name}");
        assert_eq!(r.header("content-type"), f.meta["content_type"].as_str(), "{name}");
    }
    // Difference: Moodle's mobile service has these functions; this endpoint does not
    // implement them, so it answers as Moodle does for a function outside the service.
    for name in ["t2_rest_course_get_courses_mobile", "t2_rest_enrol_users_courses_mobile"] {
        let r = replay(&server, &fixture(name), Some(&mobile));
        assert_eq!(r.body, fixture("t2_rest_moodle_fn_not_in_service_json").body, "{name}");
        assert!(fixture(name).body.starts_with('['), "{name}: Moodle answered with data");
    }
}

#[test]
fn users_by_field_for_the_caller_itself() {
    let server = Server::start(t2_site);
    let [mobile, ..] = logins(&server);
    let f = fixture("t2_rest_get_users_by_field_self_mobile");
    let ours = replay(&server, &f, Some(&mobile)).json();
    let theirs: serde_json::Value = serde_json::from_str(&f.body).unwrap();
    let (ours, theirs) = (&ours[0], &theirs[0]);
    for same in ["username", "fullname", "auth", "suspended", "confirmed", "lang", "theme", "timezone", "mailformat"] {
        assert_eq!(ours[same], theirs[same], "{same}");
    }
    // Difference: Moodle keeps preferences (password change time, enrolment sync, cache
    // stamp); this endpoint has none of them to report.
    assert!(theirs["preferences"].as_array().is_some_and(|p| !p.is_empty()));
    assert_eq!(ours.get("preferences"), None, "{ours}");
}

/// A JSON POST body, as the app sends its AJAX calls.
fn post_recorded_json(server: &Server, f: &Fixture) -> Reply {
    let path = f.meta["path"].as_str().unwrap();
    post_body(&server.url(path), "application/json", f.meta["raw_body"].as_str().unwrap().as_bytes())
}

/// Headers of the recording that Moodle sets (not nginx's), each as sent.
fn assert_moodle_headers(f: &Fixture, r: &Reply) {
    let nginx = ["server", "date", "transfer-encoding", "connection", "set-cookie"];
    let recorded: Vec<(String, String)> = f.meta["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().to_ascii_lowercase(), p[1].as_str().unwrap().to_string()))
        .filter(|(k, _)| !nginx.contains(&k.as_str()))
        .collect();
    let mut ours: Vec<(String, String)> = r
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .filter(|(k, _)| !["content-length", "date"].contains(&k.as_str()))
        .collect();
    // Last-Modified is the time of the answer: present on both, compared as a date.
    let name = f.meta["name"].as_str().unwrap();
    for (k, v) in &mut ours {
        if k == "last-modified" {
            assert!(v.ends_with(" GMT") && v.len() == 29, "{name}: {v}");
            *v = recorded.iter().find(|(k, _)| k == "last-modified").map(|(_, v)| v.clone()).unwrap_or_default();
        }
    }
    assert_eq!(ours, recorded, "{name}");
}

#[test]
fn the_apps_pre_login_calls_are_answered_as_moodle_answers_them() {
    let server = Server::start(t2_site);
    for name in ["t2_nologin_not_allowed", "t2_nologin_bad_args", "t2_nologin_unknown_method"] {
        let f = fixture(name);
        let r = replay(&server, &f, None);
        assert_eq!(r.status, 200, "{name}");
        assert_moodle_headers(&f, &r);
        // Moodle 4.5's documentation link (405) where 4.3 recorded 403.
        assert_eq!(r.body, f.body.replace("docs.moodle.org\\/403\\/", "docs.moodle.org\\/405\\/"), "{name}");
    }
    let f = fixture("t2_ajax_service_unknown");
    let r = post_recorded_json(&server, &f);
    assert_eq!(r.body, f.body);
    assert_moodle_headers(&f, &r);
    // Difference: Moodle's service.php starts a session (Set-Cookie: MoodleSession); this
    // endpoint has none.
    assert!(f.meta["headers"].to_string().contains("MoodleSession") && r.header("set-cookie").is_none());

    let f = fixture("t2_ajax_missing_file");
    let r = replay(&server, &f, None);
    assert_eq!((r.status, r.body.as_str()), (404, f.body.as_str()));
    assert_moodle_headers(&f, &r);
    let other = get(&server.url("/lib/ajax/getnavbranch.php"));
    assert_eq!((other.status, other.body.as_str()), (404, "File not found.\n"));
}

#[test]
fn public_config_by_get_and_by_post() {
    let server = Server::start(t2_site);
    let get_f = fixture("t2_nologin_get_public_config");
    let post_f = fixture("t2_nologin_post_public_config");
    let by_get = replay(&server, &get_f, None);
    let by_post = post_recorded_json(&server, &post_f);
    assert_eq!(by_get.body, by_post.body, "the same answer either way");
    assert_eq!(get_f.body, post_f.body);
    assert_moodle_headers(&get_f, &by_get);
    assert_moodle_headers(&post_f, &by_post);
    let ours: serde_json::Value = by_get.json();
    let theirs: serde_json::Value = serde_json::from_str(&get_f.body).unwrap();
    assert_eq!(ours[0]["error"], false);
    let (ours, theirs) = (&ours[0]["data"], &theirs[0]["data"]);
    assert_eq!(keys(ours), keys(theirs), "the same keys in the same order");
    // Values that differ, each for a reason (README, "Differences from Moodle"): no guest
    // access, no QR login, and the locale left to the app.
    let differ = ["guestlogin", "tool_mobile_qrcodetype"];
    for k in keys(theirs) {
        if differ.contains(&k.as_str()) {
            assert_ne!(ours[&k], theirs[&k], "{k}");
        } else {
            assert_eq!(ours[&k], theirs[&k], "{k}");
        }
    }
    assert_eq!((ours["guestlogin"].as_i64(), ours["tool_mobile_qrcodetype"].as_i64()), (Some(0), Some(0)));
}

#[test]
fn the_readme_flow_then_a_manual_login_from_a_fresh_database() {
    // The README's commands alone, on a new database with no `auth` setting anywhere.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ws.redb");
    let cli = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wsconsole"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    cli(&["settings", "set", "enablewebservices", "1"], "");
    cli(&["settings", "set", "webserviceprotocols", "rest"], "");
    cli(&["user", "add", "alice", "--firstname", "Alice", "--lastname", "Smith"], "Alice-pass-1\n");
    cli(&["role", "add", "wsclient", "--cap", "webservice/rest:use", "--cap", "moodle/webservice:createtoken"], "");
    cli(&["role", "assign", "wsclient", "alice"], "");
    cli(&["service", "add", "sync", "--name", "Sync service", "--enabled", "--restricted"], "");
    cli(&["service", "add-function", "sync", "core_webservice_get_site_info"], "");
    cli(&["service", "authorise", "sync", "alice"], "");
    assert!(cli(&["settings", "show"], "").contains("auth =   (manual and nologin: always enabled)"));
    let endpoint = Endpoint::spawn(&db);
    let login = |password: &str| {
        post_form(
            &format!("{}/login/token.php", endpoint.base),
            &format!("username=alice&password={password}&service=sync"),
        )
        .json()
    };
    assert_eq!(login("wrong")["errorcode"], "invalidlogin");
    let token = login("Alice-pass-1");
    let token = token["token"].as_str().unwrap_or_else(|| panic!("{token}"));
    let info = endpoint.site_info(token);
    assert_eq!(info["username"], "alice", "{info}");
    assert!(wsconsole::domain::secret::is_token_format(info["userprivateaccesskey"].as_str().unwrap()));
    let key_file = dir.path().join("ws.redb.key");
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key_file).unwrap().permissions()) & 0o777,
        0o600
    );
}
