//! The REST endpoint and login/token.php over real HTTP, answer by answer against the
//! responses a real Moodle 4.3 recorded (`../shared/moodle-fixtures-4.3`), with 4.5's exception
//! class names and our deliberate differences.

mod common;

use common::*;
use wsconsole::domain::{AuthPlugin, Protocol};
use wsconsole::ops::ServiceEdit;
use wsconsole::store::Queries;

#[test]
fn rest_errors_match_moodle_byte_for_byte() {
    let server = Server::start(fixture_site);
    for name in [
        "rest_bad_token_json",
        "rest_bad_token_xml",
        "rest_bad_token_chars_json",
        "rest_missing_wstoken_json",
        "rest_missing_wstoken_xml",
        "rest_no_params_json",
        "rest_no_params_xml",
        "rest_missing_wsfunction_json",
        "rest_missing_wsfunction_xml",
        "rest_unknown_function_json",
        "rest_unknown_function_xml",
        "rest_create_users_missing_field_json",
        "rest_create_users_missing_field_xml",
        "rest_create_users_bad_type_json",
        "rest_create_users_unexpected_key_json",
        "rest_create_users_no_users_json",
    ] {
        assert_like(&server, name, None);
    }
}

#[test]
fn access_denials_match_moodle() {
    let server = Server::start(fixture_site);
    // core_course_get_courses: a Moodle function this endpoint does not implement, answered
    // as Moodle answers a function outside the caller's service.
    assert_like(&server, "rest_function_not_in_service_json", None);
    assert_like(&server, "rest_function_not_in_service_xml", None);
    // A catalogued function outside the service gets the same answer.
    let mut f = fixture("rest_function_not_in_service_json");
    f.meta["query"]["wsfunction"] = "core_user_delete_users".into();
    assert_eq!(replay(&server, &f, None).body, f.body);

    let (wsuser, svc) = (user_id(&server.store, "wsuser"), service_id(&server.store, "testsvc"));
    put_token(&server.store, "0ed1e16203b36c4c41d3cb5b558a0bf3", wsuser, svc, "10.0.0.1", None);
    assert_like(&server, "rest_token_ip_restricted_json", None);
    assert_like(&server, "rest_token_ip_restricted_xml", None);
    put_token(&server.store, "880e92cf6d35c9cbf66e4fc8adb39961", wsuser, svc, "127.0.0.0/8", None);
    let ok = replay(&server, &fixture("rest_token_ip_allowed_json"), None);
    assert_eq!(ok.json()["username"], "wsuser");

    let past = wsconsole::store::now() - 3600;
    put_token(&server.store, "e98ab9fe0122a6c34e531f2cb68e8bd5", wsuser, svc, "", Some(past));
    put_token(&server.store, "7b419a12d68761d259eb5578e6d09da3", wsuser, svc, "", Some(past));
    assert_like(&server, "rest_token_expired_json", None);
    assert_like(&server, "rest_token_expired_xml", None);
    // Deliberate difference: the expired token is kept (and listed as expired), so the second
    // call is refused the same way rather than with invalidtoken.
    let again = replay(&server, &fixture("rest_token_expired_second_call_json"), None);
    assert_eq!(again.json()["errorcode"], "accessexception");

    server.ops.set_suspended("wsuser", true).unwrap();
    assert_like(&server, "rest_suspended_user_json", None);
    assert_like(&server, "rest_suspended_user_xml", None);
    server.ops.set_suspended("wsuser", false).unwrap();

    server.ops.authorise_user("testsvc", "wsuser", "10.0.0.1", None).unwrap();
    assert_like(&server, "rest_authuser_ip_restricted_json", None);
    server.ops.authorise_user("testsvc", "wsuser", "", None).unwrap();

    server.ops.set_service_enabled("testsvc", false).unwrap();
    assert_like(&server, "rest_service_disabled_json", None);
    server.ops.set_service_enabled("testsvc", true).unwrap();

    server.ops.unauthorise_user("testsvc", "wsuser").unwrap();
    assert_like(&server, "rest_user_not_authorised_json", None);
    assert_like(&server, "rest_user_not_authorised_xml", None);
}

