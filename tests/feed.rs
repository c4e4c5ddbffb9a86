//! The change feed (issue 15): every write, by any process, records what it changed in the same
//! transaction, under a number that only grows; a reader behind what the feed keeps is told to
//! read everything again; a process killed in the middle of its writes leaves feed and data
//! agreeing.

use std::process::Command;
use std::sync::Arc;
use wsconsole::domain::AuthMethod;
use wsconsole::ops::{NewService, NewToken, NewUser, Ops};
use wsconsole::store::feed::{self, Change, Since};
use wsconsole::store::{Queries, Store};

fn open(dir: &tempfile::TempDir) -> Arc<Store> {
    Arc::new(Store::open(&dir.path().join("ws.redb")).unwrap())
}

/// The changes of each transaction after `seen`, and the new `seen`.
fn after(store: &Store, seen: u64) -> (Vec<Vec<Change>>, u64) {
    match feed::since(&store.read().unwrap(), seen, 10_000).unwrap() {
        Since::Changes(list) => {
            let last = list.last().map_or(seen, |(s, _)| *s);
            for (i, (s, _)) in list.iter().enumerate() {
                assert_eq!(*s, seen + 1 + i as u64, "numbers follow each other");
            }
            (list.into_iter().map(|(_, c)| c).collect(), last)
        }
        Since::Behind { seq } => panic!("behind at {seq}"),
    }
}

/// One write, and what it must have recorded (the audit entry besides).
fn expect(store: &Store, seen: &mut u64, what: &str, wanted: &[Change]) {
    let (txns, last) = after(store, *seen);
    assert_eq!(txns.len(), 1, "{what}: one transaction, got {txns:?}");
    for w in wanted {
        assert!(txns[0].contains(w), "{what}: {w:?} missing from {:?}", txns[0]);
    }
    *seen = last;
}

#[test]
fn every_kind_of_write_is_in_the_feed_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let ops = Ops::new(store.clone(), "t");
    let mut seen = feed::seq(&store.read().unwrap()).unwrap();
    assert!(seen >= 1, "seeding a new database is a write too");

    ops.set_web_services(true).unwrap();
    expect(&store, &mut seen, "settings", &[Change::Settings, Change::Audit]);
    let u = ops.create_user(NewUser::named("alice", AuthMethod::Webservice)).unwrap();
    expect(&store, &mut seen, "new user", &[Change::User(u.id)]);
    ops.set_suspended("alice", true).unwrap();
    expect(&store, &mut seen, "suspend", &[Change::User(u.id)]);
    ops.set_suspended("alice", false).unwrap();
    expect(&store, &mut seen, "unsuspend", &[Change::User(u.id)]);
    let r = ops.create_role("ws", "WS", &[]).unwrap();
    expect(&store, &mut seen, "new role", &[Change::Role(r.id)]);
    ops.change_role_capabilities("ws", &["webservice/rest:use".into()], &[]).unwrap();
    expect(&store, &mut seen, "capabilities", &[Change::Role(r.id)]);
    ops.set_role_assignment("ws", "alice", true).unwrap();
    expect(&store, &mut seen, "assign", &[Change::RoleAssignment { user: u.id, role: r.id }]);
    let s = ops
        .create_service(NewService {
            name: "S".into(),
            shortname: "s".into(),
            enabled: true,
            restricted_users: true,
            required_capability: None,
            download_files: false,
            upload_files: false,
        })
        .unwrap();
    expect(&store, &mut seen, "new service", &[Change::Service(s.id)]);
    ops.set_service_functions("s", &["core_webservice_get_site_info".into()], true).unwrap();
    expect(&store, &mut seen, "functions", &[Change::ServiceFunctions(s.id)]);
    ops.authorise_user("s", "alice", "", None).unwrap();
    expect(&store, &mut seen, "authorise", &[Change::Authorised { service: s.id, user: u.id }]);
    let t = ops
        .create_token(NewToken {
            username: "alice".into(),
            service: "s".into(),
            name: String::new(),
            ip_restriction: String::new(),
            valid_until: None,
        })
        .unwrap();
    let hash = wsconsole::domain::secret::hash_token(&t.value);
    expect(&store, &mut seen, "new token", &[Change::Token { id: t.token.id, hash, user: u.id }]);
    // The endpoint's activity: a last access and call-log rows.
    store
        .write_activity(|a| {
            a.touch_token(t.token.id, wsconsole::store::now(), 0)?;
            a.append_calls(&[])
        })
        .unwrap();
    expect(&store, &mut seen, "last access", &[Change::TokenAccess(t.token.id)]);
    ops.revoke_token(t.token.id).unwrap();
    expect(&store, &mut seen, "revoke", &[Change::Token { id: t.token.id, hash, user: u.id }]);
    ops.unauthorise_user("s", "alice").unwrap();
    expect(&store, &mut seen, "unauthorise", &[Change::Authorised { service: s.id, user: u.id }]);
    ops.delete_service("s").unwrap();
    expect(&store, &mut seen, "delete service", &[Change::Service(s.id), Change::ServiceFunctions(s.id)]);
    ops.delete_role("ws").unwrap();
    expect(&store, &mut seen, "delete role", &[Change::Role(r.id), Change::RoleAssignment { user: u.id, role: r.id }]);
    ops.delete_user("alice").unwrap();
    expect(&store, &mut seen, "delete user", &[Change::User(u.id)]);
    // A refused write records nothing.
    assert!(ops.delete_user("nobody").is_err());
    assert_eq!(after(&store, seen).0.len(), 0);
}

