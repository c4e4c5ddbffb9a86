//! `access::decide`: one test per denial and per grant path, over an in-memory data source.

use super::access::*;
use super::iprestriction::ClientAddr;
use super::secret::hash_token;
use super::types::*;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::convert::Infallible;
use std::sync::Arc;

pub(super) const NOW: UnixTime = 1_800_000_000;
pub(super) const TOKEN: &str = "05d26cbd3d5da4fb831f50abd3ae7900";
const FUNCTION: &str = "core_webservice_get_site_info";

#[derive(Default)]
pub(super) struct Memory {
    pub(super) settings: Settings,
    pub(super) tokens: HashMap<TokenHash, Token>,
    pub(super) users: HashMap<UserId, User>,
    pub(super) caps: HashSet<(UserId, String)>,
    pub(super) services: HashMap<ServiceId, Service>,
    functions: HashSet<(ServiceId, String)>,
    pub(super) authorised: HashMap<(ServiceId, UserId), AuthorisedUser>,
    /// Services connected to a Moodle site, with the functions it offers them.
    sites: HashMap<ServiceId, Vec<String>>,
}

impl AccessData for Memory {
    type Error = Infallible;
    fn settings(&self) -> Result<std::borrow::Cow<'_, Settings>, Infallible> {
        Ok(std::borrow::Cow::Borrowed(&self.settings))
    }
    fn token_by_hash(&self, hash: &TokenHash) -> Result<Option<Token>, Infallible> {
        Ok(self.tokens.get(hash).cloned())
    }
    fn user(&self, id: UserId) -> Result<Option<Arc<User>>, Infallible> {
        Ok(self.users.get(&id).cloned().map(Arc::new))
    }
    fn user_by_username(&self, username: &str) -> Result<Option<User>, Infallible> {
        Ok(self.users.values().find(|u| u.username == username && !u.deleted).cloned())
    }
    fn has_capability(&self, user: UserId, capability: &str) -> Result<bool, Infallible> {
        Ok(self.caps.contains(&(user, capability.to_string())))
    }
    fn service(&self, id: ServiceId) -> Result<Option<Arc<Service>>, Infallible> {
        Ok(self.services.get(&id).cloned().map(Arc::new))
    }
    fn service_by_shortname(&self, shortname: &str) -> Result<Option<Service>, Infallible> {
        Ok(self.services.values().find(|s| s.shortname == shortname).cloned())
    }
    fn service_has_function(&self, service: ServiceId, function: &str) -> Result<bool, Infallible> {
        Ok(self.functions.contains(&(service, function.to_string())))
    }
    fn services_with_function(&self, function: &str) -> Result<Vec<Service>, Infallible> {
        let mut v: Vec<Service> = self
            .services
            .values()
            .filter(|s| self.functions.contains(&(s.id, function.to_string())))
            .cloned()
            .collect();
        v.sort_by_key(|s| s.id);
        Ok(v)
    }
    fn authorised_user(&self, service: ServiceId, user: UserId) -> Result<Option<AuthorisedUser>, Infallible> {
        Ok(self.authorised.get(&(service, user)).cloned())
    }
    fn site_functions(&self, service: ServiceId) -> Result<Option<Arc<[String]>>, Infallible> {
        Ok(self.sites.get(&service).map(|f| f.clone().into()))
    }
}

pub(super) fn user(id: UserId, username: &str) -> User {
    User {
        id,
        username: username.into(),
        auth: AuthMethod::Manual,
        password_hash: "phc".into(),
        firstname: "W".into(),
        lastname: "S".into(),
        email: String::new(),
        lang: "en".into(),
        suspended: false,
        confirmed: true,
        deleted: false,
        created: 0,
        modified: 0,
    }
}

fn service(id: ServiceId, restricted: bool) -> Service {
    Service {
        id,
        name: format!("Service {id}"),
        shortname: format!("svc{id}"),
        enabled: true,
        restricted_users: restricted,
        required_capability: None,
        download_files: false,
        upload_files: false,
        builtin: false,
        created: 0,
        modified: 0,
    }
}

