//! The CLI grammar, run as the real binary: what scripts depend on.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_wsconsole");

struct Site {
    _dir: tempfile::TempDir,
    db: PathBuf,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ws.redb");
        Site { _dir: dir, db }
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        common::cli(&self.db, args, stdin)
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, "")
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and expects failure; returns the one stderr line.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(out.stdout.is_empty());
        err.trim_end().to_string()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }
}

/// The README's "external system" setup, by CLI.
fn setup(site: &Site) -> String {
    site.ok(&["settings", "set", "enablewebservices", "1"]);
    site.ok(&["settings", "set", "webserviceprotocols", "rest"]);
    let out = site.run_with_stdin(
        &["user", "add", "wsuser", "--auth", "webservice", "--firstname", "Web", "--lastname", "Service"],
        "Secret-123\n",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    site.ok(&["role", "add", "wsclient", "--name", "WS client", "--cap", "webservice/rest:use"]);
    site.ok(&["role", "assign", "wsclient", "wsuser"]);
    site.ok(&["service", "add", "testsvc", "--name", "Test service", "--enabled", "--restricted"]);
    site.ok(&["service", "add-function", "testsvc", "core_webservice_get_site_info"]);
    site.ok(&["service", "authorise", "testsvc", "wsuser", "--ip", "127.0.0.1", "--valid-until", "2099-01-01"]);
    site.ok(&["token", "create", "--user", "wsuser", "--service", "testsvc", "--name", "ci"])
}

#[test]
fn token_create_prints_the_token_alone() {
    let site = Site::new();
    let out = setup(&site);
    assert!(out.ends_with('\n'));
    let token = out.trim_end();
    assert_eq!(token.len(), 32);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    let list = site.json(&["token", "list", "--json"]);
    let t = &list[0];
    let keys: Vec<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "name",
            "username",
            "service",
            "iprestriction",
            "validuntil",
            "lastaccess",
            "creator",
            "timecreated",
            "state"
        ]
    );
    assert_eq!(t["name"], "ci");
    assert_eq!(t["username"], "wsuser");
    assert_eq!(t["service"], "testsvc");
    assert_eq!(t["validuntil"], serde_json::Value::Null);
    assert_eq!(t["lastaccess"], serde_json::Value::Null);
    assert!(t["timecreated"].as_i64().unwrap() > 1_700_000_000);
    assert!(!site.ok(&["token", "list"]).contains(token), "the value is never listed");
}

#[test]
fn status_reports_the_walkthrough() {
    let site = Site::new();
    let before = site.json(&["status", "--json"]);
    assert_eq!(before[0]["title"], "Allow an external system to control Moodle");
    assert_eq!(before[0]["steps"].as_array().unwrap().len(), 10);
    assert_eq!(before[1]["steps"].as_array().unwrap().len(), 6);
    assert_eq!(before[0]["steps"][0]["status"], "todo");
    setup(&site);
    let after = site.json(&["status", "--json"]);
    for n in 0..8 {
        assert_eq!(after[0]["steps"][n]["status"], "done", "step {}", n + 1);
    }
    assert_eq!(after[0]["steps"][1]["detail"], "rest");
    let text = site.ok(&["status"]);
    assert!(text.contains("Create a token for a user") && text.contains("1 valid token"), "{text}");
}

#[test]
fn settings_show_and_set() {
    let site = Site::new();
    let s = site.json(&["settings", "show", "--json"]);
    assert_eq!(s["enablewebservices"], "0");
    assert_eq!(s["tokenduration"], "7257600");
    // Manual accounts are always enabled, as in Moodle: the list keeps only optional plugins.
    assert!(site.ok(&["settings", "show"]).contains("auth =   (manual and nologin: always enabled)\n"));
    assert_eq!(
        site.ok(&["settings", "set", "auth", "manual,webservice"]),
        "auth = webservice  (manual and nologin: always enabled)\n"
    );
    assert_eq!(site.json(&["settings", "show", "--json"])["auth"], "webservice");
    let e = site.fails(&["settings", "set", "auth", "ldap"]);
    assert!(e.contains("unknown \"ldap\" (known: webservice; manual and nologin are always on)"), "{e}");
    let e = site.fails(&["settings", "set", "webserviceprotocols", "rest,graphql"]);
    assert!(e.starts_with("wsconsole: webserviceprotocols: unknown \"graphql\""), "{e}");
}

