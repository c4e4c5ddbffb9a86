//! Moodle's wire formats without HTTP: what the endpoint serves and what a client (the
//! console's test client) sends. REST's parameters and answers, XML-RPC, SOAP and AMF, and the
//! safe XML reader the XML formats share. Every reader here is bounded.

pub mod amf;
pub mod encode;
pub mod json;
pub mod params;
pub mod soap;
pub mod xml;
pub mod xmlrpc;

/// Nesting deeper than any Moodle function needs (PHP allows 64 bracket levels).
pub const MAX_DEPTH: usize = 32;
/// Values one request may decode to, a referenced value counted again at each reference.
pub const MAX_VALUES: usize = 100_000;
/// Bytes of text one request may decode to, references included: twice the endpoint's
/// largest body.
pub const MAX_TEXT: usize = 16 * 1024 * 1024;
