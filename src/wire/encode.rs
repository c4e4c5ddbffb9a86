//! Moodle's REST output, byte for byte: PHP's `json_encode` with default flags, and the
//! `<RESPONSE>`/`<SINGLE>`/`<KEY>`/`<MULTIPLE>`/`<VALUE>` XML of `webservice_rest_server`
//! (moodle-ws-reference.md §2.4–2.6).

use crate::domain::access::MoodleException;
use crate::model::schema::Schema;
use crate::model::value::Value;
use std::fmt::Write;

/// PHP `json_encode($v)`: `/` escaped, non-ASCII as `\uXXXX`, an empty array as `[]`.
pub fn json(v: &Value) -> String {
    let mut out = String::with_capacity(2048);
    write_json(&mut out, v);
    out
}

fn write_json(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
        Value::Float(f) => out.push_str(&json_float(*f)),
        Value::Str(s) => json_string(out, s),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Map(pairs) if pairs.is_empty() => out.push_str("[]"),
        Value::Map(pairs) => {
            out.push('{');
            for (i, (k, item)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(out, k);
                out.push(':');
                write_json(out, item);
            }
            out.push('}');
        }
        Value::Shared(shared) => out.push_str(shared.json(json)),
    }
}

/// PHP 7.1+ (`serialize_precision = -1`): shortest round-trip, `.0` on integral values.
fn json_float(f: f64) -> String {
    if !f.is_finite() {
        return "0".into();
    }
    let s = format!("{f:?}");
    match s.split_once('e') {
        Some((m, e)) => {
            let m = if m.contains('.') { m.to_string() } else { format!("{m}.0") };
            let e = if e.starts_with('-') { e.to_string() } else { format!("+{e}") };
            format!("{m}e{e}")
        }
        None => s,
    }
}

/// Whether PHP's `json_encode` writes a byte as it is: ASCII from space to DEL (0x7f, which
/// PHP leaves raw) but `"`, `\` and `/`.
const PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0x20;
    while b <= 0x7f {
        t[b] = !matches!(b as u8, b'"' | b'\\' | b'/');
        b += 1;
    }
    t
};

/// The first byte at or after `from` that PHP's `json_encode` escapes (see [`PLAIN`]), or the
/// end. Eight bytes at a time: the answers are mostly plain text, and this scan is most of
/// the encoder's time.
fn next_escape(bytes: &[u8], mut from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A high bit in each byte below `n` (for bytes below 0x80): exact for the lowest such
    // byte, which is all the scan reads.
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH;
    let equal = |w: u64, b: u8| below(w ^ (ONES * u64::from(b)), 1);
    while let Some(chunk) = bytes.get(from..from + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let found = (w & HIGH) | below(w, 0x20) | equal(w, b'"') | equal(w, b'\\') | equal(w, b'/');
        if found != 0 {
            return from + (found.trailing_zeros() / 8) as usize;
        }
        from += 8;
    }
    while from < bytes.len() && PLAIN[usize::from(bytes[from])] {
        from += 1;
    }
    from
}

fn json_string(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push('"');
    // Copy runs of bytes that need no escape in one go. A run ends at an ASCII byte or at the
    // first byte of a character beyond ASCII, so it always ends on a character boundary.
    let mut run = 0;
    loop {
        let i = next_escape(bytes, run);
        out.push_str(&s[run..i]);
        let Some(&b) = bytes.get(i) else { break };
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'/' => "\\/",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            _ => "",
        };
        if escape.is_empty() {
            // Other control characters and everything beyond ASCII: UTF-16 units as `\uXXXX`.
            let c = s[i..].chars().next().unwrap_or('\u{fffd}');
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str("\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(char::from(b"0123456789abcdef"[usize::from((*unit >> shift) & 0xf)]));
                }
            }
            run = i + c.len_utf8();
        } else {
            out.push_str(escape);
            run = i + 1;
        }
    }
    out.push('"');
}

