//! Calls: reading a request's envelope (by `xsi:type` or by the function's schema), and
//! writing one (the console's test client).

use super::response::{Namespaces, Writer};
use super::types::Types;
use super::{NS_ENC, NS_ENV, Request};
use crate::model;
use crate::model::schema::Schema;
use crate::model::value::Value;
use crate::wire::xml::{Node, local, parse_document};
use std::collections::HashMap;

/// A SOAP 1.1 RPC/encoded call with its parts typed as PHP's SoapClient types untyped values
/// (the console's test client).
pub fn call_envelope(function: &str, parts: &[(String, Value)]) -> String {
    let types = Types { structs: Vec::new() };
    let mut w = Writer { out: String::new(), ns: Namespaces::default(), types: &types };
    for (name, value) in parts {
        w.guessed(name, value);
    }
    let mut head = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"{NS_ENV}\" xmlns:ns1=\"urn:wsconsole\""
    );
    for prefix in &w.ns.0 {
        head.push_str(&format!(" xmlns:{}=\"{}\"", Namespaces::prefix(prefix), Namespaces::uri(prefix)));
    }
    format!(
        "{head} SOAP-ENV:encodingStyle=\"{NS_ENC}\"><SOAP-ENV:Body><ns1:{function}>{}</ns1:{function}></SOAP-ENV:Body></SOAP-ENV:Envelope>\n",
        w.out
    )
}

/// The envelope's operation and its parts, named by the function's parameter description.
pub fn parse_request(body: &[u8]) -> Result<Request, Request> {
    let invalid = |why: &str| Request { invalid: Some(why.to_string()), ..Request::default() };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid("Bad Request. Can't find HTTP_RAW_POST_DATA"));
    }
    let root = parse_document(body).map_err(|why| invalid(&format!("Bad Request: {why}")))?;
    if root.name != "Envelope" {
        return Err(invalid("looks like we got XML without \"Envelope\" element"));
    }
    let body = root.child("Body").ok_or_else(|| invalid("Body must be present in a SOAP envelope"))?;
    let operation = body.children.first().ok_or_else(|| invalid("Bad Request"))?;
    let function = operation.name.clone();
    // SOAP encoding's multi-reference values (`href="#id"`) point at siblings of the operation.
    let mut decoder = Decoder::new(body.children.iter().filter_map(|n| n.attribute("id").map(|id| (id, n))).collect());
    let keys: Vec<(&str, &Schema)> = match model::description(&function).map(|d| &d.params) {
        Some(Schema::Single { keys, .. }) => keys.iter().map(|(k, s)| (*k, s)).collect(),
        _ => Vec::new(),
    };
    let mut args = Vec::new();
    for part in &operation.children {
        // PHP reads only the parts its WSDL names; others are ignored.
        let Some((name, schema)) = keys.iter().find(|(k, _)| *k == part.name) else { continue };
        let value = decoder.decode(part, Some(schema), 0).map_err(|why| Request {
            function: function.clone(),
            invalid: Some(format!("Bad Request: {why}")),
            ..Request::default()
        })?;
        args.push((name.to_string().into(), value));
    }
    Ok(Request { function, args: Value::Map(args), invalid: None })
}

/// Reads SOAP-encoded values within a budget: an `href` copies what it points at, so without
/// one a small body of references could expand without bound.
struct Decoder<'a> {
    /// Multi-reference targets (`id="…"`), siblings of the operation.
    ids: HashMap<&'a str, &'a Node>,
    values_left: usize,
    text_left: usize,
}

impl<'a> Decoder<'a> {
    fn new(ids: HashMap<&'a str, &'a Node>) -> Self {
        Decoder { ids, values_left: crate::wire::MAX_VALUES, text_left: crate::wire::MAX_TEXT }
    }

    fn text(&mut self, s: &str) -> Result<String, String> {
        self.text_left = self.text_left.checked_sub(s.len()).ok_or("too much text (references included)")?;
        Ok(s.to_string())
    }

