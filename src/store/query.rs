//! Typed reads, usable in a read transaction or inside a write transaction (for validation),
//! through the [`View`] trait.

use super::StoreError;
use super::codec::decode;
use super::tables::View;
use super::token_listing::{TokenQuery, TokenRow};
use crate::domain::walkthrough::Facts;
use crate::domain::*;
use redb::{ReadableTable, ReadableTableMetadata};
use std::collections::{BTreeSet, HashSet};

/// One page of a listing and how many rows matched in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub total: usize,
}

/// A role assignment as listed for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRoles {
    pub assigned: Vec<Role>,
    /// Roles every user holds implicitly (Authenticated user).
    pub implicit: Vec<Role>,
}

fn get_record<T: serde::de::DeserializeOwned, K: redb::Key + 'static>(
    table: &impl ReadableTable<K, &'static [u8]>,
    key: K::SelfType<'_>,
    what: &str,
) -> Result<Option<T>, StoreError> {
    match table.get(key)? {
        Some(v) => Ok(Some(decode(v.value(), what)?)),
        None => Ok(None),
    }
}

fn all_records<T: serde::de::DeserializeOwned, K: redb::Key + 'static>(
    table: &impl ReadableTable<K, &'static [u8]>,
    what: &str,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for entry in table.iter()? {
        let (_, v) = entry?;
        out.push(decode(v.value(), what)?);
    }
    Ok(out)
}

pub(super) fn contains_ci(haystack: &str, needle_lower: &str) -> bool {
    needle_lower.is_empty() || haystack.to_lowercase().contains(needle_lower)
}

/// Every read the front ends and `ops` need.
pub trait Queries: View {
    fn settings(&self) -> Result<Settings, StoreError> {
        let mut settings: Settings = get_record(self.config()?, "settings", "settings")?.unwrap_or_default();
        if let Some(upstream) = get_record(self.config()?, "upstream", "upstream settings")? {
            settings.upstream = upstream;
        }
        if let Some(wwwroot) = get_record(self.config()?, "upstream_wwwroot", "the site's wwwroot")? {
            settings.upstream.wwwroot = wwwroot;
        }
        Ok(settings)
    }

    /// A service's link to the Moodle site, if it has one.
    fn upstream(&self, service: ServiceId) -> Result<Option<crate::domain::upstream::Upstream>, StoreError> {
        get_record(self.upstreams()?, service, "upstream")
    }

    /// What the endpoint recorded at its last start, if one ever ran on this database.
    fn endpoint_start(&self) -> Result<Option<crate::domain::site_url::EndpointStart>, StoreError> {
        get_record(self.config()?, "endpoint", "endpoint start")
    }

    fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        get_record(self.users()?, id, "user")
    }

    /// Write transactions committed so far, the endpoint's activity writes excepted: when it
    /// has not moved, nothing an administrator configures has changed.
    fn change_count(&self) -> Result<u64, StoreError> {
        Ok(self.meta()?.get(super::write::CHANGE_COUNT)?.map(|v| v.value()).unwrap_or(0))
    }

    fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        match self.users_by_username()?.get(username)? {
            Some(id) => Queries::user(self, id.value()),
            None => Ok(None),
        }
    }

    /// Live users whose username, name or e-mail contains `filter` (case-insensitive), by
    /// username.
    fn find_users(&self, filter: &str, offset: usize, limit: usize) -> Result<Page<User>, StoreError> {
        let needle = filter.to_lowercase();
        let mut rows = Vec::new();
        let mut total = 0;
        for entry in self.users_by_username()?.iter()? {
            let (name, id) = entry?;
            let in_window = total >= offset && rows.len() < limit;
            // The username is in the index; the other fields need the record.
            if contains_ci(name.value(), &needle) {
                if in_window && let Some(u) = Queries::user(self, id.value())? {
                    rows.push(u);
                }
                total += 1;
            } else if let Some(u) = Queries::user(self, id.value())?
                && (contains_ci(&u.fullname(), &needle) || contains_ci(&u.email, &needle))
            {
                if in_window {
                    rows.push(u);
                }
                total += 1;
            }
        }
        Ok(Page { rows, total })
    }

    /// Where `username` is among the users `find_users(filter, ..)` lists, if it is there.
    fn user_position(&self, filter: &str, username: &str) -> Result<Option<usize>, StoreError> {
        let needle = filter.to_lowercase();
        let mut position = 0;
        for entry in self.users_by_username()?.iter()? {
            let (name, id) = entry?;
            let matches = contains_ci(name.value(), &needle)
                || Queries::user(self, id.value())?
                    .is_some_and(|u| contains_ci(&u.fullname(), &needle) || contains_ci(&u.email, &needle));
            if name.value() == username {
                return Ok(matches.then_some(position));
            }
            position += usize::from(matches);
        }
        Ok(None)
    }

    fn user_count(&self) -> Result<u64, StoreError> {
        Ok(self.users_by_username()?.len()?)
    }

    fn role(&self, id: RoleId) -> Result<Option<Role>, StoreError> {
        get_record(self.roles()?, id, "role")
    }

    fn role_by_shortname(&self, shortname: &str) -> Result<Option<Role>, StoreError> {
        match self.roles_by_shortname()?.get(shortname)? {
            Some(id) => Queries::role(self, id.value()),
            None => Ok(None),
        }
    }

    fn all_roles(&self) -> Result<Vec<Role>, StoreError> {
        all_records(self.roles()?, "role")
    }

    fn role_capabilities(&self, role: RoleId) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for entry in self.role_caps()?.range((role, "")..(role + 1, ""))? {
            out.push(entry?.0.value().1.to_string());
        }
        Ok(out)
    }

    fn role_holders(&self, role: RoleId) -> Result<Vec<UserId>, StoreError> {
        let mut out = Vec::new();
        for entry in self.role_assignments()?.iter()? {
            let (user, r) = entry?.0.value();
            if r == role {
                out.push(user);
            }
        }
        Ok(out)
    }

    fn user_roles(&self, user: UserId) -> Result<UserRoles, StoreError> {
        let mut assigned = Vec::new();
        for entry in self.role_assignments()?.range((user, 0)..=(user, u64::MAX))? {
            if let Some(r) = Queries::role(self, entry?.0.value().1)? {
                assigned.push(r);
            }
        }
        let implicit = self.all_roles()?.into_iter().filter(|r| r.implicit).collect();
        Ok(UserRoles { assigned, implicit })
    }

    /// The roles assigned to the user (not the implicit ones).
    fn assigned_role_ids(&self, user: UserId) -> Result<Vec<RoleId>, StoreError> {
        let mut out = Vec::new();
        for entry in self.role_assignments()?.range((user, 0)..=(user, u64::MAX))? {
            out.push(entry?.0.value().1);
        }
        Ok(out)
    }

    /// Every capability the user holds through any role, implicit ones included.
    fn user_capabilities(&self, user: UserId) -> Result<BTreeSet<String>, StoreError> {
        let roles = self.user_roles(user)?;
        let mut caps = BTreeSet::new();
        for r in roles.assigned.iter().chain(&roles.implicit) {
            caps.extend(self.role_capabilities(r.id)?);
        }
        Ok(caps)
    }

    fn user_has_capability(&self, user: UserId, capability: &str) -> Result<bool, StoreError> {
        let caps = self.role_caps()?;
        for entry in self.roles()?.iter()? {
            let (id, bytes) = entry?;
            let role: Role = decode(bytes.value(), "role")?;
            if role.implicit && caps.get((id.value(), capability))?.is_some() {
                return Ok(true);
            }
        }
        for entry in self.role_assignments()?.range((user, 0)..=(user, u64::MAX))? {
            let role = entry?.0.value().1;
            if caps.get((role, capability))?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Users holding `capability` through an explicit assignment, and whether an implicit role
    /// gives it to everybody.
    fn capability_holders(&self, capability: &str) -> Result<(HashSet<UserId>, bool), StoreError> {
        let caps = self.role_caps()?;
        let mut roles = HashSet::new();
        let mut everybody = false;
        for r in self.all_roles()? {
            if caps.get((r.id, capability))?.is_some() {
                everybody |= r.implicit;
                roles.insert(r.id);
            }
        }
        let mut users = HashSet::new();
        if !roles.is_empty() {
            for entry in self.role_assignments()?.iter()? {
                let (user, role) = entry?.0.value();
                if roles.contains(&role) {
                    users.insert(user);
                }
            }
        }
        Ok((users, everybody))
    }

    fn service(&self, id: ServiceId) -> Result<Option<Service>, StoreError> {
        get_record(self.services()?, id, "service")
    }

    fn service_by_shortname(&self, shortname: &str) -> Result<Option<Service>, StoreError> {
        match self.services_by_shortname()?.get(shortname)? {
            Some(id) => Queries::service(self, id.value()),
            None => Ok(None),
        }
    }

    /// Every service, built-in first, then by name (as Moodle's External services page).
    fn all_services(&self) -> Result<Vec<Service>, StoreError> {
        let mut v: Vec<Service> = all_records(self.services()?, "service")?;
        v.sort_by(|a, b| b.builtin.cmp(&a.builtin).then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase())));
        Ok(v)
    }

    fn service_function_names(&self, service: ServiceId) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for entry in self.service_functions()?.range((service, "")..(service + 1, ""))? {
            out.push(entry?.0.value().1.to_string());
        }
        Ok(out)
    }

    fn authorised_users(&self, service: ServiceId) -> Result<Vec<AuthorisedUser>, StoreError> {
        let mut out = Vec::new();
        for entry in self.service_users()?.range((service, 0)..=(service, u64::MAX))? {
            out.push(decode(entry?.1.value(), "authorised user")?);
        }
        Ok(out)
    }

    fn authorisation(&self, service: ServiceId, user: UserId) -> Result<Option<AuthorisedUser>, StoreError> {
        get_record(self.service_users()?, (service, user), "authorised user")
    }

    fn token_by_hash(&self, hash: &TokenHash) -> Result<Option<Token>, StoreError> {
        get_record(self.tokens()?, hash, "token")
    }

    /// Every token, in hash order, without collecting them: for in-memory indexes.
    fn each_token(&self, mut f: impl FnMut(Token)) -> Result<(), StoreError> {
        for entry in self.tokens()?.iter()? {
            f(decode(entry?.1.value(), "token")?);
        }
        Ok(())
    }

    /// The stored hash of a token, which the access check needs to decide as the endpoint does.
    fn token_hash_by_id(&self, id: TokenId) -> Result<Option<TokenHash>, StoreError> {
        Ok(self.tokens_by_id()?.get(id)?.map(|h| *h.value()))
    }

    fn token_by_id(&self, id: TokenId) -> Result<Option<Token>, StoreError> {
        match self.tokens_by_id()?.get(id)? {
            Some(h) => Queries::token_by_hash(self, h.value()),
            None => Ok(None),
        }
    }

    /// Every token of a user, with its stored hash (login/token.php's reuse and its limit).
    fn tokens_of_user(&self, user: UserId) -> Result<Vec<(TokenHash, Token)>, StoreError> {
        let mut out = Vec::new();
        for id in self.token_ids_of_user(user)? {
            if let Some(hash) = self.token_hash_by_id(id)?
                && let Some(token) = Queries::token_by_hash(self, &hash)?
            {
                out.push((hash, token));
            }
        }
        Ok(out)
    }

    fn token_ids_of_user(&self, user: UserId) -> Result<Vec<TokenId>, StoreError> {
        let mut out = Vec::new();
        for entry in self.tokens_by_user()?.range((user, 0)..=(user, u64::MAX))? {
            out.push(entry?.0.value().1);
        }
        Ok(out)
    }

    fn token_ids_of_service(&self, service: ServiceId) -> Result<Vec<TokenId>, StoreError> {
        let mut out = Vec::new();
        for entry in self.tokens_by_service()?.range((service, 0)..=(service, u64::MAX))? {
            out.push(entry?.0.value().1);
        }
        Ok(out)
    }

    fn token_count(&self) -> Result<u64, StoreError> {
        Ok(self.tokens_by_id()?.len()?)
    }

    /// The token list: filtered by name, user, service and state, sorted, one page.
    ///
    /// A user or service filter starts from the per-user and per-service indexes, so a
    /// selective filter reads only the matching tokens; without one every token is read once.
    fn list_tokens(&self, q: &TokenQuery) -> Result<Page<TokenRow>, StoreError> {
        super::token_listing::list_tokens(self, q)
    }

    /// Newest audit entries first.
    fn audit_entries(&self, filter: &str, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let needle = filter.to_lowercase();
        let mut out = Vec::new();
        for entry in self.audit_log()?.iter()?.rev() {
            let e: AuditEntry = decode(entry?.1.value(), "audit entry")?;
            if needle.is_empty()
                || [&e.actor, &e.operation, &e.target, &e.summary].iter().any(|f| contains_ci(f, &needle))
            {
                out.push(e);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Newest calls first.
    fn call_entries(&self, limit: usize) -> Result<Vec<CallLog>, StoreError> {
        let mut out = Vec::new();
        for entry in self.call_log()?.iter()?.rev().take(limit) {
            let (key, value) = entry?;
            let mut call: CallLog = decode(value.value(), "call log")?;
            call.site = self.call_site_of(key.value())?;
            out.push(call);
        }
        Ok(out)
    }

    /// What the Moodle site did with the logged call `key`, if it was forwarded.
    fn call_site_of(&self, key: (u64, u64)) -> Result<Option<crate::domain::upstream::SiteCall>, StoreError> {
        get_record(self.call_site()?, key, "call site")
    }

    /// The time and number of the newest call logged.
    fn newest_call(&self) -> Result<Option<(UnixTime, u64)>, StoreError> {
        Ok(self.call_log()?.last()?.map(|(k, _)| {
            let (time, seq) = k.value();
            (i64::try_from(time).unwrap_or(i64::MAX), seq)
        }))
    }

    /// Calls logged after `seen` (the highest call number already read), oldest first, at
    /// most `limit`: how an open console follows the endpoint's activity without rereading.
    /// Only calls timed within `slack` seconds before `since` are looked at: the endpoint
    /// logs a call within a second or two of making it.
    fn calls_since(
        &self,
        since: UnixTime,
        slack: i64,
        seen: u64,
        limit: usize,
    ) -> Result<Vec<(u64, CallLog)>, StoreError> {
        let from = u64::try_from(since.saturating_sub(slack)).unwrap_or(0);
        let mut out = Vec::new();
        for entry in self.call_log()?.range((from, 0)..)? {
            let (key, value) = entry?;
            let seq = key.value().1;
            if seq > seen {
                let mut call: CallLog = decode(value.value(), "call log")?;
                call.site = self.call_site_of(key.value())?;
                out.push((seq, call));
            }
        }
        out.sort_by_key(|(seq, _)| *seq);
        let skip = out.len().saturating_sub(limit);
        Ok(out.split_off(skip))
    }

    fn call_count(&self) -> Result<u64, StoreError> {
        Ok(self.call_log()?.len()?)
    }

    /// Everything the setup walkthrough needs, in this one transaction.
    fn walkthrough_facts(&self, now: UnixTime) -> Result<Facts, StoreError> {
        super::walkthrough_facts::walkthrough_facts(self, now)
    }
}

impl<V: View> Queries for V {}
