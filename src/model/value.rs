//! The value tree that flows through external functions: parameters as decoded from a protocol
//! (PHP arrays of strings), and results before a protocol encodes them.

/// A key or string: most are constants of the code, which need no copy.
pub type Text = std::borrow::Cow<'static, str>;

/// A PHP-like value. `Map` keeps insertion order, as PHP arrays do; a PHP list is a `Map`
/// with keys "0", "1", … on input and a `List` on output.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Text),
    List(Vec<Value>),
    Map(Vec<(Text, Value)>),
}

impl Value {
    pub fn str(s: impl Into<Text>) -> Value {
        Value::Str(s.into())
    }

    /// A map from `(key, value)` pairs, in order.
    pub fn map<K: Into<Text>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(pairs) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The items of a list (or of a map, in order, as PHP iterates an array).
    pub fn items(&self) -> Vec<&Value> {
        match self {
            Value::List(v) => v.iter().collect(),
            Value::Map(pairs) => pairs.iter().map(|(_, v)| v).collect(),
            _ => Vec::new(),
        }
    }

    pub fn is_array(&self) -> bool {
        matches!(self, Value::List(_) | Value::Map(_))
    }

    /// PHP's string conversion of a scalar, as Moodle's messages print values.
    pub fn php_string(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(true) => "1".into(),
            Value::Bool(false) => String::new(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => php_float(*f),
            Value::Str(s) => s.to_string(),
            Value::List(_) | Value::Map(_) => "Array".into(),
        }
    }

    /// PHP's `print_r`, as used in "Only arrays accepted. The bad value is: '…'".
    pub fn print_r(&self) -> String {
        match self {
            Value::List(_) | Value::Map(_) => {
                let mut out = String::from("Array\n(\n");
                let pairs: Vec<(String, &Value)> = match self {
                    Value::List(v) => v.iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect(),
                    Value::Map(p) => p.iter().map(|(k, v)| (k.to_string(), v)).collect(),
                    _ => Vec::new(),
                };
                for (k, v) in pairs {
                    out.push_str(&format!("    [{k}] => {}\n", v.print_r().replace('\n', "\n        ")));
                }
                out.push_str(")\n");
                out
            }
            other => other.php_string(),
        }
    }
}

/// PHP 8's float to string: shortest round-trip form, integers without a fraction.
impl Value {
    /// Maps keyed "0", "1", … in order become lists, at every depth: what a form's
    /// `users[0][username]` means, in the protocols that have lists.
    pub fn into_lists(self) -> Value {
        match self {
            Value::Map(pairs)
                if !pairs.is_empty() && pairs.iter().enumerate().all(|(i, (k, _))| *k == i.to_string()) =>
            {
                Value::List(pairs.into_iter().map(|(_, v)| v.into_lists()).collect())
            }
            Value::Map(pairs) => Value::Map(pairs.into_iter().map(|(k, v)| (k, v.into_lists())).collect()),
            Value::List(items) => Value::List(items.into_iter().map(Value::into_lists).collect()),
            other => other,
        }
    }
}

pub fn php_float(f: f64) -> String {
    if f.is_finite() && f == f.trunc() && f.abs() < 1e15 { format!("{}", f as i64) } else { format!("{f}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn php_conversions() {
        assert_eq!(Value::Bool(true).php_string(), "1");
        assert_eq!(Value::Float(2.0).php_string(), "2");
        assert_eq!(Value::Float(2.5).php_string(), "2.5");
        let m = Value::map([("a", Value::str("x"))]);
        assert_eq!(m.print_r(), "Array\n(\n    [a] => x\n)\n");
        assert_eq!(m.get("a").and_then(Value::as_str), Some("x"));
    }

    #[test]
    fn numbered_maps_become_lists() {
        let form = Value::map([
            ("users", Value::map([("0", Value::map([("username", Value::str("a"))])), ("1", Value::Map(vec![]))])),
            ("odd", Value::map([("1", Value::str("x"))])),
        ]);
        assert_eq!(
            form.into_lists(),
            Value::map([
                ("users", Value::List(vec![Value::map([("username", Value::str("a"))]), Value::Map(vec![])])),
                ("odd", Value::map([("1", Value::str("x"))])),
            ])
        );
    }
}
