//! Why a call is refused: each denial is one check of Moodle's order (`access`), with the
//! exception Moodle raises for it, the sentence the console says instead ("why was this call
//! refused?") and the admin screen where it is fixed.

use super::exception::{DML_MISSING_RECORD_EXCEPTION, INVALID_PARAMETER_EXCEPTION, MOODLE_EXCEPTION, MoodleException};
use super::types::{Protocol, Service, TokenId, UnixTime};
use std::fmt;

/// Why one candidate service did not grant the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceRefusal {
    Disabled,
    FunctionNotListed,
    UserNotAuthorised,
    AuthorisationExpired { valid_until: UnixTime },
    AuthorisationIp { restriction: String },
    MissingRequiredCapability { capability: String },
}

/// Why a call is refused. Each variant is one check of Moodle's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    WebServicesDisabled,
    ProtocolDisabled(Protocol),
    AuthPluginDisabled,
    MissingUsername,
    MissingPassword,
    WrongUsernamePassword {
        username: String,
    },
    InvalidToken,
    TokenExpired {
        token: TokenId,
        valid_until: UnixTime,
    },
    TokenIpRestricted {
        token: TokenId,
        ip: String,
    },
    InvalidUser,
    Maintenance,
    UserDeleted {
        username: String,
    },
    UserUnconfirmed {
        username: String,
    },
    UserSuspended {
        username: String,
    },
    UserNologin {
        username: String,
    },
    MissingProtocolCapability {
        username: String,
        protocol: Protocol,
    },
    MissingFunctionName,
    UnknownFunction {
        name: String,
    },
    /// A function Moodle has that this endpoint does not implement: no service can list it,
    /// so Moodle's answer is the one for a function outside the caller's service.
    FunctionNotImplemented {
        name: String,
    },
    /// No candidate service grants the function; one entry per candidate (none when no
    /// service lists it, for username/password calls).
    FunctionNotAllowed {
        name: String,
        refusals: Vec<(Service, ServiceRefusal)>,
    },
}

/// Where in the console a denial is fixed, mirroring Moodle's admin pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    AdvancedFeatures,
    ManageProtocols,
    ManageAuthentication,
    Users,
    Roles,
    ExternalServices,
    ServiceFunctions,
    AuthorisedUsers,
    Tokens,
    TestClient,
}

impl Place {
    pub fn title(self) -> &'static str {
        match self {
            Place::AdvancedFeatures => "Advanced features",
            Place::ManageProtocols => "Manage protocols",
            Place::ManageAuthentication => "Manage authentication",
            Place::Users => "Users",
            Place::Roles => "Roles",
            Place::ExternalServices => "External services",
            Place::ServiceFunctions => "External services › Functions",
            Place::AuthorisedUsers => "External services › Authorised users",
            Place::Tokens => "Tokens",
            Place::TestClient => "Test client",
        }
    }
}

fn function_not_allowed_debuginfo(name: &str) -> String {
    // Verbatim from webservice/lib.php, including its indentation.
    const PAD: &str = "                     ";
    [
        format!("Access to the function {name}() is not allowed."),
        format!("{PAD}There could be multiple reasons for this:"),
        format!("{PAD}1. The service linked to the user token does not contain the function."),
        format!("{PAD}2. The service is user-restricted and the user is not listed."),
        format!("{PAD}3. The service is IP-restricted and the user IP is not listed."),
        format!("{PAD}4. The service is time-restricted and the time has expired."),
        format!("{PAD}5. The token is time-restricted and the time has expired."),
        format!("{PAD}6. The service requires a specific capability which the user does not have."),
        format!("{PAD}7. The function is called with username/password (no user token is sent)"),
        format!("{PAD}and none of the services has the function to allow the user."),
        format!("{PAD}These settings can be found in Administration > Site administration"),
        format!("{PAD}> Server > Web services > External services and Manage tokens."),
    ]
    .join("\n")
}

impl Denial {
    /// Web services or the protocol are off: Moodle's server answers 403 with an empty body
    /// rather than an exception.
    pub fn is_switched_off(&self) -> bool {
        matches!(self, Denial::WebServicesDisabled | Denial::ProtocolDisabled(_))
    }

