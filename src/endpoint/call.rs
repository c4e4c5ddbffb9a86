//! One web-service call, whatever the protocol: credentials, the access decision, the
//! function, the activity log and token last access (moodle-ws-reference.md §3, §8). Each
//! protocol module decodes its request into a [`CallRequest`] and encodes the [`Outcome`].

use super::activity::Event;
use super::password_gate::{Checked, GateRefusal};
use super::state::{AppState, ip_of};
use crate::domain::access::{
    AccessRequest, Caller, Credentials, Denial, Grant, MoodleException, PasswordCheck, authenticate,
    callable_functions, decide,
};
use crate::domain::iprestriction::ClientAddr;
use crate::domain::secret::{clean_token, hash_token, verify_password};
use crate::domain::{CallLog, Protocol};
use crate::functions::{self, CallContext};
use crate::model::value::Value;
use crate::model::{self, Description as Definition};
use axum::http::HeaderMap;
use std::net::SocketAddr;
use std::time::Instant;

/// How the caller authenticates, as sent.
pub enum Creds {
    /// `server.php`: `wstoken` (absent or not a token at all: `None`).
    Token(Option<String>),
    /// `simpleserver.php`: `wsusername` / `wspassword`.
    Password { username: String, password: String },
}

pub struct CallRequest<'a> {
    pub protocol: Protocol,
    pub peer: SocketAddr,
    pub headers: &'a HeaderMap,
    pub creds: Creds,
    pub function: Option<String>,
    /// The parameters by name (a `Value::Map`).
    pub args: Value,
    pub started: Instant,
}

pub enum Outcome {
    /// Web services or the protocol are off: each protocol answers in its own way.
    SwitchedOff,
    /// Too many failed authentications from this address: seconds to wait.
    TooMany(u64),
    /// The database failed; the client did nothing wrong.
    Unavailable(String),
    /// The password checks' queue is full: try again in a second.
    Busy,
    /// Refused or failed, with Moodle's exception.
    Failed(MoodleException),
    /// The function ran; `None` for a void function.
    Done { value: Option<Value>, def: &'static Definition },
}

pub struct Answer {
    pub outcome: Outcome,
    /// Whether errors carry `debuginfo` (the debug setting).
    pub debugging: bool,
    /// Where a `Failed` call stopped.
    pub stage: Stage,
}

/// The step a refusal came from: SOAP answers each in its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The switches, the credentials or the account (Moodle's `authenticate_user`).
    Caller,
    /// No such function, or none the caller may use.
    Function,
    /// The function ran and failed: parameters, capabilities, its own checks.
    Execution,
}

fn answer(outcome: Outcome) -> Answer {
    Answer { outcome, debugging: false, stage: Stage::Caller }
}

/// What `authorise` hands on: the decision's result and what it was taken on.
struct Authorised<T> {
    value: T,
    snapshot: std::sync::Arc<super::fresh::Snapshot>,
    debugging: bool,
    client: ClientAddr,
    now: i64,
}

/// The decision's two forms: a call of one function, or the list of callable functions.
type Decider<T> = fn(
    &super::fresh::Snapshot,
    &AccessRequest<'_>,
    PasswordCheck<'_>,
) -> Result<Result<T, Denial>, crate::store::StoreError>;

pub async fn call(app: &AppState, req: CallRequest<'_>) -> Answer {
    call_listing(app, req, false).await.0
}

/// What a description of the service needs, read on the call's own snapshot.
#[derive(Default)]
pub struct Listing {
    /// The functions the caller may call (SOAP names its answer's types by their order).
    pub callable: Vec<&'static str>,
    /// The site's address (SOAP's namespace).
    pub site_url: String,
}

