//! Admin operations: validation, audit, and the token rules, against a real database file.

use std::sync::Arc;
use wsconsole::domain::{AuthMethod, Protocol, TokenState, secret::hash_token};
use wsconsole::ops::{NewService, NewToken, NewUser, OpError, Ops, ServiceEdit, UserEdit};
use wsconsole::store::{Queries, StateFilter, Store, TokenQuery, TokenSort, UserFilter};

fn ops() -> (tempfile::TempDir, Ops) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("ws.redb")).unwrap());
    (dir, Ops::new(store, "alice"))
}

fn ws_user(ops: &Ops, name: &str) {
    ops.create_user(NewUser {
        username: name.into(),
        auth: AuthMethod::Webservice,
        password: None,
        firstname: "Web".into(),
        lastname: name.into(),
        email: format!("{name}@example.com"),
    })
    .unwrap();
}

/// A bare user with the given auth and password; the result, for tests of refusals.
fn add_user(
    ops: &Ops,
    name: &str,
    auth: AuthMethod,
    password: Option<&str>,
) -> Result<wsconsole::domain::User, OpError> {
    ops.create_user(NewUser {
        username: name.into(),
        auth,
        password: password.map(str::to_string),
        firstname: String::new(),
        lastname: String::new(),
        email: String::new(),
    })
}

fn service(ops: &Ops, shortname: &str, restricted: bool) {
    ops.create_service(NewService {
        name: format!("Service {shortname}"),
        shortname: shortname.into(),
        enabled: true,
        restricted_users: restricted,
        ..NewService::default()
    })
    .unwrap();
}

fn token(ops: &Ops, user: &str, svc: &str) -> Result<wsconsole::ops::CreatedToken, OpError> {
    ops.create_token(NewToken { username: user.into(), service: svc.into(), ..NewToken::default() })
}

fn last_audit(ops: &Ops) -> wsconsole::domain::AuditEntry {
    ops.store().read().unwrap().audit_entries("", 1).unwrap().remove(0)
}

#[test]
fn settings_toggles_are_audited() {
    let (_d, ops) = ops();
    ops.set_web_services(true).unwrap();
    ops.set_protocol(Protocol::Rest, true).unwrap();
    ops.set_protocol(Protocol::Soap, true).unwrap();
    ops.set_protocol(Protocol::Soap, false).unwrap();
    ops.set_auth_plugin(wsconsole::domain::AuthPlugin::Webservice, true).unwrap();
    ops.set_documentation(true).unwrap();
    ops.set_setting("sitename", "My site").unwrap();
    ops.set_setting("tokenduration", "30d").unwrap();
    let s = Queries::settings(&ops.store().read().unwrap()).unwrap();
    assert!(s.enable_web_services && s.ws_documentation);
    assert_eq!(s.protocols.iter().copied().collect::<Vec<_>>(), vec![Protocol::Rest]);
    assert_eq!(s.site_name, "My site");
    assert_eq!(s.token_duration, 30 * 86_400);
    let e = last_audit(&ops);
    assert_eq!((e.actor.as_str(), e.operation.as_str(), e.target.as_str()), ("alice", "settings set", "tokenduration"));
    assert_eq!(e.summary, "7257600 → 2592000");
    assert_eq!(ops.store().read().unwrap().audit_entries("", 100).unwrap().len(), 8);

    let err = ops.set_setting("enablewebservices", "perhaps").unwrap_err();
    assert!(matches!(err, OpError::Invalid(_)), "{err}");
    assert_eq!(ops.store().read().unwrap().audit_entries("", 100).unwrap().len(), 8, "a refused change is not audited");
}

