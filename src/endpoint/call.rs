//! One web-service call, whatever the protocol: credentials, the access decision, the
//! function, the activity log and token last access (moodle-ws-reference.md §3, §8). Each
//! protocol module decodes its request into a [`CallRequest`] and encodes the [`Outcome`].

use super::activity::Event;
use super::{AppState, ip_of};
use crate::domain::access::{AccessRequest, Credentials, Denial, Grant, MoodleException, decide};
use crate::domain::secret::{clean_token, hash_token, verify_password};
use crate::domain::{CallLog, Protocol};
use crate::functions::value::Value;
use crate::functions::{self, CallContext, Definition};
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
    /// Refused or failed, with Moodle's exception.
    Failed(MoodleException),
    /// The function ran; `None` for a void function.
    Done { value: Option<Value>, def: &'static Definition },
}

pub struct Answer {
    pub outcome: Outcome,
    /// Whether errors carry `debuginfo` (the debug setting).
    pub debugging: bool,
}

fn answer(outcome: Outcome) -> Answer {
    Answer { outcome, debugging: false }
}

pub async fn call(app: &AppState, req: CallRequest<'_>) -> Answer {
    let snapshot = match app.fresh.get().await {
        Ok(s) => s,
        Err(e) => return answer(Outcome::Unavailable(e.to_string())),
    };
    let settings = &snapshot.settings;
    let debugging = settings.debugging();
    let client = app.client(req.peer, req.headers, &settings.trusted_proxies);
    let simple = matches!(req.creds, Creds::Password { .. });
    // A password check costs ~20 ms of CPU: a client that keeps failing is refused before it.
    if simple && let Some(wait) = app.throttle.check(ip_of(client)) {
        return answer(Outcome::TooMany(wait));
    }
    let now = crate::store::now();
    let function = req.function;
    let protocol = req.protocol;

    let mut token_hash = None;
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
            decide(&*snapshot, &r, &|_, _| false)
        }
        Creds::Password { username, password } => {
            // Refusals that need no password check (switched off, plugin off, missing
            // credentials) come first and take no slot of the password pool.
            let (cheap, checked) = decide_password(
                &snapshot,
                protocol,
                &username,
                &password,
                function.as_deref(),
                client,
                now,
                &|_, _| false,
            );
            if !checked && !matches!(cheap, Ok(Err(Denial::WrongUsernamePassword { .. }))) {
                cheap
            } else {
                let Ok(_slot) = app.password_slots.acquire().await else {
                    return answer(Outcome::Unavailable("shutting down".into()));
                };
                // Waiting for a slot can take a while under a flood: decide on what holds now.
                let snap = match app.fresh.get().await {
                    Ok(s) => s,
                    Err(e) => return answer(Outcome::Unavailable(e.to_string())),
                };
                let function = function.clone();
                let decided = tokio::task::spawn_blocking(move || {
                    let (d, checked) = decide_password(
                        &snap,
                        protocol,
                        &username,
                        &password,
                        function.as_deref(),
                        client,
                        now,
                        &|u, p| verify_password(&u.password_hash, p),
                    );
                    if !checked {
                        // Unknown user: spend the same time, so names cannot be found by timing.
                        crate::domain::secret::waste_a_password_check(&password);
                    }
                    d
                })
                .await;
                match decided {
                    Ok(d) => d,
                    Err(e) => return answer(Outcome::Unavailable(e.to_string())),
                }
            }
        }
    };
    let decision = match decision {
        Ok(d) => d,
        Err(e) => return answer(Outcome::Unavailable(e.to_string())),
    };
    let log = |outcome: &str, grant: Option<&Grant>| {
        app.activity.send(Event::Call(CallLog {
            time: now,
            token: grant.and_then(|g| g.token.as_ref().map(|t| t.id)),
            user: grant.map(|g| g.user.id),
            service: grant.map(|g| g.service.id),
            function: function.clone().unwrap_or_default().chars().take(200).collect(),
            protocol: protocol.name().into(),
            remote_ip: client.to_string(),
            outcome: outcome.into(),
            duration_micros: u64::try_from(req.started.elapsed().as_micros()).unwrap_or(u64::MAX),
        }))
    };

    let grant = match decision {
        Ok(g) => g,
        Err(denial) if denial.is_switched_off() => return Answer { outcome: Outcome::SwitchedOff, debugging },
        Err(denial) => {
            if matches!(denial, Denial::InvalidToken | Denial::WrongUsernamePassword { .. }) {
                // Valid tokens from the same address keep working; only failures are refused.
                if let Some(wait) = app.throttle.check(ip_of(client)) {
                    return Answer { outcome: Outcome::TooMany(wait), debugging };
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
            log(e.errorcode, None);
            return Answer { outcome: Outcome::Failed(e), debugging };
        }
    };

    let def = functions::definition(&grant.function).expect("decide only grants catalogued functions");
    let args = req.args;
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
    let outcome = match result {
        Ok(value) => {
            log("ok", Some(&grant));
            Outcome::Done { value, def }
        }
        Err(e) => {
            log(e.errorcode, Some(&grant));
            Outcome::Failed(e)
        }
    };
    Answer { outcome, debugging }
}

/// Queues a token's last access, at most once a minute (Moodle's `update_token_lastaccess`).
fn note_access(app: &AppState, t: &crate::domain::Token, now: i64) {
    if t.last_access.is_none_or(|a| now - a >= super::LAST_ACCESS_EVERY) {
        app.activity.send(Event::LastAccess { token: t.id, time: now });
    }
}

/// `access::decide` for username/password credentials; also says whether a password check ran.
#[allow(clippy::too_many_arguments)]
fn decide_password(
    snapshot: &super::fresh::Snapshot,
    protocol: Protocol,
    username: &str,
    password: &str,
    function: Option<&str>,
    remote: crate::domain::iprestriction::ClientAddr,
    now: i64,
    check: crate::domain::access::PasswordCheck<'_>,
) -> (Result<crate::domain::access::Decision, crate::store::StoreError>, bool) {
    let req =
        AccessRequest { protocol, credentials: Credentials::Password { username, password }, function, remote, now };
    let checked = std::cell::Cell::new(false);
    let d = decide(snapshot, &req, &|u, p| {
        checked.set(true);
        check(u, p)
    });
    (d, checked.get())
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
        service: grant.token.as_ref().map(|_| &grant.service),
        token: grant.token.as_ref(),
        settings: &snapshot.settings,
        now,
    };
    functions::call(def, &ctx, args)
}
