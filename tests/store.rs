//! The store: opening, seeding, file mode, schema version and one-line errors.

use std::os::unix::fs::PermissionsExt;
use wsconsole::domain::MOBILE_SERVICE;
use wsconsole::store::{Queries, SCHEMA_VERSION, Store, View};

/// Two of the store's tables as plain redb sees them (the file format's names and types), to
/// write what an older or a newer wsconsole would have.
const META: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("meta");
const FEED: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("feed");

#[test]
fn first_open_creates_0600_and_seeds_everything_off() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.redb");
    let store = Store::open(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let v = store.read().unwrap();
    let s = Queries::settings(&v).unwrap();
    assert!(!s.enable_web_services && s.protocols.is_empty() && s.auth_plugins.is_empty());
    assert!(!s.ws_documentation && !s.maintenance);
    let mobile = v.service_by_shortname(MOBILE_SERVICE).unwrap().expect("built-in service");
    assert_eq!(mobile.name, "Moodle mobile web service");
    assert!(mobile.builtin && !mobile.enabled && !mobile.restricted_users);
    assert!(mobile.download_files && mobile.upload_files);
    let functions = v.service_function_names(mobile.id).unwrap();
    assert!(functions.contains(&"core_webservice_get_site_info".to_string()), "{functions:?}");
    assert_eq!(v.all_services().unwrap().len(), 1);
    drop(v);
    drop(store);

    // Reopening neither re-seeds nor fails.
    let store = Store::open(&path).unwrap();
    assert_eq!(store.read().unwrap().all_services().unwrap().len(), 1);
}

#[test]
fn newer_schema_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.redb");
    drop(Store::open(&path).unwrap());
    // A newer wsconsole writes its version: here, plain redb on the closed file.
    {
        let db = redb::Builder::new().create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(META).unwrap().insert("schema_version", SCHEMA_VERSION + 1).unwrap();
        txn.commit().unwrap();
    }
    let err = Store::open(&path).err().expect("refused").to_string();
    let expected =
        format!("schema version {}, newer than this wsconsole understands ({SCHEMA_VERSION})", SCHEMA_VERSION + 1);
    assert!(err.contains(&expected), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
}

fn open_error(path: &std::path::Path) -> String {
    let e = Store::open(path).err().expect("an error").to_string();
    assert!(!e.contains('\n'), "one line: {e}");
    assert!(e.contains(&path.display().to_string()), "names the file: {e}");
    e
}

#[test]
fn missing_directory_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let e = open_error(&dir.path().join("nope/ws.redb"));
    assert!(e.contains("does not exist"), "{e}");
}

#[test]
fn garbage_file_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.redb");
    std::fs::write(&path, vec![0x42u8; 64 * 1024]).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let e = open_error(&path);
    assert!(e.contains("not a wsconsole database") || e.contains("damaged"), "{e}");
}

#[test]
fn damaged_database_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.redb");
    drop(Store::open(&path).unwrap());
    let mut bytes = std::fs::read(&path).unwrap();
    // Flip bytes across the whole file, header included.
    for i in (0..bytes.len()).step_by(97) {
        bytes[i] ^= 0xa5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let e = open_error(&path);
    assert!(e.starts_with("cannot open database") || e.contains("damaged"), "{e}");
}

#[test]
fn unreadable_file_is_one_line() {
    if unsafe_is_root() {
        // root reads anything: nothing to test.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.redb");
    drop(Store::open(&path).unwrap());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    assert!(open_error(&path).contains("permission denied"));
}

fn unsafe_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

#[test]
fn directory_path_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let e = open_error(dir.path());
    assert!(e.contains("directory"), "{e}");
}

#[test]
fn locked_by_exclusive_opener_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.redb");
    drop(Store::open(&path).unwrap());
    // A program that opens the file in redb's default (exclusive) mode locks us out.
    let _exclusive = redb::Database::create(&path).unwrap();
    let e = open_error(&path);
    assert!(e.contains("locked"), "{e}");
}

#[test]
fn tables_are_all_created_on_first_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("ws.redb")).unwrap();
    let v = store.read().unwrap();
    assert!(v.tokens().is_ok() && v.call_log().is_ok() && v.audit_log().is_ok());
}

