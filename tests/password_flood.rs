//! Password checks under concurrency, over real HTTP: a burst of guesses from one address gets
//! no more checks than the failure limit, whatever arrives at once; and a flood from one
//! address cannot hold up a login from another (the pool serves addresses in turn).

mod common;

use common::*;
use std::sync::Barrier;
use std::time::{Duration, Instant};

const LOGIN: &str = "/login/token.php";

/// Sends `n` logins at once, all wrong but the one at `right`; returns (status, body) each.
fn burst(server: &Server, path: &str, n: usize, right: usize) -> Vec<(u16, String)> {
    let barrier = Barrier::new(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let barrier = &barrier;
                s.spawn(move || {
                    let password = if i == right { "Wsuser-1234!" } else { "wrong" };
                    barrier.wait();
                    let r = if path == LOGIN {
                        post_form(&server.url(LOGIN), &format!("username=wsuser&password={password}&service=testsvc"))
                    } else {
                        get(&server.url(&format!(
                            "{path}?wsusername=wsuser&wspassword={password}&wsfunction=core_webservice_get_site_info&moodlewsrestformat=json"
                        )))
                    };
                    assert!(r.status != 429 || r.header("retry-after").is_some(), "429 without Retry-After");
                    (r.status, r.body)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn a_burst_of_guesses_gets_no_more_checks_than_the_limit() {
    for path in [LOGIN, "/webservice/rest/simpleserver.php"] {
        let server = Server::start(fixture_site);
        let answers = burst(&server, path, 300, 250);
        // Every answer that is not a 429 had its password checked.
        let checked = answers.iter().filter(|(status, _)| *status != 429).count();
        let refused = answers.len() - checked;
        assert!(checked <= 20, "{path}: {checked} passwords checked of 300 sent at once (limit 20)");
        assert!(refused >= 280, "{path}: {refused} refused");
        assert!(answers.iter().all(|(s, _)| [200, 429].contains(s)), "{path}: only answers or 429");
        // Guesses one at a time are checked until the wrong ones of the window reach 20, then
        // even the right password is refused without a check.
        let right_checked = usize::from(answers[250].0 != 429);
        let mut more = 0;
        while burst(&server, path, 1, usize::MAX)[0].0 != 429 {
            more += 1;
            assert!(more <= 20, "{path}: more than 20 checks in the window");
        }
        assert_eq!(checked - right_checked + more, 20, "{path}: exactly the limit of wrong guesses was checked");
        assert_eq!(burst(&server, path, 1, 0)[0].0, 429, "{path}");
    }
}

#[test]
fn a_flood_from_one_address_does_not_hold_up_another() {
    // The failure throttle off, so that every guess of the flood is a password check: only
    // the pool's turns stand between the flood and the other address.
    let config = wsconsole::endpoint::Config { failure_limit: 0, ..Default::default() };
    let server = Server::start_with(config, |ops| {
        fixture_site(ops);
        ops.set_setting("trustedproxies", "127.0.0.1").unwrap();
    });
    let login_from = |addr: &str, password: &str| {
        let started = Instant::now();
        let mut r = agent()
            .post(&server.url(LOGIN))
            .header("X-Forwarded-For", addr)
            .content_type("application/x-www-form-urlencoded")
            .send(format!("username=wsuser&password={password}&service=testsvc"))
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default(), started.elapsed())
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (flood_checked, flood_refused, legit) = std::thread::scope(|s| {
        let flood: Vec<_> = (0..100)
            .map(|_| {
                s.spawn(|| {
                    let (mut checked, mut refused) = (0, 0);
                    for _ in 0..200 {
                        if stop.load(std::sync::atomic::Ordering::Relaxed) {
                            break;
                        }
                        match login_from("10.0.0.1", "wrong").0 {
                            429 => refused += 1,
                            _ => checked += 1,
                        }
                    }
                    (checked, refused)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(500));
        let legit = login_from("10.0.0.2", "Wsuser-1234!");
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (c, r) = flood.into_iter().map(|h| h.join().unwrap()).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        (c, r, legit)
    });
    let (status, body, waited) = legit;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"token\""), "{body}");
    // A hundred guesses at once would take seconds of checks in one queue; in turns, the
    // other address waits about one check. The bound is loose for a shared machine.
    assert!(waited < Duration::from_secs(2), "the login from another address waited {waited:?}");
    assert!(flood_checked > 0, "the flood's checks ran");
    assert!(flood_refused > 0, "the flooding address was held to its share of the queue");
}
