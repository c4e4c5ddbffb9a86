//! `/webservice/xmlrpc/server.php` (token) and `simpleserver.php` (username/password):
//! moodle-ws-reference.md §7.2. Parameters are positional, named by the order of the
//! function's parameter description; answers and faults are byte for byte Moodle's.
//!
//! The format is `crate::wire::xmlrpc`'s; XML safety the shared reader's (`crate::wire::xml`).

use super::answers::Refusal;
use super::call::{self, Call};
use super::incoming::Incoming;
use super::state::AppState;
use crate::domain::Protocol;
use crate::domain::access::MoodleException;
use crate::functions;
use crate::wire::xmlrpc;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;

pub async fn server<const SIMPLE: bool>(State(app): State<AppState>, incoming: Incoming) -> Result<Response, Refusal> {
    let creds = incoming.query().creds(SIMPLE);
    let (function, args) = match xmlrpc::parse_method_call(&incoming.body) {
        Ok((name, params)) => {
            let args = crate::model::name_positional(&name, params);
            (Some(name), args)
        }
        Err(why) => {
            let e = functions::invalid_parameter(format!("Invalid XML-RPC request: {why}"));
            return Ok(fault(&e, false));
        }
    };
    let answer =
        call::call(&app, &incoming, Call { protocol: Protocol::Xmlrpc, creds, function, args, rest_format: None })
            .await?;
    Ok(match answer.result {
        Ok(done) => respond(xmlrpc::method_response(done.value.as_ref())),
        Err(e) => super::answers::retry_after(fault(&e, answer.debugging), answer.retry_after),
    })
}

fn respond(body: String) -> Response {
    let headers = [(header::CONTENT_TYPE, "text/xml; charset=utf-8"), (header::SERVER, "Moodle XML-RPC Server/1.0")];
    super::answers::answer(StatusCode::OK, &headers, body)
}

/// Moodle's fault, always HTTP 200.
fn fault(e: &MoodleException, debugging: bool) -> Response {
    respond(xmlrpc::fault_body(e, debugging))
}
