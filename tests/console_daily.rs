//! The console as an administrator's daily tool (issue 14): input is never lost, the cursor
//! tells the truth, what is shown stays current, and every screen reads at 80×24. Each test is
//! one of the items, driven by keys against a real database and read from
//! `TestBackend` frames.

mod console_harness;

use console_harness::{Console, LiveEndpoint, token_flow};
use crossterm::event::KeyCode;
use std::sync::Arc;
use wsconsole::console::screens;
use wsconsole::ops::{NewUser, Ops};
use wsconsole::store::{Queries, Store};

fn other_process(c: &Console) -> Ops {
    Ops::new(Arc::new(Store::open(c.store.path()).unwrap()), "other")
}

fn add_users(c: &mut Console, names: &[&str]) {
    let ops = Ops::new(c.store.clone(), "t");
    for name in names {
        ops.create_user(NewUser::named(name, wsconsole::domain::AuthMethod::Webservice)).unwrap();
    }
    c.ctrl('r');
}

/// The rows of a frame that hold `text`.
fn rows_with<'a>(screen: &'a str, text: &str) -> Vec<&'a str> {
    screen.lines().filter(|l| l.contains(text)).collect()
}

// 1. Ctrl-C and Esc in a form ask first; Cancel comes back to the form as it was.
#[test]
fn ctrl_c_and_esc_in_a_form_ask_and_cancel_returns_to_the_input() {
    let mut c = Console::new(false, false);
    c.keys("5n").keys("someone").ctrl('c');
    assert!(c.screen(80, 24).contains("Quit and lose what you typed?"));
    c.enter();
    let s = c.screen(80, 24);
    assert!(!c.app.quit && s.contains("Add a user") && s.contains("someone"), "Cancel (the default) returns:\n{s}");
    c.ctrl('c').key(KeyCode::Esc);
    let s = c.screen(80, 24);
    assert!(!c.app.quit && s.contains("Add a user") && s.contains("someone"), "Esc returns too:\n{s}");
    // Typing goes on where it was.
    c.keys("2");
    assert!(c.screen(80, 24).contains("someone2"));
    // Esc on a form with input asks before discarding; n keeps editing.
    c.key(KeyCode::Esc);
    assert!(c.screen(80, 24).contains("Discard what you typed in this form?"));
    c.keys("n");
    assert!(c.screen(80, 24).contains("someone2"), "{}", c.screen(80, 24));
    c.key(KeyCode::Esc).keys("y");
    assert_eq!(c.app.dialogs(), 0);
    assert_eq!(c.store.read().unwrap().user_count().unwrap(), 0, "nothing was saved");
    // A form with nothing typed closes at once.
    c.keys("n").key(KeyCode::Esc);
    assert_eq!(c.app.dialogs(), 0);
    // Ctrl-C with the form at the question's Quit button quits.
    c.keys("n").keys("x").ctrl('c').key(KeyCode::Right).enter();
    assert!(c.app.quit);
}

// 2. The cursor is drawn where insertion happens; readline keys edit and are in the help.
#[test]
fn the_cursor_is_where_typing_goes_and_readline_keys_edit() {
    let mut c = Console::new(false, false);
    c.keys("5n").keys("abcdef");
    let (x, y) = c.cursor(80, 24);
    assert!(x > 20 && y > 1, "the cursor is in the field, not at the corner: {x},{y}");
    c.key(KeyCode::Left).key(KeyCode::Left);
    assert_eq!(c.cursor(80, 24), (x - 2, y), "← moves it visibly");
    c.keys("X");
    assert!(c.screen(80, 24).contains("abcdXef"), "typed at the cursor");
    c.key(KeyCode::Home);
    assert_eq!(c.cursor(80, 24), (x - 6, y));
    c.ctrl('e');
    assert_eq!(c.cursor(80, 24), (x + 1, y), "Ctrl-E: end");
    c.ctrl('a');
    assert_eq!(c.cursor(80, 24), (x - 6, y), "Ctrl-A: start");
    c.key(KeyCode::End).ctrl('w');
    assert!(!c.screen(80, 24).contains("abcdXef"), "Ctrl-W deletes the word before the cursor");
    c.keys("one two").ctrl('w');
    assert!(c.screen(80, 24).contains("one "), "{}", c.screen(80, 24));
    c.keys("three").key(KeyCode::Left).ctrl('u');
    let s = c.screen(80, 24);
    assert!(s.contains("Username e ") && !s.contains("Username one"), "Ctrl-U deletes to the start:\n{s}");
    // F1 in a form: its keys, the readline ones among them.
    c.key(KeyCode::F(1));
    let help = c.screen(80, 24);
    for k in ["Ctrl-U", "Ctrl-W", "Home Ctrl-A", "End Ctrl-E"] {
        assert!(help.contains(k), "{k} in the form's help:\n{help}");
    }
}