/// `call`; with `list`, also the caller's [`Listing`].
pub async fn call_listing(app: &AppState, mut req: CallRequest<'_>, list: bool) -> (Answer, Listing) {
    let function = req.function.clone();
    let args = std::mem::replace(&mut req.args, Value::Null);
    let (protocol, started) = (req.protocol, req.started);
    let auth = match authorise(app, req, decide).await {
        Ok(a) => a,
        Err(answer) => return (answer, Listing::default()),
    };
    let Authorised { value: grant, snapshot, debugging, client, now } = auth;
    let listing = if list {
        let caller = Caller { user: grant.user.clone(), token: grant.token.clone() };
        match callable_functions(&*snapshot, &caller, protocol, client, now) {
            Ok(callable) => Listing { callable, site_url: snapshot.settings.site_url.clone() },
            Err(e) => return (answer(Outcome::Unavailable(e.to_string())), Listing::default()),
        }
    } else {
        Listing::default()
    };
    let def = model::description(&grant.function).expect("decide only grants catalogued functions");
    let result = if def.info.name != functions::SITE_INFO {
        // Writes commit durably and searches may read every user: keep them off the async
        // workers. The hot, cheap site info runs inline.
        let (store, snap, grant) = (app.store.clone(), snapshot.clone(), grant.clone());
        tokio::task::spawn_blocking(move || run(def, &store, &snap, &grant, &args, now)).await.unwrap_or_else(|e| {
            Err(MoodleException::new(
                "core\\exception\\coding_exception",
                "codingerror",
                format!("Coding error detected, it must be fixed by a programmer: {e}"),
            ))
        })
    } else {
        run(def, &app.store, &snapshot, &grant, &args, now)
    };
    if let Some(t) = &grant.token {
        note_access(app, t, now);
    }
    let entry = Entry { function: function.as_deref(), protocol, client, now, started };
    let answer = match result {
        Ok(value) => {
            log(app, &entry, "ok", Some(&grant));
            Answer { outcome: Outcome::Done { value, def }, debugging, stage: Stage::Execution }
        }
        Err(e) => {
            log(app, &entry, e.errorcode, Some(&grant));
            Answer { outcome: Outcome::Failed(e), debugging, stage: Stage::Execution }
        }
    };
    (answer, listing)
}

/// The functions the caller may call and the site's address, for a description of the
/// service (the SOAP WSDL);
/// refusals come back as the answer to send. The request is logged under `req.function`
/// with `outcome` (a request that calls nothing, such as an unreadable SOAP envelope, is
/// still checked and logged this way).
pub async fn describe(
    app: &AppState,
    req: CallRequest<'_>,
    outcome: &'static str,
) -> Result<(Vec<&'static Definition>, String), Answer> {
    fn callable(
        data: &super::fresh::Snapshot,
        req: &AccessRequest<'_>,
        check: PasswordCheck<'_>,
    ) -> Result<Result<(Caller, Vec<&'static str>), Denial>, crate::store::StoreError> {
        Ok(match authenticate(data, req, check)? {
            Ok(caller) => {
                let names = callable_functions(data, &caller, req.protocol, req.remote, req.now)?;
                Ok((caller, names))
            }
            Err(d) => Err(d),
        })
    }
    let function = req.function.clone();
    let (protocol, started) = (req.protocol, req.started);
    let auth = authorise(app, req, callable).await?;
    let (caller, names) = auth.value;
    if let Some(t) = &caller.token {
        note_access(app, t, auth.now);
    }
    let entry = Entry { function: function.as_deref(), protocol, client: auth.client, now: auth.now, started };
    log_caller(app, &entry, outcome, &caller);
    let defs = names.into_iter().filter_map(model::description).collect();
    Ok((defs, auth.snapshot.settings.site_url.clone()))
}

