//! `wsconsole serve`: the endpoint's start. The logging, the site key's check (an unsafe key
//! file stops the start before anything listens), the runtime, the listener, and the endpoint
//! until a signal stops it.

use crate::store::Store;
use std::io::IsTerminal;
use std::sync::Arc;

/// Runs the endpoint on `listen` (and its metrics on `metrics_listen`) until SIGTERM or SIGINT;
/// the error is one line for stderr.
pub fn serve(
    store: Arc<Store>,
    listen: std::net::SocketAddr,
    metrics_listen: Option<std::net::SocketAddr>,
    config: crate::endpoint::Config,
) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    store.site_key().map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let listener =
            tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let metrics = match metrics_listen {
            Some(at) => Some(
                tokio::net::TcpListener::bind(at)
                    .await
                    .map_err(|e| format!("cannot listen on {at} for metrics: {e}"))?,
            ),
            None => None,
        };
        tracing::info!(address = %address, db = %store.path().display(), "wsconsole endpoint listening");
        if let Some(m) = &metrics {
            tracing::info!(metrics = %m.local_addr().map_err(|e| e.to_string())?, "metrics at /metrics");
        }
        crate::endpoint::serve_with_metrics(store, listener, metrics, config, crate::endpoint::shutdown_signal())
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!("stopped");
        Ok(())
    })
}
