//! The file scripts of a front door (DESIGN.md §8): `webservice/pluginfile.php` with the
//! caller's token, `tokenpluginfile.php` with the caller's private access key. The caller is
//! decided here (Moodle's order for the file scripts, `domain::file_access`), then the file is
//! asked of the Moodle site with the service's credential and streamed through as it comes,
//! never held whole. Only the site's `webservice/pluginfile.php` is ever fetched: the path is
//! checked and encoded segment by segment (`upstream::file_url`), so this is no open proxy.
//! A service answered here has no files: its callers get Moodle's "file not found".

use super::answers::Refusal;
use super::call_log::{Entry, Who};
use super::file_answer;
use super::forward::{NotForwarded, Toward, no_answer, site_failed};
use super::fresh::Snapshot;
use super::gate::{Opened, ip_of};
use super::incoming::Incoming;
use super::params::request_params;
use super::state::{App, AppState};
use crate::domain::UserId;
use crate::domain::access::{AccessData, MoodleException};
use crate::domain::file_access::{FileDenial, FileGrant, FileUse, decide_file, decide_file_for};
use crate::domain::file_urls::{PLUGINFILE, TOKENPLUGINFILE};
use crate::domain::iprestriction::ClientAddr;
use crate::domain::secret::{clean_token, hash_token};
use crate::domain::upstream::SiteCall;
use crate::store::Queries;
use crate::wire::params::take;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Axum routes of the two scripts, with the file's path after them.
pub const PLUGINFILE_ROUTE: &str = "/webservice/pluginfile.php/{*path}";
pub const TOKENPLUGINFILE_ROUTE: &str = "/tokenpluginfile.php/{*path}";

/// The longest a file may take to send: a caller that reads too slowly loses its place
/// (and sees its transfer cut) rather than holding a connection to the site for ever.
const TRANSFER_LIMIT: Duration = Duration::from_secs(3600);

/// The download options `webservice/pluginfile.php` reads, passed on to the site.
const OPTIONS: [&str; 4] = ["forcedownload", "preview", "offline", "embed"];
/// The caller's headers passed on: ranges and conditions, so media seek and caches work.
const ASKED: [header::HeaderName; 4] =
    [header::RANGE, header::IF_RANGE, header::IF_NONE_MATCH, header::IF_MODIFIED_SINCE];
/// The site's headers passed back: what describes the file and how it may be cached.
const DESCRIBED: [header::HeaderName; 9] = [
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CONTENT_DISPOSITION,
    header::CONTENT_RANGE,
    header::ACCEPT_RANGES,
    header::ETAG,
    header::LAST_MODIFIED,
    header::CACHE_CONTROL,
    header::EXPIRES,
];

/// `webservice/pluginfile.php/<path>?token=…` (or `?file=/<path>`, without slash arguments).
pub async fn pluginfile(State(app): State<AppState>, incoming: Incoming) -> Result<Response, Refusal> {
    let Opened { snapshot, client, now } = app.open(&incoming).await?;
    let entry = Entry { function: &PLUGINFILE[1..], protocol: "file", client, now, started: incoming.started };
    let mut params = request_params(&incoming).await.map_err(Refusal::bad_request)?;
    let token = take(&mut params, "token");
    let file = take(&mut params, "file").unwrap_or_default();
    // Slash arguments arrive percent-encoded; `file=` was decoded with the form already.
    let path = match path_after(incoming.uri.path(), PLUGINFILE) {
        Some(encoded) => segments(encoded, true),
        None => segments(&file, false),
    };
    let Some(token) = token else {
        return Ok(app.refuse_file(&entry, &snapshot, &missing_token(), Who::default()));
    };
    let hash = clean_token(&token).map(|t| hash_token(&t));
    let decision =
        decide_file(&*snapshot, hash.as_ref(), client, now, FileUse::Download).map_err(Refusal::unavailable)?;
    let grant = match decision {
        Ok(grant) => grant,
        Err(denial) => return app.file_denied(&entry, &snapshot, &denial),
    };
    app.send_file(&entry, &snapshot, &grant, &path, &params, &incoming.headers).await
}

