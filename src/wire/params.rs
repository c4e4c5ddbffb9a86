//! Parameters as PHP builds `$_GET`/`$_POST` from form fields: PHP bracket syntax
//! (`users[0][username]=x`, `values[]=y`), query and body merged with the body winning
//! (`array_merge($_GET, $_POST)`). Bounded in count and depth.

use super::MAX_DEPTH;
use crate::model::value::{Text, Value};

/// PHP's `max_input_vars` default.
pub const MAX_PARAMS: usize = 1000;
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamError {
    TooMany,
    TooDeep,
    /// A multipart body that does not parse.
    Malformed(String),
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamError::TooMany => write!(f, "more than {MAX_PARAMS} parameters"),
            ParamError::TooDeep => write!(f, "parameter brackets nested deeper than {MAX_DEPTH}"),
            ParamError::Malformed(why) => write!(f, "malformed multipart body: {why}"),
        }
    }
}

/// Parses one urlencoded string into a PHP-like map.
pub fn parse(input: &[u8]) -> Result<Vec<(Text, Value)>, ParamError> {
    match plain_pairs(input) {
        Some(pairs) => from_pairs(pairs.map(|(k, v)| (k, v.to_owned()))),
        None => from_pairs(form_urlencoded::parse(input).map(|(k, v)| (k, v.into_owned()))),
    }
}

/// `form_urlencoded::parse` for the usual request, text with nothing to decode (no `%`, no
/// `+`, valid UTF-8): the same pairs, borrowed, without decoding each name and value apart.
/// `None` when there is something to decode.
fn plain_pairs(input: &[u8]) -> Option<impl Iterator<Item = (&str, &str)>> {
    if input.iter().any(|b| matches!(b, b'%' | b'+')) {
        return None;
    }
    let text = std::str::from_utf8(input).ok()?;
    Some(text.split('&').filter(|field| !field.is_empty()).map(|field| field.split_once('=').unwrap_or((field, ""))))
}

/// Builds a PHP-like map from decoded (name, value) pairs, in order.
pub fn from_pairs<K: AsRef<str> + Into<String>>(
    pairs: impl IntoIterator<Item = (K, String)>,
) -> Result<Vec<(Text, Value)>, ParamError> {
    let mut root: Vec<(Text, Value)> = Vec::with_capacity(8);
    for (n, (key, value)) in pairs.into_iter().enumerate() {
        if n >= MAX_PARAMS {
            return Err(ParamError::TooMany);
        }
        let name = key.as_ref();
        if !name.is_empty() && !name.contains(['[', ' ', '.']) {
            // A plain name, the usual case: set as it is, with no path to build.
            match root.iter_mut().find(|(k, _)| k == name) {
                Some(slot) => slot.1 = Value::str(value),
                None => root.push((reserved(key), Value::str(value))),
            }
            continue;
        }
        let Some(path) = key_path(name)? else { continue };
        insert(&mut root, &path, Value::str(value));
    }
    Ok(root)
}

/// The names every call sends, as constants: a key of the request that is one of them needs
/// no copy of its own.
const RESERVED: [&str; 6] = ["wstoken", "wsfunction", "moodlewsrestformat", "wsusername", "wspassword", "service"];

fn reserved(key: impl AsRef<str> + Into<String>) -> Text {
    match RESERVED.iter().find(|r| **r == key.as_ref()) {
        Some(name) => Text::Borrowed(name),
        None => Text::Owned(key.into()),
    }
}

/// `array_merge($_GET, $_POST)`: a top-level key in the body replaces the query's.
pub fn merge(query: Vec<(Text, Value)>, body: Vec<(Text, Value)>) -> Vec<(Text, Value)> {
    let mut out = query;
    for (k, v) in body {
        match out.iter_mut().find(|(key, _)| *key == k) {
            Some(slot) => slot.1 = v,
            None => out.push((k, v)),
        }
    }
    out
}

/// The top-level name PHP files a field under: leading spaces dropped, cut at the first `[`,
/// spaces and dots made underscores (`" token[x]"` is `token`).
pub fn php_base_name(key: &str) -> String {
    split_base(key).0.replace([' ', '.'], "_")
}

/// A key without its leading spaces, split at its first `[`: the base name as written, and
/// the brackets after it.
fn split_base(key: &str) -> (&str, &str) {
    let key = key.trim_start_matches(' ');
    key.split_at(key.find('[').unwrap_or(key.len()))
}

