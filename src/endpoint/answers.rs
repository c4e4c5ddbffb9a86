//! The answers every protocol shares: the headers of every web-service answer, and the
//! refusals that come before a call (switched off, too many failures, the password checks
//! busy, the database unavailable, a request that cannot be read). Handlers return
//! `Result<Response, Refusal>` and pass a refusal on with `?`.

use super::password_gate::GateRefusal;
use super::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// A web-service answer: `headers` (its content type first), then [`no_cache_headers`]. Built
/// in the response's own header map, which a `(status, HeaderMap, body)` answer would copy
/// its map into.
pub(super) fn answer(status: StatusCode, headers: &[(HeaderName, &'static str)], body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.reserve(headers.len() + 5);
    for (name, value) in headers {
        h.insert(name.clone(), HeaderValue::from_static(value));
    }
    no_cache_headers(h);
    response
}

/// `Retry-After` on an answer refused by a limit toward the Moodle site.
pub(super) fn retry_after(mut response: Response, seconds: Option<u64>) -> Response {
    if let Some(s) = seconds {
        response.headers_mut().insert(axum::http::header::RETRY_AFTER, HeaderValue::from(s));
    }
    response
}

/// The headers every web-service answer carries (`send_headers` in each protocol's server):
/// no caching, and open to any origin.
pub(super) fn no_cache_headers(h: &mut HeaderMap) {
    use axum::http::header;
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, must-revalidate, pre-check=0, post-check=0, max-age=0"),
    );
    h.insert(header::EXPIRES, HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("none"));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
}

/// A request stopped before any function ran, answered alike by every protocol.
#[derive(Debug)]
pub enum Refusal {
    /// Web services or the protocol are off. Moodle's server scripts `die`, leaving an empty
    /// page: REST's `server.php` with 403, every other script with 200.
    SwitchedOff(StatusCode),
    /// Too many failed authentications from this address: seconds to wait.
    TooMany(u64),
    /// The password checks' queue is full: nothing is wrong with the request.
    Busy,
    /// The database failed; the client did nothing wrong.
    Unavailable(String),
    /// The request cannot be read.
    BadRequest(String),
}

impl Refusal {
    pub fn unavailable(e: impl std::fmt::Display) -> Refusal {
        Refusal::Unavailable(e.to_string())
    }

    pub fn bad_request(why: impl std::fmt::Display) -> Refusal {
        Refusal::BadRequest(why.to_string())
    }
}

impl From<GateRefusal> for Refusal {
    fn from(refusal: GateRefusal) -> Refusal {
        match refusal {
            GateRefusal::TooMany(wait) => Refusal::TooMany(wait),
            GateRefusal::Busy => Refusal::Busy,
            GateRefusal::Unavailable(e) => Refusal::Unavailable(e),
        }
    }
}

/// Marks a response as a [`Refusal`], for [`count_refusal`] to count.
#[derive(Clone, Copy)]
struct Refused(&'static str);

/// `response` marked as a refusal for `reason`, for a limit that answers without a
/// [`Refusal`] (the body budget, the time-out).
pub(super) fn refused(mut response: Response, reason: &'static str) -> Response {
    response.extensions_mut().insert(Refused(reason));
    response
}

/// Counts the refusals among the router's answers (the outermost layer over every route):
/// those marked, and tower-http's body-size limit, whose 413 cannot be.
pub(super) async fn count_refusal(State(app): State<AppState>, response: Response) -> Response {
    let reason = match response.extensions().get::<Refused>() {
        Some(Refused(reason)) => Some(*reason),
        None => (response.status() == StatusCode::PAYLOAD_TOO_LARGE).then_some("toolarge"),
    };
    if let Some(reason) = reason {
        app.metrics.count_refusal(reason.into());
    }
    response
}

impl Refusal {
    /// The reason the metrics name.
    fn reason(&self) -> &'static str {
        match self {
            Refusal::SwitchedOff(_) => "switchedoff",
            Refusal::TooMany(_) => "toomany",
            Refusal::Busy => "busy",
            Refusal::Unavailable(_) => "unavailable",
            Refusal::BadRequest(_) => "badrequest",
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let reason = self.reason();
        let response = match self {
            Refusal::SwitchedOff(status) => {
                (status, [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")], "").into_response()
            }
            Refusal::TooMany(wait) => (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", wait.to_string())],
                "Too many failed attempts; try later\n",
            )
                .into_response(),
            Refusal::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                [("retry-after", "1")],
                "Busy: too many password checks waiting; try again\n",
            )
                .into_response(),
            Refusal::Unavailable(e) => {
                tracing::error!(error = %e, "database unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, "Service unavailable\n").into_response()
            }
            Refusal::BadRequest(why) => (StatusCode::BAD_REQUEST, format!("Bad request: {why}\n")).into_response(),
        };
        refused(response, reason)
    }
}