/// `htmlspecialchars($s, ENT_COMPAT, 'UTF-8')`: `& < > "`, not `'`.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    super::xml::escape_attribute(&mut out, s);
    out
}

pub const XML_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n";

/// The XML success body; `None` for a function that returns nothing.
pub fn xml_response(v: Option<&Value>, desc: Option<&Schema>) -> String {
    let mut out = String::from(XML_HEAD);
    out.push_str("<RESPONSE>\n");
    if let Some(desc) = desc {
        xmlize(&mut out, v.unwrap_or(&Value::Null), desc);
    }
    out.push_str("</RESPONSE>\n");
    out
}

/// `xmlize_result`: walks the description; every described key appears, missing ones as null.
fn xmlize(out: &mut String, v: &Value, desc: &Schema) {
    let v = v.resolved();
    match desc {
        Schema::Value { .. } => match v {
            Value::Null => out.push_str("<VALUE null=\"null\"/>\n"),
            Value::Bool(b) => {
                let _ = writeln!(out, "<VALUE>{}</VALUE>", i32::from(*b));
            }
            other => {
                let _ = writeln!(out, "<VALUE>{}</VALUE>", xml_escape(&other.php_string()));
            }
        },
        Schema::Multiple { item, .. } => {
            out.push_str("<MULTIPLE>\n");
            for i in v.items() {
                xmlize(out, i, item);
            }
            out.push_str("</MULTIPLE>\n");
        }
        Schema::Single { keys, .. } => {
            out.push_str("<SINGLE>\n");
            for (key, sub) in keys {
                let _ = write!(out, "<KEY name=\"{key}\">");
                xmlize(out, v.get(key).unwrap_or(&Value::Null), sub);
                out.push_str("</KEY>\n");
            }
            out.push_str("</SINGLE>\n");
        }
    }
}

/// A REST exception in JSON; `debuginfo` only when debugging.
pub fn json_exception(e: &MoodleException, debugging: bool) -> String {
    let mut v = vec![
        ("exception", Value::str(e.exception.clone())),
        ("errorcode", Value::str(e.errorcode.clone())),
        ("message", Value::str(e.message.to_owned())),
    ];
    if debugging && let Some(d) = &e.debuginfo {
        v.push(("debuginfo", Value::str(d.to_owned())));
    }
    json(&Value::map(v))
}

