//! A cache of records for a reader that looks up many random keys again and again (the
//! endpoint: a token, its user and the user's roles on every call).
//!
//! redb caches 4 KiB pages; a token record is about 100 bytes, so with tokens called at random
//! most of each cached page is records nobody asked for, and a page cache of a few MiB misses
//! half the time (a `pread` and a page copy per miss). This cache holds the records
//! themselves, up to a byte budget: tokens encoded (100 000 take about 15 MiB), accounts and
//! services decoded and shared (fewer, and read whole by every call).
//!
//! It follows the store's change feed: when the reader takes a newer snapshot it
//! [`forget`](RecordCache::forget)s the records the feed names and moves the cache's mark to
//! the snapshot's number; a reader of an older snapshot may still read what is cached (it is
//! as new or newer than its own view) but stores nothing any more, so a record read before a
//! change can never come back after it. A token's last access moves without its record being
//! forgotten: a cached token's `last_access` may be older than the stored one.

use super::codec::decode;
use super::feed::Change;
use super::tables::{ReadView, View};
use super::{Queries, StoreError};
use crate::domain::{RoleId, Service, ServiceId, Token, TokenHash, User, UserId};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// What an entry costs beyond its key and value bytes: the map's slot and the allocation.
const ENTRY_OVERHEAD: usize = 48;

pub struct RecordCache {
    budget: usize,
    entries: RwLock<Entries>,
}