#[test]
fn authorised_user_valid_until_is_not_inverted() {
    let server = Server::start(fixture_site);
    let future = wsconsole::store::now() + 86_400;
    server.ops.authorise_user("testsvc", "wsuser", "", Some(future)).unwrap();
    // Moodle refuses this (rest_authuser_validuntil_future_json); we allow it.
    let r = replay(&server, &fixture("rest_authuser_validuntil_future_json"), None);
    assert_eq!(r.json()["username"], "wsuser", "{}", r.body);
    // A past date: Moodle accepts (rest_authuser_validuntil_past_json); we refuse.
    let wsuser = user_id(&server.store, "wsuser");
    let svc = service_id(&server.store, "testsvc");
    server
        .store
        .write(|t| {
            t.put_authorised(&wsconsole::domain::AuthorisedUser {
                service: svc,
                user: wsuser,
                ip_restriction: String::new(),
                valid_until: Some(wsconsole::store::now() - 86_400),
                created: 0,
            })
        })
        .unwrap();
    let r = replay(&server, &fixture("rest_authuser_validuntil_past_json"), None);
    assert_eq!(r.json()["errorcode"], "accessexception");
}

#[test]
fn switched_off_answers_403_empty_or_200_empty() {
    let server = Server::start(fixture_site);
    server.ops.set_protocol(Protocol::Rest, false).unwrap();
    assert_like(&server, "rest_protocol_disabled_json", None);
    let simple = replay(&server, &fixture("rest_simpleserver_protocol_disabled"), None);
    assert_eq!((simple.status, simple.body.as_str()), (200, ""));
    server.ops.set_protocol(Protocol::Rest, true).unwrap();
    server.ops.set_web_services(false).unwrap();
    assert_like(&server, "rest_webservices_disabled_json", None);
}

