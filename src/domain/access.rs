//! The access decision (DESIGN.md §5): one function that both the endpoint and the console's
//! access simulator call, so that what the console explains is exactly what the endpoint does.
//!
//! Order and error codes follow Moodle's `webservice_server::authenticate_user()` and
//! `load_function_info()` (moodle-ws-reference.md §2.7, §3.1–3.3):
//! web services and protocol on → credentials → token expiry → token IP → user state →
//! `webservice/<protocol>:use` → function named and known → a service grants it.
//!
//! Deliberate difference: an authorised user whose "valid until" lies in the future is allowed
//! and one whose date has passed is refused; Moodle 3.x–4.5 does the reverse by a flipped
//! comparison (fixture finding 1).

use super::capabilities;
// What the decision yields, named through it as callers always have.
pub use super::denial::{Denial, Place, ServiceRefusal};
pub use super::exception::{
    DML_MISSING_RECORD_EXCEPTION, INVALID_PARAMETER_EXCEPTION, MOODLE_EXCEPTION, MoodleException,
    WEBSERVICE_ACCESS_EXCEPTION,
};
use super::function_catalogue;
use super::iprestriction::{ClientAddr, IpRestriction};
use super::types::{
    AuthPlugin, AuthorisedUser, Protocol, Service, ServiceId, Settings, Token, TokenHash, UnixTime, User, UserId,
};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// What the decision reads. The store implements it over any transaction (the endpoint's
/// shared read snapshots included). Errors are the implementation's storage errors.
pub trait AccessData {
    type Error;
    /// Borrowed where the source keeps them decoded (the endpoint's snapshot), so that a call
    /// copies none of them.
    fn settings(&self) -> Result<Cow<'_, Settings>, Self::Error>;
    fn token_by_hash(&self, hash: &TokenHash) -> Result<Option<Token>, Self::Error>;
    /// Shared, so that a source may hand out the same decoded account to every request.
    fn user(&self, id: UserId) -> Result<Option<Arc<User>>, Self::Error>;
    /// Only live (not deleted) accounts have a username to find.
    fn user_by_username(&self, username: &str) -> Result<Option<User>, Self::Error>;
    fn has_capability(&self, user: UserId, capability: &str) -> Result<bool, Self::Error>;
    fn service(&self, id: ServiceId) -> Result<Option<Arc<Service>>, Self::Error>;
    fn service_by_shortname(&self, shortname: &str) -> Result<Option<Service>, Self::Error>;
    fn service_has_function(&self, service: ServiceId, function: &str) -> Result<bool, Self::Error>;
    /// Every service that lists the function, enabled or not.
    fn services_with_function(&self, function: &str) -> Result<Vec<Service>, Self::Error>;
    fn authorised_user(&self, service: ServiceId, user: UserId) -> Result<Option<AuthorisedUser>, Self::Error>;
    /// For a service connected to the Moodle site (a credential set, and `upstreamurl`), the
    /// functions the site offers it (its last sync's; none before one): its calls are forwarded.
    /// `None` for a service answered here.
    fn site_functions(&self, service: ServiceId) -> Result<Option<Arc<[String]>>, Self::Error>;
}

/// How the caller authenticates.
#[derive(Clone, Copy)]
pub enum Credentials<'a> {
    /// `wstoken`, already hashed; `None` when missing or not a token at all.
    Token(Option<TokenHash>),
    /// `wsusername` / `wspassword` (simpleserver.php).
    Password { username: &'a str, password: &'a str },
}

impl fmt::Debug for Credentials<'_> {
    /// Never prints a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Token(h) => write!(f, "Token({})", if h.is_some() { "…" } else { "none" }),
            Credentials::Password { username, .. } => write!(f, "Password {{ username: {username:?} }}"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct AccessRequest<'a> {
    pub protocol: Protocol,
    pub credentials: Credentials<'a>,
    /// `wsfunction`; `None` or empty is Moodle's "Missing function name".
    pub function: Option<&'a str>,
    pub remote: ClientAddr,
    pub now: UnixTime,
}

/// A call that may proceed: who, through which service, with which token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub user: Arc<User>,
    pub service: Arc<Service>,
    pub token: Option<Token>,
    pub function: String,
    /// The service is connected to the Moodle site: the call goes there (DESIGN.md §8).
    pub forward: bool,
}