/// `tokenpluginfile.php/<key>/<path>`: the key is the caller's private access key, which
/// site info gave it; the user's tokens on services connected to the site are tried, most
/// recently used first.
pub async fn tokenpluginfile(State(app): State<AppState>, incoming: Incoming) -> Result<Response, Refusal> {
    let Opened { snapshot, client, now } = app.open(&incoming).await?;
    let entry = Entry { function: &TOKENPLUGINFILE[1..], protocol: "file", client, now, started: incoming.started };
    let params = request_params(&incoming).await.map_err(Refusal::bad_request)?;
    let rest = path_after(incoming.uri.path(), TOKENPLUGINFILE).unwrap_or_default().trim_start_matches('/');
    let (key, path) = rest.split_once('/').unwrap_or((rest, ""));
    // An address that keeps guessing is refused before its guess costs a lookup.
    if let Some(wait) = app.throttle.check(ip_of(client)) {
        return Err(Refusal::TooMany(wait));
    }
    // The lookup may rebuild the index from the store: off the async workers.
    let (app2, snap, key2) = (app.clone(), snapshot.clone(), key.to_string());
    let found = tokio::task::spawn_blocking(move || app2.front.keys.user_of(app2.store.site_key()?, &snap, &key2))
        .await
        .map_err(Refusal::unavailable)?;
    let user = match found.map_err(Refusal::unavailable)? {
        Some(user) => user,
        None => {
            app.count_failure(client)?;
            let e = MoodleException::new(crate::domain::access::MOODLE_EXCEPTION, "invalidkey", "Invalid key");
            return Ok(app.refuse_file(&entry, &snapshot, &e, Who::default()));
        }
    };
    let grant = match user_grant(&snapshot, user, client, now).map_err(Refusal::unavailable)? {
        Ok(grant) => grant,
        Err(denial) => return app.file_denied(&entry, &snapshot, &denial),
    };
    app.send_file(&entry, &snapshot, &grant, &segments(path, true), &params, &incoming.headers).await
}

/// The first of the user's tokens on a connected service that may download, most recently
/// used first; else the refusal of the most recently used one.
fn user_grant(
    snapshot: &Snapshot,
    user: UserId,
    client: ClientAddr,
    now: i64,
) -> Result<Result<FileGrant, FileDenial>, crate::store::StoreError> {
    let mut tokens: Vec<_> = snapshot.view.tokens_of_user(user)?.into_iter().map(|(_, t)| t).collect();
    tokens.retain(|t| snapshot.site_functions(t.service).is_ok_and(|f| f.is_some()));
    tokens.sort_by_key(|t| std::cmp::Reverse(t.last_access));
    let mut first_refusal = None;
    for token in tokens {
        match decide_file_for(snapshot, token, client, now, FileUse::Download)? {
            Ok(grant) => return Ok(Ok(grant)),
            Err(denial) => {
                first_refusal.get_or_insert(denial);
            }
        }
    }
    Ok(Err(first_refusal.unwrap_or(FileDenial::Caller(crate::domain::access::Denial::InvalidToken))))
}

/// A file path's segments, each decoded from the URL's percent-encoding when `encoded`.
fn segments(path: &str, encoded: bool) -> Vec<String> {
    let decode = |s: &str| match encoded {
        true => percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned(),
        false => s.to_string(),
    };
    path.trim_start_matches('/').split('/').map(decode).collect()
}

/// The path after `script`, when the URL carries it as slash arguments.
fn path_after<'a>(path: &'a str, script: &str) -> Option<&'a str> {
    path.strip_prefix(script).filter(|rest| rest.starts_with('/'))
}

/// `required_param('token')` of the file scripts, when the request has none.
pub(super) fn missing_token() -> MoodleException {
    MoodleException::new(
        crate::domain::access::MOODLE_EXCEPTION,
        "missingparam",
        "A required parameter (token) was missing",
    )
}

impl App {
    /// A site's failure (or a limit toward it) as the file scripts' AJAX error, logged with
    /// what the site did, `Retry-After` when there is a wait.
    pub(super) fn file_not_forwarded(
        &self,
        entry: &Entry<'_>,
        snapshot: &Snapshot,
        who: Who,
        n: NotForwarded,
    ) -> Response {
        self.log_forwarded(entry, n.exception.errorcode.clone(), who, n.site);
        super::answers::retry_after(super::ajax::fatal_exception(&n.exception, &snapshot.settings), n.retry_after)
    }

    pub(super) fn refuse_file(
        &self,
        entry: &Entry<'_>,
        snapshot: &Snapshot,
        e: &MoodleException,
        who: Who,
    ) -> Response {
        self.log_call(entry, e.errorcode.clone(), who);
        super::ajax::fatal_exception(e, &snapshot.settings)
    }

    pub(super) fn file_denied(
        &self,
        entry: &Entry<'_>,
        snapshot: &Snapshot,
        denial: &FileDenial,
    ) -> Result<Response, Refusal> {
        if denial.is_invalid_token() {
            self.count_failure(entry.client)?;
        }
        Ok(self.refuse_file(entry, snapshot, &denial.moodle_exception(entry.client), Who::default()))
    }

