//! What the setup walkthrough and the Overview's flows are computed from, read in one
//! transaction (`domain::walkthrough` decides each step's status from it).

use super::StoreError;
use super::codec::decode;
use super::query::Queries;
use crate::domain::walkthrough::{self, Facts, Holders};
use crate::domain::*;
use redb::ReadableTable;
use std::collections::{HashMap, HashSet};

/// Everything the setup walkthrough needs, in this one transaction.
pub(super) fn walkthrough_facts<V: Queries + ?Sized>(v: &V, now: UnixTime) -> Result<Facts, StoreError> {
    let settings = Queries::settings(v)?;
    // One pass in id order, keeping names only: 100 000 users must not all sit in memory.
    let mut live: HashMap<UserId, String> = HashMap::new();
    let mut ws: HashSet<UserId> = HashSet::new();
    for entry in v.users()?.iter()? {
        let u: User = decode(entry?.1.value(), "user")?;
        if !u.deleted {
            if u.auth == AuthMethod::Webservice {
                ws.insert(u.id);
            }
            live.insert(u.id, u.username);
        }
    }
    for entry in v.service_users()?.iter()? {
        ws.insert(entry?.0.value().1);
    }
    for entry in v.tokens_by_user()?.iter()? {
        ws.insert(entry?.0.value().0);
    }
    ws.retain(|id| live.contains_key(id));
    let mut holders = HashMap::new();
    for cap in walkthrough::capabilities_needed() {
        let (users, everybody) = v.capability_holders(cap)?;
        holders.insert(cap, Holders { users, everybody });
    }
    let mut f = Facts { users: live, ws_users: ws, holders, ..Facts::default() };
    for s in v.all_services()? {
        if let Some(link) = Queries::upstream(v, s.id)? {
            let offered = link.sync.as_ref().map_or(&[][..], |sync| sync.functions.as_slice());
            let listed = v.service_function_names(s.id)?;
            let site_functions = listed.iter().filter(|n| offered.contains(n)).count() as u64;
            f.site_links.push(crate::domain::front_flow::SiteLink {
                service: s.shortname.clone(),
                link,
                site_functions,
            });
        }
        if s.builtin || !s.enabled {
            continue;
        }
        let has_functions = v.service_functions()?.range((s.id, "")..(s.id + 1, ""))?.next().is_some();
        if s.restricted_users {
            f.restricted_services += 1;
            f.restricted_services_with_functions += u64::from(has_functions);
            f.authorised_users += v.authorised_users(s.id)?.len() as u64;
        } else {
            f.open_services += 1;
            f.open_services_with_functions += u64::from(has_functions);
        }
    }
    for entry in v.tokens()?.iter()? {
        let t: Token = decode(entry?.1.value(), "token")?;
        if t.state(now) != TokenState::Expired {
            f.valid_tokens += 1;
        }
    }
    // The newest successful call, and (a little further back at most) the newest one the
    // Moodle site answered.
    let fronting = !f.site_links.is_empty() || settings.upstream.is_set();
    for (scanned, entry) in v.call_log()?.iter()?.rev().enumerate() {
        let (key, value) = entry?;
        let c: CallLog = decode(value.value(), "call log")?;
        if c.outcome == "ok" {
            f.last_successful_call = f.last_successful_call.or(Some(c.time));
            if fronting && f.last_forwarded_call.is_none() && v.call_site_of(key.value())?.is_some() {
                f.last_forwarded_call = Some(c.time);
            }
        }
        let forwarded_found = !fronting || f.last_forwarded_call.is_some();
        if (f.last_successful_call.is_some() && forwarded_found) || scanned >= 10_000 {
            break;
        }
    }
    f.settings = settings;
    Ok(f)
}
