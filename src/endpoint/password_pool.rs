//! The password pool: argon2 checks (~20 ms of CPU each) run on a few slots, one core fewer
//! than the machine has. Checks that wait are served in turn by client address, one per
//! address per turn, so that an address sending a flood holds one place in each turn rather
//! than the whole queue: a login from another address waits about one check per busy address.
//! The queue is bounded, per address and in all; a full queue answers at once.
//!
//! A slot handed from one check to the next hands on its argon2 work area too (sent on the
//! channel that grants the slot), so that a flood holds one area per slot; when nobody
//! waits, the area is freed with the slot.

use crate::domain::secret::PasswordWork;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Why a check was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// Every place of the queue is taken: 503.
    Queue,
    /// This address has all the places it may hold: 429.
    Address,
}

pub struct PasswordPool {
    slots: usize,
    max_waiting: usize,
    per_address: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    running: usize,
    waiting: usize,
    /// Each waiting check's end of the channel its slot's work area is handed over on.
    queues: HashMap<IpAddr, VecDeque<oneshot::Sender<PasswordWork>>>,
    /// Addresses with a check waiting, in the order of their turns.
    turns: VecDeque<IpAddr>,
}

/// A running check's slot, given to the next in turn when dropped. It owns its pool, so that
/// it can go with the check to the thread that runs it and be freed only when the check ends.
pub struct Slot {
    pool: Arc<PasswordPool>,
    work: PasswordWork,
}

impl Slot {
    /// The slot's argon2 work area: the one the previous check of this slot left, when the
    /// slot was handed on to this check; else empty, grown by the first check.
    pub fn work(&mut self) -> &mut PasswordWork {
        &mut self.work
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.pool.release(std::mem::take(&mut self.work));
    }
}

/// A place in the queue. Dropped before it got its slot (the request went away), it leaves;
/// dropped just after its slot was handed over, it hands it on.
struct Waiting<'a> {
    pool: &'a PasswordPool,
    rx: Option<oneshot::Receiver<PasswordWork>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if let Ok(work) = rx.try_recv() {
                self.pool.release(work);
            }
        }
    }
}

