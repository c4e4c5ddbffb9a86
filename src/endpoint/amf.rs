//! `/webservice/amf/server.php` (token) and `simpleserver.php` (username/password): Flash
//! remoting as Moodle 2.0–3.0 served it (moodle-ws-reference.md §7.1; Moodle dropped AMF in
//! 3.1). Each message of a packet is one call through the shared pipeline, answered to
//! `<response URI>/onResult` or `/onStatus`; the format is `crate::wire::amf`'s.

use super::answers::Refusal;
use super::call::{self, Call};
use super::incoming::Incoming;
use super::state::AppState;
use crate::domain::Protocol;
use crate::functions;
use crate::wire::amf::{self, amf0};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;

pub async fn server<const SIMPLE: bool>(State(app): State<AppState>, incoming: Incoming) -> Result<Response, Refusal> {
    let query = incoming.query();
    let packet = amf::parse_packet(&incoming.body)
        .map_err(|why| Refusal::bad_request(format_args!("invalid AMF packet: {why}")))?;
    let mut answers = Vec::with_capacity(packet.messages.len());
    // A call of the packet refused by a limit toward the Moodle site: the longest wait asked,
    // for the one HTTP answer that carries them all.
    let mut retry_after = None;
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
        let request = Call {
            protocol: Protocol::Amf,
            creds: query.creds(SIMPLE),
            function: Some(function),
            args,
            rest_format: None,
        };
        // A refusal (switched off, throttled…) answers the whole packet.
        let answer = call::call(&app, &incoming, request).await?;
        retry_after = retry_after.max(answer.retry_after);
        let reply = match (answer.result, &flex) {
            (Err(e), None) => (reply_to(amf::ON_STATUS), amf::fault(&e, answer.debugging)),
            (Err(e), Some(flex)) => (reply_to(amf::ON_STATUS), amf::flex_error(flex, &e, answer.debugging)),
            (Ok(done), None) => (reply_to(amf::ON_RESULT), done.value.as_ref().map_or(amf0::Value::Null, amf::to_amf0)),
            (Ok(done), Some(flex)) => (reply_to(amf::ON_RESULT), amf::acknowledge(flex, done.value.as_ref())),
        };
        answers.push(reply);
    }
    let body = amf::encode_packet(packet.version, &answers);
    let answer = super::answers::answer(StatusCode::OK, &[(header::CONTENT_TYPE, amf::CONTENT_TYPE)], body);
    Ok(super::answers::retry_after(answer, retry_after))
}
