//! What every handler shares: the app (store, snapshots, activity log, throttle, password
//! gate, limits), the client's address, and the query string's credentials.

use super::{activity, body_budget, call, fresh, password_gate, throttle};
use crate::domain::iprestriction::{ClientAddr, IpRestriction};
use crate::store::Store;
use axum::http::{HeaderMap, Uri};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// What every handler shares.
pub struct App {
    pub store: Arc<Store>,
    pub(super) fresh: fresh::Fresh,
    pub(super) activity: activity::Activity,
    pub(super) throttle: Arc<throttle::Throttle>,
    /// Bounds concurrent argon2 verifications, so a login flood cannot take every core, and
    /// serves waiting ones in turn by address.
    pub(super) passwords: password_gate::PasswordGate,
    pub(super) request_timeout: Duration,
    pub(super) body_budget: Arc<body_budget::BodyBudget>,
}

pub type AppState = Arc<App>;

impl App {
    /// The client's address: the socket peer, or `X-Forwarded-For` when the peer is a trusted
    /// proxy (the last address in the header that is not itself a trusted proxy).
    pub(super) fn client(&self, peer: SocketAddr, headers: &HeaderMap, trusted: &str) -> ClientAddr {
        let peer_addr = ClientAddr::from(peer.ip());
        if trusted.trim().is_empty() {
            return peer_addr;
        }
        let proxies = IpRestriction::parse_lenient(trusted);
        if !proxies.matches(peer_addr) {
            return peer_addr;
        }
        let forwarded =
            headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
        // From the right: skip our own proxies; the first other entry is the client. An entry
        // that does not parse ends the search (anything left of it is the client's to forge).
        // Parsed strictly: `010.001.002.003` is no address (readers disagree on leading zeros).
        for entry in forwarded.split(',').rev() {
            match entry.trim().parse::<IpAddr>().ok().map(ClientAddr::from) {
                Some(a) if proxies.matches(a) => continue,
                Some(a) => return a,
                None => return peer_addr,
            }
        }
        peer_addr
    }
}

/// The query string's parameters, where XML-RPC, SOAP and AMF clients put their credentials
/// (`$_GET` in Moodle): the last of a repeated name wins, as in PHP.
pub(super) struct Query(Vec<(String, String)>);

impl Query {
    pub(super) fn of(uri: &Uri) -> Query {
        Query(form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect())
    }

    pub(super) fn get(&self, key: &str) -> Option<String> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    /// `wstoken` for server.php; `wsusername` / `wspassword` for simpleserver.php.
    pub(super) fn creds(&self, simple: bool) -> call::Creds {
        if simple {
            call::Creds::Password {
                username: self.get("wsusername").unwrap_or_default(),
                password: self.get("wspassword").unwrap_or_default(),
            }
        } else {
            call::Creds::Token(self.get("wstoken"))
        }
    }
}

/// The IP form of a client address, for the throttle.
pub(super) fn ip_of(addr: ClientAddr) -> IpAddr {
    match addr {
        ClientAddr::V4(v) => IpAddr::V4(v.into()),
        ClientAddr::V6(g) => IpAddr::V6(g.into()),
    }
}
