//! The answers every protocol shares: the headers of every web-service answer, Moodle's empty
//! page when something is off, and the refusals that come before a call (database unavailable,
//! too many failures, the password checks busy, a request that cannot be read).

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// The headers every web-service answer carries (`send_headers` in each protocol's server):
/// no caching, and open to any origin.
pub(super) fn no_cache_headers(h: &mut HeaderMap) {
    use axum::http::{HeaderValue, header};
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, must-revalidate, pre-check=0, post-check=0, max-age=0"),
    );
    h.insert(header::EXPIRES, HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("none"));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
}

/// What Moodle's server scripts send when web services or the protocol are off: they `die`,
/// leaving an empty page.
pub(super) fn died(status: StatusCode) -> Response {
    (status, [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")], "").into_response()
}

/// A store failure while serving: the client did nothing wrong.
pub(super) fn unavailable(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "database unavailable");
    (StatusCode::SERVICE_UNAVAILABLE, "Service unavailable\n").into_response()
}

pub(super) fn too_many(retry_after: u64) -> Response {
    (StatusCode::TOO_MANY_REQUESTS, [("retry-after", retry_after.to_string())], "Too many failed attempts; try later\n")
        .into_response()
}

/// The password checks' queue is full: nothing is wrong with the request.
pub(super) fn busy() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "1")], "Busy: too many password checks waiting; try again\n")
        .into_response()
}

pub(super) fn bad_request(why: impl std::fmt::Display) -> Response {
    (StatusCode::BAD_REQUEST, format!("Bad request: {why}\n")).into_response()
}
