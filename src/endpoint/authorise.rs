//! The credentials and the access decision for a call, with the throttle and the password
//! gate: what `call` and `describe` both go through before anything runs.

use super::answers::Refusal;
use super::call::{Answer, Call, Creds, Stage};
use super::call_log::Who;
use super::fresh::Snapshot;
use super::gate::{Opened, ip_of};
use super::incoming::Incoming;
use super::password_gate::Checked;
use super::state::AppState;
use crate::domain::access::{AccessRequest, Credentials, Denial, PasswordCheck};
use crate::domain::iprestriction::ClientAddr;
use crate::domain::secret::{clean_token, hash_token};
use crate::store::{Queries, StoreError};
use std::sync::Arc;

/// What `authorise` hands on: the decision's result and what it was taken on.
pub struct Authorised<T> {
    pub value: T,
    pub snapshot: Arc<Snapshot>,
    pub debugging: bool,
    pub client: ClientAddr,
    pub now: i64,
}

/// The decision's two forms: a call of one function, or the list of callable functions.
pub type Decider<T> = fn(&Snapshot, &AccessRequest<'_>, PasswordCheck<'_>) -> Result<Result<T, Denial>, StoreError>;

/// A decision on a username and password: wrong ones are counted against the address.
fn wrong_password<T>(d: &Result<Result<T, Denial>, StoreError>) -> bool {
    matches!(d, Ok(Err(Denial::WrongUsernamePassword { .. })))
}

/// The call's decision. A caller refused with Moodle's exception is logged and gets the
/// [`Answer`] to send; refusals before that (switched off, throttled, busy) are the error.
pub async fn authorise<T: Send + 'static>(
    app: &AppState,
    incoming: &Incoming,
    call: &Call,
    decider: Decider<T>,
) -> Result<Result<Authorised<T>, Answer>, Refusal> {
    let Opened { snapshot, client, now } = app.open(incoming).await?;
    let debugging = snapshot.settings.debugging();
    // A password check costs ~20 ms of CPU: a client that keeps failing is refused before it.
    if matches!(call.creds, Creds::Password { .. })
        && let Some(wait) = app.throttle.check(ip_of(client))
    {
        return Err(Refusal::TooMany(wait));
    }
    let mut token_hash = None;
    // A wrong password, already counted against the address by the gate.
    let mut password_failed = false;
    // The snapshot the decision was taken on, which the call then runs on.
    let mut decided_on = snapshot.clone();
    let decision = match &call.creds {
        Creds::Token(token) => {
            token_hash = token.as_deref().and_then(clean_token).map(|t| hash_token(&t));
            let request = AccessRequest {
                protocol: call.protocol,
                credentials: Credentials::Token(token_hash),
                function: call.function.as_deref(),
                remote: client,
                now,
            };
            decider(&snapshot, &request, &|_, _| false)
        }
        Creds::Password { username, password } => {
            let asked = PasswordCall {
                protocol: call.protocol,
                function: call.function.clone(),
                username: username.clone(),
                password: password.clone(),
                remote: client,
                now,
            };
            // Refusals that need no password check (switched off, plugin off, missing
            // credentials) come first and take no slot of the password pool.
            let checked = std::cell::Cell::new(false);
            let cheap = asked.decide(decider, &snapshot, &|_, _| {
                checked.set(true);
                false
            });
            if !checked.get() && !wrong_password(&cheap) {
                cheap
            } else {
                let (d, snap) = app
                    .check_password(client, password.clone(), move |snap, check| {
                        let d = asked.decide(decider, snap, check);
                        Checked { wrong_password: wrong_password(&d), value: d }
                    })
                    .await?;
                password_failed = wrong_password(&d);
                decided_on = snap;
                d
            }
        }
    };
    let denial = match decision.map_err(Refusal::unavailable)? {
        Ok(value) => return Ok(Ok(Authorised { value, snapshot: decided_on, debugging, client, now })),
        Err(denial) if denial.is_switched_off() => return Err(call.switched_off()),
        Err(denial) => denial,
    };
    if matches!(denial, Denial::InvalidToken | Denial::WrongUsernamePassword { .. }) && !password_failed {
        app.count_failure(client)?;
    }
    // The token itself was accepted before this check failed: Moodle records its use.
    if denial.token_was_accepted()
        && let Some(h) = &token_hash
        && let Ok(Some(t)) = snapshot.view.token_by_hash(h)
    {
        app.note_access(&t, now);
    }
    let e = denial.moodle_exception().expect("only switched-off denials have no exception");
    app.log_call(&call.entry(incoming, client, now), e.errorcode.clone(), Who::default());
    app.metrics.count_refusal(e.errorcode.clone());
    let stage = if denial.is_function_refusal() { Stage::Function } else { Stage::Caller };
    Ok(Err(Answer { result: Err(e), site: None, retry_after: None, debugging, stage }))
}

/// A username/password call, decided twice: first without checking the password (the cheap
/// refusals), then, behind the password gate, with it.
struct PasswordCall {
    protocol: crate::domain::Protocol,
    function: Option<String>,
    username: String,
    password: String,
    remote: ClientAddr,
    now: i64,
}

impl PasswordCall {
    /// The decision, checking the password with `check` if it comes to that.
    fn decide<T>(
        &self,
        decider: Decider<T>,
        snapshot: &Snapshot,
        check: PasswordCheck<'_>,
    ) -> Result<Result<T, Denial>, StoreError> {
        let req = AccessRequest {
            protocol: self.protocol,
            credentials: Credentials::Password { username: &self.username, password: &self.password },
            function: self.function.as_deref(),
            remote: self.remote,
            now: self.now,
        };
        decider(snapshot, &req, check)
    }
}
