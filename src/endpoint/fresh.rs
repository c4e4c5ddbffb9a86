//! Read snapshots that are always fresh enough: a change committed before a request arrives,
//! by any process, is seen by that request (DESIGN.md §2).
//!
//! A snapshot is one read transaction. It stays valid until the database file changes: an
//! inotify watch on the file reports every write of every process, and the kernel queues that
//! event before the `pwrite` returns. A redb commit becomes visible to readers by its last
//! `pwrite` (the header's commit slot), which therefore raises an event before `commit()`
//! returns; a snapshot begun before that write shows the older commit, one begun after shows
//! the new one. So a request first polls the watch (one non-blocking read); if anything was
//! written since the current snapshot's change count was read, it waits for a new snapshot,
//! shared with every request that arrives meanwhile. This rests on redb writing with `pwrite`
//! (redb 4.6's file backend); tests/live.rs checks it with two real processes. Where no watch is
//! available (another OS, an inotify failure), every request waits for a snapshot begun after
//! it arrived, which is always correct and only slower.

use crate::domain::access::AccessData;
use crate::domain::{AuthorisedUser, RoleId, Service, ServiceId, Settings, Token, TokenHash, User, UserId};
use crate::store::{Queries, ReadView, RecordCache, Store, StoreError};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::watch;

/// One read transaction and what every request needs from it, decoded once.
pub struct Snapshot {
    pub view: ReadView,
    pub settings: Settings,
    /// The count of observed file changes read just before this snapshot's transaction
    /// began: it shows every change counted up to that value.
    generation: u64,
    /// Shared by every snapshot of the same store change count.
    configured: Arc<Configured>,
}

/// What the administrator configured, decoded once per store change count and kept across
/// snapshots while it stands: the endpoint's own activity commits (a few per second) take new
/// snapshots but leave the count, and so these caches, alone.
struct Configured {
    records: RecordCache,
    /// Every request checks a capability; the roles behind it are decoded once.
    roles: OnceLock<RoleTable>,
}

/// Bytes of records the endpoint keeps decoded-on-demand (tokens, users, role assignments):
/// every token of a site with 100 000 takes about 15 MiB.
const RECORD_CACHE_BYTES: usize = 24 * 1024 * 1024;

/// The capabilities of every role, as of one snapshot.
struct RoleTable {
    /// Held by every user, through the implicit roles.
    everybody: HashSet<String>,
    by_role: HashMap<RoleId, HashSet<String>>,
}

impl Snapshot {
    fn role_table(&self) -> Result<&RoleTable, StoreError> {
        let roles = &self.configured.roles;
        if let Some(t) = roles.get() {
            return Ok(t);
        }
        let mut table = RoleTable { everybody: HashSet::new(), by_role: HashMap::new() };
        for role in self.view.all_roles()? {
            let caps: HashSet<String> = self.view.role_capabilities(role.id)?.into_iter().collect();
            if role.implicit {
                table.everybody.extend(caps.iter().cloned());
            }
            table.by_role.insert(role.id, caps);
        }
        Ok(roles.get_or_init(|| table))
    }
}

/// The access decision reads a snapshot through its caches; everything else is the view's.
impl AccessData for Snapshot {
    type Error = StoreError;
    fn settings(&self) -> Result<Settings, StoreError> {
        Ok(self.settings.clone())
    }
    fn token_by_hash(&self, hash: &TokenHash) -> Result<Option<Token>, StoreError> {
        self.configured.records.token_by_hash(&self.view, hash)
    }
    fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.configured.records.user(&self.view, id)
    }
    fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        Queries::user_by_username(&self.view, username)
    }
    fn has_capability(&self, user: UserId, capability: &str) -> Result<bool, StoreError> {
        let roles = self.role_table()?;
        if roles.everybody.contains(capability) {
            return Ok(true);
        }
        self.configured.records.any_assigned_role(&self.view, user, |r| {
            roles.by_role.get(&r).is_some_and(|caps| caps.contains(capability))
        })
    }
    fn service(&self, id: ServiceId) -> Result<Option<Service>, StoreError> {
        Queries::service(&self.view, id)
    }
    fn service_by_shortname(&self, shortname: &str) -> Result<Option<Service>, StoreError> {
        Queries::service_by_shortname(&self.view, shortname)
    }
    fn service_has_function(&self, service: ServiceId, function: &str) -> Result<bool, StoreError> {
        AccessData::service_has_function(&self.view, service, function)
    }
    fn services_with_function(&self, function: &str) -> Result<Vec<Service>, StoreError> {
        AccessData::services_with_function(&self.view, function)
    }
    fn authorised_user(&self, service: ServiceId, user: UserId) -> Result<Option<AuthorisedUser>, StoreError> {
        self.view.authorisation(service, user)
    }
}