#[test]
fn users_roles_services_listing() {
    let site = Site::new();
    setup(&site);
    let users = site.json(&["user", "list", "--json"]);
    assert_eq!(users[0]["username"], "wsuser");
    assert_eq!(users[0]["auth"], "webservice");
    let show = site.ok(&["user", "show", "wsuser"]);
    assert!(show.contains("webservice/rest:use") && show.contains("missing webservice/soap:use"), "{show}");
    let roles = site.json(&["role", "list", "--json"]);
    assert!(roles.as_array().unwrap().iter().any(|r| r["shortname"] == "wsclient" && r["users"] == 1));
    let services = site.json(&["service", "list", "--json"]);
    assert_eq!(services[0]["shortname"], "moodle_mobile_app");
    assert_eq!(services[0]["builtin"], true);
    assert_eq!(services[1]["functions"][0], "core_webservice_get_site_info");
    let show = site.ok(&["service", "show", "testsvc"]);
    assert!(show.contains("wsuser  (127.0.0.1; valid until 2099-01-01"), "{show}");
    site.ok(&["service", "disable", "testsvc"]);
    assert_eq!(site.json(&["service", "list", "--json"])[1]["enabled"], false);
}

#[test]
fn revoke_by_id_user_and_service() {
    let site = Site::new();
    setup(&site);
    site.ok(&["token", "create", "--user", "wsuser", "--service", "testsvc"]);
    site.ok(&["token", "create", "--user", "wsuser", "--service", "testsvc"]);
    assert_eq!(site.ok(&["token", "revoke", "1"]), "revoked token #1 \"ci\"\n");
    assert_eq!(site.ok(&["token", "revoke", "--user", "wsuser"]), "revoked 2 tokens of wsuser\n");
    site.ok(&["token", "create", "--user", "wsuser", "--service", "testsvc"]);
    assert_eq!(site.ok(&["token", "revoke", "--service", "testsvc"]), "revoked 1 token of service testsvc\n");
    assert_eq!(site.json(&["token", "list", "--json"]), serde_json::json!([]));
    assert_eq!(site.fails(&["token", "revoke", "99"]), "wsconsole: no token #99");
    let audit = site.json(&["audit", "--json"]);
    assert_eq!(audit[0]["operation"], "revoke service tokens");
    assert!(!audit[0]["actor"].as_str().unwrap().is_empty());
}

#[test]
fn errors_are_one_line_and_non_zero() {
    let site = Site::new();
    setup(&site);
    assert_eq!(
        site.fails(&["token", "create", "--user", "ghost", "--service", "testsvc"]),
        "wsconsole: no user \"ghost\""
    );
    let e = site.fails(&["service", "authorise", "testsvc", "wsuser", "--ip", "10.0.0.0/33"]);
    assert!(e.contains("\"10.0.0.0/33\""), "{e}");
    let e = site.fails(&["token", "create", "--user", "wsuser", "--service", "testsvc", "--valid-until", "31/12/2030"]);
    assert!(e.contains("YYYY-MM-DD"), "{e}");
    site.ok(&["user", "suspend", "wsuser"]);
    let e = site.fails(&["token", "create", "--user", "wsuser", "--service", "testsvc"]);
    assert!(e.contains("Suspended - Can not create token"), "{e}");
    let e = site.fails(&["user", "add", "Bad"]);
    assert!(e.contains("lower case"), "{e}");
    // A database in a missing directory.
    let out = Command::new(BIN).args(["--db", "/nonexistent/dir/ws.redb", "status"]).output().unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "wsconsole: cannot open database /nonexistent/dir/ws.redb: directory /nonexistent/dir does not exist"
    );
}