    /// Whether the refusal concerns the function rather than the caller: SOAP's server
    /// answers these as PHP's "Procedure not present", not as Moodle's error.
    pub fn is_function_refusal(&self) -> bool {
        matches!(
            self,
            Denial::MissingFunctionName
                | Denial::UnknownFunction { .. }
                | Denial::FunctionNotImplemented { .. }
                | Denial::FunctionNotAllowed { .. }
        )
    }

    /// Whether the call's token had been accepted (found, unexpired, IP allowed) before this
    /// check refused it: Moodle updates the token's last access at that point.
    pub fn token_was_accepted(&self) -> bool {
        use Denial::*;
        !matches!(
            self,
            WebServicesDisabled
                | ProtocolDisabled(_)
                | AuthPluginDisabled
                | MissingUsername
                | MissingPassword
                | WrongUsernamePassword { .. }
                | InvalidToken
                | TokenExpired { .. }
                | TokenIpRestricted { .. }
                | InvalidUser
        )
    }

    /// The exception Moodle raises for this denial (`None` when switched off).
    pub fn moodle_exception(&self) -> Option<MoodleException> {
        use Denial::*;
        let moodle = |code, msg: String| MoodleException::new(MOODLE_EXCEPTION, code, msg);
        Some(match self {
            WebServicesDisabled | ProtocolDisabled(_) => return None,
            AuthPluginDisabled => MoodleException::access("The web service authentication plugin is disabled."),
            MissingUsername => moodle("missingusername", "Missing username".into()),
            MissingPassword => moodle("missingpassword", "Missing password".into()),
            WrongUsernamePassword { .. } => moodle("wrongusernamepassword", "Wrong username or password".into()),
            InvalidToken => moodle("invalidtoken", "Invalid token - token not found".into()),
            TokenExpired { .. } => {
                MoodleException::access("Invalid token - token expired - check validuntil time for the token")
            }
            TokenIpRestricted { ip, .. } => {
                MoodleException::access(format!("Invalid service - IP:{ip} is not supported - check this allowed user"))
            }
            InvalidUser => MoodleException::new(DML_MISSING_RECORD_EXCEPTION, "invaliduser", "Invalid user"),
            Maintenance => {
                moodle("sitemaintenance", "The site is undergoing maintenance and is currently not available".into())
            }
            UserDeleted { username } => {
                moodle("wsaccessuserdeleted", format!("Refused web service access for deleted username: {username}"))
            }
            UserUnconfirmed { username } => moodle(
                "wsaccessuserunconfirmed",
                format!("Refused web service access for unconfirmed username: {username}"),
            ),
            UserSuspended { username } => moodle(
                "wsaccessusersuspended",
                format!("Refused web service access for suspended username: {username}"),
            ),
            UserNologin { username } => moodle(
                "wsaccessusernologin",
                format!("Refused web service access for nologin authentication username: {username}"),
            ),
            MissingProtocolCapability { protocol, .. } => MoodleException::access(format!(
                "You are not allowed to use the {protocol} protocol (missing capability: {})",
                protocol.capability()
            )),
            MissingFunctionName => MoodleException::new(
                INVALID_PARAMETER_EXCEPTION,
                "invalidparameter",
                "Invalid parameter value detected",
            )
            .with_debuginfo("Missing function name"),
            UnknownFunction { name } => MoodleException::new(
                DML_MISSING_RECORD_EXCEPTION,
                "invalidrecord",
                "Can't find data record in database table external_functions.",
            )
            .with_debuginfo(format!(
                "SELECT * FROM {{external_functions}} WHERE name = ?\n[array (\n  0 => '{name}',\n)]"
            )),
            FunctionNotAllowed { name, .. } | FunctionNotImplemented { name } => {
                MoodleException::access(function_not_allowed_debuginfo(name))
            }
        })
    }

