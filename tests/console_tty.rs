//! The real binary in a real terminal (tmux at 80×24): both of Moodle's set-up flows from an
//! empty database by keys alone ("external system": the token copied from the screen and used
//! over HTTP against a running `wsconsole serve`, then revoked in the console; "users as
//! clients with token": an open service, a user logging in through login/token.php), a Ctrl-C
//! cancelled in the middle of a form, the username/password variant checked and test-called;
//! "Front a Moodle site" with a second endpoint as the site; and the terminal given back intact
//! on quit and on SIGTERM. `.ci/run` installs tmux.

mod common;

use common::{Endpoint, get, post_form};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One tmux server of our own (its own socket), killed on drop.
struct Tmux {
    socket: String,
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
}

impl Tmux {
    fn start(name: &str) -> Tmux {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ws.redb");
        let socket = format!("wsconsole-test-{}-{name}", std::process::id());
        let shell = format!("{} --db {}; echo EXITED=$?; sleep 60", env!("CARGO_BIN_EXE_wsconsole"), db.display());
        let t = Tmux { socket, _dir: dir, db };
        let ok = t.cmd(&["new-session", "-d", "-x", "80", "-y", "24", "-s", "t", &shell]);
        assert!(ok, "tmux must be installed for this test (apt-get install -y tmux)");
        t.cmd(&["set-option", "-s", "set-clipboard", "on"]);
        t
    }

    fn cmd(&self, args: &[&str]) -> bool {
        Command::new("tmux").args(["-L", &self.socket]).args(args).status().is_ok_and(|s| s.success())
    }

    fn out(&self, args: &[&str]) -> String {
        let o = Command::new("tmux").args(["-L", &self.socket]).args(args).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.out(&["capture-pane", "-p", "-t", "t"])
    }

    /// Named keys (`Enter`, `Tab`, `Space`, `Right`, `Escape`).
    fn keys(&self, keys: &[&str]) -> &Self {
        for k in keys {
            assert!(self.cmd(&["send-keys", "-t", "t", k]));
            std::thread::sleep(Duration::from_millis(40));
        }
        self
    }

    /// Literal text, one character at a time as a person types.
    fn text(&self, text: &str) -> &Self {
        assert!(self.cmd(&["send-keys", "-t", "t", "-l", text]));
        std::thread::sleep(Duration::from_millis(60));
        self
    }

    fn wait_for(&self, what: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            assert!(start.elapsed() < Duration::from_secs(15), "never saw {what:?}; the screen:\n{s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // The server may be gone already (a test that drops the terminal kills it itself).
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).stderr(Stdio::null()).status();
    }
}

fn site_info(base: &str, token: &str) -> serde_json::Value {
    get(&format!(
        "{base}/webservice/rest/server.php?wstoken={token}&wsfunction=core_webservice_get_site_info&moodlewsrestformat=json"
    ))
    .json()
}