    /// The file from the site, streamed; the site's failures as the file scripts' errors.
    async fn send_file(
        &self,
        entry: &Entry<'_>,
        snapshot: &Snapshot,
        grant: &FileGrant,
        path: &[String],
        params: &[(crate::model::value::Text, crate::model::value::Value)],
        headers: &HeaderMap,
    ) -> Result<Response, Refusal> {
        let who = || Who::from(grant);
        self.note_access(&grant.token, entry.now);
        if snapshot.site_functions(grant.service.id).map_err(Refusal::unavailable)?.is_none() {
            // Answered here: wsconsole keeps no files.
            self.log_call(entry, "filenotfound", who());
            return Ok((StatusCode::NOT_FOUND, "Sorry, the requested file could not be found\n").into_response());
        }
        let fail = |n: NotForwarded| self.file_not_forwarded(entry, snapshot, who(), n);
        let Toward { link, credential, limit } = match self.toward_site(snapshot, grant.service.id) {
            Ok(toward) => toward,
            Err(e) => return Ok(fail(site_failed(&e).into())),
        };
        let options: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| OPTIONS.contains(&k.as_ref()))
            .filter_map(|(k, v)| Some((k.to_string(), v.as_str()?.chars().take(16).collect())))
            .collect();
        let mut asked = reqwest::header::HeaderMap::new();
        for name in &ASKED {
            if let Some(v) = headers.get(name) {
                asked.insert(name.clone(), v.clone());
            }
        }
        // A path that would leave the site's file script costs the site nothing.
        let url = match crate::upstream::file_url(link.site.base(), path) {
            Ok(url) => url,
            Err(e) => {
                self.log_call(entry, "upstreamerror", who());
                return Ok(super::ajax::fatal_exception(&site_failed(&e), &snapshot.settings));
            }
        };
        if let Err(n) = self.front.admit(grant.service.id, limit) {
            return Ok(fail(*n));
        }
        // A place among the files being sent, held until the caller has read the whole file
        // or gone (a slow reader holds one site connection, never the calls).
        let holder = grant.user.id;
        let transfer = match link.transfer(holder) {
            Ok(p) => p,
            Err(n) => return Ok(fail(*n)),
        };
        let started = Instant::now();
        // The place among the calls in flight is held until the site answers the head; the
        // body then flows at the pace the caller reads it, bounded by the read time-out and
        // by TRANSFER_LIMIT in all.
        let reply = {
            let _place = match link.in_flight(holder) {
                Ok(p) => p,
                Err(n) => return Ok(fail(*n)),
            };
            link.site.fetch_file(url, &credential, &options, asked).await
        };
        let waited = started.elapsed();
        let reply = match reply {
            Ok(r) => r,
            Err(e) => return Ok(fail(no_answer(&e, waited))),
        };
        let status = StatusCode::from_u16(reply.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let latency_micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
        let mut described = HeaderMap::with_capacity(DESCRIBED.len());
        for name in &DESCRIBED {
            if let Some(v) = reply.headers().get(name) {
                described.insert(name.clone(), v.clone());
            }
        }
        let mut site = SiteCall { status: status.as_u16(), latency_micros, bytes: reply.content_length().unwrap_or(0) };
        let deadline = tokio::time::sleep(TRANSFER_LIMIT);
        let peeked = if file_answer::may_be_refusal(status, &described) {
            file_answer::peek(reply.bytes_stream(), link.site.timeout()).await
        } else {
            file_answer::Peeked::none(reply.bytes_stream())
        };
        if peeked.ended {
            site.bytes = site.bytes.max(peeked.read);
        }
        self.log_forwarded(entry, file_answer::outcome(peeked.errorcode, status), who(), Some(site));
        let body = peeked.body.take_until(deadline).map(move |chunk| {
            let _held = &transfer;
            chunk
        });
        let mut response = Response::new(Body::from_stream(body));
        *response.status_mut() = status;
        *response.headers_mut() = described;
        Ok(response)
    }
}

/// Each user's private access key (derived from the key file, so not stored), for the users
/// holding a token on a service connected to the site: a key names its user by a lookup,
/// never by deriving every user's key per request. Made again when the database changed and a
/// key is not found, at most once a second, so unknown keys cannot make it work hard.
#[derive(Default)]
pub(super) struct KeyIndex {
    built: Mutex<Option<Built>>,
}

struct Built {
    at: u64,
    when: Instant,
    users: HashMap<String, UserId>,
}

impl KeyIndex {
    pub(super) fn user_of(
        &self,
        site_key: &crate::domain::secret::SiteKey,
        snapshot: &Snapshot,
        key: &str,
    ) -> Result<Option<UserId>, crate::store::StoreError> {
        if key.is_empty() || key.len() > 64 || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let (_, at) = snapshot.records();
        let mut built = self.built.lock().unwrap_or_else(|p| p.into_inner());
        let stale = built.as_ref().is_none_or(|b| b.at < at && b.when.elapsed() >= Duration::from_secs(1));
        if let Some(b) = built.as_ref()
            && (b.users.contains_key(key) || !stale)
        {
            return Ok(b.users.get(key).copied());
        }
        let mut users = HashMap::new();
        for service in snapshot.view.all_services()? {
            if snapshot.site_functions(service.id)?.is_none() {
                continue;
            }
            for id in snapshot.view.token_ids_of_service(service.id)? {
                if let Some(t) = snapshot.view.token_by_id(id)? {
                    users.entry(site_key.user_private_access_key(t.user)).or_insert(t.user);
                }
            }
        }
        let found = users.get(key).copied();
        *built = Some(Built { at, when: Instant::now(), users });
        Ok(found)
    }
}
