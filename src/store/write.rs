//! Typed writes: each keeps a record and its indexes consistent. Rules about what may be
//! written live in `ops`.

use super::StoreError;
use super::codec::encode;
use super::feed::Change;
use super::tables::WriteTables;
use crate::domain::*;
use redb::ReadableTable;

/// Token ids and log sequence numbers come from counters in `meta`.
fn seq_key(kind: &str) -> String {
    format!("seq:{kind}")
}

/// Counts every write transaction except the endpoint's activity writes (`Store::write_activity`).
pub(crate) const CHANGE_COUNT: &str = "changes";

/// The only writes `Store::write_activity` allows.
pub struct ActivityTables<'a, 'txn>(pub(super) &'a mut WriteTables<'txn>);

impl ActivityTables<'_, '_> {
    pub fn append_calls(&mut self, calls: &[CallLog]) -> Result<(), StoreError> {
        self.0.append_calls(calls)
    }

    pub fn touch_token(&mut self, id: TokenId, time: UnixTime, min_gap: i64) -> Result<(), StoreError> {
        self.0.touch_token(id, time, min_gap)
    }

    pub fn prune_calls_before(&mut self, cutoff: UnixTime, limit: usize) -> Result<usize, StoreError> {
        self.0.prune_calls_before(cutoff, limit)
    }
}