/// The fixtures' site: wsuser with a REST-capable role, "Test service" restricted with wsuser
/// authorised, and one token.
pub(super) fn site() -> Memory {
    let mut m = Memory::default();
    m.settings.enable_web_services = true;
    m.settings.protocols = BTreeSet::from([Protocol::Rest]);
    m.settings.auth_plugins = BTreeSet::from([AuthPlugin::Webservice]);
    m.users.insert(3, user(3, "wsuser"));
    m.caps.insert((3, "webservice/rest:use".into()));
    m.services.insert(2, service(2, true));
    m.functions.insert((2, FUNCTION.into()));
    m.authorised.insert(
        (2, 3),
        AuthorisedUser { service: 2, user: 3, ip_restriction: String::new(), valid_until: None, created: 0 },
    );
    m.tokens.insert(
        hash_token(TOKEN),
        Token {
            id: 7,
            name: "Webservice-abcde".into(),
            user: 3,
            service: 2,
            ip_restriction: String::new(),
            valid_until: None,
            created: 0,
            creator: "admin".into(),
            last_access: None,
            origin: TokenOrigin::Admin,
        },
    );
    m
}

fn token_request(function: Option<&str>) -> AccessRequest<'_> {
    AccessRequest {
        protocol: Protocol::Rest,
        credentials: Credentials::Token(Some(hash_token(TOKEN))),
        function,
        remote: ClientAddr::parse("127.0.0.1").unwrap(),
        now: NOW,
    }
}

fn password_request<'a>(username: &'a str, password: &'a str) -> AccessRequest<'a> {
    AccessRequest { credentials: Credentials::Password { username, password }, ..token_request(Some(FUNCTION)) }
}

/// Accepts exactly the password "right".
fn check(_: &User, password: &str) -> bool {
    password == "right"
}

fn run(m: &Memory, req: &AccessRequest<'_>) -> Decision {
    let Ok(d) = decide(m, req, &check);
    d
}

fn denial(m: &Memory, req: &AccessRequest<'_>) -> Denial {
    run(m, req).expect_err("expected a denial")
}

fn errorcode(d: &Denial) -> std::borrow::Cow<'static, str> {
    d.moodle_exception().expect("an exception").errorcode
}

// ---- grants ----

#[test]
fn grant_by_token_on_restricted_service() {
    let g = run(&site(), &token_request(Some(FUNCTION))).unwrap();
    assert_eq!((g.user.id, g.service.id, g.token.map(|t| t.id)), (3, 2, Some(7)));
    assert_eq!(g.function, FUNCTION);
}

#[test]
fn grant_by_token_on_open_service_without_authorisation() {
    let mut m = site();
    m.services.get_mut(&2).unwrap().restricted_users = false;
    m.authorised.clear();
    assert!(run(&m, &token_request(Some(FUNCTION))).is_ok());
}

#[test]
fn grant_with_future_token_expiry_and_matching_ip() {
    let mut m = site();
    let t = m.tokens.get_mut(&hash_token(TOKEN)).unwrap();
    t.valid_until = Some(NOW + 86_400);
    t.ip_restriction = "127.0.0.0/8".into();
    assert!(run(&m, &token_request(Some(FUNCTION))).is_ok());
}

#[test]
fn grant_to_authorised_user_valid_until_future_deliberate_difference() {
    // Moodle 4.5 refuses this (fixture rest_authuser_validuntil_future_json); we allow it.
    let mut m = site();
    m.authorised.get_mut(&(2, 3)).unwrap().valid_until = Some(NOW + 86_400);
    assert!(run(&m, &token_request(Some(FUNCTION))).is_ok());
}

#[test]
fn grant_with_required_capability_held_and_authorised_ip_matching() {
    let mut m = site();
    m.services.get_mut(&2).unwrap().required_capability = Some("moodle/user:viewdetails".into());
    m.caps.insert((3, "moodle/user:viewdetails".into()));
    m.authorised.get_mut(&(2, 3)).unwrap().ip_restriction = "127.0.0.1".into();
    assert!(run(&m, &token_request(Some(FUNCTION))).is_ok());
}

