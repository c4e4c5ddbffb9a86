//! Read snapshots that are always fresh enough: a request is served from a read transaction
//! that began after the request arrived, so a change committed before it (by any process) is
//! seen. Requests that arrive while a snapshot is being taken share the next one, so under load
//! one read transaction serves many requests instead of one each (DESIGN.md §2).

use crate::domain::Settings;
use crate::store::{Queries, SharedView, Store, StoreError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::watch;

/// One read transaction and what every request needs from it, decoded once.
pub struct Snapshot {
    pub view: SharedView,
    pub settings: Settings,
    /// Order of the refresh that took it: a request may use it only if this exceeds the
    /// counter it read on arrival.
    seq: u64,
}

pub struct Fresh {
    store: Arc<Store>,
    /// Incremented as each refresh starts, before its read transaction begins.
    started: AtomicU64,
    refreshing: AtomicBool,
    latest: watch::Sender<Arc<Snapshot>>,
}

impl Fresh {
    pub fn new(store: Arc<Store>) -> Result<Fresh, StoreError> {
        let first = take(&store, 0)?;
        Ok(Fresh {
            store,
            started: AtomicU64::new(0),
            refreshing: AtomicBool::new(false),
            latest: watch::Sender::new(Arc::new(first)),
        })
    }

    /// A snapshot whose read transaction began after this call.
    pub async fn get(&self) -> Result<Arc<Snapshot>, StoreError> {
        let need = self.started.load(Ordering::SeqCst);
        let mut rx = self.latest.subscribe();
        loop {
            {
                let current = rx.borrow_and_update();
                if current.seq > need {
                    return Ok(current.clone());
                }
            }
            if !self.refreshing.swap(true, Ordering::AcqRel) {
                let seq = self.started.fetch_add(1, Ordering::SeqCst) + 1;
                let result = take(&self.store, seq);
                self.refreshing.store(false, Ordering::Release);
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

fn take(store: &Store, seq: u64) -> Result<Snapshot, StoreError> {
    let view = store.shared_read()?;
    let settings = Queries::settings(&view)?;
    Ok(Snapshot { view, settings, seq })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Ops;

    #[tokio::test]
    async fn a_commit_before_the_request_is_always_seen() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("f.redb")).unwrap());
        let fresh = Fresh::new(store.clone()).unwrap();
        let ops = Ops::new(store, "t");
        assert!(!fresh.get().await.unwrap().settings.enable_web_services);
        ops.set_web_services(true).unwrap();
        assert!(fresh.get().await.unwrap().settings.enable_web_services);
        ops.set_web_services(false).unwrap();
        // Many concurrent requests after the commit: none sees the old value.
        let fresh = Arc::new(fresh);
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let f = fresh.clone();
                tokio::spawn(async move { f.get().await.unwrap().settings.enable_web_services })
            })
            .collect();
        for t in tasks {
            assert!(!t.await.unwrap());
        }
    }
}
