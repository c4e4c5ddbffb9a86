//! Answers and faults, written as PHP's `SoapServer` writes them with Moodle's WSDL.

use super::types::Types;
use super::{NS_APACHE, NS_ENC, NS_ENV, NS_XSD, NS_XSI};
use crate::domain::access::MoodleException;
use crate::model::Description;
use crate::model::schema::{ParamType, Schema};
use crate::model::value::{Value, php_float};
use crate::wire::xml::{escape_attribute, escape_text};

/// Moodle's `send_error` envelope: a refusal before the call, with the debuginfo when
/// debugging.
pub fn moodle_error(e: &MoodleException, debugging: bool) -> String {
    let mut info = e.message.clone();
    if debugging && let Some(d) = &e.debuginfo {
        info.push_str(" - ");
        info.push_str(d);
    }
    let mut body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"{NS_ENV}\"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>MOODLE:error</faultcode><faultstring>"
    );
    escape_text(&mut body, &info);
    body.push_str("</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>\n");
    body
}

/// `webservice_soap_server::fault`: the message only when debugging, the errorcode always.
pub fn receiver_fault(e: &MoodleException, debugging: bool) -> String {
    let message = if debugging { e.message.as_str() } else { "Unknown error" };
    let detail = if debugging { e.debuginfo.as_deref() } else { None };
    fault("Receiver", &format!("{message} | ERRORCODE: {}", e.errorcode), Some(&e.errorcode), detail)
}

/// A fault as PHP's `SoapServer` writes it (SOAP 1.1).
pub fn fault(code: &str, string: &str, actor: Option<&str>, detail: Option<&str>) -> String {
    let mut fault = String::from("<SOAP-ENV:Fault><faultcode>");
    escape_text(&mut fault, code);
    fault.push_str("</faultcode><faultstring>");
    escape_text(&mut fault, string);
    fault.push_str("</faultstring>");
    if let Some(actor) = actor {
        fault.push_str("<faultactor>");
        escape_text(&mut fault, actor);
        fault.push_str("</faultactor>");
    }
    let namespaces = if let Some(detail) = detail {
        fault.push_str("<detail xsi:type=\"xsd:string\">");
        escape_text(&mut fault, detail);
        fault.push_str("</detail>");
        format!(" xmlns:xsd=\"{NS_XSD}\" xmlns:xsi=\"{NS_XSI}\"")
    } else {
        String::new()
    };
    fault.push_str("</SOAP-ENV:Fault>");
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"{NS_ENV}\"{namespaces}><SOAP-ENV:Body>{fault}</SOAP-ENV:Body></SOAP-ENV:Envelope>\n"
    )
}

/// The envelope's namespace prefixes, declared in the order PHP first uses them.
#[derive(Default)]
pub(super) struct Namespaces(pub(super) Vec<&'static str>);

impl Namespaces {
    pub(super) fn used(&mut self, prefix: &'static str) {
        if !self.0.contains(&prefix) {
            self.0.push(prefix);
        }
    }

    /// The prefix written: the apache namespace is PHP's second generated one.
    pub(super) fn prefix(name: &str) -> &str {
        if name == "apache" { "ns2" } else { name }
    }

    pub(super) fn uri(prefix: &str) -> &'static str {
        match prefix {
            "xsd" => NS_XSD,
            "xsi" => NS_XSI,
            "SOAP-ENC" => NS_ENC,
            _ => NS_APACHE,
        }
    }
}

pub(super) struct Writer<'a> {
    pub(super) out: String,
    pub(super) ns: Namespaces,
    pub(super) types: &'a Types<'a>,
}

