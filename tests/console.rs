//! The console in process: scripted key events against a real database, then assertions on the
//! database and on `TestBackend` renders of every screen (80×24 and 160×48, both themes).

mod console_harness;

use console_harness::{Console, LiveEndpoint, token_flow};
use crossterm::event::KeyCode;
use ratatui::style::Color;
use std::sync::Arc;
use wsconsole::console::effect::Effect;
use wsconsole::console::screens;
use wsconsole::domain::Protocol;
use wsconsole::store::{Queries, Store, TokenQuery};

#[test]
fn the_whole_token_flow_by_keys_then_revoke_with_a_default_of_cancel() {
    let mut c = Console::new(false, false);
    let token = token_flow(&mut c);
    let v = c.store.read().unwrap();
    let hash = wsconsole::domain::secret::hash_token(&token);
    let t = v.token_by_hash(&hash).unwrap().expect("the token shown is the stored one");
    assert!(t.valid_until.is_some(), "30 days by default");
    drop(v);
    // The access check agrees.
    c.keys("9").enter().keys(&t.id.to_string()).enter();
    assert!(c.screen(80, 24).contains("PASS"), "{}", c.screen(80, 24));

    // Revoke: Enter on the dialog's default (Cancel) keeps the token.
    c.keys("7d");
    assert!(c.screen(80, 24).contains("Revoke token"));
    c.enter();
    assert!(c.store.read().unwrap().token_by_hash(&hash).unwrap().is_some(), "Cancel is the default");
    c.keys("d").key(KeyCode::Right).enter();
    assert!(c.store.read().unwrap().token_by_hash(&hash).unwrap().is_none(), "revoked");
    c.keys("9").enter().enter();
    let s = c.screen(80, 24);
    assert!(s.contains("FAIL") && s.contains("does not exist"), "{s}");
}

#[test]
fn bulk_revocation_needs_the_name_typed() {
    let mut c = Console::new(false, false);
    token_flow(&mut c);
    c.keys("7n").keys("client1").enter().enter();
    let count = |c: &Console| c.store.read().unwrap().list_tokens(&TokenQuery::default()).unwrap().total;
    assert_eq!(count(&c), 2);
    c.keys("u").keys("client").enter();
    assert!(c.screen(80, 24).contains("type client1 exactly"));
    assert_eq!(count(&c), 2);
    c.keys("1").enter();
    assert_eq!(count(&c), 0, "{}", c.screen(80, 24));
}

#[test]
fn a_refused_form_keeps_every_input_and_shows_the_error_in_place() {
    let mut c = Console::new(false, false);
    c.keys("5n").keys("Bad Name").tab(2).keys("pw").tab(1).keys("Ada").enter();
    let s = c.screen(80, 24);
    assert!(s.contains("Bad Name") && s.contains("Ada"), "{s}");
    assert!(s.contains('✗'), "an error beside the field: {s}");
    assert_eq!(c.store.read().unwrap().user_count().unwrap(), 0);
    // Token form: the IP restriction is checked as it is typed.
    c.key(KeyCode::Esc).keys("y").keys("7n").tab(3).keys("10.0.0.300");
    assert!(c.screen(80, 24).contains('✗'), "{}", c.screen(80, 24));
}

#[test]
fn filter_narrows_the_token_list_and_esc_clears_it() {
    let mut c = Console::new(false, false);
    token_flow(&mut c);
    c.keys("7n").keys("client1").tab(2).keys("deploy-bot").enter().enter();
    c.keys("/").keys("deploy").enter();
    let s = c.screen(160, 48);
    assert!(s.contains("deploy-bot") && s.contains("Tokens: 1 of 2"), "{s}");
    c.key(KeyCode::Esc);
    assert!(c.screen(160, 48).contains("Tokens: 2 of 2"));
}

#[test]
fn read_only_offers_no_write() {
    let mut c = Console::new(true, false);
    c.keys("2 ");
    assert!(!c.settings().enable_web_services);
    c.keys("5n");
    assert_eq!(c.app.dialogs(), 0);
    // The test client sends no call that writes.
    c.keys("9").enter().tab(4).key(KeyCode::Right).key(KeyCode::Right).key(KeyCode::Right).enter();
    assert!(c.screen(80, 24).contains("Function: core_user_create_users"), "{}", c.screen(80, 24));
    c.keys("t");
    assert!(c.app.dialogs() == 0 && c.screen(80, 24).contains("read-only: the test client"), "{}", c.screen(80, 24));
    c.keys("1");
    c.key(KeyCode::Char('?'));
    let help = c.screen(80, 24);
    assert!(!help.lines().any(|l| l.starts_with("│n ")) && help.contains("quit"), "no n in the help: {help}");
    assert!(c.screen(80, 24).contains("READ-ONLY"));
}

