//! SOAP 1.1 as Moodle's `webservice_soap` speaks it (moodle-ws-reference.md §7.3), without
//! HTTP: the RPC/encoded WSDL generated as Moodle's `webservice_soap\wsdl` does, envelopes
//! read by `xsi:type` or by the function's schema, answers and faults written as PHP's
//! `SoapServer` writes them with that WSDL, and a client's call envelope.

mod request;
mod response;
mod types;
mod wsdl;

use crate::model::value::Value;
pub use request::{call_envelope, parse_request};
pub use response::{fault, moodle_error, receiver_fault, response_envelope};
pub use types::Types;
pub use wsdl::wsdl_document;

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