#[test]
fn grant_by_password_through_any_service_that_allows() {
    let mut m = site();
    // Service 1 lists the function but is disabled; service 2 grants it.
    m.services.insert(1, Service { enabled: false, ..service(1, false) });
    m.functions.insert((1, FUNCTION.into()));
    let g = run(&m, &password_request("wsuser", "right")).unwrap();
    assert_eq!(g.service.id, 2);
    assert!(g.token.is_none());
}

#[test]
fn grant_in_maintenance_with_maintenance_access() {
    let mut m = site();
    m.settings.maintenance = true;
    m.caps.insert((3, "moodle/site:maintenanceaccess".into()));
    assert!(run(&m, &token_request(Some(FUNCTION))).is_ok());
}

// ---- denials, in Moodle's order ----

#[test]
fn deny_web_services_disabled_before_anything() {
    let mut m = site();
    m.settings.enable_web_services = false;
    let d = denial(&m, &token_request(None));
    assert_eq!(d, Denial::WebServicesDisabled);
    assert!(d.is_switched_off() && d.moodle_exception().is_none());
    assert_eq!(d.place(), Place::AdvancedFeatures);
}

#[test]
fn deny_protocol_disabled() {
    let mut m = site();
    m.settings.protocols = BTreeSet::from([Protocol::Soap]);
    let d = denial(&m, &token_request(Some(FUNCTION)));
    assert_eq!(d, Denial::ProtocolDisabled(Protocol::Rest));
    assert!(d.is_switched_off());
    assert_eq!(d.place(), Place::ManageProtocols);
}

#[test]
fn deny_missing_or_unknown_token() {
    let m = site();
    for creds in [Credentials::Token(None), Credentials::Token(Some(hash_token("0123456789abcdef0123456789abcdef")))] {
        let d = denial(&m, &AccessRequest { credentials: creds, ..token_request(Some(FUNCTION)) });
        assert_eq!(d, Denial::InvalidToken);
        let e = d.moodle_exception().unwrap();
        assert_eq!(
            (&*e.exception, &*e.errorcode, e.message.as_str()),
            (MOODLE_EXCEPTION, "invalidtoken", "Invalid token - token not found")
        );
        assert_eq!(e.debuginfo, None);
    }
}

#[test]
fn deny_expired_token_before_ip() {
    let mut m = site();
    let t = m.tokens.get_mut(&hash_token(TOKEN)).unwrap();
    t.valid_until = Some(NOW - 3600);
    t.ip_restriction = "10.0.0.1".into();
    let d = denial(&m, &token_request(Some(FUNCTION)));
    assert_eq!(d, Denial::TokenExpired { token: 7, valid_until: NOW - 3600 });
    let e = d.moodle_exception().unwrap();
    assert_eq!(
        (&*e.exception, &*e.errorcode, e.message.as_str()),
        (WEBSERVICE_ACCESS_EXCEPTION, "accessexception", "Access control exception")
    );
    assert_eq!(e.debuginfo.as_deref(), Some("Invalid token - token expired - check validuntil time for the token"));
    assert_eq!(d.place(), Place::Tokens);
}

#[test]
fn deny_token_ip_restriction() {
    let mut m = site();
    m.tokens.get_mut(&hash_token(TOKEN)).unwrap().ip_restriction = "10.0.0.1".into();
    let d = denial(&m, &token_request(Some(FUNCTION)));
    assert_eq!(errorcode(&d), "accessexception");
    assert_eq!(
        d.moodle_exception().unwrap().debuginfo.as_deref(),
        Some("Invalid service - IP:127.0.0.1 is not supported - check this allowed user")
    );
    assert!(d.explain().contains("127.0.0.1"));
}

