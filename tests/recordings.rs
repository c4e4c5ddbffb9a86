//! Every recording under `../shared/moodle-fixtures-4.3` is replayed by some test: this file
//! checks that none is left out, and replays the ones no protocol's own test needs (developer
//! debugging, authorised-user dates, user details). A difference from a recording is asserted
//! as the difference it is, and listed in the README's "Differences from Moodle".

mod common;

use common::*;
use wsconsole::domain::AuthorisedUser;
use wsconsole::domain::Protocol;
use wsconsole::store::Queries;

/// The recorded site's address; with the site URL setting the same, links match byte for byte.
const WWWROOT: &str = "http://127.0.0.1:8081";

#[test]
fn every_recording_is_replayed_by_a_test() {
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures_dir().join("cases.json")).unwrap()).unwrap();
    let tests_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let sources: String = std::fs::read_dir(&tests_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let names: Vec<&str> = cases.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(names.len() >= 137, "{} recordings", names.len());
    let missing: Vec<&&str> = names.iter().filter(|n| !sources.contains(&format!("\"{n}\""))).collect();
    assert!(missing.is_empty(), "recordings no test replays: {missing:?}");
}

fn authorise(server: &Server, valid_until: Option<i64>, ip: &str) {
    let (user, service) = (user_id(&server.store, "wsuser"), service_id(&server.store, "testsvc"));
    let auth = AuthorisedUser { service, user, ip_restriction: ip.into(), valid_until, created: 0 };
    server.store.write(|t| t.put_authorised(&auth)).unwrap();
}

#[test]
fn developer_debugging_answers_every_refusal_as_moodle() {
    let server = Server::start(fixture_site);
    server.ops.set_setting("debug", "developer").unwrap();
    server.ops.set_setting("siteurl", WWWROOT).unwrap();
    let (wsuser, svc) = (user_id(&server.store, "wsuser"), service_id(&server.store, "testsvc"));
    let past = wsconsole::store::now() - 3600;
    put_token(&server.store, "cb115a3bba3ec1d4ea14daac964ecc95", wsuser, svc, "", Some(past));
    put_token(&server.store, "f32973e6ae1f3fea50ee3dec8efd4944", wsuser, svc, "", Some(past));
    put_token(&server.store, "d469b6c74dbb8dc8cb9db9e1dc057450", wsuser, svc, "10.0.0.1", None);
    for name in
        ["debug_rest_token_expired_first_xml", "debug_rest_token_expired_json", "debug_rest_token_ip_restricted_json"]
    {
        assert_like(&server, name, None);
    }
    // Difference: Moodle deleted the expired token on first use, so its second call is
    // "invalidtoken"; here it is kept (and listed as expired), and refused the same way again.
    let f = fixture("debug_rest_token_expired_xml");
    assert!(f.body.contains("<ERRORCODE>invalidtoken</ERRORCODE>"));
    let r = replay(&server, &f, None);
    assert!(
        r.body.contains("<DEBUGINFO>Invalid token - token expired - check validuntil time for the token</DEBUGINFO>"),
        "{}",
        r.body
    );

    authorise(&server, None, "10.0.0.1");
    assert_like(&server, "debug_rest_authuser_ip_restricted_json", None);
    // Difference: a "valid until" in the future is allowed (Moodle's comparison is reversed).
    authorise(&server, Some(wsconsole::store::now() + 86_400), "");
    let f = fixture("debug_rest_authuser_validuntil_future_json");
    assert!(f.body.contains("accessexception"));
    assert_eq!(replay(&server, &f, None).json()["username"], "wsuser");
    authorise(&server, None, "");

    server.ops.set_service_enabled("testsvc", false).unwrap();
    assert_like(&server, "debug_rest_service_disabled_json", None);
    server.ops.set_service_enabled("testsvc", true).unwrap();
    server.ops.unauthorise_user("testsvc", "wsuser").unwrap();
    assert_like(&server, "debug_rest_user_not_authorised_json", None);
    server.ops.authorise_user("testsvc", "wsuser", "", None).unwrap();

    assert_eq!(replay(&server, &fixture("rest_create_users_json"), None).json()[0]["username"], "oracleuser1");
    assert_like(&server, "debug_rest_create_users_duplicate_json", None);
    assert_like(&server, "debug_rest_simpleserver_not_in_any_service_json", None);
    server.ops.set_auth_plugin(wsconsole::domain::AuthPlugin::Webservice, false).unwrap();
    assert_like(&server, "debug_rest_simpleserver_authplugin_disabled_json", None);

    // login/token.php with developer debugging: Moodle's debuginfo and reproduction link.
    let f = fixture("debug_tokenphp_missing_service");
    let (ours, theirs) =
        (replay(&server, &f, None).json(), serde_json::from_str::<serde_json::Value>(&f.body).unwrap());
    for same in ["error", "errorcode", "debuginfo", "reproductionlink"] {
        assert_eq!(ours[same], theirs[same], "{same}");
    }
    // Difference: no PHP stack trace to show.
    assert!(theirs["stacktrace"].is_string());
    assert_eq!(ours["stacktrace"], serde_json::Value::Null);

    server.ops.set_protocol(Protocol::Rest, false).unwrap();
    assert_like(&server, "debug_rest_protocol_disabled_json", None);
}