/// Splits `name[a][b][]` into segments; `None` segment means `[]` (append). Returns `None`
/// for a key PHP ignores (empty name).
fn key_path(key: &str) -> Result<Option<Vec<Option<String>>>, ParamError> {
    let (base, mut rest) = split_base(key);
    if base.is_empty() {
        return Ok(None);
    }
    let mut path = vec![Some(php_base_name(key))];
    while let Some(stripped) = rest.strip_prefix('[') {
        let Some(close) = stripped.find(']') else {
            // An unclosed bracket becomes "_" and the rest stays part of the name, as in PHP.
            let name = format!("{}_{}", path[0].take().unwrap_or_default(), stripped);
            return Ok(Some(vec![Some(name)]));
        };
        let segment = &stripped[..close];
        path.push(if segment.is_empty() { None } else { Some(segment.to_string()) });
        if path.len() > MAX_DEPTH {
            return Err(ParamError::TooDeep);
        }
        rest = &stripped[close + 1..];
        if !rest.starts_with('[') {
            break; // PHP ignores anything after the last closing bracket.
        }
    }
    Ok(Some(path))
}

/// PHP's next array index: one above the largest integer key; `None` when that overflows
/// (PHP drops the element).
fn next_index(map: &[(Text, Value)]) -> Option<String> {
    match map.iter().filter_map(|(k, _)| k.parse::<i64>().ok()).filter(|i| *i >= 0).max() {
        None => Some("0".into()),
        Some(m) => m.checked_add(1).map(|n| n.to_string()),
    }
}

fn insert(map: &mut Vec<(Text, Value)>, path: &[Option<String>], value: Value) {
    let key = match &path[0] {
        Some(k) => k.clone(),
        None => match next_index(map) {
            Some(k) => k,
            None => return,
        },
    };
    if path.len() == 1 {
        match map.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => map.push((key.into(), value)),
        }
        return;
    }
    let pos = match map.iter().position(|(k, _)| *k == key) {
        Some(p) => {
            if !matches!(map[p].1, Value::Map(_)) {
                map[p].1 = Value::Map(Vec::new());
            }
            p
        }
        None => {
            map.push((key.into(), Value::Map(Vec::new())));
            map.len() - 1
        }
    };
    if let Value::Map(child) = &mut map[pos].1 {
        insert(child, &path[1..], value);
    }
}

/// The parameters as form fields in PHP's bracket syntax, what [`parse`] reads back: a list's
/// items and a map's keys in order (`users[0][username]=x`).
pub fn to_pairs(params: &Value) -> Vec<(String, String)> {
    fn walk(out: &mut Vec<(String, String)>, name: String, v: &Value) {
        match v {
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(out, format!("{name}[{i}]"), item);
                }
            }
            Value::Map(pairs) => {
                for (k, item) in pairs {
                    walk(out, format!("{name}[{k}]"), item);
                }
            }
            scalar => out.push((name, scalar.php_string())),
        }
    }
    let mut out = Vec::new();
    if let Value::Map(pairs) = params {
        for (k, v) in pairs {
            walk(&mut out, k.to_string(), v);
        }
    }
    out
}

/// Removes and returns a top-level string parameter.
pub fn take(map: &mut Vec<(Text, Value)>, name: &str) -> Option<String> {
    let pos = map.iter().position(|(k, _)| k == name)?;
    Some(match map.remove(pos).1 {
        Value::Str(s) => s.into_owned(),
        other => other.php_string(),
    })
}

#[cfg(test)]
mod tests {

    /// The shortcut for text with nothing to decode gives what `form_urlencoded` gives, and
    /// steps aside when there is something to decode.
    #[test]
    fn php_files_these_names_under_token() {
        for name in ["token", " token", "  token[]", "token[a][b]"] {
            assert_eq!(php_base_name(name), "token", "{name:?}");
        }
        for name in ["Token", "tok en", "t.oken", "[token]", "xtoken", "token_"] {
            assert_ne!(php_base_name(name), "token", "{name:?}");
        }
        // The same base name `from_pairs` files a value under.
        let filed = from_pairs([(" token[x]".to_string(), "v".to_string())]).unwrap();
        assert_eq!(filed[0].0.as_ref(), "token");
    }

    #[test]
    fn plain_text_parses_as_form_urlencoded_does() {
        let inputs = [
            "wstoken=abc&wsfunction=core_webservice_get_site_info&moodlewsrestformat=json",
            "",
            "&&a=1&&b&=x&c==d&e=f=g&",
            "users[0][username]=ann&values[]=y&values[]=z",
            "k=é&ü=1",
            "a b=c.d",
        ];
        for input in inputs {
            let shortcut: Vec<(String, String)> =
                plain_pairs(input.as_bytes()).unwrap().map(|(k, v)| (k.into(), v.into())).collect();
            let crate_pairs: Vec<(String, String)> =
                form_urlencoded::parse(input.as_bytes()).map(|(k, v)| (k.into(), v.into())).collect();
            assert_eq!(shortcut, crate_pairs, "{input:?}");
        }
        assert!(plain_pairs(b"a=%41").is_none());
        assert!(plain_pairs(b"a=b+c").is_none());
        assert!(plain_pairs(b"a=\xff").is_none());
        assert_eq!(
            parse(b"a=%41&b=x+y").unwrap(),
            vec![("a".into(), Value::str("A")), ("b".into(), Value::str("x y"))]
        );
    }
    use super::*;

