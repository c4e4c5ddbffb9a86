//! The console follows the store's change feed (issue 15): random operations from this process
//! and from the CLI as another process, after which what the console holds, changed in place,
//! equals a full read; a console that fell behind reads everything again and ends up equal too.

mod console_harness;

use console_harness::Console;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use wsconsole::console::data::Data;
use wsconsole::domain::AuthMethod;
use wsconsole::ops::{NewService, NewToken, NewUser, Ops};
use wsconsole::store::{Queries, Store, feed};

/// A small deterministic generator: the same sequence each run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

/// What the console shows, in a form two reads can be compared by.
fn state(d: &Data) -> String {
    let mut tokens: Vec<String> = d
        .tokens
        .views()
        .map(|v| {
            let e = v.entry;
            format!(
                "{} {} {} {} {:?} {:?} {}",
                e.id, v.username, v.service_shortname, e.name, e.valid_until, e.last_access, e.ip_restriction
            )
        })
        .collect();
    tokens.sort();
    let services: Vec<String> = d
        .services
        .iter()
        .map(|s| {
            let users: Vec<String> = s.authorised.iter().map(|a| format!("{}{:?}", a.username, a.missing)).collect();
            format!("{} {} {:?} {:?}", s.service.shortname, s.service.enabled, s.functions, users)
        })
        .collect();
    let roles: Vec<String> =
        d.roles.iter().map(|r| format!("{} {:?} {}", r.role.shortname, r.capabilities, r.holders)).collect();
    let calls: Vec<String> =
        d.calls.iter().map(|c| format!("{} {} {}", c.username, c.call.function, c.call.time)).collect();
    format!(
        "settings {:?}\nflows {:?}\nroles {roles:?}\nservices {services:?}\ntokens ({}) {tokens:?}\ncalls {calls:?}\naudit {}",
        d.settings,
        d.flows,
        d.tokens.total(),
        d.audit.len()
    )
}

fn fresh(store: &Store) -> String {
    let v = store.read().unwrap();
    let seq = feed::seq(&v).unwrap();
    state(&Data::load(&v, seq).unwrap().0)
}

/// Ticks the console until it holds the store's latest change.
fn caught_up(c: &mut Console) {
    let start = std::time::Instant::now();
    let target = feed::seq(&c.store.read().unwrap()).unwrap();
    while c.app.data().is_none_or(|d| d.seq < target) {
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "the console never caught up");
        std::thread::sleep(std::time::Duration::from_millis(10));
        c.app.tick();
    }
    c.app.settle();
}

