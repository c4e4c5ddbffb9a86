//! The AMF reader's tests: AMF0 and AMF3 values, references, packets and the bounds.

use super::*;
use crate::wire::amf::encode::pair;
use crate::wire::amf::{REMOTING_MESSAGE, acknowledge, amf0, amf3, call_packet};

#[test]
fn call_packets_read_back() {
    let params = vec![Value::str("username"), Value::List(vec![Value::str("admin")])];
    let p = parse_packet(&call_packet("core_user_get_users_by_field", &params)).unwrap();
    assert_eq!((p.version, p.messages.len()), (0, 1));
    assert_eq!(
        (p.messages[0].target.as_str(), p.messages[0].response.as_str()),
        ("core_user_get_users_by_field", "/1")
    );
    assert!(matches!(&p.messages[0].body, Body::Call(got) if got == &params));
}

fn enc0(v: &amf0::Value) -> Vec<u8> {
    let mut out = Vec::new();
    v.write_to(&mut out).unwrap();
    out
}

/// A request packet: version, no headers, each message's target, response URI and body.
fn packet(version: u16, messages: &[(&str, &str, Vec<u8>)]) -> Vec<u8> {
    let mut out = version.to_be_bytes().to_vec();
    out.extend([0, 0]);
    out.extend((messages.len() as u16).to_be_bytes());
    for (target, response, body) in messages {
        for s in [target, response] {
            out.extend((s.len() as u16).to_be_bytes());
            out.extend(s.as_bytes());
        }
        out.extend((body.len() as u32).to_be_bytes());
        out.extend(body);
    }
    out
}

/// One call whose body is the raw bytes given.
fn call_with(body: Vec<u8>) -> Result<Vec<Value>, String> {
    let p = parse_packet(&packet(0, &[("f", "/1", body)]))?;
    match p.messages.into_iter().next() {
        Some(Message { body: Body::Call(params), .. }) => Ok(params),
        other => panic!("not a call: {other:?}"),
    }
}

/// A strict array of the given encoded elements.
fn args(elements: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![0x0a];
    out.extend((elements.len() as u32).to_be_bytes());
    for e in elements {
        out.extend(e);
    }
    out
}

fn s0(s: &str) -> amf0::Value {
    amf0::Value::String(s.into())
}

#[test]
fn a_packet_with_headers_and_messages_parses() {
    let mut bytes = vec![0, 3, 0, 1];
    bytes.extend(7u16.to_be_bytes());
    bytes.extend(b"Credent");
    bytes.extend([1, 0xff, 0xff, 0xff, 0xff]);
    bytes.extend(enc0(&amf0::Value::Object { class_name: None, entries: vec![pair("userid", s0("x"))] }));
    let body = packet(3, &[("core_webservice_get_site_info", "/1", args(&[])), ("g", "/2", args(&[enc0(&s0("a"))]))]);
    bytes.extend(&body[4..]);
    let p = parse_packet(&bytes).unwrap();
    assert_eq!(p.version, 3);
    assert_eq!(p.messages.len(), 2);
    assert_eq!(
        (p.messages[0].target.as_str(), p.messages[0].response.as_str()),
        ("core_webservice_get_site_info", "/1")
    );
    assert!(matches!(&p.messages[0].body, Body::Call(v) if v.is_empty()));
    assert!(matches!(&p.messages[1].body, Body::Call(v) if v == &[Value::str("a")]));
}