pub type Decision = Result<Grant, Denial>;

/// Verifies a password against a stored hash; passed in so that the decision stays pure and the
/// endpoint can run the costly check on its bounded pool.
pub type PasswordCheck<'a> = &'a dyn Fn(&User, &str) -> bool;

/// The access decision. `Err` is a storage error of the data source; `Ok(Err(denial))` a refusal.
pub fn decide<D: AccessData>(
    data: &D,
    req: &AccessRequest<'_>,
    check_password: PasswordCheck<'_>,
) -> Result<Decision, D::Error> {
    match authenticate(data, req, check_password)? {
        Ok(Caller { user, token }) => authorise_function(data, req, user, token),
        Err(denial) => Ok(Err(denial)),
    }
}

/// Who calls, once the credentials and the account passed (Moodle's `authenticate_user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: Arc<User>,
    pub token: Option<Token>,
}

/// The switches, the credentials and the account (§3.1, §3.2): everything `decide` checks
/// before it looks at the function. `req.function` is not read.
pub fn authenticate<D: AccessData>(
    data: &D,
    req: &AccessRequest<'_>,
    check_password: PasswordCheck<'_>,
) -> Result<Result<Caller, Denial>, D::Error> {
    let settings = data.settings()?;
    if !settings.enable_web_services {
        return Ok(Err(Denial::WebServicesDisabled));
    }
    if !settings.protocols.contains(&req.protocol) {
        return Ok(Err(Denial::ProtocolDisabled(req.protocol)));
    }

    // Credentials (§3.1 A, §3.2).
    let (user, token) = match req.credentials {
        Credentials::Token(hash) => {
            let Some(token) = (match hash {
                Some(h) => data.token_by_hash(&h)?,
                None => None,
            }) else {
                return Ok(Err(Denial::InvalidToken));
            };
            if let Some(until) = token.valid_until
                && until < req.now
            {
                return Ok(Err(Denial::TokenExpired { token: token.id, valid_until: until }));
            }
            if !token.ip_restriction.trim().is_empty()
                && !IpRestriction::parse_lenient(&token.ip_restriction).matches(req.remote)
            {
                return Ok(Err(Denial::TokenIpRestricted { token: token.id, ip: req.remote.to_string() }));
            }
            let Some(user) = data.user(token.user)? else {
                return Ok(Err(Denial::InvalidUser));
            };
            (user, Some(token))
        }
        Credentials::Password { username, password } => {
            if !settings.auth_enabled(AuthPlugin::Webservice) {
                return Ok(Err(Denial::AuthPluginDisabled));
            }
            if username.is_empty() {
                return Ok(Err(Denial::MissingUsername));
            }
            if password.is_empty() {
                return Ok(Err(Denial::MissingPassword));
            }
            let user = data.user_by_username(username)?;
            match user {
                Some(u) if !u.password_hash.is_empty() && check_password(&u, password) => (Arc::new(u), None),
                _ => return Ok(Err(Denial::WrongUsernamePassword { username: username.to_string() })),
            }
        }
    };

    // User state (§3.1 C), in Moodle's order.
    let username = || user.username.clone();
    if settings.maintenance && !data.has_capability(user.id, capabilities::MAINTENANCE_ACCESS)? {
        return Ok(Err(Denial::Maintenance));
    }
    if user.deleted {
        return Ok(Err(Denial::UserDeleted { username: username() }));
    }
    if !user.confirmed {
        return Ok(Err(Denial::UserUnconfirmed { username: username() }));
    }
    if user.suspended {
        return Ok(Err(Denial::UserSuspended { username: username() }));
    }
    if user.auth == super::types::AuthMethod::Nologin {
        return Ok(Err(Denial::UserNologin { username: username() }));
    }
    if !data.has_capability(user.id, req.protocol.capability())? {
        return Ok(Err(Denial::MissingProtocolCapability { username: username(), protocol: req.protocol }));
    }
    Ok(Ok(Caller { user, token }))
}