pub struct Fresh {
    store: Arc<Store>,
    watch: Mutex<Option<ChangeWatch>>,
    /// Counts observed changes of the file (every request counts as one when unwatched).
    changes: AtomicU64,
    refreshing: AtomicBool,
    latest: watch::Sender<Arc<Snapshot>>,
}

impl Fresh {
    pub fn new(store: Arc<Store>) -> Result<Fresh, StoreError> {
        // Watch first, then take the first snapshot: no write can fall between the two.
        let watch = ChangeWatch::new(store.path());
        if watch.is_none() {
            tracing::warn!("no file watch: every request takes its own read snapshot");
        }
        let first = take(&store, 0, None)?;
        Ok(Fresh {
            store,
            watch: Mutex::new(watch),
            changes: AtomicU64::new(0),
            refreshing: AtomicBool::new(false),
            latest: watch::Sender::new(Arc::new(first)),
        })
    }

    /// Counts the changes reported since the last poll; returns the count a snapshot must
    /// have reached to serve this request.
    fn poll(&self) -> u64 {
        let mut guard = self.watch.lock().unwrap_or_else(|p| p.into_inner());
        let changed = match guard.as_mut() {
            Some(w) => match w.changed() {
                Ok(changed) => changed,
                Err(e) => {
                    tracing::warn!(error = %e, "file watch failed: every request now takes its own snapshot");
                    *guard = None;
                    true
                }
            },
            None => true,
        };
        if changed { self.changes.fetch_add(1, Ordering::SeqCst) + 1 } else { self.changes.load(Ordering::SeqCst) }
    }

    /// A snapshot that shows every change committed before this call.
    pub async fn get(&self) -> Result<Arc<Snapshot>, StoreError> {
        let need = self.poll();
        let mut rx = self.latest.subscribe();
        loop {
            {
                let current = rx.borrow_and_update();
                if current.generation >= need {
                    return Ok(current.clone());
                }
            }
            if !self.refreshing.swap(true, Ordering::AcqRel) {
                let generation = self.changes.load(Ordering::SeqCst);
                let result = {
                    // Cleared even if `take` panics, so that others can refresh.
                    let _clear = ClearOnDrop(&self.refreshing);
                    let previous = self.latest.borrow().configured.clone();
                    take(&self.store, generation, Some(previous))
                };
                return match result {
                    Ok(snapshot) => {
                        let snapshot = Arc::new(snapshot);
                        self.latest.send_replace(snapshot.clone());
                        Ok(snapshot)
                    }
                    Err(e) => {
                        // Wake the waiters so that one of them tries again.
                        self.latest.send_modify(|_| {});
                        Err(e)
                    }
                };
            }
            if rx.changed().await.is_err() {
                return Err(StoreError::Corrupt("snapshot channel closed".into()));
            }
        }
    }
}

struct ClearOnDrop<'a>(&'a AtomicBool);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// A new snapshot; it keeps `previous`'s caches if nothing configured changed since.
fn take(store: &Store, generation: u64, previous: Option<Arc<Configured>>) -> Result<Snapshot, StoreError> {
    let view = store.read()?;
    let settings = Queries::settings(&view)?;
    let configured = match previous {
        Some(c) if c.records.serves(&view)? => c,
        _ => Arc::new(Configured { records: RecordCache::new(&view, RECORD_CACHE_BYTES)?, roles: OnceLock::new() }),
    };
    Ok(Snapshot { view, settings, generation, configured })
}

/// Reports whether the database file was written since the last call.
#[cfg(target_os = "linux")]
struct ChangeWatch {
    inotify: inotify::Inotify,
    buffer: Vec<u8>,
}

