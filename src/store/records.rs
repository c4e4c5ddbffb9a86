//! A cache of records for a reader that looks up many random keys again and again (the
//! endpoint: a token, its user and the user's roles on every call), valid for one change count.
//!
//! redb caches 4 KiB pages; a token record is about 100 bytes, so with tokens called at random
//! most of each cached page is records nobody asked for, and a page cache of a few MiB misses
//! half the time (a `pread` and a page copy per miss). This cache holds the records
//! themselves, up to a byte budget: tokens encoded (100 000 take about 15 MiB), accounts and
//! services decoded and shared (fewer, and read whole by every call).
//!
//! Records change only by a write that moves the change count, except a token's last access,
//! which the endpoint's own activity writes update without moving it: a cached token's
//! `last_access` may be older than the stored one.

use super::codec::decode;
use super::tables::{ReadView, View};
use super::{Queries, StoreError};
use crate::domain::{RoleId, Service, ServiceId, Token, TokenHash, User, UserId};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// What an entry costs beyond its key and value bytes: the map's slot and the allocation.
const ENTRY_OVERHEAD: usize = 48;

pub struct RecordCache {
    changes: u64,
    budget: usize,
    entries: RwLock<Entries>,
}

#[derive(Default)]
struct Entries {
    /// Encoded token records; `None` is never stored (an unknown token is not remembered, so
    /// random tokens cannot fill the cache).
    tokens: HashMap<TokenHash, Box<[u8]>>,
    users: HashMap<UserId, Arc<User>>,
    services: HashMap<ServiceId, Arc<Service>>,
    service_functions: HashMap<ServiceId, Arc<[Cow<'static, str>]>>,
    user_roles: HashMap<UserId, Box<[RoleId]>>,
    bytes: usize,
}

impl RecordCache {
    /// An empty cache for what `view` shows, holding at most about `budget` bytes.
    pub fn new(view: &ReadView, budget: usize) -> Result<RecordCache, StoreError> {
        Ok(RecordCache { changes: view.change_count()?, budget, entries: RwLock::new(Entries::default()) })
    }

    /// Whether this cache holds for `view`: nothing configured changed between them.
    pub fn serves(&self, view: &ReadView) -> Result<bool, StoreError> {
        Ok(view.change_count()? == self.changes)
    }

    /// The change count the cache holds for.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Bytes held, as counted against the budget.
    pub fn bytes(&self) -> usize {
        self.read().bytes
    }

    /// [`Queries::token_by_hash`]; `view` must be one this cache [`serves`](Self::serves).
    pub fn token_by_hash(&self, view: &ReadView, hash: &TokenHash) -> Result<Option<Token>, StoreError> {
        if let Some(bytes) = self.read().tokens.get(hash) {
            return decode(bytes, "token").map(Some);
        }
        let Some(stored) = view.tokens()?.get(hash)? else {
            return Ok(None);
        };
        let bytes: Box<[u8]> = stored.value().into();
        let token = decode(&bytes, "token")?;
        self.insert(32 + bytes.len(), |e| e.tokens.insert(*hash, bytes).is_none());
        Ok(Some(token))
    }

    /// [`Queries::user`]; `view` must be one this cache serves.
    pub fn user(&self, view: &ReadView, id: UserId) -> Result<Option<Arc<User>>, StoreError> {
        if let Some(user) = self.read().users.get(&id) {
            return Ok(Some(user.clone()));
        }
        let Some(stored) = view.users()?.get(id)? else {
            return Ok(None);
        };
        let user: Arc<User> = Arc::new(decode(stored.value(), "user")?);
        // Decoded: the record's text plus the struct and an allocation per field.
        let size = stored.value().len() + std::mem::size_of::<User>() + 8 * 16;
        let shared = user.clone();
        self.insert(size, |e| e.users.insert(id, shared).is_none());
        Ok(Some(user))
    }

    /// [`Queries::service`]; `view` must be one this cache serves.
    pub fn service(&self, view: &ReadView, id: ServiceId) -> Result<Option<Arc<Service>>, StoreError> {
        if let Some(service) = self.read().services.get(&id) {
            return Ok(Some(service.clone()));
        }
        let Some(service) = Queries::service(view, id)? else {
            return Ok(None);
        };
        let service = Arc::new(service);
        let size = std::mem::size_of::<Service>() + service.name.len() + service.shortname.len() + 4 * 16;
        let shared = service.clone();
        self.insert(size, |e| e.services.insert(id, shared).is_none());
        Ok(Some(service))
    }

