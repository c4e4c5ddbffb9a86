//! The connection loop: accepts connections up to a cap and serves each with hyper's HTTP/1
//! server, whose header timer closes a connection that sends no complete request head in time,
//! whether it is new, half-sent (slowloris) or idle on keep-alive; a write that makes no
//! progress in time (a client that stopped reading) closes it too. At the cap, accepting
//! pauses until a connection closes; the kernel's backlog holds the next ones. Shutdown stops
//! accepting and lets requests in flight finish, for a bounded time.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How connections are bounded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections at most; the process's open-file limit lowers it if need be.
    pub max_connections: usize,
    /// A request's head (a new connection's first, or the next on keep-alive) must arrive
    /// within this time.
    pub header_timeout: Duration,
    /// A write to the client that makes no progress for this long ends the connection.
    pub write_timeout: Duration,
}

/// How long shutdown waits for requests in flight before it drops them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Descriptors kept back from the cap for the database, the key file, logs and the runtime.
const SPARE_FILES: usize = 64;

/// Serves `app` on `listener` until `shutdown` resolves; each request carries its peer's
/// address as axum's `ConnectInfo`. `open` follows the connections open.
pub async fn serve<S>(
    listener: tokio::net::TcpListener,
    app: S,
    limits: Limits,
    open: prometheus_client::metrics::gauge::Gauge,
    shutdown: impl std::future::Future<Output = ()>,
) where
    S: tower::Service<axum::extract::Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let cap = effective_cap(limits.max_connections);
    if cap < limits.max_connections {
        tracing::warn!(
            cap,
            asked = limits.max_connections,
            "open connections capped by the process's open-file limit (LimitNOFILE)"
        );
    }
    let slots = Arc::new(Semaphore::new(cap));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: wait, go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = tower::ServiceExt::map_request(app.clone(), move |req: hyper::Request<Incoming>| {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        });
        let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
        stream.set_write_timeout(Some(limits.write_timeout));
        let io = TokioIo::new(Box::pin(stream));
        let conn = graceful.watch(http.serve_connection(io, TowerToHyperService::new(service)));
        let counted = Counted::new(&open);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection ended");
            }
            drop(counted);
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!(grace = ?SHUTDOWN_GRACE, "stopping: requests still in flight were dropped");
    }
}

/// One open connection in the gauge, counted down when dropped: also when the connection's
/// task unwinds from a panic.
struct Counted(prometheus_client::metrics::gauge::Gauge);

impl Counted {
    fn new(open: &prometheus_client::metrics::gauge::Gauge) -> Counted {
        open.inc();
        Counted(open.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The cap, lowered to fit the open-file limit after raising the soft limit to the hard one.
fn effective_cap(asked: usize) -> usize {
    let files = raise_open_file_limit();
    asked.min(files.saturating_sub(SPARE_FILES).max(1))
}

/// Raises the soft limit on open files to the hard one (what servers do at start) and returns
/// it; `usize::MAX` when it cannot be read.
fn raise_open_file_limit() -> usize {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read or write the struct passed by pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return usize::MAX;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX)
}
