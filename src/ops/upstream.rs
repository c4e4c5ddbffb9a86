//! A service's link to the Moodle site behind the endpoint (DESIGN.md §8): its sealed
//! credential, its rate limit and what a sync learned. The credential is sealed here, with a
//! fresh nonce, and never leaves in clear but through [`Ops::upstream_credential`], for the
//! calls to the site.

use super::{OpError, OpResult, Ops, not_found};
use crate::domain::Service;
use crate::domain::secret::CREDENTIAL_NONCE_LEN;
use crate::domain::upstream::{SealedCredential, SiteSync, Upstream, UpstreamError, check_credential};
use crate::store::{Queries, WriteTables};

fn service(t: &WriteTables<'_>, shortname: &str) -> OpResult<Service> {
    Queries::service_by_shortname(t, shortname)?.ok_or_else(|| not_found("service", shortname))
}

fn link(t: &WriteTables<'_>, service: &Service) -> OpResult<Upstream> {
    Ok(Queries::upstream(t, service.id)?.unwrap_or(Upstream { service: service.id, ..Upstream::default() }))
}

/// Whether a link holds nothing worth keeping.
fn is_empty(u: &Upstream) -> bool {
    u.credential.is_none() && u.calls_per_minute == 0 && u.sync.is_none() && u.last_error.is_none()
}

impl Ops {
    /// Sets or replaces the service's site credential (a token of a Moodle account on the
    /// site). What the last sync learned is dropped: it was the old credential's view.
    pub fn set_upstream_credential(&self, shortname: &str, credential: &str) -> OpResult<()> {
        let credential = check_credential(credential)?.to_string();
        let key = self.store.site_key()?.clone();
        let mut nonce = [0u8; CREDENTIAL_NONCE_LEN];
        rand::fill(&mut nonce);
        self.apply("set upstream credential", |t, now| {
            let s = service(t, shortname)?;
            let mut u = link(t, &s)?;
            let replaced = u.credential.is_some();
            u.credential =
                Some(SealedCredential { sealed: key.seal_credential(s.id, nonce, &credential), set_at: now });
            u.sync = None;
            u.last_error = None;
            t.put_upstream(&u)?;
            let summary = if replaced { "credential replaced" } else { "credential set" };
            Ok(((), s.shortname, summary.into()))
        })
    }

    /// Removes the service's site credential; its calls are answered locally again.
    pub fn remove_upstream_credential(&self, shortname: &str) -> OpResult<()> {
        self.apply("remove upstream credential", |t, _| {
            let s = service(t, shortname)?;
            let mut u = link(t, &s)?;
            if u.credential.take().is_none() {
                return Err(OpError::Conflict(format!("service \"{shortname}\" has no upstream credential")));
            }
            u.sync = None;
            u.last_error = None;
            if is_empty(&u) {
                t.remove_upstream(s.id)?
            } else {
                t.put_upstream(&u)?
            }
            Ok(((), s.shortname, "credential removed".into()))
        })
    }

    /// Sets how many calls a minute the service may send to the site (0: no limit of its own).
    pub fn set_upstream_rate(&self, shortname: &str, calls_per_minute: u32) -> OpResult<()> {
        self.apply("set upstream rate", |t, _| {
            let s = service(t, shortname)?;
            let mut u = link(t, &s)?;
            u.calls_per_minute = calls_per_minute;
            if is_empty(&u) {
                t.remove_upstream(s.id)?
            } else {
                t.put_upstream(&u)?
            }
            Ok(((), s.shortname, format!("{calls_per_minute} calls per minute")))
        })
    }

