//! Syncing a service with the site: `core_webservice_get_site_info` with the service's
//! credential tells the site's name and release, the account, and the functions that account
//! may call; the result (or the failure) is recorded on the service's link.

use super::{Site, SiteError};
use crate::domain::upstream::SiteSync;
use crate::ops::{OpError, Ops};
use crate::store::Queries;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("service \"{0}\" has no upstream credential: wsconsole service upstream {0}")]
    NoCredential(String),
    #[error(transparent)]
    Op(#[from] OpError),
    /// The site's failure, recorded as the service's last error.
    #[error(transparent)]
    Site(#[from] SiteError),
}

/// Syncs the service `shortname` with the site and records what it learned, or the failure.
/// Blocking: it runs the call on a runtime of its own, for the CLI and the console's jobs.
pub fn sync_service(ops: &Ops, shortname: &str) -> Result<SiteSync, SyncError> {
    let Some((_, credential)) = ops.upstream_credential(shortname)? else {
        return Err(SyncError::NoCredential(shortname.to_string()));
    };
    let settings = ops.store().read().map_err(OpError::from)?.settings().map_err(OpError::from)?;
    let asked = Site::new(&settings.upstream).and_then(|site| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| SiteError::Unreachable(format!("no runtime for the call: {e}")))?;
        runtime.block_on(site_info(&site, &credential, crate::store::now()))
    });
    match asked {
        Ok((sync, wwwroot)) => {
            ops.record_upstream_sync(shortname, sync.clone(), &wwwroot)?;
            Ok(sync)
        }
        Err(e) => {
            ops.record_upstream_error(shortname, &e.to_string())?;
            Err(e.into())
        }
    }
}

/// What the site's site info says to `credential`, and the address it gives itself.
async fn site_info(site: &Site, credential: &str, now: i64) -> Result<(SiteSync, String), SiteError> {
    let info = site.call_json(credential, crate::model::site_info::NAME, &[]).await?;
    let text = |key: &str| info.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let missing = |key: &str| SiteError::NotMoodle(format!("its site info has no \"{key}\""));
    let mut functions: Vec<String> = info
        .get("functions")
        .and_then(|f| f.as_array())
        .ok_or_else(|| missing("functions"))?
        .iter()
        .filter_map(|f| f.get("name").and_then(|n| n.as_str()).map(str::to_string))
        .collect();
    // What the front never forwards is not what the site offers a service through it.
    functions.retain(|f| crate::domain::upstream::not_forwarded(f).is_none());
    functions.sort();
    functions.dedup();
    let wwwroot = text("siteurl").unwrap_or_default();
    let sync = SiteSync {
        at: now,
        site_name: text("sitename").ok_or_else(|| missing("sitename"))?,
        release: text("release").unwrap_or_default(),
        username: text("username").ok_or_else(|| missing("username"))?,
        functions,
    };
    Ok((sync, wwwroot))
}