#[test]
fn deny_token_of_missing_user() {
    let mut m = site();
    m.users.clear();
    let d = denial(&m, &token_request(Some(FUNCTION)));
    assert_eq!(d, Denial::InvalidUser);
    assert_eq!(d.moodle_exception().unwrap().exception, DML_MISSING_RECORD_EXCEPTION);
}

#[test]
fn deny_simple_auth_plugin_disabled() {
    let mut m = site();
    m.settings.auth_plugins.remove(&AuthPlugin::Webservice);
    let d = denial(&m, &password_request("wsuser", "right"));
    assert_eq!(d, Denial::AuthPluginDisabled);
    assert_eq!(
        d.moodle_exception().unwrap().debuginfo.as_deref(),
        Some("The web service authentication plugin is disabled.")
    );
    assert_eq!(d.place(), Place::ManageAuthentication);
    // The token path does not care about the plugin (fixture rest_token_authplugin_disabled_json).
    assert!(run(&m, &token_request(Some(FUNCTION))).is_ok());
}

#[test]
fn deny_simple_auth_missing_username_then_password() {
    let m = site();
    assert_eq!(errorcode(&denial(&m, &password_request("", ""))), "missingusername");
    let d = denial(&m, &password_request("wsuser", ""));
    assert_eq!(errorcode(&d), "missingpassword");
    assert_eq!(d.moodle_exception().unwrap().message, "Missing password");
}

#[test]
fn deny_simple_auth_wrong_password_or_unknown_user() {
    let m = site();
    for req in [password_request("wsuser", "wrong"), password_request("nobody", "right")] {
        let d = denial(&m, &req);
        let e = d.moodle_exception().unwrap();
        assert_eq!((&*e.errorcode, e.message.as_str()), ("wrongusernamepassword", "Wrong username or password"));
    }
}

#[test]
fn deny_maintenance_mode() {
    let mut m = site();
    m.settings.maintenance = true;
    let d = denial(&m, &token_request(Some(FUNCTION)));
    assert_eq!(errorcode(&d), "sitemaintenance");
}

#[test]
fn deny_deleted_user() {
    let mut m = site();
    m.users.get_mut(&3).unwrap().deleted = true;
    let e = denial(&m, &token_request(Some(FUNCTION))).moodle_exception().unwrap();
    assert_eq!(
        (&*e.errorcode, e.message.as_str()),
        ("wsaccessuserdeleted", "Refused web service access for deleted username: wsuser")
    );
}

#[test]
fn deny_unconfirmed_user() {
    let mut m = site();
    m.users.get_mut(&3).unwrap().confirmed = false;
    assert_eq!(errorcode(&denial(&m, &token_request(Some(FUNCTION)))), "wsaccessuserunconfirmed");
}

#[test]
fn deny_suspended_user_before_capability() {
    let mut m = site();
    m.users.get_mut(&3).unwrap().suspended = true;
    m.caps.clear();
    let d = denial(&m, &token_request(Some(FUNCTION)));
    let e = d.moodle_exception().unwrap();
    // Fixture rest_suspended_user_json, with 4.5's class name.
    assert_eq!(
        (&*e.exception, &*e.errorcode, e.message.as_str()),
        (MOODLE_EXCEPTION, "wsaccessusersuspended", "Refused web service access for suspended username: wsuser")
    );
    assert_eq!(d.place(), Place::Users);
}

#[test]
fn deny_nologin_user() {
    let mut m = site();
    m.users.get_mut(&3).unwrap().auth = AuthMethod::Nologin;
    let e = denial(&m, &token_request(Some(FUNCTION))).moodle_exception().unwrap();
    assert_eq!(e.message, "Refused web service access for nologin authentication username: wsuser");
}

#[test]
fn deny_missing_protocol_capability() {
    let mut m = site();
    m.caps.clear();
    let d = denial(&m, &token_request(Some(FUNCTION)));
    assert_eq!(
        d.moodle_exception().unwrap().debuginfo.as_deref(),
        Some("You are not allowed to use the rest protocol (missing capability: webservice/rest:use)")
    );
    assert_eq!(d.place(), Place::Roles);
    assert!(d.explain().contains("webservice/rest:use"));
}

