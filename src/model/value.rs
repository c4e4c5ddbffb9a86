//! The value tree that flows through external functions: parameters as decoded from a protocol
//! (PHP arrays of strings), and results before a protocol encodes them.

use std::sync::{Arc, OnceLock};

/// A key or string: most are constants of the code, which need no copy.
pub type Text = std::borrow::Cow<'static, str>;

/// A PHP-like value. `Map` keeps insertion order, as PHP arrays do; a PHP list is a `Map`
/// with keys "0", "1", … on input and a `List` on output.
#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Text),
    List(Vec<Value>),
    Map(Vec<(Text, Value)>),
    /// A subtree many answers hold alike, only ever in answers (never decoded from a request).
    /// It reads as the value it holds: code that looks inside a value goes through
    /// [`Value::resolved`].
    Shared(Arc<Shared>),
}

/// A subtree that many answers hold alike (site info's constant feature list, a service's
/// function list): built once and shared by reference instead of built, encoded and dropped
/// again on every call; its JSON is written once, the first time an answer holding it is.
#[derive(Debug)]
pub struct Shared {
    value: Value,
    json: OnceLock<Box<str>>,
    /// The first description it was checked against (by address: descriptions live as long
    /// as the program) and whether it was clean for it.
    clean: OnceLock<(usize, bool)>,
}

impl Shared {
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The value's JSON, made by `encode` the first time it is asked for. PHP's `json_encode`
    /// of a subtree does not depend on what holds it, so the bytes can be kept.
    pub fn json(&self, encode: impl FnOnce(&Value) -> String) -> &str {
        self.json.get_or_init(|| encode(&self.value).into_boxed_str())
    }

    /// Whether the value is clean for `desc` (as `check` finds), checked once for the first
    /// description asked about; a `'static` description's address names it for good.
    pub fn clean_against(&self, desc: &'static crate::model::schema::Schema, check: impl FnOnce() -> bool) -> bool {
        let id = std::ptr::from_ref(desc) as usize;
        if let Some((checked, clean)) = self.clean.get()
            && *checked == id
        {
            return *clean;
        }
        let clean = check();
        // Kept only by the first to check; another description is checked each time.
        let _ = self.clean.set((id, clean));
        clean
    }
}

/// Values are equal when they read alike, shared or not.
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self.resolved(), other.resolved()) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            _ => false,
        }
    }
}

impl Value {
    pub fn str(s: impl Into<Text>) -> Value {
        Value::Str(s.into())
    }

    /// `value` made a [`Shared`] subtree, to be cloned into many answers.
    pub fn shared(value: Value) -> Value {
        Value::Shared(Arc::new(Shared { value, json: OnceLock::new(), clean: OnceLock::new() }))
    }

    /// The value as it reads: a [`Value::Shared`]'s content, anything else itself. Never
    /// itself a `Shared`.
    pub fn resolved(&self) -> &Value {
        let mut v = self;
        while let Value::Shared(s) = v {
            v = &s.value;
        }
        v
    }

    /// The value owned and unshared at its top (a shared subtree is copied).
    pub fn unshared(self) -> Value {
        match self {
            Value::Shared(s) => s.value.clone().unshared(),
            v => v,
        }
    }

    /// A map from `(key, value)` pairs, in order.
    pub fn map<K: Into<Text>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        match self.resolved() {
            Value::Map(pairs) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self.resolved() {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self.resolved() {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.resolved() {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The items of a list (or of a map, in order, as PHP iterates an array).
    pub fn items(&self) -> Vec<&Value> {
        match self.resolved() {
            Value::List(v) => v.iter().collect(),
            Value::Map(pairs) => pairs.iter().map(|(_, v)| v).collect(),
            _ => Vec::new(),
        }
    }

    pub fn is_array(&self) -> bool {
        matches!(self.resolved(), Value::List(_) | Value::Map(_))
    }

    /// PHP's string conversion of a scalar, as Moodle's messages print values.
    pub fn php_string(&self) -> String {
        match self.resolved() {
            Value::Null => String::new(),
            Value::Bool(true) => "1".into(),
            Value::Bool(false) => String::new(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => php_float(*f),
            Value::Str(s) => s.to_string(),
            Value::List(_) | Value::Map(_) => "Array".into(),
            Value::Shared(_) => unreachable!("resolved"),
        }
    }

    /// PHP's `print_r`, as used in "Only arrays accepted. The bad value is: '…'".
    pub fn print_r(&self) -> String {
        match self.resolved() {
            Value::List(_) | Value::Map(_) => {
                let mut out = String::from("Array\n(\n");
                let pairs: Vec<(String, &Value)> = match self.resolved() {
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
