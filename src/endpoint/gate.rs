//! The one way into a decision, for every call and for login/token.php: a snapshot fresh for
//! the request, the client's address, the time, and, for a password, the password gate
//! (throttle, pool, a snapshot taken again when the check's turn comes).

use super::answers::Refusal;
use super::fresh::Snapshot;
use super::incoming::Incoming;
use super::password_gate::Checked;
use super::state::App;
use crate::domain::access::PasswordCheck;
use crate::domain::iprestriction::{ClientAddr, IpRestriction};
use crate::domain::secret::{verify_password_in, waste_a_password_check};
use axum::http::HeaderMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// What a request is decided on.
pub struct Opened {
    pub snapshot: Arc<Snapshot>,
    pub client: ClientAddr,
    /// The request's time, in Unix seconds.
    pub now: i64,
}

impl App {
    /// The request's snapshot, client address and time.
    pub(super) async fn open(&self, incoming: &Incoming) -> Result<Opened, Refusal> {
        let snapshot = self.fresh.get().await.map_err(Refusal::unavailable)?;
        let client = client(incoming.peer, &incoming.headers, &snapshot.settings.trusted_proxies);
        Ok(Opened { snapshot, client, now: crate::store::now() })
    }

    /// A failed authentication from `client` (an unknown token or key): refused at once when
    /// the address is over its limit already, else counted against it. Valid credentials from
    /// the same address keep working; only failures are refused.
    pub(super) fn count_failure(&self, client: ClientAddr) -> Result<(), Refusal> {
        if let Some(wait) = self.throttle.check(ip_of(client)) {
            return Err(Refusal::TooMany(wait));
        }
        self.throttle.failed(ip_of(client));
        Ok(())
    }

    /// Runs `decide`, which checks a password, behind the password gate: its result, whether the
    /// password was wrong (counted against the address), and the snapshot it ran on. A decision
    /// that checked no password (an unknown user) spends the same time anyway, so that names
    /// cannot be found by timing; `password` is what it spends it on.
    pub(super) async fn check_password<T: Send + 'static>(
        &self,
        client: ClientAddr,
        password: String,
        decide: impl FnOnce(&Snapshot, PasswordCheck<'_>) -> Checked<T> + Send + 'static,
    ) -> Result<(T, Arc<Snapshot>), Refusal> {
        let checked = self.passwords.run(ip_of(client), self.fresh.get(), move |snapshot: Arc<Snapshot>, work| {
            let ran = std::cell::Cell::new(false);
            let work = std::cell::RefCell::new(work);
            let decided = decide(&snapshot, &|user, given| {
                ran.set(true);
                verify_password_in(&user.password_hash, given, &mut work.borrow_mut())
            });
            if !ran.get() {
                waste_a_password_check(&password, &mut work.borrow_mut());
            }
            Checked { value: (decided.value, snapshot), wrong_password: decided.wrong_password }
        });
        Ok(checked.await?)
    }
}

/// The client's address: the socket peer, or `X-Forwarded-For` when the peer is a trusted
/// proxy (the last address in the header that is not itself a trusted proxy).
fn client(peer: SocketAddr, headers: &HeaderMap, trusted: &str) -> ClientAddr {
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

/// The IP form of a client address, for the throttle.
pub(super) fn ip_of(addr: ClientAddr) -> IpAddr {
    match addr {
        ClientAddr::V4(v) => IpAddr::V4(v.into()),
        ClientAddr::V6(g) => IpAddr::V6(g.into()),
    }
}