/// The credentials and the decision, with the throttle and the password pool; a refusal is
/// logged and comes back as the answer.
async fn authorise<T: Send + 'static>(
    app: &AppState,
    req: CallRequest<'_>,
    decider: Decider<T>,
) -> Result<Authorised<T>, Answer> {
    let snapshot = app.fresh.get().await.map_err(|e| answer(Outcome::Unavailable(e.to_string())))?;
    let settings = &snapshot.settings;
    let debugging = settings.debugging();
    let client = app.client(req.peer, req.headers, &settings.trusted_proxies);
    let simple = matches!(req.creds, Creds::Password { .. });
    // A password check costs ~20 ms of CPU: a client that keeps failing is refused before it.
    if simple && let Some(wait) = app.throttle.check(ip_of(client)) {
        return Err(answer(Outcome::TooMany(wait)));
    }
    let now = crate::store::now();
    let function = req.function;
    let protocol = req.protocol;
    let refused = |outcome, stage| Answer { outcome, debugging, stage };

    let mut token_hash = None;
    // A wrong password, already counted against the address by the gate.
    let mut password_failed = false;
    // The snapshot the decision was taken on, which the call then runs on.
    let mut decided_on = snapshot.clone();
    let decision = match req.creds {
        Creds::Token(token) => {
            let hash = token.as_deref().and_then(clean_token).map(|t| hash_token(&t));
            token_hash = hash;
            let r = AccessRequest {
                protocol,
                credentials: Credentials::Token(hash),
                function: function.as_deref(),
                remote: client,
                now,
            };
            decider(&snapshot, &r, &|_, _| false)
        }
        Creds::Password { username, password } => {
            let call = PasswordCall { protocol, username, password, function: function.clone(), remote: client, now };
            // Refusals that need no password check (switched off, plugin off, missing
            // credentials) come first and take no slot of the password pool.
            let (cheap, checked) = call.decide(decider, &snapshot, &|_, _| false);
            if !checked && !matches!(cheap, Ok(Err(Denial::WrongUsernamePassword { .. }))) {
                cheap
            } else {
                let gate = app.passwords.run(ip_of(client), app.fresh.get(), move |snap| {
                    let (d, checked) = call.decide(decider, &snap, &|u, p| verify_password(&u.password_hash, p));
                    if !checked {
                        // Unknown user: spend the same time, so names cannot be found by timing.
                        crate::domain::secret::waste_a_password_check(&call.password);
                    }
                    let wrong_password = matches!(d, Ok(Err(Denial::WrongUsernamePassword { .. })));
                    Checked { value: (d, snap), wrong_password }
                });
                let (d, snap) = gate.await.map_err(|refusal| {
                    answer(match refusal {
                        GateRefusal::TooMany(wait) => Outcome::TooMany(wait),
                        GateRefusal::Busy => Outcome::Busy,
                        GateRefusal::Unavailable(e) => Outcome::Unavailable(e),
                    })
                })?;
                // Already counted against the address by the gate.
                password_failed = matches!(d, Ok(Err(Denial::WrongUsernamePassword { .. })));
                decided_on = snap;
                d
            }
        }
    };
    let decision = decision.map_err(|e| answer(Outcome::Unavailable(e.to_string())))?;
    match decision {
        Ok(value) => Ok(Authorised { value, snapshot: decided_on, debugging, client, now }),
        Err(denial) if denial.is_switched_off() => Err(refused(Outcome::SwitchedOff, Stage::Caller)),
        Err(denial) => {
            if matches!(denial, Denial::InvalidToken | Denial::WrongUsernamePassword { .. }) && !password_failed {
                // Valid tokens from the same address keep working; only failures are refused.
                if let Some(wait) = app.throttle.check(ip_of(client)) {
                    return Err(refused(Outcome::TooMany(wait), Stage::Caller));
                }
                app.throttle.failed(ip_of(client));
            }
            // The token itself was accepted before this check failed: Moodle records its use.
            if denial.token_was_accepted()
                && let Some(h) = &token_hash
                && let Ok(Some(t)) = crate::store::Queries::token_by_hash(&snapshot.view, h)
            {
                note_access(app, &t, now);
            }
            let e = denial.moodle_exception().expect("only switched-off denials have no exception");
            let entry = Entry { function: function.as_deref(), protocol, client, now, started: req.started };
            log(app, &entry, e.errorcode, None);
            let stage = if denial.is_function_refusal() { Stage::Function } else { Stage::Caller };
            Err(refused(Outcome::Failed(e), stage))
        }
    }
}

