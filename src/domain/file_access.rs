//! Who may download or upload a file with a token (Moodle's `webservice/pluginfile.php` and
//! `webservice/upload.php`, reference §2.9). Their checks are a call's, in another order and
//! without the protocol and the function: the file scripts check the token's *service record*
//! itself (enabled, required capability, authorised users), then the account's state, then
//! "can download files" or "can upload files".

use super::access::{AccessData, Denial, MoodleException, ServiceRefusal};
use super::iprestriction::{ClientAddr, IpRestriction};
use super::types::{Service, Token, TokenHash, UnixTime, User};
use std::sync::Arc;

/// A download that may proceed: whose token, on which service.
#[derive(Debug, Clone)]
pub struct FileGrant {
    pub user: Arc<User>,
    pub service: Arc<Service>,
    pub token: Token,
}

/// What the token is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileUse {
    Download,
    Upload,
}

/// Why a download is refused, each one check of Moodle's order for the file scripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileDenial {
    /// A check the file scripts share with calls (switches, token, account).
    Caller(Denial),
    /// The token's service: disabled, a capability, or its authorised users.
    Service { service: String, refusal: ServiceRefusal },
    /// The service's "can download files" is off.
    DownloadsDisabled { service: String },
    /// The service's "can upload files" is off.
    UploadsDisabled { service: String },
}

/// The decision for a token given as `token=` (its hash; `None` when missing or malformed).
pub fn decide_file<D: AccessData>(
    data: &D,
    token: Option<&TokenHash>,
    remote: ClientAddr,
    now: UnixTime,
    used: FileUse,
) -> Result<Result<FileGrant, FileDenial>, D::Error> {
    if !data.settings()?.enable_web_services {
        return Ok(Err(FileDenial::Caller(Denial::WebServicesDisabled)));
    }
    let found = match token {
        Some(h) => data.token_by_hash(h)?,
        None => None,
    };
    match found {
        Some(token) => decide_file_for(data, token, remote, now, used),
        None => Ok(Err(FileDenial::Caller(Denial::InvalidToken))),
    }
}

/// The decision for a token already found (a private access key names its user, whose
/// tokens are tried).
pub fn decide_file_for<D: AccessData>(
    data: &D,
    token: Token,
    remote: ClientAddr,
    now: UnixTime,
    used: FileUse,
) -> Result<Result<FileGrant, FileDenial>, D::Error> {
    use Denial::*;
    let caller = |d: Denial| Ok(Err(FileDenial::Caller(d)));
    let settings = data.settings()?;
    if !settings.enable_web_services {
        return caller(WebServicesDisabled);
    }
    if let Some(until) = token.valid_until
        && until < now
    {
        return caller(TokenExpired { token: token.id, valid_until: until });
    }
    if !token.ip_restriction.trim().is_empty() && !IpRestriction::parse_lenient(&token.ip_restriction).matches(remote) {
        return caller(TokenIpRestricted { token: token.id, ip: remote.to_string() });
    }
    // `deleted = 0, MUST_EXIST`: a deleted account is as missing as one that is gone.
    let Some(user) = data.user(token.user)?.filter(|u| !u.deleted) else {
        return caller(InvalidUser);
    };
    if settings.maintenance && !data.has_capability(user.id, super::capabilities::MAINTENANCE_ACCESS)? {
        return caller(Maintenance);
    }
    let Some(service) = data.service(token.service)? else {
        return Ok(Err(FileDenial::Service { service: String::new(), refusal: ServiceRefusal::Disabled }));
    };
    if let Some(refusal) = service_refusal(data, &service, &user, remote, now)? {
        return Ok(Err(FileDenial::Service { service: service.name.clone(), refusal }));
    }
    let username = user.username.clone();
    if !user.confirmed {
        return caller(UserUnconfirmed { username });
    }
    if user.suspended {
        return caller(UserSuspended { username });
    }
    if user.auth == super::types::AuthMethod::Nologin {
        return caller(UserNologin { username });
    }
    match used {
        FileUse::Download if !service.download_files => {
            return Ok(Err(FileDenial::DownloadsDisabled { service: service.name.clone() }));
        }
        FileUse::Upload if !service.upload_files => {
            return Ok(Err(FileDenial::UploadsDisabled { service: service.name.clone() }));
        }
        _ => {}
    }
    Ok(Ok(FileGrant { user, service, token }))
}

