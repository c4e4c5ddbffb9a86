//! Answers: values, faults and Flex acknowledgements as AMF, written by the `amf` crate, and
//! call packets (the console's test client).

use super::Flex;
use crate::domain::access::MoodleException;
use crate::model::value::Value;
use amf::{Pair, amf0, amf3};

/// Zend's AMF0 error array, with Moodle's errorcode as its code (see the module's doc).
pub fn fault(e: &MoodleException, debugging: bool) -> amf0::Value {
    let detail = if debugging { e.debuginfo.clone().unwrap_or_default() } else { String::new() };
    amf0::Value::Object {
        class_name: None,
        entries: vec![
            pair("level", amf0::Value::String("error".into())),
            pair("code", amf0::Value::String(e.errorcode.to_string())),
            pair("description", amf0::Value::String(e.message.clone())),
            pair("detail", amf0::Value::String(detail)),
            pair("line", amf0::Value::Number(0.0)),
        ],
    }
}

pub(super) fn pair<V>(key: &str, value: V) -> Pair<String, V> {
    Pair { key: key.into(), value }
}

/// Int and Float as numbers, a list as a strict array, a map as an anonymous object.
pub fn to_amf0(v: &Value) -> amf0::Value {
    match v.resolved() {
        Value::Null => amf0::Value::Null,
        Value::Bool(b) => amf0::Value::Boolean(*b),
        Value::Int(i) => amf0::Value::Number(*i as f64),
        Value::Float(f) => amf0::Value::Number(*f),
        Value::Str(s) => amf0::Value::String(s.to_string()),
        Value::List(items) => amf0::Value::Array { entries: items.iter().map(to_amf0).collect() },
        Value::Map(pairs) => {
            amf0::Value::Object { class_name: None, entries: pairs.iter().map(|(k, v)| pair(k, to_amf0(v))).collect() }
        }
        Value::Shared(_) => unreachable!("resolved"),
    }
}

/// As [`to_amf0`], for Flex messages; an Int outside AMF3's 29 bits becomes a double.
pub fn to_amf3(v: &Value) -> amf3::Value {
    match v.resolved() {
        Value::Null => amf3::Value::Null,
        Value::Bool(b) => amf3::Value::Boolean(*b),
        Value::Int(i) => match i32::try_from(*i) {
            Ok(small) if (-(1 << 28)..(1 << 28)).contains(&small) => amf3::Value::Integer(small),
            _ => amf3::Value::Double(*i as f64),
        },
        Value::Float(f) => amf3::Value::Double(*f),
        Value::Str(s) => amf3::Value::String(s.to_string()),
        Value::List(items) => {
            amf3::Value::Array { assoc_entries: Vec::new(), dense_entries: items.iter().map(to_amf3).collect() }
        }
        Value::Map(pairs) => amf3::Value::Object {
            class_name: None,
            sealed_count: 0,
            entries: pairs.iter().map(|(k, v)| pair(k, to_amf3(v))).collect(),
        },
        Value::Shared(_) => unreachable!("resolved"),
    }
}

/// A typed AMF3 object with its fields in order (all sealed).
fn typed(class: &str, fields: Vec<(&str, amf3::Value)>) -> amf3::Value {
    amf3::Value::Object {
        class_name: Some(class.into()),
        sealed_count: fields.len(),
        entries: fields.into_iter().map(|(k, v)| pair(k, v)).collect(),
    }
}

/// The fields every Flex answer carries, for the message it answers.
fn flex_fields(flex: &Flex, body: amf3::Value) -> Vec<(&'static str, amf3::Value)> {
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_millis() as f64);
    let s = |v: &str| amf3::Value::String(v.into());
    vec![
        ("body", body),
        ("clientId", s(flex.client_id.as_deref().unwrap_or(&uuid()))),
        ("correlationId", s(&flex.message_id)),
        ("destination", s(&flex.destination)),
        ("headers", amf3::Value::Object { class_name: None, sealed_count: 0, entries: Vec::new() }),
        ("messageId", s(&uuid())),
        ("timeToLive", amf3::Value::Double(0.0)),
        ("timestamp", amf3::Value::Double(now_ms)),
    ]
}

pub fn acknowledge(flex: &Flex, value: Option<&Value>) -> amf0::Value {
    let body = value.map_or(amf3::Value::Null, to_amf3);
    amf0::Value::AvmPlus(typed("flex.messaging.messages.AcknowledgeMessage", flex_fields(flex, body)))
}

