//! SOAP 1.1 as Moodle's `webservice_soap` speaks it (moodle-ws-reference.md §7.3), without
//! HTTP: the RPC/encoded WSDL generated as Moodle's `webservice_soap\wsdl` does, envelopes
//! read by `xsi:type` or by the function's schema, answers and faults written as PHP's
//! `SoapServer` writes them with that WSDL, and a client's call envelope.

use super::xml::{Node, escape_attribute, escape_text, local, parse_document};
use crate::domain::access::MoodleException;
use crate::functions::schema::{ParamType, Schema};
use crate::functions::value::{Value, php_float};
use crate::functions::{self, Definition};
use std::collections::HashMap;

const NS_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const NS_ENC: &str = "http://schemas.xmlsoap.org/soap/encoding/";
const NS_XSD: &str = "http://www.w3.org/2001/XMLSchema";
const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
const NS_APACHE: &str = "http://xml.apache.org/xml-soap";
const NS_WSDL: &str = "http://schemas.xmlsoap.org/wsdl/";
const NS_WSDL_SOAP: &str = "http://schemas.xmlsoap.org/wsdl/soap/";
const SOAP_HTTP: &str = "http://schemas.xmlsoap.org/soap/http";
/// The virtual class: one per request in Moodle, so always the first name.
const CLASS: &str = "webservices_virtual_class_000000";

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
    fault("Receiver", &format!("{message} | ERRORCODE: {}", e.errorcode), Some(e.errorcode), detail)
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

/// A parsed call: the operation and its parts by name.
pub struct Request {
    pub function: String,
    pub args: Value,
    /// Why the envelope could not be read.
    pub invalid: Option<String>,
}

impl Default for Request {
    fn default() -> Self {
        Request { function: String::new(), args: Value::Null, invalid: None }
    }
}

// ---------------------------------------------------------------------------------------------
// Types: Moodle's virtual struct classes.

/// The struct classes Moodle generates for the caller's functions: every single structure
/// reachable through single structures from a parameter or a return, numbered in the order
/// PHP creates them (fields before their struct, parameters before returns, functions by
/// name). The call's answer names its types from the same list as the WSDL.
pub struct Types<'a> {
    structs: Vec<(&'a Schema, String)>,
}

/// A function's operation in the WSDL: its parts' types and its answer's.
struct Signature<'a> {
    def: &'a Definition,
    params: Vec<(&'a str, Doc)>,
    returns: Option<Doc>,
}

/// A schema's type in Moodle's phpdoc terms, as the WSDL writes it.
enum Doc {
    Int,
    Double,
    Str,
    Array,
    Struct(String),
}

impl Doc {
    fn wsdl(&self) -> String {
        match self {
            Doc::Int => "xsd:int".into(),
            Doc::Double => "xsd:double".into(),
            Doc::Str => "xsd:string".into(),
            Doc::Array => "soap-enc:Array".into(),
            Doc::Struct(class) => format!("tns:{class}"),
        }
    }
}

impl<'a> Types<'a> {
    pub fn of(defs: &[&'a Definition]) -> Types<'a> {
        let mut types = Types { structs: Vec::new() };
        for def in sorted(defs) {
            types.walk_function(def);
        }
        types
    }

    fn walk_function(&mut self, def: &'a Definition) -> Signature<'a> {
        let params = match &def.params {
            Schema::Single { keys, .. } => keys.iter().map(|(k, s)| (*k, self.doc(s))).collect(),
            _ => Vec::new(),
        };
        let returns = def.returns.as_ref().map(|r| self.doc(r));
        Signature { def, params, returns }
    }

    /// `get_phpdoc_type`: a single structure becomes a new class, after its fields' classes.
    fn doc(&mut self, schema: &'a Schema) -> Doc {
        if let Schema::Single { keys, .. } = schema {
            for (_, field) in keys {
                self.doc(field);
            }
            let class = format!("webservices_struct_class_{:06}", self.structs.len());
            self.structs.push((schema, class));
        }
        self.field(schema)
    }

    fn class(&self, schema: &Schema) -> Option<&str> {
        self.structs.iter().find(|(s, _)| std::ptr::eq(*s, schema)).map(|(_, c)| c.as_str())
    }

    /// A schema's WSDL type, once its classes exist.
    fn field(&self, schema: &Schema) -> Doc {
        match schema {
            Schema::Value { ty: ParamType::Int | ParamType::Bool, .. } => Doc::Int,
            Schema::Value { ty: ParamType::Float, .. } => Doc::Double,
            Schema::Value { .. } => Doc::Str,
            Schema::Multiple { .. } => Doc::Array,
            Schema::Single { .. } => Doc::Struct(self.class(schema).unwrap_or_default().to_string()),
        }
    }
}

/// Moodle lists a service's functions by name.
fn sorted<'a>(defs: &[&'a Definition]) -> Vec<&'a Definition> {
    let mut v = defs.to_vec();
    v.sort_by_key(|d| d.info.name);
    v.dedup_by_key(|d| d.info.name);
    v
}