/// The functions an authenticated caller may call: the token's service's, or for
/// username/password every service's that lets the user in (Moodle's `init_service_class`,
/// which makes the SOAP WSDL). The same test as `decide`'s, function by function.
pub fn callable_functions<D: AccessData>(
    data: &D,
    caller: &Caller,
    protocol: Protocol,
    remote: ClientAddr,
    now: UnixTime,
) -> Result<Vec<&'static str>, D::Error> {
    let mut names = Vec::new();
    for f in function_catalogue::FUNCTIONS {
        // `authenticate` checked the credentials; the function stage reads none of them.
        let r = AccessRequest { protocol, credentials: Credentials::Token(None), function: Some(f.name), remote, now };
        if authorise_function(data, &r, caller.user.clone(), caller.token.clone())?.is_ok() {
            names.push(f.name);
        }
    }
    Ok(names)
}

/// The function (§3.3): named, known, and granted by a candidate service.
fn authorise_function<D: AccessData>(
    data: &D,
    req: &AccessRequest<'_>,
    user: Arc<User>,
    token: Option<Token>,
) -> Result<Decision, D::Error> {
    let name = match req.function {
        Some(f) if !f.is_empty() => f,
        _ => return Ok(Err(Denial::MissingFunctionName)),
    };
    if function_catalogue::find(name).is_none() && !offered_by_a_site(data, token.as_ref(), name)? {
        let name = name.to_string();
        if super::moodle_functions::exists(&name) {
            return Ok(Err(Denial::FunctionNotImplemented { name }));
        }
        return Ok(Err(Denial::UnknownFunction { name }));
    }
    let candidates: Vec<Arc<Service>> = match &token {
        Some(t) => data.service(t.service)?.into_iter().collect(),
        None => data.services_with_function(name)?.into_iter().map(Arc::new).collect(),
    };
    let mut refusals = Vec::new();
    for service in candidates {
        match service_refusal(data, &service, &user, name, req)? {
            None => {
                let forward = data.site_functions(service.id)?.is_some();
                return Ok(Ok(Grant { user, service, token, function: name.to_string(), forward }));
            }
            Some(why) => refusals.push((Service::clone(&service), why)),
        }
    }
    Ok(Err(Denial::FunctionNotAllowed { name: name.to_string(), refusals }))
}

/// Whether the Moodle site behind a service the caller may use offers `name`: the token's
/// service, or for a username and password any service that lists it.
fn offered_by_a_site<D: AccessData>(data: &D, token: Option<&Token>, name: &str) -> Result<bool, D::Error> {
    let offers = |service: ServiceId| -> Result<bool, D::Error> {
        Ok(data.site_functions(service)?.is_some_and(|f| f.iter().any(|n| n == name)))
    };
    match token {
        Some(t) => offers(t.service),
        None => {
            for s in data.services_with_function(name)? {
                if offers(s.id)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
    }
}

/// Whether one service grants the function to the user, and if not, the first reason.
fn service_refusal<D: AccessData>(
    data: &D,
    service: &Service,
    user: &User,
    function: &str,
    req: &AccessRequest<'_>,
) -> Result<Option<ServiceRefusal>, D::Error> {
    if !service.enabled {
        return Ok(Some(ServiceRefusal::Disabled));
    }
    if !data.service_has_function(service.id, function)? {
        return Ok(Some(ServiceRefusal::FunctionNotListed));
    }
    let mut ip_restriction = String::new();
    if service.restricted_users {
        let Some(auth) = data.authorised_user(service.id, user.id)? else {
            return Ok(Some(ServiceRefusal::UserNotAuthorised));
        };
        if let Some(until) = auth.valid_until
            && until < req.now
        {
            return Ok(Some(ServiceRefusal::AuthorisationExpired { valid_until: until }));
        }
        ip_restriction = auth.ip_restriction;
    }
    if let Some(cap) = service.required_capability.as_deref().filter(|c| !c.is_empty())
        && !data.has_capability(user.id, cap)?
    {
        return Ok(Some(ServiceRefusal::MissingRequiredCapability { capability: cap.to_string() }));
    }
    if !ip_restriction.trim().is_empty() && !IpRestriction::parse_lenient(&ip_restriction).matches(req.remote) {
        return Ok(Some(ServiceRefusal::AuthorisationIp { restriction: ip_restriction }));
    }
    Ok(None)
}