/// Zend's AMF3 fault: an `ErrorMessage` with faultCode, faultString and faultDetail.
pub fn flex_error(flex: &Flex, e: &MoodleException, debugging: bool) -> amf0::Value {
    let detail = if debugging { e.debuginfo.clone().unwrap_or_default() } else { String::new() };
    let mut fields = flex_fields(flex, amf3::Value::Null);
    fields.extend([
        ("extendedData", amf3::Value::Null),
        ("faultCode", amf3::Value::String(e.errorcode.to_string())),
        ("faultDetail", amf3::Value::String(detail)),
        ("faultString", amf3::Value::String(e.message.clone())),
        ("rootCause", amf3::Value::Null),
    ]);
    amf0::Value::AvmPlus(typed("flex.messaging.messages.ErrorMessage", fields))
}

/// A random UUID in Flex's upper-case form, for message ids.
fn uuid() -> String {
    let mut b = [0u8; 16];
    rand::fill(&mut b);
    let h = hex::encode_upper(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// The answer packet: the request's version, no headers, one body per message.
pub fn encode_packet(version: u16, bodies: &[(String, amf0::Value)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(version.to_be_bytes());
    out.extend(0u16.to_be_bytes());
    out.extend(u16::try_from(bodies.len()).unwrap_or(u16::MAX).to_be_bytes());
    for (target, value) in bodies.iter().take(u16::MAX.into()) {
        write_message(&mut out, target, "null", value);
    }
    out
}

/// A request packet calling one function with positional parameters, as a Flash client
/// sends it (the console's test client); the answer comes back to `/1`.
pub fn call_packet(function: &str, params: &[Value]) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 0, 0, 1];
    let args = amf0::Value::Array { entries: params.iter().map(to_amf0).collect() };
    write_message(&mut out, function, "/1", &args);
    out
}

fn write_message(out: &mut Vec<u8>, target: &str, response: &str, value: &amf0::Value) {
    for s in [target, response] {
        out.extend(u16::try_from(s.len()).unwrap_or(u16::MAX).to_be_bytes());
        out.extend(&s.as_bytes()[..s.len().min(u16::MAX.into())]);
    }
    let mut data = Vec::new();
    value.write_to(&mut data).expect("writing to memory cannot fail");
    out.extend(u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend(data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::amf::{Body, parse_packet};

    fn s0(s: &str) -> amf0::Value {
        amf0::Value::String(s.into())
    }

    fn enc0(v: &amf0::Value) -> Vec<u8> {
        let mut out = Vec::new();
        v.write_to(&mut out).unwrap();
        out
    }

    #[test]
    fn answers_encode_as_amf0_that_reads_back() {
        let long = "x".repeat(70_000);
        let v = Value::map([
            ("i", Value::Int(-3)),
            ("f", Value::Float(0.5)),
            ("s", Value::str(long.clone())),
            ("l", Value::List(vec![Value::Bool(false), Value::Null])),
        ]);
        let e = MoodleException::new("c", "invalidtoken", "Invalid token - token not found").with_debuginfo("why");
        let bytes = encode_packet(0, &[("/1/onResult".into(), to_amf0(&v)), ("/2/onStatus".into(), fault(&e, false))]);
        // Our own reader takes an answer body as a call body: the same framing.
        let p = parse_packet(&bytes).unwrap();
        assert_eq!(p.messages[0].target, "/1/onResult");
        assert_eq!(p.messages[1].response, "null");
        assert!(matches!(&p.messages[0].body, Body::Call(got) if got == &[v]));
        let Body::Call(f) = &p.messages[1].body else { panic!() };
        assert_eq!(
            f[0],
            Value::map([
                ("level", Value::str("error")),
                ("code", Value::str("invalidtoken")),
                ("description", Value::str("Invalid token - token not found")),
                ("detail", Value::str("")),
                ("line", Value::Int(0)),
            ])
        );
        assert_eq!(fault(&e, true), {
            let amf0::Value::Object { mut entries, .. } = fault(&e, false) else { panic!() };
            entries[3].value = s0("why");
            amf0::Value::Object { class_name: None, entries }
        });
        // A string past 65535 bytes goes as a long string.
        assert!(enc0(&to_amf0(&Value::str(long))).starts_with(&[0x0c, 0, 1, 0x11, 0x70]));
    }
}
