//! Parameter and return descriptions of external functions (Moodle's `external_value`,
//! `external_single_structure`, `external_multiple_structure`), and the two checks Moodle runs
//! with them: `validate_parameters` on input and `clean_returnvalue` on output
//! (moodle-ws-reference.md §6). The same descriptions drive XML encoding, XML-RPC positions,
//! the SOAP WSDL and the console's API documentation.

use super::value::{Text, Value, php_float};

/// Moodle's PARAM_* cleaning types used by the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    Int,
    Bool,
    Float,
    Raw,
    Text,
    Notags,
    Alphanum,
    Alphanumext,
    Username,
    Email,
    Url,
    Lang,
    Plugin,
    Theme,
    Timezone,
    Auth,
}

impl ParamType {
    /// The PARAM constant's value, as Moodle prints it in debuginfo.
    pub fn name(self) -> &'static str {
        match self {
            ParamType::Int => "int",
            ParamType::Bool => "bool",
            ParamType::Float => "float",
            ParamType::Raw => "raw",
            ParamType::Text => "text",
            ParamType::Notags => "notags",
            ParamType::Alphanum => "alphanum",
            ParamType::Alphanumext => "alphanumext",
            ParamType::Username => "username",
            ParamType::Email => "email",
            ParamType::Url => "url",
            ParamType::Lang => "lang",
            ParamType::Plugin => "plugin",
            ParamType::Theme => "theme",
            ParamType::Timezone => "timezone",
            ParamType::Auth => "auth",
        }
    }
}