#[test]
fn amf0_values_map_to_moodles() {
    let obj =
        amf0::Value::Object { class_name: Some("Cls".into()), entries: vec![pair("k", amf0::Value::Number(2.5))] };
    let ecma = amf0::Value::EcmaArray { entries: vec![pair("0", s0("x"))] };
    let values = [
        amf0::Value::Number(7.0),
        amf0::Value::Number(-0.0),
        amf0::Value::Number(1e300),
        amf0::Value::Boolean(true),
        amf0::Value::Null,
        amf0::Value::Undefined,
        amf0::Value::Array { entries: vec![s0("admin")] },
        obj,
        ecma,
        amf0::Value::String("é".repeat(40_000)),
        amf0::Value::Date { unix_time: std::time::Duration::from_millis(1_700_000_000_999), time_zone: 0 },
    ];
    let got = call_with(args(&values.iter().map(enc0).collect::<Vec<_>>())).unwrap();
    assert_eq!(
        got[..10],
        [
            Value::Int(7),
            Value::Int(0),
            Value::Float(1e300),
            Value::Bool(true),
            Value::Null,
            Value::Null,
            Value::List(vec![Value::str("admin")]),
            Value::map([("k", Value::Float(2.5))]),
            Value::map([("0", Value::str("x"))]),
            Value::str("é".repeat(40_000)),
        ]
    );
    assert_eq!(got[10], Value::Int(1_700_000_000));
}

#[test]
fn amf3_values_share_their_tables_across_switches_in_one_body() {
    // "username" inline (0x11 = 8 bytes, inline), then as a string reference (index 0), and
    // an AMF3 object with a dynamic member whose key refers to the same string.
    let first = [vec![0x11, 0x06, 0x11], b"username".to_vec()].concat();
    let second = vec![0x11, 0x09, 0x03, 0x01, 0x06, 0x00];
    let third = vec![0x11, 0x0a, 0x0b, 0x01, 0x00, 0x04, 0x2a, 0x01];
    let got = call_with(args(&[first, second, third])).unwrap();
    assert_eq!(
        got,
        [Value::str("username"), Value::List(vec![Value::str("username")]), Value::map([("username", Value::Int(42))]),]
    );
    // Without the first value the reference points nowhere.
    let second = vec![0x11, 0x09, 0x03, 0x01, 0x06, 0x00];
    assert!(call_with(args(&[second])).unwrap_err().contains("out of range"));
}

#[test]
fn amf3_values_decode_like_the_crate_reads_them() {
    let samples = [
        amf3::Value::Integer(-5),
        amf3::Value::Integer((1 << 28) - 1),
        amf3::Value::Double(0.25),
        amf3::Value::String("x".into()),
        amf3::Value::Array {
            assoc_entries: vec![pair("a", amf3::Value::Null)],
            dense_entries: vec![amf3::Value::Boolean(true)],
        },
        amf3::Value::Object {
            class_name: Some("T".into()),
            sealed_count: 1,
            entries: vec![pair("s", amf3::Value::Integer(1)), pair("d", amf3::Value::String("v".into()))],
        },
        amf3::Value::IntVector { is_fixed: false, entries: vec![-1, 2] },
        amf3::Value::DoubleVector { is_fixed: true, entries: vec![1.5] },
    ];
    for v in samples {
        let bytes = enc0(&amf0::Value::AvmPlus(v.clone()));
        let ours = call_with(args(std::slice::from_ref(&bytes))).unwrap();
        let theirs = amf0::Value::read_from(&mut &bytes[..]).unwrap();
        let expected = match v {
            amf3::Value::Integer(i) => Value::Int(i.into()),
            amf3::Value::Double(f) => Value::Float(f),
            amf3::Value::String(s) => Value::str(s),
            amf3::Value::Array { .. } => Value::map([("a", Value::Null), ("0", Value::Bool(true))]),
            amf3::Value::Object { .. } => Value::map([("s", Value::Int(1)), ("d", Value::str("v"))]),
            amf3::Value::IntVector { .. } => Value::List(vec![Value::Int(-1), Value::Int(2)]),
            _ => Value::List(vec![Value::Float(1.5)]),
        };
        assert_eq!(ours, [expected], "{theirs:?}");
    }
}