#[test]
fn users_are_validated_unique_and_hashed() {
    let (_d, ops) = ops();
    let u = ops
        .create_user(NewUser {
            username: "jdoe".into(),
            auth: AuthMethod::Manual,
            password: Some("Secret-123".into()),
            firstname: "Jane".into(),
            lastname: "Doe".into(),
            email: "jane@example.com".into(),
        })
        .unwrap();
    assert!(u.password_hash.starts_with("$argon2id$"));
    assert!(!u.password_hash.contains("Secret-123"));
    assert!(wsconsole::domain::secret::verify_password(&u.password_hash, "Secret-123"));
    let audit = last_audit(&ops);
    assert!(!format!("{audit:?}").contains("Secret-123"), "the audit never holds a password");

    let dup = add_user(&ops, "jdoe", AuthMethod::Nologin, None).unwrap_err();
    assert!(dup.to_string().contains("already taken"), "{dup}");
    let bad = add_user(&ops, "JDoe", AuthMethod::Nologin, None).unwrap_err();
    assert!(bad.to_string().contains("lower case"), "{bad}");
    let nopw = add_user(&ops, "m", AuthMethod::Manual, None).unwrap_err();
    assert!(nopw.to_string().contains("password: is required"), "{nopw}");
    let weak = add_user(&ops, "m", AuthMethod::Manual, Some("m")).unwrap_err();
    assert!(weak.to_string().contains("at least 8"), "{weak}");

    let edited =
        ops.edit_user("jdoe", UserEdit { email: Some("j@example.org".into()), ..UserEdit::default() }).unwrap();
    assert_eq!(edited.email, "j@example.org");
    assert!(ops.edit_user("jdoe", UserEdit { email: Some("nope".into()), ..UserEdit::default() }).is_err());
    ops.set_password("jdoe", "Another-456").unwrap();
    let u = ops.store().read().unwrap().user_by_username("jdoe").unwrap().unwrap();
    assert!(wsconsole::domain::secret::verify_password(&u.password_hash, "Another-456"));
}

#[test]
fn deleting_a_user_revokes_tokens_and_releases_the_name() {
    let (_d, ops) = ops();
    ws_user(&ops, "wsuser");
    service(&ops, "open", false);
    ops.create_role("wsclient", "", &["webservice/rest:use".into()]).unwrap();
    ops.set_role_assignment("wsclient", "wsuser", true).unwrap();
    token(&ops, "wsuser", "open").unwrap();
    token(&ops, "wsuser", "open").unwrap();
    assert_eq!(ops.delete_user("wsuser").unwrap(), 2);
    let v = ops.store().read().unwrap();
    assert!(v.user_by_username("wsuser").unwrap().is_none());
    assert_eq!(v.token_count().unwrap(), 0);
    let old = Queries::user(&v, 1).unwrap().unwrap();
    assert!(old.deleted, "the record stays for the logs");
    assert!(v.role_holders(2).unwrap().is_empty());
    drop(v);
    ws_user(&ops, "wsuser"); // the name is free again
    assert!(matches!(ops.delete_user("ghost"), Err(OpError::NotFound(_))));
}

#[test]
fn roles_hold_catalogue_capabilities_only() {
    let (_d, ops) = ops();
    ws_user(&ops, "wsuser");
    let err = ops.create_role("r", "", &["moodle/site:everything".into()]).unwrap_err();
    assert!(err.to_string().contains("unknown capability"), "{err}");
    ops.create_role("r", "Role R", &["webservice/rest:use".into()]).unwrap();
    assert!(ops.create_role("r", "", &[]).is_err());
    ops.set_role_capabilities("r", &["webservice/soap:use".into()], true).unwrap();
    ops.set_role_assignment("r", "wsuser", true).unwrap();
    let v = ops.store().read().unwrap();
    let caps = v.user_capabilities(1).unwrap();
    assert!(caps.contains("webservice/rest:use") && caps.contains("webservice/soap:use"));
    // The implicit Authenticated user role gives everybody createmobiletoken.
    assert!(caps.contains("moodle/webservice:createmobiletoken"));
    drop(v);
    ops.set_role_capabilities("r", &["webservice/rest:use".into()], false).unwrap();
    assert!(!ops.store().read().unwrap().user_has_capability(1, "webservice/rest:use").unwrap());
    assert!(ops.delete_role("user").is_err(), "the implicit role stays");
    assert!(ops.set_role_assignment("user", "wsuser", true).is_err());
    ops.delete_role("r").unwrap();
    assert!(ops.store().read().unwrap().user_roles(1).unwrap().assigned.is_empty());
}

