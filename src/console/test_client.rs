//! The test client's call: built in the access check's protocol, with a token (`server.php`) or
//! a username and password (`simpleserver.php`), sent to the endpoint at the site URL, and its
//! answer made readable. It runs as a background job: a key never waits for the network.

use crate::domain::Protocol;
use crate::domain::routes::{self, Auth};
use crate::model::value::Value;
use std::collections::HashMap;
use std::time::Duration;

/// How the call authenticates.
pub enum Credentials {
    Token(String),
    Password { username: String, password: String },
}

pub struct Call {
    pub site: String,
    pub protocol: Protocol,
    pub function: String,
    pub credentials: Credentials,
    /// The form's fields (REST names, `users[0][username]`), those left empty omitted.
    pub fields: Vec<(String, String)>,
}

impl Call {
    /// The URL (secrets included: it is never shown or logged), content type and body.
    fn request(&self) -> (String, &'static str, Vec<u8>) {
        let site = self.site.trim_end_matches('/');
        let function = self.function.clone();
        let (script, auth): (Auth, Vec<(&str, &str)>) = match &self.credentials {
            Credentials::Token(t) => (Auth::Token, vec![("wstoken", t)]),
            Credentials::Password { username, password } => {
                (Auth::Password, vec![("wsusername", username), ("wspassword", password)])
            }
        };
        let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(&auth).finish();
        let fields = self.fields.clone();
        let url = format!("{site}{}", routes::server(self.protocol, script));
        match self.protocol {
            Protocol::Rest => {
                let mut pairs: Vec<(String, String)> =
                    auth.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect();
                pairs.push(("wsfunction".into(), function));
                pairs.push(("moodlewsrestformat".into(), "json".into()));
                pairs.extend(fields);
                let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
                (url, "application/x-www-form-urlencoded", body.into_bytes())
            }
            Protocol::Xmlrpc => {
                // Positional: the declared parameters in order, up to the first one left empty.
                let values: Vec<Value> = named_args(&function, fields).into_iter().map_while(|(_, v)| v).collect();
                (
                    format!("{url}?{query}"),
                    "text/xml",
                    crate::wire::xmlrpc::method_call(&function, &values).into_bytes(),
                )
            }
            Protocol::Soap => {
                let parts: Vec<(String, Value)> =
                    named_args(&function, fields).into_iter().filter_map(|(k, v)| Some((k, v?))).collect();
                let body = crate::wire::soap::call_envelope(&function, &parts);
                (format!("{url}?{query}"), "text/xml; charset=utf-8", body.into_bytes())
            }
            Protocol::Amf => {
                let values: Vec<Value> = named_args(&function, fields).into_iter().map_while(|(_, v)| v).collect();
                (format!("{url}?{query}"), "application/x-amf", crate::wire::amf::call_packet(&function, &values))
            }
        }
    }

    /// Sends the call; the answer as the test client shows it, or why there is none.
    pub fn send(&self) -> String {
        let (url, content_type, body) = self.request();
        let shown = url.split('?').next().unwrap_or(&url).to_string();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .into();
        let answer = agent
            .post(&url)
            .header("Content-Type", content_type)
            .send(&body[..])
            .map_err(|e| format!("cannot reach the endpoint at {shown}: {e} (is `wsconsole serve` running?)"))
            .and_then(|mut r| {
                let status = r.status();
                r.body_mut()
                    .read_to_vec()
                    .map(|bytes| format!("HTTP {} from {shown}\n{}", status.as_u16(), readable(self.protocol, bytes)))
                    .map_err(|e| e.to_string())
            });
        answer.unwrap_or_else(|e| e)
    }
}

/// An answer as the test client shows it: JSON indented, AMF decoded (its reply target, then
/// the value as JSON), anything else as it came.
fn readable(protocol: Protocol, bytes: Vec<u8>) -> String {
    if protocol == Protocol::Amf && !bytes.is_empty() {
        return match crate::wire::amf::parse_packet(&bytes) {
            Ok(p) => p
                .messages
                .into_iter()
                .map(|m| {
                    let value = match m.body {
                        crate::wire::amf::Body::Call(mut v) if v.len() == 1 => v.remove(0),
                        crate::wire::amf::Body::Call(v) => Value::List(v),
                        crate::wire::amf::Body::Flex(f) => Value::List(f.params),
                    };
                    format!("{}\n{}", m.target, pretty(crate::wire::encode::json(&value)))
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Err(e) => format!("(not an AMF packet: {e})"),
        };
    }
    pretty(String::from_utf8_lossy(&bytes).into_owned())
}

fn pretty(text: String) -> String {
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or(text)
}

/// The test form's fields (REST names, `users[0][username]`) as the function's parameters,
/// in declared order; `None` for a parameter left empty.
fn named_args(function: &str, fields: Vec<(String, String)>) -> Vec<(String, Option<Value>)> {
    let mut given = crate::wire::params::from_pairs(fields).unwrap_or_default();
    let keys = crate::model::description(function).map(crate::model::Description::param_names).unwrap_or_default();
    keys.into_iter()
        .map(|k| {
            let value = given.iter().position(|(name, _)| name == k).map(|i| given.remove(i).1.into_lists());
            (k.to_string(), value)
        })
        .collect()
}

/// The REST parameter names of a function's test form: each scalar leaf of its parameter
/// schema, with the first list item's brackets (`users[0][username]`).
pub fn test_params(function: &str) -> &'static [&'static str] {
    use crate::model::schema::Schema;
    use std::sync::OnceLock;
    static CACHE: OnceLock<HashMap<&'static str, Vec<&'static str>>> = OnceLock::new();
    fn leaves(prefix: String, s: &Schema, out: &mut Vec<&'static str>) {
        match s {
            Schema::Value { .. } => out.push(Box::leak(prefix.into_boxed_str())),
            Schema::Single { keys, .. } => {
                for (k, sub) in keys {
                    let name = if prefix.is_empty() { (*k).to_string() } else { format!("{prefix}[{k}]") };
                    leaves(name, sub, out);
                }
            }
            Schema::Multiple { item, .. } => leaves(format!("{prefix}[0]"), item, out),
        }
    }
    let cache = CACHE.get_or_init(|| {
        crate::model::all()
            .iter()
            .map(|d| {
                let mut out = Vec::new();
                leaves(String::new(), &d.params, &mut out);
                out.truncate(12);
                (d.info.name, out)
            })
            .collect()
    });
    cache.get(function).map_or(&[], Vec::as_slice)
}
