//! The access decision of `login/token.php` (moodle-ws-reference.md §5.3): who may obtain a
//! token for a service by username and password. Like `access::decide`, it is pure and shared
//! by the endpoint and the console, and reads through [`AccessData`].

use super::access::{AccessData, PasswordCheck, Place};
use super::capabilities;
use super::iprestriction::{ClientAddr, IpRestriction};
use super::types::{AuthMethod, AuthPlugin, MOBILE_SERVICE, Service, UnixTime, User};

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
