//! The database file is never adopted blindly (issue 13, item 4): run as the real binary, a
//! symbolic link, a file others may use, a group-shared file (unless allowed on purpose) and a
//! directory others may write are each refused with one line; the service's own set-up (a
//! 0600 file in a 0700 directory, opened by its owner or by root) works.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_wsconsole");
/// `nobody`, as the permission test in tests/cli.rs runs it.
const NOBODY: u32 = 65534;

fn wsconsole(db: &Path, extra: &[&str]) -> (bool, String) {
    let out = Command::new(BIN).args(extra).arg("--db").arg(db).args(["settings", "show"]).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).trim_end().to_string())
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

#[test]
fn unsafe_database_files_are_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ws.redb");
    assert!(wsconsole(&db, &[]).0, "a new database is made");
    assert_eq!(std::fs::metadata(&db).unwrap().mode() & 0o777, 0o600);

    let link = dir.path().join("link.redb");
    std::os::unix::fs::symlink(&db, &link).unwrap();
    let (ok, err) = wsconsole(&link, &[]);
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("it is a symbolic link: give the path of the file itself"), "{err}");

    // A file someone pre-created for everyone (the attack: empty, mode 0666).
    let planted = dir.path().join("planted.redb");
    std::fs::write(&planted, b"").unwrap();
    chmod(&planted, 0o666);
    let (ok, err) = wsconsole(&planted, &[]);
    assert!(!ok && err.contains("other users may read or change it (mode 666)"), "{err}");
    assert_eq!(std::fs::metadata(&planted).unwrap().len(), 0, "it was not initialised");
    let (ok, _) = wsconsole(&planted, &["--allow-shared-file"]);
    assert!(!ok, "others' access is never allowed");

    // Group-shared: only on purpose.
    chmod(&db, 0o660);
    let (ok, err) = wsconsole(&db, &[]);
    assert!(!ok && err.contains("its group may read or change it (mode 660)"), "{err}");
    assert!(wsconsole(&db, &["--allow-shared-file"]).0);

    // A directory anyone may write, like /tmp: anyone could plant or swap the file.
    let open_dir = tempfile::tempdir().unwrap();
    chmod(open_dir.path(), 0o1777);
    let (ok, err) = wsconsole(&open_dir.path().join("ws.redb"), &[]);
    assert!(!ok && err.contains("may be written by others (mode 1777)"), "{err}");
    assert!(!open_dir.path().join("ws.redb").exists());
}

#[test]
fn the_services_own_file_opens_for_its_owner_and_for_root() {
    if !is_root() {
        eprintln!("skipped: needs root to make a file for another user");
        return;
    }
    // /var/lib/wsconsole as the README sets it up: the service user's 0700 directory.
    let parent = tempfile::tempdir().unwrap();
    chmod(parent.path(), 0o755);
    let home = parent.path().join("wsconsole");
    std::fs::create_dir(&home).unwrap();
    chmod(&home, 0o700);
    std::os::unix::fs::chown(&home, Some(NOBODY), Some(NOBODY)).unwrap();
    let db = home.join("ws.redb");
    let bin = parent.path().join("wsconsole-bin");
    std::fs::copy(BIN, &bin).unwrap();
    let as_service = |args: &[&str]| {
        Command::new("setpriv")
            .args([&format!("--reuid={NOBODY}"), &format!("--regid={NOBODY}"), "--clear-groups"])
            .arg(&bin)
            .arg("--db")
            .arg(&db)
            .args(args)
            .output()
            .unwrap()
    };
    let made = as_service(&["settings", "show"]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let meta = std::fs::metadata(&db).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (NOBODY, 0o600));
    // Root (sudo wsconsole …) opens the service's file; a key root makes for it is the
    // service's, so the service can start after root did.
    assert!(wsconsole(&db, &[]).0, "{}", wsconsole(&db, &[]).1);
    let serve = |cmd: &mut Command| {
        let out = cmd.args(["serve", "--listen", "127.0.0.1:0"]).env("RUST_LOG", "off").spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(700));
        let pid = out.id();
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        out.wait_with_output().unwrap().status.success()
    };
    assert!(serve(Command::new(BIN).arg("--db").arg(&db)), "root serves the service's database");
    let key = std::fs::metadata(home.join("ws.redb.key")).unwrap();
    assert_eq!((key.uid(), key.mode() & 0o777), (NOBODY, 0o600), "the key is the service's");
    let mut as_nobody = Command::new("setpriv");
    as_nobody
        .args([&format!("--reuid={NOBODY}"), &format!("--regid={NOBODY}"), "--clear-groups"])
        .arg(&bin)
        .arg("--db")
        .arg(&db);
    assert!(serve(&mut as_nobody), "the service serves it after root did");
    // A file root made for itself there stays root's: the service user gets the one line.
    let rootfile = home.join("root.redb");
    assert!(wsconsole(&rootfile, &[]).0);
    let out = Command::new("setpriv")
        .args([&format!("--reuid={NOBODY}"), &format!("--regid={NOBODY}"), "--clear-groups"])
        .arg(&bin)
        .arg("--db")
        .arg(&rootfile)
        .args(["settings", "show"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("permission denied"));

    // A directory another user owns: that user could swap the file under the service.
    let foreign = parent.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    chmod(&foreign, 0o755);
    std::os::unix::fs::chown(&foreign, Some(NOBODY - 1), Some(NOBODY - 1)).unwrap();
    let theirs = foreign.join("ws.redb");
    std::fs::copy(&db, &theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(NOBODY), Some(NOBODY)).unwrap();
    chmod(&theirs, 0o600);
    let run_as_nobody = |extra: &[&str]| {
        Command::new("setpriv")
            .args([&format!("--reuid={NOBODY}"), &format!("--regid={NOBODY}"), "--clear-groups"])
            .arg(&bin)
            .args(extra)
            .arg("--db")
            .arg(&theirs)
            .args(["settings", "show"])
            .output()
            .unwrap()
    };
    let out = run_as_nobody(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&format!("belongs to another user (uid {}, you are uid {NOBODY})", NOBODY - 1)), "{err}");
    assert!(err.contains("--allow-shared-file"), "{err}");
    let out = run_as_nobody(&["--allow-shared-file"]);
    assert!(out.status.success(), "on purpose: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_directory_its_group_may_write_is_refused_unless_shared_on_purpose() {
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o770);
    let db = dir.path().join("ws.redb");
    let (ok, err) = wsconsole(&db, &[]);
    assert!(!ok, "refused");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("may be written by its group (mode 770)") && err.contains("chmod g-w"), "{err}");
    assert!(!db.exists(), "nothing is created");
    let (ok, err) = wsconsole(&db, &["--allow-shared-file"]);
    assert!(ok, "{err}");
}