// 3. The access check decides again when the data changes, and says when.
#[test]
fn the_access_check_follows_the_data() {
    let mut c = Console::new(false, false);
    token_flow(&mut c);
    c.keys("9").enter().keys("1").enter();
    let s = c.screen(80, 24);
    assert!(s.contains("PASS") && s.contains("decided"), "{s}");
    other_process(&c).set_suspended("client1", true).unwrap();
    let s = c.until("the verdict change", |s| s.contains("FAIL"));
    assert!(s.contains("User \"client1\" is suspended."), "{s}");
    // A change of this console's own, too.
    c.keys("5s9");
    assert!(c.screen(80, 24).contains("PASS"), "{}", c.screen(80, 24));
}

// 4. The username/password variant: checked with a password, test-called on simpleserver.php;
// the token field starts empty and a paste replaces it; the answer scrolls and is copied.
#[test]
fn the_password_variant_is_checked_and_test_called() {
    let mut c = Console::new(false, false);
    let token = token_flow(&mut c);
    let _endpoint = LiveEndpoint::start(&mut c);
    c.keys("9").enter().tab(1).keys("client1").tab(1).keys("Wrong-pass-1").enter();
    let s = c.screen(80, 24);
    assert!(s.contains("FAIL") && s.contains("\"Web services authentication\" plugin"), "{s}");
    c.keys("x");
    assert_eq!(c.app.screen(), screens::authentication::ID, "x goes to the fix");
    c.key(KeyCode::Char(' ')).keys("9");
    let s = c.screen(80, 24);
    assert!(s.contains("No active user \"client1\" with that password exists."), "{s}");
    c.enter().tab(2).ctrl('u').keys("Secret-pass-1").enter();
    assert!(c.screen(80, 24).contains("PASS"), "{}", c.screen(80, 24));
    c.keys("t");
    let form = c.screen(80, 24);
    assert!(form.contains("Username") && form.contains("client1") && !form.contains("Token value"), "{form}");
    c.tab(2).keys("ext_system").enter().keys("y");
    let answer = c.app.clipboard.take().unwrap_or_default();
    assert!(answer.starts_with("HTTP 200") && answer.contains("/webservice/rest/simpleserver.php"), "{answer}");
    assert!(answer.contains("\"username\": \"client1\""), "{answer}");
    // The answer pane scrolls.
    let pane = |c: &mut Console| c.screen(80, 24).lines().skip(10).take(10).collect::<Vec<_>>().join("\n");
    let top = pane(&mut c);
    c.key(KeyCode::PageDown);
    assert_ne!(pane(&mut c), top, "PgDn scrolls the answer");
    c.keys("k").key(KeyCode::PageUp);
    assert_eq!(pane(&mut c), top);
    // The token variant: the field starts empty, and a paste replaces what is there.
    c.keys("9").enter().keys("1").enter().keys("t");
    assert!(c.screen(80, 24).contains("Token value"));
    c.paste("not-the-token").paste(&token).tab(1).ctrl('u').keys("ext_system").enter().keys("y");
    let answer = c.app.clipboard.take().unwrap_or_default();
    assert!(answer.starts_with("HTTP 200") && answer.contains("\"username\": \"client1\""), "{answer}");
    c.keys("t");
    assert!(!c.screen(80, 24).contains('•'), "the token field starts empty again");
}