impl PasswordPool {
    pub fn new(slots: usize, max_waiting: usize, per_address: usize) -> PasswordPool {
        PasswordPool { slots: slots.max(1), max_waiting, per_address: per_address.max(1), state: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot for one check from `ip`: at once when one is free and nobody waits, else in turn.
    pub async fn enter(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Full> {
        let rx = {
            let mut s = self.lock();
            if s.running < self.slots && s.waiting == 0 {
                s.running += 1;
                return Ok(Slot { pool: self.clone(), work: PasswordWork::default() });
            }
            if s.waiting >= self.max_waiting {
                return Err(Full::Queue);
            }
            let queue = s.queues.entry(ip).or_default();
            if queue.len() >= self.per_address {
                return Err(Full::Address);
            }
            let (tx, rx) = oneshot::channel();
            let first = queue.is_empty();
            queue.push_back(tx);
            if first {
                s.turns.push_back(ip);
            }
            s.waiting += 1;
            rx
        };
        let mut waiting = Waiting { pool: self, rx: Some(rx) };
        let granted = waiting.rx.as_mut().expect("set above").await;
        waiting.rx = None;
        // The sender is only dropped unsent when the pool goes away.
        let work = granted.map_err(|_| Full::Queue)?;
        Ok(Slot { pool: self.clone(), work })
    }

    /// A slot was freed: hand it, and its work area, to the next address in turn whose
    /// request still waits; with nobody waiting, the area is freed.
    fn release(&self, mut work: PasswordWork) {
        let mut s = self.lock();
        while let Some(ip) = s.turns.pop_front() {
            let Some(queue) = s.queues.get_mut(&ip) else { continue };
            let Some(tx) = queue.pop_front() else { continue };
            let more = !queue.is_empty();
            if more {
                s.turns.push_back(ip);
            } else {
                s.queues.remove(&ip);
            }
            s.waiting -= 1;
            // A check that went away hands the area back, for the next in turn.
            match tx.send(work) {
                Ok(()) => return,
                Err(back) => work = back,
            }
        }
        s.running -= 1;
        drop(s);
        drop(work);
    }

    /// Checks running and waiting.
    #[cfg(test)]
    fn load(&self) -> (usize, usize) {
        let s = self.lock();
        (s.running, s.waiting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;
    use std::sync::Arc;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn waiting_checks_are_served_one_address_at_a_time() {
        let pool = Arc::new(PasswordPool::new(1, 100, 10));
        let first = pool.enter(ip("10.0.0.1")).await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // Five from the flooding address, then one from another address.
        for (i, who) in ["10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.2"].iter().enumerate() {
            let (queued, order) = (pool.clone(), order.clone());
            let who = ip(who);
            tasks.push(tokio::spawn(async move {
                let _slot = queued.enter(who).await.unwrap();
                order.lock().unwrap().push((i, who));
                tokio::task::yield_now().await;
            }));
            while pool.load().1 < i + 1 {
                tokio::task::yield_now().await;
            }
        }
        drop(first);
        for t in tasks {
            t.await.unwrap();
        }
        let order = order.lock().unwrap();
        let second = order.iter().position(|(_, who)| *who == ip("10.0.0.2")).unwrap();
        assert_eq!(second, 1, "the other address is served after one check of the flood: {order:?}");
        assert_eq!(pool.load(), (0, 0));
    }

    /// A flood holds one work area per slot: the area goes with the slot to the check that
    /// waited for it, and is freed when the slot is freed with nobody waiting.
    #[tokio::test]
    async fn a_slot_hands_its_work_area_to_the_next_check() {
        let pool = Arc::new(PasswordPool::new(1, 100, 10));
        let mut first = pool.enter(ip("10.0.0.1")).await.unwrap();
        assert_eq!(first.work().held(), 0, "a slot taken with nobody before it starts empty");
        use argon2::password_hash::PasswordHasher;
        let phc = crate::domain::secret::password_hasher()
            .hash_password_with_salt(b"pw", b"saltsaltsalt")
            .map(|h| h.to_string())
            .unwrap();
        assert!(crate::domain::secret::verify_password_in(&phc, "pw", first.work()));
        let grown = first.work().held();
        assert_eq!(grown, 7 * 1024 * 1024);
        let mut next = Box::pin(pool.enter(ip("10.0.0.2")));
        assert!((&mut next).now_or_never().is_none(), "queued");
        drop(first);
        let mut second = next.await.unwrap();
        assert_eq!(second.work().held(), grown, "handed on, not allocated again");
        drop(second);
        assert_eq!(pool.load(), (0, 0));
        // Nobody waited: the area was freed with the slot (the pool keeps none of its own).
        let mut third = pool.enter(ip("10.0.0.3")).await.unwrap();
        assert_eq!(third.work().held(), 0, "nobody waited: the area was freed");
    }

    /// A waiter granted the slot but gone before it ran passes the area on with the slot.
    #[tokio::test]
    async fn a_waiter_that_went_away_hands_the_area_on() {
        let pool = Arc::new(PasswordPool::new(1, 100, 10));
        let mut first = pool.enter(ip("10.0.0.1")).await.unwrap();
        let cheap = argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(64, 1, 1, None).unwrap(),
        );
        let phc = argon2::password_hash::PasswordHasher::hash_password_with_salt(&cheap, b"pw", b"saltsaltsalt")
            .unwrap()
            .to_string();
        assert!(crate::domain::secret::verify_password_in(&phc, "pw", first.work()));
        let mut gone = Box::pin(pool.enter(ip("10.0.0.2")));
        assert!((&mut gone).now_or_never().is_none(), "queued");
        let mut after = Box::pin(pool.enter(ip("10.0.0.3")));
        assert!((&mut after).now_or_never().is_none(), "queued");
        drop(first);
        drop(gone);
        let mut third = after.await.unwrap();
        assert!(third.work().held() > 0, "the area reached the next check");
        drop(third);
        let mut fourth = pool.enter(ip("10.0.0.4")).await.unwrap();
        assert_eq!(fourth.work().held(), 0, "nobody waited: the area was freed");
    }

    #[tokio::test]
    async fn a_full_queue_answers_at_once() {
        let pool = Arc::new(PasswordPool::new(1, 3, 2));
        let _running = pool.enter(ip("10.0.0.1")).await.unwrap();
        let a = ip("10.0.0.1");
        let mut waits = Vec::new();
        for _ in 0..2 {
            waits.push(Box::pin(pool.enter(a)));
        }
        for w in &mut waits {
            assert!(w.now_or_never().is_none(), "queued");
        }
        assert_eq!(pool.enter(a).await.err(), Some(Full::Address));
        let mut b = Box::pin(pool.enter(ip("10.0.0.2")));
        assert!((&mut b).now_or_never().is_none(), "queued");
        assert_eq!(pool.enter(ip("10.0.0.3")).await.err(), Some(Full::Queue));
        // A waiter that goes away leaves its place; the slot still reaches the next.
        drop(waits);
        drop(_running);
        assert!(b.await.is_ok());
        assert_eq!(pool.load(), (0, 0));
    }
}
