//! `/webservice/rest/server.php` (token) and `simpleserver.php` (username/password):
//! moodle-ws-reference.md §2 and §3.

use super::answers::Refusal;
use super::call::{self, Call, Creds};
use super::incoming::Incoming;
use super::params;
use super::state::AppState;
use crate::domain::Protocol;
use crate::domain::access::MoodleException;
use crate::model::value::Value;
use crate::upstream::{RestFormat, SiteReply};
use crate::wire::encode;
use crate::wire::params::take;
use axum::extract::State;
use axum::http::{HeaderName, StatusCode, header};
use axum::response::Response;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Xml,
    Json,
}

/// `server.php` (`SIMPLE = false`, token) and `simpleserver.php` (`SIMPLE = true`,
/// username and password).
pub async fn server<const SIMPLE: bool>(State(app): State<AppState>, incoming: Incoming) -> Result<Response, Refusal> {
    let mut params = params::request_params(&incoming).await.map_err(Refusal::bad_request)?;
    let format =
        if take(&mut params, "moodlewsrestformat").as_deref() == Some("json") { Format::Json } else { Format::Xml };
    let function = take(&mut params, "wsfunction");
    params.retain(|(k, _)| !k.starts_with("moodlewssetting"));
    let creds = if SIMPLE {
        Creds::Password {
            username: take(&mut params, "wsusername").unwrap_or_default(),
            password: take(&mut params, "wspassword").unwrap_or_default(),
        }
    } else {
        Creds::Token(take(&mut params, "wstoken"))
    };
    let rest_format = Some(if format == Format::Json { RestFormat::Json } else { RestFormat::Xml });
    let request = Call { protocol: Protocol::Rest, creds, function, args: Value::map(params), rest_format };
    let answer = call::call(&app, &incoming, request).await?;
    if let Some(reply) = answer.site {
        return Ok(as_sent(reply));
    }
    Ok(match answer.result {
        Ok(done) => success(format, done.value.as_ref(), done.description.and_then(|d| d.returns.as_ref())),
        Err(e) => super::answers::retry_after(error(format, &e, answer.debugging), answer.retry_after),
    })
}

/// A REST answer with the headers of rest/locallib.php `send_headers`.
fn respond(format: Format, body: String) -> Response {
    let headers: &[(HeaderName, &'static str)] = match format {
        Format::Json => &[(header::CONTENT_TYPE, "application/json")],
        Format::Xml => &[
            (header::CONTENT_TYPE, "application/xml; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "inline; filename=\"response.xml\""),
        ],
    };
    super::answers::answer(StatusCode::OK, headers, body)
}

fn success(format: Format, value: Option<&Value>, desc: Option<&crate::model::schema::Schema>) -> Response {
    let body = match format {
        Format::Json => encode::json(value.unwrap_or(&Value::Null)),
        Format::Xml => encode::xml_response(value, desc),
    };
    respond(format, body)
}

/// Every REST error is HTTP 200 with an exception body.
fn error(format: Format, e: &MoodleException, debugging: bool) -> Response {
    let body = match format {
        Format::Json => encode::json_exception(e, debugging),
        Format::Xml => encode::xml_exception(e, debugging),
    };
    respond(format, body)
}

/// The Moodle site's answer to a forwarded call, as the site sent it: status, content type
/// and bytes.
fn as_sent(reply: SiteReply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = Response::new(axum::body::Body::from(reply.body));
    *response.status_mut() = status;
    if let Some(ct) = reply.content_type.and_then(|ct| axum::http::HeaderValue::from_str(&ct).ok()) {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    super::answers::no_cache_headers(response.headers_mut());
    response
}