#[test]
fn the_whole_external_system_flow_by_keys_in_a_real_terminal() {
    let t = Tmux::start("flow");
    t.wait_for("Enable web services");
    // 1. Overview step 1 → Advanced features; 2. Protocols → REST.
    t.keys(&["Enter"]).wait_for("Advanced features");
    t.keys(&["Space"]).wait_for("[x] Enable web services");
    t.keys(&["3", "Space"]).wait_for("[x] REST protocol");
    // 3. A user; a Ctrl-C in the middle of the form is cancelled and nothing typed is lost.
    t.keys(&["5", "n"]).wait_for("Add a user");
    t.text("client").keys(&["C-c"]).wait_for("Quit and lose what you typed?");
    t.keys(&["Enter"]).wait_for("Username client ");
    t.text("1").keys(&["Tab", "Tab"]).text("Secret-pass-1").keys(&["Enter"]).wait_for("user client1 created");
    // 4. A role with webservice/rest:use, assigned to the user.
    t.keys(&[":"]).text("roles").keys(&["Enter"]).wait_for("Roles");
    t.keys(&["n"]).text("wsrole").keys(&["Enter"]).wait_for("Capabilities of role wsrole");
    t.text("rest:use").keys(&["Space", "Enter"]).wait_for("role wsrole: 1 added");
    t.keys(&["5", "r"]).wait_for("Roles of client1");
    t.keys(&["Space", "Enter"]).wait_for("1 roles assigned");
    // 5. A custom service with site info; the user authorised.
    t.keys(&["6", "n"]).text("External system").keys(&["Tab", "C-u"]).text("ext_system").keys(&["Enter"]);
    t.wait_for("service \"External system\" created");
    t.keys(&["G", "f"]).text("site_info").keys(&["Space", "Enter"]).wait_for("1 functions added");
    t.keys(&["6", "G", "a", "n"]).text("client1").wait_for("user found");
    t.keys(&["Enter"]).wait_for("client1 authorised");
    // 6. The token, copied from the screen.
    t.keys(&["7", "n"]).text("client1").keys(&["Enter"]);
    let shown = t.wait_for("will not be shown again");
    let token = shown
        .split(|c: char| !c.is_ascii_hexdigit())
        .find(|w| w.len() == 32)
        .expect("the token is on the screen")
        .to_string();
    t.keys(&["y"]).wait_for("copied (OSC 52)");
    assert_eq!(t.out(&["show-buffer"]).trim(), token, "y put the token on the clipboard through tmux");
    t.keys(&["Enter"]).wait_for("it is not shown again");

    // The endpoint, as its own process on the same file: the token works.
    let endpoint = Endpoint::spawn(&t.db);
    let info = site_info(&endpoint.base, &token);
    assert_eq!(info["username"], "client1", "{info}");
    assert_eq!(info["functions"][0]["name"], "core_webservice_get_site_info");

    // Revoked in the console: the very next call fails.
    t.keys(&["d"]).wait_for("[ Revoke ]");
    t.keys(&["Right", "Enter"]).wait_for("revoked");
    let after = site_info(&endpoint.base, &token);
    assert_eq!(after["errorcode"], "invalidtoken", "{after}");

    // "Users as clients with token": a manual account with the role, an open service with the
    // function, and the role allowed to create tokens; the user logs in through login/token.php.
    t.keys(&["5", "n"]).text("student1").keys(&["Tab", "Left", "Tab"]).text("Student-pass-1").keys(&["Enter"]);
    t.wait_for("user student1 created");
    t.keys(&["r"]).wait_for("Roles of student1");
    t.keys(&["Space", "Enter"]).wait_for("1 roles assigned");
    t.keys(&["6", "n"]).text("Open service").keys(&["Tab", "Tab", "Tab", "Space", "Enter"]);
    t.wait_for("service \"Open service\" created");
    t.keys(&["f", "n"]).text("site_info").keys(&["Space", "Enter"]).wait_for("1 functions added to open_service");
    t.keys(&[":"]).text("roles").keys(&["Enter"]).wait_for("Roles");
    t.keys(&["G", "e"]).wait_for("Capabilities of role wsrole");
    t.text("createtoken").keys(&["Space", "Enter"]).wait_for("role wsrole: 1 added");
    t.keys(&["1"]).wait_for("Users as clients with token");
    let login = post_form(
        &format!("{}/login/token.php", endpoint.base),
        "username=student1&password=Student-pass-1&service=open_service",
    );
    let issued: serde_json::Value = login.json();
    let user_token = issued["token"].as_str().unwrap_or_else(|| panic!("{issued}")).to_string();
    assert_eq!(site_info(&endpoint.base, &user_token)["username"], "student1");

    // The username/password variant: web services authentication on, checked, then sent by
    // the test client to simpleserver.php at the site URL.
    t.keys(&["2", "e", "Tab", "C-u"]).text(&endpoint.base).keys(&["Enter"]).wait_for("saved");
    t.keys(&["4", "Space"]).wait_for("Web services authentication: on");
    t.keys(&["9", "Enter"]).wait_for("Access check");
    t.keys(&["Tab"]).text("client1").keys(&["Tab"]).text("Secret-pass-1").keys(&["Enter"]);
    t.wait_for("PASS");
    t.keys(&["t"]).wait_for("Test call");
    t.keys(&["Tab", "Tab"]).text("open_service").keys(&["Enter"]);
    let s = t.wait_for("HTTP 200");
    assert!(s.contains("simpleserver.php") && s.contains("\"username\": \"client1\""), "{s}");

    // Quit gives the terminal back: the shell's line is on the normal screen.
    t.keys(&["q"]).wait_for("EXITED=0");
    assert_eq!(t.out(&["display-message", "-p", "-t", "t", "#{alternate_on}"]).trim(), "0");
    assert_eq!(t.out(&["display-message", "-p", "-t", "t", "#{cursor_flag}"]).trim(), "1", "cursor shown again");
}