/// What the call log records of every request.
struct Entry<'a> {
    function: Option<&'a str>,
    protocol: Protocol,
    client: ClientAddr,
    now: i64,
    started: Instant,
}

fn log(app: &AppState, entry: &Entry<'_>, outcome: &'static str, grant: Option<&Grant>) {
    write_log(
        app,
        entry,
        outcome,
        grant.and_then(|g| g.token.as_ref().map(|t| t.id)),
        grant.map(|g| g.user.id),
        grant.map(|g| g.service.id),
    );
}

fn log_caller(app: &AppState, entry: &Entry<'_>, outcome: &'static str, caller: &Caller) {
    let service = caller.token.as_ref().map(|t| t.service);
    write_log(app, entry, outcome, caller.token.as_ref().map(|t| t.id), Some(caller.user.id), service);
}

fn write_log(
    app: &AppState,
    entry: &Entry<'_>,
    outcome: &'static str,
    token: Option<crate::domain::TokenId>,
    user: Option<crate::domain::UserId>,
    service: Option<crate::domain::ServiceId>,
) {
    app.activity.send(Event::Call(CallLog {
        time: entry.now,
        token,
        user,
        service,
        function: logged_function(entry.function.unwrap_or_default()),
        protocol: entry.protocol.name().into(),
        remote_ip: entry.client.to_string(),
        outcome: outcome.into(),
        duration_micros: u64::try_from(entry.started.elapsed().as_micros()).unwrap_or(u64::MAX),
    }))
}

/// The function as the call log names it: the catalogue's name, or what the client sent, cut
/// to 200 characters.
fn logged_function(sent: &str) -> std::borrow::Cow<'static, str> {
    match crate::domain::function_catalogue::find(sent) {
        Some(f) => f.name.into(),
        None => sent.chars().take(200).collect::<String>().into(),
    }
}

fn note_access(app: &AppState, t: &crate::domain::Token, now: i64) {
    app.activity.note_access(t.id, t.last_access, now);
}

/// A username/password call, decided twice: first without checking the password (the cheap
/// refusals), then, on the password pool, with it.
struct PasswordCall {
    protocol: Protocol,
    username: String,
    password: String,
    function: Option<String>,
    remote: ClientAddr,
    now: i64,
}

impl PasswordCall {
    /// The decision; also says whether a password check ran.
    fn decide<T>(
        &self,
        decider: Decider<T>,
        snapshot: &super::fresh::Snapshot,
        check: PasswordCheck<'_>,
    ) -> (Result<Result<T, Denial>, crate::store::StoreError>, bool) {
        let req = AccessRequest {
            protocol: self.protocol,
            credentials: Credentials::Password { username: &self.username, password: &self.password },
            function: self.function.as_deref(),
            remote: self.remote,
            now: self.now,
        };
        let checked = std::cell::Cell::new(false);
        let d = decider(snapshot, &req, &|u, p| {
            checked.set(true);
            check(u, p)
        });
        (d, checked.get())
    }
}

fn run(
    def: &Definition,
    store: &std::sync::Arc<crate::store::Store>,
    snapshot: &super::fresh::Snapshot,
    grant: &Grant,
    args: &Value,
    now: i64,
) -> Result<Option<Value>, MoodleException> {
    let ctx = CallContext {
        store,
        view: &snapshot.view,
        user: &grant.user,
        service: grant.token.as_ref().map(|_| &*grant.service),
        token: grant.token.as_ref(),
        settings: &snapshot.settings,
        now,
        records: Some(snapshot.records()),
    };
    functions::call(def, &ctx, args)
}