#[test]
fn authorised_user_and_token_dates_that_let_the_call_through() {
    let server = Server::start(fixture_site);
    let theirs_keys = |name: &str| {
        let v: serde_json::Value = serde_json::from_str(&fixture(name).body).unwrap();
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.push("policyagreed".into()); // Moodle 4.5's, not in 4.3
        keys
    };
    // No date (null) and 0 both mean "no expiry".
    for name in ["rest_authuser_validuntil_null_json", "rest_authuser_validuntil_zero_json"] {
        authorise(&server, None, "");
        let ours = replay(&server, &fixture(name), None).json();
        assert_eq!(ours.as_object().unwrap().keys().cloned().collect::<Vec<_>>(), theirs_keys(name), "{name}");
        assert_eq!(ours["username"], "wsuser");
    }
    let future = wsconsole::store::now() + 86_400;
    let (wsuser, svc) = (user_id(&server.store, "wsuser"), service_id(&server.store, "testsvc"));
    put_token(&server.store, "e985331d017df4c2177f394465565933", wsuser, svc, "", Some(future));
    let ours = replay(&server, &fixture("rest_token_future_validuntil_json"), None).json();
    assert_eq!(ours["username"], "wsuser", "{ours}");

    // login/token.php with the authorisation valid until tomorrow: Moodle hands back the
    // administrator's token $T; here an administrator's token is shown once, so the login gets
    // one of its own (README).
    authorise(&server, Some(future), "");
    let f = fixture("tokenphp_authuser_validuntil_future");
    assert!(f.body.contains(T));
    let ours = replay(&server, &f, None).json();
    let token = ours["token"].as_str().unwrap();
    assert!(wsconsole::domain::secret::is_token_format(token) && token != T);
}

#[test]
fn username_password_calls_of_a_webservice_account() {
    let server = Server::start(fixture_site);
    let r = replay(&server, &fixture("rest_simpleserver_wsonly_xml"), None);
    assert_eq!(r.header("content-type"), Some("application/xml; charset=utf-8"));
    assert!(r.body.contains("<KEY name=\"username\"><VALUE>wsonly</VALUE>\n</KEY>\n"), "{}", r.body);
    // An account with no password (Moodle stores "not cached" for accounts of a plugin that
    // keeps none) cannot call: the recorded answer.
    let old = server.store.read().unwrap().user_by_username("wsonly").unwrap().unwrap();
    let mut none = old.clone();
    none.password_hash.clear();
    server.store.write(|t| t.put_user(&none, Some(&old))).unwrap();
    assert_like(&server, "rest_simpleserver_wsonly_pw_not_cached_json", None);
}

#[test]
fn user_details_as_moodle_shows_them() {
    let server = Server::start(fixture_site);
    server.ops.set_setting("siteurl", WWWROOT).unwrap();
    // Moodle's picture URLs carry its theme revision; ours carry 1.
    let here = |body: &str| body.replace("\\/1795552596\\/", "\\/1\\/");
    let admin = user_id(&server.store, "admin");
    let mut by_id = fixture("rest_get_users_by_field_id_json");
    for pair in by_id.meta["query"].as_array_mut().unwrap() {
        if pair[0] == "values[0]" {
            pair[1] = admin.to_string().into();
        }
    }
    let recorded = here(&by_id.body).replace("\"id\":2,", &format!("\"id\":{admin},"));
    assert_eq!(replay(&server, &by_id, None).body, recorded);

    let f = fixture("rest_get_users_by_field_json");
    let ours = replay(&server, &f, None).json();
    let mut theirs: serde_json::Value = serde_json::from_str(&here(&f.body)).unwrap();
    // Difference: Moodle keeps preferences for the caller (password change time, enrolment
    // sync, failed logins, cache stamp); this endpoint has none to report.
    let prefs = theirs[1].as_object_mut().unwrap().remove("preferences").unwrap();
    assert!(!prefs.as_array().unwrap().is_empty());
    for (i, user) in theirs.as_array_mut().unwrap().iter_mut().enumerate() {
        user["id"] = ours[i]["id"].clone();
    }
    assert_eq!(ours, theirs);
    // With moodle/site:viewfullnames, first and last names are shown too.
    server.ops.set_role_capabilities("wsclient", &["moodle/site:viewfullnames".into()], true).unwrap();
    let named = replay(&server, &f, None).json();
    assert_eq!((named[0]["firstname"].as_str(), named[0]["lastname"].as_str()), (Some("Admin"), Some("User")));
}