#[test]
fn the_change_count_moves_with_every_write_but_the_endpoints_activity() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(Store::open(&dir.path().join("c.redb")).unwrap());
    let count = || store.read().unwrap().change_count().unwrap();
    let before = count();
    wsconsole::ops::Ops::new(store.clone(), "t").set_web_services(true).unwrap();
    let after_op = count();
    assert_eq!(after_op, before + 1);
    let row = wsconsole::domain::CallLog {
        time: 1,
        token: None,
        user: None,
        service: None,
        function: "f".into(),
        protocol: "rest".into(),
        remote_ip: "127.0.0.1".into(),
        outcome: "ok".into(),
        duration_micros: 1,
        site: None,
    };
    store.write_activity(|t| t.append_calls(&[row])).unwrap();
    assert_eq!(count(), after_op, "log rows are not configuration");
    assert_eq!(store.read().unwrap().call_count().unwrap(), 1);
}

#[test]
fn a_schema_1_database_gains_the_change_feed_on_open() {
    use wsconsole::store::feed::{self, Change, Since};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.redb");
    let store = Store::open(&path).unwrap();
    wsconsole::ops::Ops::new(std::sync::Arc::new(store), "t")
        .create_user(wsconsole::ops::NewUser::named("kept", wsconsole::domain::AuthMethod::Webservice))
        .unwrap();
    // What schema 1 was: no feed table, no feed number.
    {
        let db = redb::Builder::new().create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.delete_table(FEED).unwrap();
        let mut meta = txn.open_table(META).unwrap();
        meta.insert("schema_version", 1).unwrap();
        meta.remove("feed").unwrap();
        drop(meta);
        txn.commit().unwrap();
    }
    let store = Store::open(&path).unwrap();
    let v = store.read().unwrap();
    assert!(v.user_by_username("kept").unwrap().is_some(), "the data stays");
    assert_eq!(feed::seq(&v).unwrap(), 1, "the migration is the feed's first write");
    assert_eq!(
        feed::since(&v, 0, 10).unwrap(),
        Since::Changes(vec![(1, vec![Change::All])]),
        "readers read everything"
    );
}

#[test]
fn a_schema_2_database_gains_the_upstream_table_on_open() {
    const UPSTREAM: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("upstream");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.redb");
    let store = std::sync::Arc::new(Store::open(&path).unwrap());
    wsconsole::ops::Ops::new(store.clone(), "t").set_upstream_rate(wsconsole::domain::MOBILE_SERVICE, 60).unwrap();
    drop(store);
    // What schema 2 was: no upstream table, no upstream settings record.
    {
        let db = redb::Builder::new().create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.delete_table(UPSTREAM).unwrap();
        txn.open_table(META).unwrap().insert("schema_version", 2).unwrap();
        txn.commit().unwrap();
    }
    let store = Store::open(&path).unwrap();
    let v = store.read().unwrap();
    assert_eq!(v.meta().unwrap().get("schema_version").unwrap().unwrap().value(), SCHEMA_VERSION);
    assert_eq!(v.upstream(1).unwrap(), None, "the table is there, empty");
    assert_eq!(v.settings().unwrap().upstream, Default::default());
}

#[test]
fn a_forwarded_call_keeps_what_the_site_did_beside_its_row_and_loses_it_with_the_row() {
    use wsconsole::domain::upstream::SiteCall;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("c.redb")).unwrap();
    let row = |time, site| wsconsole::domain::CallLog {
        time,
        token: None,
        user: None,
        service: None,
        function: "core_course_get_courses".into(),
        protocol: "rest".into(),
        remote_ip: "127.0.0.1".into(),
        outcome: "ok".into(),
        duration_micros: 1_500,
        site,
    };
    let site = SiteCall { status: 200, latency_micros: 1_200, bytes: 5_000 };
    store.write_activity(|t| t.append_calls(&[row(10, Some(site)), row(20, None)])).unwrap();
    let entries = store.read().unwrap().call_entries(10).unwrap();
    assert_eq!(entries.iter().map(|c| c.site).collect::<Vec<_>>(), [None, Some(site)], "newest first");
    assert_eq!(store.read().unwrap().calls_since(0, 0, 0, 10).unwrap()[0].1.site, Some(site));
    store.write_activity(|t| t.prune_calls_before(15, 10)).unwrap();
    let entries = store.read().unwrap().call_entries(10).unwrap();
    assert_eq!((entries.len(), entries[0].site), (1, None));
    const CALL_SITE: redb::TableDefinition<(u64, u64), &[u8]> = redb::TableDefinition::new("call_site");
    drop(store);
    let db = redb::Builder::new().create(dir.path().join("c.redb")).unwrap();
    use redb::{ReadableDatabase, ReadableTableMetadata};
    assert_eq!(db.begin_read().unwrap().open_table(CALL_SITE).unwrap().len().unwrap(), 0, "pruned with its row");
}
