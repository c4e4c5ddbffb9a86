//! The endpoint's own writes: call-log rows (including failed authentications, never with the
//! token) and token last access, batched by one background thread so that nothing is
//! committed per request (DESIGN.md §2). Memory is bounded: when the queue is full, rows are
//! dropped and counted rather than slowing requests.

use super::metrics::Metrics;
use crate::domain::{CallLog, TokenId, UnixTime};
use crate::store::{Queries, Store, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::time::{Duration, Instant};

/// Queue bound: the writer keeps at most this many events in memory.
const QUEUE: usize = 32_768;
/// Call-log rows per write transaction: appends fill pages in order, so this stays short.
const CALLS_PER_TXN: usize = 5_000;
/// Last-access updates per cycle: each rewrites a token at a random place in the file, so
/// they are few per transaction; the rest wait for the next cycle.
const ACCESS_PER_TXN: usize = 1_000;
/// Pending last-access updates kept at most (one per token).
const MAX_PENDING_ACCESS: usize = 200_000;
const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// Moodle's `TOKEN_LASTACCESS_UPDATE_SECS`.
pub const LAST_ACCESS_EVERY: i64 = 60;
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

pub enum Event {
    Call(CallLog),
    LastAccess { token: TokenId, time: UnixTime },
}

/// The sending side, cloned into every request.
#[derive(Clone)]
pub struct Activity {
    tx: SyncSender<Event>,
    /// Counts the queue (the writer counts down what it takes) and what is dropped.
    metrics: Arc<Metrics>,
    /// When a token's last access was last queued, a slot per token id modulo the table's
    /// size: a token's record may show an older time (the endpoint caches records; the writer
    /// updates them later). Tokens that share a slot only queue an update more, which the
    /// writer skips (it keeps a stored last access younger than a minute).
    noted: Arc<[AtomicU64]>,
}

/// Slots of [`Activity::noted`]: 512 KiB, lock-free.
const NOTED_SLOTS: usize = 1 << 16;

fn noted_table() -> Arc<[AtomicU64]> {
    (0..NOTED_SLOTS).map(|_| AtomicU64::new(0)).collect()
}

/// The writer thread; `finish` flushes what is queued and stops it.
pub struct Writer {
    handle: std::thread::JoinHandle<()>,
}

impl Activity {
    /// Starts the writer, which counts in `metrics` the calls it logs, its queue, drops and
    /// write times.
    pub fn start(store: Arc<Store>, metrics: &Arc<Metrics>) -> (Activity, Writer) {
        let (tx, rx) = sync_channel(QUEUE);
        let counted = metrics.clone();
        let handle = std::thread::Builder::new()
            .name("activity-writer".into())
            .spawn(move || run(&store, &rx, &counted))
            .expect("spawn the activity writer");
        let activity = Activity { tx, metrics: metrics.clone(), noted: noted_table() };
        (activity, Writer { handle })
    }

    /// Queues a token's last access, at most once a minute per token (Moodle's
    /// `update_token_lastaccess`); `stored` is the last access its record shows.
    pub fn note_access(&self, token: TokenId, stored: Option<UnixTime>, now: UnixTime) {
        let recent = |t: UnixTime| now - t < LAST_ACCESS_EVERY;
        if stored.is_some_and(recent) {
            return;
        }
        // A slot holds the token id's low 32 bits and the time's (Unix seconds fit until 2106).
        let slot = &self.noted[usize::try_from(token % NOTED_SLOTS as u64).unwrap_or(0)];
        let seen = slot.load(Ordering::Relaxed);
        if seen >> 32 == token & 0xffff_ffff && recent(UnixTime::from(seen as u32)) {
            return;
        }
        slot.store((token & 0xffff_ffff) << 32 | (now as u64 & 0xffff_ffff), Ordering::Relaxed);
        self.send(Event::LastAccess { token, time: now });
    }

    pub fn send(&self, e: Event) {
        // Counted up first, so that the writer never counts an event down before it is up.
        self.metrics.activity_queue.inc();
        if let Err(TrySendError::Full(e) | TrySendError::Disconnected(e)) = self.tx.try_send(e) {
            self.metrics.activity_queue.dec();
            // Not logged, but still counted: the metrics miss no call.
            if let Event::Call(c) = &e {
                self.metrics.count_call(c);
            }
            let n = self.metrics.activity_dropped.inc() + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "activity queue full: call-log rows or last-access updates dropped");
            }
        }
    }
}

impl Writer {
    /// Waits for the writer to drain the queue; every `Activity` must be dropped first.
    pub fn finish(self) {
        let _ = self.handle.join();
    }
}