/// VALUE_REQUIRED, VALUE_OPTIONAL, VALUE_DEFAULT.
#[derive(Debug, Clone, PartialEq)]
pub enum Presence {
    Required,
    Optional,
    Default(Value),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Schema {
    Value { ty: ParamType, desc: &'static str, presence: Presence },
    Single { keys: Vec<(&'static str, Schema)>, desc: &'static str, presence: Presence },
    Multiple { item: Box<Schema>, desc: &'static str, presence: Presence },
}

pub fn value(ty: ParamType, desc: &'static str) -> Schema {
    Schema::Value { ty, desc, presence: Presence::Required }
}

pub fn single(desc: &'static str, keys: Vec<(&'static str, Schema)>) -> Schema {
    Schema::Single { keys, desc, presence: Presence::Required }
}

pub fn multiple(item: Schema, desc: &'static str) -> Schema {
    Schema::Multiple { item: Box::new(item), desc, presence: Presence::Required }
}

impl Schema {
    pub fn presence(&self) -> &Presence {
        match self {
            Schema::Value { presence, .. } | Schema::Single { presence, .. } | Schema::Multiple { presence, .. } => {
                presence
            }
        }
    }

    fn with_presence(mut self, p: Presence) -> Schema {
        match &mut self {
            Schema::Value { presence, .. } | Schema::Single { presence, .. } | Schema::Multiple { presence, .. } => {
                *presence = p
            }
        }
        self
    }

    pub fn optional(self) -> Schema {
        self.with_presence(Presence::Optional)
    }

    pub fn default(self, v: Value) -> Schema {
        self.with_presence(Presence::Default(v))
    }

    pub fn desc(&self) -> &'static str {
        match self {
            Schema::Value { desc, .. } | Schema::Single { desc, .. } | Schema::Multiple { desc, .. } => desc,
        }
    }

    /// The structure as Moodle's API documentation page prints it, one line each:
    /// `name (Required|Optional|Default to "x") type //description`.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.describe_into("", 0, &mut out);
        out
    }

    fn describe_into(&self, name: &str, depth: usize, out: &mut Vec<String>) {
        let pad = "  ".repeat(depth);
        let presence = match self.presence() {
            Presence::Required => "Required".to_string(),
            Presence::Optional => "Optional".to_string(),
            Presence::Default(v) => format!("Default to \"{}\"", v.php_string()),
        };
        let label = if name.is_empty() { String::new() } else { format!("{name} ({presence}) ") };
        match self {
            Schema::Value { ty, desc, .. } => out.push(format!("{pad}{label}{} //{desc}", ty.name())),
            Schema::Single { keys, desc, .. } => {
                if depth > 0 || !name.is_empty() {
                    out.push(format!("{pad}{label}object {{ //{desc}"));
                }
                let inner = if depth > 0 || !name.is_empty() { depth + 1 } else { depth };
                for (k, sub) in keys {
                    sub.describe_into(k, inner, out);
                }
                if depth > 0 || !name.is_empty() {
                    out.push(format!("{pad}}}"));
                }
            }
            Schema::Multiple { item, desc, .. } => {
                out.push(format!("{pad}{label}list of ( //{desc}"));
                item.describe_into("", depth + 1, out);
                out.push(format!("{pad})"));
            }
        }
    }
}

/// A validation failure: Moodle's `invalid_parameter_exception` debuginfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

const INVALID: &str = "Invalid parameter value detected";

fn nested(key: &str, inner: Invalid) -> Invalid {
    Invalid(format!("{key} => {INVALID}: {}", inner.0))
}

/// Moodle's `external_api::validate_parameters` for a function's parameter description (a
/// single structure): checks types, fills defaults, rejects unknown keys.
pub fn validate(desc: &Schema, params: &Value) -> Result<Value, Invalid> {
    let params = params.resolved();
    match desc {
        Schema::Value { ty, .. } => validate_scalar(*ty, params),
        Schema::Single { keys, .. } => {
            let Value::Map(pairs) = params else {
                return Err(Invalid(format!("Only arrays accepted. The bad value is: '{}'", params.print_r())));
            };
            let mut result = Vec::new();
            for (key, sub) in keys {
                match pairs.iter().find(|(k, _)| k == key) {
                    None => match sub.presence() {
                        Presence::Required => {
                            return Err(Invalid(format!("Missing required key in single structure: {key}")));
                        }
                        Presence::Default(d) => {
                            result.push(((*key).into(), validate(sub, d).map_err(|e| nested(key, e))?))
                        }
                        Presence::Optional => {}
                    },
                    Some((_, v)) => result.push(((*key).into(), validate(sub, v).map_err(|e| nested(key, e))?)),
                }
            }
            let unexpected: Vec<&str> =
                pairs.iter().map(|(k, _)| &**k).filter(|k| !keys.iter().any(|(d, _)| d == k)).collect();
            if !unexpected.is_empty() {
                return Err(Invalid(format!(
                    "Unexpected keys ({}) detected in parameter array.",
                    unexpected.join(", ")
                )));
            }
            Ok(Value::Map(result))
        }
        Schema::Multiple { item, .. } => {
            if !params.is_array() {
                return Err(Invalid(format!("Only arrays accepted. The bad value is: '{}'", params.print_r())));
            }
            // Keys are ignored: values are re-indexed.
            let items = params.items().into_iter().map(|v| validate(item, v)).collect::<Result<_, _>>()?;
            Ok(Value::List(items))
        }
    }
}

fn validate_scalar(ty: ParamType, v: &Value) -> Result<Value, Invalid> {
    if v.is_array() {
        return Err(Invalid("Scalar type expected, array or object received.".into()));
    }
    if ty == ParamType::Bool {
        match v {
            Value::Bool(b) => return Ok(Value::Bool(*b)),
            Value::Int(0) => return Ok(Value::Bool(false)),
            Value::Int(1) => return Ok(Value::Bool(true)),
            Value::Str(s) if s == "0" => return Ok(Value::Bool(false)),
            Value::Str(s) if s == "1" => return Ok(Value::Bool(true)),
            _ => {}
        }
    }
    let text = v.php_string();
    let debuginfo = || {
        Invalid(format!(
            "Invalid external api parameter: the value is \"{text}\", the server was expecting \"{}\" type",
            ty.name()
        ))
    };
    typed(ty, &text).ok_or_else(debuginfo)
}

/// `validate_param`: the value must survive its type's cleaning unchanged.
fn typed(ty: ParamType, s: &str) -> Option<Value> {
    let same = |cleaned: String| (cleaned == s).then(|| Value::str(s.to_string()));
    match ty {
        ParamType::Int => s.parse::<i64>().ok().filter(|i| i.to_string() == s).map(Value::Int),
        ParamType::Bool => None,
        ParamType::Float => is_php_float(s).then(|| s.parse::<f64>().ok().map(Value::Float)).flatten(),
        ParamType::Raw => Some(Value::str(s.to_string())),
        ParamType::Text | ParamType::Notags => same(strip_tags(s)),
        ParamType::Alphanum => same(s.chars().filter(char::is_ascii_alphanumeric).collect()),
        ParamType::Alphanumext => {
            same(s.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-')).collect())
        }
        ParamType::Username => same(
            s.trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | '@' | '_'))
                .collect(),
        ),
        ParamType::Email => {
            (s.is_empty() || crate::domain::validate::email(s).is_ok_and(|e| e == s)).then(|| Value::str(s.to_owned()))
        }
        ParamType::Url => (s.is_empty() || s.starts_with("http://") || s.starts_with("https://") || s.starts_with('/'))
            .then(|| Value::str(s.to_owned())),
        ParamType::Lang | ParamType::Plugin | ParamType::Theme | ParamType::Auth => {
            let ok = s.is_empty() || s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            ok.then(|| Value::str(s.to_owned()))
        }
        ParamType::Timezone => {
            let ok = s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '/' | '+' | '-' | '.' | ':'));
            ok.then(|| Value::str(s.to_owned()))
        }
    }
}

