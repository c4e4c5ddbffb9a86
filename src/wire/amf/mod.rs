//! Flash remoting (AMF) as Moodle 2.0–3.0 spoke it through `Zend_Amf_Server`, without HTTP (moodle-ws-reference.md §7.1;
//! Moodle dropped AMF in 3.1). A packet holds messages whose target is the function name and
//! whose body is the positional parameter array; each gets `<response URI>/onResult` with the
//! result, or `<response URI>/onStatus` with a fault. Flex `RemotingMessage`s (an AMF3 object
//! in the body) are answered with an `AcknowledgeMessage` or an `ErrorMessage`.
//!
//! Faults mirror `Moodle_Amf_Server::fault` (webservice/amf/locallib.php, 2.x), which sends
//! Zend's AMF0 error array `{description, detail, line, code}` built from the exception's
//! message, PHP trace, line and `getCode()` (always 0 for a moodle_exception). Here `code` is
//! Moodle's errorcode, `detail` the debuginfo when debugging is on (never a trace), `line` 0,
//! and `level` "error", as Flash status objects carry (py3amf raises `RemotingError` with the
//! description).
//!
//! The decoder is written here, bounded: the `amf` crate's (1.0) recurses with no depth limit,
//! allocates whatever a length field declares before reading, and copies a referenced value at
//! every reference, so hostile bytes could exhaust the stack or the memory through it. The
//! crate encodes the answers.

mod decode;
mod encode;

use crate::model::value::{Text, Value};
pub use amf::{Pair, amf0, amf3};
pub use decode::parse_packet;
pub use encode::{acknowledge, call_packet, encode_packet, fault, flex_error, to_amf0, to_amf3};

/// Messages per packet: each is a call, and in `simpleserver.php` a password check.
pub const MAX_MESSAGES: usize = 16;

pub const ON_RESULT: &str = "/onResult";
pub const ON_STATUS: &str = "/onStatus";
pub const CONTENT_TYPE: &str = "application/x-amf";
const FLEX_MESSAGES: &str = "flex.messaging.messages.";

pub const REMOTING_MESSAGE: &str = "flex.messaging.messages.RemotingMessage";
pub const COMMAND_MESSAGE: &str = "flex.messaging.messages.CommandMessage";
/// `CommandMessage.CLIENT_PING_OPERATION`.
pub const PING: &str = "5";

/// A decoded request packet (AMF0 envelope; values AMF0, or AMF3 after the 0x11 marker).
#[derive(Debug)]
pub struct Packet {
    /// 0, or 3 for Flash's AMF3 object encoding; echoed in the answer.
    pub version: u16,
    pub messages: Vec<Message>,
}

#[derive(Debug)]
pub struct Message {
    pub target: String,
    pub response: String,
    pub body: Body,
}

#[derive(Debug)]
pub enum Body {
    /// Plain remoting: the positional parameters.
    Call(Vec<Value>),
    /// A Flex message object.
    Flex(Flex),
}

/// What is needed of a Flex message to run it and to answer it.
#[derive(Debug)]
pub struct Flex {
    pub class: String,
    /// The function (`RemotingMessage`) or the command number (`CommandMessage`).
    pub operation: String,
    pub params: Vec<Value>,
    pub message_id: String,
    pub client_id: Option<String>,
    pub destination: String,
}

impl Flex {
    fn from_fields(class: String, fields: Vec<(Text, Value)>) -> Flex {
        let get = |k: &str| fields.iter().find(|(name, _)| name == k).map(|(_, v)| v);
        let text = |k: &str| match get(k) {
            Some(Value::Str(s)) => Some(s.to_string()),
            Some(Value::Int(i)) => Some(i.to_string()),
            _ => None,
        };
        let params = match get("body") {
            Some(Value::List(items)) => items.clone(),
            Some(Value::Map(pairs)) => pairs.iter().map(|(_, v)| v.clone()).collect(),
            None | Some(Value::Null) => Vec::new(),
            Some(other) => vec![other.clone()],
        };
        Flex {
            operation: text("operation").unwrap_or_default(),
            params,
            message_id: text("messageId").unwrap_or_default(),
            client_id: text("clientId"),
            destination: text("destination").unwrap_or_default(),
            class,
        }
    }
}