// 5. A new item becomes the selected row.
#[test]
fn a_new_item_becomes_the_selected_row() {
    let mut c = Console::new(false, false);
    add_users(&mut c, &["abe", "mia"]);
    c.keys("5n").keys("zed").enter();
    let s = c.screen(80, 24);
    assert!(s.contains("user zed created") && rows_with(&s, "│zed").len() == 2, "zed selected, detail shown:\n{s}");
    c.keys("6n").keys("External system").enter();
    assert!(c.screen(80, 24).contains("f adds functions"));
    c.keys("f");
    assert!(c.screen(80, 24).contains("Functions of \"External system\""), "{}", c.screen(80, 24));
    c.keys(":roles").enter().keys("n").keys("wsrole").enter().key(KeyCode::Esc).keys("e");
    assert!(c.screen(80, 24).contains("Capabilities of role wsrole"), "{}", c.screen(80, 24));
    for user in ["mia", "abe"] {
        Ops::new(c.store.clone(), "t").authorise_user("external_system", user, "", None).unwrap();
    }
    c.ctrl('r');
    c.key(KeyCode::Esc).keys("7n").keys("mia").tab(2).keys("second").enter().enter();
    c.keys("7n").keys("abe").tab(2).keys("first").enter().enter();
    let s = c.screen(80, 24);
    assert!(s.contains(" first: any IP"), "the new token is selected:\n{s}");
}

// 6. User fields complete; a short name is proposed; r without roles says what to do.
#[test]
fn usernames_complete_short_names_are_proposed_and_r_says_how() {
    let mut c = Console::new(false, false);
    add_users(&mut c, &["alice", "alina", "bob"]);
    c.keys("7n").keys("ali");
    assert!(c.screen(80, 24).contains("2 match: alice, alina"), "{}", c.screen(80, 24));
    c.key(KeyCode::Tab);
    assert!(c.screen(80, 24).contains("✓ user found"), "{}", c.screen(80, 24));
    c.key(KeyCode::Esc).keys("y").keys("7n").keys("b").key(KeyCode::Right);
    assert!(c.screen(80, 24).contains("bob"), "→ completes too");
    c.key(KeyCode::Esc).keys("y");
    c.keys("6n").keys("My App (v2)");
    assert!(c.screen(80, 24).contains("my_app_v2"), "{}", c.screen(80, 24));
    c.key(KeyCode::Esc).keys("y").keys("5r");
    let s = c.screen(80, 24);
    assert!(s.contains("No role to assign yet") && s.contains(":roles"), "{s}");
}

// 7. Every error at once, beside its field; focus on the first.
#[test]
fn every_error_shows_at_once_beside_its_field() {
    let mut c = Console::new(false, false);
    c.keys("5n").keys("Bad Name").tab(2).keys("short").tab(3).keys("not-an-address").enter();
    let s = c.screen(80, 24);
    assert_eq!(s.matches('✗').count(), 3, "username, password, e-mail:\n{s}");
    assert!(s.contains("must be lower case") && s.contains("at least 8 characters"), "{s}");
    let (_, y) = c.cursor(80, 24);
    assert!(s.lines().nth(usize::from(y)).unwrap().contains("Username"), "focus on the first error");
    // Fixing one field keeps the others' errors.
    c.ctrl('u').keys("good");
    let s = c.screen(80, 24);
    assert_eq!(s.matches('✗').count(), 2, "{s}");
}

// 8. While the terminal is too small, keys do nothing to the hidden screen.
#[test]
fn keys_do_nothing_while_the_terminal_is_too_small() {
    let mut c = Console::new(false, false);
    assert!(c.screen(79, 23).contains("needs at least 80×24"));
    c.keys("2 5n");
    assert!(!c.settings().enable_web_services);
    assert_eq!(c.app.screen(), screens::overview::ID);
    assert_eq!(c.app.dialogs(), 0);
    c.keys("q");
    assert!(c.app.quit, "q still quits");
}

// 9. The footer shows every key that applies, with what it does to the selection.
#[test]
fn the_footer_shows_the_keys_that_apply_now() {
    let mut c = Console::new(false, false);
    token_flow(&mut c);
    let footer = |c: &mut Console| c.screen(80, 24).lines().skip(20).collect::<Vec<_>>().join("\n");
    c.keys("5");
    let f = footer(&mut c);
    for k in ["n new", "e edit", "d delete", "s suspend", "r roles", "/ filter", "? help", "q quit"] {
        assert!(f.contains(k), "Users footer lacks {k}:\n{f}");
    }
    c.keys("6G");
    let f = footer(&mut c);
    assert!(f.contains("f functions") && f.contains("a users") && f.contains("Space switch off"), "{f}");
    c.keys("g");
    assert!(!footer(&mut c).contains("d delete"), "a built-in service cannot be deleted");
    c.keys("7");
    let f = footer(&mut c);
    for k in ["d revoke", "u user's", "v service's", "o sort"] {
        assert!(f.contains(k), "Tokens footer lacks {k}:\n{f}");
    }
    c.keys("2j");
    assert!(footer(&mut c).contains("Space switch on"), "maintenance is off");
    c.keys("k");
    assert!(footer(&mut c).contains("Space switch off"), "web services are on");
}

