//! The access decision of `login/token.php` (moodle-ws-reference.md §5.3): who may obtain a
//! token for a service by username and password. Like `access::decide`, it is pure and shared
//! by the endpoint and the console, and reads through [`AccessData`].

use super::access::{AccessData, PasswordCheck, Place};
use super::capabilities;
use super::iprestriction::{ClientAddr, IpRestriction};
use super::secret::{SiteKey, hash_token};
use super::types::{AuthMethod, AuthPlugin, MOBILE_SERVICE, Service, Token, TokenHash, TokenOrigin, UnixTime, User};

#[derive(Clone, Copy)]
pub struct LoginRequest<'a> {
    /// As sent; it is trimmed and lower-cased here, as Moodle does.
    pub username: &'a str,
    pub password: &'a str,
    /// Service shortname.
    pub service: &'a str,
    pub remote: ClientAddr,
    pub now: UnixTime,
}

impl std::fmt::Debug for LoginRequest<'_> {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

/// A login that may receive a token for this service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginGrant {
    pub user: User,
    pub service: Service,
}

/// Why a login gets no token, in Moodle's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginDenial {
    WebServicesDisabled,
    /// Unknown user, wrong password, suspended, auth `webservice` or `nologin`, or the
    /// manual plugin off: Moodle answers all of them the same way.
    InvalidLogin,
    Maintenance,
    UserNotConfirmed {
        username: String,
    },
    ServiceNotAvailable,
    MissingRequiredCapability {
        capability: String,
    },
    UserNotAllowed {
        shortname: String,
    },
    AuthorisationExpired,
    AuthorisationIp,
    CannotCreateToken {
        shortname: String,
    },
}

impl LoginDenial {
    pub fn errorcode(&self) -> &'static str {
        match self {
            LoginDenial::WebServicesDisabled => "enablewsdescription",
            LoginDenial::InvalidLogin => "invalidlogin",
            LoginDenial::Maintenance => "sitemaintenance",
            LoginDenial::UserNotConfirmed { .. } => "usernotconfirmed",
            LoginDenial::ServiceNotAvailable => "servicenotavailable",
            LoginDenial::MissingRequiredCapability { .. } => "missingrequiredcapability",
            LoginDenial::UserNotAllowed { .. } => "usernotallowed",
            LoginDenial::AuthorisationExpired => "invalidtimedtoken",
            LoginDenial::AuthorisationIp => "invalidiptoken",
            LoginDenial::CannotCreateToken { .. } => "cannotcreatetoken",
        }
    }

    /// Moodle's English message for the errorcode.
    pub fn message(&self) -> String {
        match self {
            LoginDenial::WebServicesDisabled => "Web services must be enabled in Advanced features.".into(),
            LoginDenial::InvalidLogin => "Invalid login, please try again".into(),
            LoginDenial::Maintenance => "The site is undergoing maintenance and is currently not available".into(),
            LoginDenial::UserNotConfirmed { username } => format!("Could not confirm {username}"),
            LoginDenial::ServiceNotAvailable => {
                "Web service is not available. (It doesn't exist or might be disabled.)".into()
            }
            LoginDenial::MissingRequiredCapability { capability } => {
                format!("The capability {capability} is required.")
            }
            LoginDenial::UserNotAllowed { shortname } => format!(
                "The user is not allowed for this service. First you need to allow this user on the {shortname}'s allowed users administration page."
            ),
            LoginDenial::AuthorisationExpired => "Invalid token - token expired".into(),
            LoginDenial::AuthorisationIp => "Invalid token - your IP is not supported".into(),
            LoginDenial::CannotCreateToken { shortname } => {
                format!("No permission to create web service token for the service {shortname}.")
            }
        }
    }

    /// The console screen where the failing setting is changed.
    pub fn place(&self) -> Place {
        match self {
            LoginDenial::WebServicesDisabled | LoginDenial::Maintenance => Place::AdvancedFeatures,
            LoginDenial::InvalidLogin | LoginDenial::UserNotConfirmed { .. } => Place::Users,
            LoginDenial::ServiceNotAvailable => Place::ExternalServices,
            LoginDenial::MissingRequiredCapability { .. } | LoginDenial::CannotCreateToken { .. } => Place::Roles,
            LoginDenial::UserNotAllowed { .. } | LoginDenial::AuthorisationExpired | LoginDenial::AuthorisationIp => {
                Place::AuthorisedUsers
            }
        }
    }
}

