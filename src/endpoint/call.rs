//! One web-service call, whatever the protocol: decided once, run once, logged once
//! (moodle-ws-reference.md §3, §8). Each protocol module decodes its request into a [`Call`]
//! and encodes the [`Answer`] (or passes the [`Refusal`] on).

use super::answers::Refusal;
use super::authorise::{Authorised, authorise};
use super::call_log::{Entry, Who};
use super::forward::Forwarded;
use super::fresh::Snapshot;
use super::incoming::Incoming;
use super::state::AppState;
use crate::domain::Protocol;
use crate::domain::access::{
    AccessRequest, Caller, Denial, Grant, MoodleException, PasswordCheck, authenticate, callable_functions, decide,
};
use crate::domain::iprestriction::ClientAddr;
use crate::functions::{self, CallContext};
use crate::model::value::Value;
use crate::model::{self, Description};
use crate::store::StoreError;
use crate::upstream::{RestFormat, SiteReply};

/// How the caller authenticates, as sent.
pub enum Creds {
    /// `server.php`: `wstoken` (absent or not a token at all: `None`).
    Token(Option<String>),
    /// `simpleserver.php`: `wsusername` / `wspassword`.
    Password { username: String, password: String },
}

/// A call as every protocol decodes it.
pub struct Call {
    pub protocol: Protocol,
    pub creds: Creds,
    /// The function as the client named it.
    pub function: Option<String>,
    /// The parameters by name (a `Value::Map`).
    pub args: Value,
    /// A REST call's `moodlewsrestformat`: a call forwarded to the Moodle site gets the site's
    /// answer in it, as the site sent it. `None` for the protocols that re-encode.
    pub rest_format: Option<RestFormat>,
}

impl Call {
    /// Moodle's server scripts die when web services or the protocol are off: REST's
    /// `server.php` with 403, every other script with 200.
    pub(super) fn switched_off(&self) -> Refusal {
        use axum::http::StatusCode;
        let token = matches!(self.creds, Creds::Token(_));
        Refusal::SwitchedOff(if self.protocol == Protocol::Rest && token {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::OK
        })
    }

    /// The call log's entry for this call.
    pub(super) fn entry<'a>(&'a self, incoming: &Incoming, client: ClientAddr, now: i64) -> Entry<'a> {
        Entry {
            function: self.function.as_deref().unwrap_or_default(),
            protocol: self.protocol.name(),
            client,
            now,
            started: incoming.started,
        }
    }
}

/// A call that got as far as Moodle's exceptions: refused with one, failed with one, or run.
pub struct Answer {
    pub result: Result<Done, MoodleException>,
    /// The Moodle site's own answer to a forwarded REST call, which the caller gets as it is
    /// (then `result` is an empty `Done`).
    pub site: Option<SiteReply>,
    /// A call refused by a limit toward the Moodle site: seconds after which to try again.
    pub retry_after: Option<u64>,
    /// Whether errors carry `debuginfo` (the debug setting).
    pub debugging: bool,
    /// Where a failed call stopped.
    pub stage: Stage,
}

/// The function ran; `value` is `None` for a void function.
pub struct Done {
    pub value: Option<Value>,
    /// The local function's description; `None` when the Moodle site answered a function
    /// this endpoint does not describe.
    pub description: Option<&'static Description>,
}

/// The step a refusal came from: SOAP answers each in its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The switches, the credentials or the account (Moodle's `authenticate_user`).
    Caller,
    /// No such function, or none the caller may use.
    Function,
    /// The function ran and failed: parameters, capabilities, its own checks.
    Execution,
}

pub async fn call(app: &AppState, incoming: &Incoming, call: Call) -> Result<Answer, Refusal> {
    Ok(call_listing(app, incoming, call, false).await?.0)
}

/// What a description of the service needs, read on the call's own snapshot.
#[derive(Default)]
pub struct Listing {
    /// The functions the caller may call (SOAP names its answer's types by their order).
    pub callable: Vec<&'static str>,
    /// The site's address (SOAP's namespace).
    pub site_url: String,
}