/// PHP's numeric-string test for PARAM_FLOAT.
fn is_php_float(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

/// PHP's `strip_tags`, enough for PARAM_TEXT/NOTAGS: removes `<…>` runs that start a tag.
fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '<' && chars.peek().is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?')) {
            for d in chars.by_ref() {
                if d == '>' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A return value that does not match its description: Moodle's `invalid_response_exception`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidResponse(pub String);

/// Moodle's `clean_returnvalue`: orders single structures by their description, fills
/// defaults, drops unknown keys and omits missing optional ones, and types every scalar.
/// Takes the value by move: a result is cleaned once, so nothing needs copying. Descriptions
/// live as long as the program, which lets a shared subtree remember that it is clean.
pub fn clean_return(desc: &'static Schema, v: Value) -> Result<Value, InvalidResponse> {
    if is_clean(desc, &v) { Ok(v) } else { clean_value(desc, v) }
}

fn clean_value(desc: &Schema, v: Value) -> Result<Value, InvalidResponse> {
    // A shared subtree that is not clean as it stands is cleaned as a copy.
    let v = v.unshared();
    match desc {
        Schema::Value { ty, .. } => match (ty, v) {
            (_, Value::Null) => Ok(Value::Null),
            (_, Value::List(_) | Value::Map(_)) => {
                Err(InvalidResponse("Scalar type expected, array or object received.".into()))
            }
            (ParamType::Bool, v @ Value::Bool(_)) => Ok(v),
            (ParamType::Bool, Value::Int(i @ (0 | 1))) => Ok(Value::Bool(i == 1)),
            (ParamType::Int, v @ Value::Int(_)) => Ok(v),
            (ParamType::Int, Value::Bool(b)) => Ok(Value::Int(i64::from(b))),
            (ParamType::Float, v @ Value::Float(_)) => Ok(v),
            (ParamType::Float, Value::Int(i)) => Ok(Value::Float(i as f64)),
            (ParamType::Int | ParamType::Bool | ParamType::Float, v) => Err(InvalidResponse(format!(
                "Invalid external api response: the value is \"{}\", the server was expecting \"{}\" type",
                v.php_string(),
                ty.name()
            ))),
            (_, Value::Float(f)) => Ok(Value::str(php_float(f))),
            (_, v @ Value::Str(_)) => Ok(v),
            (_, v) => Ok(Value::str(v.php_string())),
        },
        Schema::Single { keys, .. } => {
            let given = match v {
                Value::Map(pairs) => pairs,
                other => {
                    return Err(InvalidResponse(format!(
                        "Only arrays accepted. The bad value is: '{}'",
                        other.print_r()
                    )));
                }
            };
            let mut out = Vec::with_capacity(keys.len());
            // Functions usually return keys in description order: look where the next one
            // should be before searching them all.
            let mut given: Vec<Option<(Text, Value)>> = given.into_iter().map(Some).collect();
            let mut cursor = 0;
            for (key, sub) in keys {
                let at_cursor = given.get(cursor).and_then(Option::as_ref).is_some_and(|(k, _)| k == key);
                let found = if at_cursor {
                    Some(cursor)
                } else {
                    given.iter().position(|g| g.as_ref().is_some_and(|(k, _)| k == key))
                };
                let taken = found.and_then(|i| {
                    cursor = i + 1;
                    given[i].take()
                });
                match taken {
                    Some((k, val)) => {
                        out.push((k, clean_value(sub, val).map_err(|e| InvalidResponse(format!("{key} => {}", e.0)))?));
                    }
                    None => match sub.presence() {
                        Presence::Required => {
                            return Err(InvalidResponse(format!(
                                "Error in response - Missing following required key in a single structure: {key}"
                            )));
                        }
                        Presence::Default(d) => out.push(((*key).into(), clean_value(sub, d.clone())?)),
                        Presence::Optional => {}
                    },
                }
            }
            Ok(Value::Map(out))
        }
        Schema::Multiple { item, .. } => match v {
            Value::List(items) => {
                Ok(Value::List(items.into_iter().map(|i| clean_value(item, i)).collect::<Result<_, _>>()?))
            }
            Value::Map(pairs) => {
                Ok(Value::List(pairs.into_iter().map(|(_, i)| clean_value(item, i)).collect::<Result<_, _>>()?))
            }
            other => Err(InvalidResponse(format!("Only arrays accepted. The bad value is: '{}'", other.print_r()))),
        },
    }
}

/// Whether [`clean_return`] would give `v` back unchanged: every key in description order with
/// nothing to fill in, and every scalar already of its type. Functions build their answers so,
/// and checking is much cheaper than rebuilding. A shared subtree is checked once per
/// description.
pub(crate) fn is_clean(desc: &'static Schema, v: &Value) -> bool {
    if let Value::Shared(shared) = v {
        return shared.clean_against(desc, || is_clean(desc, shared.value()));
    }
    match (desc, v) {
        (Schema::Value { .. }, Value::Null) => true,
        (Schema::Value { ty, .. }, v) => match ty {
            ParamType::Bool => matches!(v, Value::Bool(_)),
            ParamType::Int => matches!(v, Value::Int(_)),
            ParamType::Float => matches!(v, Value::Float(_)),
            _ => matches!(v, Value::Str(_)),
        },
        (Schema::Single { keys, .. }, Value::Map(pairs)) => {
            let mut given = pairs.iter().peekable();
            for (key, sub) in keys {
                match given.peek() {
                    Some((k, val)) if k == key => {
                        if !is_clean(sub, val) {
                            return false;
                        }
                        given.next();
                    }
                    _ if matches!(sub.presence(), Presence::Optional) => {}
                    _ => return false,
                }
            }
            given.next().is_none()
        }
        (Schema::Multiple { item, .. }, Value::List(items)) => items.iter().all(|i| is_clean(item, i)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users_desc() -> Schema {
        single(
            "",
            vec![(
                "users",
                multiple(
                    single(
                        "",
                        vec![
                            ("username", value(ParamType::Username, "")),
                            ("lastname", value(ParamType::Notags, "")),
                            ("mailformat", value(ParamType::Int, "").optional()),
                            ("lang", value(ParamType::Lang, "").default(Value::str("en"))),
                        ],
                    ),
                    "",
                ),
            )],
        )
    }

    fn user(pairs: &[(&str, &str)]) -> Value {
        Value::map([(
            "users",
            Value::map([("0", Value::map(pairs.iter().map(|(k, v)| (k.to_string(), Value::str(v.to_string())))))]),
        )])
    }

    #[test]
    fn moodle_debuginfo_paths() {
        let d = users_desc();
        assert_eq!(
            validate(&d, &user(&[("username", "x")])).unwrap_err().0,
            "users => Invalid parameter value detected: Missing required key in single structure: lastname"
        );
        assert_eq!(
            validate(&d, &user(&[("username", "x"), ("lastname", "L"), ("mailformat", "notanint")])).unwrap_err().0,
            "users => Invalid parameter value detected: mailformat => Invalid parameter value detected: Invalid external api parameter: the value is \"notanint\", the server was expecting \"int\" type"
        );
        assert_eq!(
            validate(&d, &user(&[("username", "x"), ("lastname", "L"), ("bogus", "1")])).unwrap_err().0,
            "users => Invalid parameter value detected: Unexpected keys (bogus) detected in parameter array."
        );
        assert_eq!(validate(&d, &Value::Map(vec![])).unwrap_err().0, "Missing required key in single structure: users");
        assert_eq!(
            validate(&d, &Value::map([("users", Value::str("x"))])).unwrap_err().0,
            "users => Invalid parameter value detected: Only arrays accepted. The bad value is: 'x'"
        );
    }

    #[test]
    fn defaults_filled_optional_omitted_lists_reindexed() {
        let ok = validate(&users_desc(), &user(&[("lastname", "L"), ("username", "jdoe")])).unwrap();
        assert_eq!(
            ok,
            Value::map([(
                "users",
                Value::List(vec![Value::map([
                    ("username", Value::str("jdoe")),
                    ("lastname", Value::str("L")),
                    ("lang", Value::str("en")),
                ])])
            )])
        );
    }

    #[test]
    fn scalar_types_follow_validate_param() {
        let check = |ty, s: &str| typed(ty, s).is_some();
        assert!(check(ParamType::Int, "12") && check(ParamType::Int, "-3"));
        assert!(!check(ParamType::Int, "012") && !check(ParamType::Int, "1.0") && !check(ParamType::Int, " 1"));
        assert!(check(ParamType::Float, "1.5") && check(ParamType::Float, "-2e3") && check(ParamType::Float, ".5"));
        assert!(!check(ParamType::Float, "1.5x") && !check(ParamType::Float, ""));
        assert!(check(ParamType::Username, "wsuser") && !check(ParamType::Username, "WSUser"));
        assert!(check(ParamType::Alphanumext, "my_svc-1") && !check(ParamType::Alphanumext, "a b"));
        assert!(check(ParamType::Text, "Plain") && !check(ParamType::Text, "<b>bold</b>"));
        assert!(check(ParamType::Text, "a < b"));
        assert_eq!(validate_scalar(ParamType::Bool, &Value::str("1")), Ok(Value::Bool(true)));
        assert!(validate_scalar(ParamType::Bool, &Value::str("true")).is_err());
        assert_eq!(
            validate_scalar(ParamType::Int, &Value::map([("0", Value::str("1"))])).unwrap_err().0,
            "Scalar type expected, array or object received."
        );
    }

    /// A description that lives as long as the program, as the catalogue's do.
    fn leaked(d: Schema) -> &'static Schema {
        Box::leak(Box::new(d))
    }

    #[test]
    fn clean_return_orders_and_types() {
        let d = leaked(single(
            "",
            vec![
                ("id", value(ParamType::Int, "")),
                ("name", value(ParamType::Raw, "")),
                ("flag", value(ParamType::Bool, "").optional()),
                ("extra", value(ParamType::Raw, "").optional()),
            ],
        ));
        let out = clean_return(d, Value::map([("name", Value::Int(5)), ("id", Value::Int(1)), ("junk", Value::Null)]))
            .unwrap();
        assert_eq!(out, Value::map([("id", Value::Int(1)), ("name", Value::str("5"))]));
        let err = clean_return(d, Value::map([("name", Value::str("x"))])).unwrap_err();
        assert_eq!(err.0, "Error in response - Missing following required key in a single structure: id");
    }

    #[test]
    fn a_clean_answer_is_kept_and_only_a_clean_one() {
        let d = leaked(single(
            "",
            vec![
                ("id", value(ParamType::Int, "")),
                ("on", value(ParamType::Bool, "").optional()),
                ("tags", multiple(single("", vec![("name", value(ParamType::Raw, ""))]), "")),
                ("lang", value(ParamType::Lang, "").default(Value::str("en"))),
            ],
        ));
        let tags = |names: &[&'static str]| {
            Value::List(names.iter().map(|n| Value::map([("name", Value::str(*n))])).collect())
        };
        let answers = [
            // Clean: in order, typed, the optional key left out.
            Value::map([("id", Value::Int(1)), ("tags", tags(&["a"])), ("lang", Value::str("fr"))]),
            Value::map([("id", Value::Int(1)), ("on", Value::Bool(true)), ("tags", tags(&[])), ("lang", Value::Null)]),
            // Not clean: each needs the full cleaning, which changes it.
            Value::map([("tags", tags(&[])), ("id", Value::Int(1)), ("lang", Value::str("fr"))]),
            Value::map([("id", Value::Bool(true)), ("tags", tags(&[])), ("lang", Value::str("fr"))]),
            Value::map([("id", Value::Int(1)), ("on", Value::Int(1)), ("tags", tags(&[])), ("lang", Value::str("fr"))]),
            Value::map([("id", Value::Int(1)), ("tags", tags(&[]))]),
            Value::map([("id", Value::Int(1)), ("tags", tags(&[])), ("lang", Value::str("fr")), ("x", Value::Null)]),
            Value::map([
                ("id", Value::Int(1)),
                ("tags", Value::map([("0", Value::map([("name", Value::str("a"))]))])),
                ("lang", Value::str("fr")),
            ]),
            Value::map([("id", Value::Int(1)), ("tags", tags(&["a"])), ("lang", Value::Float(2.5))]),
        ];
        for (i, answer) in answers.into_iter().enumerate() {
            let full = clean_value(d, answer.clone()).unwrap();
            assert_eq!(is_clean(d, &answer), i < 2, "answer {i}");
            assert_eq!(is_clean(d, &answer), full == answer, "answer {i}");
            assert_eq!(clean_return(d, answer).unwrap(), full, "answer {i}");
        }
        // Errors still come from the full cleaning.
        assert!(clean_return(d, Value::map([("tags", tags(&[]))])).is_err());
    }

    /// A shared subtree remembers whether it is clean for the description it was first
    /// checked against, and only for that one.
    #[test]
    fn a_shared_subtree_is_checked_once_per_description() {
        let names = leaked(multiple(single("", vec![("name", value(ParamType::Raw, ""))]), ""));
        let numbers = leaked(multiple(single("", vec![("name", value(ParamType::Int, ""))]), ""));
        let list = Value::shared(Value::List(vec![Value::map([("name", Value::str("a"))])]));
        for _ in 0..2 {
            assert!(is_clean(names, &list));
            assert!(!is_clean(numbers, &list));
        }
        let other = Value::shared(Value::List(vec![Value::map([("name", Value::str("a"))])]));
        assert!(!is_clean(numbers, &other), "first checked against the other description");
        assert!(is_clean(names, &other));
        // Not clean: cleaned as a copy, the shared value left as it is.
        assert!(clean_return(numbers, other.clone()).is_err());
        let wrapped =
            leaked(single("", vec![("l", multiple(single("", vec![("name", value(ParamType::Raw, ""))]), ""))]));
        let unordered = Value::shared(Value::map([("x", Value::Null), ("l", other.clone())]));
        assert_eq!(clean_return(wrapped, unordered).unwrap(), Value::map([("l", other)]));
    }
}