// 10. No match says so; y and n answer a question; Esc on a plain list stays.
#[test]
fn filters_questions_and_esc_say_and_do_one_thing() {
    let mut c = Console::new(false, false);
    let token = token_flow(&mut c);
    let hash = wsconsole::domain::secret::hash_token(&token);
    c.keys("7/").keys("zzz");
    assert!(c.screen(80, 24).contains("No match for \"zzz\""), "{}", c.screen(80, 24));
    c.key(KeyCode::Esc);
    c.keys("dn");
    assert!(c.store.read().unwrap().token_by_hash(&hash).unwrap().is_some(), "n answers no");
    c.key(KeyCode::Esc);
    assert_eq!(c.app.screen(), screens::tokens::ID, "Esc on a list without a filter stays");
    c.keys("dy");
    assert!(c.store.read().unwrap().token_by_hash(&hash).unwrap().is_none(), "y answers yes");
    c.keys("6Gf").key(KeyCode::Esc);
    assert_eq!(c.app.screen(), screens::services::ID, "Esc on Functions goes back to its service");
    c.keys("3");
    assert!(!c.screen(160, 48).contains("not served"), "no protocol is said to be unserved");
}

// 11. The tab bar names the screen shown.
#[test]
fn the_tab_bar_names_the_screen_shown() {
    let mut c = Console::new(false, false);
    c.keys(":roles").enter();
    let header = c.screen(80, 24).lines().next().unwrap().to_string();
    assert!(header.contains("› Roles") && !header.contains("5Users"), "{header}");
    c.keys("5");
    assert!(c.screen(80, 24).lines().next().unwrap().contains("5Users"));
}

// 12. A call shows in Tokens' last use and the Overview's "Test the service" without Ctrl-R.
#[test]
fn a_call_shows_without_a_reload() {
    let mut c = Console::new(false, false);
    let token = token_flow(&mut c);
    let endpoint = LiveEndpoint::start(&mut c);
    assert!(c.keys("7").screen(80, 24).contains("never"));
    let url = format!(
        "{}/webservice/rest/server.php?wstoken={token}&wsfunction=core_webservice_get_site_info&moodlewsrestformat=json",
        endpoint.base
    );
    let status = ureq::get(&url).call().unwrap().status();
    assert_eq!(status.as_u16(), 200);
    let today = wsconsole::domain::time::format_time(wsconsole::store::now())[..10].to_string();
    let s = c.until("the last use", |s| rows_with(s, "client1").iter().any(|r| r.contains(&today)));
    assert!(!s.contains("never"), "{s}");
    c.keys("1");
    assert!(c.screen(80, 24).contains("last call"), "{}", c.screen(80, 24));
}

// 13. Saving a role's capabilities is one audit entry, never an empty one.
#[test]
fn saving_capabilities_writes_one_audit_entry() {
    let mut c = Console::new(false, false);
    let audit = |c: &Console| c.store.read().unwrap().audit_entries("", 100).unwrap();
    c.keys(":roles").enter().keys("n").keys("r1").enter();
    c.keys("rest:use").key(KeyCode::Char(' ')).key(KeyCode::Backspace);
    for _ in 0..8 {
        c.key(KeyCode::Backspace);
    }
    c.keys("soap:use").key(KeyCode::Char(' ')).enter();
    let entries = audit(&c);
    let changes: Vec<_> = entries.iter().filter(|e| e.target == "r1" && e.operation != "create role").collect();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(changes[0].summary.contains("+webservice/rest:use") && changes[0].summary.contains("+webservice/soap:use"));
    c.keys("e").enter();
    assert!(c.screen(80, 24).contains("nothing changed"));
    assert_eq!(audit(&c).len(), entries.len(), "no empty entry");
}

