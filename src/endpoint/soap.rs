//! `/webservice/soap/server.php` (token) and `simpleserver.php` (username/password, in the
//! query or as `simpleserver.php/<username>/<password>`): moodle-ws-reference.md §7.3.
//!
//! `?wsdl=1` describes the functions this caller may use (`crate::wire::soap` writes it);
//! calls are SOAP 1.1 envelopes answered as PHP's `SoapServer` answers them. Refusals of the
//! caller are Moodle's `MOODLE:error` envelope; a function the caller may not use is PHP's
//! "Procedure not present"; errors while the function runs are Moodle's `Receiver` fault.
//! Deliberate difference: a part left out of a call is treated as not sent (PHP refuses it).

use super::answers::{busy, no_cache_headers, too_many, unavailable};
use super::call::{self, CallRequest, Creds, Outcome, Stage};
use super::state::{AppState, Query};
use crate::domain::Protocol;
use crate::domain::access::MoodleException;
use crate::domain::routes::{self, Auth};
use crate::model::value::Value;
use crate::model::{self, Description as Definition};
use crate::wire::soap;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::time::Instant;

/// What the call log records for a WSDL request, and for an envelope naming no operation.
const WSDL_LOG_NAME: &str = "(wsdl)";
const UNREADABLE_LOG_NAME: &str = "(unreadable envelope)";

/// `server.php` and `simpleserver.php` with credentials in the query string.
pub async fn server<const SIMPLE: bool>(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let query = Query::of(&uri);
    let creds = query.creds(SIMPLE);
    serve(app, peer, headers, creds, wants_wsdl(&query), body).await
}

/// `simpleserver.php/<username>/<password>`: Moodle's workaround for `&` in SOAP URLs, and
/// the address its WSDL gives simple clients.
pub async fn simple_path(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(rest): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let query = Query::of(&uri);
    let mut username = query.get("wsusername").unwrap_or_default();
    let mut password = query.get("wspassword").unwrap_or_default();
    if username.is_empty() || password.is_empty() {
        let parts: Vec<&str> = rest.trim_matches('/').split('/').collect();
        if let [u, p] = parts[..] {
            (username, password) = (u.to_string(), p.to_string());
        }
    }
    serve(app, peer, headers, Creds::Password { username, password }, wants_wsdl(&query), body).await
}

/// `optional_param('wsdl', 0, PARAM_INT)`: any non-zero integer asks for the WSDL.
fn wants_wsdl(query: &Query) -> bool {
    query.get("wsdl").and_then(|v| v.trim().parse::<i64>().ok()).is_some_and(|n| n != 0)
}

async fn serve(app: AppState, peer: SocketAddr, headers: HeaderMap, creds: Creds, wsdl: bool, body: Bytes) -> Response {
    let started = Instant::now();
    let address = server_address(&creds);
    if wsdl {
        let req = CallRequest {
            protocol: Protocol::Soap,
            peer,
            headers: &headers,
            creds,
            function: Some(WSDL_LOG_NAME.into()),
            args: Value::Null,
            started,
        };
        return match call::describe(&app, req, "ok").await {
            Ok((defs, site)) => moodle_headers(StatusCode::OK, soap::wsdl_document(&format!("{site}{address}"), &defs)),
            Err(answer) => refusal(answer, ""),
        };
    }
    let mut request = match soap::parse_request(&body) {
        Ok(r) | Err(r) => r,
    };
    let args = std::mem::replace(&mut request.args, Value::Null);
    if let Some(why) = request.invalid.take() {
        // Moodle authenticates before PHP reads the envelope: a refused caller hears that first.
        let logged = if request.function.is_empty() { UNREADABLE_LOG_NAME.to_string() } else { request.function };
        let req = CallRequest {
            protocol: Protocol::Soap,
            peer,
            headers: &headers,
            creds,
            function: Some(logged),
            args,
            started,
        };
        return match call::describe(&app, req, "badrequest").await {
            Ok(_) => php_fault("SOAP-ENV:Client", &why),
            Err(answer) => refusal(answer, ""),
        };
    }
    let function = Some(request.function.clone());
    let req = CallRequest { protocol: Protocol::Soap, peer, headers: &headers, creds, function, args, started };
    let (answer, listing) = call::call_listing(&app, req, true).await;
    match answer.outcome {
        Outcome::Done { value, def } => {
            let defs: Vec<&Definition> = listing.callable.into_iter().filter_map(model::description).collect();
            let types = soap::Types::of(&defs);
            let url = format!("{}{address}", listing.site_url);
            soap_response(StatusCode::OK, soap::response_envelope(&url, &request.function, def, value.as_ref(), &types))
        }
        outcome => refusal(call::Answer { outcome, ..answer }, &request.function),
    }
}

/// The address Moodle's WSDL gives (after the site's), which is also its namespace.
fn server_address(creds: &Creds) -> String {
    match creds {
        Creds::Token(t) => {
            let token: String = form_urlencoded::byte_serialize(t.as_deref().unwrap_or_default().as_bytes()).collect();
            format!("{}?wstoken={token}", routes::server(Protocol::Soap, Auth::Token))
        }
        Creds::Password { username, password } => {
            // Path segments: a space is %20 here, not the query's `+`.
            let seg =
                |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
            format!("{}/{}/{}", routes::server(Protocol::Soap, Auth::Password), seg(username), seg(password))
        }
    }
}

/// Every answer that is not a result; `function` is the operation the envelope named.
fn refusal(answer: call::Answer, function: &str) -> Response {
    match answer.outcome {
        // Moodle's server.php dies: an empty 200.
        Outcome::SwitchedOff => super::answers::died(StatusCode::OK),
        Outcome::TooMany(wait) => too_many(wait),
        Outcome::Busy => busy(),
        Outcome::Unavailable(e) => unavailable(e),
        Outcome::Done { .. } => php_fault("SOAP-ENV:Client", "Bad Request"),
        Outcome::Failed(e) => match answer.stage {
            Stage::Caller => moodle_error(&e, answer.debugging),
            Stage::Function if function.is_empty() => php_fault("SOAP-ENV:Client", "Bad Request"),
            Stage::Function => php_fault("SOAP-ENV:Server", &format!("Procedure '{function}' not present")),
            Stage::Execution => receiver_fault(&e, answer.debugging),
        },
    }
}

/// `send_error`: refusals before the call, with Moodle's headers.
fn moodle_error(e: &MoodleException, debugging: bool) -> Response {
    moodle_headers(StatusCode::OK, soap::moodle_error(e, debugging))
}

/// Moodle's SOAP `send_headers`: XML, never cached, shown inline.
fn moodle_headers(status: StatusCode, body: String) -> Response {
    let mut h = HeaderMap::new();
    no_cache_headers(&mut h);
    h.remove(header::ACCESS_CONTROL_ALLOW_ORIGIN);
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml; charset=utf-8"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline; filename=\"response.xml\""));
    (status, h, body).into_response()
}

/// `webservice_soap_server::fault`: PHP's fault with Moodle's errorcode.
fn receiver_fault(e: &MoodleException, debugging: bool) -> Response {
    soap_response(StatusCode::INTERNAL_SERVER_ERROR, soap::receiver_fault(e, debugging))
}

/// A fault of PHP's own (HTTP 500).
fn php_fault(code: &str, string: &str) -> Response {
    soap_response(StatusCode::INTERNAL_SERVER_ERROR, soap::fault(code, string, None, None))
}

/// What PHP's `SoapServer` sends: only its content type.
fn soap_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}
