//! `/login/token.php` (moodle-ws-reference.md §5.3): a user who logs in again gets the valid
//! token login/token.php issued before, as from Moodle; its value is derived again from the
//! site key, since only its hash is stored (`domain::login::reusable_token`).

use super::activity::Event;
use super::answers::{bad_request, too_many, unavailable};
use super::params::request_params;
use super::password_gate::{Checked, GateRefusal};
use super::state::{AppState, ip_of};
use crate::domain::CallLog;
use crate::domain::login::{LoginDenial, LoginGrant, LoginRequest, decide_login, reusable_token};
use crate::domain::secret::verify_password;
use crate::model::value::{Text, Value};
use crate::ops::Ops;
use crate::store::Queries;
use crate::wire::params::take;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

/// A failure, as Moodle's AJAX exception handler prints it.
struct Failure {
    code: &'static str,
    message: String,
}

fn fail(code: &'static str, message: impl Into<String>) -> Failure {
    Failure { code, message: message.into() }
}

fn headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    super::ajax::no_cache_ajax_headers(&mut h);
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h
}

fn json(v: &Value) -> Response {
    (StatusCode::OK, headers(), crate::wire::encode::json(v)).into_response()
}

pub async fn token_php(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request_headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let mut params = match request_params(&uri, &request_headers, body).await {
        Ok(p) => p,
        Err(e) => return bad_request(e),
    };
    let snapshot = match app.fresh.get().await {
        Ok(s) => s,
        Err(e) => return unavailable(e),
    };
    let settings = &snapshot.settings;
    let client = app.client(peer, &request_headers, &settings.trusted_proxies);
    let now = crate::store::now();
    let log = |outcome: &'static str| {
        app.activity.send(Event::Call(CallLog {
            time: now,
            token: None,
            user: None,
            service: None,
            function: "login/token.php".into(),
            protocol: "login".into(),
            remote_ip: client.to_string(),
            outcome: outcome.into(),
            duration_micros: 0,
        }))
    };
    let refuse = |f: Failure| {
        log(f.code);
        let mut r = super::ajax::fatal_error(f.code, f.message, settings);
        r.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        r
    };
    // What needs no password check is answered before the gate, and costs no slot.
    let login = match read_login(settings, &mut params) {
        Ok(Read::Login(login)) => login,
        Ok(Read::SiteCheck) => return json(&Value::map([("appsitecheck", Value::str("ok"))])),
        Err(f) => return refuse(f),
    };
    let checked = app
        .passwords
        .run(ip_of(client), app.fresh.get(), move |snapshot| {
            let decision = check_login(&snapshot, &login, client, now);
            let wrong_password = matches!(&decision, Err(f) if f.code == "invalidlogin");
            Checked { value: (decision, snapshot), wrong_password }
        })
        .await;
    let grant = match checked {
        Ok((Ok(grant), snapshot)) => (grant, snapshot),
        Ok((Err(f), _)) => return refuse(f),
        Err(GateRefusal::TooMany(wait)) => return too_many(wait),
        Err(GateRefusal::Busy) => return super::answers::busy(),
        Err(GateRefusal::Unavailable(e)) => return unavailable(e),
    };
    let app2 = app.clone();
    match tokio::task::spawn_blocking(move || issue(&app2, &grant.1, &grant.0, client, now)).await {
        Ok(Ok(v)) => {
            log("ok");
            json(&v)
        }
        Ok(Err(f)) => refuse(f),
        Err(e) => unavailable(e),
    }
}

/// A login's parameters, as sent.
struct Login {
    username: String,
    password: String,
    service: String,
}

enum Read {
    Login(Login),
    /// The Moodle app's `appsitecheck=1`: is this a site?
    SiteCheck,
}

/// The parameters as Moodle reads them, and the refusals that need no password check.
fn read_login(settings: &crate::domain::Settings, params: &mut Vec<(Text, Value)>) -> Result<Read, Failure> {
    if !settings.enable_web_services {
        let d = LoginDenial::WebServicesDisabled;
        return Err(fail(d.errorcode(), d.message()));
    }
    if take(params, "appsitecheck").is_some_and(|v| v == "1") {
        return Ok(Read::SiteCheck);
    }
    // Present but empty still counts as present (PHP's required_param), and fails the login.
    let mut required = |name: &str| {
        take(params, name).ok_or_else(|| fail("missingparam", format!("A required parameter ({name}) was missing")))
    };
    Ok(Read::Login(Login {
        username: required("username")?,
        password: required("password")?,
        service: required("service")?,
    }))
}

/// `domain::login::decide_login` with the password check, run behind the password gate.
fn check_login(
    snapshot: &super::fresh::Snapshot,
    login: &Login,
    client: crate::domain::iprestriction::ClientAddr,
    now: i64,
) -> Result<LoginGrant, Failure> {
    let req = LoginRequest {
        username: &login.username,
        password: &login.password,
        service: &login.service,
        remote: client,
        now,
    };
    let checked = std::cell::Cell::new(false);
    let decision = decide_login(snapshot, &req, &|u, p| {
        checked.set(true);
        verify_password(&u.password_hash, p)
    })
    .map_err(internal)?;
    if !checked.get() {
        // No password was checked: spend the same time, so that names cannot be found by timing.
        crate::domain::secret::waste_a_password_check(&login.password);
    }
    decision.map_err(|d| fail(d.errorcode(), d.message()))
}

fn internal(e: crate::store::StoreError) -> Failure {
    fail("dmlreadexception", format!("Error reading from database ({e})"))
}

/// The user's valid login token for the service, or a new one committed before the answer.
fn issue(
    app: &AppState,
    snapshot: &super::fresh::Snapshot,
    grant: &LoginGrant,
    client: crate::domain::iprestriction::ClientAddr,
    now: i64,
) -> Result<Value, Failure> {
    let key = app.store.site_key().map_err(internal)?;
    let own = snapshot.view.tokens_of_user(grant.user.id).map_err(internal)?;
    if let Some((token, value)) = reusable_token(key, grant.user.id, own, grant.service.id, client, now) {
        // Handed back without a write; Moodle sets its last access now.
        app.activity.note_access(token.id, token.last_access, now);
        return Ok(Value::map([("token", Value::str(value)), ("privatetoken", Value::Null)]));
    }
    let settings = &snapshot.settings;
    let ops = Ops::new(app.store.clone(), format!("ws:{}", grant.user.username));
    let created = ops
        .issue_login_token(
            key,
            grant.user.id,
            grant.service.id,
            settings.token_duration,
            settings.max_tokens_per_user_service,
        )
        .map_err(|e| fail("tokengenerationfailed", format!("Cannot generate a new token. ({e})")))?;
    Ok(Value::map([("token", Value::str(created.value)), ("privatetoken", Value::Null)]))
}
