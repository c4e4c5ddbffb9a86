//! JSON as the call model's values: a Moodle site's REST answers, read back for the protocols
//! that re-encode them (XML-RPC, AMF) and for site info's rewrite.

use crate::model::value::Value;

/// The value tree of a JSON document, object keys in their order.
pub fn from_json(v: serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::str(s),
        serde_json::Value::Array(items) => Value::List(items.into_iter().map(from_json).collect()),
        serde_json::Value::Object(map) => Value::Map(map.into_iter().map(|(k, v)| (k.into(), from_json(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_becomes_the_same_tree_in_order() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"z":1,"a":[true,null,2.5,"x"],"m":{"k":"v"},"e":[]}"#).unwrap();
        assert_eq!(
            from_json(v),
            Value::map([
                ("z", Value::Int(1)),
                ("a", Value::List(vec![Value::Bool(true), Value::Null, Value::Float(2.5), Value::str("x")])),
                ("m", Value::map([("k", Value::str("v"))])),
                ("e", Value::List(vec![])),
            ])
        );
        assert_eq!(crate::wire::encode::json(&from_json(serde_json::json!({"u": "a/b"}))), r#"{"u":"a\/b"}"#);
    }
}
