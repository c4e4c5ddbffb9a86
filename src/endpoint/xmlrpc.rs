//! `/webservice/xmlrpc/server.php` (token) and `simpleserver.php` (username/password):
//! moodle-ws-reference.md §7.2. Parameters are positional, named by the order of the
//! function's parameter description; answers and faults are byte for byte Moodle's.
//!
//! The format is `crate::wire::xmlrpc`'s; XML safety the shared reader's (`crate::wire::xml`).

use super::answers::{busy, too_many, unavailable};
use super::call::{self, CallRequest, Outcome};
use super::state::AppState;
use crate::domain::Protocol;
use crate::domain::access::MoodleException;
use crate::functions;
use crate::wire::xmlrpc;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::time::Instant;

pub async fn server<const SIMPLE: bool>(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let creds = super::state::Query::of(&uri).creds(SIMPLE);
    let (function, args) = match xmlrpc::parse_method_call(&body) {
        Ok((name, params)) => {
            let args = crate::model::name_positional(&name, params);
            (Some(name), args)
        }
        Err(why) => {
            let e = functions::invalid_parameter(format!("Invalid XML-RPC request: {why}"));
            return fault(&e, false);
        }
    };
    let req = CallRequest { protocol: Protocol::Xmlrpc, peer, headers: &headers, creds, function, args, started };
    let answer = call::call(&app, req).await;
    match answer.outcome {
        // Moodle's server.php dies: an empty 200.
        Outcome::SwitchedOff => super::answers::died(StatusCode::OK),
        Outcome::TooMany(wait) => too_many(wait),
        Outcome::Busy => busy(),
        Outcome::Unavailable(e) => unavailable(e),
        Outcome::Failed(e) => fault(&e, answer.debugging),
        Outcome::Done { value, .. } => respond(xmlrpc::method_response(value.as_ref())),
    }
}

fn headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml; charset=utf-8"));
    h.insert(header::SERVER, HeaderValue::from_static("Moodle XML-RPC Server/1.0"));
    super::answers::no_cache_headers(&mut h);
    h
}

fn respond(body: String) -> Response {
    (StatusCode::OK, headers(), body).into_response()
}

/// Moodle's fault, always HTTP 200.
fn fault(e: &MoodleException, debugging: bool) -> Response {
    respond(xmlrpc::fault_body(e, debugging))
}
