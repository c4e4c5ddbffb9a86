//! Two processes, one file: real OS processes on one database (DESIGN.md §2).
//!
//! The test binary re-runs itself as a worker (`worker_main` with `WS_WORKER` set), so the
//! workers use the library exactly as the console and the endpoint do.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use wsconsole::domain::{AuthMethod, secret::hash_token};
use wsconsole::ops::{NewService, NewToken, NewUser, Ops};
use wsconsole::store::{Queries, Store};

const ROUNDS: u64 = 200;

/// Spawns this test binary as a worker of `role` on `db`.
fn spawn_worker(role: &str, db: &Path, stdin: bool) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "worker_main", "--nocapture", "--test-threads=1"])
        .env("WS_WORKER", role)
        .env("WS_DB", db)
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Only active when re-run as a worker; a plain `cargo test` run passes straight through.
#[test]
fn worker_main() {
    let Ok(role) = std::env::var("WS_WORKER") else { return };
    let db = PathBuf::from(std::env::var("WS_DB").unwrap());
    let store = Arc::new(Store::open(&db).unwrap());
    let ops = Ops::new(store.clone(), role.clone());
    let mut out = std::io::stdout().lock();
    match role.as_str() {
        // Creates a token per round and revokes the one made two rounds earlier; reports each
        // after its commit returned.
        "writer-a" | "writer-b" | "killed" => {
            let user = if role == "writer-b" { "userb" } else { "usera" };
            let mut made: Vec<(u64, String)> = Vec::new();
            let rounds = if role == "killed" { u64::MAX } else { ROUNDS };
            for round in 0..rounds {
                let t = ops
                    .create_token(NewToken { username: user.into(), service: "svc".into(), ..NewToken::default() })
                    .unwrap();
                writeln!(out, "@@ created {} {}", t.token.id, t.value).unwrap();
                out.flush().unwrap();
                made.push((t.token.id, t.value));
                if role != "killed" && round >= 2 {
                    let (id, value) = made.remove(0);
                    ops.revoke_token(id).unwrap();
                    writeln!(out, "@@ revoked {id} {value}").unwrap();
                    out.flush().unwrap();
                }
            }
        }
        // For each reported event, opens a new read transaction and checks it is visible.
        "reader" => {
            let mut checked = 0;
            let mut failures = 0;
            for line in std::io::stdin().lock().lines() {
                let line = line.unwrap();
                let mut parts = line.split_whitespace().skip(1);
                let (event, id, value) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
                let id: u64 = id.parse().unwrap();
                let v = store.read().unwrap();
                let present = v.token_by_hash(&hash_token(value)).unwrap().is_some();
                let ok = match event {
                    // Created: present, or already revoked by its writer (the audit says so).
                    "created" => {
                        present
                            || v.audit_entries(&format!("#{id}"), 10)
                                .unwrap()
                                .iter()
                                .any(|e| e.operation == "revoke token")
                    }
                    "revoked" => !present && v.token_by_id(id).unwrap().is_none(),
                    _ => false,
                };
                checked += 1;
                if !ok {
                    failures += 1;
                    writeln!(out, "STALE {line}").unwrap();
                }
            }
            writeln!(out, "checked {checked} failures {failures}").unwrap();
        }
        other => panic!("unknown worker {other}"),
    }
}

fn prepare(db: &Path) {
    let ops = Ops::new(Arc::new(Store::open(db).unwrap()), "setup");
    for u in ["usera", "userb"] {
        ops.create_user(NewUser {
            username: u.into(),
            auth: AuthMethod::Webservice,
            password: None,
            firstname: String::new(),
            lastname: String::new(),
            email: String::new(),
        })
        .unwrap();
    }
    ops.create_service(NewService {
        name: "Svc".into(),
        shortname: "svc".into(),
        enabled: true,
        ..NewService::default()
    })
    .unwrap();
}