// ---------------------------------------------------------------------------------------------
// The WSDL.

/// `webservice_soap\wsdl::to_xml()`, as SimpleXML writes it.
pub fn wsdl_document(url: &str, defs: &[&Definition]) -> String {
    let mut types = Types { structs: Vec::new() };
    let functions: Vec<Signature> = sorted(defs).into_iter().map(|d| types.walk_function(d)).collect();
    let mut u = String::new();
    escape_attribute(&mut u, url);
    let u = u.as_str();

    let mut out = format!(
        "<?xml version=\"1.0\"?>\n<definitions xmlns=\"{NS_WSDL}\" xmlns:tns=\"{u}\" xmlns:soap=\"{NS_WSDL_SOAP}\" xmlns:xsd=\"{NS_XSD}\" xmlns:soap-enc=\"{NS_ENC}\" xmlns:wsdl=\"{NS_WSDL}\" name=\"{CLASS}\" targetNamespace=\"{u}\"><types>"
    );
    if types.structs.is_empty() {
        out.push_str(&format!("<xsd:schema targetNamespace=\"{u}\"/>"));
    } else {
        out.push_str(&format!("<xsd:schema targetNamespace=\"{u}\">"));
        for (schema, class) in &types.structs {
            let Schema::Single { keys, .. } = schema else { continue };
            out.push_str(&format!("<xsd:complexType name=\"{class}\">"));
            if keys.is_empty() {
                out.push_str("<xsd:all/>");
            } else {
                out.push_str("<xsd:all>");
                for (name, field) in keys {
                    // Moodle marks every field nillable (`empty($fieldsdesc->allownull)`).
                    out.push_str(&format!(
                        "<xsd:element name=\"{name}\" type=\"{}\" nillable=\"true\"/>",
                        types.field(field).wsdl()
                    ));
                }
                out.push_str("</xsd:all>");
            }
            out.push_str("</xsd:complexType>");
        }
        out.push_str("</xsd:schema>");
    }
    out.push_str("</types>");

    let empty = functions.is_empty();
    out.push_str(&format!("<portType name=\"{CLASS}Port\"{}", if empty { "/>" } else { ">" }));
    for Signature { def, params, returns } in &functions {
        let name = def.info.name;
        out.push_str(&format!("<operation name=\"{name}\">"));
        if def.info.description.is_empty() {
            out.push_str("<documentation/>");
        } else {
            out.push_str("<documentation>");
            escape_text(&mut out, def.info.description);
            out.push_str("</documentation>");
        }
        if !params.is_empty() {
            out.push_str(&format!("<input message=\"tns:{name}In\"/>"));
        }
        if returns.is_some() {
            out.push_str(&format!("<output message=\"tns:{name}Out\"/>"));
        }
        out.push_str("</operation>");
    }
    if !empty {
        out.push_str("</portType>");
    }

    out.push_str(&format!(
        "<binding name=\"{CLASS}Binding\" type=\"tns:{CLASS}Port\"><soap:binding style=\"rpc\" transport=\"{SOAP_HTTP}\"/>"
    ));
    let body = format!("<soap:body use=\"encoded\" encodingStyle=\"{NS_ENC}\" namespace=\"{u}\"/>");
    for Signature { def, params, returns } in &functions {
        let name = def.info.name;
        out.push_str(&format!("<operation name=\"{name}\"><soap:operation soapAction=\"{u}#{name}\"/>"));
        if !params.is_empty() {
            out.push_str(&format!("<input>{body}</input>"));
        }
        if returns.is_some() {
            out.push_str(&format!("<output>{body}</output>"));
        }
        out.push_str("</operation>");
    }
    out.push_str("</binding>");

    out.push_str(&format!(
        "<service name=\"{CLASS}Service\"><port name=\"{CLASS}Port\" binding=\"tns:{CLASS}Binding\"><soap:address location=\"{u}\"/></port></service>"
    ));
    for Signature { def, params, returns } in &functions {
        let name = def.info.name;
        if !params.is_empty() {
            out.push_str(&format!("<message name=\"{name}In\">"));
            for (part, doc) in params {
                out.push_str(&format!("<part name=\"{part}\" type=\"{}\"/>", doc.wsdl()));
            }
            out.push_str("</message>");
        }
        if let Some(doc) = returns {
            out.push_str(&format!(
                "<message name=\"{name}Out\"><part name=\"return\" type=\"{}\"/></message>",
                doc.wsdl()
            ));
        }
    }
    out.push_str("</definitions>\n");
    out
}

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

