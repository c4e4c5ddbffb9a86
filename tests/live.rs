//! Settings enforced live across processes: `wsconsole serve` runs as its own process while this
//! test process changes the same database through `ops` (as the CLI or console would); the
//! very next request sees each change.

mod common;

use common::*;
use std::sync::Arc;
use wsconsole::domain::Protocol;
use wsconsole::ops::{NewToken, Ops};
use wsconsole::store::Store;

/// The recorded site's set-up in a new database, and `wsconsole serve` on it as its own process.
fn fixture_endpoint() -> (tempfile::TempDir, std::path::PathBuf, Ops, Endpoint) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ws.redb");
    let ops = Ops::new(Arc::new(Store::open(&db).unwrap()), "admin");
    fixture_site(&ops);
    let endpoint = Endpoint::spawn(&db);
    (dir, db, ops, endpoint)
}

#[test]
fn changes_from_another_process_apply_to_the_next_request() {
    let (_dir, _db, ops, endpoint) = fixture_endpoint();
    let token = || {
        ops.create_token(NewToken { username: "wsuser".into(), service: "testsvc".into(), ..NewToken::default() })
            .unwrap()
    };

    // A revoked token fails on the very next request.
    let t = token();
    assert_eq!(endpoint.site_info(&t.value)["username"], "wsuser");
    ops.revoke_token(t.token.id).unwrap();
    assert_eq!(endpoint.site_info(&t.value)["errorcode"], "invalidtoken");

    // A suspended user.
    let t = token();
    assert_eq!(endpoint.site_info(&t.value)["username"], "wsuser");
    ops.set_suspended("wsuser", true).unwrap();
    assert_eq!(endpoint.site_info(&t.value)["errorcode"], "wsaccessusersuspended");
    ops.set_suspended("wsuser", false).unwrap();
    assert_eq!(endpoint.site_info(&t.value)["username"], "wsuser");

    // A function removed from the service.
    ops.set_service_functions("testsvc", &["core_webservice_get_site_info".into()], false).unwrap();
    assert_eq!(endpoint.site_info(&t.value)["errorcode"], "accessexception");
    ops.set_service_functions("testsvc", &["core_webservice_get_site_info".into()], true).unwrap();
    assert_eq!(endpoint.site_info(&t.value)["username"], "wsuser");

    // Site info lists the service's functions as they are now (the list is shared between
    // calls while the service's functions stay, and made again when they change).
    let listed = |t: &str| -> Vec<String> {
        let info = endpoint.site_info(t);
        info["functions"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap().to_string()).collect()
    };
    let before = listed(&t.value);
    assert_eq!(listed(&t.value), before, "the same while nothing changed");
    assert!(!before.contains(&"core_user_delete_users".to_string()), "{before:?}");
    ops.set_service_functions("testsvc", &["core_user_delete_users".into()], true).unwrap();
    let added = listed(&t.value);
    assert_eq!(added.len(), before.len() + 1, "{added:?}");
    assert!(added.contains(&"core_user_delete_users".to_string()), "{added:?}");
    ops.set_service_functions("testsvc", &["core_user_delete_users".into()], false).unwrap();
    assert_eq!(listed(&t.value), before);

    // The protocol disabled: 403 with an empty body.
    ops.set_protocol(Protocol::Rest, false).unwrap();
    let r = get(&format!(
        "{}/webservice/rest/server.php?wstoken={}&wsfunction=core_webservice_get_site_info",
        endpoint.base, t.value
    ));
    assert_eq!((r.status, r.body.as_str()), (403, ""));
    ops.set_protocol(Protocol::Rest, true).unwrap();

    // Many changes in a row, each checked by the next request (fewer than the failure
    // throttle's limit, which would answer 429 to a client that keeps sending bad tokens).
    for _ in 0..15 {
        let t = token();
        assert_eq!(endpoint.site_info(&t.value)["username"], "wsuser");
        ops.revoke_token(t.token.id).unwrap();
        assert_eq!(endpoint.site_info(&t.value)["errorcode"], "invalidtoken");
    }
}

#[test]
fn sigterm_flushes_the_activity_log() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ws.redb");
    let ops = Ops::new(Arc::new(Store::open(&db).unwrap()), "admin");
    fixture_site(&ops);
    let endpoint = Endpoint::spawn(&db);
    for _ in 0..5 {
        assert_eq!(endpoint.site_info(T)["username"], "wsuser");
    }
    drop(endpoint); // SIGTERM, then wait
    let v = ops.store().read().unwrap();
    let calls = wsconsole::store::Queries::call_entries(&v, 100).unwrap();
    assert_eq!(calls.iter().filter(|c| c.outcome == "ok").count(), 5);
}

/// The endpoint's record cache follows the change feed: it forgets only what changed. While
/// another writer streams unrelated changes (new users, new tokens, their calls), a revocation,
/// a suspension and a function removed each apply to the very next request.
#[test]
fn targeted_changes_apply_while_unrelated_writes_stream_in() {
    let (_dir, db, ops, endpoint) = fixture_endpoint();
    let token = |ops: &Ops| {
        ops.create_token(NewToken { username: "wsuser".into(), service: "testsvc".into(), ..NewToken::default() })
            .unwrap()
    };
    // The other writer: its own handle on the file, as another process.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let streamer = {
        let (stop, db, base) = (stop.clone(), db.clone(), endpoint.base.clone());
        std::thread::spawn(move || {
            let other = Ops::new(Arc::new(Store::open(&db).unwrap()), "other");
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let name = format!("stream{n}");
                other
                    .create_user(wsconsole::ops::NewUser::named(&name, wsconsole::domain::AuthMethod::Webservice))
                    .unwrap();
                let _ = other.authorise_user("testsvc", &name, "", None);
                let new = NewToken { username: name, service: "testsvc".into(), ..NewToken::default() };
                let t = other.create_token(new).unwrap();
                // Its answer does not matter (the user lacks the protocol's capability): the call
                // reads records of its own and leaves activity to write.
                get(&format!(
                    "{base}/webservice/rest/server.php?wstoken={}&wsfunction=core_webservice_get_site_info&moodlewsrestformat=json",
                    t.value
                ));
            }
            n
        })
    };
    for round in 0..10 {
        let t = token(&ops);
        assert_eq!(endpoint.site_info(&t.value)["username"], "wsuser", "round {round}");
        assert_eq!(endpoint.site_info(&t.value)["username"], "wsuser", "round {round}: cached");
        ops.set_suspended("wsuser", true).unwrap();
        assert_eq!(endpoint.site_info(&t.value)["errorcode"], "wsaccessusersuspended", "round {round}");
        ops.set_suspended("wsuser", false).unwrap();
        ops.set_service_functions("testsvc", &["core_webservice_get_site_info".into()], false).unwrap();
        assert_eq!(endpoint.site_info(&t.value)["errorcode"], "accessexception", "round {round}");
        ops.set_service_functions("testsvc", &["core_webservice_get_site_info".into()], true).unwrap();
        assert_eq!(endpoint.site_info(&t.value)["username"], "wsuser", "round {round}");
        ops.revoke_token(t.token.id).unwrap();
        assert_eq!(endpoint.site_info(&t.value)["errorcode"], "invalidtoken", "round {round}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let streamed = streamer.join().unwrap();
    assert!(streamed > 5, "unrelated writes streamed meanwhile: {streamed}");
}