#[test]
fn password_comes_from_stdin_never_an_argument() {
    let site = Site::new();
    let out = site.run_with_stdin(&["user", "add", "jdoe"], "short\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 8"));
    let out = site.run_with_stdin(&["user", "add", "jdoe"], "Long-enough-1\n");
    assert!(out.status.success());
    let out = site.run_with_stdin(&["user", "passwd", "jdoe"], "Another-pass-2\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // There is no --password option at all.
    let out = site.run(&["user", "add", "x", "--password", "Secret-123"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn db_path_comes_from_the_environment_or_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let env_db = dir.path().join("env.redb");
    let out = Command::new(BIN)
        .args(["settings", "show"])
        .env("WSCONSOLE_DB", &env_db)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(env_db.exists());
    let out = Command::new(BIN)
        .args(["settings", "show"])
        .env_remove("WSCONSOLE_DB")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(dir.path().join("wsconsole.redb").exists());
}

fn help_of(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).arg("--help").output().unwrap();
    assert!(out.status.success(), "{args:?} --help");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_subcommand_has_help() {
    let top = help_of(&[]);
    for group in ["status", "settings", "user", "role", "service", "token", "audit", "catalogue"] {
        assert!(top.contains(group), "{group}");
    }
    let groups: &[(&str, &[&str])] = &[
        ("settings", &["show", "set"]),
        ("user", &["add", "list", "show", "passwd", "suspend", "unsuspend", "delete"]),
        ("role", &["add", "list", "allow", "unset", "assign", "unassign", "delete"]),
        (
            "service",
            &[
                "add",
                "list",
                "show",
                "enable",
                "disable",
                "delete",
                "add-function",
                "remove-function",
                "authorise",
                "unauthorise",
            ],
        ),
        ("token", &["create", "list", "revoke"]),
    ];
    for (group, subs) in groups {
        let h = help_of(&[group]);
        for sub in *subs {
            assert!(h.contains(sub), "{group} {sub}");
            assert!(help_of(&[group, sub]).contains("Usage: wsconsole"), "{group} {sub}");
        }
    }
    assert!(help_of(&["status"]).contains("--json"));
}

#[test]
fn plain_wsconsole_without_a_terminal_says_so_and_touches_nothing() {
    // The console itself runs in a terminal: tests/console_tty.rs.
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN).current_dir(dir.path()).env_remove("WSCONSOLE_DB").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("the console needs a terminal"));
    assert!(!Path::new(&dir.path().join("wsconsole.redb")).exists());
}

#[test]
fn unreadable_database_is_one_line() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = dir.path().join("ws.redb");
    let site = Site { _dir: dir, db: db.clone() };
    site.ok(&["settings", "show"]);
    // The file is 0600 and owned by whoever created it: another user cannot read it. Run as
    // `nobody` when we are root (as CI is), else we are already not the owner of a root file.
    let is_root =
        std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false);
    if !is_root {
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let mut cmd = if is_root {
        // A copy beside the database, so that `nobody` can run it wherever the checkout is.
        let bin = site._dir.path().join("wsconsole");
        std::fs::copy(BIN, &bin).unwrap();
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(&bin);
        c
    } else {
        Command::new(BIN)
    };
    let out = cmd.arg("--db").arg(&db).arg("status").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).trim_end().to_string();
    assert_eq!(err, format!("wsconsole: cannot open database {}: permission denied", db.display()));
}

#[test]
fn the_readme_first_command_runs_wsconsole() {
    // `cargo run --release` must pick this binary although the package has a second one
    // (the benchmarks): without `default-run` cargo refuses to choose.
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let bins = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/bin")).map(|d| d.count()).unwrap_or(0);
    if bins > 0 {
        assert!(
            manifest.lines().any(|l| l.replace(' ', "") == "default-run=\"wsconsole\""),
            "Cargo.toml needs default-run"
        );
    }
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(readme.contains("cargo run --release "), "the README's first command");
}