#[test]
fn deny_missing_function_name_after_authentication() {
    let m = site();
    for f in [None, Some("")] {
        let d = denial(&m, &token_request(f));
        let e = d.moodle_exception().unwrap();
        assert_eq!((&*e.exception, &*e.errorcode), (INVALID_PARAMETER_EXCEPTION, "invalidparameter"));
        assert_eq!(e.debuginfo.as_deref(), Some("Missing function name"));
    }
}

#[test]
fn deny_unknown_function() {
    let d = denial(&site(), &token_request(Some("core_nonexistent_function")));
    let e = d.moodle_exception().unwrap();
    assert_eq!((&*e.exception, &*e.errorcode), (DML_MISSING_RECORD_EXCEPTION, "invalidrecord"));
    assert_eq!(e.message, "Can't find data record in database table external_functions.");
    assert_eq!(
        e.debuginfo.as_deref(),
        Some("SELECT * FROM {external_functions} WHERE name = ?\n[array (\n  0 => 'core_nonexistent_function',\n)]")
    );
}

fn refusal(m: &Memory) -> ServiceRefusal {
    match denial(m, &token_request(Some(FUNCTION))) {
        Denial::FunctionNotAllowed { name, refusals } => {
            assert_eq!(name, FUNCTION);
            assert_eq!(refusals.len(), 1);
            refusals.into_iter().next().unwrap().1
        }
        other => panic!("expected FunctionNotAllowed, got {other:?}"),
    }
}

#[test]
fn deny_service_disabled() {
    let mut m = site();
    m.services.get_mut(&2).unwrap().enabled = false;
    assert_eq!(refusal(&m), ServiceRefusal::Disabled);
}

#[test]
fn deny_function_not_in_token_service() {
    let mut m = site();
    m.functions.clear();
    // The function is in another enabled open service, but a token is bound to its own.
    m.services.insert(5, service(5, false));
    m.functions.insert((5, FUNCTION.into()));
    assert_eq!(refusal(&m), ServiceRefusal::FunctionNotListed);
    let d = denial(&m, &token_request(Some(FUNCTION)));
    let debuginfo = d.moodle_exception().unwrap().debuginfo.unwrap();
    assert!(debuginfo.starts_with(
        "Access to the function core_webservice_get_site_info() is not allowed.\n                     There could be"
    ));
    assert!(debuginfo.ends_with("> Server > Web services > External services and Manage tokens."));
    assert_eq!(d.place(), Place::ServiceFunctions);
}

#[test]
fn deny_user_not_authorised() {
    let mut m = site();
    m.authorised.clear();
    assert_eq!(refusal(&m), ServiceRefusal::UserNotAuthorised);
    assert_eq!(denial(&m, &token_request(Some(FUNCTION))).place(), Place::AuthorisedUsers);
}

#[test]
fn deny_authorisation_expired() {
    let mut m = site();
    m.authorised.get_mut(&(2, 3)).unwrap().valid_until = Some(NOW - 1);
    assert_eq!(refusal(&m), ServiceRefusal::AuthorisationExpired { valid_until: NOW - 1 });
}

#[test]
fn deny_missing_required_capability() {
    let mut m = site();
    m.services.get_mut(&2).unwrap().required_capability = Some("moodle/user:create".into());
    assert_eq!(refusal(&m), ServiceRefusal::MissingRequiredCapability { capability: "moodle/user:create".into() });
    assert!(denial(&m, &token_request(Some(FUNCTION))).explain().contains("moodle/user:create"));
}

#[test]
fn deny_authorisation_ip() {
    let mut m = site();
    m.authorised.get_mut(&(2, 3)).unwrap().ip_restriction = "10.0.0.1".into();
    assert_eq!(refusal(&m), ServiceRefusal::AuthorisationIp { restriction: "10.0.0.1".into() });
}