#[test]
fn references_are_decoded_again_and_bounded() {
    // [x, ref 0]: AMF0 reference 0 is the first object in the body (the argument array
    // itself is not in the table, as py3amf writes it).
    let list = enc0(&amf0::Value::Array { entries: vec![s0("a")] });
    let got = call_with(args(&[list.clone(), vec![0x07, 0, 0]])).unwrap();
    assert_eq!(got[0], got[1]);
    // An array that refers to itself, and a reference past the table.
    let circular = [vec![0x0a, 0, 0, 0, 1], vec![0x07, 0, 0]].concat();
    assert!(call_with(args(&[circular])).unwrap_err().contains("circular"));
    assert!(call_with(args(&[vec![0x07, 0, 9]])).unwrap_err().contains("out of range"));
    // A doubling chain: each array holds the previous one twice. 40 levels would be 2^40
    // values; the budget stops it at about 17, within the depth limit.
    let mut elements = vec![list];
    for i in 0..40u16 {
        elements.push(
            [vec![0x0a, 0, 0, 0, 2, 0x07], i.to_be_bytes().to_vec(), vec![0x07], i.to_be_bytes().to_vec()].concat(),
        );
    }
    let err = call_with(args(&elements)).unwrap_err();
    assert!(err.contains("more than 100000 values"), "{err}");
    // The same through AMF3 object references, and string references against the text budget.
    let mut amf3_chain = vec![vec![0x11, 0x09, 0x03, 0x01, 0x06, 0x03, b'a']];
    for i in 0..40u8 {
        amf3_chain.push(vec![0x11, 0x09, 0x05, 0x01, 0x09, i << 1, 0x09, i << 1]);
    }
    assert!(call_with(args(&amf3_chain)).unwrap_err().contains("more than 100000 values"));
    let big = [vec![0x11, 0x06, 0x81, 0x80, 0x80, 0x01], vec![b'x'; 1 << 21]].concat();
    let refs: Vec<Vec<u8>> = (0..20).map(|_| vec![0x11, 0x06, 0x00]).collect();
    let err = call_with(args(&[vec![big], refs].concat())).unwrap_err();
    assert!(err.contains("bytes of text"), "{err}");
}

#[test]
fn nesting_is_bounded_without_recursing_into_the_stack() {
    let nest = |n: usize, amf3: bool| {
        let mut v = if amf3 { vec![0x11] } else { Vec::new() };
        for _ in 0..n {
            v.extend(if amf3 { vec![0x09, 0x03, 0x01] } else { vec![0x0a, 0, 0, 0, 1] });
        }
        v.push(if amf3 { 0x01 } else { 0x05 });
        v
    };
    assert!(call_with(args(&[nest(MAX_DEPTH - 1, false)])).is_ok());
    assert!(call_with(args(&[nest(MAX_DEPTH - 1, true)])).is_ok());
    for amf3 in [false, true] {
        let err = call_with(args(&[nest(MAX_DEPTH, amf3)])).unwrap_err();
        assert!(err.contains("nested deeper"), "{err}");
        // A million levels: refused at level 32, long before the stack.
        assert!(call_with(args(&[nest(1_000_000, amf3)])).unwrap_err().contains("nested deeper"));
    }
}

#[test]
fn declared_lengths_are_checked_against_the_bytes_left() {
    let cases: Vec<Vec<u8>> = vec![
        vec![0x0c, 0xff, 0xff, 0xff, 0xff, b'x'],       // long string of 4 GiB
        vec![0x0f, 0xff, 0xff, 0xff, 0xff],             // XML document
        vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x05],       // strict array of 2^32 - 1
        vec![0x08, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x09], // ECMA array count (a hint only)
        vec![0x11, 0x06, 0xff, 0xff, 0xff, 0xff],       // AMF3 string of 2^28 - 1
        vec![0x11, 0x09, 0xff, 0xff, 0xff, 0xff, 0x01], // AMF3 array of 2^28 - 1
        vec![0x11, 0x0f, 0xff, 0xff, 0xff, 0xff, 0x00], // AMF3 vector of doubles
        vec![0x11, 0x0a, 0xff, 0xff, 0xff, 0xf3, 0x01], // AMF3 trait with 2^25 fields
    ];
    for (i, c) in cases.into_iter().enumerate() {
        let r = call_with(args(&[c]));
        if i == 3 {
            assert_eq!(r.unwrap(), [Value::Map(Vec::new())]);
        } else {
            assert!(r.is_err(), "case {i}: {r:?}");
        }
    }
    // A body of 2^32 - 1 arguments, and a packet claiming 65535 messages.
    assert!(call_with(vec![0x0a, 0xff, 0xff, 0xff, 0xff]).unwrap_err().contains("truncated"));
    assert!(parse_packet(&[0, 0, 0, 0, 0xff, 0xff]).unwrap_err().contains("messages in one packet"));
    let many: Vec<(&str, &str, Vec<u8>)> = (0..=MAX_MESSAGES).map(|_| ("f", "/1", args(&[]))).collect();
    assert!(parse_packet(&packet(0, &many)).is_err());
    assert!(parse_packet(&packet(0, &many[1..])).is_ok());
}