    /// The service's site credential in clear, for a call to the site; `None` when none is set.
    /// An error when the key file cannot open it (another key file, or an altered row).
    pub fn upstream_credential(&self, shortname: &str) -> OpResult<Option<(Service, String)>> {
        let view = self.store.read()?;
        let s = Queries::service_by_shortname(&view, shortname)?.ok_or_else(|| not_found("service", shortname))?;
        let Some(sealed) = Queries::upstream(&view, s.id)?.and_then(|u| u.credential) else {
            return Ok(None);
        };
        let credential = self.store.site_key()?.open_credential(s.id, &sealed.sealed).ok_or_else(|| {
            OpError::Conflict(format!(
                "the upstream credential of \"{shortname}\" does not open with this key file: set it again"
            ))
        })?;
        Ok(Some((s, credential)))
    }

    /// Records a successful sync: what the site said, and no error any more.
    /// `wwwroot` is the address the site gave itself (its site info's `siteurl`): the one its
    /// file URLs name, kept for rewriting them when it differs from `upstreamurl`.
    pub fn record_upstream_sync(&self, shortname: &str, sync: SiteSync, wwwroot: &str) -> OpResult<()> {
        self.apply("sync upstream", |t, _| {
            let s = service(t, shortname)?;
            let mut settings = Queries::settings(t)?;
            let wwwroot = wwwroot.trim_end_matches('/');
            if settings.upstream.wwwroot != wwwroot {
                settings.upstream.wwwroot = wwwroot.to_string();
                t.put_settings(&settings)?;
            }
            let mut u = link(t, &s)?;
            let summary = format!("{} ({}), {} functions", sync.site_name, sync.release, sync.functions.len());
            u.sync = Some(sync);
            u.last_error = None;
            t.put_upstream(&u)?;
            Ok(((), s.shortname, summary))
        })
    }

    /// Records a failure toward the site; what the last good sync learned stays.
    pub fn record_upstream_error(&self, shortname: &str, message: &str) -> OpResult<()> {
        self.apply("upstream error", |t, now| {
            let s = service(t, shortname)?;
            let mut u = link(t, &s)?;
            u.last_error = Some(UpstreamError { at: now, message: message.to_string() });
            t.put_upstream(&u)?;
            Ok(((), s.shortname, message.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::MOBILE_SERVICE;
    use crate::ops::Ops;
    use crate::store::{Queries, Store};
    use std::sync::Arc;

    const CREDENTIAL: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_credential_is_sealed_kept_apart_from_the_audit_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.redb");
        let store = Arc::new(Store::open(&path).unwrap());
        let ops = Ops::new(store.clone(), "admin");
        assert_eq!(ops.upstream_credential(MOBILE_SERVICE).unwrap(), None);
        ops.set_upstream_credential(MOBILE_SERVICE, &format!("{CREDENTIAL}\n")).unwrap();
        let (service, clear) = ops.upstream_credential(MOBILE_SERVICE).unwrap().unwrap();
        assert_eq!(clear, CREDENTIAL);
        let link = store.read().unwrap().upstream(service.id).unwrap().unwrap();
        assert!(link.credential.is_some() && link.sync.is_none());
        let audit = store.read().unwrap().audit_entries("", 100).unwrap();
        assert!(audit.iter().any(|a| a.operation == "set upstream credential" && a.summary == "credential set"));
        assert!(audit.iter().all(|a| !a.summary.contains(CREDENTIAL) && !a.target.contains(CREDENTIAL)));
        assert!(ops.set_upstream_credential(MOBILE_SERVICE, "not a token!").is_err());
        assert!(ops.set_upstream_credential("nosuch", CREDENTIAL).is_err());

        ops.remove_upstream_credential(MOBILE_SERVICE).unwrap();
        assert_eq!(ops.upstream_credential(MOBILE_SERVICE).unwrap(), None);
        assert_eq!(store.read().unwrap().upstream(service.id).unwrap(), None, "an empty link is not kept");
        assert!(ops.remove_upstream_credential(MOBILE_SERVICE).is_err(), "nothing to remove");
        drop(store);
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.windows(CREDENTIAL.len()).any(|w| w == CREDENTIAL.as_bytes()), "never in clear in the file");
    }
}
