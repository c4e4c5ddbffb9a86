//! Requests: the packet, its messages and their AMF0/AMF3 values, read with every length,
//! depth and count bounded (see the module's doc for why not the crate's reader).

use super::{Body, FLEX_MESSAGES, Flex, MAX_MESSAGES, Message, ON_RESULT, ON_STATUS, Packet};
use crate::model::value::{Text, Value};
use crate::wire::{MAX_DEPTH, MAX_TEXT, MAX_VALUES};
use std::rc::Rc;

/// Parses a request packet within the limits ([`MAX_MESSAGES`], and `wire`'s on depth, text and
/// values); never panics.
pub fn parse_packet(bytes: &[u8]) -> Result<Packet, String> {
    let mut r = Reader::new(bytes);
    let version = r.u16()?;
    if version > 3 {
        return Err(format!("unknown AMF version {version}"));
    }
    for _ in 0..r.u16()? {
        r.new_context();
        let _name = r.short_string()?;
        let _must_understand = r.u8()?;
        let _length = r.u32()?;
        // Moodle's server read no header (credentials travel in the URL); each is still checked.
        r.amf0()?;
    }
    let count = r.u16()?;
    if usize::from(count) > MAX_MESSAGES {
        return Err(format!("{count} messages in one packet (at most {MAX_MESSAGES})"));
    }
    let mut messages = Vec::new();
    for _ in 0..count {
        r.new_context();
        let target = r.short_string()?;
        let response = r.short_string()?;
        if response.len() + ON_RESULT.len().max(ON_STATUS.len()) > usize::from(u16::MAX) {
            return Err("response URI too long".into());
        }
        // Clients write 0 or 0xFFFFFFFF as often as the real length: not relied on.
        let _length = r.u32()?;
        let body = r.body()?;
        messages.push(Message { target, response, body });
    }
    Ok(Packet { version, messages })
}

#[derive(Debug)]
struct Trait {
    class: String,
    dynamic: bool,
    externalizable: bool,
    fields: Vec<String>,
}

