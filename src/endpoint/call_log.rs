//! What the call log records of every request, and the token last access it notes, written
//! by the activity writer in batches.

use super::activity::Event;
use super::state::App;
use crate::domain::access::{Caller, Grant};
use crate::domain::iprestriction::ClientAddr;
use crate::domain::upstream::SiteCall;
use crate::domain::{CallLog, ServiceId, Token, TokenId, UserId};
use std::time::Instant;

/// One request, as the call log names it.
pub struct Entry<'a> {
    /// What the client asked for (the function, or a name for a request that calls none).
    pub function: &'a str,
    /// The protocol's name, or `login`.
    pub protocol: &'static str,
    pub client: ClientAddr,
    pub now: i64,
    pub started: Instant,
}

/// Who made the call, as far as it was found.
#[derive(Default)]
pub struct Who {
    pub token: Option<TokenId>,
    pub user: Option<UserId>,
    pub service: Option<ServiceId>,
}

impl From<&Grant> for Who {
    fn from(g: &Grant) -> Who {
        Who { token: g.token.as_ref().map(|t| t.id), user: Some(g.user.id), service: Some(g.service.id) }
    }
}

impl From<&crate::domain::file_access::FileGrant> for Who {
    fn from(g: &crate::domain::file_access::FileGrant) -> Who {
        Who { token: Some(g.token.id), user: Some(g.user.id), service: Some(g.service.id) }
    }
}

impl From<&Caller> for Who {
    fn from(c: &Caller) -> Who {
        Who {
            token: c.token.as_ref().map(|t| t.id),
            user: Some(c.user.id),
            service: c.token.as_ref().map(|t| t.service),
        }
    }
}

impl App {
    pub(super) fn log_call(&self, entry: &Entry<'_>, outcome: impl Into<std::borrow::Cow<'static, str>>, who: Who) {
        self.log_forwarded(entry, outcome, who, None)
    }

    /// [`log_call`](Self::log_call) with what the Moodle site did, for a forwarded call.
    pub(super) fn log_forwarded(
        &self,
        entry: &Entry<'_>,
        outcome: impl Into<std::borrow::Cow<'static, str>>,
        who: Who,
        site: Option<SiteCall>,
    ) {
        self.activity.send(Event::Call(CallLog {
            time: entry.now,
            token: who.token,
            user: who.user,
            service: who.service,
            function: logged_function(entry.function),
            protocol: entry.protocol.into(),
            remote_ip: entry.client.to_string(),
            outcome: outcome.into(),
            duration_micros: u64::try_from(entry.started.elapsed().as_micros()).unwrap_or(u64::MAX),
            site,
        }))
    }

    /// The token was used now (written in batches, at most every `LAST_ACCESS_EVERY`).
    pub(super) fn note_access(&self, t: &Token, now: i64) {
        self.activity.note_access(t.id, t.last_access, now);
    }
}

/// The function as the call log names it: the catalogue's name, or what the client sent, cut
/// to 200 characters.
fn logged_function(sent: &str) -> std::borrow::Cow<'static, str> {
    match crate::domain::function_catalogue::find(sent) {
        Some(f) => f.name.into(),
        None => sent.chars().take(200).collect::<String>().into(),
    }
}