#[test]
fn ctrl_c_asks_first_when_a_form_has_input() {
    let mut c = Console::new(false, false);
    c.keys("5n").keys("someone").ctrl('c');
    assert!(!c.app.quit && c.screen(80, 24).contains("Quit and lose"));
    c.enter();
    assert!(!c.app.quit, "Cancel is the default");
    c.ctrl('c').key(KeyCode::Right).enter();
    assert!(c.app.quit);
    let mut c = Console::new(false, false);
    c.keys("q");
    assert!(c.app.quit);
}

#[test]
fn every_screen_renders_at_both_sizes_in_both_themes() {
    for mono in [false, true] {
        let mut c = Console::new(false, mono);
        token_flow(&mut c);
        for screen in screens::all() {
            let meta = screen.meta();
            c.app.apply(vec![Effect::Go(meta.id)]);
            if meta.id == screens::service_functions::ID || meta.id == screens::authorised_users::ID {
                c.keys("6G").keys(if meta.id == screens::service_functions::ID { "f" } else { "a" });
            }
            let screen = meta.id;
            for (w, h) in [(80, 24), (160, 48)] {
                let s = c.screen(w, h);
                let title_word = meta.title.split(' ').next().unwrap();
                assert!(s.contains(title_word), "{screen:?} {w}×{h} mono={mono}:\n{s}");
                assert!(s.contains("q quit") || s.contains("quit"), "{screen:?} footer:\n{s}");
                if mono {
                    let coloured = c.colours(w, h).into_iter().any(|col| col != Color::Reset);
                    assert!(!coloured, "{screen:?} uses colour under NO_COLOR");
                }
            }
        }
        let s = c.screen(79, 23);
        assert!(s.contains("needs at least 80×24"), "{s}");
    }
}

#[test]
fn another_process_change_shows_without_a_key() {
    let mut c = Console::new(false, false);
    let other = wsconsole::ops::Ops::new(Arc::new(Store::open(c.store.path()).unwrap()), "other");
    other.set_web_services(true).unwrap();
    // The console polls its change count once a second.
    let start = std::time::Instant::now();
    while !c.app.data().unwrap().settings.enable_web_services {
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "change never seen");
        std::thread::sleep(std::time::Duration::from_millis(100));
        c.app.tick();
    }
}

#[test]
fn users_filter_suspend_and_delete_with_cancel_first() {
    let mut c = Console::new(false, false);
    let ops = wsconsole::ops::Ops::new(c.store.clone(), "t");
    for name in ["alice", "bob", "bobby"] {
        ops.create_user(wsconsole::ops::NewUser {
            email: format!("{name}@example.com"),
            ..wsconsole::ops::NewUser::named(name, wsconsole::domain::AuthMethod::Webservice)
        })
        .unwrap();
    }
    c.ctrl('r');
    c.keys("5/").keys("bob").enter();
    let s = c.screen(80, 24);
    assert!(s.contains("Users (2)") && s.contains("bobby") && !s.contains("alice"), "{s}");
    // The detail pane flags the missing capability of an enabled protocol.
    c.keys("2 3 5");
    assert!(c.screen(160, 48).contains("webservice/rest:use ✗ missing"), "{}", c.screen(160, 48));
    c.keys("s");
    let user = |c: &Console, n: &str| c.store.read().unwrap().user_by_username(n).unwrap();
    assert!(user(&c, "bob").unwrap().suspended);
    c.keys("d").enter();
    assert!(user(&c, "bob").is_some(), "Cancel is the default");
    c.keys("d").key(KeyCode::Right).enter();
    assert!(user(&c, "bob").is_none(), "deleted: the username is free again");
    assert!(user(&c, "bobby").is_some() && user(&c, "alice").is_some());
}