/// A REST exception in XML; `DEBUGINFO` only when debugging.
pub fn xml_exception(e: &MoodleException, debugging: bool) -> String {
    let mut out = String::from(XML_HEAD);
    let _ = writeln!(out, "<EXCEPTION class=\"{}\">", xml_escape(&e.exception));
    let _ = writeln!(out, "<ERRORCODE>{}</ERRORCODE>", xml_escape(&e.errorcode));
    let _ = writeln!(out, "<MESSAGE>{}</MESSAGE>", xml_escape(&e.message));
    if debugging && let Some(d) = &e.debuginfo {
        let _ = writeln!(out, "<DEBUGINFO>{}</DEBUGINFO>", xml_escape(d));
    }
    out.push_str("</EXCEPTION>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::schema::{ParamType, multiple, single, value};

    /// The byte-at-a-time reading of [`PLAIN`] that the eight-byte scan must agree with.
    fn escaped_by_table(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '/' => out.push_str("\\/"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_ascii() && PLAIN[c as usize] => out.push(c),
                c => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
        }
        out.push('"');
        out
    }

    #[test]
    fn the_eight_byte_scan_escapes_what_the_table_escapes() {
        // Every special byte at every place of an eight-byte word, beside plain and
        // multi-byte text, and random strings of such pieces.
        let pieces =
            ["a", "Z", "~", "\u{7f}", " ", "\"", "\\", "/", "\n", "\u{1}", "\u{1f}", "é", "€", "\u{1F600}", "0"];
        for special in pieces {
            for at in 0..17 {
                let s = format!("{}{special}{}", "x".repeat(at), "y".repeat(9));
                let mut out = String::new();
                json_string(&mut out, &s);
                assert_eq!(out, escaped_by_table(&s), "{s:?}");
            }
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..2000 {
            let mut s = String::new();
            for _ in 0..(seed % 40) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push_str(pieces[(seed % pieces.len() as u64) as usize]);
            }
            let mut out = String::new();
            json_string(&mut out, &s);
            assert_eq!(out, escaped_by_table(&s), "{s:?}");
        }
    }

    #[test]
    fn json_like_php() {
        let v = Value::map([
            ("url", Value::str("http://x/y")),
            ("name", Value::str("Zoë \"Z\" \u{1F600}\n")),
            ("n", Value::Int(-3)),
            ("f", Value::Float(1.0)),
            ("g", Value::Float(0.1)),
            ("b", Value::Bool(false)),
            ("none", Value::Null),
            ("empty", Value::Map(vec![])),
            ("list", Value::List(vec![])),
        ]);
        assert_eq!(
            json(&v),
            r#"{"url":"http:\/\/x\/y","name":"Zo\u00eb \"Z\" \ud83d\ude00\n","n":-3,"f":1.0,"g":0.1,"b":false,"none":null,"empty":[],"list":[]}"#
        );
        assert_eq!(json_float(1e20), "1.0e+20");
        assert_eq!(json(&Value::str("core\\exception\\moodle_exception")), r#""core\\exception\\moodle_exception""#);
        // As `php -r 'echo json_encode("\x01a\x7f\x1f~\r\t\x08\x0c\xc3\xa9\xe2\x80\xa8");'`.
        assert_eq!(
            json(&Value::str("\u{1}a\u{7f}\u{1f}~\r\t\u{8}\u{c}é\u{2028}")),
            "\"\\u0001a\u{7f}\\u001f~\\r\\t\\b\\f\\u00e9\\u2028\""
        );
        assert_eq!(json(&Value::Int(i64::MIN)), "-9223372036854775808");
    }

    #[test]
    fn xml_like_moodle() {
        let desc = single(
            "",
            vec![
                ("one", value(ParamType::Int, "")),
                ("two", value(ParamType::Raw, "").optional()),
                ("l", multiple(value(ParamType::Raw, ""), "").optional()),
            ],
        );
        let v = Value::map([("one", Value::Int(1))]);
        assert_eq!(
            xml_response(Some(&v), Some(&desc)),
            "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<RESPONSE>\n<SINGLE>\n<KEY name=\"one\"><VALUE>1</VALUE>\n</KEY>\n<KEY name=\"two\"><VALUE null=\"null\"/>\n</KEY>\n<KEY name=\"l\"><MULTIPLE>\n</MULTIPLE>\n</KEY>\n</SINGLE>\n</RESPONSE>\n"
        );
        assert_eq!(xml_response(None, None), "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<RESPONSE>\n</RESPONSE>\n");
        assert_eq!(xml_escape("a&b<c>\"d'"), "a&amp;b&lt;c&gt;&quot;d'");
    }

    #[test]
    fn exceptions_match_the_fixtures() {
        let e = MoodleException::new("moodle_exception", "invalidtoken", "Invalid token - token not found")
            .with_debuginfo("x");
        assert_eq!(
            json_exception(&e, false),
            r#"{"exception":"moodle_exception","errorcode":"invalidtoken","message":"Invalid token - token not found"}"#
        );
        // Fixture rest_bad_token_xml.xml, byte for byte.
        assert_eq!(
            xml_exception(&e, false),
            "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<EXCEPTION class=\"moodle_exception\">\n<ERRORCODE>invalidtoken</ERRORCODE>\n<MESSAGE>Invalid token - token not found</MESSAGE>\n</EXCEPTION>\n"
        );
        assert!(json_exception(&e, true).ends_with(r#","debuginfo":"x"}"#));
    }
}