/// A service's function names, shared by every call.
type FunctionNames = Arc<[Cow<'static, str>]>;
/// What the Moodle site behind a connected service offers it; `None`: answered here.
type SiteFunctions = Option<Arc<[String]>>;

#[derive(Default)]
struct Entries {
    /// The feed number the cache is current to: only readers of a snapshot at least as new
    /// store records.
    seq: u64,
    /// Encoded token records; `None` is never stored (an unknown token is not remembered, so
    /// random tokens cannot fill the cache).
    tokens: HashMap<TokenHash, Box<[u8]>>,
    /// Each with the bytes it was counted as.
    users: HashMap<UserId, (Arc<User>, usize)>,
    services: HashMap<ServiceId, (Arc<Service>, usize)>,
    service_functions: HashMap<ServiceId, (FunctionNames, usize)>,
    user_roles: HashMap<UserId, Box<[RoleId]>>,
    /// Per service: `None` when it is answered here, else the site's functions (`upstream`).
    site_functions: HashMap<ServiceId, (SiteFunctions, usize)>,
    bytes: usize,
}

impl RecordCache {
    /// An empty cache current to feed number `seq`, holding at most about `budget` bytes.
    pub fn new(seq: u64, budget: usize) -> RecordCache {
        RecordCache { budget, entries: RwLock::new(Entries { seq, ..Entries::default() }) }
    }

    /// The feed number the cache is current to.
    pub fn seq(&self) -> u64 {
        self.read().seq
    }

    /// Bytes held, as counted against the budget.
    pub fn bytes(&self) -> usize {
        self.read().bytes
    }

    /// Drops what `changes` name and makes the cache current to `seq`, from when on readers of
    /// older snapshots store nothing.
    pub fn forget(&self, changes: &[Change], seq: u64) {
        let mut e = self.write();
        let mut freed = 0;
        for c in changes {
            match c {
                Change::Token { hash, .. } => {
                    freed += e.tokens.remove(hash).map_or(0, |b| 32 + b.len() + ENTRY_OVERHEAD);
                }
                Change::User(id) => freed += e.users.remove(id).map_or(0, |(_, s)| s),
                Change::Service(id) => {
                    freed += e.services.remove(id).map_or(0, |(_, s)| s);
                    freed += e.service_functions.remove(id).map_or(0, |(_, s)| s);
                    freed += e.site_functions.remove(id).map_or(0, |(_, s)| s);
                }
                Change::Upstream(id) => freed += e.site_functions.remove(id).map_or(0, |(_, s)| s),
                Change::ServiceFunctions(id) => freed += e.service_functions.remove(id).map_or(0, |(_, s)| s),
                Change::RoleAssignment { user, .. } => {
                    freed += e.user_roles.remove(user).map_or(0, |r| 8 + 8 * r.len() + ENTRY_OVERHEAD);
                }
                Change::All => {
                    *e = Entries::default();
                    freed = 0;
                }
                _ => {}
            }
        }
        e.bytes = e.bytes.saturating_sub(freed);
        e.seq = e.seq.max(seq);
    }

    /// [`Queries::token_by_hash`] for a snapshot at feed number `at`.
    pub fn token_by_hash(&self, view: &ReadView, at: u64, hash: &TokenHash) -> Result<Option<Token>, StoreError> {
        if let Some(bytes) = self.read().tokens.get(hash) {
            return decode(bytes, "token").map(Some);
        }
        let Some(stored) = view.tokens()?.get(hash)? else {
            return Ok(None);
        };
        let bytes: Box<[u8]> = stored.value().into();
        let token = decode(&bytes, "token")?;
        self.insert(at, 32 + bytes.len(), |e| e.tokens.insert(*hash, bytes).is_none());
        Ok(Some(token))
    }

    /// [`Queries::user`] for a snapshot at feed number `at`.
    pub fn user(&self, view: &ReadView, at: u64, id: UserId) -> Result<Option<Arc<User>>, StoreError> {
        if let Some((user, _)) = self.read().users.get(&id) {
            return Ok(Some(user.clone()));
        }
        let Some(stored) = view.users()?.get(id)? else {
            return Ok(None);
        };
        let user: Arc<User> = Arc::new(decode(stored.value(), "user")?);
        // Decoded: the record's text plus the struct and an allocation per field.
        let size = stored.value().len() + std::mem::size_of::<User>() + 8 * 16;
        let shared = user.clone();
        self.insert(at, size, |e| e.users.insert(id, (shared, size + ENTRY_OVERHEAD)).is_none());
        Ok(Some(user))
    }

    /// [`Queries::service`] for a snapshot at feed number `at`.
    pub fn service(&self, view: &ReadView, at: u64, id: ServiceId) -> Result<Option<Arc<Service>>, StoreError> {
        if let Some((service, _)) = self.read().services.get(&id) {
            return Ok(Some(service.clone()));
        }
        let Some(service) = Queries::service(view, id)? else {
            return Ok(None);
        };
        let service = Arc::new(service);
        let size = std::mem::size_of::<Service>() + service.name.len() + service.shortname.len() + 4 * 16;
        let shared = service.clone();
        self.insert(at, size, |e| e.services.insert(id, (shared, size + ENTRY_OVERHEAD)).is_none());
        Ok(Some(service))
    }

    /// [`Queries::service_function_names`], catalogued names as the catalogue's constants, for
    /// a snapshot at feed number `at`.
    pub fn service_function_names(
        &self,
        view: &ReadView,
        at: u64,
        service: ServiceId,
    ) -> Result<Arc<[Cow<'static, str>]>, StoreError> {
        if let Some((names, _)) = self.read().service_functions.get(&service) {
            return Ok(names.clone());
        }
        let names: Arc<[Cow<'static, str>]> = view
            .service_function_names(service)?
            .into_iter()
            .map(|n| crate::domain::function_catalogue::find(&n).map_or(Cow::Owned(n), |f| Cow::Borrowed(f.name)))
            .collect();
        let size = 8 + names.iter().map(|n| 24 + n.len()).sum::<usize>();
        let shared = names.clone();
        self.insert(at, size, |e| e.service_functions.insert(service, (shared, size + ENTRY_OVERHEAD)).is_none());
        Ok(names)
    }

    /// Whether a connected service's calls go to the site, and which functions it offers (see
    /// `AccessData::site_functions`; the caller checks the `upstreamurl` setting), for a
    /// snapshot at feed number `at`.
    pub fn site_functions(&self, view: &ReadView, at: u64, service: ServiceId) -> Result<SiteFunctions, StoreError> {
        if let Some((functions, _)) = self.read().site_functions.get(&service) {
            return Ok(functions.clone());
        }
        let functions: SiteFunctions = Queries::upstream(view, service)?
            .filter(|u| u.credential.is_some())
            .map(|u| u.sync.map(|s| s.functions).unwrap_or_default().into());
        let size = 16 + functions.as_ref().map_or(0, |f| f.iter().map(|n| 24 + n.len()).sum::<usize>());
        let shared = functions.clone();
        self.insert(at, size, |e| e.site_functions.insert(service, (shared, size + ENTRY_OVERHEAD)).is_none());
        Ok(functions)
    }

    /// Whether `user` is assigned a role for which `held` is true ([`Queries::assigned_role_ids`]),
    /// for a snapshot at feed number `at`.
    pub fn any_assigned_role(
        &self,
        view: &ReadView,
        at: u64,
        user: UserId,
        held: impl Fn(RoleId) -> bool,
    ) -> Result<bool, StoreError> {
        if let Some(roles) = self.read().user_roles.get(&user) {
            return Ok(roles.iter().any(|r| held(*r)));
        }
        let roles: Box<[RoleId]> = view.assigned_role_ids(user)?.into();
        let any = roles.iter().any(|r| held(*r));
        self.insert(at, 8 + 8 * roles.len(), |e| e.user_roles.insert(user, roles).is_none());
        Ok(any)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Entries> {
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Entries> {
        self.entries.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an entry of `size` bytes read from a snapshot at feed number `at`, unless the cache
    /// has moved past that snapshot. A full cache starts over (what is called often comes back
    /// first). `add` says whether the entry is new: two requests that missed the same key at
    /// once store the same record, counted once.
    fn insert(&self, at: u64, size: usize, add: impl FnOnce(&mut Entries) -> bool) {
        let mut e = self.write();
        if at < e.seq {
            return;
        }
        let size = size + ENTRY_OVERHEAD;
        if size > self.budget {
            return;
        }
        if e.bytes + size > self.budget {
            let seq = e.seq;
            *e = Entries { seq, ..Entries::default() };
        }
        if add(&mut e) {
            e.bytes += size;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AuthMethod, secret::hash_token};
    use crate::ops::{NewUser, Ops};
    use crate::store::feed::{self, Since};
    use std::sync::Arc;

    fn setup() -> (tempfile::TempDir, Arc<super::super::Store>, Ops) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(super::super::Store::open(&dir.path().join("c.redb")).unwrap());
        let ops = Ops::new(store.clone(), "t");
        (dir, store, ops)
    }

    /// What the feed says changed after the cache's mark, and the newest number.
    fn changes_since(store: &super::super::Store, seen: u64) -> (Vec<Change>, u64) {
        let v = store.read().unwrap();
        match feed::since(&v, seen, 1000).unwrap() {
            Since::Changes(list) => (list.iter().flat_map(|(_, c)| c.clone()).collect(), feed::seq(&v).unwrap()),
            Since::Behind { .. } => panic!("behind"),
        }
    }

    #[test]
    fn answers_as_the_store_and_forgets_what_changed() {
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
        let at = feed::seq(&view).unwrap();
        let cache = RecordCache::new(at, 1 << 20);
        for _ in 0..2 {
            // The second round is answered from the cache.
            assert_eq!(cache.token_by_hash(&view, at, &hash).unwrap(), view.token_by_hash(&hash).unwrap());
            assert_eq!(cache.user(&view, at, user.id).unwrap().as_deref(), view.user(user.id).unwrap().as_ref());
            let service = issued.token.service;
            assert_eq!(cache.service(&view, at, service).unwrap().as_deref(), view.service(service).unwrap().as_ref());
            assert_eq!(cache.service(&view, at, 9_999).unwrap(), None);
            let names: Vec<String> =
                cache.service_function_names(&view, at, service).unwrap().iter().map(|n| n.to_string()).collect();
            assert_eq!(names, view.service_function_names(service).unwrap());
            assert!(!names.is_empty());
            let assigned = view.assigned_role_ids(user.id).unwrap();
            assert_eq!(assigned.len(), 1);
            assert!(cache.any_assigned_role(&view, at, user.id, |r| r == assigned[0]).unwrap());
            assert!(!cache.any_assigned_role(&view, at, user.id, |r| r != assigned[0]).unwrap());
            assert_eq!(cache.token_by_hash(&view, at, &[7; 32]).unwrap(), None);
            assert_eq!(cache.user(&view, at, 9_999).unwrap(), None);
        }
        let full = cache.bytes();
        assert!(full > 0);

        // A revocation and a suspension: those two records go, the others stay.
        ops.revoke_token(issued.token.id).unwrap();
        ops.set_suspended("ann", true).unwrap();
        let (changes, now) = changes_since(&store, at);
        cache.forget(&changes, now);
        assert!(cache.bytes() < full && cache.bytes() > 0, "{} of {full}", cache.bytes());
        let fresh = store.read().unwrap();
        assert_eq!(cache.token_by_hash(&fresh, now, &hash).unwrap(), None, "revoked");
        assert!(cache.user(&fresh, now, user.id).unwrap().unwrap().suspended, "suspended");
        // A request on the old snapshot reads its own view but stores nothing any more.
        let old = cache.token_by_hash(&view, at, &hash).unwrap();
        assert!(old.is_some(), "the old snapshot still has it");
        assert_eq!(cache.token_by_hash(&fresh, now, &hash).unwrap(), None, "and it did not come back");
    }

    #[test]
    fn a_record_stored_twice_is_counted_once() {
        let (_dir, store, ops) = setup();
        let id = ops.create_user(NewUser::named("bo", AuthMethod::Webservice)).unwrap().id;
        let view = store.read().unwrap();
        let cache = RecordCache::new(0, 1 << 20);
        let user = Arc::new(view.user(id).unwrap().unwrap());
        // What two requests that missed the same key at once both do.
        for _ in 0..2 {
            cache.insert(0, 100, |e| e.users.insert(id, (user.clone(), 100)).is_none());
        }
        assert_eq!(cache.bytes(), 100 + ENTRY_OVERHEAD);
    }

    #[test]
    fn a_full_cache_starts_over_and_still_answers() {
        let (_dir, store, ops) = setup();
        let mut ids = Vec::new();
        for i in 0..20 {
            ids.push(ops.create_user(NewUser::named(&format!("u{i}"), AuthMethod::Webservice)).unwrap().id);
        }
        let view = store.read().unwrap();
        let budget = 400;
        let cache = RecordCache::new(0, budget);
        for id in &ids {
            assert_eq!(cache.user(&view, 0, *id).unwrap().unwrap().id, *id);
            assert!(cache.bytes() <= budget && cache.bytes() > 0, "{} bytes", cache.bytes());
        }
        for id in &ids {
            assert_eq!(cache.user(&view, 0, *id).unwrap().unwrap().id, *id);
        }
    }
}