fn cli(db: &std::path::Path, args: &[&str]) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wsconsole"))
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn random_changes_from_two_processes_end_equal_to_a_full_read() {
    let mut c = Console::new(false, false);
    let db = c.store.path().to_path_buf();
    let ops = Ops::new(Arc::new(Store::open(&db).unwrap()), "other");
    ops.set_web_services(true).unwrap();
    ops.create_service(NewService {
        name: "Open".into(),
        shortname: "open".into(),
        enabled: true,
        restricted_users: false,
        required_capability: None,
        download_files: false,
        upload_files: false,
    })
    .unwrap();
    let mut rng = Lcg(15);
    let mut users: Vec<String> = Vec::new();
    for step in 0..120 {
        let pick = |rng: &mut Lcg, list: &Vec<String>| list[rng.below(list.len() as u64) as usize].clone();
        match rng.below(10) {
            0 | 1 => {
                let name = format!("u{step}");
                if step % 3 == 0 {
                    cli(&db, &["user", "add", &name, "--auth", "webservice"]);
                } else {
                    let new =
                        NewUser { password: Some("Pass-word-1".into()), ..NewUser::named(&name, AuthMethod::Manual) };
                    ops.create_user(new).unwrap();
                }
                users.push(name);
            }
            2..=4 if !users.is_empty() => {
                let user = pick(&mut rng, &users);
                let until = (rng.below(2) == 0).then_some(wsconsole::store::now() + 86_400);
                let new = NewToken {
                    username: user,
                    service: "open".into(),
                    name: format!("t{step}"),
                    ip_restriction: String::new(),
                    valid_until: until,
                };
                let _ = ops.create_token(new); // refused for a suspended user
            }
            5 => {
                let ids: Vec<u64> = {
                    let v = ops.store().read().unwrap();
                    let mut ids = Vec::new();
                    v.each_token(|t| ids.push(t.id)).unwrap();
                    ids
                };
                if let Some(id) = ids.get(rng.below(ids.len().max(1) as u64) as usize) {
                    if step % 2 == 0 {
                        cli(&db, &["token", "revoke", &id.to_string()]);
                    } else {
                        ops.revoke_token(*id).unwrap();
                    }
                }
            }
            6 => {
                // The endpoint's activity: a last access and a call.
                let ids: Vec<(u64, u64)> = {
                    let v = ops.store().read().unwrap();
                    let mut ids = Vec::new();
                    v.each_token(|t| ids.push((t.id, t.user))).unwrap();
                    ids
                };
                if let Some(&(id, user)) = ids.first() {
                    let now = wsconsole::store::now() + step;
                    ops.store()
                        .write_activity(|a| {
                            a.touch_token(id, now, 0)?;
                            a.append_calls(&[wsconsole::domain::CallLog {
                                time: now,
                                token: Some(id),
                                user: Some(user),
                                service: None,
                                function: "core_webservice_get_site_info".into(),
                                protocol: "rest".into(),
                                remote_ip: "127.0.0.1".into(),
                                outcome: "ok".into(),
                                duration_micros: 10,
                                site: None,
                            }])
                        })
                        .unwrap();
                }
            }
            7 if !users.is_empty() => {
                let user = pick(&mut rng, &users);
                let _ = ops.set_suspended(&user, rng.below(2) == 0);
            }
            8 => {
                let on = rng.below(2) == 0;
                ops.set_protocol(wsconsole::domain::Protocol::Soap, on).unwrap();
            }
            _ if !users.is_empty() && step % 4 == 0 => {
                let user = pick(&mut rng, &users);
                let _ = ops.delete_user(&user);
                users.retain(|u| *u != user);
            }
            _ => {}
        }
        // The console looks now and then, as it does every 50 ms in a terminal.
        if rng.below(3) == 0 {
            c.app.tick();
        }
    }
    // Last, tokens alone (no configuration change to hide a mistake): a manual account's first
    // token makes it take part in web services, revoking its last one takes it out again.
    for name in ["late1", "late2"] {
        let new = NewUser { password: Some("Pass-word-1".into()), ..NewUser::named(name, AuthMethod::Manual) };
        ops.create_user(new).unwrap();
    }
    caught_up(&mut c);
    for name in ["late1", "late2"] {
        let new = NewToken {
            username: name.into(),
            service: "open".into(),
            name: format!("{name}-t"),
            ip_restriction: String::new(),
            valid_until: None,
        };
        ops.create_token(new).unwrap();
    }
    ops.revoke_user_tokens("late2").unwrap();
    caught_up(&mut c);
    let held = state(c.app.data().unwrap());
    assert_eq!(held, fresh(&c.store), "what the console changed in place equals a full read");
    assert_eq!(c.app.full_reads, 1, "no full read after the first: every change was applied in place");
}

#[test]
fn a_console_behind_the_feed_reads_everything_and_ends_equal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.redb");
    let mut store = Store::open(&path).unwrap();
    store.set_feed_keep(3);
    let store = Arc::new(store);
    let mut app =
        wsconsole::console::shell::Shell::new(store.clone(), false, wsconsole::console::theme::Theme { mono: true });
    app.settle();
    // More writes than the feed keeps, before the console looks again.
    let ops = Ops::new(store.clone(), "t");
    for i in 0..10 {
        ops.create_user(NewUser::named(&format!("b{i}"), AuthMethod::Webservice)).unwrap();
    }
    let start = std::time::Instant::now();
    // The full read may begin before the last write lands (the feed thread looks on its own):
    // wait for it, then for what came after it.
    let target = feed::seq(&store.read().unwrap()).unwrap();
    while app.full_reads < 2 || app.data().is_none_or(|d| d.seq < target) {
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "never read everything again");
        std::thread::sleep(std::time::Duration::from_millis(20));
        app.tick();
    }
    app.settle();
    assert_eq!(state(app.data().unwrap()), fresh(&store));
    app.handle(&crossterm::event::Event::Resize(80, 24));
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    t.draw(|f| app.draw(f)).unwrap();
    let screen: String = t.backend().buffer().content.iter().map(|c| c.symbol()).collect();
    assert!(screen.contains("fallen behind the database's change feed"), "it says so:\n{screen}");
}