fn run(store: &Store, rx: &Receiver<Event>, metrics: &Metrics) {
    let mut pending: HashMap<TokenId, UnixTime> = HashMap::new();
    let mut last_prune = Instant::now() - PRUNE_EVERY;
    loop {
        let cycle = Instant::now();
        let mut calls = Vec::new();
        let mut closed = false;
        loop {
            let event = rx.try_recv();
            if let Ok(taken) = &event {
                if let Event::Call(c) = taken {
                    metrics.count_call(c);
                }
                // After counting: an empty queue means every call taken is counted.
                metrics.activity_queue.dec();
            }
            match event {
                Ok(Event::Call(c)) => calls.push(c),
                Ok(Event::LastAccess { token, time }) => {
                    if pending.len() < MAX_PENDING_ACCESS || pending.contains_key(&token) {
                        pending.insert(token, time);
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        let writing = Instant::now();
        let wrote = !calls.is_empty() || !pending.is_empty();
        for chunk in calls.chunks(CALLS_PER_TXN) {
            if let Err(e) = store.write_activity(|t| t.append_calls(chunk)) {
                tracing::error!(error = %e, "call log rows not written");
            }
        }
        // On shutdown everything pending is written; otherwise a bounded slice per cycle.
        while !pending.is_empty() {
            let slice: Vec<(TokenId, UnixTime)> = pending.iter().take(ACCESS_PER_TXN).map(|(k, v)| (*k, *v)).collect();
            for (id, _) in &slice {
                pending.remove(id);
            }
            if let Err(e) = write_last_access(store, &slice) {
                tracing::error!(error = %e, "token last access not written");
            }
            if !closed {
                break;
            }
        }
        if wrote {
            metrics.activity_flush_seconds.observe(writing.elapsed().as_secs_f64());
        }
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = Instant::now();
            if let Err(e) = prune(store) {
                tracing::error!(error = %e, "call log not pruned");
            }
        }
        if closed {
            return;
        }
        // Poll rather than block on the queue: a blocked receiver would be woken by every
        // request, which costs more than the request itself. A cycle whose writes took
        // longer than the period (a slow disk) starts the next at once, so that the queue
        // is drained at least every period plus one cycle's writes.
        std::thread::sleep(FLUSH_EVERY.saturating_sub(cycle.elapsed()));
    }
}

fn write_last_access(store: &Store, updates: &[(TokenId, UnixTime)]) -> Result<(), StoreError> {
    store.write_activity(|t| {
        for &(id, time) in updates {
            t.touch_token(id, time, LAST_ACCESS_EVERY)?;
        }
        Ok(())
    })
}

/// Deletes call-log rows older than the `loglifetime` setting (0 keeps them).
fn prune(store: &Store) -> Result<(), StoreError> {
    let days = Queries::settings(&store.read()?)?.log_lifetime_days;
    if days == 0 {
        return Ok(());
    }
    let cutoff = crate::store::now() - i64::from(days) * 86_400;
    // In slices, so that no write transaction holds the other processes up for long.
    while store.write_activity(|t| t.prune_calls_before(cutoff, 5_000))? > 0 {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(i: i64) -> CallLog {
        CallLog {
            time: 1_800_000_000 + i,
            token: None,
            user: None,
            service: None,
            function: "core_webservice_get_site_info".into(),
            protocol: "rest".into(),
            remote_ip: "127.0.0.1".into(),
            outcome: "ok".into(),
            duration_micros: 1,
            site: None,
        }
    }

    #[test]
    fn last_access_is_queued_once_a_minute_per_token() {
        let (tx, rx) = sync_channel(16);
        let metrics = Arc::new(Metrics::new(Arc::new(crate::endpoint::throttle::Throttle::new(0)), Arc::default()));
        let activity = Activity { tx, metrics, noted: noted_table() };
        let t0 = 1_800_000_000;
        activity.note_access(1, None, t0);
        activity.note_access(1, None, t0 + 30); // the record still shows nothing: cached
        activity.note_access(2, Some(t0 - 10), t0); // written 10 s ago
        activity.note_access(3, Some(t0 - 61), t0);
        activity.note_access(1, Some(t0 - 120), t0 + LAST_ACCESS_EVERY);
        // A token sharing token 1's slot takes it over: token 1 is queued once more.
        let neighbour = 1 + NOTED_SLOTS as u64;
        activity.note_access(neighbour, None, t0 + LAST_ACCESS_EVERY + 1);
        activity.note_access(1, None, t0 + LAST_ACCESS_EVERY + 2);
        let queued: Vec<(TokenId, UnixTime)> = rx
            .try_iter()
            .map(|e| match e {
                Event::LastAccess { token, time } => (token, time),
                Event::Call(_) => panic!("no call was logged"),
            })
            .collect();
        assert_eq!(
            queued,
            [
                (1, t0),
                (3, t0),
                (1, t0 + LAST_ACCESS_EVERY),
                (neighbour, t0 + LAST_ACCESS_EVERY + 1),
                (1, t0 + LAST_ACCESS_EVERY + 2)
            ]
        );
    }

    #[test]
    fn every_queued_row_is_written_by_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("a.redb")).unwrap());
        let metrics = Arc::new(Metrics::new(Arc::new(crate::endpoint::throttle::Throttle::new(0)), Arc::default()));
        let (activity, writer) = Activity::start(store.clone(), &metrics);
        for i in 0..12_000 {
            activity.send(Event::Call(call(i)));
        }
        drop(activity);
        writer.finish();
        assert_eq!(metrics.activity_queue.get(), 0, "the writer counted down all it took");
        assert_eq!(store.read().unwrap().call_count().unwrap(), 12_000);
    }

    #[test]
    fn old_rows_are_pruned_by_loglifetime() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("p.redb")).unwrap();
        let now = crate::store::now();
        let rows: Vec<CallLog> = (0..7_000)
            .map(|i| CallLog { time: now - 100 * 86_400 + i, ..call(0) })
            .chain([CallLog { time: now, ..call(0) }])
            .collect();
        store.write(|t| t.append_calls(&rows)).unwrap();
        prune(&store).unwrap(); // default: 90 days
        assert_eq!(store.read().unwrap().call_count().unwrap(), 1);
    }
}