    /// [`Queries::service_function_names`], catalogued names as the catalogue's constants;
    /// `view` must be one this cache serves.
    pub fn service_function_names(
        &self,
        view: &ReadView,
        service: ServiceId,
    ) -> Result<Arc<[Cow<'static, str>]>, StoreError> {
        if let Some(names) = self.read().service_functions.get(&service) {
            return Ok(names.clone());
        }
        let names: Arc<[Cow<'static, str>]> = view
            .service_function_names(service)?
            .into_iter()
            .map(|n| crate::domain::function_catalogue::find(&n).map_or(Cow::Owned(n), |f| Cow::Borrowed(f.name)))
            .collect();
        let size = 8 + names.iter().map(|n| 24 + n.len()).sum::<usize>();
        let shared = names.clone();
        self.insert(size, |e| e.service_functions.insert(service, shared).is_none());
        Ok(names)
    }

    /// Whether `user` is assigned a role for which `held` is true ([`Queries::assigned_role_ids`]).
    pub fn any_assigned_role(
        &self,
        view: &ReadView,
        user: UserId,
        held: impl Fn(RoleId) -> bool,
    ) -> Result<bool, StoreError> {
        if let Some(roles) = self.read().user_roles.get(&user) {
            return Ok(roles.iter().any(|r| held(*r)));
        }
        let roles: Box<[RoleId]> = view.assigned_role_ids(user)?.into();
        let any = roles.iter().any(|r| held(*r));
        self.insert(8 + 8 * roles.len(), |e| e.user_roles.insert(user, roles).is_none());
        Ok(any)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Entries> {
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an entry of `size` bytes if the budget allows; a full cache only stops growing.
    /// `add` says whether the entry is new: two requests that missed the same key at once
    /// store the same record, counted once.
    fn insert(&self, size: usize, add: impl FnOnce(&mut Entries) -> bool) {
        let mut e = self.entries.write().unwrap_or_else(|p| p.into_inner());
        let size = size + ENTRY_OVERHEAD;
        if e.bytes + size <= self.budget && add(&mut e) {
            e.bytes += size;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AuthMethod, secret::hash_token};
    use crate::ops::{NewUser, Ops};
    use std::sync::Arc;

    fn setup() -> (tempfile::TempDir, Arc<super::super::Store>, Ops) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(super::super::Store::open(&dir.path().join("c.redb")).unwrap());
        let ops = Ops::new(store.clone(), "t");
        (dir, store, ops)
    }

    #[test]
    fn answers_as_the_store_and_serves_until_a_change() {
        let (_dir, store, ops) = setup();
        let user = ops.create_user(NewUser::named("ann", AuthMethod::Webservice)).unwrap();
        ops.create_role("ws", "WS", &["webservice/rest:use".into()]).unwrap();
        ops.set_role_assignment("ws", "ann", true).unwrap();
        // The built-in mobile service: a token needs a service, not any particular one.
        let issued = ops
            .create_token(crate::ops::NewToken {
                username: "ann".into(),
                service: crate::domain::MOBILE_SERVICE.into(),
                ..Default::default()
            })
            .unwrap();
        let hash = hash_token(&issued.value);

        let view = store.read().unwrap();
        let cache = RecordCache::new(&view, 1 << 20).unwrap();
        for _ in 0..2 {
            // The second round is answered from the cache.
            assert_eq!(cache.token_by_hash(&view, &hash).unwrap(), view.token_by_hash(&hash).unwrap());
            assert_eq!(cache.user(&view, user.id).unwrap().as_deref(), view.user(user.id).unwrap().as_ref());
            let service = issued.token.service;
            assert_eq!(cache.service(&view, service).unwrap().as_deref(), view.service(service).unwrap().as_ref());
            assert_eq!(cache.service(&view, 9_999).unwrap(), None);
            let names: Vec<String> =
                cache.service_function_names(&view, service).unwrap().iter().map(|n| n.to_string()).collect();
            assert_eq!(names, view.service_function_names(service).unwrap());
            assert!(!names.is_empty());
            let assigned = view.assigned_role_ids(user.id).unwrap();
            assert_eq!(assigned.len(), 1);
            assert!(cache.any_assigned_role(&view, user.id, |r| r == assigned[0]).unwrap());
            assert!(!cache.any_assigned_role(&view, user.id, |r| r != assigned[0]).unwrap());
            assert_eq!(cache.token_by_hash(&view, &[7; 32]).unwrap(), None);
            assert_eq!(cache.user(&view, 9_999).unwrap(), None);
        }
        assert!(cache.bytes() > 0);
        assert!(cache.serves(&store.read().unwrap()).unwrap());

        // An activity write leaves the count alone; a configuring write moves it.
        let token_id = view.token_by_hash(&hash).unwrap().unwrap().id;
        store.write_activity(|t| t.touch_token(token_id, 1_900_000_000, 60)).unwrap();
        assert!(cache.serves(&store.read().unwrap()).unwrap());
        ops.revoke_token(token_id).unwrap();
        assert!(!cache.serves(&store.read().unwrap()).unwrap());
    }

    #[test]
    fn a_record_stored_twice_is_counted_once() {
        let (_dir, store, ops) = setup();
        let id = ops.create_user(NewUser::named("bo", AuthMethod::Webservice)).unwrap().id;
        let view = store.read().unwrap();
        let cache = RecordCache::new(&view, 1 << 20).unwrap();
        let user = Arc::new(view.user(id).unwrap().unwrap());
        // What two requests that missed the same key at once both do.
        for _ in 0..2 {
            cache.insert(100, |e| e.users.insert(id, user.clone()).is_none());
        }
        assert_eq!(cache.bytes(), 100 + ENTRY_OVERHEAD);
    }

    #[test]
    fn a_full_cache_stops_growing_and_still_answers() {
        let (_dir, store, ops) = setup();
        let mut ids = Vec::new();
        for i in 0..20 {
            ids.push(ops.create_user(NewUser::named(&format!("u{i}"), AuthMethod::Webservice)).unwrap().id);
        }
        let view = store.read().unwrap();
        let budget = 400;
        let cache = RecordCache::new(&view, budget).unwrap();
        for id in &ids {
            assert_eq!(cache.user(&view, *id).unwrap().unwrap().id, *id);
        }
        assert!(cache.bytes() <= budget && cache.bytes() > 0, "{} bytes", cache.bytes());
        for id in &ids {
            assert_eq!(cache.user(&view, *id).unwrap().unwrap().id, *id);
        }
    }
}