// ---------------------------------------------------------------------------------------------
// Calls: reading the envelope.

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
    let keys: Vec<(&str, &Schema)> = match functions::definition(&function).map(|d| &d.params) {
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
        Decoder { ids, values_left: super::MAX_VALUES, text_left: super::MAX_TEXT }
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
        if depth > super::MAX_DEPTH {
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

// ---------------------------------------------------------------------------------------------
// Calls: writing the answer as PHP's SoapServer does.

/// The envelope's namespace prefixes, declared in the order PHP first uses them.
#[derive(Default)]
struct Namespaces(Vec<&'static str>);

impl Namespaces {
    fn used(&mut self, prefix: &'static str) {
        if !self.0.contains(&prefix) {
            self.0.push(prefix);
        }
    }

    /// The prefix written: the apache namespace is PHP's second generated one.
    fn prefix(name: &str) -> &str {
        if name == "apache" { "ns2" } else { name }
    }

    fn uri(prefix: &str) -> &'static str {
        match prefix {
            "xsd" => NS_XSD,
            "xsi" => NS_XSI,
            "SOAP-ENC" => NS_ENC,
            _ => NS_APACHE,
        }
    }
}

struct Writer<'a> {
    out: String,
    ns: Namespaces,
    types: &'a Types<'a>,
}

pub fn response_envelope(
    url: &str,
    function: &str,
    def: &Definition,
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
    fn nil(&mut self, name: &str) {
        self.ns.used("xsi");
        self.out.push_str(&format!("<{name} xsi:nil=\"true\"/>"));
    }

    /// A leaf with its type (`set_ns_and_type`: the type's namespace, then xsi's).
    fn leaf(&mut self, name: &str, ty: &'static str, text: &str) {
        self.ns.used("xsd");
        self.ns.used("xsi");
        self.out.push_str(&format!("<{name} xsi:type=\"xsd:{ty}\">"));
        escape_text(&mut self.out, text);
        self.out.push_str(&format!("</{name}>"));
    }

    /// A value where the WSDL gives its type: struct classes and their fields.
    fn typed(&mut self, name: &str, v: &Value, schema: &Schema) {
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
    fn guessed(&mut self, name: &str, v: &Value) {
        match v {
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
        }
    }

    /// `to_xml_array` with PHP's `get_array_type`: one item type when all items share it,
    /// else `xsd:ur-type`.
    fn array(&mut self, name: &str, items: &[Value]) {
        let kind = |v: &Value| -> &'static str {
            match v {
                Value::Null => "xsd:ur-type",
                Value::Bool(true) => "xsd:boolean-true",
                Value::Bool(false) => "xsd:boolean-false",
                Value::Int(_) => "xsd:int",
                Value::Float(_) => "xsd:float",
                Value::Str(_) => "xsd:string",
                Value::Map(p) if !p.is_empty() => "ns2:Map",
                Value::Map(_) | Value::List(_) => "SOAP-ENC:Array",
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

    fn def(name: &str) -> &'static Definition {
        functions::definition(name).unwrap()
    }

    #[test]
    fn struct_classes_are_numbered_as_moodle_does() {
        let defs = [def(functions::SITE_INFO), def("core_user_get_users"), def("core_user_create_users")];
        let types = Types::of(&defs);
        let names: Vec<&str> = types.structs.iter().map(|(_, c)| c.as_str()).collect();
        assert_eq!(names, ["webservices_struct_class_000000", "webservices_struct_class_000001"]);
        // Functions by name: core_user_get_users' answer before the site info.
        assert_eq!(types.class(def("core_user_get_users").returns.as_ref().unwrap()), Some(names[0]));
        assert_eq!(types.class(def(functions::SITE_INFO).returns.as_ref().unwrap()), Some(names[1]));
        // Alone, the site info is the first class.
        let alone = Types::of(&[def(functions::SITE_INFO)]);
        assert_eq!(alone.class(def(functions::SITE_INFO).returns.as_ref().unwrap()), Some(names[0]));
    }

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