    /// One sentence saying exactly which check failed: the answer Moodle's generic
    /// "Access control exception" never gives.
    pub fn explain(&self) -> String {
        use Denial::*;
        match self {
            WebServicesDisabled => "Web services are disabled in Advanced features.".into(),
            ProtocolDisabled(p) => format!("The {} is not enabled.", p.label()),
            AuthPluginDisabled => {
                "Username/password calls need the \"Web services authentication\" plugin, which is disabled.".into()
            }
            MissingUsername => "The call sends no username.".into(),
            MissingPassword => "The call sends no password.".into(),
            WrongUsernamePassword { username } => {
                format!("No active user \"{username}\" with that password exists.")
            }
            InvalidToken => "The token does not exist: it was never issued, or was revoked or deleted.".into(),
            TokenExpired { valid_until, .. } => {
                format!("The token expired at {} (its \"valid until\").", super::time::format_time(*valid_until))
            }
            TokenIpRestricted { ip, .. } => format!("The token's IP restriction does not include {ip}."),
            InvalidUser => "The token belongs to a user that no longer exists.".into(),
            Maintenance => "The site is in maintenance mode and the user lacks moodle/site:maintenanceaccess.".into(),
            UserDeleted { username } => format!("User \"{username}\" is deleted."),
            UserUnconfirmed { username } => format!("User \"{username}\" is not confirmed."),
            UserSuspended { username } => format!("User \"{username}\" is suspended."),
            UserNologin { username } => {
                format!("User \"{username}\" has the \"nologin\" authentication method, which refuses web services.")
            }
            MissingProtocolCapability { username, protocol } => format!(
                "User \"{username}\" lacks the capability {} that the {} requires: give it through a role.",
                protocol.capability(),
                protocol.label()
            ),
            MissingFunctionName => "The call names no function (wsfunction).".into(),
            UnknownFunction { name } => format!("There is no function called \"{name}\"."),
            FunctionNotImplemented { name } => format!(
                "{name}() is a Moodle function this endpoint does not implement, so no service can list it (Moodle's answer for a function outside the service is sent)."
            ),
            FunctionNotAllowed { name, refusals } => match refusals.as_slice() {
                [] => format!("No external service contains {name}()."),
                [(service, why)] => format!("Service \"{}\" does not allow {name}(): {}.", service.name, why.explain()),
                many => {
                    let parts: Vec<String> =
                        many.iter().map(|(s, why)| format!("\"{}\" {}", s.name, why.explain())).collect();
                    format!("No service allows {name}(): {}.", parts.join("; "))
                }
            },
        }
    }

    /// The console screen where the failing setting is changed.
    pub fn place(&self) -> Place {
        use Denial::*;
        match self {
            WebServicesDisabled | Maintenance => Place::AdvancedFeatures,
            ProtocolDisabled(_) => Place::ManageProtocols,
            AuthPluginDisabled => Place::ManageAuthentication,
            MissingUsername | MissingPassword | MissingFunctionName | UnknownFunction { .. } => Place::TestClient,
            FunctionNotImplemented { .. } => Place::ServiceFunctions,
            WrongUsernamePassword { .. }
            | UserDeleted { .. }
            | UserUnconfirmed { .. }
            | UserSuspended { .. }
            | UserNologin { .. }
            | InvalidUser => Place::Users,
            InvalidToken | TokenExpired { .. } | TokenIpRestricted { .. } => Place::Tokens,
            MissingProtocolCapability { .. } => Place::Roles,
            FunctionNotAllowed { refusals, .. } => match refusals.first().map(|(_, r)| r) {
                None | Some(ServiceRefusal::FunctionNotListed) => Place::ServiceFunctions,
                Some(ServiceRefusal::Disabled) => Place::ExternalServices,
                Some(ServiceRefusal::MissingRequiredCapability { .. }) => Place::Roles,
                Some(_) => Place::AuthorisedUsers,
            },
        }
    }
}

impl ServiceRefusal {
    pub fn explain(&self) -> String {
        match self {
            ServiceRefusal::Disabled => "the service is disabled".into(),
            ServiceRefusal::FunctionNotListed => "the function is not among its functions".into(),
            ServiceRefusal::UserNotAuthorised => "it is for authorised users only and the user is not one".into(),
            ServiceRefusal::AuthorisationExpired { valid_until } => {
                format!("the user's authorisation expired at {}", super::time::format_time(*valid_until))
            }
            ServiceRefusal::AuthorisationIp { restriction } => {
                format!("the user's authorisation is restricted to IP {restriction}")
            }
            ServiceRefusal::MissingRequiredCapability { capability } => {
                format!("it requires the capability {capability}, which the user lacks")
            }
        }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.explain())
    }
}