#[test]
fn successes_have_moodles_shape_and_headers() {
    let server = Server::start(fixture_site);
    for name in ["rest_site_info_json", "rest_site_info_json_post", "rest_site_info_json_mixed"] {
        let f = fixture(name);
        let r = replay(&server, &f, None);
        let (ours, theirs) = (r.json(), serde_json::from_str::<serde_json::Value>(&f.body).unwrap());
        let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        // Same keys in the same order; Moodle 4.5 adds policyagreed at the end (4.4+), which
        // 4.3's recording lacks.
        let mut theirs_keys = keys(&theirs);
        theirs_keys.push("policyagreed".into());
        assert_eq!(keys(&ours), theirs_keys, "{name}");
        let access_key = ours["userprivateaccesskey"].as_str().unwrap();
        assert!(wsconsole::domain::secret::is_token_format(access_key), "{access_key}");
        assert_ne!(access_key, T, "never the token");
        assert_eq!(ours["sitename"], "Oracle Site");
        assert_eq!(ours["username"], "wsuser");
        let functions: Vec<&str> =
            ours["functions"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
        assert_eq!(functions.len(), 4);
        assert!(functions.contains(&"core_user_create_users"));
        // PHP's json_encode escapes slashes.
        assert!(r.body.contains(r#""siteurl":"http:\/\/127.0.0.1:8080""#), "{}", r.body);
        for (h, v) in
            f.meta["headers"].as_array().unwrap().iter().map(|p| (p[0].as_str().unwrap(), p[1].as_str().unwrap()))
        {
            if ["Content-Type", "Cache-Control", "Expires", "Pragma", "Accept-Ranges", "Access-Control-Allow-Origin"]
                .contains(&h)
            {
                assert_eq!(r.header(h), Some(v), "{name}: {h}");
            }
        }
    }
    let xml = replay(&server, &fixture("rest_site_info_xml"), None);
    assert_eq!(xml.header("content-disposition"), Some("inline; filename=\"response.xml\""));
    assert!(xml.body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<RESPONSE>\n<SINGLE>\n<KEY name=\"sitename\"><VALUE>Oracle Site</VALUE>\n</KEY>\n"));
    assert!(
        xml.body.contains("<KEY name=\"usersessionscount\"><VALUE null=\"null\"/>\n</KEY>\n"),
        "optional keys are listed as null in XML"
    );
    let recorded = fixture("rest_site_info_xml").body;
    assert!(recorded.contains("<KEY name=\"usersessionscount\"><VALUE null=\"null\"/>\n</KEY>\n"));
    let badformat = replay(&server, &fixture("rest_site_info_badformat"), None);
    assert_eq!(badformat.header("content-type"), Some("application/xml; charset=utf-8"));

    // get_users_by_field: XML lists every key of user_description, in Moodle's order.
    let ours = replay(&server, &fixture("rest_get_users_by_field_xml"), None);
    let names = |s: &str| {
        s.match_indices("<KEY name=\"")
            .map(|(i, _)| s[i + 11..].split('"').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let theirs = fixture("rest_get_users_by_field_xml").body;
    // Difference: Moodle lists wsuser's four preferences (name/value pairs); ours has none.
    let all = names(&theirs);
    let theirs: Vec<String> = all.iter().filter(|k| *k != "name" && *k != "value").cloned().collect();
    assert_eq!(all.len(), theirs.len() + 8);
    assert_eq!(names(&ours.body), theirs);
    assert_like(&server, "rest_get_users_by_field_nomatch_json", None);
    assert_like(&server, "rest_get_users_by_field_nomatch_xml", None);
    let by_id = get(&server.url(&format!(
        "/webservice/rest/server.php?wstoken={T}&wsfunction=core_user_get_users_by_field&moodlewsrestformat=json&field=id&values[0]={}",
        user_id(&server.store, "admin")
    )));
    assert_eq!(by_id.json()[0]["username"], "admin");
    let users = replay(&server, &fixture("rest_get_users_json"), None).json();
    assert_eq!(users["users"][0]["username"], "wsuser");
    assert_eq!(users["warnings"], serde_json::json!([]));
}

#[test]
fn create_users_writes_through_ops_as_the_ws_user() {
    let server = Server::start(fixture_site);
    let created = replay(&server, &fixture("rest_create_users_json"), None);
    assert_eq!(created.json()[0]["username"], "oracleuser1", "{}", created.body);
    assert_like(&server, "rest_create_users_duplicate_json", None);
    let xml = replay(&server, &fixture("rest_create_users_xml"), None);
    assert!(xml.body.contains("<KEY name=\"username\"><VALUE>oracleuser2</VALUE>"), "{}", xml.body);
    let audit = server.store.read().unwrap();
    let entries = wsconsole::store::Queries::audit_entries(&audit, "oracleuser1", 5).unwrap();
    assert_eq!(entries[0].actor, "ws:wsuser");
    assert_eq!(entries[0].operation, "create user");
}

#[test]
fn debug_setting_adds_moodles_debuginfo() {
    let server = Server::start(fixture_site);
    server.ops.set_setting("debug", "developer").unwrap();
    for name in [
        "debug_rest_bad_token_json",
        "debug_rest_missing_wsfunction_json",
        "debug_rest_unknown_function_json",
        "debug_rest_create_users_missing_field_json",
        "debug_rest_create_users_missing_field_xml",
        "debug_rest_create_users_bad_type_json",
        "debug_rest_create_users_unexpected_key_json",
    ] {
        assert_like(&server, name, None);
    }
    // The generic access debuginfo names the function called.
    assert_like(&server, "debug_rest_function_not_in_service_json", None);
    server.ops.set_suspended("wsuser", true).unwrap();
    assert_like(&server, "debug_rest_suspended_user_json", None);
}

#[test]
fn simpleserver_matches_moodle() {
    let server = Server::start(fixture_site);
    for name in ["rest_simpleserver_missing_password_json", "rest_simpleserver_wrong_password_json"] {
        assert_like(&server, name, None);
    }
    // Username/password calls: no token's service, so functions is empty (as Moodle).
    let manual = replay(&server, &fixture("rest_simpleserver_manual_user_json"), None);
    assert_eq!(manual.json()["username"], "wsuser", "{}", manual.body);
    assert_eq!(manual.json()["functions"], serde_json::json!([]));
    // A webservice-auth user works on every call (Moodle 4.3 loses its hash: finding 12).
    for name in [
        "rest_simpleserver_wsonly_json",
        "rest_simpleserver_wsonly_second_call_json",
        "rest_simpleserver_wsonly_post_json",
    ] {
        let r = replay(&server, &fixture(name), None);
        assert_eq!(r.json()["username"], "wsonly", "{name}: {}", r.body);
    }
    server.ops.set_auth_plugin(AuthPlugin::Webservice, false).unwrap();
    assert_like(&server, "rest_simpleserver_authplugin_disabled_json", None);
    assert_like(&server, "rest_simpleserver_authplugin_disabled_xml", None);
    // The token server does not care (rest_token_authplugin_disabled_json).
    assert_eq!(replay(&server, &fixture("rest_token_authplugin_disabled_json"), None).json()["username"], "wsuser");
}

#[test]
fn simpleserver_function_in_no_allowed_service() {
    let server = Server::start(fixture_site);
    // wsonly is not authorised on testsvc and the mobile service lacks create_users.
    let f = fixture("rest_simpleserver_not_in_any_service_json");
    assert_eq!(replay(&server, &f, None).body, as_45(&f.body));
}

#[test]
fn token_php_matches_moodle() {
    let server = Server::start(fixture_site);
    for name in [
        "tokenphp_appsitecheck",
        "tokenphp_missing_all",
        "tokenphp_missing_password",
        "tokenphp_missing_service",
        "tokenphp_wrong_password",
        "tokenphp_unknown_user",
        "tokenphp_wsauth_user",
        "tokenphp_service_not_available",
        "tokenphp_admin_not_authorised_testsvc",
    ] {
        assert_like(&server, name, None);
    }
    let f = fixture("tokenphp_success_testsvc");
    let r = replay(&server, &f, None);
    let v = r.json();
    assert!(wsconsole::domain::secret::is_token_format(v["token"].as_str().unwrap()), "{}", r.body);
    assert_eq!(v["privatetoken"], serde_json::Value::Null);
    assert_eq!(r.header("content-type"), Some("application/json; charset=utf-8"));
    assert_eq!(r.header("expires"), Some("Mon, 20 Aug 1969 09:23:00 GMT"));
    // Difference: Moodle hands back the administrator's token $T (the recording); an
    // administrator's token is shown once here, so the login gets a token of its own.
    let t = v["token"].as_str().unwrap();
    assert_ne!(t, T);
    let info = get(&server.url(&format!(
        "/webservice/rest/server.php?wstoken={t}&wsfunction=core_webservice_get_site_info&moodlewsrestformat=json"
    )));
    assert_eq!(info.json()["username"], "wsuser");
    // Logging in again, by GET or with the username in capitals, hands back the same token.
    let again = replay(&server, &fixture("tokenphp_success_testsvc_get"), None).json();
    assert_eq!(again["token"], v["token"]);
    assert_eq!(replay(&server, &fixture("tokenphp_username_case"), None).json()["token"], v["token"]);
    // The mobile service: a first token, then the same one again, as recorded.
    let first = replay(&server, &fixture("tokenphp_success_mobile_first"), None);
    let again = replay(&server, &fixture("tokenphp_success_mobile_again"), None);
    assert!(first.json()["token"].is_string(), "{}", first.body);
    assert_eq!(again.body, first.body);
    assert_ne!(first.json()["token"], v["token"], "one token per service");
    // The database keeps only hashes: no issued value is in the file.
    let file = std::fs::read(server.db()).unwrap();
    for value in [t, first.json()["token"].as_str().unwrap()] {
        assert!(!file.windows(32).any(|w| w == value.as_bytes()), "a token value in the database");
    }

    server.ops.authorise_user("testsvc", "wsuser", "10.0.0.1", None).unwrap();
    assert_like(&server, "tokenphp_authuser_ip_restricted", None);
    server
        .store
        .write(|t| {
            t.put_authorised(&wsconsole::domain::AuthorisedUser {
                service: service_id(&server.store, "testsvc"),
                user: user_id(&server.store, "wsuser"),
                ip_restriction: String::new(),
                valid_until: Some(wsconsole::store::now() - 86_400),
                created: 0,
            })
        })
        .unwrap();
    assert_like(&server, "tokenphp_authuser_validuntil_past", None);
    server.ops.edit_service("testsvc", ServiceEdit { enabled: Some(false), ..ServiceEdit::default() }).unwrap();
    assert_like(&server, "tokenphp_service_disabled", None);
    server.ops.set_suspended("wsuser", true).unwrap();
    assert_like(&server, "tokenphp_suspended_user", None);
    server.ops.set_protocol(Protocol::Rest, false).unwrap();
    server.ops.set_suspended("wsuser", false).unwrap();
    server.ops.set_service_enabled("testsvc", true).unwrap();
    server.ops.authorise_user("testsvc", "wsuser", "", None).unwrap();
    assert!(replay(&server, &fixture("tokenphp_rest_protocol_disabled"), None).json()["token"].is_string());
    server.ops.set_web_services(false).unwrap();
    assert_like(&server, "tokenphp_webservices_disabled", None);
}

#[test]
fn login_tokens_beyond_the_limit_revoke_the_oldest() {
    let server = Server::start(fixture_site);
    server.ops.set_setting("tokenmaxperuserservice", "2").unwrap();
    // A login gets a new token only once its previous one expired: tokens of one second.
    server.ops.set_setting("tokenduration", "1").unwrap();
    let login = || {
        let t =
            replay(&server, &fixture("tokenphp_success_testsvc"), None).json()["token"].as_str().unwrap().to_string();
        std::thread::sleep(std::time::Duration::from_millis(2100));
        t
    };
    let first = login();
    let second = login();
    server.ops.set_setting("tokenduration", "12w").unwrap();
    let third = login();
    assert!(first != second && second != third);
    let works = |t: &str| {
        get(&server.url(&format!(
            "/webservice/rest/server.php?wstoken={t}&wsfunction=core_webservice_get_site_info&moodlewsrestformat=json"
        )))
        .json()
        .get("username")
        .is_some()
    };
    assert!(!works(&second), "expired");
    assert!(works(&third));
    let stored =
        |t: &str| server.store.read().unwrap().token_by_hash(&wsconsole::domain::secret::hash_token(t)).unwrap();
    assert!(stored(&first).is_none(), "the oldest was revoked");
    assert!(stored(&second).is_some(), "an expired token is kept, listed as expired");
    assert!(works(T), "an admin-created token is not counted");
    let v = server.store.read().unwrap();
    let t =
        wsconsole::store::Queries::token_by_hash(&v, &wsconsole::domain::secret::hash_token(&third)).unwrap().unwrap();
    let duration = t.valid_until.unwrap() - t.created;
    assert_eq!(duration, 12 * 7 * 86_400, "valid for the token duration");
}

#[test]
fn public_config_for_the_moodle_app() {
    let server = Server::start(fixture_site);
    let r = agent()
        .post(&server.url("/lib/ajax/service.php?info=tool_mobile_get_public_config"))
        .content_type("application/json")
        .send(r#"[{"index":0,"methodname":"tool_mobile_get_public_config","args":{}}]"#)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&r.into_body().read_to_string().unwrap()).unwrap();
    assert_eq!(v[0]["error"], false);
    assert_eq!(v[0]["data"]["sitename"], "Oracle Site");
    assert_eq!(v[0]["data"]["enablewebservices"], 1);
}

#[test]
fn activity_is_logged_in_batches_without_tokens() {
    let mut server = Server::start(fixture_site);
    let ok =
        get(&server.url(&format!("/webservice/rest/server.php?wstoken={T}&wsfunction=core_webservice_get_site_info")));
    assert_eq!(ok.status, 200);
    get(&server.url(
        "/webservice/rest/server.php?wstoken=0123456789abcdef0123456789abcdef&wsfunction=core_webservice_get_site_info",
    ));
    server.stop(); // flushes the activity log
    let v = server.store.read().unwrap();
    let calls = wsconsole::store::Queries::call_entries(&v, 10).unwrap();
    let outcomes: Vec<&str> = calls.iter().map(|c| &*c.outcome).collect();
    assert_eq!(outcomes, ["invalidtoken", "ok"]);
    assert_eq!(calls[1].function, "core_webservice_get_site_info");
    assert_eq!(calls[1].remote_ip, "127.0.0.1");
    let token =
        wsconsole::store::Queries::token_by_hash(&v, &wsconsole::domain::secret::hash_token(T)).unwrap().unwrap();
    assert!(token.last_access.is_some(), "last access recorded");
    let file = std::fs::read(server.db()).unwrap();
    assert!(!file.windows(32).any(|w| w == T.as_bytes()), "no token value in the database");
}

fn call(server: &Server, token: &str, function: &str, params: &str) -> serde_json::Value {
    post_form(
        &server.url("/webservice/rest/server.php"),
        &format!("wstoken={token}&wsfunction={function}&moodlewsrestformat=json&{params}"),
    )
    .json()
}

#[test]
fn remaining_denials_over_http() {
    let server = Server::start(fixture_site);
    let info = |s: &Server| call(s, T, "core_webservice_get_site_info", "");
    server.ops.set_maintenance(true).unwrap();
    assert_eq!(info(&server)["errorcode"], "sitemaintenance");
    server.ops.set_maintenance(false).unwrap();
    server.ops.set_role_capabilities("wsclient", &["webservice/rest:use".into()], false).unwrap();
    let e = info(&server);
    assert_eq!(
        (e["errorcode"].as_str(), e["message"].as_str()),
        (Some("accessexception"), Some("Access control exception"))
    );
    server.ops.set_setting("debug", "normal").unwrap();
    assert_eq!(
        info(&server)["debuginfo"],
        "You are not allowed to use the rest protocol (missing capability: webservice/rest:use)"
    );
    server.ops.set_role_capabilities("wsclient", &["webservice/rest:use".into()], true).unwrap();
    server
        .ops
        .edit_user(
            "wsuser",
            wsconsole::ops::UserEdit { auth: Some(wsconsole::domain::AuthMethod::Nologin), ..Default::default() },
        )
        .unwrap();
    assert_eq!(info(&server)["message"], "Refused web service access for nologin authentication username: wsuser");
    server
        .ops
        .edit_user(
            "wsuser",
            wsconsole::ops::UserEdit { auth: Some(wsconsole::domain::AuthMethod::Manual), ..Default::default() },
        )
        .unwrap();
    // A required capability on the service.
    server
        .ops
        .edit_service(
            "testsvc",
            ServiceEdit { required_capability: Some(Some("moodle/role:assign".into())), ..Default::default() },
        )
        .unwrap();
    assert_eq!(info(&server)["errorcode"], "accessexception");
    server.ops.edit_service("testsvc", ServiceEdit { required_capability: Some(None), ..Default::default() }).unwrap();
    assert_eq!(info(&server)["username"], "wsuser");
}

#[test]
fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let server = Server::start(fixture_site);
    let (wsuser, svc) = (user_id(&server.store, "wsuser"), service_id(&server.store, "testsvc"));
    let only_ten = "0123456789abcdef0123456789abcde0";
    put_token(&server.store, only_ten, wsuser, svc, "10.1.2.3", None);
    let via = |xff: &str| {
        let mut r = agent()
            .get(&server.url(&format!("/webservice/rest/server.php?wstoken={only_ten}&wsfunction=core_webservice_get_site_info&moodlewsrestformat=json")))
            .header("X-Forwarded-For", xff)
            .call()
            .unwrap();
        serde_json::from_str::<serde_json::Value>(&r.body_mut().read_to_string().unwrap()).unwrap()
    };
    // Not trusted: the header is ignored, the socket address (127.0.0.1) is used.
    assert_eq!(via("10.1.2.3")["errorcode"], "accessexception");
    server.ops.set_setting("trustedproxies", "127.0.0.1").unwrap();
    assert_eq!(via("10.1.2.3")["username"], "wsuser");
    // The last address that is not a trusted proxy counts; a forged first entry does not.
    assert_eq!(via("10.1.2.3, 192.0.2.9")["errorcode"], "accessexception");
    assert_eq!(via("192.0.2.9, 10.1.2.3, 127.0.0.1")["username"], "wsuser");
    // Leading zeros are no address: the header is not believed, the proxy's own address counts.
    assert_eq!(via("010.001.002.003")["errorcode"], "accessexception");
}

#[test]
fn user_and_role_functions_check_capabilities_and_write_through_ops() {
    let server = Server::start(fixture_site);
    let fns: Vec<String> =
        ["core_user_update_users", "core_user_delete_users", "core_role_assign_roles", "core_role_unassign_roles"]
            .map(String::from)
            .to_vec();
    server.ops.set_service_functions("testsvc", &fns, true).unwrap();
    let admin = user_id(&server.store, "admin");
    let updated = call(
        &server,
        T,
        "core_user_update_users",
        &format!("users[0][id]={admin}&users[0][firstname]=Ada&users[0][suspended]=1"),
    );
    assert_eq!(updated, serde_json::json!({"warnings": []}));
    let v = server.store.read().unwrap();
    let a = wsconsole::store::Queries::user(&v, admin).unwrap().unwrap();
    assert!(a.suspended && a.firstname == "Ada");
    drop(v);
    let missing = call(&server, T, "core_user_update_users", "users[0][id]=999");
    assert_eq!(missing["warnings"][0]["warningcode"], "invaliduserid");

    // Role assignment needs moodle/role:assign, which wsclient lacks.
    let role =
        wsconsole::store::Queries::role_by_shortname(&server.store.read().unwrap(), "wsclient").unwrap().unwrap().id;
    let denied = call(
        &server,
        T,
        "core_role_assign_roles",
        &format!("assignments[0][roleid]={role}&assignments[0][userid]={admin}&assignments[0][contextid]=1"),
    );
    assert_eq!(denied["errorcode"], "nopermissions");
    assert_eq!(
        denied["message"],
        "Sorry, but you do not currently have permissions to do that (Assign roles to users)."
    );
    server.ops.set_role_capabilities("wsclient", &["moodle/role:assign".into()], true).unwrap();
    let ok = post_form(
        &server.url("/webservice/rest/server.php"),
        &format!(
            "wstoken={T}&wsfunction=core_role_assign_roles&moodlewsrestformat=json&assignments[0][roleid]={role}&assignments[0][userid]={admin}&assignments[0][contextlevel]=system"
        ),
    );
    assert_eq!(ok.body, "null", "a void function answers null in JSON");
    assert!(server.store.read().unwrap().user_capabilities(admin).unwrap().contains("moodle/role:assign"));
    let xml = post_form(
        &server.url("/webservice/rest/server.php"),
        &format!(
            "wstoken={T}&wsfunction=core_role_unassign_roles&unassignments[0][roleid]={role}&unassignments[0][userid]={admin}&unassignments[0][contextid]=1"
        ),
    );
    assert_eq!(xml.body, "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<RESPONSE>\n</RESPONSE>\n");
    assert!(!server.store.read().unwrap().user_capabilities(admin).unwrap().contains("moodle/role:assign"));

    let deleted = call(&server, T, "core_user_delete_users", &format!("userids[0]={admin}"));
    assert_eq!(deleted, serde_json::Value::Null);
    assert!(server.store.read().unwrap().user_by_username("admin").unwrap().is_none());
    let audit = wsconsole::store::Queries::audit_entries(&server.store.read().unwrap(), "", 1).unwrap();
    assert_eq!((audit[0].actor.as_str(), audit[0].operation.as_str()), ("ws:wsuser", "delete user"));
}

#[test]
fn a_caller_cannot_hand_out_or_override_more_than_it_holds() {
    let server = Server::start(fixture_site);
    let fns: Vec<String> =
        ["core_user_update_users", "core_user_delete_users", "core_role_assign_roles"].map(String::from).to_vec();
    server.ops.set_service_functions("testsvc", &fns, true).unwrap();
    server.ops.set_role_capabilities("wsclient", &["moodle/role:assign".into()], true).unwrap();
    server.ops.create_role("boss", "", &["moodle/webservice:managealltokens".into()]).unwrap();
    let boss = Queries::role_by_shortname(&server.store.read().unwrap(), "boss").unwrap().unwrap().id;
    let me = user_id(&server.store, "wsuser");
    let refused = call(
        &server,
        T,
        "core_role_assign_roles",
        &format!("assignments[0][roleid]={boss}&assignments[0][userid]={me}&assignments[0][contextid]=1"),
    );
    assert_eq!(refused["errorcode"], "invalidparameter", "{refused}");
    assert!(!server.store.read().unwrap().user_capabilities(me).unwrap().contains("moodle/webservice:managealltokens"));

    server.ops.set_role_assignment("boss", "admin", true).unwrap();
    let admin = user_id(&server.store, "admin");
    let takeover =
        call(&server, T, "core_user_update_users", &format!("users[0][id]={admin}&users[0][password]=Taken-over-1"));
    assert_eq!(takeover["errorcode"], "nopermissions", "{takeover}");
    assert_eq!(
        call(&server, T, "core_user_delete_users", &format!("userids[0]={admin}"))["errorcode"],
        "nopermissions"
    );
    // Nothing was half applied.
    let u = server.store.read().unwrap().user_by_username("admin").unwrap().unwrap();
    assert!(wsconsole::domain::secret::verify_password(&u.password_hash, "Admin-1234!"));
}

#[test]
fn a_batch_is_checked_whole_before_any_write() {
    let server = Server::start(fixture_site);
    let r = call(
        &server,
        T,
        "core_user_create_users",
        "users[0][username]=fine1&users[0][password]=Fine-pass-1&users[0][firstname]=F&users[0][lastname]=One&users[0][email]=f1@example.com\
         &users[1][username]=fine2&users[1][password]=short&users[1][firstname]=F&users[1][lastname]=Two&users[1][email]=f2@example.com",
    );
    assert_eq!(r["errorcode"], "invalidparameter", "{r}");
    assert!(
        server.store.read().unwrap().user_by_username("fine1").unwrap().is_none(),
        "the first user was not created"
    );
}

#[test]
fn unconfirmed_and_deleted_accounts_over_http() {
    // Neither state can arise through ops with a live token (deleting revokes tokens), so the
    // records are written directly, as an imported or older database could hold them.
    let server = Server::start(fixture_site);
    let set = |f: &dyn Fn(&mut wsconsole::domain::User)| {
        let old = server.store.read().unwrap().user_by_username("wsuser").unwrap().unwrap();
        let mut u = old.clone();
        f(&mut u);
        server.store.write(|t| t.put_user(&u, Some(&old))).unwrap();
    };
    set(&|u| u.confirmed = false);
    let e = call(&server, T, "core_webservice_get_site_info", "");
    assert_eq!(e["errorcode"], "wsaccessuserunconfirmed");
    assert_eq!(e["message"], "Refused web service access for unconfirmed username: wsuser");
    set(&|u| {
        u.confirmed = true;
        u.deleted = true;
    });
    let e = call(&server, T, "core_webservice_get_site_info", "");
    assert_eq!(e["errorcode"], "wsaccessuserdeleted");
    assert_eq!(e["message"], "Refused web service access for deleted username: wsuser");
    assert_eq!(e["exception"], "core\\exception\\moodle_exception");
}

#[test]
fn last_access_is_recorded_once_the_token_is_accepted() {
    let mut server = Server::start(fixture_site);
    // The function is refused (not in the service), but the token itself was fine.
    assert_eq!(call(&server, T, "core_user_delete_users", "userids[0]=1")["errorcode"], "accessexception");
    server.stop();
    let v = server.store.read().unwrap();
    let t = v.token_by_hash(&wsconsole::domain::secret::hash_token(T)).unwrap().unwrap();
    assert!(t.last_access.is_some());
}

#[test]
fn multipart_form_bodies_are_read_like_php() {
    let server = Server::start(fixture_site);
    let boundary = "----wsconsole-test";
    let mut body = String::new();
    for (k, v) in [
        ("wstoken", T),
        ("wsfunction", "core_user_get_users_by_field"),
        ("moodlewsrestformat", "json"),
        ("field", "username"),
        ("values[0]", "wsuser"),
    ] {
        body.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"));
    }
    // A file field goes to PHP's $_FILES, not $_POST: it must not become a parameter.
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"bogus\"; filename=\"x.txt\"\r\nContent-Type: text/plain\r\n\r\nfile\r\n--{boundary}--\r\n"
    ));
    let mut r = agent()
        .post(&server.url("/webservice/rest/server.php"))
        .content_type(format!("multipart/form-data; boundary={boundary}"))
        .send(body.as_str())
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(v[0]["username"], "wsuser", "{v}");
    let broken = agent()
        .post(&server.url("/webservice/rest/server.php"))
        .content_type("multipart/form-data; boundary=zz")
        .send("--zz\r\nContent-Disposition: form-data\r\n\r\nnoname")
        .unwrap();
    assert_eq!(broken.status().as_u16(), 400);
}