/// The service checks of the file scripts, in their order: enabled, required capability,
/// then the authorised user (listed, unexpired, from an allowed address).
fn service_refusal<D: AccessData>(
    data: &D,
    service: &Service,
    user: &User,
    remote: ClientAddr,
    now: UnixTime,
) -> Result<Option<ServiceRefusal>, D::Error> {
    if !service.enabled {
        return Ok(Some(ServiceRefusal::Disabled));
    }
    if let Some(cap) = service.required_capability.as_deref().filter(|c| !c.is_empty())
        && !data.has_capability(user.id, cap)?
    {
        return Ok(Some(ServiceRefusal::MissingRequiredCapability { capability: cap.to_string() }));
    }
    if service.restricted_users {
        let Some(auth) = data.authorised_user(service.id, user.id)? else {
            return Ok(Some(ServiceRefusal::UserNotAuthorised));
        };
        if auth.valid_until.is_some_and(|until| until < now) {
            return Ok(Some(ServiceRefusal::AuthorisationExpired {
                valid_until: auth.valid_until.unwrap_or_default(),
            }));
        }
        if !auth.ip_restriction.trim().is_empty() && !IpRestriction::parse_lenient(&auth.ip_restriction).matches(remote)
        {
            return Ok(Some(ServiceRefusal::AuthorisationIp { restriction: auth.ip_restriction }));
        }
    }
    Ok(None)
}

impl FileDenial {
    /// The exception Moodle's file scripts raise, which their AJAX handler prints (§5.4).
    pub fn moodle_exception(&self, remote: ClientAddr) -> MoodleException {
        match self {
            FileDenial::Caller(Denial::WebServicesDisabled) => {
                MoodleException::access("Web services are not enabled in Advanced features.")
            }
            FileDenial::Caller(Denial::TokenIpRestricted { ip, .. }) => {
                MoodleException::access(format!("Invalid token - IP:{ip} is not supported"))
            }
            FileDenial::Caller(Denial::InvalidUser) => MoodleException::new(
                super::access::DML_MISSING_RECORD_EXCEPTION,
                "invalidrecord",
                "Can't find data record in database table user.",
            ),
            // Raised with the module 'moodle', which Moodle reads as 'error': these strings
            // are not in error.php, so the message is the string's path.
            FileDenial::Caller(Denial::UserSuspended { .. }) => {
                moodle("wsaccessusersuspended", "error/wsaccessusersuspended")
            }
            FileDenial::Caller(Denial::UserNologin { .. }) => {
                moodle("wsaccessusernologin", "error/wsaccessusernologin")
            }
            FileDenial::Caller(Denial::UserUnconfirmed { username }) => {
                moodle("usernotconfirmed", &format!("Could not confirm {username}"))
            }
            FileDenial::Caller(d) => d.moodle_exception().unwrap_or_else(|| MoodleException::access(d.explain())),
            FileDenial::Service { service, refusal } => MoodleException::access(match refusal {
                ServiceRefusal::Disabled | ServiceRefusal::FunctionNotListed => {
                    "Web service is not available (it doesn't exist or might be disabled)".to_string()
                }
                ServiceRefusal::MissingRequiredCapability { capability } => {
                    format!("The capability {capability} is required.")
                }
                ServiceRefusal::UserNotAuthorised => format!(
                    "The user is not allowed for this service. First you need to allow this user on the {service}'s allowed users administration page."
                ),
                ServiceRefusal::AuthorisationExpired { .. } => {
                    "Invalid service - service expired - check validuntil time for this allowed user".to_string()
                }
                ServiceRefusal::AuthorisationIp { .. } => {
                    format!("Invalid service - IP:{remote} is not supported - check this allowed user")
                }
            }),
            FileDenial::DownloadsDisabled { .. } => {
                MoodleException::access("Web service file downloading must be enabled in external service settings")
            }
            FileDenial::UploadsDisabled { .. } => {
                MoodleException::access("Web service file upload must be enabled in external service settings")
            }
        }
    }

    /// One sentence saying which check failed (for the call log's reader and the console).
    pub fn explain(&self) -> String {
        match self {
            FileDenial::Caller(d) => d.explain(),
            FileDenial::Service { service, refusal } => format!("Service \"{service}\": {}.", refusal.explain()),
            FileDenial::DownloadsDisabled { service } => {
                format!("Service \"{service}\" does not allow file downloads (\"Can download files\" is off).")
            }
            FileDenial::UploadsDisabled { service } => {
                format!("Service \"{service}\" does not allow file uploads (\"Can upload files\" is off).")
            }
        }
    }

    /// An unknown token: counted against the address, as a call's is.
    pub fn is_invalid_token(&self) -> bool {
        matches!(self, FileDenial::Caller(Denial::InvalidToken))
    }
}

fn moodle(code: &'static str, message: &str) -> MoodleException {
    MoodleException::new(super::access::MOODLE_EXCEPTION, code, message)
}

#[cfg(test)]
#[path = "file_access_tests.rs"]
mod tests;
