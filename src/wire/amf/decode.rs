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
#[path = "decode_tests.rs"]
mod tests;
