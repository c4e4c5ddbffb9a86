//! The plain records of the data model (DESIGN.md §3). No I/O, no storage concerns: the store
//! encodes these with serde, the front ends display them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// Seconds since the Unix epoch, as Moodle stores every time.
pub type UnixTime = i64;

pub type UserId = u64;
pub type RoleId = u64;
pub type ServiceId = u64;
pub type TokenId = u64;

/// SHA-256 of a token's value: the only form in which a token is stored.
pub type TokenHash = [u8; 32];

/// The web-service protocols of Moodle's "Manage protocols" page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Protocol {
    Rest,
    Soap,
    Xmlrpc,
    Amf,
}

impl Protocol {
    pub const ALL: [Protocol; 4] = [Protocol::Rest, Protocol::Soap, Protocol::Xmlrpc, Protocol::Amf];

    /// Moodle's plugin name, as in `webserviceprotocols` and `webservice/<name>:use`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Rest => "rest",
            Protocol::Soap => "soap",
            Protocol::Xmlrpc => "xmlrpc",
            Protocol::Amf => "amf",
        }
    }

    /// The label of Moodle's Manage protocols table ("REST protocol", …).
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Rest => "REST protocol",
            Protocol::Soap => "SOAP protocol",
            Protocol::Xmlrpc => "XML-RPC protocol",
            Protocol::Amf => "AMF protocol",
        }
    }

    /// The capability a user needs to call through this protocol.
    pub fn capability(self) -> &'static str {
        match self {
            Protocol::Rest => "webservice/rest:use",
            Protocol::Soap => "webservice/soap:use",
            Protocol::Xmlrpc => "webservice/xmlrpc:use",
            Protocol::Amf => "webservice/amf:use",
        }
    }

    pub fn parse(name: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.name() == name.trim())
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Authentication plugins of "Manage authentication". As in Moodle, Manual accounts (and No
/// login) are always enabled, whatever the `auth` setting says; only the others are switched.
/// `Manual` stays a variant because databases written before it was always on may store it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AuthPlugin {
    Manual,
    Webservice,
}

impl AuthPlugin {
    pub const ALL: [AuthPlugin; 2] = [AuthPlugin::Manual, AuthPlugin::Webservice];

    pub fn name(self) -> &'static str {
        match self {
            AuthPlugin::Manual => "manual",
            AuthPlugin::Webservice => "webservice",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AuthPlugin::Manual => "Manual accounts",
            AuthPlugin::Webservice => "Web services authentication",
        }
    }

    /// The plugins the `auth` setting switches.
    pub const OPTIONAL: [AuthPlugin; 1] = [AuthPlugin::Webservice];

    /// Moodle's `get_enabled_auth_plugins()` always puts manual (and nologin) first.
    pub fn always_on(self) -> bool {
        self == AuthPlugin::Manual
    }

    pub fn parse(name: &str) -> Option<AuthPlugin> {
        AuthPlugin::ALL.into_iter().find(|p| p.name() == name.trim())
    }
}

/// A user's authentication method (Moodle's `user.auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuthMethod {
    Manual,
    Webservice,
    Nologin,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 3] = [AuthMethod::Manual, AuthMethod::Webservice, AuthMethod::Nologin];

    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Manual => "manual",
            AuthMethod::Webservice => "webservice",
            AuthMethod::Nologin => "nologin",
        }
    }

    pub fn parse(name: &str) -> Option<AuthMethod> {
        AuthMethod::ALL.into_iter().find(|m| m.name() == name.trim())
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Moodle's debug levels; `debuginfo` is added to errors from `NORMAL` up.
pub mod debug_level {
    pub const NONE: u32 = 0;
    pub const MINIMAL: u32 = 5;
    pub const NORMAL: u32 = 15;
    pub const DEVELOPER: u32 = 32767;
}

/// Site-wide settings, named after Moodle's config variables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// `enablewebservices`
    pub enable_web_services: bool,
    /// `webserviceprotocols`
    pub protocols: BTreeSet<Protocol>,
    /// `auth`: the enabled optional authentication plugins (manual is always on).
    pub auth_plugins: BTreeSet<AuthPlugin>,
    /// `enablewsdocumentation`
    pub ws_documentation: bool,
    /// `sitename`
    pub site_name: String,
    /// `siteurl` (Moodle's wwwroot): where clients reach the endpoint.
    pub site_url: String,
    /// `tokenduration`: lifetime in seconds of tokens issued by login/token.php.
    pub token_duration: i64,
    /// `tokenmaxperuserservice`: self-issued tokens kept per user and service.
    pub max_tokens_per_user_service: u32,
    /// `maintenance_enabled`
    pub maintenance: bool,
    /// `debug`: one of [`debug_level`].
    pub debug: u32,
    /// `trustedproxies`: peers whose `X-Forwarded-For` is believed (address_in_subnet syntax).
    pub trusted_proxies: String,
    /// `loglifetime`: days to keep call-log rows, 0 = forever.
    pub log_lifetime_days: u32,
    /// `upstream*`: the Moodle site behind the endpoint. Stored as a record of its own beside
    /// this one (so that databases written before it still read), hence not serialised here.
    #[serde(skip)]
    pub upstream: super::upstream::UpstreamSettings,
}

/// Moodle's default "User created token duration": 12 weeks.
pub const DEFAULT_TOKEN_DURATION: i64 = 12 * 7 * 24 * 3600;

impl Default for Settings {
    /// Everything off, as a fresh Moodle.
    fn default() -> Self {
        Settings {
            enable_web_services: false,
            protocols: BTreeSet::new(),
            auth_plugins: BTreeSet::new(),
            ws_documentation: false,
            site_name: "wsconsole".to_string(),
            site_url: "http://127.0.0.1:8080".to_string(),
            token_duration: DEFAULT_TOKEN_DURATION,
            max_tokens_per_user_service: 10,
            maintenance: false,
            debug: debug_level::NONE,
            trusted_proxies: String::new(),
            log_lifetime_days: 90,
            upstream: Default::default(),
        }
    }
}