#[test]
fn services_follow_moodles_rules() {
    let (_d, ops) = ops();
    service(&ops, "svc", true);
    let dup_name = ops
        .create_service(NewService { name: "Service svc".into(), shortname: "other".into(), ..NewService::default() })
        .unwrap_err();
    assert_eq!(dup_name.to_string(), "name: This name is already in use by another service");
    let dup_short = ops
        .create_service(NewService { name: "Other".into(), shortname: "svc".into(), ..NewService::default() })
        .unwrap_err();
    assert!(dup_short.to_string().contains("Short name is already used for another service (svc)"));
    assert!(
        ops.create_service(NewService { name: "X".into(), shortname: "has space".into(), ..NewService::default() })
            .is_err()
    );
    let bad_cap = ops
        .create_service(NewService {
            name: "Y".into(),
            shortname: "y".into(),
            required_capability: Some("x/y:z".into()),
            ..NewService::default()
        })
        .unwrap_err();
    assert!(bad_cap.to_string().contains("unknown capability"));

    // Built-in: only enabled / download / upload may change; no functions, no deletion.
    let mobile = "moodle_mobile_app";
    ops.edit_service(
        mobile,
        ServiceEdit { enabled: Some(true), download_files: Some(false), ..ServiceEdit::default() },
    )
    .unwrap();
    assert!(ops.edit_service(mobile, ServiceEdit { name: Some("Renamed".into()), ..ServiceEdit::default() }).is_err());
    assert!(ops.edit_service(mobile, ServiceEdit { restricted_users: Some(true), ..ServiceEdit::default() }).is_err());
    assert!(ops.set_service_functions(mobile, &["core_user_get_users".into()], true).is_err());
    assert!(ops.delete_service(mobile).is_err());
    let m = ops.store().read().unwrap().service_by_shortname(mobile).unwrap().unwrap();
    assert!(m.enabled && !m.download_files && m.upload_files);

    let fns = ops
        .set_service_functions("svc", &["core_webservice_get_site_info".into(), "core_user_get_users".into()], true)
        .unwrap();
    assert_eq!(fns.len(), 2);
    let unimplemented = ops.set_service_functions("svc", &["core_course_get_courses".into()], true).unwrap_err();
    assert!(
        unimplemented.to_string().contains("a Moodle function this endpoint does not implement"),
        "{unimplemented}"
    );
    let unknown = ops.set_service_functions("svc", &["core_no_such_fn".into()], true).unwrap_err();
    assert!(unknown.to_string().contains("unknown function \"core_no_such_fn\": no Moodle 4.5 function"), "{unknown}");
    ops.set_service_functions("svc", &["core_user_get_users".into()], false).unwrap();
    assert_eq!(ops.store().read().unwrap().service_function_names(2).unwrap(), vec!["core_webservice_get_site_info"]);
}

#[test]
fn authorisations_validate_ip_and_need_a_restricted_service() {
    let (_d, ops) = ops();
    ws_user(&ops, "wsuser");
    service(&ops, "svc", true);
    service(&ops, "open", false);
    let err = ops.authorise_user("svc", "wsuser", "10.0.0.x", None).unwrap_err();
    assert!(err.to_string().contains("\"10.0.0.x\""), "{err}");
    assert!(ops.authorise_user("open", "wsuser", "", None).is_err());
    let a = ops.authorise_user("svc", "wsuser", " 10.0.0.0/8 ,192.168.1.5", Some(2_000_000_000)).unwrap();
    assert_eq!(a.ip_restriction, "10.0.0.0/8, 192.168.1.5");
    assert_eq!(a.valid_until, Some(2_000_000_000));
    ops.unauthorise_user("svc", "wsuser").unwrap();
    assert!(ops.unauthorise_user("svc", "wsuser").is_err());
}