// 14. At 80×24 nothing an administrator reads is cut.
#[test]
fn nothing_an_administrator_reads_is_cut_at_80x24() {
    let mut c = Console::new(false, false);
    let token = token_flow(&mut c);
    let endpoint = LiveEndpoint::start(&mut c);
    let url = format!(
        "{}/webservice/rest/server.php?wstoken={token}&wsfunction=core_webservice_get_site_info&moodlewsrestformat=json",
        endpoint.base
    );
    ureq::get(&url).call().unwrap();
    let now = wsconsole::domain::time::format_time(wsconsole::store::now());
    let day = &now[..10];
    // Logs: the full time, the IP and the outcome.
    c.keys("8");
    let s = c.until("the call logged", |s| s.contains("core_webservice"));
    let row = rows_with(&s, "127.0.0.1")[0];
    assert!(row.contains(day) && row.contains(':') && row.contains(" ok"), "{row}");
    // Services: every header.
    let s = c.keys("6").screen(80, 24);
    for h in ["Name", "Short name", "Kind", "On", "Users", "Functions", "Site"] {
        assert!(rows_with(&s, "Short name")[0].contains(h), "{h}:\n{s}");
    }
    // Tokens: the service and the last use, date and time.
    let s = c.keys("7").screen(80, 24);
    let row = rows_with(&s, "client1")[0];
    assert!(row.contains("External system") && row.contains(day) && row.matches(':').count() >= 1, "{row}");
    // The status line wraps rather than cuts.
    let s = c.keys("6").screen(80, 24);
    assert!(s.contains("step 5 Select a service") || s.contains("walkthrough:"), "{s}");
    let status: String = s.lines().skip(21).take(2).collect::<Vec<_>>().join(" ");
    assert!(!status.trim_end().ends_with('…'), "{status}");
    // The Overview: both flows and "This step".
    let s = c.keys("1g").screen(80, 24);
    assert!(s.contains("Users as clients with token") && s.contains("This step"), "{s}");
    // Help: one key per line, text that does not run into the next.
    let s = c.keys("7?").screen(80, 24);
    assert!(rows_with(&s, "revoke every token of this user").len() == 1, "{s}");
    assert!(rows_with(&s, "u ").iter().any(|r| r.contains("revoke every token of this user")), "{s}");
    c.key(KeyCode::Esc);
    // The access check's fix line, whole words under an indent.
    other_process(&c).unauthorise_user("ext_system", "client1").unwrap();
    c.ctrl('r').keys("9").enter().keys("1").enter();
    let s = c.screen(80, 24);
    assert!(s.contains("Fix it in:") && s.contains("(x goes there)"), "{s}");
}

// 15. The palette filters as you type, completes, and runs actions.
#[test]
fn the_palette_filters_completes_and_runs_actions() {
    let mut c = Console::new(false, false);
    c.keys(":").keys("tok");
    let s = c.screen(80, 24);
    assert!(s.contains("go to Tokens") && !s.contains("go to Users"), "{s}");
    c.key(KeyCode::Tab).enter();
    assert_eq!(c.app.screen(), screens::tokens::ID);
    c.keys("1:").keys("new t").enter();
    let s = c.screen(80, 24);
    assert_eq!(c.app.screen(), screens::tokens::ID);
    assert!(s.contains("Create a token"), "{s}");
    c.key(KeyCode::Esc);
    c.keys(":").keys("nosuch").enter();
    assert!(c.screen(80, 24).contains("no screen or action called \"nosuch\""));
    c.key(KeyCode::Esc).keys("?");
    assert!(c.screen(80, 24).contains("command palette"));
    c.key(KeyCode::Esc).keys(":q").enter();
    assert!(c.app.quit);
}

// Keys typed while a change is read back, or while what they act on is read, wait in order
// and act on what was read: none is lost, none acts on a stale row.
#[test]
fn keys_typed_during_a_read_wait_and_act_on_it() {
    let mut c = Console::new(false, false);
    token_flow(&mut c);
    // Straight after a write (its reread in flight), then straight into Users (its page in flight).
    c.burst("2j 5r");
    assert!(c.settings().maintenance, "the write ran");
    let s = c.screen(80, 24);
    assert!(s.contains("Roles of client1") && s.contains("[x] wsrole"), "r acted on the user read:\n{s}");
}