/// The test client sends the access check's call in the check's protocol to a real endpoint.
#[test]
fn the_test_client_speaks_every_protocol_of_the_check() {
    let mut c = Console::new(false, false);
    let token = token_flow(&mut c);
    // An endpoint on the same database, at the site URL the console sends to.
    let _endpoint = LiveEndpoint::start(&mut c);
    let ops = wsconsole::ops::Ops::new(c.store.clone(), "test");
    for p in [Protocol::Soap, Protocol::Xmlrpc, Protocol::Amf] {
        ops.set_protocol(p, true).unwrap();
    }
    let caps = ["webservice/soap:use".into(), "webservice/xmlrpc:use".into(), "webservice/amf:use".into()];
    ops.set_role_capabilities("wsrole", &caps, true).unwrap();
    c.ctrl('r');
    let id = c.store.read().unwrap().token_by_hash(&wsconsole::domain::secret::hash_token(&token)).unwrap().unwrap().id;
    // Protocols in the check form's order: rest, soap, xmlrpc, amf.
    for (steps, marker) in [
        (0, "\"username\": \"client1\""),
        (1, "<username xsi:type=\"xsd:string\">client1</username>"),
        (1, "<name>username</name><value><string>client1</string></value>"),
        (1, "/1/onResult\n{\n  \"sitename\""),
    ] {
        c.keys("9").enter();
        if steps == 0 {
            c.keys(&id.to_string());
        }
        c.tab(3);
        for _ in 0..steps {
            c.key(KeyCode::Right);
        }
        c.enter();
        assert!(c.screen(80, 24).contains("PASS"), "{}", c.screen(80, 24));
        // The token field starts empty each time; the call's one list parameter, filled in
        // REST's bracket form, is kept for the next call.
        c.keys("t").keys(&token);
        if steps == 0 {
            c.tab(1).keys("ext_system");
        }
        c.enter();
        // y copies the answer: what the pane shows, whole.
        c.keys("y");
        let response = c.app.clipboard.take().unwrap_or_default();
        assert!(response.starts_with("HTTP 200"), "{response}");
        assert!(response.contains(marker), "{response}");
    }
}

#[test]
fn the_documentation_shows_each_protocols_form() {
    let mut c = Console::new(false, false);
    c.keys("0");
    let s = c.screen(160, 48);
    for form in [
        "REST (POST)",
        "XML-RPC (POST …/webservice/xmlrpc/server.php?wstoken=…)",
        "SOAP (POST …/webservice/soap/server.php?wstoken=…)",
        "AMF (POST …/webservice/amf/server.php?wstoken=…)",
    ] {
        assert!(s.contains(form), "{form} missing:\n{s}");
    }
    assert!(s.contains("<ns1:core_webservice_get_site_info><serviceshortnames>…</serviceshortnames>"), "{s}");
    // The end of a long answer description is a page or two down.
    assert!(!c.screen(80, 24).contains("usersessionscount"));
    for _ in 0..8 {
        c.key(KeyCode::PageDown);
    }
    assert!(c.screen(80, 24).contains("usersessionscount"), "paging scrolls site info's documentation");
    c.key(KeyCode::Down);
    assert!(c.screen(80, 24).contains("Documentation (PgDn for more)"), "another function starts at its top");
}

#[test]
fn the_site_name_and_url_are_edited_on_advanced_features() {
    let mut c = Console::new(false, false);
    c.keys("2e").tab(1);
    for _ in 0..40 {
        c.key(KeyCode::Backspace);
    }
    // A bad address is refused beside its field, and what was typed stays.
    c.keys("ftp://x").enter();
    let s = c.screen(80, 24);
    assert!(s.contains("is not an http:// or https:// URL"), "{s}");
    assert!(s.contains("ftp://x"), "{s}");
    assert_eq!(c.settings().site_url, "http://127.0.0.1:8080");
    for _ in 0..7 {
        c.key(KeyCode::Backspace);
    }
    c.keys("https://ws.example.com/").enter();
    assert_eq!(c.settings().site_url, "https://ws.example.com");
    assert!(c.screen(80, 24).contains("site URL https://ws.example.com"), "{}", c.screen(80, 24));
}

#[test]
fn manual_accounts_are_always_enabled_without_a_switch() {
    let mut c = Console::new(false, false);
    c.keys("4");
    let s = c.screen(80, 24);
    assert!(s.contains("Manual accounts                   always on"), "{s}");
    assert!(s.contains("No login                          always on"), "{s}");
    // Space switches the one optional plugin, web services authentication.
    c.key(KeyCode::Char(' '));
    let settings = c.settings();
    assert!(settings.auth_enabled(wsconsole::domain::AuthPlugin::Webservice));
    assert!(settings.auth_enabled(wsconsole::domain::AuthPlugin::Manual));
}

#[test]
fn the_overview_shows_the_endpoints_site_url_warning() {
    let mut c = Console::new(false, false);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = listener.local_addr().unwrap();
    let warning = c.start_endpoint_once(listener);
    assert!(warning.as_deref().is_some_and(|w| w.contains("does not point at this endpoint")), "{warning:?}");
    c.ctrl('r');
    let s = c.screen(80, 24);
    assert!(s.contains(&format!("⚠ siteurl does not lead to the endpoint on {listen}")), "{s}");
    let s = c.keys("2").screen(160, 48);
    assert!(s.contains("warned at its start"), "{s}");
    // Fixed in the console: the Overview says the warning is from before the change.
    c.keys("e").tab(1);
    for _ in 0..40 {
        c.key(KeyCode::Backspace);
    }
    c.keys(&format!("http://{listen}")).enter().keys("1");
    assert!(c.screen(80, 24).contains("⚠ siteurl (changed since) does not lead"), "{}", c.screen(80, 24));
}