#[cfg(target_os = "linux")]
impl ChangeWatch {
    fn new(path: &std::path::Path) -> Option<ChangeWatch> {
        use inotify::{Inotify, WatchMask};
        let inotify = Inotify::init().ok()?;
        inotify
            .watches()
            .add(path, WatchMask::MODIFY | WatchMask::ATTRIB | WatchMask::DELETE_SELF | WatchMask::MOVE_SELF)
            .ok()?;
        Some(ChangeWatch { inotify, buffer: vec![0; 4096] })
    }

    /// Drains the queue; any event (an overflow included) means "changed".
    fn changed(&mut self) -> std::io::Result<bool> {
        let mut changed = false;
        loop {
            match self.inotify.read_events(&mut self.buffer) {
                Ok(events) => {
                    let mut n = 0;
                    for _ in events {
                        n += 1;
                    }
                    if n == 0 {
                        return Ok(changed);
                    }
                    changed = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(changed),
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
struct ChangeWatch;

#[cfg(not(target_os = "linux"))]
impl ChangeWatch {
    fn new(_: &std::path::Path) -> Option<ChangeWatch> {
        None
    }

    fn changed(&mut self) -> std::io::Result<bool> {
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Ops;

    #[tokio::test]
    async fn a_commit_before_the_request_is_always_seen() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("f.redb")).unwrap());
        let fresh = Arc::new(Fresh::new(store.clone()).unwrap());
        let ops = Ops::new(store, "t");
        for round in 0..50 {
            let on = round % 2 == 0;
            ops.set_web_services(on).unwrap();
            assert_eq!(fresh.get().await.unwrap().settings.enable_web_services, on);
            // Many concurrent requests after the commit: none sees the old value.
            let tasks: Vec<_> = (0..16)
                .map(|_| {
                    let f = fresh.clone();
                    tokio::spawn(async move { f.get().await.unwrap().settings.enable_web_services })
                })
                .collect();
            for t in tasks {
                assert_eq!(t.await.unwrap(), on);
            }
        }
    }

    #[tokio::test]
    async fn without_changes_the_snapshot_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("r.redb")).unwrap());
        let fresh = Fresh::new(store).unwrap();
        let a = fresh.get().await.unwrap();
        let b = fresh.get().await.unwrap();
        if fresh.watch.lock().unwrap().is_some() {
            assert!(Arc::ptr_eq(&a, &b), "no write, no new transaction");
        }
    }

    #[tokio::test]
    async fn another_process_commit_is_seen() {
        // A second handle on the file stands for another process: its commits reach us only
        // through the file (and the watch), not through shared memory.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.redb");
        let ours = Arc::new(Store::open(&path).unwrap());
        let fresh = Fresh::new(ours).unwrap();
        let theirs = Ops::new(Arc::new(Store::open(&path).unwrap()), "other");
        for on in [true, false, true] {
            theirs.set_maintenance(on).unwrap();
            assert_eq!(fresh.get().await.unwrap().settings.maintenance, on);
        }
    }

    #[tokio::test]
    async fn the_snapshot_answers_capabilities_as_the_store_does() {
        use crate::domain::AuthMethod;
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("c.redb")).unwrap());
        let ops = Ops::new(store.clone(), "t");
        let user = |name: &str| crate::ops::NewUser::named(name, AuthMethod::Nologin);
        let (a, b) = (ops.create_user(user("a")).unwrap().id, ops.create_user(user("b")).unwrap().id);
        ops.create_role("ws", "WS", &["webservice/rest:use".into()]).unwrap();
        ops.set_role_capabilities("user", &["moodle/site:maintenanceaccess".into()], true).unwrap();
        ops.set_role_assignment("ws", "a", true).unwrap();
        let fresh = Fresh::new(store).unwrap();
        let snap = fresh.get().await.unwrap();
        for u in [a, b, 999] {
            for cap in ["webservice/rest:use", "moodle/site:maintenanceaccess", "webservice/soap:use"] {
                assert_eq!(
                    snap.has_capability(u, cap).unwrap(),
                    snap.view.user_has_capability(u, cap).unwrap(),
                    "user {u}, {cap}"
                );
            }
        }
        assert!(snap.has_capability(a, "webservice/rest:use").unwrap());
        assert!(!snap.has_capability(b, "webservice/rest:use").unwrap());
        assert!(snap.has_capability(b, "moodle/site:maintenanceaccess").unwrap());
    }
}
