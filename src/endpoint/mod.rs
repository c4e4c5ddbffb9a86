//! The endpoint (`wsconsole serve`): Moodle's web-service routes over the shared database.
//! Every call goes through `access::decide` on a fresh snapshot; the endpoint's own writes are
//! login tokens (durable before the answer), and batched activity.

mod activity;
mod ajax;
mod amf;
mod body_budget;
mod call;
mod connections;
mod fresh;
mod login;
mod params;
mod password_gate;
mod password_pool;
mod rest;
mod soap;
mod start;
mod throttle;
mod xmlrpc;

use crate::domain::iprestriction::{ClientAddr, IpRestriction};
use crate::store::Store;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

pub use activity::LAST_ACCESS_EVERY;
pub use throttle::LIMIT as DEFAULT_FAILURE_LIMIT;

/// How the endpoint runs.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Failed authentications per client address and minute before 429; 0 turns it off.
    pub failure_limit: u32,
    /// A request not answered within this time (a body that never arrives) gets 408; an
    /// answer the client does not read for this long closes its connection.
    pub request_timeout: Duration,
    /// Open connections at most (lowered to fit the open-file limit).
    pub max_connections: usize,
    /// A request head (on a new connection, or the next one on keep-alive) must arrive within
    /// this time, or the connection is closed.
    pub header_timeout: Duration,
    /// Bytes that request bodies (and their decoding) may hold at once; beyond, 503.
    pub body_budget: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            failure_limit: throttle::LIMIT,
            request_timeout: REQUEST_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            header_timeout: HEADER_TIMEOUT,
            body_budget: BODY_BUDGET,
        }
    }
}

/// The default [`Config::max_connections`].
pub const MAX_CONNECTIONS: usize = 4096;
/// The default [`Config::body_budget`]: 256 MiB.
pub const BODY_BUDGET: u64 = 256 << 20;
/// The default [`Config::header_timeout`].
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Request bodies above this get 413.
pub const MAX_BODY: usize = 8 * 1024 * 1024;
/// The default [`Config::request_timeout`].
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What every handler shares.
pub struct App {
    pub store: Arc<Store>,
    fresh: fresh::Fresh,
    activity: activity::Activity,
    throttle: Arc<throttle::Throttle>,
    /// Bounds concurrent argon2 verifications, so a login flood cannot take every core, and
    /// serves waiting ones in turn by address.
    passwords: password_gate::PasswordGate,
    request_timeout: Duration,
    body_budget: Arc<body_budget::BodyBudget>,
}

pub type AppState = Arc<App>;

impl App {
    /// The client's address: the socket peer, or `X-Forwarded-For` when the peer is a trusted
    /// proxy (the last address in the header that is not itself a trusted proxy).
    fn client(&self, peer: SocketAddr, headers: &HeaderMap, trusted: &str) -> ClientAddr {
        let peer_addr = ClientAddr::from(peer.ip());
        if trusted.trim().is_empty() {
            return peer_addr;
        }
        let proxies = IpRestriction::parse_lenient(trusted);
        if !proxies.matches(peer_addr) {
            return peer_addr;
        }
        let forwarded =
            headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
        // From the right: skip our own proxies; the first other entry is the client. An entry
        // that does not parse ends the search (anything left of it is the client's to forge).
        // Parsed strictly: `010.001.002.003` is no address (readers disagree on leading zeros).
        for entry in forwarded.split(',').rev() {
            match entry.trim().parse::<IpAddr>().ok().map(ClientAddr::from) {
                Some(a) if proxies.matches(a) => continue,
                Some(a) => return a,
                None => return peer_addr,
            }
        }
        peer_addr
    }
}

/// The query string's parameters, where XML-RPC, SOAP and AMF clients put their credentials
/// (`$_GET` in Moodle): the last of a repeated name wins, as in PHP.
struct Query(Vec<(String, String)>);

impl Query {
    fn of(uri: &Uri) -> Query {
        Query(form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect())
    }

    fn get(&self, key: &str) -> Option<String> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    /// `wstoken` for server.php; `wsusername` / `wspassword` for simpleserver.php.
    fn creds(&self, simple: bool) -> call::Creds {
        if simple {
            call::Creds::Password {
                username: self.get("wsusername").unwrap_or_default(),
                password: self.get("wspassword").unwrap_or_default(),
            }
        } else {
            call::Creds::Token(self.get("wstoken"))
        }
    }
}

/// The IP form of a client address, for the throttle.
fn ip_of(addr: ClientAddr) -> IpAddr {
    match addr {
        ClientAddr::V4(v) => IpAddr::V4(v.into()),
        ClientAddr::V6(g) => IpAddr::V6(g.into()),
    }
}

/// The endpoint's background parts, to stop cleanly.
pub struct Running {
    writer: activity::Writer,
}

impl Running {
    /// Flushes the activity log. Call after the server stopped and the app was dropped.
    pub fn finish(self) {
        self.writer.finish();
    }
}

