//! `/login/token.php` (moodle-ws-reference.md §5.3) with our token policy: every successful
//! login issues a new token (tokens are stored hashed, so an old one cannot be handed back).

use super::activity::Event;
use super::params::take;
use super::rest::request_params;
use super::{AppState, bad_request, ip_of, too_many, unavailable};
use crate::domain::iprestriction::IpRestriction;
use crate::domain::secret::verify_password;
use crate::domain::{AuthMethod, AuthPlugin, CallLog, MOBILE_SERVICE, capabilities};
use crate::functions::value::Value;
use crate::ops::Ops;
use crate::store::Queries;
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
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store, no-cache, must-revalidate"));
    h.append(header::CACHE_CONTROL, HeaderValue::from_static("post-check=0, pre-check=0"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(header::EXPIRES, HeaderValue::from_static("Mon, 20 Aug 1969 09:23:00 GMT"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("none"));
    h
}

fn json(v: &Value) -> Response {
    (StatusCode::OK, headers(), super::encode::json(v)).into_response()
}

pub async fn token_php(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request_headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let mut params = match request_params(&uri, &request_headers, &body) {
        Ok(p) => p,
        Err(e) => return bad_request(e),
    };
    let snapshot = match app.fresh.get().await {
        Ok(s) => s,
        Err(e) => return unavailable(e),
    };
    let client = app.client(peer, &request_headers, &snapshot.settings.trusted_proxies);
    if let Some(wait) = app.throttle.check(ip_of(client)) {
        return too_many(wait);
    }
    let app2 = app.clone();
    let outcome = {
        let Ok(_slot) = app.password_slots.acquire().await else { return unavailable("shutting down") };
        tokio::task::spawn_blocking(move || issue(&app2, &snapshot, &mut params, client)).await
    };
    let now = crate::store::now();
    let log = |outcome: &str| {
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
    match outcome {
        Ok(Ok(v)) => {
            if v.get("token").is_some() {
                log("ok");
            }
            json(&v)
        }
        Ok(Err(f)) => {
            if f.code == "invalidlogin" {
                app.throttle.failed(ip_of(client));
            }
            log(f.code);
            json(&Value::map([
                ("error", Value::str(f.message)),
                ("errorcode", Value::str(f.code)),
                ("stacktrace", Value::Null),
                ("debuginfo", Value::Null),
                ("reproductionlink", Value::Null),
            ]))
        }
        Err(e) => unavailable(e),
    }
}

/// The checks of login/token.php in Moodle's order, then a new token.
fn issue(
    app: &AppState,
    snapshot: &super::fresh::Snapshot,
    params: &mut Vec<(String, Value)>,
    client: crate::domain::iprestriction::ClientAddr,
) -> Result<Value, Failure> {
    let settings = &snapshot.settings;
    let view = &snapshot.view;
    let internal = |e: crate::store::StoreError| fail("dmlreadexception", format!("Error reading from database ({e})"));
    if !settings.enable_web_services {
        return Err(fail("enablewsdescription", "Web services must be enabled in Advanced features."));
    }
    if take(params, "appsitecheck").is_some_and(|v| v == "1") {
        return Ok(Value::map([("appsitecheck", Value::str("ok"))]));
    }
    let mut required = |name: &str| {
        take(params, name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| fail("missingparam", format!("A required parameter ({name}) was missing")))
    };
    let username = required("username")?.trim().to_lowercase();
    let password = required("password")?;
    let service_name = required("service")?;

    // authenticate_user_login: any failure is the same "invalidlogin".
    let invalid = || fail("invalidlogin", "Invalid login, please try again");
    let Some(user) = Queries::user_by_username(view, &username).map_err(internal)? else {
        // Spend the time a real check takes, so that names cannot be found by timing.
        crate::domain::secret::waste_a_password_check(&password);
        return Err(invalid());
    };
    let plugin_on = match user.auth {
        AuthMethod::Manual => settings.auth_enabled(AuthPlugin::Manual),
        // auth_webservice refuses every normal login; nologin refuses everything.
        AuthMethod::Webservice | AuthMethod::Nologin => false,
    };
    if !plugin_on || user.suspended || user.password_hash.is_empty() || !verify_password(&user.password_hash, &password)
    {
        return Err(invalid());
    }
    let has = |cap: &str| view.user_has_capability(user.id, cap).map_err(internal);
    if settings.maintenance && !has(capabilities::MAINTENANCE_ACCESS)? {
        return Err(fail("sitemaintenance", "The site is undergoing maintenance and is currently not available"));
    }
    if !user.confirmed {
        return Err(fail("usernotconfirmed", format!("Could not confirm {username}")));
    }
    let service =
        view.service_by_shortname(&service_name).map_err(internal)?.filter(|s| s.enabled).ok_or_else(|| {
            fail("servicenotavailable", "Web service is not available. (It doesn't exist or might be disabled.)")
        })?;
    if let Some(cap) = &service.required_capability
        && !has(cap)?
    {
        return Err(fail("missingrequiredcapability", format!("The capability {cap} is required.")));
    }
    let now = crate::store::now();
    if service.restricted_users {
        let auth = view.authorisation(service.id, user.id).map_err(internal)?.ok_or_else(|| {
            fail(
                "usernotallowed",
                format!(
                    "The user is not allowed for this service. First you need to allow this user on the {}'s allowed users administration page.",
                    service.shortname
                ),
            )
        })?;
        if auth.valid_until.is_some_and(|v| v < now) {
            return Err(fail("invalidtimedtoken", "Invalid token - token expired"));
        }
        if !auth.ip_restriction.trim().is_empty() && !IpRestriction::parse_lenient(&auth.ip_restriction).matches(client)
        {
            return Err(fail("invalidiptoken", "Invalid token - your IP is not supported"));
        }
    }
    let may_create = (service.shortname == MOBILE_SERVICE && has(capabilities::CREATE_MOBILE_TOKEN)?)
        || has(capabilities::CREATE_TOKEN)?;
    if !may_create {
        return Err(fail(
            "cannotcreatetoken",
            format!("No permission to create web service token for the service {}.", service.shortname),
        ));
    }
    let ops = Ops::new(app.store.clone(), format!("ws:{}", user.username));
    let created = ops
        .issue_login_token(user.id, service.id, settings.token_duration, settings.max_tokens_per_user_service)
        .map_err(|e| fail("tokengenerationfailed", format!("Cannot generate a new token. ({e})")))?;
    Ok(Value::map([("token", Value::str(created.value)), ("privatetoken", Value::Null)]))
}
