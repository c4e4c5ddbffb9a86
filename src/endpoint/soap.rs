//! `/webservice/soap/server.php` (token) and `simpleserver.php` (username/password, in the
//! query or as `simpleserver.php/<username>/<password>`): moodle-ws-reference.md §7.3.
//!
//! `?wsdl=1` describes the functions this caller may use (`crate::wire::soap` writes it);
//! calls are SOAP 1.1 envelopes answered as PHP's `SoapServer` answers them. Refusals of the
//! caller are Moodle's `MOODLE:error` envelope; a function the caller may not use is PHP's
//! "Procedure not present"; errors while the function runs are Moodle's `Receiver` fault.
//! Deliberate difference: a part left out of a call is treated as not sent (PHP refuses it).

use super::answers::{Refusal, no_cache_headers};
use super::call::{self, Answer, Call, Creds, Stage};
use super::incoming::{Incoming, Query};
use super::state::AppState;
use crate::domain::Protocol;
use crate::domain::access::MoodleException;
use crate::domain::routes::{self, Auth};
use crate::model::value::Value;
use crate::model::{self, Description};
use crate::wire::soap;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// What the call log records for a WSDL request, and for an envelope naming no operation.
const WSDL_LOG_NAME: &str = "(wsdl)";
const UNREADABLE_LOG_NAME: &str = "(unreadable envelope)";

/// `server.php` and `simpleserver.php` with credentials in the query string.
pub async fn server<const SIMPLE: bool>(State(app): State<AppState>, incoming: Incoming) -> Result<Response, Refusal> {
    let query = incoming.query();
    serve(app, incoming, query.creds(SIMPLE), wants_wsdl(&query)).await
}

/// `simpleserver.php/<username>/<password>`: Moodle's workaround for `&` in SOAP URLs, and
/// the address its WSDL gives simple clients.
pub async fn simple_path(
    State(app): State<AppState>,
    Path(rest): Path<String>,
    incoming: Incoming,
) -> Result<Response, Refusal> {
    let query = incoming.query();
    let mut username = query.get("wsusername").unwrap_or_default();
    let mut password = query.get("wspassword").unwrap_or_default();
    if username.is_empty() || password.is_empty() {
        let parts: Vec<&str> = rest.trim_matches('/').split('/').collect();
        if let [u, p] = parts[..] {
            (username, password) = (u.to_string(), p.to_string());
        }
    }
    serve(app, incoming, Creds::Password { username, password }, wants_wsdl(&query)).await
}

/// `optional_param('wsdl', 0, PARAM_INT)`: any non-zero integer asks for the WSDL.
fn wants_wsdl(query: &Query) -> bool {
    query.get("wsdl").and_then(|v| v.trim().parse::<i64>().ok()).is_some_and(|n| n != 0)
}

async fn serve(app: AppState, incoming: Incoming, creds: Creds, wsdl: bool) -> Result<Response, Refusal> {
    let address = server_address(&creds);
    if wsdl {
        let request = Call {
            protocol: Protocol::Soap,
            creds,
            function: Some(WSDL_LOG_NAME.into()),
            args: Value::Null,
            rest_format: None,
        };
        return Ok(match call::describe(&app, &incoming, &request, "ok").await? {
            Ok((descriptions, site)) => {
                moodle_headers(StatusCode::OK, soap::wsdl_document(&format!("{site}{address}"), &descriptions))
            }
            Err(refused) => failure(refused, ""),
        });
    }
    let mut request = match soap::parse_request(&incoming.body) {
        Ok(r) | Err(r) => r,
    };
    let args = std::mem::replace(&mut request.args, Value::Null);
    if let Some(why) = request.invalid.take() {
        // Moodle authenticates before PHP reads the envelope: a refused caller hears that first.
        let logged = if request.function.is_empty() { UNREADABLE_LOG_NAME.to_string() } else { request.function };
        let request = Call { protocol: Protocol::Soap, creds, function: Some(logged), args, rest_format: None };
        return Ok(match call::describe(&app, &incoming, &request, "badrequest").await? {
            Ok(_) => php_fault("SOAP-ENV:Client", &why),
            Err(refused) => failure(refused, ""),
        });
    }
    let asked =
        Call { protocol: Protocol::Soap, creds, function: Some(request.function.clone()), args, rest_format: None };
    let (answer, listing) = call::call_listing(&app, &incoming, asked, true).await?;
    Ok(match answer.result {
        Ok(call::Done { value, description: Some(description) }) => {
            let callable: Vec<&Description> = listing.callable.into_iter().filter_map(model::description).collect();
            let types = soap::Types::of(&callable);
            let url = format!("{}{address}", listing.site_url);
            let envelope = soap::response_envelope(&url, &request.function, description, value.as_ref(), &types);
            soap_response(StatusCode::OK, envelope)
        }
        // Only the Moodle site's answers lack a description here, and SOAP calls are not
        // forwarded there (the forward refuses them with Moodle's exception).
        Ok(call::Done { description: None, .. }) => php_fault("SOAP-ENV:Server", "No description of the answer"),
        Err(_) => failure(answer, &request.function),
    })
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

/// A caller refused, or a call that failed; `function` is the operation the envelope named.
fn failure(answer: Answer, function: &str) -> Response {
    let Err(e) = answer.result else {
        return php_fault("SOAP-ENV:Client", "Bad Request");
    };
    match answer.stage {
        Stage::Caller => moodle_error(&e, answer.debugging),
        Stage::Function if function.is_empty() => php_fault("SOAP-ENV:Client", "Bad Request"),
        Stage::Function => php_fault("SOAP-ENV:Server", &format!("Procedure '{function}' not present")),
        Stage::Execution => receiver_fault(&e, answer.debugging),
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