#[test]
fn another_process_writes_show_in_the_feed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let seen = feed::seq(&store.read().unwrap()).unwrap();
    let db = dir.path().join("ws.redb");
    let run = |args: &[&str]| {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_wsconsole"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // An empty line: no password.
        child.stdin.take().unwrap().write_all(b"\n").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&["user", "add", "bob", "--auth", "webservice"]);
    run(&["service", "add", "sync", "--name", "Sync", "--enabled"]);
    let (txns, _) = after(&store, seen);
    let v = store.read().unwrap();
    let bob = v.user_by_username("bob").unwrap().unwrap();
    let sync = v.service_by_shortname("sync").unwrap().unwrap();
    assert_eq!(txns.len(), 2, "{txns:?}");
    assert!(txns[0].contains(&Change::User(bob.id)), "{txns:?}");
    assert!(txns[1].contains(&Change::Service(sync.id)), "{txns:?}");
}

#[test]
fn a_reader_behind_what_the_feed_keeps_is_told_to_read_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("ws.redb")).unwrap();
    store.set_feed_keep(5);
    let store = Arc::new(store);
    let ops = Ops::new(store.clone(), "t");
    let start = feed::seq(&store.read().unwrap()).unwrap();
    for i in 0..3 {
        ops.create_user(NewUser::named(&format!("u{i}"), AuthMethod::Webservice)).unwrap();
    }
    // Three behind: still held.
    assert!(matches!(feed::since(&store.read().unwrap(), start, 100).unwrap(), Since::Changes(c) if c.len() == 3));
    for i in 3..12 {
        ops.create_user(NewUser::named(&format!("u{i}"), AuthMethod::Webservice)).unwrap();
    }
    let now = feed::seq(&store.read().unwrap()).unwrap();
    assert_eq!(feed::since(&store.read().unwrap(), start, 100).unwrap(), Since::Behind { seq: now });
    // A reader up to date enough still gets the changes, and the limit is honoured.
    match feed::since(&store.read().unwrap(), now - 4, 2).unwrap() {
        Since::Changes(c) => assert_eq!(c.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![now - 3, now - 2]),
        other => panic!("{other:?}"),
    }
    assert_eq!(feed::since(&store.read().unwrap(), now, 100).unwrap(), Since::Changes(Vec::new()));
}

#[test]
fn a_process_killed_mid_writes_leaves_feed_and_data_agreeing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ws.redb");
    drop(Store::open(&db).unwrap());
    let seen = feed::seq(&Store::open(&db).unwrap().read().unwrap()).unwrap();
    // A shell loop of CLI writes, killed without warning while it runs.
    let script = format!(
        "i=0; while true; do i=$((i+1)); echo | {} --db {} user add k$i --auth webservice >/dev/null 2>&1; done",
        env!("CARGO_BIN_EXE_wsconsole"),
        db.display()
    );
    let mut child = Command::new("sh").arg("-c").arg(&script).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let _ = Command::new("pkill").args(["-KILL", "-P", &child.id().to_string()]).status();
    child.kill().unwrap();
    child.wait().unwrap();
    let store = Store::open(&db).unwrap();
    let v = store.read().unwrap();
    let users: Vec<u64> = v.find_users("", 0, 100_000).unwrap().rows.iter().map(|u| u.id).collect();
    assert!(!users.is_empty(), "some writes ran");
    let (txns, last) = after(&store, seen);
    assert_eq!(last, feed::seq(&v).unwrap(), "the feed ends where the data does");
    let recorded: Vec<u64> =
        txns.iter().flatten().filter_map(|c| if let Change::User(id) = c { Some(*id) } else { None }).collect();
    let mut users_sorted = users.clone();
    users_sorted.sort_unstable();
    let mut recorded_sorted = recorded.clone();
    recorded_sorted.dedup();
    recorded_sorted.sort_unstable();
    assert_eq!(recorded_sorted, users_sorted, "every user written is in the feed, and nothing else");
}