impl WriteTables<'_> {
    pub(super) fn count_change(&mut self) -> Result<(), StoreError> {
        let next = self.meta.get(CHANGE_COUNT)?.map(|v| v.value()).unwrap_or(0) + 1;
        self.meta.insert(CHANGE_COUNT, next)?;
        Ok(())
    }

    /// The next id of a kind ("user", "role", "service", "token", "call", "audit"); ids start at 1
    /// and are never reused.
    pub fn next_id(&mut self, kind: &str) -> Result<u64, StoreError> {
        let key = seq_key(kind);
        let next = self.meta.get(key.as_str())?.map(|v| v.value()).unwrap_or(0) + 1;
        self.meta.insert(key.as_str(), next)?;
        Ok(next)
    }

    /// Reserves `n` consecutive ids and returns the first.
    pub fn reserve_ids(&mut self, kind: &str, n: u64) -> Result<u64, StoreError> {
        let key = seq_key(kind);
        let first = self.meta.get(key.as_str())?.map(|v| v.value()).unwrap_or(0) + 1;
        self.meta.insert(key.as_str(), first + n - 1)?;
        Ok(first)
    }

    pub fn put_settings(&mut self, s: &Settings) -> Result<(), StoreError> {
        self.config.insert("settings", encode(s).as_slice())?;
        self.config.insert("upstream", encode(&s.upstream).as_slice())?;
        self.config.insert("upstream_wwwroot", encode(&s.upstream.wwwroot).as_slice())?;
        self.changed(Change::Settings);
        Ok(())
    }

    /// What the endpoint recorded at its last start (beside the settings, no schema change).
    pub fn put_endpoint_start(&mut self, e: &crate::domain::site_url::EndpointStart) -> Result<(), StoreError> {
        self.config.insert("endpoint", encode(e).as_slice())?;
        self.changed(Change::EndpointStart);
        Ok(())
    }

    /// Writes a user; `old` is its previous state, so the username index follows renames and
    /// deletion.
    pub fn put_user(&mut self, u: &User, old: Option<&User>) -> Result<(), StoreError> {
        if let Some(old) = old
            && !old.deleted
            && (old.username != u.username || u.deleted)
        {
            self.users_by_username.remove(old.username.as_str())?;
        }
        if !u.deleted {
            self.users_by_username.insert(u.username.as_str(), u.id)?;
        }
        self.users.insert(u.id, encode(u).as_slice())?;
        self.changed(Change::User(u.id));
        Ok(())
    }

    pub fn put_role(&mut self, r: &Role, old: Option<&Role>) -> Result<(), StoreError> {
        if let Some(old) = old
            && old.shortname != r.shortname
        {
            self.roles_by_shortname.remove(old.shortname.as_str())?;
        }
        self.roles_by_shortname.insert(r.shortname.as_str(), r.id)?;
        self.roles.insert(r.id, encode(r).as_slice())?;
        self.changed(Change::Role(r.id));
        Ok(())
    }

    /// Removes a role with its capabilities and assignments.
    pub fn remove_role(&mut self, r: &Role) -> Result<(), StoreError> {
        self.roles.remove(r.id)?;
        self.roles_by_shortname.remove(r.shortname.as_str())?;
        let caps: Vec<String> = self
            .role_caps
            .range((r.id, "")..(r.id + 1, ""))?
            .map(|e| e.map(|(k, _)| k.value().1.to_string()))
            .collect::<Result<_, _>>()?;
        for cap in &caps {
            self.role_caps.remove((r.id, cap.as_str()))?;
        }
        let holders: Vec<u64> = self
            .role_assignments
            .iter()?
            .filter_map(|e| e.ok().map(|(k, _)| k.value()))
            .filter(|(_, role)| *role == r.id)
            .map(|(user, _)| user)
            .collect();
        for user in holders {
            self.role_assignments.remove((user, r.id))?;
            self.changed(Change::RoleAssignment { user, role: r.id });
        }
        self.changed(Change::Role(r.id));
        Ok(())
    }

    /// Allows (`present`) or unsets a capability on a role; returns whether anything changed.
    pub fn set_role_cap(&mut self, role: RoleId, cap: &str, present: bool) -> Result<bool, StoreError> {
        let changed = if present {
            self.role_caps.insert((role, cap), ())?.is_none()
        } else {
            self.role_caps.remove((role, cap))?.is_some()
        };
        if changed {
            self.changed(Change::Role(role));
        }
        Ok(changed)
    }

    /// Assigns (`present`) or unassigns a role; returns whether anything changed.
    pub fn set_role_assignment(&mut self, user: UserId, role: RoleId, present: bool) -> Result<bool, StoreError> {
        let changed = if present {
            self.role_assignments.insert((user, role), ())?.is_none()
        } else {
            self.role_assignments.remove((user, role))?.is_some()
        };
        if changed {
            self.changed(Change::RoleAssignment { user, role });
        }
        Ok(changed)
    }

    /// Adds (`present`) or removes a function of a service; returns whether anything changed.
    pub fn set_service_function(
        &mut self,
        service: ServiceId,
        function: &str,
        present: bool,
    ) -> Result<bool, StoreError> {
        let changed = if present {
            self.service_functions.insert((service, function), ())?.is_none()
        } else {
            self.service_functions.remove((service, function))?.is_some()
        };
        if changed {
            self.changed(Change::ServiceFunctions(service));
        }
        Ok(changed)
    }

    /// Removes an authorised user; returns whether there was one.
    pub fn remove_authorised(&mut self, service: ServiceId, user: UserId) -> Result<bool, StoreError> {
        let removed = self.service_users.remove((service, user))?.is_some();
        if removed {
            self.changed(Change::Authorised { service, user });
        }
        Ok(removed)
    }

    pub fn put_service(&mut self, s: &Service, old: Option<&Service>) -> Result<(), StoreError> {
        if let Some(old) = old
            && old.shortname != s.shortname
        {
            self.services_by_shortname.remove(old.shortname.as_str())?;
        }
        self.services_by_shortname.insert(s.shortname.as_str(), s.id)?;
        self.services.insert(s.id, encode(s).as_slice())?;
        self.changed(Change::Service(s.id));
        Ok(())
    }

    /// Removes a service with its functions, authorised users and tokens; returns how many
    /// tokens went with it.
    /// Writes a service's link to the site.
    pub fn put_upstream(&mut self, u: &crate::domain::upstream::Upstream) -> Result<(), StoreError> {
        self.upstreams.insert(u.service, encode(u).as_slice())?;
        self.changed(Change::Upstream(u.service));
        Ok(())
    }

    /// Removes a service's link to the site (its sealed credential with it).
    pub fn remove_upstream(&mut self, service: ServiceId) -> Result<(), StoreError> {
        if self.upstreams.remove(service)?.is_some() {
            self.changed(Change::Upstream(service));
        }
        Ok(())
    }

    pub fn remove_service(&mut self, s: &Service) -> Result<usize, StoreError> {
        self.remove_upstream(s.id)?;
        let revoked = self.remove_tokens_of_service(s.id)?;
        self.services.remove(s.id)?;
        self.services_by_shortname.remove(s.shortname.as_str())?;
        let functions: Vec<String> = self
            .service_functions
            .range((s.id, "")..(s.id + 1, ""))?
            .map(|e| e.map(|(k, _)| k.value().1.to_string()))
            .collect::<Result<_, _>>()?;
        for f in &functions {
            self.service_functions.remove((s.id, f.as_str()))?;
        }
        self.changed(Change::Service(s.id));
        self.changed(Change::ServiceFunctions(s.id));
        let users: Vec<u64> = self
            .service_users
            .range((s.id, 0)..(s.id + 1, 0))?
            .map(|e| e.map(|(k, _)| k.value().1))
            .collect::<Result<_, _>>()?;
        for user in users {
            self.service_users.remove((s.id, user))?;
            self.changed(Change::Authorised { service: s.id, user });
        }
        Ok(revoked)
    }

    pub fn put_authorised(&mut self, a: &AuthorisedUser) -> Result<(), StoreError> {
        self.service_users.insert((a.service, a.user), encode(a).as_slice())?;
        self.changed(Change::Authorised { service: a.service, user: a.user });
        Ok(())
    }

    pub fn put_token(&mut self, hash: &TokenHash, t: &Token) -> Result<(), StoreError> {
        self.tokens.insert(hash, encode(t).as_slice())?;
        self.tokens_by_id.insert(t.id, hash)?;
        self.tokens_by_user.insert((t.user, t.id), ())?;
        self.tokens_by_service.insert((t.service, t.id), ())?;
        self.changed(Change::Token { id: t.id, hash: *hash, user: t.user });
        Ok(())
    }

    /// Rewrites a token's record in place: its indexes do not change.
    pub fn update_token_record(&mut self, hash: &TokenHash, t: &Token) -> Result<(), StoreError> {
        self.tokens.insert(hash, encode(t).as_slice())?;
        self.changed(Change::Token { id: t.id, hash: *hash, user: t.user });
        Ok(())
    }

    /// Records a token's last access if `min_gap` seconds have passed since the one stored
    /// (Moodle writes it at most once a minute). Unknown ids are ignored: revoked meanwhile.
    pub fn touch_token(&mut self, id: TokenId, time: UnixTime, min_gap: i64) -> Result<(), StoreError> {
        let hash = self.tokens_by_id.get(id)?.map(|h| *h.value());
        if let Some(hash) = hash
            && let Some(mut token) = super::Queries::token_by_hash(self, &hash)?
            && token.last_access.is_none_or(|a| time - a >= min_gap)
        {
            token.last_access = Some(time);
            self.tokens.insert(&hash, encode(&token).as_slice())?;
            self.changed(Change::TokenAccess(id));
        }
        Ok(())
    }

    /// Deletes up to `limit` call-log rows older than `cutoff`; returns how many.
    pub fn prune_calls_before(&mut self, cutoff: UnixTime, limit: usize) -> Result<usize, StoreError> {
        let cutoff = u64::try_from(cutoff).unwrap_or(0);
        let keys: Vec<(u64, u64)> = self
            .call_log
            .range((0u64, 0u64)..(cutoff, 0u64))?
            .take(limit)
            .map(|e| e.map(|(k, _)| k.value()))
            .collect::<Result<_, _>>()?;
        for k in &keys {
            self.call_log.remove(k)?;
            self.call_site.remove(k)?;
        }
        if !keys.is_empty() {
            self.changed(Change::Calls);
        }
        Ok(keys.len())
    }

    /// Removes a token by id; returns it if it existed.
    pub fn remove_token(&mut self, id: TokenId) -> Result<Option<Token>, StoreError> {
        let Some(hash) = self.tokens_by_id.remove(id)?.map(|h| *h.value()) else {
            return Ok(None);
        };
        let Some(token) = self.tokens.remove(&hash)?.map(|v| super::codec::decode::<Token>(v.value(), "token")) else {
            return Ok(None);
        };
        let token = token?;
        self.tokens_by_user.remove((token.user, id))?;
        self.tokens_by_service.remove((token.service, id))?;
        self.changed(Change::Token { id, hash, user: token.user });
        Ok(Some(token))
    }

    pub fn remove_tokens_of_user(&mut self, user: UserId) -> Result<usize, StoreError> {
        let ids: Vec<u64> = self
            .tokens_by_user
            .range((user, 0)..=(user, u64::MAX))?
            .map(|e| e.map(|(k, _)| k.value().1))
            .collect::<Result<_, _>>()?;
        for id in &ids {
            self.remove_token(*id)?;
        }
        Ok(ids.len())
    }

    pub fn remove_tokens_of_service(&mut self, service: ServiceId) -> Result<usize, StoreError> {
        let ids: Vec<u64> = self
            .tokens_by_service
            .range((service, 0)..=(service, u64::MAX))?
            .map(|e| e.map(|(k, _)| k.value().1))
            .collect::<Result<_, _>>()?;
        for id in &ids {
            self.remove_token(*id)?;
        }
        Ok(ids.len())
    }

    pub fn append_audit(&mut self, e: &AuditEntry) -> Result<(), StoreError> {
        let seq = self.next_id("audit")?;
        self.audit_log.insert((u64::try_from(e.time).unwrap_or(0), seq), encode(e).as_slice())?;
        self.changed(Change::Audit);
        Ok(())
    }

    pub fn append_calls(&mut self, calls: &[CallLog]) -> Result<(), StoreError> {
        if calls.is_empty() {
            return Ok(());
        }
        let first = self.reserve_ids("call", calls.len() as u64)?;
        for (seq, c) in (first..).zip(calls) {
            let key = (u64::try_from(c.time).unwrap_or(0), seq);
            self.call_log.insert(key, encode(c).as_slice())?;
            if let Some(site) = &c.site {
                self.call_site.insert(key, encode(site).as_slice())?;
            }
        }
        self.changed(Change::Calls);
        Ok(())
    }
}
