//! `/lib/ajax/service.php`, answering `tool_mobile_get_public_config` without login, so that
//! the Moodle app's pre-login site check works. Other methods need a Moodle session, which
//! this endpoint does not have.

use super::{AppState, unavailable};
use crate::functions::value::Value;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `mobile_on`: web services on and the built-in mobile service enabled, as Moodle reports
/// `enablemobilewebservice`.
fn public_config(s: &crate::domain::Settings, mobile_on: bool) -> Value {
    Value::map([
        ("wwwroot", Value::str(s.site_url.to_owned())),
        ("httpswwwroot", Value::str(s.site_url.to_owned())),
        ("sitename", Value::str(s.site_name.to_owned())),
        ("guestlogin", Value::Int(0)),
        ("rememberusername", Value::Int(0)),
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
        ("mobilecssurl", Value::str("")),
        ("tool_mobile_disabledfeatures", Value::str("")),
        ("country", Value::str("")),
        ("autolang", Value::Int(0)),
        ("lang", Value::str("en")),
        ("langmenu", Value::Int(0)),
        ("langlist", Value::str("")),
        ("locale", Value::str("en")),
        ("tool_mobile_minimumversion", Value::str("")),
        ("warnings", Value::List(vec![])),
    ])
}

pub async fn service_php(State(app): State<AppState>, body: Bytes) -> Response {
    let snapshot = match app.fresh.get().await {
        Ok(s) => s,
        Err(e) => return unavailable(e),
    };
    let calls: Vec<serde_json::Value> = match serde_json::from_slice(&body) {
        Ok(serde_json::Value::Array(a)) if a.len() <= 50 => a,
        _ => {
            return (StatusCode::BAD_REQUEST, "Bad request: expected a JSON array of calls\n").into_response();
        }
    };
    let mobile_on = snapshot.settings.enable_web_services
        && crate::store::Queries::service_by_shortname(&snapshot.view, crate::domain::MOBILE_SERVICE)
            .ok()
            .flatten()
            .is_some_and(|m| m.enabled);
    let answers: Vec<Value> = calls
        .iter()
        .map(|c| match c.get("methodname").and_then(|m| m.as_str()) {
            Some("tool_mobile_get_public_config") => {
                Value::map([("error", Value::Bool(false)), ("data", public_config(&snapshot.settings, mobile_on))])
            }
            _ => Value::map([
                ("error", Value::Bool(true)),
                (
                    "exception",
                    Value::map([
                        (
                            "message",
                            Value::str("Web service is not available. (It doesn't exist or might be disabled.)"),
                        ),
                        ("errorcode", Value::str("servicenotavailable")),
                        ("link", Value::str(snapshot.settings.site_url.to_owned())),
                        ("moreinfourl", Value::str("")),
                    ]),
                ),
            ]),
        })
        .collect();
    let mut resp = (StatusCode::OK, crate::wire::encode::json(&Value::List(answers))).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    resp
}
