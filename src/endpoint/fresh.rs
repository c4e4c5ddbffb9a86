//! Read snapshots that are always fresh enough: a change committed before a request arrives,
//! by any process, is seen by that request (DESIGN.md §2).
//!
//! A snapshot is one read transaction. It stays valid while the database file's header is
//! unchanged. redb commits by writing the header: a commit slot with the new transaction id
//! (ids never repeat) and, in the multi-process modes, a second write that makes the commit
//! visible to other processes; `commit()` returns after both. The endpoint maps the header
//! read-only, which shares the kernel's page cache with every process's writes, and each
//! request compares it with the copy read just before the current snapshot's transaction
//! began. Equal means no commit finished since, so the snapshot shows every change committed
//! before the request; otherwise the request waits for a snapshot begun after it arrived,
//! shared with every request that arrives meanwhile. The check is a 320-byte comparison, no
//! system call. This rests on redb 4.6's file format (the header's place and size) and on
//! begin_read reading the header from the file; tests/live.rs checks it with two real
//! processes. The store maps the file it has open, not whatever the path names: a file swapped
//! in under the same name cannot freeze the check. Where the header cannot be mapped, every request waits for a snapshot begun after it arrived, which is
//! always correct and only slower.

use crate::domain::access::AccessData;
use crate::domain::{AuthorisedUser, RoleId, Service, ServiceId, Settings, Token, TokenHash, User, UserId};
use crate::store::feed::{self, Change, Since};
use crate::store::{Header, HeaderView, Queries, ReadView, RecordCache, Store, StoreError};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::watch;

/// One read transaction and what every request needs from it, decoded once.
pub struct Snapshot {
    pub view: ReadView,
    pub settings: Settings,
    /// The file's header, read just before this snapshot's transaction began.
    header: Option<Header>,
    /// The number of this refresh ([`Fresh::refreshes`]), counted before `header` was read.
    refresh: u64,
    /// The store's change-feed number this snapshot shows.
    seq: u64,
    /// The record cache, which follows the change feed, and the role table of this snapshot.
    configured: Arc<Configured>,
}

/// Records decoded once and kept across snapshots: a new snapshot forgets only the records
/// the change feed names (a new token from login/token.php is one record), and builds a new
/// role table only when a role changed.
struct Configured {
    records: Arc<RecordCache>,
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
    /// The record cache, and this snapshot's change-feed number to read it at.
    pub fn records(&self) -> (&RecordCache, u64) {
        (&self.configured.records, self.seq)
    }

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
    fn settings(&self) -> Result<Cow<'_, Settings>, StoreError> {
        Ok(Cow::Borrowed(&self.settings))
    }
    fn token_by_hash(&self, hash: &TokenHash) -> Result<Option<Token>, StoreError> {
        self.configured.records.token_by_hash(&self.view, self.seq, hash)
    }
    fn user(&self, id: UserId) -> Result<Option<Arc<User>>, StoreError> {
        self.configured.records.user(&self.view, self.seq, id)
    }
    fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        Queries::user_by_username(&self.view, username)
    }
    fn has_capability(&self, user: UserId, capability: &str) -> Result<bool, StoreError> {
        let roles = self.role_table()?;
        if roles.everybody.contains(capability) {
            return Ok(true);
        }
        self.configured.records.any_assigned_role(&self.view, self.seq, user, |r| {
            roles.by_role.get(&r).is_some_and(|caps| caps.contains(capability))
        })
    }
    fn service(&self, id: ServiceId) -> Result<Option<Arc<Service>>, StoreError> {
        self.configured.records.service(&self.view, self.seq, id)
    }
    fn service_by_shortname(&self, shortname: &str) -> Result<Option<Service>, StoreError> {
        Queries::service_by_shortname(&self.view, shortname)
    }
    fn service_has_function(&self, service: ServiceId, function: &str) -> Result<bool, StoreError> {
        Ok(self.configured.records.service_function_names(&self.view, self.seq, service)?.iter().any(|n| n == function))
    }
    fn services_with_function(&self, function: &str) -> Result<Vec<Service>, StoreError> {
        AccessData::services_with_function(&self.view, function)
    }
    fn authorised_user(&self, service: ServiceId, user: UserId) -> Result<Option<AuthorisedUser>, StoreError> {
        self.view.authorisation(service, user)
    }
    fn site_functions(&self, service: ServiceId) -> Result<Option<Arc<[String]>>, StoreError> {
        // No site set, the usual case: nothing to look up.
        if !self.settings.upstream.is_set() {
            return Ok(None);
        }
        self.configured.records.site_functions(&self.view, self.seq, service)
    }
}

pub struct Fresh {
    store: Arc<Store>,
    header: Option<HeaderView>,
    /// Counts refreshes; each takes its number before it reads the header.
    refreshes: Arc<AtomicU64>,
    refreshing: AtomicBool,
    latest: watch::Sender<Arc<Snapshot>>,
}

impl Fresh {
    pub fn new(store: Arc<Store>) -> Result<Fresh, StoreError> {
        let header = store.header_view();
        if header.is_none() {
            tracing::warn!("the database header cannot be mapped: every request takes its own read snapshot");
        }
        let refreshes = Arc::new(AtomicU64::new(0));
        let first = take(&store, header.as_ref(), &refreshes, None)?;
        Ok(Fresh {
            store,
            header,
            refreshes,
            refreshing: AtomicBool::new(false),
            latest: watch::Sender::new(Arc::new(first)),
        })
    }

    /// The count of snapshots taken, as it grows (the metrics read it).
    pub fn refresh_count(&self) -> Arc<AtomicU64> {
        self.refreshes.clone()
    }