pub fn app(store: Arc<Store>, config: Config) -> Result<(AppState, Running), crate::store::StoreError> {
    // Site info and login/token.php need the site key: an unsafe key file stops the start.
    store.site_key()?;
    let fresh = fresh::Fresh::new(store.clone())?;
    let (activity, writer) = activity::Activity::start(store.clone());
    // One core fewer than the machine has (at least one): a login flood never takes them all.
    let slots = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).saturating_sub(1).max(1);
    let throttle = Arc::new(throttle::Throttle::new(config.failure_limit));
    let app = App {
        store,
        fresh,
        activity,
        passwords: password_gate::PasswordGate::new(throttle.clone(), slots),
        throttle,
        request_timeout: config.request_timeout,
        body_budget: Arc::new(body_budget::BodyBudget::new(config.body_budget, MAX_BODY as u64)),
    };
    Ok((Arc::new(app), Running { writer }))
}

pub fn router(state: AppState) -> Router {
    use crate::domain::Protocol::{Amf, Rest, Soap, Xmlrpc};
    use crate::domain::routes::{self, Auth::Password, Auth::Token, server};
    // tower's timeout polls the request before its timer, so a request answered at once (most
    // are) never arms it; tower-http's arms a timer for every request (~1 µs each).
    let timeout = tower::ServiceBuilder::new()
        .layer(axum::error_handling::HandleErrorLayer::new(|_: tower::BoxError| async { StatusCode::REQUEST_TIMEOUT }))
        .timeout(state.request_timeout);
    Router::new()
        .route(server(Rest, Token), any(rest::server::<false>))
        .route(server(Rest, Password), any(rest::server::<true>))
        .route(server(Soap, Token), any(soap::server::<false>))
        .route(server(Soap, Password), any(soap::server::<true>))
        .route(routes::SOAP_SIMPLE_PATH_ROUTE, any(soap::simple_path))
        .route(server(Xmlrpc, Token), any(xmlrpc::server::<false>))
        .route(server(Xmlrpc, Password), any(xmlrpc::server::<true>))
        .route(server(Amf, Token), any(amf::server::<false>))
        .route(server(Amf, Password), any(amf::server::<true>))
        .route(routes::LOGIN_TOKEN, any(login::token_php))
        .route(routes::AJAX_SERVICE, any(ajax::service::<false>))
        .route(routes::AJAX_SERVICE_NOLOGIN, any(ajax::service::<true>))
        .route("/lib/ajax/{*file}", any(ajax::missing_file))
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(|| async { (StatusCode::NOT_FOUND, "Not found\n") })
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
        .layer(body_budget::BudgetLayer(state.body_budget.clone()))
        .layer(timeout)
        .with_state(state)
}

/// Tolerates a leading `//` in the path, as web servers in front of Moodle do.
fn collapse_leading_slashes(mut req: Request<Body>) -> Request<Body> {
    let path = req.uri().path();
    if path.starts_with("//") {
        let trimmed = format!("/{}", path.trim_start_matches('/'));
        let pq = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed,
        };
        if let Ok(uri) = pq.parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// Serves until `shutdown` resolves, then flushes the activity log.
pub async fn serve(
    store: Arc<Store>,
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (state, running) = app(store.clone(), config).map_err(std::io::Error::other)?;
    start::check_site_url(&store, listener.local_addr()?).await;
    let service = tower::ServiceExt::map_request(router(state), collapse_leading_slashes);
    let limits = connections::Limits {
        max_connections: config.max_connections,
        header_timeout: config.header_timeout,
        write_timeout: config.request_timeout,
    };
    connections::serve(listener, service, limits, shutdown).await;
    tokio::task::spawn_blocking(move || running.finish()).await.map_err(std::io::Error::other)?;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
    }
    tracing::info!("stopping: finishing requests and flushing the activity log");
}

/// The headers every web-service answer carries (`send_headers` in each protocol's server):
/// no caching, and open to any origin.
fn no_cache_headers(h: &mut HeaderMap) {
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
fn died(status: StatusCode) -> Response {
    (status, [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")], "").into_response()
}

/// A store failure while serving: the client did nothing wrong.
fn unavailable(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "database unavailable");
    (StatusCode::SERVICE_UNAVAILABLE, "Service unavailable\n").into_response()
}

fn too_many(retry_after: u64) -> Response {
    (StatusCode::TOO_MANY_REQUESTS, [("retry-after", retry_after.to_string())], "Too many failed attempts; try later\n")
        .into_response()
}

/// The password checks' queue is full: nothing is wrong with the request.
fn busy() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "1")], "Busy: too many password checks waiting; try again\n")
        .into_response()
}

fn bad_request(why: impl std::fmt::Display) -> Response {
    (StatusCode::BAD_REQUEST, format!("Bad request: {why}\n")).into_response()
}
