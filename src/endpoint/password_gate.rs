//! The one gate before every password check, for login/token.php and each simpleserver.php:
//! the throttle admits the check (failures and checks in flight within the limit), the pool
//! gives it a slot in its address's turn, the throttle is asked again (other checks of the
//! address may have failed meanwhile), and the check runs on a blocking thread on the
//! snapshot current when its turn came.
//!
//! The admission and the slot go with the check to its thread and are freed only when it
//! ends, and a wrong password is counted there: a client that hangs up while its check runs
//! (or whose request times out) frees nothing early and escapes no count.

use super::password_pool::{Full, PasswordPool};
use super::throttle::{self, Admission, Throttle};
use crate::domain::secret::PasswordWork;
use crate::store::StoreError;
use std::net::IpAddr;
use std::sync::Arc;

/// Password checks that may wait for the pool, in all and per client address: at ~20 ms a
/// check on one core, a full queue is about five seconds of work.
const QUEUE: usize = 256;
const QUEUE_PER_ADDRESS: usize = 8;

/// Why a password check did not run.
#[derive(Debug)]
pub enum GateRefusal {
    /// The address failed too often, or has as many checks in flight as it may fail: 429
    /// with this many seconds to wait.
    TooMany(u64),
    /// The queue is full: 503, try again in a second.
    Busy,
    /// The database failed; the client did nothing wrong.
    Unavailable(String),
}

/// What a check found: its result, and whether the password was wrong (counted against the
/// address).
pub struct Checked<T> {
    pub value: T,
    pub wrong_password: bool,
}

pub struct PasswordGate {
    throttle: Arc<Throttle>,
    pool: Arc<PasswordPool>,
}

impl PasswordGate {
    /// `slots` checks run at once; `throttle` is the endpoint's, shared with token failures.
    pub fn new(throttle: Arc<Throttle>, slots: usize) -> PasswordGate {
        PasswordGate { throttle, pool: Arc::new(PasswordPool::new(slots, QUEUE, QUEUE_PER_ADDRESS)) }
    }

    /// Runs `check` behind the gate for a client at `ip`, on the snapshot that `snapshot`
    /// (not yet awaited: `Fresh::get()`) gives once the check's turn came, since waiting can
    /// take a while under a flood.
    pub async fn run<S: Send + 'static, T: Send + 'static>(
        &self,
        ip: IpAddr,
        snapshot: impl Future<Output = Result<S, StoreError>>,
        check: impl FnOnce(S, &mut PasswordWork) -> Checked<T> + Send + 'static,
    ) -> Result<T, GateRefusal> {
        let admission: Admission = self.throttle.admit(ip).map_err(GateRefusal::TooMany)?;
        // An IPv6 client holds one place per /64, as in the throttle.
        let mut slot = self.pool.enter(throttle::key(ip)).await.map_err(|full| match full {
            Full::Queue => GateRefusal::Busy,
            Full::Address => GateRefusal::TooMany(1),
        })?;
        if let Some(wait) = self.throttle.check(ip) {
            return Err(GateRefusal::TooMany(wait));
        }
        let snapshot = snapshot.await.map_err(|e| GateRefusal::Unavailable(e.to_string()))?;
        // From here the check runs to its end whatever becomes of the request.
        let checked = tokio::task::spawn_blocking(move || {
            let checked = check(snapshot, slot.work());
            if checked.wrong_password {
                // Counted while the check still holds its admission: no burst sees a gap.
                admission.failed();
            }
            drop((admission, slot));
            checked.value
        });
        checked.await.map_err(|e| GateRefusal::Unavailable(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// A check that says when it started and waits to be told its verdict.
    fn held_check(
        started: mpsc::Sender<()>,
        verdict: mpsc::Receiver<bool>,
    ) -> impl FnOnce((), &mut PasswordWork) -> Checked<()> + Send {
        move |(), _| {
            started.send(()).unwrap();
            Checked { value: (), wrong_password: verdict.recv().unwrap() }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_that_goes_away_frees_nothing_and_escapes_no_count() {
        let throttle = Arc::new(Throttle::new(1));
        let gate = Arc::new(PasswordGate::new(throttle.clone(), 1));
        let flood: IpAddr = "10.0.0.1".parse().unwrap();
        let (started_tx, started) = mpsc::channel();
        let (verdict, verdict_rx) = mpsc::channel();
        let g = gate.clone();
        let request =
            tokio::spawn(async move { g.run(flood, async { Ok(()) }, held_check(started_tx, verdict_rx)).await });
        tokio::task::spawn_blocking(move || started.recv_timeout(Duration::from_secs(10))).await.unwrap().unwrap();
        // The client hangs up (or its request times out) while its check runs.
        request.abort();
        assert!(request.await.unwrap_err().is_cancelled());

        // The check still holds its admission: the address may not start another.
        let refused = gate.run(flood, async { Ok(()) }, |(), _| Checked { value: (), wrong_password: false }).await;
        assert!(matches!(refused, Err(GateRefusal::TooMany(1))), "{refused:?}");
        // And its slot: another address waits for it.
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let g = gate.clone();
        let mut waiting = tokio::spawn(async move {
            g.run(other, async { Ok(()) }, |(), _| Checked { value: 7, wrong_password: false }).await
        });
        assert!(tokio::time::timeout(Duration::from_millis(100), &mut waiting).await.is_err(), "no slot is free yet");

        // The check ends with a wrong password: counted, though nobody waits for its answer.
        verdict.send(true).unwrap();
        assert_eq!(waiting.await.unwrap().unwrap(), 7, "the slot passed on when the check ended");
        let wait = throttle.check(flood).expect("the failure was counted");
        assert!(wait >= 2, "refused for the window, not for a second: {wait}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_throttle_is_asked_again_once_the_turn_comes() {
        let throttle = Arc::new(Throttle::new(3));
        let gate = Arc::new(PasswordGate::new(throttle.clone(), 1));
        let (ip, busy): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.9".parse().unwrap());
        let (started_tx, started) = mpsc::channel();
        let (verdict, verdict_rx) = mpsc::channel();
        let g = gate.clone();
        let holder =
            tokio::spawn(async move { g.run(busy, async { Ok(()) }, held_check(started_tx, verdict_rx)).await });
        tokio::task::spawn_blocking(move || started.recv_timeout(Duration::from_secs(10))).await.unwrap().unwrap();
        // Admitted, then waiting for the slot, while other checks of the address fail.
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (g, r) = (gate.clone(), ran.clone());
        let queued = tokio::spawn(async move {
            g.run(ip, async { Ok(()) }, move |(), _| {
                r.store(true, std::sync::atomic::Ordering::SeqCst);
                Checked { value: (), wrong_password: false }
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        for _ in 0..3 {
            throttle.failed(ip);
        }
        verdict.send(false).unwrap();
        holder.await.unwrap().unwrap();
        let r = queued.await.unwrap();
        assert!(matches!(r, Err(GateRefusal::TooMany(w)) if w >= 2), "{r:?}");
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst), "no check ran for a refused address");
    }
}