    /// A snapshot that shows every change committed before this call.
    pub async fn get(&self) -> Result<Arc<Snapshot>, StoreError> {
        // A refresh numbered above `arrived` read the header, and began its transaction, after
        // this point.
        let arrived = self.refreshes.load(Ordering::SeqCst);
        let header = self.header.as_ref().map(HeaderView::read);
        let mut rx = self.latest.subscribe();
        loop {
            {
                let current = rx.borrow_and_update();
                if (header.is_some() && current.header == header) || current.refresh > arrived {
                    return Ok(current.clone());
                }
            }
            if !self.refreshing.swap(true, Ordering::AcqRel) {
                // Held until the new snapshot is published, so refreshes publish in the order
                // they began and a slow one never replaces a newer snapshot.
                let _turn = RefreshTurn(self);
                let previous = self.latest.borrow().configured.clone();
                let snapshot = Arc::new(take(&self.store, self.header.as_ref(), &self.refreshes, Some(previous))?);
                self.latest.send_replace(snapshot.clone());
                return Ok(snapshot);
            }
            if rx.changed().await.is_err() {
                return Err(StoreError::Corrupt("snapshot channel closed".into()));
            }
        }
    }
}

/// The one refresh in progress. Ending it, however it ends (a new snapshot, a store error, a
/// panic in `take`), lets another request refresh and wakes the waiters to look again: after
/// an error one of them tries anew.
struct RefreshTurn<'a>(&'a Fresh);

impl Drop for RefreshTurn<'_> {
    fn drop(&mut self) {
        self.0.refreshing.store(false, Ordering::Release);
        self.0.latest.send_modify(|_| {});
    }
}

/// Changes read from the feed in one refresh; further behind, the cache starts over.
const FORGET_AT_MOST: usize = 10_000;

/// A new snapshot. It keeps `previous`'s record cache, less the records the change feed says
/// changed since (all of them when the feed no longer holds that far back), and its role
/// table unless a role changed.
fn take(
    store: &Store,
    header: Option<&HeaderView>,
    refreshes: &AtomicU64,
    previous: Option<Arc<Configured>>,
) -> Result<Snapshot, StoreError> {
    let refresh = refreshes.fetch_add(1, Ordering::SeqCst) + 1;
    let header = header.map(HeaderView::read);
    let view = store.read()?;
    let settings = Queries::settings(&view)?;
    let seq = feed::seq(&view)?;
    let fresh = || {
        Arc::new(Configured { records: Arc::new(RecordCache::new(seq, RECORD_CACHE_BYTES)), roles: OnceLock::new() })
    };
    let configured = match previous {
        Some(c) if c.records.seq() == seq => c,
        Some(c) => match feed::since(&view, c.records.seq(), FORGET_AT_MOST)? {
            Since::Changes(list) if list.last().is_some_and(|(last, _)| *last == seq) => {
                let changes: Vec<Change> = list.into_iter().flat_map(|(_, c)| c).collect();
                c.records.forget(&changes, seq);
                if changes.iter().any(|c| matches!(c, Change::Role(_) | Change::All)) {
                    Arc::new(Configured { records: c.records.clone(), roles: OnceLock::new() })
                } else {
                    c
                }
            }
            _ => {
                tracing::info!(
                    cached = c.records.seq(),
                    seq,
                    "the record cache fell behind the change feed: it starts over"
                );
                fresh()
            }
        },
        None => fresh(),
    };
    Ok(Snapshot { view, settings, header, refresh, seq, configured })
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
        if fresh.header.is_some() {
            assert!(Arc::ptr_eq(&a, &b), "no write, no new transaction");
        }
    }

    /// The header is read from the file the store has open: a file moved in under the same
    /// name (a restore script, say) must not freeze the check on the newcomer's header.
    #[tokio::test]
    async fn a_file_swapped_in_under_the_path_does_not_hide_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.redb");
        let store = Arc::new(Store::open(&path).unwrap());
        let other = dir.path().join("other.redb");
        drop(Store::open(&other).unwrap());
        std::fs::rename(&other, &path).unwrap();
        let fresh = Fresh::new(store.clone()).unwrap();
        let ops = Ops::new(store, "t");
        for on in [true, false, true] {
            ops.set_maintenance(on).unwrap();
            assert_eq!(fresh.get().await.unwrap().settings.maintenance, on);
        }
    }

    #[tokio::test]
    async fn another_process_commit_is_seen() {
        // A second handle on the file stands for another process: its commits reach us only
        // through the file, not through shared memory.
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

    #[tokio::test]
    async fn the_snapshot_answers_service_functions_as_the_store_does() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("s.redb")).unwrap());
        let ops = Ops::new(store.clone(), "t");
        let svc = ops
            .create_service(crate::ops::NewService { name: "S".into(), shortname: "s".into(), ..Default::default() })
            .unwrap()
            .id;
        ops.set_service_functions("s", &["core_user_get_users".into()], true).unwrap();
        let fresh = Fresh::new(store).unwrap();
        let snap = fresh.get().await.unwrap();
        let mobile = Queries::service_by_shortname(&snap.view, crate::domain::MOBILE_SERVICE).unwrap().unwrap().id;
        for service in [svc, mobile, 999] {
            for f in ["core_user_get_users", "core_webservice_get_site_info", "core_user_get", "", "nope"] {
                assert_eq!(
                    snap.service_has_function(service, f).unwrap(),
                    AccessData::service_has_function(&snap.view, service, f).unwrap(),
                    "service {service}, {f:?}"
                );
            }
        }
        assert!(snap.service_has_function(svc, "core_user_get_users").unwrap());
        assert!(!snap.service_has_function(svc, "core_webservice_get_site_info").unwrap());
        assert!(snap.service_has_function(mobile, "core_webservice_get_site_info").unwrap());
    }
}