pub fn response_envelope(
    url: &str,
    function: &str,
    def: &Description,
    value: Option<&Value>,
    types: &Types<'_>,
) -> String {
    let mut w = Writer { out: String::new(), ns: Namespaces::default(), types };
    match (value, &def.returns) {
        (Some(v), Some(schema)) => w.typed("return", v, schema),
        (Some(v), None) => w.guessed("return", v),
        (None, _) => w.nil("return"),
    }
    let mut head = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"{NS_ENV}\" xmlns:ns1=\""
    );
    escape_attribute(&mut head, url);
    head.push('"');
    for prefix in &w.ns.0 {
        head.push_str(&format!(" xmlns:{}=\"{}\"", Namespaces::prefix(prefix), Namespaces::uri(prefix)));
    }
    format!(
        "{head} SOAP-ENV:encodingStyle=\"{NS_ENC}\"><SOAP-ENV:Body><ns1:{function}Response>{}</ns1:{function}Response></SOAP-ENV:Body></SOAP-ENV:Envelope>\n",
        w.out
    )
}

impl Writer<'_> {
    pub(super) fn nil(&mut self, name: &str) {
        self.ns.used("xsi");
        self.out.push_str(&format!("<{name} xsi:nil=\"true\"/>"));
    }

    /// A leaf with its type (`set_ns_and_type`: the type's namespace, then xsi's).
    pub(super) fn leaf(&mut self, name: &str, ty: &'static str, text: &str) {
        self.ns.used("xsd");
        self.ns.used("xsi");
        self.out.push_str(&format!("<{name} xsi:type=\"xsd:{ty}\">"));
        escape_text(&mut self.out, text);
        self.out.push_str(&format!("</{name}>"));
    }

    /// A value where the WSDL gives its type: struct classes and their fields.
    pub(super) fn typed(&mut self, name: &str, v: &Value, schema: &Schema) {
        let v = v.resolved();
        match (schema, v) {
            (_, Value::Null) => self.nil(name),
            (Schema::Single { keys, .. }, Value::Map(_)) => {
                // Every struct of the answer has a class; without one PHP would write no type.
                let Some(class) = self.types.class(schema).map(str::to_string) else { return self.guessed(name, v) };
                self.out.push_str(&format!("<{name} xsi:type=\"ns1:{class}\">"));
                for (key, field) in keys {
                    match v.get(key) {
                        Some(fv) => self.typed(key, fv, field),
                        None => self.nil(key),
                    }
                }
                self.out.push_str(&format!("</{name}>"));
                // PHP sets a struct's type after writing its fields.
                self.ns.used("xsi");
            }
            (Schema::Value { ty: ParamType::Int | ParamType::Bool, .. }, v) => {
                let n = match v {
                    Value::Int(i) => *i,
                    Value::Bool(b) => i64::from(*b),
                    Value::Float(f) => *f as i64,
                    Value::Str(s) => s.trim().parse().unwrap_or(0),
                    _ => 0,
                };
                self.leaf(name, "int", &n.to_string());
            }
            (Schema::Value { ty: ParamType::Float, .. }, v) => {
                let f = match v {
                    Value::Float(f) => *f,
                    Value::Int(i) => *i as f64,
                    Value::Str(s) => s.trim().parse().unwrap_or(0.0),
                    _ => 0.0,
                };
                self.leaf(name, "double", &php_float(f));
            }
            (Schema::Value { .. }, v) => self.leaf(name, "string", &v.php_string()),
            // Arrays carry no item type in Moodle's WSDL: PHP guesses from the values.
            (_, v) => self.guessed(name, v),
        }
    }

    /// A value without WSDL type, typed from its PHP type (`guess_zval_convert`).
    pub(super) fn guessed(&mut self, name: &str, v: &Value) {
        match v.resolved() {
            Value::Null => self.nil(name),
            Value::Bool(b) => self.leaf(name, "boolean", if *b { "true" } else { "false" }),
            Value::Int(i) => self.leaf(name, "int", &i.to_string()),
            Value::Float(f) => self.leaf(name, "float", &php_float(*f)),
            Value::Str(s) => self.leaf(name, "string", s),
            Value::Map(pairs) if !pairs.is_empty() => {
                // `to_xml_map` types the element before writing its items.
                self.ns.used("apache");
                self.ns.used("xsi");
                self.out.push_str(&format!("<{name} xsi:type=\"ns2:Map\">"));
                for (key, value) in pairs {
                    self.out.push_str("<item>");
                    self.leaf("key", "string", key);
                    self.guessed("value", value);
                    self.out.push_str("</item>");
                }
                self.out.push_str(&format!("</{name}>"));
            }
            Value::Map(_) => self.array(name, &[]),
            Value::List(items) => self.array(name, items),
            Value::Shared(_) => unreachable!("resolved"),
        }
    }

    /// `to_xml_array` with PHP's `get_array_type`: one item type when all items share it,
    /// else `xsd:ur-type`.
    pub(super) fn array(&mut self, name: &str, items: &[Value]) {
        let kind = |v: &Value| -> &'static str {
            match v.resolved() {
                Value::Null => "xsd:ur-type",
                Value::Bool(true) => "xsd:boolean-true",
                Value::Bool(false) => "xsd:boolean-false",
                Value::Int(_) => "xsd:int",
                Value::Float(_) => "xsd:float",
                Value::Str(_) => "xsd:string",
                Value::Map(p) if !p.is_empty() => "ns2:Map",
                Value::Map(_) | Value::List(_) => "SOAP-ENC:Array",
                Value::Shared(_) => unreachable!("resolved"),
            }
        };
        let first = items.first().map(kind);
        // PHP's true and false are distinct types: a mixed boolean array is untyped.
        let item_type = match first {
            Some(t) if t != "xsd:ur-type" && items.iter().all(|v| kind(v) == t) => {
                t.trim_end_matches("-true").trim_end_matches("-false")
            }
            _ => "xsd:ur-type",
        };
        match item_type.split(':').next() {
            Some("ns2") => self.ns.used("apache"),
            Some("SOAP-ENC") => self.ns.used("SOAP-ENC"),
            _ => self.ns.used("xsd"),
        }
        self.ns.used("SOAP-ENC");
        self.out.push_str(&format!(
            "<{name} SOAP-ENC:arrayType=\"{item_type}[{}]\" xsi:type=\"SOAP-ENC:Array\"",
            items.len()
        ));
        if items.is_empty() {
            self.out.push_str("/>");
        } else {
            self.out.push('>');
            for item in items {
                self.guessed("item", item);
            }
            self.out.push_str(&format!("</{name}>"));
        }
        // The array's own type comes last.
        self.ns.used("xsi");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_are_typed_as_php_guesses() {
        let types = Types { structs: Vec::new() };
        let mut w = Writer { out: String::new(), ns: Namespaces::default(), types: &types };
        w.guessed("a", &Value::List(vec![Value::str("x"), Value::str("y")]));
        w.guessed("b", &Value::List(vec![]));
        w.guessed("c", &Value::List(vec![Value::Bool(true), Value::Bool(false)]));
        w.guessed("d", &Value::List(vec![Value::map([("k", Value::Int(1))])]));
        assert_eq!(
            w.out,
            "<a SOAP-ENC:arrayType=\"xsd:string[2]\" xsi:type=\"SOAP-ENC:Array\"><item xsi:type=\"xsd:string\">x</item><item xsi:type=\"xsd:string\">y</item></a>\
             <b SOAP-ENC:arrayType=\"xsd:ur-type[0]\" xsi:type=\"SOAP-ENC:Array\"/>\
             <c SOAP-ENC:arrayType=\"xsd:ur-type[2]\" xsi:type=\"SOAP-ENC:Array\"><item xsi:type=\"xsd:boolean\">true</item><item xsi:type=\"xsd:boolean\">false</item></c>\
             <d SOAP-ENC:arrayType=\"ns2:Map[1]\" xsi:type=\"SOAP-ENC:Array\"><item xsi:type=\"ns2:Map\"><item><key xsi:type=\"xsd:string\">k</key><value xsi:type=\"xsd:int\">1</value></item></item></d>"
        );
        assert_eq!(w.ns.0, ["xsd", "SOAP-ENC", "xsi", "apache"]);
    }
}
