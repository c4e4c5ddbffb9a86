//! The endpoint (`wsconsole serve`): Moodle's web-service routes over the shared database.
//! Every call goes through `access::decide` on a fresh snapshot; the endpoint's own writes are
//! login tokens (durable before the answer), and batched activity.

mod activity;
mod ajax;
mod amf;
mod answers;
mod authorise;
mod body_budget;
mod call;
mod call_log;
mod connections;
mod file_answer;
mod files;
mod forward;
mod fresh;
mod gate;
mod incoming;
mod login;
mod metrics;
mod params;
mod password_gate;
mod password_pool;
mod rest;
mod site_places;
mod soap;
mod start;
mod state;
mod throttle;
mod uploads;
mod xmlrpc;

use crate::store::Store;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, Uri};
use axum::routing::{any, get};
use std::sync::Arc;
use std::time::Duration;

pub use activity::LAST_ACCESS_EVERY;
pub use state::{App, AppState};
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

/// The endpoint's shared state and background parts; with [`router`], the endpoint as a tower
/// service, to embed in another server or drive in process (the handler benchmark does).
pub fn app(store: Arc<Store>, config: Config) -> Result<(AppState, Running), crate::store::StoreError> {
    // Site info and login/token.php need the site key: an unsafe key file stops the start.
    store.site_key()?;
    let fresh = fresh::Fresh::new(store.clone())?;
    // One core fewer than the machine has (at least one): a login flood never takes them all.
    let slots = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).saturating_sub(1).max(1);
    let throttle = Arc::new(throttle::Throttle::new(config.failure_limit));
    let metrics = Arc::new(metrics::Metrics::new(throttle.clone(), fresh.refresh_count()));
    let (activity, writer) = activity::Activity::start(store.clone(), &metrics);
    let app = App {
        store,
        fresh,
        activity,
        passwords: password_gate::PasswordGate::new(throttle.clone(), slots),
        throttle,
        request_timeout: config.request_timeout,
        body_budget: Arc::new(body_budget::BodyBudget::new(config.body_budget, MAX_BODY as u64)),
        front: Default::default(),
        metrics,
    };
    Ok((Arc::new(app), Running { writer }))
}

/// Every route the endpoint answers, with its limits (body size and budget, time-out).
pub fn router(state: AppState) -> Router {
    use crate::domain::Protocol::{Amf, Rest, Soap, Xmlrpc};
    use crate::domain::routes::{self, Auth::Password, Auth::Token, server};
    // tower's timeout polls the request before its timer, so a request answered at once (most
    // are) never arms it; tower-http's arms a timer for every request (~1 µs each).
    let timeout = tower::ServiceBuilder::new()
        .layer(axum::error_handling::HandleErrorLayer::new(|_: tower::BoxError| async {
            answers::refused(axum::response::IntoResponse::into_response(StatusCode::REQUEST_TIMEOUT), "timeout")
        }))
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
        .route(crate::domain::file_urls::PLUGINFILE, any(files::pluginfile))
        .route(files::PLUGINFILE_ROUTE, any(files::pluginfile))
        .route(files::TOKENPLUGINFILE_ROUTE, any(files::tokenpluginfile))
        .route(routes::UPLOAD, any(uploads::upload))
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(|| async { (StatusCode::NOT_FOUND, "Not found\n") })
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
        .layer(body_budget::BudgetLayer(state.body_budget.clone()))
        .layer(timeout)
        // Outermost, so that it sees the limits' refusals too.
        .layer(axum::middleware::map_response_with_state(state.clone(), answers::count_refusal))
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
    serve_with_metrics(store, listener, None, config, shutdown).await
}

/// Connections at most to the metrics address: a monitoring system scrapes with one or two.
const METRICS_CONNECTIONS: usize = 16;

/// [`serve`], and `/metrics` on `metrics` when given (`serve --metrics-listen`).
pub async fn serve_with_metrics(
    store: Arc<Store>,
    listener: tokio::net::TcpListener,
    metrics: Option<tokio::net::TcpListener>,
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (state, running) = app(store.clone(), config).map_err(std::io::Error::other)?;
    start::check_site_url(&store, listener.local_addr()?).await;
    // Dropping `stop` ends the metrics' server too.
    let (stop, stopped) = tokio::sync::watch::channel(());
    let scrapes = metrics.map(|metrics_listener| {
        let limits = connections::Limits {
            max_connections: METRICS_CONNECTIONS,
            header_timeout: config.header_timeout,
            write_timeout: config.request_timeout,
        };
        let router = metrics::router(state.metrics.clone());
        let uncounted = prometheus_client::metrics::gauge::Gauge::default();
        let shutdown = async move {
            let mut stopped = stopped;
            let _ = stopped.changed().await;
        };
        AbortOnDrop(tokio::spawn(connections::serve(metrics_listener, router, limits, uncounted, shutdown)))
    });
    let open = state.metrics.open_connections.clone();
    let service = tower::ServiceExt::map_request(router(state), collapse_leading_slashes);
    let limits = connections::Limits {
        max_connections: config.max_connections,
        header_timeout: config.header_timeout,
        write_timeout: config.request_timeout,
    };
    connections::serve(listener, service, limits, open, shutdown).await;
    drop(stop);
    if let Some(mut scrapes) = scrapes {
        let _ = (&mut scrapes.0).await;
    }
    tokio::task::spawn_blocking(move || running.finish()).await.map_err(std::io::Error::other)?;
    Ok(())
}

/// A task that ends with its handle: the metrics' server when `serve` is cancelled.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
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
