//! `/webservice/amf/server.php` (token) and `simpleserver.php` (username/password): Flash
//! remoting as Moodle 2.0–3.0 served it (moodle-ws-reference.md §7.1; Moodle dropped AMF in
//! 3.1). Each message of a packet is one call through the shared pipeline, answered to
//! `<response URI>/onResult` or `/onStatus`; the format is `crate::wire::amf`'s.

use super::answers::{bad_request, busy, too_many, unavailable};
use super::call::{self, CallRequest, Outcome};
use super::state::AppState;
use crate::domain::Protocol;
use crate::functions;
use crate::wire::amf::{self, amf0};
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
    let query = super::state::Query::of(&uri);
    let creds = || query.creds(SIMPLE);
    let packet = match amf::parse_packet(&body) {
        Ok(p) => p,
        Err(why) => return bad_request(format_args!("invalid AMF packet: {why}")),
    };
    let mut answers = Vec::with_capacity(packet.messages.len());
    for message in packet.messages {
        let reply_to = |status: &str| format!("{}{status}", message.response);
        let (function, params, flex) = match message.body {
            amf::Body::Call(params) => (message.target.clone(), params, None),
            amf::Body::Flex(mut flex) if flex.class == amf::REMOTING_MESSAGE => {
                (flex.operation.clone(), std::mem::take(&mut flex.params), Some(flex))
            }
            // A Flex client pings before its first call; the ping reads nothing and runs nothing.
            amf::Body::Flex(flex) if flex.class == amf::COMMAND_MESSAGE && flex.operation == amf::PING => {
                answers.push((reply_to(amf::ON_RESULT), amf::acknowledge(&flex, None)));
                continue;
            }
            amf::Body::Flex(flex) => {
                let e = functions::invalid_parameter(format!(
                    "{} (operation {}) is not supported",
                    flex.class, flex.operation
                ));
                answers.push((reply_to(amf::ON_STATUS), amf::flex_error(&flex, &e, true)));
                continue;
            }
        };
        let args = crate::model::name_positional(&function, params);
        let req = CallRequest {
            protocol: Protocol::Amf,
            peer,
            headers: &headers,
            creds: creds(),
            function: Some(function),
            args,
            started,
        };
        let answer = call::call(&app, req).await;
        let reply = match (answer.outcome, &flex) {
            // Moodle's server.php dies: an empty 200.
            (Outcome::SwitchedOff, _) => return super::answers::died(StatusCode::OK),
            (Outcome::TooMany(wait), _) => return too_many(wait),
            (Outcome::Busy, _) => return busy(),
            (Outcome::Unavailable(e), _) => return unavailable(e),
            (Outcome::Failed(e), None) => (reply_to(amf::ON_STATUS), amf::fault(&e, answer.debugging)),
            (Outcome::Failed(e), Some(flex)) => (reply_to(amf::ON_STATUS), amf::flex_error(flex, &e, answer.debugging)),
            (Outcome::Done { value, .. }, None) => {
                (reply_to(amf::ON_RESULT), value.as_ref().map_or(amf0::Value::Null, amf::to_amf0))
            }
            (Outcome::Done { value, .. }, Some(flex)) => {
                (reply_to(amf::ON_RESULT), amf::acknowledge(flex, value.as_ref()))
            }
        };
        answers.push(reply);
    }
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(amf::CONTENT_TYPE));
    super::answers::no_cache_headers(&mut h);
    (StatusCode::OK, h, amf::encode_packet(packet.version, &answers)).into_response()
}
