//! Calls of a service connected to the Moodle site (DESIGN.md §8): decided here like every
//! call, then sent to the site with the service's credential and the caller's parameters.
//! A REST caller gets the site's answer as the site sent it; XML-RPC and AMF callers get it
//! re-encoded; site info is rewritten (the service's functions only, the caller's own key).

use super::call::{Call, Done};
use super::fresh::Snapshot;
use super::site_places::{Full, Place, SitePlaces};
use super::state::App;
use crate::domain::access::{Grant, MoodleException};
use crate::domain::file_urls::FileUrls;
use crate::domain::upstream::{SiteCall, UpstreamSettings};
use crate::domain::{ServiceId, UserId};
use crate::model::value::Value;
use crate::store::Queries;
use crate::upstream::{RestFormat, Site, SiteError, SiteReply};
use crate::wire::json::from_json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The client toward the site, built for the settings it was made with, and the cap on calls
/// in flight to it; made again when the settings change.
#[derive(Default)]
pub(super) struct Front {
    link: Mutex<Option<Link>>,
    /// Each connected service's calls to the site in the current minute's window.
    rates: Mutex<HashMap<ServiceId, RateWindow>>,
    /// Private access keys of the users who may fetch files through the front.
    pub keys: super::files::KeyIndex,
}

/// A sliding count of one service's calls: the previous minute's count weighs in by how much
/// of it still lies within the last 60 s (the approximation nginx and Cloudflare use).
#[derive(Clone, Copy, Default)]
struct RateWindow {
    minute: i64,
    this: u32,
    previous: u32,
}

impl RateWindow {
    /// Takes one call at `now_ms` under `limit` calls a minute; when over, the seconds until
    /// one may go.
    fn take(&mut self, now_ms: i64, limit: u32) -> Result<(), u64> {
        let minute = now_ms.div_euclid(60_000);
        if minute != self.minute {
            self.previous = if minute == self.minute + 1 { self.this } else { 0 };
            (self.minute, self.this) = (minute, 0);
        }
        let into = now_ms.rem_euclid(60_000) as f64 / 60_000.0;
        let estimate = f64::from(self.previous) * (1.0 - into) + f64::from(self.this);
        if estimate + 1.0 > f64::from(limit) {
            // Waiting until the previous minute's weight has fallen by the excess, or for the
            // next minute when this one alone is full.
            let wait = if self.this + 1 > limit {
                60.0 * (1.0 - into)
            } else {
                60.0 * (estimate + 1.0 - f64::from(limit)) / f64::from(self.previous.max(1))
            };
            return Err(wait.ceil().max(1.0) as u64);
        }
        self.this += 1;
        Ok(())
    }
}

#[derive(Clone)]
pub(super) struct Link {
    settings: UpstreamSettings,
    pub site: Site,
    in_flight: Arc<SitePlaces>,
    /// Files being sent from the site, each for as long as its caller reads it: as many as
    /// calls may be in flight, apart from them, so slow readers never hold the calls up.
    transfers: Arc<SitePlaces>,
}

impl Link {
    /// A place among the files being sent, or at once the exception that says they are all
    /// taken, or that the last ones are kept for other callers.
    pub(super) fn transfer(&self, holder: UserId) -> Result<Place, Box<NotForwarded>> {
        let n = self.settings.max_concurrent;
        take_place(&self.transfers, holder, || format!("is already sending {n} files"), "files being sent")
    }

    /// A place among the calls in flight to the site, or at once the exception that says
    /// the cap is reached (nothing waits in a queue here: a slow site must not gather one),
    /// or that the last places are kept for other callers.
    pub(super) fn in_flight(&self, holder: UserId) -> Result<Place, Box<NotForwarded>> {
        let n = self.settings.max_concurrent;
        take_place(&self.in_flight, holder, || format!("already has {n} calls in flight"), "calls in flight")
    }
}

/// A place of `places` now, or `upstreambusy` saying what the site is busy with.
fn take_place(
    places: &Arc<SitePlaces>,
    holder: UserId,
    busy: impl FnOnce() -> String,
    what: &str,
) -> Result<Place, Box<NotForwarded>> {
    places.take(holder).map_err(|full| {
        let message = match full {
            Full::All => format!("The Moodle site behind this endpoint {}: try again shortly", busy()),
            Full::Kept => format!(
                "The Moodle site behind this endpoint keeps the last of its places for {what} for callers holding fewer places than this one: try again shortly"
            ),
        };
        let exception = MoodleException::new(crate::domain::access::MOODLE_EXCEPTION, "upstreambusy", message);
        Box::new(NotForwarded { exception, retry_after: Some(1), site: None })
    })
}

