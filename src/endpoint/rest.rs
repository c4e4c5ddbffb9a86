//! `/webservice/rest/server.php` (token) and `simpleserver.php` (username/password):
//! moodle-ws-reference.md §2 and §3.

use super::activity::Event;
use super::params::{self, take};
use super::{AppState, bad_request, encode, ip_of, too_many, unavailable};
use crate::domain::access::{AccessRequest, Credentials, Denial, MoodleException, decide};
use crate::domain::secret::{clean_token, hash_token, verify_password};
use crate::domain::{CallLog, Protocol};
use crate::functions::value::Value;
use crate::functions::{self, CallContext};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::time::Instant;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Xml,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Token,
    Simple,
}

/// `server.php` (`SIMPLE = false`, token) and `simpleserver.php` (`SIMPLE = true`,
/// username and password).
pub async fn server<const SIMPLE: bool>(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    serve(app, peer, headers, uri, body, if SIMPLE { Mode::Simple } else { Mode::Token }).await
}

async fn serve(app: AppState, peer: SocketAddr, headers: HeaderMap, uri: Uri, body: Bytes, mode: Mode) -> Response {
    let started = Instant::now();
    let mut params = match params::request_params(&uri, &headers, body).await {
        Ok(p) => p,
        Err(e) => return bad_request(e),
    };
    let snapshot = match app.fresh.get().await {
        Ok(s) => s,
        Err(e) => return unavailable(e),
    };
    let settings = &snapshot.settings;
    let debugging = settings.debugging();
    let format =
        if take(&mut params, "moodlewsrestformat").as_deref() == Some("json") { Format::Json } else { Format::Xml };
    let function = take(&mut params, "wsfunction");
    params.retain(|(k, _)| !k.starts_with("moodlewssetting"));
    let client = app.client(peer, &headers, &settings.trusted_proxies);
    // A password check costs ~20 ms of CPU: a client that keeps failing is refused before it.
    if mode == Mode::Simple
        && let Some(wait) = app.throttle.check(ip_of(client))
    {
        return too_many(wait);
    }
    let now = crate::store::now();

    let mut token_hash = None;
    let decision = match mode {
        Mode::Token => {
            let token = take(&mut params, "wstoken");
            let hash = token.as_deref().and_then(clean_token).map(|t| hash_token(&t));
            token_hash = hash;
            let req = AccessRequest {
                protocol: Protocol::Rest,
                credentials: Credentials::Token(hash),
                function: function.as_deref(),
                remote: client,
                now,
            };
            decide(&*snapshot, &req, &|_, _| false)
        }
        Mode::Simple => {
            let username = take(&mut params, "wsusername").unwrap_or_default();
            let password = take(&mut params, "wspassword").unwrap_or_default();
            // Refusals that need no password check (switched off, plugin off, missing
            // credentials) come first and take no slot of the password pool.
            let (cheap, checked) =
                decide_password(&snapshot, &username, &password, function.as_deref(), client, now, &|_, _| false);
            if !checked && !matches!(cheap, Ok(Err(Denial::WrongUsernamePassword { .. }))) {
                cheap
            } else {
                let Ok(_slot) = app.password_slots.acquire().await else { return unavailable("shutting down") };
                // Waiting for a slot can take a while under a flood: decide on what holds now.
                let snap = match app.fresh.get().await {
                    Ok(s) => s,
                    Err(e) => return unavailable(e),
                };
                let function = function.clone();
                let decided = tokio::task::spawn_blocking(move || {
                    let (d, checked) =
                        decide_password(&snap, &username, &password, function.as_deref(), client, now, &|u, p| {
                            verify_password(&u.password_hash, p)
                        });
                    if !checked {
                        // Unknown user: spend the same time, so names cannot be found by timing.
                        crate::domain::secret::waste_a_password_check(&password);
                    }
                    d
                })
                .await;
                match decided {
                    Ok(d) => d,
                    Err(e) => return unavailable(e),
                }
            }
        }
    };
    let decision = match decision {
        Ok(d) => d,
        Err(e) => return unavailable(e),
    };
    let log = |outcome: &str, grant: Option<&crate::domain::access::Grant>| {
        app.activity.send(Event::Call(CallLog {
            time: now,
            token: grant.and_then(|g| g.token.as_ref().map(|t| t.id)),
            user: grant.map(|g| g.user.id),
            service: grant.map(|g| g.service.id),
            function: function.clone().unwrap_or_default().chars().take(200).collect(),
            protocol: "rest".into(),
            remote_ip: client.to_string(),
            outcome: outcome.into(),
            duration_micros: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        }))
    };

    let grant = match decision {
        Ok(g) => g,
        Err(denial) if denial.is_switched_off() => {
            // server.php answers 403, simpleserver.php just dies (200), both with no body.
            let status = if mode == Mode::Token { StatusCode::FORBIDDEN } else { StatusCode::OK };
            return (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], "").into_response();
        }
        Err(denial) => {
            if matches!(denial, Denial::InvalidToken | Denial::WrongUsernamePassword { .. }) {
                // Valid tokens from the same address keep working; only failures are refused.
                if let Some(wait) = app.throttle.check(ip_of(client)) {
                    return too_many(wait);
                }
                app.throttle.failed(ip_of(client));
            }
            // The token itself was accepted before this check failed: Moodle records its use.
            if denial.token_was_accepted()
                && let Some(h) = &token_hash
                && let Ok(Some(t)) = crate::store::Queries::token_by_hash(&snapshot.view, h)
            {
                note_access(&app, &t, now);
            }
            let e = denial.moodle_exception().expect("only switched-off denials have no exception");
            log(e.errorcode, None);
            return error(format, &e, debugging);
        }
    };

    let def = functions::definition(&grant.function).expect("decide only grants catalogued functions");
    let args = Value::Map(params);
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
        note_access(&app, t, now);
    }
    match result {
        Ok(value) => {
            log("ok", Some(&grant));
            success(format, value.as_ref(), def.returns.as_ref())
        }
        Err(e) => {
            log(e.errorcode, Some(&grant));
            error(format, &e, debugging)
        }
    }
}

