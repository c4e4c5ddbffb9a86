//! Calls of a service connected to the Moodle site (DESIGN.md §8): decided here like every
//! call, then sent to the site with the service's credential and the caller's parameters.
//! A REST caller gets the site's answer as the site sent it; XML-RPC and AMF callers get it
//! re-encoded; site info is rewritten (the service's functions only, the caller's own key).

use super::call::{Call, Done};
use super::fresh::Snapshot;
use super::state::App;
use crate::domain::access::{Grant, MoodleException};
use crate::domain::upstream::UpstreamSettings;
use crate::model::value::Value;
use crate::store::Queries;
use crate::upstream::{RestFormat, Site, SiteError, SiteReply};
use crate::wire::json::from_json;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// The client toward the site, built for the settings it was made with, and the cap on calls
/// in flight to it; made again when the settings change.
#[derive(Default)]
pub(super) struct Front {
    link: Mutex<Option<Link>>,
}

#[derive(Clone)]
struct Link {
    settings: UpstreamSettings,
    site: Site,
    in_flight: Arc<Semaphore>,
}

impl Front {
    fn link(&self, settings: &UpstreamSettings) -> Result<Link, SiteError> {
        let mut link = self.link.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = link.as_ref().filter(|l| l.settings == *settings) {
            return Ok(l.clone());
        }
        let made = Link {
            settings: settings.clone(),
            site: Site::new(settings)?,
            in_flight: Arc::new(Semaphore::new(settings.max_concurrent as usize)),
        };
        *link = Some(made.clone());
        Ok(made)
    }
}

/// What a forwarded call gave: the value to encode here, or (REST) the site's own answer.
pub(super) enum Forwarded {
    Encode(Done),
    AsSent(SiteReply),
}

/// The exception a caller gets when the site gives nothing usable: it names the site's failure.
fn site_failed(e: &SiteError) -> MoodleException {
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
    ) -> Result<Forwarded, MoodleException> {
        let settings = &snapshot.settings.upstream;
        let link = self.front.link(settings).map_err(|e| site_failed(&e))?;
        let credential = self.site_credential(snapshot, grant).map_err(|e| site_failed(&e))?;
        if call.protocol == crate::domain::Protocol::Soap {
            return Err(MoodleException::new(
                crate::domain::access::MOODLE_EXCEPTION,
                "upstreamsoap",
                "This service is answered by the Moodle site behind this endpoint, which is not reached over SOAP: call it over REST, XML-RPC or AMF",
            ));
        }
        // Beyond the cap, at once: a site that is slow must not gather a queue here.
        let Ok(_permit) = link.in_flight.clone().try_acquire_owned() else {
            return Err(MoodleException::new(
                crate::domain::access::MOODLE_EXCEPTION,
                "upstreambusy",
                format!(
                    "The Moodle site behind this endpoint already has {} calls in flight: try again shortly",
                    settings.max_concurrent
                ),
            ));
        };
        let site_info = grant.function == crate::model::site_info::NAME;
        // A REST caller takes the site's answer as it is, except site info, rewritten here.
        let format = match call.rest_format {
            Some(f) if !site_info => f,
            _ => RestFormat::Json,
        };
        let params = crate::wire::params::to_pairs(args);
        let reply =
            link.site.forward(&credential, &grant.function, &params, format).await.map_err(|e| site_failed(&e))?;
        if call.rest_format.is_some() && !site_info {
            return Ok(Forwarded::AsSent(reply));
        }
        let answer = reply.json().map_err(|e| site_failed(&e))?;
        if let Some((exception, errorcode, message, debuginfo)) = crate::upstream::moodle_exception(&answer) {
            let mut e = MoodleException::new("", "", message);
            (e.exception, e.errorcode, e.debuginfo) = (exception.into(), errorcode.into(), debuginfo);
            return Err(e);
        }
        let mut value = from_json(answer);
        let description = if site_info {
            self.rewrite_site_info(snapshot, grant, &mut value)?;
            crate::model::description(crate::model::site_info::NAME)
        } else {
            None
        };
        Ok(Forwarded::Encode(Done { value: Some(value), description }))
    }

    /// The service's site credential, opened with the key file.
    fn site_credential(&self, snapshot: &Snapshot, grant: &Grant) -> Result<String, SiteError> {
        let not_set = || SiteError::NotMoodle("the service has no usable site credential".into());
        let sealed = snapshot.view.upstream(grant.service.id).map_err(|_| not_set())?.and_then(|u| u.credential);
        let key = self.store.site_key().map_err(|_| not_set())?;
        sealed.and_then(|c| key.open_credential(grant.service.id, &c.sealed)).ok_or_else(not_set)
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
                _ => {}
            }
        }
        Ok(())
    }
}