/// Forwards every line of a child's stdout to `tx`, tagged with the writer's name.
fn pump(
    child: &mut Child,
    name: &'static str,
    tx: mpsc::Sender<(&'static str, String)>,
) -> std::thread::JoinHandle<()> {
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // The harness may print "test worker_main ... " on the same line first.
            let Some(at) = line.find("@@ ") else { continue };
            if tx.send((name, line[at..].to_string())).is_err() {
                break;
            }
        }
    })
}

#[test]
fn two_writers_and_a_reader_see_every_commit_and_lose_none() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ws.redb");
    prepare(&db);

    let mut reader = spawn_worker("reader", &db, true);
    let mut to_reader = reader.stdin.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let mut a = spawn_worker("writer-a", &db, false);
    let mut b = spawn_worker("writer-b", &db, false);
    let pumps = [pump(&mut a, "a", tx.clone()), pump(&mut b, "b", tx)];

    // Tokens alive per the writers' own reports: id → value.
    let mut alive: BTreeMap<u64, String> = BTreeMap::new();
    let mut revoked: BTreeSet<String> = BTreeSet::new();
    let mut events = 0;
    for (_, line) in rx {
        writeln!(to_reader, "{line}").unwrap();
        let mut parts = line.split_whitespace().skip(1);
        let (event, id, value) =
            (parts.next().unwrap(), parts.next().unwrap().parse::<u64>().unwrap(), parts.next().unwrap());
        match event {
            "created" => {
                alive.insert(id, value.to_string());
            }
            _ => {
                alive.remove(&id);
                revoked.insert(value.to_string());
            }
        }
        events += 1;
    }
    for p in pumps {
        p.join().unwrap();
    }
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    drop(to_reader);
    let out = reader.wait_with_output().unwrap();
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{report}");
    assert!(report.contains(&format!("checked {events} failures 0")), "{report}");
    assert_eq!(events, 2 * (ROUNDS + ROUNDS - 2));

    // None lost: exactly the tokens reported alive are there, the revoked ones are not.
    let store = Store::open(&db).unwrap();
    let v = store.read().unwrap();
    assert_eq!(v.token_count().unwrap(), alive.len() as u64);
    assert_eq!(alive.len(), 4);
    for (id, value) in &alive {
        assert_eq!(v.token_by_hash(&hash_token(value)).unwrap().map(|t| t.id), Some(*id));
    }
    for value in &revoked {
        assert!(v.token_by_hash(&hash_token(value)).unwrap().is_none());
    }
}

#[test]
fn sigkill_mid_loop_loses_no_reported_commit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ws.redb");
    prepare(&db);
    let mut writer = spawn_worker("killed", &db, false);
    let mut lines = BufReader::new(writer.stdout.take().unwrap()).lines();
    let mut reported = Vec::new();
    while reported.len() < 40 {
        let line = lines.next().unwrap().unwrap();
        let Some(at) = line.find("@@ ") else { continue };
        let mut parts = line[at..].split_whitespace().skip(2);
        reported.push((parts.next().unwrap().parse::<u64>().unwrap(), parts.next().unwrap().to_string()));
    }
    // SIGKILL while it is still creating tokens in a loop.
    writer.kill().unwrap();
    writer.wait().unwrap();
    // Lines it wrote before dying were committed too.
    for line in lines.map_while(Result::ok) {
        let Some(at) = line.find("@@ ") else { continue };
        let mut parts = line[at..].split_whitespace().skip(2);
        if let (Some(id), Some(value)) = (parts.next(), parts.next()) {
            reported.push((id.parse().unwrap(), value.to_string()));
        }
    }

    let store = Store::open(&db).unwrap();
    let v = store.read().unwrap();
    for (id, value) in &reported {
        assert_eq!(v.token_by_hash(&hash_token(value)).unwrap().map(|t| t.id), Some(*id), "token #{id} lost");
    }
    // Indexes agree with the tokens after the crash.
    let count = v.token_count().unwrap();
    assert!(count >= reported.len() as u64 && count <= reported.len() as u64 + 1, "{count} vs {}", reported.len());
    // And the database still takes writes.
    drop(v);
    let ops = Ops::new(Arc::new(store), "after");
    ops.create_token(NewToken { username: "usera".into(), service: "svc".into(), ..NewToken::default() }).unwrap();
}