#[test]
fn read_only_is_for_the_console_and_refused_with_a_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .env_remove("WSCONSOLE_DB")
        .args(["--read-only", "settings", "set", "enablewebservices", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--read-only applies to the console"));
    assert!(!Path::new(&dir.path().join("wsconsole.redb")).exists(), "nothing opened, nothing written");
}

#[test]
fn serve_refuses_a_key_file_others_may_read_before_it_listens() {
    let site = Site::new();
    site.ok(&["settings", "show"]);
    let key = site.db.with_file_name("ws.redb.key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let e = site.fails(&["serve", "--listen", "127.0.0.1:0"]);
    assert!(e.contains("refusing key file") && e.contains("(mode 644); run chmod 600"), "{e}");
    assert_eq!(std::fs::read(&key).unwrap(), [7u8; 32], "the key file is left as it was");
}

/// Every command and subcommand as `wsconsole`'s own definition has them: (path, name).
fn every_subcommand() -> Vec<(String, String)> {
    fn walk(cmd: &clap::Command, path: &str, out: &mut Vec<(String, String)>) {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let here = format!("{path}-{}", sub.get_name());
            out.push((here.clone(), sub.get_name().to_string()));
            walk(sub, &here, out);
        }
    }
    let mut out = Vec::new();
    walk(&<wsconsole::cli::Cli as clap::CommandFactory>::command(), "wsconsole", &mut out);
    out
}

#[test]
fn completions_and_man_pages_name_every_subcommand_and_open_no_database() {
    let site = Site::new();
    let all = every_subcommand();
    assert!(all.len() > 30, "{all:?}");
    assert!(all.iter().any(|(p, _)| p == "wsconsole-service-upstream"));
    for shell in ["bash", "zsh", "fish"] {
        let script = site.ok(&["completions", shell]);
        for (path, name) in &all {
            assert!(script.contains(name.as_str()), "{shell} completions lack {path}");
        }
    }
    // One page on stdout, naming the commands; one page per command and subcommand with --dir.
    let page = site.ok(&["man"]);
    assert!(page.starts_with(".ie") && page.contains(".TH wsconsole 1"), "{page}");
    for (path, name) in all.iter().filter(|(p, _)| p.matches('-').count() == 1) {
        assert!(page.contains(name.as_str()), "the man page lacks {path}");
    }
    let dir = site._dir.path().join("man");
    let said = site.ok(&["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(said.trim(), format!("{} man pages in {}", all.len() + 1, dir.display()));
    for (path, _) in &all {
        let page = std::fs::read_to_string(dir.join(format!("{path}.1"))).unwrap();
        assert!(page.contains(&format!(".TH {path} 1")), "{path}");
    }
    // Generated from the definition alone: no database file was made for them.
    assert!(!site.db.exists(), "completions and man opened the database");
    // The version names the database schema this release opens.
    let version = site.ok(&["--version"]);
    let schema = wsconsole::store::SCHEMA_VERSION;
    assert_eq!(version.trim(), format!("wsconsole {} (database schema {schema})", env!("CARGO_PKG_VERSION")));
}

#[test]
fn service_edit_changes_only_what_is_given() {
    let site = Site::new();
    site.ok(&["service", "add", "sync", "--name", "Sync", "--required-capability", "moodle/user:viewdetails"]);
    let show = |site: &Site| -> serde_json::Value {
        serde_json::from_str(&site.ok(&["service", "show", "sync", "--json"])).unwrap()
    };
    let said = site.ok(&["service", "edit", "sync", "--upload-files", "true", "--restricted", "true"]);
    assert!(said.contains("can upload files yes"), "{said}");
    let s = show(&site);
    assert_eq!(
        (&s["uploadfiles"], &s["downloadfiles"], &s["restrictedusers"], &s["requiredcapability"], &s["name"]),
        (&true.into(), &false.into(), &true.into(), &"moodle/user:viewdetails".into(), &"Sync".into())
    );
    // "" sets no required capability; an unknown one is refused and changes nothing.
    site.ok(&["service", "edit", "sync", "--required-capability", ""]);
    assert_eq!(show(&site)["requiredcapability"], serde_json::Value::Null);
    let refused =
        site.fails(&["service", "edit", "sync", "--required-capability", "no/such:cap", "--upload-files", "false"]);
    assert!(refused.contains("unknown capability"), "{refused}");
    assert_eq!(show(&site)["uploadfiles"], true);
    // A built-in service keeps its name and "authorised users only"; its file switches change.
    let builtin = site.fails(&["service", "edit", "moodle_mobile_app", "--restricted", "true"]);
    assert!(builtin.contains("built-in"), "{builtin}");
    site.ok(&["service", "edit", "moodle_mobile_app", "--download-files", "false"]);
    let mobile: serde_json::Value =
        serde_json::from_str(&site.ok(&["service", "show", "moodle_mobile_app", "--json"])).unwrap();
    assert_eq!(mobile["downloadfiles"], false);
}