impl Front {
    /// Counts a call of `service` against its limit (0: none of its own), or the exception
    /// that says it is reached, with the seconds to wait.
    pub(super) fn admit(&self, service: ServiceId, limit: u32) -> Result<(), Box<NotForwarded>> {
        if limit == 0 {
            return Ok(());
        }
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let mut rates = self.rates.lock().unwrap_or_else(|p| p.into_inner());
        rates.entry(service).or_default().take(now_ms, limit).map_err(|wait| {
            let message = format!(
                "This service may send {limit} calls a minute to the Moodle site behind this endpoint: try again in {wait} s"
            );
            let exception = MoodleException::new(crate::domain::access::MOODLE_EXCEPTION, "upstreamratelimit", message);
            Box::new(NotForwarded { exception, retry_after: Some(wait), site: None })
        })
    }

    pub(super) fn link(&self, settings: &UpstreamSettings) -> Result<Link, SiteError> {
        let mut link = self.link.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = link.as_ref().filter(|l| l.settings == *settings) {
            return Ok(l.clone());
        }
        let made = Link {
            settings: settings.clone(),
            site: Site::new(settings)?,
            in_flight: Arc::new(SitePlaces::new(settings.max_concurrent)),
            transfers: Arc::new(SitePlaces::new(settings.max_concurrent)),
        };
        *link = Some(made.clone());
        Ok(made)
    }
}

/// What a forwarded call gave: the value to encode here, or (REST) the site's own answer;
/// with what the site did, for the call log.
pub(super) enum Forwarded {
    Encode(Done, SiteCall),
    AsSent(SiteReply),
}

/// The call log's figures of a site's answer.
pub(super) fn figures(reply: &SiteReply) -> SiteCall {
    SiteCall {
        status: reply.status,
        latency_micros: u64::try_from(reply.latency.as_micros()).unwrap_or(u64::MAX),
        bytes: reply.body.len() as u64,
    }
}

/// A forwarded call that gave no answer: Moodle's exception, and for a call refused by a
/// limit toward the site, the seconds after which to try again (`Retry-After`).
pub(super) struct NotForwarded {
    pub exception: MoodleException,
    pub retry_after: Option<u64>,
    /// What the site did, when it was asked.
    pub site: Option<SiteCall>,
}

impl From<MoodleException> for NotForwarded {
    fn from(exception: MoodleException) -> Self {
        NotForwarded { exception, retry_after: None, site: None }
    }
}

/// What a call to the site needs: the link, the service's credential and its limit.
pub(super) struct Toward {
    pub link: Link,
    pub credential: String,
    pub limit: u32,
}

/// The site gave no answer after `waited`: the caller's exception, and for the call log what
/// the site did (its status, if it sent one).
pub(super) fn no_answer(e: &SiteError, waited: std::time::Duration) -> NotForwarded {
    let status = if let SiteError::Status(s) = e { *s } else { 0 };
    let latency_micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
    NotForwarded { site: Some(SiteCall { status, latency_micros, bytes: 0 }), ..site_failed(e).into() }
}

/// The exception a caller gets when the site gives nothing usable: it names the site's failure.
pub(super) fn site_failed(e: &SiteError) -> MoodleException {
    MoodleException::new(
        crate::domain::access::MOODLE_EXCEPTION,
        "upstreamerror",
        format!("The Moodle site behind this endpoint did not answer the call: {e}"),
    )
}

impl App {
    /// Sends `call` (already granted on `snapshot`) to the site and brings back its answer.
    /// Every failure toward the site is a Moodle-shaped exception that says what happened.
    pub(super) async fn forward(
        &self,
        snapshot: &Snapshot,
        grant: &Grant,
        call: &Call,
        args: &Value,
    ) -> Result<Forwarded, NotForwarded> {
        let Toward { link, credential, limit } =
            self.toward_site(snapshot, grant.service.id).map_err(|e| site_failed(&e))?;
        if call.protocol == crate::domain::Protocol::Soap {
            return Err(MoodleException::new(
                crate::domain::access::MOODLE_EXCEPTION,
                "upstreamsoap",
                "This service is answered by the Moodle site behind this endpoint, which is not reached over SOAP: call it over REST, XML-RPC or AMF",
            )
            .into());
        }
        self.front.admit(grant.service.id, limit).map_err(|n| *n)?;
        let _place = link.in_flight(grant.user.id).map_err(|n| *n)?;
        let site_info = grant.function == crate::model::site_info::NAME;
        // A REST caller takes the site's answer as it is, except site info, rewritten here.
        let format = match call.rest_format {
            Some(f) if !site_info => f,
            _ => RestFormat::Json,
        };
        let params = crate::wire::params::to_pairs(args);
        let asked = std::time::Instant::now();
        let mut reply = link
            .site
            .forward(&credential, &grant.function, &params, format)
            .await
            .map_err(|e| no_answer(&e, asked.elapsed()))?;
        let site = figures(&reply);
        self.point_files_here(snapshot, grant, &mut reply.body)?;
        let failed = |e: SiteError| NotForwarded { site: Some(site), ..site_failed(&e).into() };
        if call.rest_format.is_some() && !site_info {
            // As the site sent it, once it is what Moodle sends: garbage is the site's failure.
            reply.check(format).map_err(failed)?;
            return Ok(Forwarded::AsSent(reply));
        }
        let answer = reply.json().map_err(failed)?;
        if let Some((exception, errorcode, message, debuginfo)) = crate::upstream::moodle_exception(&answer) {
            let mut e = MoodleException::new("", "", message);
            (e.exception, e.errorcode, e.debuginfo) = (exception.into(), errorcode.into(), debuginfo);
            return Err(NotForwarded { site: Some(site), ..e.into() });
        }
        let mut value = from_json(answer);
        let description = if site_info {
            self.rewrite_site_info(snapshot, grant, &mut value)?;
            crate::model::description(crate::model::site_info::NAME)
        } else {
            None
        };
        Ok(Forwarded::Encode(Done { value: Some(value), description }, site))
    }

