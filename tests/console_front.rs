//! The console's side of fronting a Moodle site (issue 17): on External services `m` links a
//! service to the site (URL, a masked site token, calls a minute) and `s` syncs it; the
//! function picker marks the site's functions; the Overview's "Front a Moodle site" flow
//! follows each step live. The site is a real endpoint over the fixtures' database.

mod common;
mod console_harness;

use console_harness::{Console, LiveEndpoint};
use crossterm::event::KeyCode;
use wsconsole::store::Queries;

fn front_step(screen: &str, title: &str) -> String {
    screen.lines().find(|l| l.contains(title)).unwrap_or_else(|| panic!("no step {title}:\n{screen}")).to_string()
}

#[test]
fn a_service_is_linked_synced_and_given_the_site_s_functions_by_keys() {
    let site = common::Server::start(common::fixture_site);
    let mut c = Console::new(false, false);
    // The flow is there from the start, optional.
    let s = c.screen(160, 48);
    assert!(s.contains("Front a Moodle site (optional)"), "{s}");
    assert!(front_step(&s, "Set the Moodle site's URL").contains("Not set (optional)"), "{s}");

    // A custom service, then its link: the site's URL and the token, typed in a masked field.
    c.keys("6n").keys("Front").enter();
    assert!(c.screen(80, 24).contains("service \"Front\" created"));
    c.keys("m");
    let s = c.screen(100, 30);
    assert!(s.contains("Moodle site behind \"Front\"") && s.contains("its wwwroot, for every service"), "{s}");
    c.keys(&site.base).tab(1);
    assert!(c.screen(100, 30).contains("a Moodle account's token; never shown again"));
    c.keys(common::T);
    let s = c.screen(100, 30);
    assert!(!s.contains(common::T), "the token is masked as it is typed:\n{s}");
    c.enter();
    let v = c.store.read().unwrap();
    let service = v.service_by_shortname("front").unwrap().unwrap();
    let link = v.upstream(service.id).unwrap().expect("linked");
    assert!(link.credential.is_some());
    assert_eq!(Queries::settings(&v).unwrap().upstream.url, site.base);
    drop(v);
    let s = c.screen(160, 48);
    assert!(s.contains("site token saved: s syncs"), "{s}");
    // The next key clears the message: the status line says what the link holds.
    let s = c.keys("j").screen(160, 48);
    assert!(s.contains("unsynced") && s.contains("not synced yet") && s.contains("token set"), "{s}");
    assert!(!s.contains(common::T), "{s}");

    // The form again: the token is never shown, only when it was set; a bad one is refused in
    // place and nothing changes.
    c.keys("m").tab(1);
    let s = c.screen(100, 30);
    assert!(s.contains("; empty keeps it") && !s.contains(common::T), "{s}");
    c.keys("not a token!").enter();
    assert!(c.screen(100, 30).contains('✗'), "{}", c.screen(100, 30));
    c.key(KeyCode::Esc).keys("y");

    // Sync, in the background: the site's answer comes back to the screen.
    c.keys("s");
    let s = c.until("the sync", |s| s.contains("Oracle Site"));
    assert!(s.contains("front: Oracle Site"), "{s}");
    c.keys("j");
    c.until_at((160, 48), "the sync recorded", |s| s.contains("4 fn") && s.contains("as wsuser, 4 functions"));

    // The picker marks the site's functions; one is added.
    c.keys("f").keys("n");
    let s = c.screen(160, 48);
    assert!(s.contains("core_user_get_users_by_field") && s.contains("the site's · "), "{s}");
    assert!(!s.contains("core_user_update_users"), "only what the site offers the service:\n{s}");
    c.keys("by_field").key(KeyCode::Char(' ')).enter();
    let v = c.store.read().unwrap();
    assert_eq!(v.service_function_names(service.id).unwrap(), ["core_user_get_users_by_field"]);
    drop(v);

    // The Overview follows: URL, token, sync and functions done; the test call not yet.
    c.key(KeyCode::Esc).keys("1");
    let s = c.screen(160, 48);
    assert!(front_step(&s, "Set the Moodle site's URL").contains(&site.base), "{s}");
    assert!(front_step(&s, "Give a service a site token").contains("service front"), "{s}");
    assert!(front_step(&s, "Sync with the site").contains("Oracle Site"), "{s}");
    assert!(front_step(&s, "Add the site's functions").contains("1 of the site's functions listed"), "{s}");
    assert!(front_step(&s, "Test a call through the site").contains("No call through yet"), "{s}");

    // A call through the front (its endpoint on the console's database): the last step turns
    // done without a key.
    let front = LiveEndpoint::start(&mut c);
    let ops = wsconsole::ops::Ops::new(c.store.clone(), "test");
    ops.set_settings(&[("enablewebservices", "1"), ("webserviceprotocols", "rest")]).unwrap();
    ops.create_user(wsconsole::ops::NewUser::named("caller", wsconsole::domain::AuthMethod::Webservice)).unwrap();
    ops.create_role("client", "Client", &["webservice/rest:use".to_string()]).unwrap();
    ops.set_role_assignment("client", "caller", true).unwrap();
    let open = wsconsole::ops::ServiceEdit { restricted_users: Some(false), ..Default::default() };
    ops.edit_service("front", open).unwrap();
    let token = ops
        .create_token(wsconsole::ops::NewToken {
            username: "caller".into(),
            service: "front".into(),
            ..Default::default()
        })
        .unwrap()
        .value;
    let reply = common::get(&format!(
        "{}/webservice/rest/server.php?wstoken={token}&wsfunction=core_user_get_users_by_field&moodlewsrestformat=json&field=username&values[0]=wsuser",
        front.base
    ));
    assert!(reply.body.starts_with("[{\"id\":"), "{}", reply.body);
    c.keys("1");
    c.until_at((160, 48), "the call through", |s| {
        front_step(s, "Test a call through the site").contains("last call through")
    });
}
