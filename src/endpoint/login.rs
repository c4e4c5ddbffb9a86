//! `/login/token.php` (moodle-ws-reference.md §5.3): a user who logs in again gets the valid
//! token login/token.php issued before, as from Moodle; its value is derived again from the
//! site key, since only its hash is stored (`domain::login::reusable_token`).

use super::answers::Refusal;
use super::call_log::{Entry, Who};
use super::fresh::Snapshot;
use super::gate::Opened;
use super::incoming::Incoming;
use super::params::request_params;
use super::password_gate::Checked;
use super::state::AppState;
use crate::domain::access::PasswordCheck;
use crate::domain::iprestriction::ClientAddr;
use crate::domain::login::{LoginGrant, LoginRequest, decide_login, reusable_token};
use crate::model::value::{Text, Value};
use crate::ops::Ops;
use crate::store::Queries;
use crate::wire::params::take;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

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

pub async fn token_php(State(app): State<AppState>, incoming: Incoming) -> Result<Response, Refusal> {
    let mut params = request_params(&incoming).await.map_err(Refusal::bad_request)?;
    let Opened { snapshot, client, now } = app.open(&incoming).await?;
    let settings = &snapshot.settings;
    let entry = Entry { function: "login/token.php", protocol: "login", client, now, started: incoming.started };
    let refuse = |f: Failure| {
        app.log_call(&entry, f.code, Who::default());
        let mut r = super::ajax::fatal_error(f.code, f.message, settings);
        r.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        r
    };
    // What needs no password check is answered before the gate, and costs no slot.
    let login = match read_login(settings, &mut params) {
        Ok(Read::Login(login)) => login,
        Ok(Read::SiteCheck) => return Ok(json(&Value::map([("appsitecheck", Value::str("ok"))]))),
        Err(f) => return Ok(refuse(f)),
    };
    let (decision, decided_on) = app
        .check_password(client, login.password.clone(), move |snapshot, check| {
            let decision = check_login(snapshot, &login, client, now, check);
            let wrong_password = matches!(&decision, Err(f) if f.code == "invalidlogin");
            Checked { value: decision, wrong_password }
        })
        .await?;
    let grant = match decision {
        Ok(grant) => grant,
        Err(f) => return Ok(refuse(f)),
    };
    let app2 = app.clone();
    let issued = tokio::task::spawn_blocking(move || issue(&app2, &decided_on, &grant, client, now))
        .await
        .map_err(Refusal::unavailable)?;
    Ok(match issued {
        Ok(v) => {
            app.log_call(&entry, "ok", Who::default());
            json(&v)
        }
        Err(f) => refuse(f),
    })
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
        let d = crate::domain::login::LoginDenial::WebServicesDisabled;
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

/// `domain::login::decide_login`, run behind the password gate.
fn check_login(
    snapshot: &Snapshot,
    login: &Login,
    client: ClientAddr,
    now: i64,
    check: PasswordCheck<'_>,
) -> Result<LoginGrant, Failure> {
    let req = LoginRequest {
        username: &login.username,
        password: &login.password,
        service: &login.service,
        remote: client,
        now,
    };
    decide_login(snapshot, &req, check).map_err(internal)?.map_err(|d| fail(d.errorcode(), d.message()))
}

fn internal(e: crate::store::StoreError) -> Failure {
    fail("dmlreadexception", format!("Error reading from database ({e})"))
}

/// The user's valid login token for the service, or a new one committed before the answer.
fn issue(
    app: &AppState,
    snapshot: &Snapshot,
    grant: &LoginGrant,
    client: ClientAddr,
    now: i64,
) -> Result<Value, Failure> {
    let key = app.store.site_key().map_err(internal)?;
    let own = snapshot.view.tokens_of_user(grant.user.id).map_err(internal)?;
    if let Some((token, value)) = reusable_token(key, grant.user.id, own, grant.service.id, client, now) {
        // Handed back without a write; Moodle sets its last access now.
        app.note_access(&token, now);
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
