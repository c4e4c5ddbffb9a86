//! What every web-service request brings, read once by one extractor: who sent it (the peer
//! and the headers, for the client's address), where to (the URI, whose query holds the
//! credentials of XML-RPC, SOAP and AMF), when it arrived, and its body.

use super::call::Creds;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::time::Instant;

pub struct Incoming {
    pub peer: SocketAddr,
    pub headers: HeaderMap,
    pub uri: Uri,
    pub body: Bytes,
    /// When the request was taken up, for the call log's duration.
    pub started: Instant,
}

impl<S: Send + Sync> FromRequest<S> for Incoming {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Incoming, Response> {
        let started = Instant::now();
        let (mut parts, body) = req.into_parts();
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let (headers, uri) = (std::mem::take(&mut parts.headers), std::mem::take(&mut parts.uri));
        // The body limits (size, and the endpoint's budget) apply as the body is read.
        let body =
            Bytes::from_request(Request::from_parts(parts, body), state).await.map_err(IntoResponse::into_response)?;
        Ok(Incoming { peer, headers, uri, body, started })
    }
}

impl Incoming {
    /// The query string's parameters.
    pub fn query(&self) -> Query {
        Query::of(&self.uri)
    }
}

/// The query string's parameters, where XML-RPC, SOAP and AMF clients put their credentials
/// (`$_GET` in Moodle): the last of a repeated name wins, as in PHP.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn of(uri: &Uri) -> Query {
        Query(form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect())
    }

    pub fn get(&self, key: &str) -> Option<String> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    /// `wstoken` for server.php; `wsusername` / `wspassword` for simpleserver.php.
    pub fn creds(&self, simple: bool) -> Creds {
        if simple {
            Creds::Password {
                username: self.get("wsusername").unwrap_or_default(),
                password: self.get("wspassword").unwrap_or_default(),
            }
        } else {
            Creds::Token(self.get("wstoken"))
        }
    }
}
