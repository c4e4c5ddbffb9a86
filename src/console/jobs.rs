//! Background work: each job (a store read, the test client's HTTP call) runs on a thread of
//! its own and its answer comes back through a channel, so a key never waits for the network
//! or for a large read. Jobs are few and short-lived (a user page, a verdict, a call).

use super::effect::{Job, Reply};
use crate::store::Store;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

pub struct Jobs {
    store: Arc<Store>,
    done: Sender<(u64, Reply)>,
    replies: Receiver<(u64, Reply)>,
    /// What each job still running is doing, in the order they began, and whether keys wait
    /// for it.
    running: Vec<(u64, String, bool)>,
    next: u64,
}

impl Jobs {
    pub fn new(store: Arc<Store>) -> Jobs {
        let (done, replies) = channel();
        Jobs { store, done, replies, running: Vec::new(), next: 0 }
    }

    pub fn start(&mut self, job: Job) {
        self.next += 1;
        let n = self.next;
        let (store, done, to, run) = (self.store.clone(), self.done.clone(), job.to, job.run);
        let spawned = std::thread::Builder::new().name("console-job".into()).spawn(move || {
            let answer = run(&store);
            let _ = done.send((n, Reply { to, answer }));
        });
        if spawned.is_ok() {
            self.running.push((n, job.what, job.holds_keys));
        }
    }

    fn finished(&mut self, (n, reply): (u64, Reply)) -> Reply {
        self.running.retain(|(m, _, _)| *m != n);
        reply
    }

    /// Answers that have come in.
    pub fn poll(&mut self) -> Vec<Reply> {
        let done: Vec<_> = self.replies.try_iter().collect();
        done.into_iter().map(|d| self.finished(d)).collect()
    }

    /// Waits for the next answer while any job runs (tests and the benchmark).
    pub fn wait(&mut self) -> Option<Reply> {
        if self.running.is_empty() {
            return None;
        }
        let done = self.replies.recv_timeout(Duration::from_secs(30)).ok()?;
        Some(self.finished(done))
    }

    /// What the oldest job still running is doing.
    pub fn working(&self) -> Option<&str> {
        self.running.first().map(|(_, what, _)| what.as_str())
    }

    pub fn busy(&self) -> bool {
        !self.running.is_empty()
    }

    /// Whether a job that keys wait for is running.
    pub fn holding(&self) -> bool {
        self.running.iter().any(|(_, _, holds)| *holds)
    }
}