#[test]
fn deny_password_call_when_no_service_has_function() {
    let mut m = site();
    m.functions.clear();
    match denial(&m, &password_request("wsuser", "right")) {
        Denial::FunctionNotAllowed { refusals, .. } => assert!(refusals.is_empty()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn explanations_are_single_sentences() {
    let mut m = site();
    m.authorised.clear();
    let d = denial(&m, &token_request(Some(FUNCTION)));
    assert_eq!(
        d.explain(),
        "Service \"Service 2\" does not allow core_webservice_get_site_info(): it is for authorised users only and the user is not one."
    );
}

#[test]
fn debug_of_credentials_hides_password() {
    let s = format!("{:?}", Credentials::Password { username: "u", password: "hunter2" });
    assert!(!s.contains("hunter2"));
}

// ---- login/token.php ----

mod login {
    use super::*;
    use crate::domain::login::{LoginDenial, LoginRequest, decide_login};

    fn req<'a>(username: &'a str, password: &'a str, service: &'a str) -> LoginRequest<'a> {
        LoginRequest { username, password, service, remote: ClientAddr::parse("127.0.0.1").unwrap(), now: NOW }
    }

    fn site() -> Memory {
        let mut m = super::site();
        m.caps.insert((3, "moodle/webservice:createtoken".into()));
        m
    }

    fn run(m: &Memory, r: &LoginRequest<'_>) -> Result<crate::domain::login::LoginGrant, LoginDenial> {
        let Ok(d) = decide_login(m, r, &check);
        d
    }

    #[test]
    fn grant_and_username_case() {
        let m = site();
        let g = run(&m, &req(" WSUser ", "right", "svc2")).unwrap();
        assert_eq!((g.user.id, g.service.id), (3, 2));
    }

    #[test]
    fn every_denial_in_order() {
        let mut m = site();
        assert_eq!(run(&m, &req("wsuser", "wrong", "svc2")), Err(LoginDenial::InvalidLogin));
        assert_eq!(run(&m, &req("nobody", "right", "svc2")), Err(LoginDenial::InvalidLogin));
        // Manual accounts log in with no plugin enabled at all, as in Moodle (t2_tokenphp_*).
        m.settings.auth_plugins.clear();
        assert!(run(&m, &req("wsuser", "right", "svc2")).is_ok(), "manual is always on");
        m.settings.auth_plugins.insert(AuthPlugin::Webservice);
        m.users.get_mut(&3).unwrap().auth = AuthMethod::Webservice;
        assert_eq!(
            run(&m, &req("wsuser", "right", "svc2")),
            Err(LoginDenial::InvalidLogin),
            "webservice users cannot log in"
        );
        m.users.get_mut(&3).unwrap().auth = AuthMethod::Manual;
        m.users.get_mut(&3).unwrap().suspended = true;
        assert_eq!(run(&m, &req("wsuser", "right", "svc2")), Err(LoginDenial::InvalidLogin));
        m.users.get_mut(&3).unwrap().suspended = false;
        m.settings.maintenance = true;
        assert_eq!(run(&m, &req("wsuser", "right", "svc2")), Err(LoginDenial::Maintenance));
        m.settings.maintenance = false;
        m.users.get_mut(&3).unwrap().confirmed = false;
        assert_eq!(run(&m, &req("wsuser", "right", "svc2")).unwrap_err().message(), "Could not confirm wsuser");
        m.users.get_mut(&3).unwrap().confirmed = true;
        assert_eq!(run(&m, &req("wsuser", "right", "nosuch")), Err(LoginDenial::ServiceNotAvailable));
        m.services.get_mut(&2).unwrap().required_capability = Some("moodle/user:create".into());
        assert_eq!(run(&m, &req("wsuser", "right", "svc2")).unwrap_err().errorcode(), "missingrequiredcapability");
        m.services.get_mut(&2).unwrap().required_capability = None;
        m.authorised.get_mut(&(2, 3)).unwrap().valid_until = Some(NOW - 1);
        assert_eq!(run(&m, &req("wsuser", "right", "svc2")), Err(LoginDenial::AuthorisationExpired));
        m.authorised.get_mut(&(2, 3)).unwrap().valid_until = Some(NOW + 86_400);
        assert!(run(&m, &req("wsuser", "right", "svc2")).is_ok(), "a future date is fine here too");
        m.authorised.get_mut(&(2, 3)).unwrap().ip_restriction = "10.0.0.1".into();
        assert_eq!(run(&m, &req("wsuser", "right", "svc2")), Err(LoginDenial::AuthorisationIp));
        m.authorised.clear();
        let d = run(&m, &req("wsuser", "right", "svc2")).unwrap_err();
        assert_eq!(d, LoginDenial::UserNotAllowed { shortname: "svc2".into() });
        assert!(d.message().contains("svc2's allowed users"));
        m.services.get_mut(&2).unwrap().restricted_users = false;
        m.caps.remove(&(3, "moodle/webservice:createtoken".to_string()));
        assert_eq!(run(&m, &req("wsuser", "right", "svc2")).unwrap_err().errorcode(), "cannotcreatetoken");
        m.settings.enable_web_services = false;
        assert_eq!(run(&m, &req("wsuser", "right", "svc2")), Err(LoginDenial::WebServicesDisabled));
    }

    #[test]
    fn mobile_service_needs_only_the_mobile_capability() {
        let mut m = site();
        m.caps.remove(&(3, "moodle/webservice:createtoken".to_string()));
        m.caps.insert((3, "moodle/webservice:createmobiletoken".into()));
        m.services.insert(1, Service { shortname: MOBILE_SERVICE.into(), ..service(1, false) });
        assert!(run(&m, &req("wsuser", "right", MOBILE_SERVICE)).is_ok());
        assert!(run(&m, &req("wsuser", "right", "svc2")).is_err());
    }
}

/// A service connected to the Moodle site: its calls are forwarded, the site's own functions
/// (which the catalogue here does not know) pass when the site offers them and the service
/// lists them, and every other check still refuses before anything is forwarded.
#[test]
fn a_connected_service_forwards_what_it_lists_and_the_site_offers() {
    const SITE_ONLY: &str = "core_course_get_courses";
    let mut m = site();
    let local = run(&m, &token_request(Some(FUNCTION))).unwrap();
    assert!(!local.forward, "a service without a site answers here");
    // The site's function is unknown here until the service is connected.
    m.functions.insert((2, SITE_ONLY.into()));
    assert!(matches!(denial(&m, &token_request(Some(SITE_ONLY))), Denial::FunctionNotImplemented { .. }));

    m.sites.insert(2, vec![FUNCTION.into(), SITE_ONLY.into()]);
    let grant = run(&m, &token_request(Some(SITE_ONLY))).unwrap();
    assert!(grant.forward && grant.function == SITE_ONLY);
    assert!(run(&m, &token_request(Some(FUNCTION))).unwrap().forward, "every call of the service");
    let by_password = run(&m, &password_request("wsuser", "right")).unwrap();
    assert!(by_password.forward);

    // Offered by the site but not listed in the service: refused here.
    m.sites.insert(2, vec![FUNCTION.into(), SITE_ONLY.into(), "core_course_get_contents".into()]);
    assert!(matches!(denial(&m, &token_request(Some("core_course_get_contents"))), Denial::FunctionNotAllowed { .. }));
    // Neither here nor on the site: unknown, as before.
    assert!(matches!(denial(&m, &token_request(Some("no_such_function"))), Denial::UnknownFunction { .. }));
    // The caller's checks come first.
    m.authorised.clear();
    assert!(matches!(denial(&m, &token_request(Some(SITE_ONLY))), Denial::FunctionNotAllowed { .. }));
    m.settings.enable_web_services = false;
    assert_eq!(denial(&m, &token_request(Some(SITE_ONLY))), Denial::WebServicesDisabled);
}