#[test]
fn token_creation_refuses_as_moodle() {
    let (_d, ops) = ops();
    ws_user(&ops, "wsuser");
    service(&ops, "svc", true);
    // Restricted service, user not authorised.
    match token(&ops, "wsuser", "svc").unwrap_err() {
        OpError::Refused { code, message } => {
            assert_eq!(code, "usernotallowed");
            assert!(
                message.contains("allowed users administration page") && message.contains("Service svc"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    ops.authorise_user("svc", "wsuser", "", None).unwrap();
    assert!(token(&ops, "wsuser", "svc").is_ok());
    // Suspended user.
    ops.set_suspended("wsuser", true).unwrap();
    match token(&ops, "wsuser", "svc").unwrap_err() {
        OpError::Refused { code, message } => {
            assert_eq!(code, "forbiddenwsuser");
            assert_eq!(
                message,
                "Suspended - Can not create token for an unconfirmed, deleted, suspended or guest user."
            );
        }
        other => panic!("{other:?}"),
    }
    ops.set_suspended("wsuser", false).unwrap();
    // nologin user.
    add_user(&ops, "nl", AuthMethod::Nologin, None).unwrap();
    service(&ops, "open", false);
    assert!(matches!(token(&ops, "nl", "open"), Err(OpError::Refused { code: "forbiddenwsuser", .. })));
    // Deleted user.
    ws_user(&ops, "gone");
    ops.delete_user("gone").unwrap();
    assert!(matches!(token(&ops, "gone", "open"), Err(OpError::NotFound(_))));
    // Required capability.
    ops.edit_service(
        "open",
        ServiceEdit { required_capability: Some(Some("moodle/user:create".into())), ..ServiceEdit::default() },
    )
    .unwrap();
    assert!(matches!(
        token(&ops, "wsuser", "open"),
        Err(OpError::Refused { code: "nocapabilitytousethisservice", .. })
    ));
    // Bad IP restriction and a past expiry are form errors.
    let ip = ops.create_token(NewToken {
        username: "wsuser".into(),
        service: "svc".into(),
        ip_restriction: "1.2.3.4/40".into(),
        ..NewToken::default()
    });
    assert!(matches!(ip, Err(OpError::Invalid(_))));
    let past = ops.create_token(NewToken {
        username: "wsuser".into(),
        service: "svc".into(),
        valid_until: Some(1),
        ..NewToken::default()
    });
    assert!(past.unwrap_err().to_string().contains("must be in the future"));
}

#[test]
fn a_token_is_returned_once_and_stored_hashed() {
    let (dir, ops) = ops();
    ws_user(&ops, "wsuser");
    service(&ops, "open", false);
    let created = ops
        .create_token(NewToken {
            username: "wsuser".into(),
            service: "open".into(),
            name: "CI job".into(),
            ip_restriction: "127.0.0.1".into(),
            valid_until: Some(4_000_000_000),
        })
        .unwrap();
    assert!(wsconsole::domain::secret::is_token_format(&created.value));
    assert!(!format!("{created:?}").contains(&created.value));
    let v = ops.store().read().unwrap();
    let t = v.token_by_hash(&hash_token(&created.value)).unwrap().unwrap();
    assert_eq!((t.name.as_str(), t.creator.as_str(), t.ip_restriction.as_str()), ("CI job", "alice", "127.0.0.1"));
    let generated = token(&ops, "wsuser", "open").unwrap();
    assert!(generated.token.name.starts_with("Webservice-") && generated.token.name.len() == 16);
    drop(v);
    drop(ops);
    // The value itself is nowhere in the file.
    let bytes = std::fs::read(dir.path().join("ws.redb")).unwrap();
    assert!(!bytes.windows(32).any(|w| w == created.value.as_bytes()));
}

#[test]
fn revocation_one_by_user_by_service() {
    let (_d, ops) = ops();
    ws_user(&ops, "a");
    ws_user(&ops, "b");
    service(&ops, "s1", false);
    service(&ops, "s2", false);
    let t1 = token(&ops, "a", "s1").unwrap();
    token(&ops, "a", "s2").unwrap();
    token(&ops, "b", "s1").unwrap();
    token(&ops, "b", "s2").unwrap();
    ops.revoke_token(t1.token.id).unwrap();
    assert!(ops.store().read().unwrap().token_by_hash(&hash_token(&t1.value)).unwrap().is_none());
    assert!(matches!(ops.revoke_token(t1.token.id), Err(OpError::NotFound(_))));
    assert_eq!(ops.revoke_user_tokens("a").unwrap(), 1);
    assert_eq!(ops.revoke_service_tokens("s1").unwrap(), 1);
    assert_eq!(ops.store().read().unwrap().token_count().unwrap(), 1);
    assert_eq!(ops.delete_service("s2").unwrap(), 1);
    assert_eq!(ops.store().read().unwrap().token_count().unwrap(), 0);
    let e = last_audit(&ops);
    assert_eq!((e.operation.as_str(), e.summary.as_str()), ("delete service", "1 tokens deleted"));
}

#[test]
fn token_list_filters_sorts_and_pages() {
    let (_d, ops) = ops();
    for u in ["alpha", "alphonse", "bravo"] {
        ws_user(&ops, u);
    }
    service(&ops, "s1", false);
    service(&ops, "s2", false);
    let now = wsconsole::store::now();
    let mk = |user: &str, svc: &str, name: &str, until: Option<i64>| {
        ops.create_token(NewToken {
            username: user.into(),
            service: svc.into(),
            name: name.into(),
            ip_restriction: String::new(),
            valid_until: until,
        })
        .unwrap()
    };
    mk("alpha", "s1", "nightly sync", Some(now + 100 * 86_400));
    mk("alpha", "s2", "reporting", None);
    mk("alphonse", "s1", "NIGHTLY backup", Some(now + 3 * 86_400));
    mk("bravo", "s2", "other", Some(now + 50 * 86_400));
    // Expire one directly in the store (the form refuses past dates).
    let expiring = mk("bravo", "s1", "old", Some(now + 10));
    ops.store()
        .write(|t| {
            let mut tok = expiring.token.clone();
            tok.valid_until = Some(now - 10);
            t.put_token(&hash_token(&expiring.value), &tok)
        })
        .unwrap();

    let v = ops.store().read().unwrap();
    let list = |q: TokenQuery| v.list_tokens(&TokenQuery { now, ..q }).unwrap();
    let names = |p: wsconsole::store::Page<wsconsole::store::TokenRow>| {
        p.rows.into_iter().map(|r| r.token.name).collect::<Vec<_>>()
    };

    // Default: valid until ascending, no expiry last.
    assert_eq!(names(list(TokenQuery::default())), ["old", "NIGHTLY backup", "other", "nightly sync", "reporting"]);
    assert_eq!(
        names(list(TokenQuery { user: Some(UserFilter::Contains("ALPH".into())), ..TokenQuery::default() })),
        ["NIGHTLY backup", "nightly sync", "reporting"]
    );
    assert_eq!(
        names(list(TokenQuery { user: Some(UserFilter::Exact("alpha".into())), ..TokenQuery::default() })),
        ["nightly sync", "reporting"]
    );
    assert_eq!(names(list(TokenQuery { service: Some("s2".into()), ..TokenQuery::default() })), ["other", "reporting"]);
    assert_eq!(
        names(list(TokenQuery {
            user: Some(UserFilter::Contains("alph".into())),
            service: Some("s1".into()),
            ..TokenQuery::default()
        })),
        ["NIGHTLY backup", "nightly sync"]
    );
    assert_eq!(
        names(list(TokenQuery { name: Some("nightly".into()), ..TokenQuery::default() })),
        ["NIGHTLY backup", "nightly sync"]
    );
    assert_eq!(names(list(TokenQuery { state: Some(StateFilter::Expired), ..TokenQuery::default() })), ["old"]);
    assert_eq!(
        names(list(TokenQuery { state: Some(StateFilter::Expiring), ..TokenQuery::default() })),
        ["NIGHTLY backup"]
    );
    assert_eq!(list(TokenQuery { state: Some(StateFilter::Valid), ..TokenQuery::default() }).total, 4);
    assert_eq!(names(list(TokenQuery { sort: TokenSort::User, descending: true, ..TokenQuery::default() }))[0], "old");
    assert_eq!(
        names(list(TokenQuery { sort: TokenSort::Name, ..TokenQuery::default() })),
        ["NIGHTLY backup", "nightly sync", "old", "other", "reporting"]
    );
    let page = list(TokenQuery { sort: TokenSort::Name, offset: 1, limit: 2, ..TokenQuery::default() });
    assert_eq!(page.total, 5);
    assert_eq!(names(page), ["nightly sync", "old"]);
    assert_eq!(list(TokenQuery { user: Some(UserFilter::Exact("nobody".into())), ..TokenQuery::default() }).total, 0);
    let row = &list(TokenQuery { name: Some("reporting".into()), ..TokenQuery::default() }).rows[0];
    assert_eq!(
        (row.username.as_str(), row.service_shortname.as_str(), row.service_name.as_str()),
        ("alpha", "s2", "Service s2")
    );
    assert_eq!(row.token.state(now), TokenState::Valid);
}

#[test]
fn access_decision_reads_the_store() {
    use wsconsole::domain::access::{AccessRequest, Credentials, decide};
    use wsconsole::domain::iprestriction::ClientAddr;
    let (_d, ops) = ops();
    ops.set_web_services(true).unwrap();
    ops.set_protocol(Protocol::Rest, true).unwrap();
    ws_user(&ops, "wsuser");
    ops.create_role("wsclient", "", &["webservice/rest:use".into()]).unwrap();
    ops.set_role_assignment("wsclient", "wsuser", true).unwrap();
    service(&ops, "svc", true);
    ops.set_service_functions("svc", &["core_webservice_get_site_info".into()], true).unwrap();
    ops.authorise_user("svc", "wsuser", "", None).unwrap();
    let t = token(&ops, "wsuser", "svc").unwrap();
    let req = AccessRequest {
        protocol: Protocol::Rest,
        credentials: Credentials::Token(Some(hash_token(&t.value))),
        function: Some("core_webservice_get_site_info"),
        remote: ClientAddr::parse("127.0.0.1").unwrap(),
        now: wsconsole::store::now(),
    };
    let never = |_: &wsconsole::domain::User, _: &str| false;
    let grant = decide(&ops.store().read().unwrap(), &req, &never).unwrap().unwrap();
    assert_eq!(grant.user.username, "wsuser");
    ops.set_suspended("wsuser", true).unwrap();
    let denial = decide(&ops.store().read().unwrap(), &req, &never).unwrap().unwrap_err();
    assert_eq!(denial.moodle_exception().unwrap().errorcode, "wsaccessusersuspended");
    ops.set_suspended("wsuser", false).unwrap();
    ops.revoke_token(t.token.id).unwrap();
    let denial = decide(&ops.store().read().unwrap(), &req, &never).unwrap().unwrap_err();
    assert_eq!(denial.moodle_exception().unwrap().errorcode, "invalidtoken");
}

#[test]
fn walkthrough_facts_follow_the_database() {
    use wsconsole::domain::walkthrough::{Status, steps};
    let (_d, ops) = ops();
    let facts = |ops: &Ops| ops.store().read().unwrap().walkthrough_facts(wsconsole::store::now()).unwrap();
    ops.set_web_services(true).unwrap();
    ops.set_protocol(Protocol::Rest, true).unwrap();
    ws_user(&ops, "wsuser");
    let [system, _, _] = steps(&facts(&ops));
    assert_eq!(system.steps[2].detail, "1 user");
    assert_eq!(system.steps[3].status, Status::Todo);
    assert_eq!(system.steps[3].detail, "1 lack webservice/rest:use: wsuser");
    ops.create_role("wsclient", "", &["webservice/rest:use".into(), "moodle/webservice:createtoken".into()]).unwrap();
    ops.set_role_assignment("wsclient", "wsuser", true).unwrap();
    service(&ops, "svc", true);
    service(&ops, "open", false);
    ops.set_service_functions("svc", &["core_webservice_get_site_info".into()], true).unwrap();
    ops.authorise_user("svc", "wsuser", "", None).unwrap();
    token(&ops, "wsuser", "svc").unwrap();
    let f = facts(&ops);
    let [system, users, _] = steps(&f);
    let done: Vec<_> = system.steps.iter().filter(|s| s.status == Status::Done).map(|s| s.number).collect();
    assert_eq!(done, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(users.steps[2].detail, "1 service");
    assert_eq!(users.steps[3].status, Status::Todo, "the open service has no functions");
    assert_eq!(users.steps[4].detail, "1 user can");
}

#[test]
fn user_listing_filters_on_username_name_and_email_and_pages() {
    let (_d, ops) = ops();
    for u in ["carol", "dave", "erin"] {
        ws_user(&ops, u);
    }
    ops.edit_user("erin", UserEdit { email: Some("ops@corp.example".into()), ..UserEdit::default() }).unwrap();
    let v = ops.store().read().unwrap();
    let names = |filter: &str, offset, limit| {
        let p = v.find_users(filter, offset, limit).unwrap();
        (p.rows.into_iter().map(|u| u.username).collect::<Vec<_>>(), p.total)
    };
    assert_eq!(names("", 0, 10), (vec!["carol".into(), "dave".into(), "erin".into()], 3));
    assert_eq!(names("AV", 0, 10), (vec!["dave".into()], 1));
    assert_eq!(names("corp.example", 0, 10), (vec!["erin".into()], 1));
    assert_eq!(names("web carol", 0, 10), (vec!["carol".into()], 1), "full name");
    assert_eq!(names("", 1, 1), (vec!["dave".into()], 3));
}

#[test]
fn batches_are_all_or_nothing_and_audited_per_user() {
    let (_d, ops) = ops();
    let new = |name: &str| NewUser {
        username: name.into(),
        auth: AuthMethod::Webservice,
        password: None,
        firstname: String::new(),
        lastname: String::new(),
        email: String::new(),
    };
    ws_user(&ops, "taken");
    // The third name is taken: nobody is created.
    assert!(ops.create_users(vec![new("a1"), new("a2"), new("taken")]).is_err());
    assert!(ops.store().read().unwrap().user_by_username("a1").unwrap().is_none());
    let made = ops.create_users(vec![new("b1"), new("b2")]).unwrap();
    assert_eq!(made.len(), 2);
    let audit = ops.store().read().unwrap().audit_entries("create user", 10).unwrap();
    assert_eq!(audit.iter().filter(|e| e.target.starts_with('b')).count(), 2);

    let change = |name: &str| wsconsole::ops::UserChange {
        username: name.into(),
        edit: UserEdit { firstname: Some("Changed".into()), ..UserEdit::default() },
        ..Default::default()
    };
    assert!(ops.change_users(vec![change("b1"), change("ghost")]).is_err());
    assert_eq!(ops.store().read().unwrap().user_by_username("b1").unwrap().unwrap().firstname, "");
    ops.change_users(vec![change("b1"), change("b2")]).unwrap();
    assert_eq!(ops.store().read().unwrap().user_by_username("b2").unwrap().unwrap().firstname, "Changed");

    assert!(ops.delete_users(&["b1".into(), "ghost".into()]).is_err());
    assert!(ops.store().read().unwrap().user_by_username("b1").unwrap().is_some());
    ops.delete_users(&["b1".into(), "b2".into()]).unwrap();
    assert!(ops.store().read().unwrap().user_by_username("b2").unwrap().is_none());
}

#[test]
fn roles_can_be_renamed_and_described() {
    let (_d, ops) = ops();
    ops.create_role("wsclient", "", &[]).unwrap();
    let r = ops.rename_role("wsclient", "Web services client", "For external systems").unwrap();
    assert_eq!((r.name.as_str(), r.description.as_str()), ("Web services client", "For external systems"));
    assert!(ops.rename_role("wsclient", "  ", "").is_err(), "a name is required");
    assert!(matches!(ops.rename_role("ghost", "x", ""), Err(OpError::NotFound(_))));
    assert_eq!(last_audit(&ops).operation, "edit role");
}
