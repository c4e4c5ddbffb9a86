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

#[cfg(test)]
mod tests {
    use crate::model::value::Value;

    /// Site info's answer with its lists shared or not, nested sharing included.
    fn site_info_answer(shared: bool) -> Value {
        let wrap = |v: Value| if shared { Value::shared(v) } else { v };
        let functions = Value::List(vec![
            wrap(Value::map([("name", Value::str("core_webservice_get_site_info")), ("version", Value::str("1"))])),
            Value::map([("name", Value::str("a/b \"é\"")), ("version", Value::str("2"))]),
        ]);
        let features = Value::List(vec![Value::map([("name", Value::str("usetags")), ("value", Value::Int(0))])]);
        Value::map([
            ("sitename", Value::str("S")),
            ("username", Value::str("ann")),
            ("functions", wrap(functions)),
            ("advancedfeatures", wrap(features)),
            ("userid", Value::Int(3)),
        ])
    }

    /// A shared subtree is written byte for byte as the value it holds, in every protocol,
    /// the first time (when its JSON is made) and after (when it is kept).
    #[test]
    fn shared_subtrees_encode_as_the_values_they_hold() {
        let def = crate::model::description(crate::model::site_info::NAME).unwrap();
        let schema = def.returns.as_ref().unwrap();
        let types = super::soap::Types::of(&[def]);
        let encodings = |v: &Value| {
            [
                super::encode::json(v).into_bytes(),
                super::encode::xml_response(Some(v), Some(schema)).into_bytes(),
                super::xmlrpc::method_response(Some(v)).into_bytes(),
                super::soap::response_envelope("http://x", def.name(), def, Some(v), &types).into_bytes(),
                super::amf::encode_packet(0, &[("/1/onResult".into(), super::amf::to_amf0(v))]),
                super::amf::encode_packet(
                    3,
                    &[("/1/onResult".into(), super::amf::amf0::Value::AvmPlus(super::amf::to_amf3(v)))],
                ),
            ]
        };
        let plain = site_info_answer(false);
        let shared = site_info_answer(true);
        assert_eq!(plain, shared, "they read alike");
        assert!(matches!(shared.get("functions"), Some(Value::Shared(_))));
        let expected = encodings(&plain);
        for round in 0..2 {
            assert_eq!(encodings(&shared), expected, "round {round}");
        }
        assert!(super::encode::json(&shared).contains(r#""name":"a\/b \"\u00e9\"""#));
    }
}