    /// The site's file URLs in `body` pointed at this endpoint, with the caller's own key in
    /// place of the site account's (`domain::file_urls`).
    fn point_files_here(&self, snapshot: &Snapshot, grant: &Grant, body: &mut Vec<u8>) -> Result<(), MoodleException> {
        if memchr::memmem::find(body, b"pluginfile.php").is_none() {
            return Ok(());
        }
        let key = self.store.site_key().map_err(crate::functions::internal)?.user_private_access_key(grant.user.id);
        let settings = &snapshot.settings;
        for site in settings.upstream.site_addresses() {
            let urls = FileUrls { site, front: &settings.site_url, caller_key: &key };
            if let std::borrow::Cow::Owned(rewritten) = urls.rewrite(body) {
                *body = rewritten;
            }
        }
        Ok(())
    }

    /// The link to the site and `service`'s credential, for a call or a file.
    pub(super) fn toward_site(&self, snapshot: &Snapshot, service: ServiceId) -> Result<Toward, SiteError> {
        let link = self.front.link(&snapshot.settings.upstream)?;
        let (credential, limit) = self.site_credential(snapshot, service)?;
        Ok(Toward { link, credential, limit })
    }

    /// The service's site credential, opened with the key file, and its calls-a-minute limit.
    fn site_credential(&self, snapshot: &Snapshot, service: ServiceId) -> Result<(String, u32), SiteError> {
        let not_set = || SiteError::NotMoodle("the service has no usable site credential".into());
        let link = snapshot.view.upstream(service).map_err(|_| not_set())?.ok_or_else(not_set)?;
        let key = self.store.site_key().map_err(|_| not_set())?;
        let sealed = link.credential.ok_or_else(not_set)?;
        let credential = key.open_credential(service, &sealed.sealed).ok_or_else(not_set)?;
        Ok((credential, link.calls_per_minute))
    }

    /// Site info as the caller may see it: only the functions the service here allows, and the
    /// caller's own private access key, never the site account's (it would open that
    /// account's files on the site directly, around this endpoint).
    fn rewrite_site_info(&self, snapshot: &Snapshot, grant: &Grant, value: &mut Value) -> Result<(), MoodleException> {
        let (records, at) = snapshot.records();
        let allowed =
            records.service_function_names(&snapshot.view, at, grant.service.id).map_err(crate::functions::internal)?;
        let key = self.store.site_key().map_err(crate::functions::internal)?.user_private_access_key(grant.user.id);
        let Value::Map(fields) = value else {
            return Err(site_failed(&SiteError::NotMoodle("its site info is not an object".into())));
        };
        for (name, field) in fields.iter_mut() {
            match (name.as_ref(), field) {
                ("functions", Value::List(functions)) => functions
                    .retain(|f| f.get("name").and_then(Value::as_str).is_some_and(|n| allowed.iter().any(|a| a == n))),
                ("userprivateaccesskey", field) => *field = Value::str(key.clone()),
                ("siteurl", field) => *field = Value::str(snapshot.settings.site_url.clone()),
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::RateWindow;

    #[test]
    fn a_service_gets_its_calls_a_minute_and_then_the_wait() {
        let mut w = RateWindow::default();
        // The start of a minute.
        let start = 30_000_000 * 60_000;
        for i in 0..3 {
            assert_eq!(w.take(start + i, 3), Ok(()));
        }
        // Full in this minute: wait for the next one (60 s from its start).
        assert_eq!(w.take(start + 1_000, 3), Err(59));
        // Early in the next minute the previous one still weighs almost fully…
        assert!(w.take(start + 60_000 + 1_000, 3).is_err());
        // …and two thirds of the way through it weighs a third: one call goes.
        assert_eq!(w.take(start + 60_000 + 40_500, 3), Ok(()));
        // After a quiet minute, the full limit again.
        let later = start + 180_000;
        assert!((0..3).all(|i| w.take(later + i, 3).is_ok()));
    }
}