/// `call`; with `list`, also the caller's [`Listing`].
pub async fn call_listing(
    app: &AppState,
    incoming: &Incoming,
    mut call: Call,
    list: bool,
) -> Result<(Answer, Listing), Refusal> {
    let args = std::mem::replace(&mut call.args, Value::Null);
    let Authorised { value: grant, snapshot, debugging, client, now } =
        match authorise(app, incoming, &call, decide).await? {
            Ok(authorised) => authorised,
            Err(refused) => return Ok((refused, Listing::default())),
        };
    let listing = if list {
        let caller = Caller { user: grant.user.clone(), token: grant.token.clone() };
        let callable =
            callable_functions(&*snapshot, &caller, call.protocol, client, now).map_err(Refusal::unavailable)?;
        Listing { callable, site_url: snapshot.settings.site_url.clone() }
    } else {
        Listing::default()
    };
    if grant.forward {
        let forwarded = app.forward(&snapshot, &grant, &call, &args).await;
        if let Some(t) = &grant.token {
            app.note_access(t, now);
        }
        let (result, site, retry_after, figures) = match forwarded {
            Ok(Forwarded::Encode(done, figures)) => (Ok(done), None, None, Some(figures)),
            Ok(Forwarded::AsSent(reply)) => {
                let figures = super::forward::figures(&reply);
                (Ok(Done { value: None, description: None }), Some(reply), None, Some(figures))
            }
            Err(e) => (Err(e.exception), None, e.retry_after, e.site),
        };
        let outcome = match (&result, &site) {
            (Err(e), _) => e.errorcode.clone(),
            // The site's REST answer as sent: its exception's code, when it is one.
            (Ok(_), Some(reply)) => reply.exception_code().map_or("ok".into(), Into::into),
            (Ok(_), None) => "ok".into(),
        };
        app.log_forwarded(&call.entry(incoming, client, now), outcome, Who::from(&grant), figures);
        return Ok((Answer { result, site, retry_after, debugging, stage: Stage::Execution }, listing));
    }
    let description = model::description(&grant.function).expect("decide only grants catalogued functions");
    let result = if description.info.name != functions::SITE_INFO {
        // Writes commit durably and searches may read every user: keep them off the async
        // workers. The hot, cheap site info runs inline.
        let (store, snapshot, grant) = (app.store.clone(), snapshot.clone(), grant.clone());
        tokio::task::spawn_blocking(move || run(description, &store, &snapshot, &grant, &args, now))
            .await
            .unwrap_or_else(|e| {
                Err(MoodleException::new(
                    "core\\exception\\coding_exception",
                    "codingerror",
                    format!("Coding error detected, it must be fixed by a programmer: {e}"),
                ))
            })
    } else {
        run(description, &app.store, &snapshot, &grant, &args, now)
    };
    if let Some(t) = &grant.token {
        app.note_access(t, now);
    }
    let outcome = result.as_ref().map_or_else(|e| e.errorcode.clone(), |_| "ok".into());
    app.log_call(&call.entry(incoming, client, now), outcome, Who::from(&grant));
    let result = result.map(|value| Done { value, description: Some(description) });
    Ok((Answer { result, site: None, retry_after: None, debugging, stage: Stage::Execution }, listing))
}

/// The functions the caller may call and the site's address, for a description of the
/// service (the SOAP WSDL); a caller refused gets the [`Answer`] to send. The request is
/// logged under `call.function` with `outcome` (a request that calls nothing, such as an
/// unreadable SOAP envelope, is still checked and logged this way).
pub async fn describe(
    app: &AppState,
    incoming: &Incoming,
    call: &Call,
    outcome: &'static str,
) -> Result<Result<(Vec<&'static Description>, String), Answer>, Refusal> {
    fn callable(
        data: &Snapshot,
        req: &AccessRequest<'_>,
        check: PasswordCheck<'_>,
    ) -> Result<Result<(Caller, Vec<&'static str>), Denial>, StoreError> {
        Ok(match authenticate(data, req, check)? {
            Ok(caller) => {
                let names = callable_functions(data, &caller, req.protocol, req.remote, req.now)?;
                Ok((caller, names))
            }
            Err(d) => Err(d),
        })
    }
    let auth = match authorise(app, incoming, call, callable).await? {
        Ok(authorised) => authorised,
        Err(refused) => return Ok(Err(refused)),
    };
    let (caller, names) = auth.value;
    if let Some(t) = &caller.token {
        app.note_access(t, auth.now);
    }
    app.log_call(&call.entry(incoming, auth.client, auth.now), outcome, Who::from(&caller));
    let descriptions = names.into_iter().filter_map(model::description).collect();
    Ok(Ok((descriptions, auth.snapshot.settings.site_url.clone())))
}

fn run(
    description: &'static Description,
    store: &std::sync::Arc<crate::store::Store>,
    snapshot: &Snapshot,
    grant: &Grant,
    args: &Value,
    now: i64,
) -> Result<Option<Value>, MoodleException> {
    let ctx = CallContext {
        store,
        view: &snapshot.view,
        user: &grant.user,
        service: grant.token.as_ref().map(|_| &*grant.service),
        token: grant.token.as_ref(),
        settings: &snapshot.settings,
        now,
        records: Some(snapshot.records()),
    };
    functions::call(description, &ctx, args)
}
