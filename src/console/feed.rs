//! The console's feed thread: it follows the store's change feed (`store::feed`) and sends the
//! UI thread only what changed. It looks every [`POLL`] (a read transaction and one meta
//! value); on news it reads the records named: a token created or revoked is one record, a
//! last access one more, new calls and audit rows their own. A change to the configuration
//! (settings, users, roles, services) rereads the configuration, not the 200 000 tokens. A
//! console that has fallen behind what the feed keeps, or is asked to (Ctrl-R), reads
//! everything again, and says so in its log.

use super::data::{CallRow, Config, Data, Delta, LOG_ROWS, Names, TokenChange};
use crate::domain::walkthrough::{self, Facts};
use crate::domain::{AuthMethod, TokenId, UnixTime, UserId};
use crate::store::feed::{self, Change, Since};
use crate::store::{Queries, ReadView, Store, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

/// How often the feed looks for changes: a change by another process is on screen within it.
pub const POLL: Duration = Duration::from_millis(40);
/// Changes read in one go; more are read on the next look.
const BATCH: usize = 2_000;

/// What the feed sends.
pub enum News {
    /// Everything, read again; `asked` is the newest request the read began after; `behind`
    /// when the console had fallen behind what the change feed keeps.
    Loaded { asked: u64, data: Result<Box<Data>, StoreError>, behind: bool },
    /// What changed, to apply in place.
    Changed { asked: u64, delta: Box<Delta> },
    /// Nothing changed: what is on screen still matches the database.
    Unchanged { asked: u64 },
}

/// What the UI asks of the feed.
#[derive(Debug, Clone, Copy)]
enum Ask {
    /// Catch up now (after a write of the console's own).
    CatchUp(u64),
    /// Read everything again (Ctrl-R).
    Reload(u64),
}

/// The feed's thread, as the UI thread sees it.
pub struct Feed {
    ask: Sender<Ask>,
    news: Receiver<News>,
    asked: u64,
    answered: u64,
}

impl Feed {
    pub fn start(store: Arc<Store>) -> Feed {
        let (ask, asked) = channel();
        let (tell, news) = channel();
        std::thread::Builder::new()
            .name("console-feed".into())
            .spawn(move || Follower::new(store).run(&asked, &tell))
            .expect("spawn the console's feed");
        let mut feed = Feed { ask, news, asked: 0, answered: 0 };
        feed.reload();
        feed
    }

    /// Asks for everything to be read again.
    pub fn reload(&mut self) {
        self.asked += 1;
        let _ = self.ask.send(Ask::Reload(self.asked));
    }

    /// Asks for the changes made so far, at once (after a write of our own).
    pub fn catch_up(&mut self) {
        self.asked += 1;
        let _ = self.ask.send(Ask::CatchUp(self.asked));
    }

    /// Whether an answer to the latest request is still to come.
    pub fn in_flight(&self) -> bool {
        self.answered < self.asked
    }

    fn note(&mut self, n: News) -> News {
        let asked = match &n {
            News::Loaded { asked, .. } | News::Changed { asked, .. } | News::Unchanged { asked } => *asked,
        };
        self.answered = self.answered.max(asked);
        n
    }

    /// News that has come in.
    pub fn poll(&mut self) -> Vec<News> {
        let news: Vec<News> = self.news.try_iter().collect();
        news.into_iter().map(|n| self.note(n)).collect()
    }

    /// Waits for the next news (tests and the benchmark).
    pub fn wait(&mut self) -> Option<News> {
        let n = self.news.recv_timeout(Duration::from_secs(60)).ok()?;
        Some(self.note(n))
    }
}

/// The thread's side: what the UI holds, as far as the feed needs to know it.
struct Follower {
    store: Arc<Store>,
    /// The feed number the UI's data is at; `None` until the first read.
    seq: Option<u64>,
    /// The newest call sent: its time and number.
    newest_call: (UnixTime, u64),
    /// What the walkthrough's steps are computed from, kept up to date with token changes
    /// (who takes part in web services) so that a new token needs no users scan.
    facts: Facts,
}

impl Follower {
    fn new(store: Arc<Store>) -> Follower {
        Follower { store, seq: None, newest_call: (0, 0), facts: Facts::default() }
    }

    fn run(mut self, asked: &Receiver<Ask>, tell: &Sender<News>) {
        let mut next = Instant::now() + POLL;
        // "Nothing changed" is told once a second: the header's data age goes by it.
        let mut told_unchanged = Instant::now();
        loop {
            let ask = match asked.recv_timeout(next.saturating_duration_since(Instant::now())) {
                Ok(a) => Some(a),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            // Many requests while one read runs make one answer: a reload wins.
            let ask = ask.map(|a| {
                asked.try_iter().fold(a, |acc, b| match (acc, b) {
                    (Ask::Reload(x), Ask::CatchUp(y) | Ask::Reload(y)) | (Ask::CatchUp(x), Ask::Reload(y)) => {
                        Ask::Reload(x.max(y))
                    }
                    (Ask::CatchUp(x), Ask::CatchUp(y)) => Ask::CatchUp(x.max(y)),
                })
            });
            let news = match ask {
                Some(Ask::Reload(n)) => Some(self.load(n)),
                Some(Ask::CatchUp(n)) => Some(self.follow(n)),
                None => {
                    next = Instant::now() + POLL;
                    let news = self.follow(0);
                    let quiet = matches!(news, News::Unchanged { .. });
                    if quiet && told_unchanged.elapsed() < Duration::from_secs(1) {
                        None
                    } else {
                        told_unchanged = Instant::now();
                        Some(news)
                    }
                }
            };
            if let Some(news) = news
                && tell.send(news).is_err()
            {
                return;
            }
        }
    }

    fn load(&mut self, asked: u64) -> News {
        let read = self.store.read().and_then(|v| {
            let seq = feed::seq(&v)?;
            let (data, facts) = Data::load(&v, seq)?;
            self.newest_call = v.newest_call()?.unwrap_or((0, 0));
            Ok((data, facts, seq))
        });
        let data = read.map(|(data, facts, seq)| {
            self.seq = Some(seq);
            self.facts = facts;
            Box::new(data)
        });
        News::Loaded { asked, data, behind: false }
    }

    /// What changed since the UI's data, as a delta; everything again when the feed no longer
    /// holds it, or when a change says anything may have changed.
    fn follow(&mut self, asked: u64) -> News {
        let Some(seen) = self.seq else { return self.load(asked) };
        let v = match self.store.read() {
            Ok(v) => v,
            Err(e) => return News::Loaded { asked, data: Err(e), behind: false },
        };
        let list = match feed::since(&v, seen, BATCH) {
            Ok(Since::Changes(list)) => list,
            Ok(Since::Behind { seq }) => {
                tracing::info!(seen, seq, "the console fell behind the change feed: reading everything again");
                drop(v);
                return match self.load(asked) {
                    News::Loaded { asked, data, .. } => News::Loaded { asked, data, behind: true },
                    other => other,
                };
            }
            Err(e) => return News::Loaded { asked, data: Err(e), behind: false },
        };
        let Some(&(last, _)) = list.last() else { return News::Unchanged { asked } };
        let changes: Vec<Change> = list.into_iter().flat_map(|(_, c)| c).collect();
        if changes.contains(&Change::All) {
            drop(v);
            return self.load(asked);
        }
        match self.delta(&v, &changes, last) {
            Ok(delta) => {
                self.seq = Some(last);
                News::Changed { asked, delta: Box::new(delta) }
            }
            Err(e) => News::Loaded { asked, data: Err(e), behind: false },
        }
    }

    fn delta(&mut self, v: &ReadView, changes: &[Change], seq: u64) -> Result<Delta, StoreError> {
        let mut delta = Delta { seq, ..Delta::default() };
        let mut names = Names::new(v);
        let mut config = false;
        let mut flows = false;
        let mut accesses: Vec<TokenId> = Vec::new();
        // Whether each token owner takes part in web services, asked once per user.
        let mut owners: HashMap<UserId, bool> = HashMap::new();
        for c in changes {
            match c {
                Change::Token { id, hash, user } => {
                    let token = v.token_by_hash(hash)?.filter(|t| t.id == *id);
                    delta.tokens.push(match token {
                        Some(token) => TokenChange::Upsert { username: names.get(token.user)?, token },
                        None => TokenChange::Removed(*id),
                    });
                    // Who takes part in web services: a token may add or (revoked) remove its owner.
                    let takes_part = match owners.get(user) {
                        Some(t) => *t,
                        None => *owners.entry(*user).or_insert(takes_part(v, *user)?),
                    };
                    if takes_part != self.facts.ws_users.contains(user) {
                        if takes_part {
                            self.facts.ws_users.insert(*user);
                        } else {
                            self.facts.ws_users.remove(user);
                        }
                        flows = true;
                    }
                }
                Change::TokenAccess(id) => accesses.push(*id),
                Change::Calls | Change::Audit | Change::All => {}
                Change::EndpointStart
                | Change::Settings
                | Change::User(_)
                | Change::Role(_)
                | Change::RoleAssignment { .. }
                | Change::Service(_)
                | Change::ServiceFunctions(_)
                | Change::Authorised { .. }
                | Change::Upstream(_) => config = true,
            }
        }
        for id in accesses {
            if let Some(t) = v.token_by_id(id)?
                && let Some(at) = t.last_access
            {
                delta.accesses.push((id, at));
            }
        }
        if changes.contains(&Change::Calls) {
            for (n, call) in v.calls_since(self.newest_call.0, 60, self.newest_call.1, LOG_ROWS)? {
                self.newest_call = (self.newest_call.0.max(call.time), self.newest_call.1.max(n));
                if call.outcome == "ok" {
                    self.facts.last_successful_call = self.facts.last_successful_call.max(Some(call.time));
                    if call.site.is_some() {
                        self.facts.last_forwarded_call = self.facts.last_forwarded_call.max(Some(call.time));
                    }
                }
                delta.calls.push((n, CallRow { username: names.of(call.user)?, call }));
            }
        }
        if changes.contains(&Change::Audit) {
            delta.audit = Some(v.audit_entries("", LOG_ROWS)?);
        }
        if config {
            let (c, facts) = Config::load(v)?;
            self.facts = facts;
            delta.config = Some(Box::new(c));
        } else if flows {
            delta.flows = Some(Box::new(walkthrough::steps(&self.facts)));
        }
        Ok(delta)
    }
}

/// Whether a user takes part in web services as the walkthrough counts them: a live account
/// with the "webservice" method, authorised on a service, or holding a token.
fn takes_part(v: &ReadView, user: UserId) -> Result<bool, StoreError> {
    let Some(u) = Queries::user(v, user)?.filter(|u| !u.deleted) else { return Ok(false) };
    if u.auth == AuthMethod::Webservice || !v.tokens_of_user(user)?.is_empty() {
        return Ok(true);
    }
    for s in v.all_services()? {
        if v.authorisation(s.id, user)?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}