/// A bounded reader over the packet. Reference tables hold where each referable value starts,
/// and a reference decodes it again from there, so the tables cost no copies; every value and
/// every byte of text produced, through references too, counts against the packet's budget.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    depth: usize,
    values: usize,
    text: usize,
    /// Decoding a referenced value again: its table entries exist already.
    replaying: bool,
    /// Start of each AMF0 object or array; `None` while it is being read.
    amf0_objects: Vec<Option<usize>>,
    /// Where each AMF3 string's bytes lie (checked UTF-8).
    amf3_strings: Vec<(usize, usize)>,
    amf3_objects: Vec<Option<usize>>,
    amf3_traits: Vec<Rc<Trait>>,
    /// The class of the last AMF3 object read, to recognise Flex messages.
    last_class: String,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            depth: 0,
            values: 0,
            text: 0,
            replaying: false,
            amf0_objects: Vec::new(),
            amf3_strings: Vec::new(),
            amf3_objects: Vec::new(),
            amf3_traits: Vec::new(),
            last_class: String::new(),
        }
    }

    /// Reference tables start afresh for each header and message (AMF0 spec §4.1.3).
    fn new_context(&mut self) {
        self.amf0_objects.clear();
        self.amf3_strings.clear();
        self.amf3_objects.clear();
        self.amf3_traits.clear();
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or("truncated")?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn f64(&mut self) -> Result<f64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_be_bytes(a))
    }

    /// Text of `n` bytes, read only once they are known to be there.
    fn utf8(&mut self, n: usize) -> Result<String, String> {
        let bytes = self.take(n)?;
        self.charge_text(n)?;
        std::str::from_utf8(bytes).map(str::to_string).map_err(|_| "a string is not UTF-8".into())
    }

    fn short_string(&mut self) -> Result<String, String> {
        let n = self.u16()?;
        self.utf8(n.into())
    }

    fn charge_text(&mut self, n: usize) -> Result<(), String> {
        self.text += n;
        if self.text > MAX_TEXT { Err(format!("more than {MAX_TEXT} bytes of text")) } else { Ok(()) }
    }

    fn charge_value(&mut self) -> Result<(), String> {
        self.values += 1;
        if self.values > MAX_VALUES { Err(format!("more than {MAX_VALUES} values")) } else { Ok(()) }
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH { Err(format!("values nested deeper than {MAX_DEPTH}")) } else { Ok(()) }
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Decodes the value starting at `at` again, for a reference.
    fn replay(&mut self, at: usize, amf3: bool) -> Result<Value, String> {
        let (pos, replaying) = (self.pos, self.replaying);
        self.pos = at;
        self.replaying = true;
        let v = if amf3 { self.amf3() } else { self.amf0() };
        self.pos = pos;
        self.replaying = replaying;
        v
    }

    /// A message body: the parameter array (not in the reference table, as py3amf and Flash
    /// write it), or a Flex message.
    fn body(&mut self) -> Result<Body, String> {
        self.last_class.clear();
        let rest = &self.buf[self.pos..];
        let flex = rest.starts_with(&[0x0a, 0, 0, 0, 1, 0x11, 0x0a]);
        let params = if rest.first() == Some(&0x0a) {
            self.pos += 1;
            let n = self.u32()?;
            self.charge_value()?;
            self.enter()?;
            let mut items = Vec::new();
            for _ in 0..n {
                items.push(self.amf0()?);
            }
            self.leave();
            items
        } else {
            match self.amf0()? {
                Value::List(items) => items,
                other => vec![other],
            }
        };
        if flex && self.last_class.starts_with(FLEX_MESSAGES) {
            let Some(Value::Map(m)) = params.into_iter().next() else { return Err("bad Flex message".into()) };
            return Ok(Body::Flex(Flex::from_fields(std::mem::take(&mut self.last_class), m)));
        }
        Ok(Body::Call(params))
    }

    /// An AMF0 number: integral ones as Int (as PHP's AMF reader made them ints), others Float.
    fn number(f: f64) -> Value {
        if f.is_finite() && f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
            Value::Int(f as i64)
        } else {
            Value::Float(f)
        }
    }

    fn amf0(&mut self) -> Result<Value, String> {
        self.charge_value()?;
        let at = self.pos;
        let marker = self.u8()?;
        Ok(match marker {
            0x00 => Self::number(self.f64()?),
            0x01 => Value::Bool(self.u8()? != 0),
            0x02 => Value::str(self.short_string()?),
            0x03 => self.amf0_complex(at, |r| Ok(Value::Map(r.amf0_pairs()?)))?,
            0x05 | 0x06 => Value::Null,
            0x07 => {
                let i = usize::from(self.u16()?);
                let start = self.amf0_objects.get(i).ok_or("reference out of range")?.ok_or("circular reference")?;
                self.replay(start, false)?
            }
            // ECMA array: an associative array, its count a hint only.
            0x08 => self.amf0_complex(at, |r| {
                r.u32()?;
                Ok(Value::Map(r.amf0_pairs()?))
            })?,
            0x0a => self.amf0_complex(at, |r| {
                let n = r.u32()?;
                let mut items = Vec::new();
                for _ in 0..n {
                    items.push(r.amf0()?);
                }
                Ok(Value::List(items))
            })?,
            0x0b => {
                let ms = self.f64()?;
                let _zone = self.u16()?;
                Self::date(ms)?
            }
            0x0c | 0x0f => {
                let n = self.u32()?;
                Value::str(self.utf8(n as usize)?)
            }
            // Typed object: the class is dropped, as Moodle cast objects to arrays.
            0x10 => self.amf0_complex(at, |r| {
                r.short_string()?;
                Ok(Value::Map(r.amf0_pairs()?))
            })?,
            0x11 => {
                // The switch marker is not a value of its own.
                self.values -= 1;
                self.amf3()?
            }
            0x09 => return Err("unexpected object end".into()),
            other => return Err(format!("unsupported AMF0 type 0x{other:02x}")),
        })
    }

    fn date(ms: f64) -> Result<Value, String> {
        if !ms.is_finite() {
            return Err("invalid date".into());
        }
        // Moodle's dates are Unix seconds.
        Ok(Value::Int((ms / 1000.0).floor() as i64))
    }

    /// An AMF0 object or array: entered in the reference table, nested one level deeper.
    fn amf0_complex(
        &mut self,
        at: usize,
        read: impl FnOnce(&mut Self) -> Result<Value, String>,
    ) -> Result<Value, String> {
        let slot = (!self.replaying).then(|| {
            self.amf0_objects.push(None);
            self.amf0_objects.len() - 1
        });
        self.enter()?;
        let v = read(self)?;
        self.leave();
        if let Some(i) = slot {
            self.amf0_objects[i] = Some(at);
        }
        Ok(v)
    }

    fn amf0_pairs(&mut self) -> Result<Vec<(Text, Value)>, String> {
        let mut pairs = Vec::new();
        loop {
            let key = self.short_string()?;
            if key.is_empty() && self.buf.get(self.pos) == Some(&0x09) {
                self.pos += 1;
                return Ok(pairs);
            }
            let value = self.amf0()?;
            pairs.push((key.into(), value));
        }
    }

    fn u29(&mut self) -> Result<u32, String> {
        let mut n = 0u32;
        for _ in 0..3 {
            let b = self.u8()?;
            n = (n << 7) | u32::from(b & 0x7f);
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Ok((n << 8) | u32::from(self.u8()?))
    }

    /// An AMF3 string: inline (entered in the table unless empty) or a reference.
    fn amf3_string(&mut self) -> Result<String, String> {
        let header = self.u29()? as usize;
        if header & 1 == 0 {
            let (at, n) = *self.amf3_strings.get(header >> 1).ok_or("string reference out of range")?;
            self.charge_text(n)?;
            return Ok(String::from_utf8_lossy(&self.buf[at..at + n]).into_owned());
        }
        let n = header >> 1;
        let at = self.pos;
        let s = self.utf8(n)?;
        if n > 0 && !self.replaying {
            self.amf3_strings.push((at, n));
        }
        Ok(s)
    }

    fn amf3(&mut self) -> Result<Value, String> {
        self.charge_value()?;
        let at = self.pos;
        let marker = self.u8()?;
        Ok(match marker {
            0x00 | 0x01 => Value::Null,
            0x02 => Value::Bool(false),
            0x03 => Value::Bool(true),
            0x04 => {
                let n = self.u29()? as i32;
                Value::Int(i64::from(if n >= 1 << 28 { n - (1 << 29) } else { n }))
            }
            0x05 => Self::number(self.f64()?),
            0x06 => Value::str(self.amf3_string()?),
            0x07 | 0x0b => self.amf3_complex(at, |r, n| Ok(Value::str(r.utf8(n)?)))?,
            0x08 => self.amf3_complex(at, |r, _| Self::date(r.f64()?))?,
            0x09 => self.amf3_complex(at, |r, dense| {
                let mut assoc = Vec::new();
                loop {
                    let key = r.amf3_string()?;
                    if key.is_empty() {
                        break;
                    }
                    assoc.push((key.into(), r.amf3()?));
                }
                let mut items = Vec::new();
                for _ in 0..dense {
                    items.push(r.amf3()?);
                }
                if assoc.is_empty() {
                    return Ok(Value::List(items));
                }
                assoc.extend(items.into_iter().enumerate().map(|(i, v)| (i.to_string().into(), v)));
                Ok(Value::Map(assoc))
            })?,
            0x0a => self.amf3_complex(at, Self::amf3_object)?,
            0x0d..=0x0f => self.amf3_complex(at, |r, n| {
                let size = if marker == 0x0f { 8 } else { 4 };
                r.u8()?;
                // The count is checked against what is left before anything is read.
                let bytes = r.take(n.checked_mul(size).ok_or("vector too long")?)?;
                let mut items = Vec::new();
                for c in bytes.chunks_exact(size) {
                    r.charge_value()?;
                    items.push(match marker {
                        0x0d => Value::Int(i32::from_be_bytes([c[0], c[1], c[2], c[3]]).into()),
                        0x0e => Value::Int(u32::from_be_bytes([c[0], c[1], c[2], c[3]]).into()),
                        _ => Self::number(f64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])),
                    });
                }
                Ok(Value::List(items))
            })?,
            0x10 => self.amf3_complex(at, |r, n| {
                r.u8()?;
                r.amf3_string()?;
                let mut items = Vec::new();
                for _ in 0..n {
                    items.push(r.amf3()?);
                }
                Ok(Value::List(items))
            })?,
            0x0c => return Err("AMF3 byte arrays are not accepted".into()),
            0x11 => return Err("AMF3 dictionaries are not accepted".into()),
            other => return Err(format!("unknown AMF3 type 0x{other:02x}")),
        })
    }

    /// An AMF3 object, array, date, XML or vector: a reference, or inline and entered in the
    /// table; `read` gets the header's remaining bits (a length, a count or trait bits).
    fn amf3_complex(
        &mut self,
        at: usize,
        read: impl FnOnce(&mut Self, usize) -> Result<Value, String>,
    ) -> Result<Value, String> {
        let header = self.u29()? as usize;
        if header & 1 == 0 {
            let start = self.amf3_objects.get(header >> 1).ok_or("object reference out of range")?;
            let start = start.ok_or("circular reference")?;
            return self.replay(start, true);
        }
        let slot = (!self.replaying).then(|| {
            self.amf3_objects.push(None);
            self.amf3_objects.len() - 1
        });
        self.enter()?;
        let v = read(self, header >> 1)?;
        self.leave();
        if let Some(i) = slot {
            self.amf3_objects[i] = Some(at);
        }
        Ok(v)
    }

    fn amf3_object(&mut self, bits: usize) -> Result<Value, String> {
        let t = if bits & 1 == 0 {
            self.amf3_traits.get(bits >> 1).cloned().ok_or("trait reference out of range")?
        } else {
            let class = self.amf3_string()?;
            let mut fields = Vec::new();
            for _ in 0..bits >> 3 {
                // Each field name holds a value's place: counted, so empty names cannot pile up.
                self.charge_value()?;
                fields.push(self.amf3_string()?);
            }
            let t = Rc::new(Trait { class, dynamic: bits & 4 != 0, externalizable: bits & 2 != 0, fields });
            if !self.replaying {
                self.amf3_traits.push(t.clone());
            }
            t
        };
        if t.externalizable {
            // Flex's collections wrap one value; other externalizable classes need their code.
            return match t.class.as_str() {
                "flex.messaging.io.ArrayCollection" | "flex.messaging.io.ObjectProxy" => self.amf3(),
                other => Err(format!("externalizable class {other:?} is not accepted")),
            };
        }
        let mut pairs = Vec::new();
        for key in &t.fields {
            self.charge_text(key.len())?;
            pairs.push((key.clone().into(), self.amf3()?));
        }
        if t.dynamic {
            loop {
                let key = self.amf3_string()?;
                if key.is_empty() {
                    break;
                }
                pairs.push((key.into(), self.amf3()?));
            }
        }
        self.last_class = t.class.clone();
        Ok(Value::Map(pairs))
    }
}

#[cfg(test)]
mod tests {
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
        let body =
            packet(3, &[("core_webservice_get_site_info", "/1", args(&[])), ("g", "/2", args(&[enc0(&s0("a"))]))]);
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
            [
                Value::str("username"),
                Value::List(vec![Value::str("username")]),
                Value::map([("username", Value::Int(42))]),
            ]
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
                (
                    "f",
                    "/2",
                    args(&[vec![0x11, 0x0a, 0x0b, 0x01, 0x03, b'k', 0x04, 0x01, 0x01], vec![0x11, 0x0a, 0x00]]),
                ),
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
                pair(
                    "body",
                    amf3::Value::Array { assoc_entries: vec![], dense_entries: vec![amf3::Value::Integer(3)] },
                ),
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
}