    fn list(&mut self, nodes: &'a [Node], item: Option<&Schema>, depth: usize) -> Result<Value, String> {
        let mut items = Vec::new();
        for n in nodes {
            items.push(self.decode(n, item, depth + 1)?);
        }
        Ok(Value::List(items))
    }

    /// A value, by its `xsi:type` where it has one, else by the parameter's schema.
    fn decode(&mut self, node: &'a Node, schema: Option<&Schema>, depth: usize) -> Result<Value, String> {
        if depth > crate::wire::MAX_DEPTH {
            return Err("values nested too deeply".into());
        }
        self.values_left = self.values_left.checked_sub(1).ok_or("too many values (references included)")?;
        if let Some(target) = node.attribute("href") {
            let found = target.strip_prefix('#').and_then(|id| self.ids.get(id).copied());
            let target = found.ok_or_else(|| format!("no element with id {target}"))?;
            return self.decode(target, schema, depth + 1);
        }
        if matches!(node.attribute("nil"), Some("true" | "1")) {
            return Ok(Value::Null);
        }
        let ty = node.attribute("type").map(local);
        let item_schema = match schema {
            Some(Schema::Multiple { item, .. }) => Some(item.as_ref()),
            _ => None,
        };
        let field_schema = |name: &str| match schema {
            Some(Schema::Single { keys, .. }) => keys.iter().find(|(k, _)| *k == name).map(|(_, s)| s),
            _ => None,
        };
        let text = node.text.trim();
        Ok(match ty {
            Some("Map") => {
                let mut pairs = Vec::new();
                for item in node.children.iter().filter(|c| c.name == "item") {
                    let key = self.text(item.child("key").map_or("", |k| k.text.as_str()))?;
                    let value = match item.child("value") {
                        Some(v) => self.decode(v, field_schema(&key), depth + 1)?,
                        None => Value::Null,
                    };
                    pairs.push((key.into(), value));
                }
                Value::Map(pairs)
            }
            _ if ty == Some("Array") || node.attribute("arrayType").is_some() => {
                self.list(&node.children, item_schema, depth)?
            }
            Some(
                "int" | "integer" | "long" | "short" | "byte" | "unsignedInt" | "unsignedLong" | "unsignedShort"
                | "unsignedByte" | "nonNegativeInteger" | "positiveInteger" | "negativeInteger" | "nonPositiveInteger",
            ) => match text.parse() {
                Ok(i) => Value::Int(i),
                Err(_) => Value::str(self.text(&node.text)?),
            },
            Some("boolean") => match text {
                "true" | "1" => Value::Bool(true),
                "false" | "0" => Value::Bool(false),
                _ => Value::str(self.text(&node.text)?),
            },
            Some("double" | "float" | "decimal") => match text.parse() {
                Ok(f) => Value::Float(f),
                Err(_) => Value::str(self.text(&node.text)?),
            },
            _ if node.children.is_empty() => match schema {
                Some(Schema::Multiple { .. }) if text.is_empty() => Value::List(Vec::new()),
                Some(Schema::Single { .. }) if text.is_empty() => Value::Map(Vec::new()),
                _ => Value::str(self.text(&node.text)?),
            },
            // Elements without an array type: a list where the schema wants one, else a struct.
            _ if item_schema.is_some() => self.list(&node.children, item_schema, depth)?,
            _ => {
                let mut pairs = Vec::new();
                for c in &node.children {
                    let name = self.text(&c.name)?;
                    let value = self.decode(c, field_schema(&c.name), depth + 1)?;
                    pairs.push((name.into(), value));
                }
                Value::Map(pairs)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_decode_by_type_and_by_schema() {
        let body = br##"<?xml version="1.0"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><SOAP-ENV:Body><ns1:core_user_get_users_by_field><field xsi:type="xsd:string">username</field><values href="#r1"/><unknown>x</unknown></ns1:core_user_get_users_by_field><multiRef id="r1" SOAP-ENC:arrayType="xsd:string[2]"><item>admin</item><item xsi:nil="true"/></multiRef></SOAP-ENV:Body></SOAP-ENV:Envelope>"##;
        let r = parse_request(body).ok().unwrap();
        assert_eq!(r.function, "core_user_get_users_by_field");
        assert_eq!(
            r.args,
            Value::map([
                ("field", Value::str("username")),
                ("values", Value::List(vec![Value::str("admin"), Value::Null]))
            ])
        );
        // Untyped children become a list where the schema wants one.
        let body = br#"<Envelope><Body><core_user_get_users_by_field><values><a>1</a><b xsi:type="xsd:int">2</b></values></core_user_get_users_by_field></Body></Envelope>"#;
        let r = parse_request(body).ok().unwrap();
        assert_eq!(r.args, Value::map([("values", Value::List(vec![Value::str("1"), Value::Int(2)]))]));
        // An apache Map is a struct.
        let body = br#"<Envelope><Body><core_user_create_users><users xsi:type="SOAP-ENC:Array"><item xsi:type="ns2:Map"><item><key>username</key><value>x</value></item></item></users></core_user_create_users></Body></Envelope>"#;
        let r = parse_request(body).ok().unwrap();
        assert_eq!(r.args, Value::map([("users", Value::List(vec![Value::map([("username", Value::str("x"))])]))]));
    }

    #[test]
    fn call_envelopes_read_back() {
        let parts = vec![
            ("field".to_string(), Value::str("username")),
            ("values".to_string(), Value::List(vec![Value::str("a<b"), Value::str("c")])),
        ];
        let r = parse_request(call_envelope("core_user_get_users_by_field", &parts).as_bytes()).ok().unwrap();
        assert_eq!(r.function, "core_user_get_users_by_field");
        assert_eq!(r.args, Value::map(parts));
    }

    #[test]
    fn unreadable_envelopes_are_refused() {
        for (body, why) in [
            (&b""[..], "HTTP_RAW_POST_DATA"),
            (b"<x/>", "Envelope"),
            (b"<Envelope/>", "Body"),
            (b"<Envelope><Body/></Envelope>", "Bad Request"),
            (b"<!DOCTYPE x><Envelope/>", "DOCTYPE"),
            (
                b"<Envelope><Body><core_user_get_users_by_field><values href=\"#nowhere\"/></core_user_get_users_by_field></Body></Envelope>",
                "Bad Request",
            ),
        ] {
            let err = parse_request(body).err().unwrap_or_else(|| panic!("{body:?} was accepted"));
            assert!(err.invalid.as_deref().unwrap_or("").contains(why), "{:?}", err.invalid);
        }
        // References copy what they point at, within one budget per envelope.
        let chain = format!(
            "<Envelope><Body><core_user_get_users_by_field><values href=\"#r0\"/></core_user_get_users_by_field>{}<x id=\"r12\">leaf</x></Body></Envelope>",
            (0..12)
                .map(|i| format!("<x id=\"r{i}\">{}</x>", format!("<a href=\"#r{}\"/>", i + 1).repeat(8)))
                .collect::<String>()
        );
        assert!(parse_request(chain.as_bytes()).err().unwrap().invalid.unwrap().contains("too many values"));
        let copies = format!(
            "<Envelope><Body><core_user_get_users_by_field><values>{}</values></core_user_get_users_by_field><t id=\"t\">{}</t></Body></Envelope>",
            "<a href=\"#t\"/>".repeat(200),
            "x".repeat(100_000)
        );
        assert!(parse_request(copies.as_bytes()).err().unwrap().invalid.unwrap().contains("too much text"));
        // References cannot loop.
        let body = br##"<Envelope><Body><core_user_get_users_by_field><values href="#a"/></core_user_get_users_by_field><x id="a" href="#a"/></Body></Envelope>"##;
        assert!(parse_request(body).err().unwrap().invalid.unwrap().contains("deeply"));
    }
}
