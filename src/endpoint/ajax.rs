//! Moodle's AJAX scripts under `/lib/ajax/`, as the Moodle app and its clones call them before
//! they log in: `service-nologin.php` (`?args=[…]` or a JSON body) and `service.php` (a JSON
//! body), answered as Moodle 4.5's `lib/ajax/service.php` answers them
//! (recordings `t2_nologin_*`, `t2_ajax_*`). The one function served is
//! `tool_mobile_get_public_config`, which Moodle allows without login; any other function Moodle
//! has gets `servicenotavailable` in the answer list (this endpoint has no login sessions), and a
//! name no Moodle has stops the request with Moodle's top-level `invalidrecord`, as Moodle's
//! function lookup does before its per-call error handling. Any other file under `/lib/ajax/`
//! answers as a PHP file that does not exist.

use super::answers::Refusal;
use super::incoming::Query;
use super::state::AppState;
use crate::domain::moodle_functions;
use crate::domain::{MOBILE_SERVICE, Settings};
use crate::model::value::Value;
use crate::store::Queries;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// The only function served here; Moodle allows it without login.
const PUBLIC_CONFIG: &str = "tool_mobile_get_public_config";
/// Calls in one request: Moodle has no limit, but no app sends more; a request of more is
/// refused whole.
const MAX_CALLS: usize = 50;
/// Bytes of requests at most: fifty calls of the public config fit many times over, and a
/// parsed JSON document takes several times its text.
const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// `/lib/ajax/service.php` (`NOLOGIN = false`) and `/lib/ajax/service-nologin.php`.
pub async fn service<const NOLOGIN: bool>(
    State(app): State<AppState>,
    uri: Uri,
    body: Bytes,
) -> Result<Response, Refusal> {
    // service-nologin.php defines ALLOW_GET_PARAMETERS: `args` in the query, else the body.
    let from_query = if NOLOGIN { Query::of(&uri).get("args").filter(|a| !a.is_empty()) } else { None };
    let raw: &[u8] = from_query.as_deref().map_or(&body, str::as_bytes);
    if raw.len() > MAX_REQUEST_BYTES {
        let too_large = format!("Request too large: at most {MAX_REQUEST_BYTES} bytes\n");
        return Ok((StatusCode::PAYLOAD_TOO_LARGE, too_large).into_response());
    }
    let snapshot = app.fresh.get().await.map_err(Refusal::unavailable)?;
    let settings = &snapshot.settings;
    let coding_error = |why: String| {
        fatal_error("codingerror", format!("Coding error detected, it must be fixed by a programmer: {why}"), settings)
    };
    let requests = match parse_requests(raw) {
        Ok(r) => r,
        Err(why) => return Ok(coding_error(format!("Invalid json in request: {why}"))),
    };
    if requests.len() > MAX_CALLS {
        return Ok(coding_error(format!("more than {MAX_CALLS} calls in one request")));
    }
    let mut answers: Vec<(i64, Value)> = Vec::new();
    for request in &requests {
        let method = clean_alphanumext(request.get("methodname").and_then(|m| m.as_str()).unwrap_or(""));
        let index = request.get("index").map_or(0, php_int);
        // external_function_info() throws before call_external_function's try block.
        if !moodle_functions::exists(&method) {
            return Ok(fatal_error(
                "invalidrecord",
                "Can't find data record in database table external_functions.",
                settings,
            ));
        }
        if method != PUBLIC_CONFIG {
            answers.push((
                index,
                Value::map([("error", Value::Bool(true)), ("exception", service_not_available(settings))]),
            ));
            // Moodle does not process the requests after a failed one.
            break;
        }
        let mobile = snapshot.view.service_by_shortname(MOBILE_SERVICE).map_err(Refusal::unavailable)?;
        let mobile_on = settings.enable_web_services && mobile.is_some_and(|m| m.enabled);
        answers
            .push((index, Value::map([("error", Value::Bool(false)), ("data", public_config(settings, mobile_on))])));
    }
    let mut resp = (StatusCode::OK, crate::wire::encode::json(&php_array(answers))).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    Ok(resp)
}

