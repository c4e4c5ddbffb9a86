//! `webservice/upload.php` of a front door (DESIGN.md §8): the caller is decided here in
//! Moodle's order for the file scripts (its token, then the service's "can upload files"),
//! then its fields and files go to the Moodle site's upload script with the service's
//! credential in place of the caller's token, and the site's answer (the records of the files
//! now in the site account's draft area, or Moodle's error) comes back as the site sent it.
//! The body is the endpoint's usual one: at most `MAX_BODY`, reserved under the body budget.
//! A service answered here keeps no files: its callers are told so.

use super::answers::Refusal;
use super::call_log::{Entry, Who};
use super::file_answer;
use super::forward::{NotForwarded, Toward, no_answer, site_failed};
use super::gate::Opened;
use super::incoming::Incoming;
use super::params::upload_parts;
use super::state::AppState;
use crate::domain::access::{AccessData, MOODLE_EXCEPTION, MoodleException};
use crate::domain::file_access::{FileUse, decide_file};
use crate::domain::routes::UPLOAD;
use crate::domain::secret::{clean_token, hash_token};
use crate::wire::params::php_base_name;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::time::Instant;

pub async fn upload(State(app): State<AppState>, incoming: Incoming) -> Result<Response, Refusal> {
    let Opened { snapshot, client, now } = app.open(&incoming).await?;
    let entry = Entry { function: &UPLOAD[1..], protocol: "file", client, now, started: incoming.started };
    let (mut fields, files) = upload_parts(&incoming).await.map_err(Refusal::bad_request)?;
    // `upload_parts` kept one field of a name, the last, as PHP does.
    let token = fields.iter().position(|(n, _)| n == "token").map(|i| fields.remove(i).1);
    // Whatever else PHP would file as `token` (` token`, `token[]`) is not passed on: the site
    // sees the service's token and nothing that could stand in for it.
    fields.retain(|(name, _)| php_base_name(name) != "token");
    let Some(token) = token else {
        return Ok(app.refuse_file(&entry, &snapshot, &super::files::missing_token(), Who::default()));
    };
    let hash = clean_token(&token).map(|t| hash_token(&t));
    let grant =
        match decide_file(&*snapshot, hash.as_ref(), client, now, FileUse::Upload).map_err(Refusal::unavailable)? {
            Ok(grant) => grant,
            Err(denial) => return app.file_denied(&entry, &snapshot, &denial),
        };
    let who = || Who::from(&grant);
    app.note_access(&grant.token, now);
    if snapshot.site_functions(grant.service.id).map_err(Refusal::unavailable)?.is_none() {
        let e = MoodleException::new(
            MOODLE_EXCEPTION,
            "upstreamnofiles",
            "This service is answered here, and this endpoint keeps no files: uploads go to the Moodle site behind it, for services connected to it",
        );
        return Ok(app.refuse_file(&entry, &snapshot, &e, who()));
    }
    // Every caller of the service uploads as its one site account: its draft area is where
    // each upload gets an item of its own, never the account's private files.
    // (Any name PHP would file as `filearea`, ` filearea` or `filearea[]` included.)
    let draft =
        fields.iter().filter(|(n, _)| php_base_name(n) == "filearea").all(|(n, v)| n == "filearea" && v == "draft");
    if !draft {
        let e = MoodleException::new(
            MOODLE_EXCEPTION,
            "upstreamfilearea",
            "Uploads through this endpoint go to the draft area only (filearea=draft)",
        );
        return Ok(app.refuse_file(&entry, &snapshot, &e, who()));
    }
    let fail = |n: NotForwarded| app.file_not_forwarded(&entry, &snapshot, who(), n);
    let Toward { link, credential, limit } = match app.toward_site(&snapshot, grant.service.id) {
        Ok(toward) => toward,
        Err(e) => return Ok(fail(site_failed(&e).into())),
    };
    if let Err(n) = app.front.admit(grant.service.id, limit) {
        return Ok(fail(*n));
    }
    let reply = {
        let _place = match link.in_flight(grant.user.id) {
            Ok(p) => p,
            Err(n) => return Ok(fail(*n)),
        };
        let started = Instant::now();
        match link.site.upload(&credential, &fields, files).await {
            Ok(reply) => reply,
            Err(e) => return Ok(fail(no_answer(&e, started.elapsed()))),
        }
    };
    let site = super::forward::figures(&reply);
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_GATEWAY);
    app.log_forwarded(
        &entry,
        file_answer::outcome(file_answer::ajax_errorcode(&reply.body), status),
        who(),
        Some(site),
    );
    let mut response = (status, reply.body).into_response();
    if let Some(value) = reply.content_type.and_then(|t| HeaderValue::from_str(&t).ok()) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    Ok(response)
}