/// A small deterministic generator, so a failure can be replayed.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn garbage_truncated_and_mutated_packets_never_panic() {
    let good = packet(
        0,
        &[
            (
                "core_user_get_users_by_field",
                "/1",
                args(&[enc0(&s0("username")), enc0(&amf0::Value::Array { entries: vec![s0("admin")] })]),
            ),
            ("f", "/2", args(&[vec![0x11, 0x0a, 0x0b, 0x01, 0x03, b'k', 0x04, 0x01, 0x01], vec![0x11, 0x0a, 0x00]])),
        ],
    );
    assert!(parse_packet(&good).is_ok());
    for n in 0..good.len() {
        assert!(parse_packet(&good[..n]).is_err(), "a packet cut at {n} bytes parsed");
    }
    let mut state = 0x2545_f491_4f6c_dd1d;
    for _ in 0..20_000 {
        let mut bytes = good.clone();
        for _ in 0..1 + xorshift(&mut state) % 4 {
            let at = (xorshift(&mut state) as usize) % bytes.len();
            bytes[at] = xorshift(&mut state) as u8;
        }
        let _ = parse_packet(&bytes);
        let len = (xorshift(&mut state) % 64) as usize;
        let random: Vec<u8> = (0..len).map(|_| xorshift(&mut state) as u8).collect();
        let _ = parse_packet(&random);
        // Random bytes behind a valid prefix reach the value decoders.
        let _ = parse_packet(&[&good[..52], &random[..]].concat());
    }
    assert!(parse_packet(b"").is_err());
    assert!(parse_packet(&[0, 10, 0, 0, 0, 0]).unwrap_err().contains("version"));
}

#[test]
fn a_flex_remoting_message_is_recognised() {
    let msg = amf3::Value::Object {
        class_name: Some(REMOTING_MESSAGE.into()),
        sealed_count: 4,
        entries: vec![
            pair("operation", amf3::Value::String("core_webservice_get_site_info".into())),
            pair("body", amf3::Value::Array { assoc_entries: vec![], dense_entries: vec![amf3::Value::Integer(3)] }),
            pair("messageId", amf3::Value::String("M1".into())),
            pair("destination", amf3::Value::String("moodle".into())),
        ],
    };
    let p = parse_packet(&packet(3, &[("null", "/1", args(&[enc0(&amf0::Value::AvmPlus(msg))]))])).unwrap();
    let Body::Flex(flex) = &p.messages[0].body else { panic!("{p:?}") };
    assert_eq!((flex.class.as_str(), flex.operation.as_str()), (REMOTING_MESSAGE, "core_webservice_get_site_info"));
    assert_eq!((flex.params.as_slice(), flex.message_id.as_str()), (&[Value::Int(3)][..], "M1"));
    // The acknowledgement correlates with the request and carries the result in AMF3.
    let ack = enc0(&acknowledge(flex, Some(&Value::map([("n", Value::Int(1))]))));
    let amf0::Value::AvmPlus(amf3::Value::Object { class_name, entries, .. }) =
        amf0::Value::read_from(&mut &ack[..]).unwrap()
    else {
        panic!()
    };
    assert_eq!(class_name.as_deref(), Some("flex.messaging.messages.AcknowledgeMessage"));
    let get = |k: &str| entries.iter().find(|p| p.key == k).map(|p| p.value.clone());
    assert_eq!(get("correlationId"), Some(amf3::Value::String("M1".into())));
    assert!(
        matches!(get("body"), Some(amf3::Value::Object { entries, .. }) if entries[0].value == amf3::Value::Integer(1))
    );
}