impl Settings {
    pub fn auth_enabled(&self, p: AuthPlugin) -> bool {
        p.always_on() || self.auth_plugins.contains(&p)
    }

    /// Whether errors carry `debuginfo` (Moodle's `debugging()`, debug ≥ NORMAL).
    pub fn debugging(&self) -> bool {
        self.debug >= debug_level::NORMAL
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub auth: AuthMethod,
    /// argon2id PHC string; empty when the account has no password.
    pub password_hash: String,
    pub firstname: String,
    pub lastname: String,
    pub email: String,
    pub lang: String,
    pub suspended: bool,
    pub confirmed: bool,
    /// Deleted accounts are kept (as Moodle does) so that logs still name them; their username
    /// is released for reuse.
    pub deleted: bool,
    pub created: UnixTime,
    pub modified: UnixTime,
}

impl User {
    pub fn fullname(&self) -> String {
        let (first, last) = (self.firstname.trim_start(), self.lastname.trim_end());
        match (first.is_empty(), last.is_empty()) {
            (_, true) => self.firstname.trim().to_string(),
            (true, _) => self.lastname.trim().to_string(),
            _ => [first, last].join(" "),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub id: RoleId,
    pub shortname: String,
    pub name: String,
    pub description: String,
    /// Moodle's "Authenticated user" role: held by every user without an assignment.
    pub implicit: bool,
}

/// Shortname of the built-in "Moodle mobile web service" (`MOODLE_OFFICIAL_MOBILE_SERVICE`).
pub const MOBILE_SERVICE: &str = "moodle_mobile_app";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub id: ServiceId,
    pub name: String,
    pub shortname: String,
    pub enabled: bool,
    /// "Authorised users only" (`restrictedusers`).
    pub restricted_users: bool,
    pub required_capability: Option<String>,
    pub download_files: bool,
    pub upload_files: bool,
    /// Built-in services come with the product; only enabled / download / upload may change.
    pub builtin: bool,
    pub created: UnixTime,
    pub modified: UnixTime,
}

/// An authorised user of a service (`external_services_users`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorisedUser {
    pub service: ServiceId,
    pub user: UserId,
    pub ip_restriction: String,
    pub valid_until: Option<UnixTime>,
    pub created: UnixTime,
}

/// How a token came to be: created by an administrator, or issued by login/token.php.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenOrigin {
    Admin,
    Login,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub id: TokenId,
    pub name: String,
    pub user: UserId,
    pub service: ServiceId,
    pub ip_restriction: String,
    pub valid_until: Option<UnixTime>,
    pub created: UnixTime,
    /// Who created it: an OS user (console, CLI) or `ws:<username>` for login/token.php.
    pub creator: String,
    pub last_access: Option<UnixTime>,
    pub origin: TokenOrigin,
}

/// The state a token list shows and filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenState {
    Valid,
    /// Valid, but expires within [`EXPIRING_SOON`] seconds.
    Expiring,
    Expired,
}

/// "Expiring" means within 7 days.
pub const EXPIRING_SOON: i64 = 7 * 24 * 3600;

impl Token {
    pub fn state(&self, now: UnixTime) -> TokenState {
        TokenState::at(self.valid_until, now)
    }
}

impl TokenState {
    /// The state of a token with this "valid until" at `now`.
    pub fn at(valid_until: Option<UnixTime>, now: UnixTime) -> TokenState {
        match valid_until {
            Some(t) if t < now => TokenState::Expired,
            Some(t) if t - now <= EXPIRING_SOON => TokenState::Expiring,
            _ => TokenState::Valid,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TokenState::Valid => "valid",
            TokenState::Expiring => "expiring",
            TokenState::Expired => "expired",
        }
    }
}

/// One endpoint call, written in batches by the endpoint's activity writer. The endpoint fills
/// the texts from constants where it can (catalogued function names, protocols, error codes),
/// so that logging a call copies no more than its address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallLog {
    pub time: UnixTime,
    pub token: Option<TokenId>,
    pub user: Option<UserId>,
    pub service: Option<ServiceId>,
    pub function: std::borrow::Cow<'static, str>,
    pub protocol: std::borrow::Cow<'static, str>,
    pub remote_ip: String,
    /// "ok" or the Moodle errorcode the call ended with.
    pub outcome: std::borrow::Cow<'static, str>,
    pub duration_micros: u64,
    /// For a call forwarded to the Moodle site, what the site did. Stored in a table of its
    /// own beside the row (so that rows written before it still read), hence not serialised.
    #[serde(skip)]
    pub site: Option<super::upstream::SiteCall>,
}

/// One admin operation, appended in the same transaction as the change it records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub time: UnixTime,
    /// The OS user who ran the console or the CLI, or `ws:<username>` for the endpoint.
    pub actor: String,
    pub operation: String,
    pub target: String,
    pub summary: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `fullname` is Moodle's `trim("$firstname $lastname")`, made in one allocation.
    #[test]
    fn fullname_trims_the_joined_names() {
        let cases =
            [("Ann", "Lee"), ("", "Lee"), ("Ann", ""), ("", ""), (" Ann ", " Lee "), ("  ", "Lee "), ("Ann", "\t")];
        for (first, last) in cases {
            let u =
                User { firstname: first.into(), lastname: last.into(), ..crate::domain::access_tests::user(1, "u") };
            assert_eq!(u.fullname(), format!("{first} {last}").trim(), "{first:?} {last:?}");
        }
    }
}
