//! At start, the endpoint checks once that the `siteurl` setting leads to where it listens
//! (`domain::site_url`), warns in its log when it does not, and records what it found for the
//! console's Overview.

use crate::domain::site_url::{self, EndpointStart};
use crate::store::{Queries, Store};
use std::net::SocketAddr;
use std::time::Duration;

/// A name lookup for the check may take this long; a slow resolver only delays the warning.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

/// Checks the site URL against `listen`, logs a warning if it leads elsewhere, and records the
/// outcome. A store failure here is logged and does not stop the endpoint.
pub async fn check_site_url(store: &Store, listen: SocketAddr) -> Option<String> {
    let settings = match store.read().and_then(|v| v.settings()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the settings to check siteurl");
            return None;
        }
    };
    let resolved = match site_url::host_port(&settings.site_url) {
        Some((host, port, _)) => {
            let host = if host.contains(':') { format!("[{host}]") } else { host };
            match tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host(format!("{host}:{port}"))).await {
                Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
                _ => Vec::new(),
            }
        }
        None => Vec::new(),
    };
    let warning = site_url::check(&settings.site_url, listen, &settings.trusted_proxies, &resolved);
    match &warning {
        Some(w) => tracing::warn!("{w}"),
        None => tracing::info!(siteurl = %site_url::redacted(&settings.site_url), "siteurl leads to this endpoint"),
    }
    let record = EndpointStart {
        listen: listen.to_string(),
        started: crate::store::now(),
        site_url: site_url::redacted(&settings.site_url),
        warning: warning.clone(),
    };
    if let Err(e) = store.write(|t| t.put_endpoint_start(&record)) {
        tracing::warn!(error = %e, "cannot record the endpoint's start");
    }
    warning
}