/// login/token.php's checks after its parameters are present. `check_password` is called only
/// for an existing account with a password, so the caller can equalise timing otherwise.
pub fn decide_login<D: AccessData>(
    data: &D,
    req: &LoginRequest<'_>,
    check_password: PasswordCheck<'_>,
) -> Result<Result<LoginGrant, LoginDenial>, D::Error> {
    let settings = data.settings()?;
    if !settings.enable_web_services {
        return Ok(Err(LoginDenial::WebServicesDisabled));
    }
    // authenticate_user_login: every failure is the same "invalidlogin".
    let username = req.username.trim().to_lowercase();
    let Some(user) = data.user_by_username(&username)? else {
        return Ok(Err(LoginDenial::InvalidLogin));
    };
    let plugin_on = match user.auth {
        // Always on, as in Moodle (get_enabled_auth_plugins).
        AuthMethod::Manual => settings.auth_enabled(AuthPlugin::Manual),
        // auth_webservice refuses every normal login; nologin refuses everything.
        AuthMethod::Webservice | AuthMethod::Nologin => false,
    };
    let password_ok = !user.password_hash.is_empty() && check_password(&user, req.password);
    if !password_ok || !plugin_on || user.suspended {
        return Ok(Err(LoginDenial::InvalidLogin));
    }
    if settings.maintenance && !data.has_capability(user.id, capabilities::MAINTENANCE_ACCESS)? {
        return Ok(Err(LoginDenial::Maintenance));
    }
    if !user.confirmed {
        return Ok(Err(LoginDenial::UserNotConfirmed { username }));
    }
    let Some(service) = data.service_by_shortname(req.service)?.filter(|s| s.enabled) else {
        return Ok(Err(LoginDenial::ServiceNotAvailable));
    };
    if let Some(cap) = service.required_capability.as_deref().filter(|c| !c.is_empty())
        && !data.has_capability(user.id, cap)?
    {
        return Ok(Err(LoginDenial::MissingRequiredCapability { capability: cap.to_string() }));
    }
    if service.restricted_users {
        let Some(auth) = data.authorised_user(service.id, user.id)? else {
            return Ok(Err(LoginDenial::UserNotAllowed { shortname: service.shortname }));
        };
        if auth.valid_until.is_some_and(|v| v < req.now) {
            return Ok(Err(LoginDenial::AuthorisationExpired));
        }
        if !auth.ip_restriction.trim().is_empty()
            && !IpRestriction::parse_lenient(&auth.ip_restriction).matches(req.remote)
        {
            return Ok(Err(LoginDenial::AuthorisationIp));
        }
    }
    let may_create = (service.shortname == MOBILE_SERVICE
        && data.has_capability(user.id, capabilities::CREATE_MOBILE_TOKEN)?)
        || data.has_capability(user.id, capabilities::CREATE_TOKEN)?;
    if !may_create {
        return Ok(Err(LoginDenial::CannotCreateToken { shortname: service.shortname }));
    }
    Ok(Ok(LoginGrant { user, service }))
}

/// The token login/token.php hands back instead of a new one (Moodle's
/// `generate_token_for_current_user`, step 4): of the user's tokens for the service, the most
/// recent that is valid now, admits the caller's address and was issued by login/token.php, so
/// that its value can be derived again from the site key (the database keeps only its hash).
/// Tokens an administrator created are never handed out again: they are shown once.
pub fn reusable_token(
    key: &SiteKey,
    user: super::types::UserId,
    tokens: impl IntoIterator<Item = (TokenHash, Token)>,
    service: super::types::ServiceId,
    remote: ClientAddr,
    now: UnixTime,
) -> Option<(Token, String)> {
    tokens
        .into_iter()
        .filter(|(_, t)| {
            t.user == user
                && t.service == service
                && t.origin == TokenOrigin::Login
                && t.valid_until.is_none_or(|v| v > now)
                && (t.ip_restriction.trim().is_empty()
                    || IpRestriction::parse_lenient(&t.ip_restriction).matches(remote))
        })
        .filter_map(|(hash, t)| {
            let value = key.login_token(&t);
            // A token issued before values were derived has a random value: it cannot be shown.
            (hash_token(&value) == hash).then_some((t, value))
        })
        .max_by_key(|(t, _)| (t.created, t.id))
}

#[cfg(test)]
mod reuse_tests {
    use super::*;

    fn token(id: u64, service: u64, created: i64, valid_until: Option<i64>, origin: TokenOrigin) -> Token {
        Token {
            id,
            name: format!("t{id}"),
            user: 3,
            service,
            ip_restriction: String::new(),
            valid_until,
            created,
            creator: "ws:wsuser".into(),
            last_access: None,
            origin,
        }
    }

    #[test]
    fn the_most_recent_valid_derivable_login_token_of_the_service() {
        let key = SiteKey::from_bytes([1; 32]);
        let derived = |t: Token| (hash_token(&key.login_token(&t)), t);
        let remote = ClientAddr::parse("127.0.0.1").unwrap();
        let older = derived(token(1, 2, 100, Some(1000), TokenOrigin::Login));
        let newer = derived(token(2, 2, 200, Some(1000), TokenOrigin::Login));
        let expired = derived(token(3, 2, 300, Some(500), TokenOrigin::Login));
        let other_service = derived(token(4, 9, 400, Some(1000), TokenOrigin::Login));
        let admin = derived(token(5, 2, 500, None, TokenOrigin::Admin));
        let random = (hash_token("0123456789abcdef0123456789abcdef"), token(6, 2, 600, None, TokenOrigin::Login));
        let mut ip_bound = token(7, 2, 700, None, TokenOrigin::Login);
        ip_bound.ip_restriction = "10.0.0.0/8".into();
        let ip_bound = derived(ip_bound);
        let all = vec![older, newer.clone(), expired, other_service, admin, random, ip_bound];
        let (t, value) = reusable_token(&key, 3, all.clone(), 2, remote, 600).unwrap();
        assert_eq!(t.id, 2);
        assert_eq!(hash_token(&value), newer.0);
        assert!(reusable_token(&key, 3, all.clone(), 2, remote, 1000).is_none(), "all expired by then");
        assert!(reusable_token(&key, 4, all.clone(), 2, remote, 600).is_none(), "another user's tokens");
        assert!(reusable_token(&SiteKey::from_bytes([2; 32]), 3, all, 2, remote, 600).is_none(), "another key");
    }
}