    fn s(v: &str) -> Value {
        Value::str(v.to_owned())
    }

    #[test]
    fn php_brackets_build_nested_arrays() {
        let p = parse(b"users[0][username]=jdoe&users[0][email]=a%40b.c&users[1][username]=x&values[]=a&values[]=b")
            .unwrap();
        assert_eq!(
            p,
            vec![
                (
                    "users".into(),
                    Value::map([
                        ("0", Value::map([("username", s("jdoe")), ("email", s("a@b.c"))])),
                        ("1", Value::map([("username", s("x"))])),
                    ])
                ),
                ("values".into(), Value::map([("0", s("a")), ("1", s("b"))])),
            ]
        );
    }

    #[test]
    fn percent_encoded_brackets_and_plus() {
        let p = parse(b"criteria%5B0%5D%5Bkey%5D=email&q=a+b").unwrap();
        assert_eq!(p[0].1, Value::map([("0", Value::map([("key", s("email"))]))]));
        assert_eq!(p[1].1, s("a b"));
    }

    #[test]
    fn php_name_quirks() {
        let p = parse(b"a.b=1&c d=2&e[x=3&[]=4&f[a]junk=5").unwrap();
        let keys: Vec<&str> = p.iter().map(|(k, _)| &**k).collect();
        assert_eq!(keys, ["a_b", "c_d", "e_x", "f"]);
        assert_eq!(p[3].1, Value::map([("a", s("5"))]));
    }

    #[test]
    fn later_values_win_and_body_replaces_query() {
        let p = parse(b"a=1&a=2").unwrap();
        assert_eq!(p, vec![("a".into(), s("2"))]);
        let merged = merge(parse(b"x[k]=1&y=q").unwrap(), parse(b"x=2").unwrap());
        assert_eq!(merged, vec![("x".into(), s("2")), ("y".into(), s("q"))]);
    }

    #[test]
    fn bounded() {
        let many: String = (0..=MAX_PARAMS).map(|i| format!("p{i}=1&")).collect();
        assert_eq!(parse(many.as_bytes()), Err(ParamError::TooMany));
        let deep = format!("a{}=1", "[x]".repeat(MAX_DEPTH + 1));
        assert_eq!(parse(deep.as_bytes()), Err(ParamError::TooDeep));
        // Invalid UTF-8 and broken escapes are decoded lossily, never rejected with a panic.
        assert!(parse(b"a=%ff%fe&b=%zz&c=\xff").is_ok());
        // An append after the largest index is dropped, as PHP does, not a panic.
        let p = parse(b"a[9223372036854775807]=1&a[]=2").unwrap();
        assert_eq!(p[0].1, Value::map([("9223372036854775807", s("1"))]));
    }

    #[test]
    fn reserved_names_are_the_constants_and_others_are_kept_as_sent() {
        let p = parse(b"wstoken=abc&wsfunctionx=1&service=s").unwrap();
        let keys: Vec<(&str, bool)> = p.iter().map(|(k, _)| (k.as_ref(), matches!(k, Text::Borrowed(_)))).collect();
        assert_eq!(keys, [("wstoken", true), ("wsfunctionx", false), ("service", true)]);
    }

    #[test]
    fn to_pairs_writes_what_parse_reads() {
        let form = b"users%5B0%5D%5Busername%5D=a&users%5B0%5D%5Bcustomfields%5D%5B0%5D%5Bvalue%5D=x%26y&users%5B1%5D%5Busername%5D=b&n=1";
        let parsed = Value::Map(parse(form).unwrap());
        let pairs = to_pairs(&parsed);
        assert_eq!(pairs[0], ("users[0][username]".to_string(), "a".to_string()));
        assert_eq!(pairs[1], ("users[0][customfields][0][value]".to_string(), "x&y".to_string()));
        let again: Vec<u8> = form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish().into();
        assert_eq!(Value::Map(parse(&again).unwrap()), parsed);
        // Lists (as the positional protocols decode them) are numbered in order.
        let listed = Value::map([("ids", Value::List(vec![Value::Int(4), Value::Bool(true)]))]);
        assert_eq!(to_pairs(&listed), [("ids[0]".into(), "4".into()), ("ids[1]".into(), "1".into())]);
    }

    #[test]
    fn take_removes_reserved_names() {
        let mut p = parse(b"wstoken=abc&x=1").unwrap();
        assert_eq!(take(&mut p, "wstoken").as_deref(), Some("abc"));
        assert_eq!(take(&mut p, "wstoken"), None);
        assert_eq!(p.len(), 1);
    }
}