/// A PHP file under `/lib/ajax/` that does not exist: php-fpm's own answer.
pub async fn missing_file() -> Response {
    (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/html; charset=UTF-8")], "File not found.\n").into_response()
}

/// The requests as `json_decode($args, true)` and `foreach` see them; the error is PHP's
/// `json_last_error_msg()`.
fn parse_requests(raw: &[u8]) -> Result<Vec<serde_json::Value>, &'static str> {
    let text = std::str::from_utf8(raw).map_err(|_| "Malformed UTF-8 characters, possibly incorrectly encoded")?;
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(list)) => Ok(list),
        Ok(serde_json::Value::Object(map)) => Ok(map.into_iter().map(|(_, v)| v).collect()),
        // json_decode('null') is null: Moodle throws, and PHP reports no error.
        Ok(serde_json::Value::Null) => Err("No error"),
        // foreach over a scalar runs no request.
        Ok(_) => Ok(Vec::new()),
        Err(_) => Err("Syntax error"),
    }
}

/// PARAM_ALPHANUMEXT: letters, digits, `_` and `-`; anything else is removed.
fn clean_alphanumext(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect()
}

/// PARAM_INT of a JSON value: its integer, else 0.
fn php_int(v: &serde_json::Value) -> i64 {
    match v {
        serde_json::Value::Number(n) => n.as_i64().unwrap_or(0),
        serde_json::Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

/// `json_encode($responses)` of answers stored as `$responses[$index]`: a list when the indexes
/// run 0, 1, 2…, else an object keyed by them.
fn php_array(answers: Vec<(i64, Value)>) -> Value {
    let mut slots: Vec<(i64, Value)> = Vec::new();
    for (index, v) in answers {
        match slots.iter_mut().find(|(i, _)| *i == index) {
            Some(slot) => slot.1 = v,
            None => slots.push((index, v)),
        }
    }
    if slots.iter().enumerate().all(|(n, (i, _))| usize::try_from(*i) == Ok(n)) {
        Value::List(slots.into_iter().map(|(_, v)| v).collect())
    } else {
        Value::map(slots.into_iter().map(|(i, v)| (i.to_string(), v)))
    }
}

/// Moodle's `get_exception_info()` of `servicenotavailable`, as an answer in the list.
fn service_not_available(s: &Settings) -> Value {
    Value::map([
        ("message", Value::str("Web service is not available. (It doesn't exist or might be disabled.)")),
        ("errorcode", Value::str("servicenotavailable")),
        ("link", Value::str(format!("{}/", s.site_url))),
        ("moreinfourl", Value::str("https://docs.moodle.org/405/en/error/webservice/servicenotavailable")),
    ])
}

/// What `default_exception_handler` prints for an AJAX script (moodle-ws-reference.md §5.4),
/// with its no-cache headers: login/token.php's errors and the AJAX scripts' top-level ones.
/// With developer debugging, Moodle adds the error code and a link to the site; it also adds
/// PHP's stack trace, which this endpoint has none of.
pub(super) fn fatal_error(code: &'static str, message: impl Into<String>, settings: &Settings) -> Response {
    fatal_exception(&crate::domain::access::MoodleException::new("", code, message), settings)
}

/// [`fatal_error`] of an exception that may carry debugging information, shown (before the
/// error code) only with developer debugging, as Moodle does.
pub(super) fn fatal_exception(e: &crate::domain::access::MoodleException, settings: &Settings) -> Response {
    let developer = settings.debug >= crate::domain::debug_level::DEVELOPER;
    let code = &e.errorcode;
    let debuginfo = format!("{}\nError code: {code}", e.debuginfo.as_deref().unwrap_or(""));
    let body = Value::map([
        ("error", Value::str(e.message.clone())),
        ("errorcode", Value::str(code.to_string())),
        ("stacktrace", Value::Null),
        ("debuginfo", if developer { Value::str(debuginfo) } else { Value::Null }),
        ("reproductionlink", if developer { Value::str(format!("{}/", settings.site_url)) } else { Value::Null }),
    ]);
    let mut h = HeaderMap::new();
    no_cache_ajax_headers(&mut h);
    (StatusCode::OK, h, crate::wire::encode::json(&body)).into_response()
}

/// The headers of Moodle's AJAX scripts that send no cache (`send_headers` for JSON).
pub(super) fn no_cache_ajax_headers(h: &mut HeaderMap) {
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store, no-cache, must-revalidate"));
    h.append(header::CACHE_CONTROL, HeaderValue::from_static("post-check=0, pre-check=0"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(header::EXPIRES, HeaderValue::from_static("Mon, 20 Aug 1969 09:23:00 GMT"));
    if let Ok(v) = HeaderValue::from_str(&crate::domain::time::http_date(crate::store::now())) {
        h.insert(header::LAST_MODIFIED, v);
    }
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("none"));
}

/// `tool_mobile_get_public_config`'s answer, in Moodle 4.5's key order, with this site's
/// values: no guest access, no self-registration, login in the app (`typeoflogin` 1), no QR
/// login. `mobile_on`: web services on and the built-in mobile service enabled, as Moodle
/// reports `enablemobilewebservice`.
fn public_config(s: &Settings, mobile_on: bool) -> Value {
    let url = || Value::str(s.site_url.to_owned());
    Value::map([
        ("wwwroot", url()),
        ("httpswwwroot", url()),
        ("sitename", Value::str(s.site_name.to_owned())),
        ("guestlogin", Value::Int(0)),
        ("rememberusername", Value::Int(2)),
        ("authloginviaemail", Value::Int(0)),
        ("registerauth", Value::str("")),
        ("forgottenpasswordurl", Value::str("")),
        ("authinstructions", Value::str("")),
        ("authnoneenabled", Value::Int(0)),
        ("enablewebservices", Value::Int(i64::from(s.enable_web_services))),
        ("enablemobilewebservice", Value::Int(i64::from(mobile_on))),
        ("maintenanceenabled", Value::Int(i64::from(s.maintenance))),
        ("maintenancemessage", Value::str("")),
        ("typeoflogin", Value::Int(1)),
        ("launchurl", Value::str(format!("{}/admin/tool/mobile/launch.php", s.site_url))),
        ("mobilecssurl", Value::str("")),
        ("tool_mobile_disabledfeatures", Value::str("")),
        ("country", Value::str("0")),
        ("agedigitalconsentverification", Value::Bool(false)),
        ("supportpage", Value::str("")),
        ("supportavailability", Value::Int(1)),
        ("autolang", Value::Int(1)),
        ("lang", Value::str("en")),
        ("langmenu", Value::Int(1)),
        ("langlist", Value::str("")),
        ("locale", Value::str("")),
        ("tool_mobile_minimumversion", Value::str("")),
        ("tool_mobile_iosappid", Value::str("633359593")),
        ("tool_mobile_androidappid", Value::str("com.moodle.moodlemobile")),
        ("tool_mobile_setuplink", Value::str("https://download.moodle.org/mobile")),
        ("tool_mobile_qrcodetype", Value::Int(0)),
        ("warnings", Value::List(vec![])),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_as_php_decodes_them() {
        assert_eq!(parse_requests(b"[1,2]").unwrap().len(), 2);
        assert_eq!(parse_requests(br#"{"a":{"methodname":"x"}}"#).unwrap().len(), 1);
        assert_eq!(parse_requests(b"notjson"), Err("Syntax error"));
        assert_eq!(parse_requests(b""), Err("Syntax error"));
        assert_eq!(parse_requests(b"null"), Err("No error"));
        assert!(parse_requests(b"42").unwrap().is_empty());
        assert_eq!(parse_requests(b"[\"\xff\"]"), Err("Malformed UTF-8 characters, possibly incorrectly encoded"));
    }

    #[test]
    fn answers_are_a_list_only_when_indexed_from_zero() {
        let list = php_array(vec![(0, Value::Int(1)), (1, Value::Int(2))]);
        assert_eq!(crate::wire::encode::json(&list), "[1,2]");
        let object = php_array(vec![(3, Value::Int(1))]);
        assert_eq!(crate::wire::encode::json(&object), r#"{"3":1}"#);
        assert_eq!(clean_alphanumext("core_x-1;drop"), "core_x-1drop");
    }
}
