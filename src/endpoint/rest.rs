//! `/webservice/rest/server.php` (token) and `simpleserver.php` (username/password):
//! moodle-ws-reference.md §2 and §3.

use super::answers::{bad_request, busy, too_many, unavailable};
use super::call::{self, CallRequest, Creds, Outcome};
use super::params;
use super::state::AppState;
use crate::domain::Protocol;
use crate::domain::access::MoodleException;
use crate::model::value::Value;
use crate::wire::encode;
use crate::wire::params::take;
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
    let format =
        if take(&mut params, "moodlewsrestformat").as_deref() == Some("json") { Format::Json } else { Format::Xml };
    let function = take(&mut params, "wsfunction");
    params.retain(|(k, _)| !k.starts_with("moodlewssetting"));
    let creds = match mode {
        Mode::Token => Creds::Token(take(&mut params, "wstoken")),
        Mode::Simple => Creds::Password {
            username: take(&mut params, "wsusername").unwrap_or_default(),
            password: take(&mut params, "wspassword").unwrap_or_default(),
        },
    };
    let req = CallRequest {
        protocol: Protocol::Rest,
        peer,
        headers: &headers,
        creds,
        function,
        args: Value::map(params),
        started,
    };
    let answer = call::call(&app, req).await;
    match answer.outcome {
        // server.php answers 403, simpleserver.php just dies (200), both with no body.
        Outcome::SwitchedOff => {
            super::answers::died(if mode == Mode::Token { StatusCode::FORBIDDEN } else { StatusCode::OK })
        }
        Outcome::TooMany(wait) => too_many(wait),
        Outcome::Busy => busy(),
        Outcome::Unavailable(e) => unavailable(e),
        Outcome::Failed(e) => error(format, &e, answer.debugging),
        Outcome::Done { value, def } => success(format, value.as_ref(), def.returns.as_ref()),
    }
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
    super::answers::no_cache_headers(&mut h);
    h
}

fn success(format: Format, value: Option<&Value>, desc: Option<&crate::model::schema::Schema>) -> Response {
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