/// Queues a token's last access, at most once a minute (Moodle's `update_token_lastaccess`).
fn note_access(app: &AppState, t: &crate::domain::Token, now: i64) {
    if t.last_access.is_none_or(|a| now - a >= super::LAST_ACCESS_EVERY) {
        app.activity.send(Event::LastAccess { token: t.id, time: now });
    }
}

/// The access decision for a username/password call, and whether a password was checked.
fn decide_password(
    snapshot: &super::fresh::Snapshot,
    username: &str,
    password: &str,
    function: Option<&str>,
    remote: crate::domain::iprestriction::ClientAddr,
    now: i64,
    check: crate::domain::access::PasswordCheck<'_>,
) -> (Result<crate::domain::access::Decision, crate::store::StoreError>, bool) {
    let req = AccessRequest {
        protocol: Protocol::Rest,
        credentials: Credentials::Password { username, password },
        function,
        remote,
        now,
    };
    let checked = std::cell::Cell::new(false);
    let d = decide(snapshot, &req, &|u, p| {
        checked.set(true);
        check(u, p)
    });
    (d, checked.get())
}

fn run(
    def: &functions::Definition,
    store: &std::sync::Arc<crate::store::Store>,
    snapshot: &super::fresh::Snapshot,
    grant: &crate::domain::access::Grant,
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

/// The headers of every REST answer (rest/locallib.php `send_headers`).
fn rest_headers(format: Format) -> HeaderMap {
    let mut h = HeaderMap::new();
    match format {
        Format::Json => {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Format::Xml => {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml; charset=utf-8"));
            h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline; filename=\"response.xml\""));
        }
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, must-revalidate, pre-check=0, post-check=0, max-age=0"),
    );
    h.insert(header::EXPIRES, HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("none"));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h
}

fn success(format: Format, value: Option<&Value>, desc: Option<&functions::schema::Schema>) -> Response {
    let body = match format {
        Format::Json => encode::json(value.unwrap_or(&Value::Null)),
        Format::Xml => encode::xml_response(value, desc),
    };
    (StatusCode::OK, rest_headers(format), body).into_response()
}

/// Every REST error is HTTP 200 with an exception body.
fn error(format: Format, e: &MoodleException, debugging: bool) -> Response {
    let body = match format {
        Format::Json => encode::json_exception(e, debugging),
        Format::Xml => encode::xml_exception(e, debugging),
    };
    (StatusCode::OK, rest_headers(format), body).into_response()
}