/// "Front a Moodle site" by keys in a real terminal: a service linked to a second endpoint
/// playing the site (the token typed into the masked field never shows), synced, given a
/// function of the site, and a call through the front that the Overview's flow then shows.
#[test]
fn a_service_fronts_a_moodle_site_by_keys_in_a_real_terminal() {
    let site_dir = tempfile::tempdir().unwrap();
    let site_db = site_dir.path().join("site.redb");
    let store = std::sync::Arc::new(wsconsole::store::Store::open(&site_db).unwrap());
    common::fixture_site(&wsconsole::ops::Ops::new(store, "site-admin"));
    let site = Endpoint::spawn(&site_db);
    let t = Tmux::start("front");
    t.keys(&["G"]).wait_for("Front a Moodle site (optional)");
    t.keys(&["6", "n"]).text("Front").keys(&["Enter"]).wait_for("service \"Front\" created");
    t.keys(&["m"]).wait_for("Moodle site behind");
    t.text(&site.base).keys(&["Tab"]).text(common::T);
    let s = t.wait_for("••••••••");
    assert!(!s.contains(common::T), "{s}");
    t.keys(&["Enter"]).wait_for("site token saved");
    t.keys(&["s"]).wait_for("front: Oracle Site");
    t.keys(&["f", "n"]).wait_for("the site's");
    t.text("by_field").keys(&["Space", "Enter"]).wait_for("1 functions added");
    // The callers' side, by CLI beside the console (another process on the same file).
    let cli = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_wsconsole"))
            .arg("--db")
            .arg(&t.db)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    cli(&["settings", "set", "enablewebservices", "1"], "");
    cli(&["settings", "set", "webserviceprotocols", "rest"], "");
    cli(&["user", "add", "app", "--auth", "webservice"], "App-pass-1\n");
    cli(&["role", "add", "client", "--name", "Client", "--cap", "webservice/rest:use"], "");
    cli(&["role", "assign", "client", "app"], "");
    cli(&["service", "authorise", "front", "app"], "");
    let token = cli(&["token", "create", "--user", "app", "--service", "front"], "");
    let front = Endpoint::spawn(&t.db);
    let through = get(&format!(
        "{}/webservice/rest/server.php?wstoken={token}&wsfunction=core_user_get_users_by_field&moodlewsrestformat=json&field=username&values[0]=wsuser",
        front.base
    ));
    assert!(through.body.contains("\"username\":\"wsuser\""), "{}", through.body);
    t.keys(&["1", "G"]).wait_for("last call through");
}

#[test]
fn sigterm_and_a_small_terminal_leave_the_terminal_usable() {
    let t = Tmux::start("term");
    t.wait_for("Enable web services");
    t.cmd(&["resize-window", "-t", "t", "-x", "70", "-y", "20"]);
    t.wait_for("needs at least 80×24");
    t.cmd(&["resize-window", "-t", "t", "-x", "80", "-y", "24"]);
    t.wait_for("Enable web services");
    let pid = t.out(&["display-message", "-p", "-t", "t", "#{pane_pid}"]);
    // The pane runs `sh -c '…'`: the console is its child.
    let children = Command::new("pgrep").args(["-P", pid.trim()]).output().unwrap();
    let console = String::from_utf8_lossy(&children.stdout).lines().next().expect("the console runs").to_string();
    assert!(Command::new("kill").args(["-TERM", &console]).status().unwrap().success());
    t.wait_for("EXITED=");
    assert_eq!(t.out(&["display-message", "-p", "-t", "t", "#{alternate_on}"]).trim(), "0");
    assert_eq!(t.out(&["display-message", "-p", "-t", "t", "#{cursor_flag}"]).trim(), "1");
}

#[test]
fn a_dropped_terminal_ends_the_console() {
    // As when an SSH connection drops: the terminal goes away under the running console.
    let t = Tmux::start("hangup");
    t.wait_for("Enable web services");
    let pid = t.out(&["display-message", "-p", "-t", "t", "#{pane_pid}"]);
    let children = Command::new("pgrep").args(["-P", pid.trim()]).output().unwrap();
    let console = String::from_utf8_lossy(&children.stdout).lines().next().expect("the console runs").to_string();
    t.cmd(&["kill-server"]);
    let start = Instant::now();
    while std::path::Path::new(&format!("/proc/{console}/cmdline")).exists()
        && !std::fs::read_to_string(format!("/proc/{console}/stat")).unwrap_or_default().contains(") Z")
    {
        assert!(start.elapsed() < Duration::from_secs(5), "the console outlived its terminal (it would spin on EOF)");
        std::thread::sleep(Duration::from_millis(50));
    }
}
