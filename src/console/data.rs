//! What the screens show, read from the database by a background thread (the feed), so that no
//! store read runs on the UI thread and a large database never blocks a keystroke. The feed
//! rereads everything when the store's change count moves (another process, or this console,
//! changed something), and otherwise follows the endpoint's call log, whose new calls move
//! token "last access", the Overview's "Test the service" and the Logs screen without a reread.

use super::token_index::TokenIndex;
use crate::domain::walkthrough::{self, Flow};
use crate::domain::{AuditEntry, AuthorisedUser, CallLog, Protocol, Role, Service, Settings, UnixTime, UserId};
use crate::store::{Queries, Store, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

/// Log rows kept for the Logs screen, newest first.
pub const LOG_ROWS: usize = 1_000;
/// How often the feed asks the store whether anything changed.
pub const CHANGE_POLL: Duration = Duration::from_millis(1000);

pub struct Data {
    /// The store's change count this was read at.
    pub change_count: u64,
    pub settings: Settings,
    pub flows: [Flow; 2],
    pub roles: Vec<RoleRow>,
    pub services: Vec<ServiceRow>,
    pub tokens: TokenIndex,
    pub calls: Vec<CallRow>,
    pub audit: Vec<AuditEntry>,
    /// What the endpoint found at its last start (its site URL check).
    pub endpoint: Option<crate::domain::site_url::EndpointStart>,
    /// The newest call read: its time and number.
    newest_call: (UnixTime, u64),
    /// When this was read.
    pub read_at: UnixTime,
}

pub struct RoleRow {
    pub role: Role,
    pub capabilities: Vec<String>,
    pub holders: usize,
}

pub struct ServiceRow {
    pub service: Service,
    pub functions: Vec<String>,
    pub authorised: Vec<AuthorisedRow>,
}

pub struct AuthorisedRow {
    pub entry: AuthorisedUser,
    pub username: String,
    /// Capabilities the user needs for this service and lacks: the enabled protocols' and the
    /// service's required capability.
    pub missing: Vec<String>,
}

pub struct CallRow {
    pub call: CallLog,
    pub username: String,
}

impl Data {
    pub fn load(store: &Store) -> Result<Data, StoreError> {
        let v = store.read()?;
        let now = crate::store::now();
        let change_count = v.change_count()?;
        let settings = Queries::settings(&v)?;
        let facts = v.walkthrough_facts(now)?;
        let flows = walkthrough::steps(&facts);
        let mut roles = Vec::new();
        for r in v.all_roles()? {
            let holders = if r.implicit { 0 } else { v.role_holders(r.id)?.len() };
            roles.push(RoleRow { holders, capabilities: v.role_capabilities(r.id)?, role: r });
        }
        let mut names = Names::new(&v);
        let mut services = Vec::new();
        for s in v.all_services()? {
            let functions = v.service_function_names(s.id)?;
            let mut authorised = Vec::new();
            for entry in v.authorised_users(s.id)? {
                let caps = v.user_capabilities(entry.user)?;
                let mut missing: Vec<String> = settings
                    .protocols
                    .iter()
                    .map(|p| p.capability().to_string())
                    .filter(|c| !caps.contains(c))
                    .collect();
                if let Some(req) = s.required_capability.as_ref().filter(|c| !c.is_empty() && !caps.contains(*c)) {
                    missing.push(req.clone());
                }
                authorised.push(AuthorisedRow { username: names.get(entry.user)?, entry, missing });
            }
            services.push(ServiceRow { service: s, functions, authorised });
        }
        let service_names: Vec<(u64, &str, &str)> =
            services.iter().map(|s| (s.service.id, s.service.shortname.as_str(), s.service.name.as_str())).collect();
        let tokens = TokenIndex::load(&v, &service_names, &facts.users)?;
        drop(facts);
        let mut calls = Vec::new();
        for call in v.call_entries(LOG_ROWS)? {
            calls.push(CallRow { username: names.of(call.user)?, call });
        }
        let audit = v.audit_entries("", LOG_ROWS)?;
        let endpoint = v.endpoint_start()?;
        let newest_call = v.newest_call()?.unwrap_or((0, 0));
        Ok(Data {
            change_count,
            settings,
            flows,
            roles,
            services,
            tokens,
            calls,
            audit,
            endpoint,
            newest_call,
            read_at: now,
        })
    }

    pub fn service(&self, shortname: &str) -> Option<&ServiceRow> {
        self.services.iter().find(|s| s.service.shortname == shortname)
    }

    /// Endpoint URLs of each protocol, as Manage protocols shows them.
    pub fn endpoint_url(&self, p: Protocol) -> String {
        let base = self.settings.site_url.trim_end_matches('/');
        format!("{base}/webservice/{}/server.php", p.name())
    }

    /// New calls from the endpoint: the Logs rows, token last access, "Test the service".
    pub fn add_calls(&mut self, calls: Vec<(u64, CallRow)>) {
        for (seq, row) in calls {
            let c = &row.call;
            if let Some(token) = c.token {
                self.tokens.touch(token, c.time);
            }
            if c.outcome == "ok" {
                walkthrough::record_call(&mut self.flows, c.time);
            }
            self.newest_call = (self.newest_call.0.max(c.time), self.newest_call.1.max(seq));
            self.calls.insert(0, row);
        }
        self.calls.truncate(LOG_ROWS);
    }
}

/// Usernames by id, each read once (deleted users keep theirs, as logs need).
struct Names<'v, V> {
    view: &'v V,
    known: HashMap<UserId, String>,
}

impl<'v, V: Queries> Names<'v, V> {
    fn new(view: &'v V) -> Self {
        Names { view, known: HashMap::new() }
    }

    fn get(&mut self, id: UserId) -> Result<String, StoreError> {
        if let Some(n) = self.known.get(&id) {
            return Ok(n.clone());
        }
        let n = Queries::user(self.view, id)?.map_or_else(|| format!("#{id}"), |u| u.username);
        self.known.insert(id, n.clone());
        Ok(n)
    }

    fn of(&mut self, id: Option<UserId>) -> Result<String, StoreError> {
        id.map_or_else(|| Ok(String::new()), |id| self.get(id))
    }
}

/// What the feed sends.
pub enum News {
    /// Everything, reread; `asked` is the newest request the read began after.
    Loaded { asked: u64, data: Result<Box<Data>, StoreError> },
    /// Calls logged since the last news, oldest first, with their numbers.
    Calls(Vec<(u64, CallRow)>),
    /// Nothing changed: what is on screen still matches the database.
    Unchanged,
}

/// The feed's thread: full reads on request or on change, call following in between.
pub struct Feed {
    ask: Sender<u64>,
    news: Receiver<News>,
    asked: u64,
    answered: u64,
}

impl Feed {
    pub fn start(store: Arc<Store>) -> Feed {
        let (ask, asked) = channel::<u64>();
        let (tell, news) = channel();
        std::thread::Builder::new()
            .name("console-feed".into())
            .spawn(move || follow(&store, &asked, &tell))
            .expect("spawn the console's feed");
        let mut feed = Feed { ask, news, asked: 0, answered: 0 };
        feed.request();
        feed
    }

    /// Asks for a full reread.
    pub fn request(&mut self) {
        self.asked += 1;
        let _ = self.ask.send(self.asked);
    }

    /// Whether a reread that began after the latest request is still to come.
    pub fn in_flight(&self) -> bool {
        self.answered < self.asked
    }

    fn note(&mut self, n: News) -> News {
        if let News::Loaded { asked, .. } = &n {
            self.answered = self.answered.max(*asked);
        }
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

fn follow(store: &Store, asked: &Receiver<u64>, tell: &Sender<News>) {
    // What the console holds: the change count and the newest call it was told of.
    let mut known: Option<(u64, (UnixTime, u64))> = None;
    let mut next_poll = Instant::now() + CHANGE_POLL;
    loop {
        let request = match asked.recv_timeout(next_poll.saturating_duration_since(Instant::now())) {
            Ok(n) => Some(n),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        // Many requests while one read runs make one more read, not many.
        let request = request.map(|n| asked.try_iter().fold(n, u64::max));
        let news = match request {
            Some(asked) => Some(load(store, asked, &mut known)),
            None => {
                next_poll = Instant::now() + CHANGE_POLL;
                poll(store, &mut known)
            }
        };
        if let Some(news) = news
            && tell.send(news).is_err()
        {
            return;
        }
    }
}

fn load(store: &Store, asked: u64, known: &mut Option<(u64, (UnixTime, u64))>) -> News {
    let data = Data::load(store).map(Box::new);
    if let Ok(d) = &data {
        *known = Some((d.change_count, d.newest_call));
    }
    News::Loaded { asked, data }
}

/// One look at the store: a reread when its change count moved, else the new calls.
fn poll(store: &Store, known: &mut Option<(u64, (UnixTime, u64))>) -> Option<News> {
    let (count, newest) = (*known)?;
    let v = store.read().ok()?;
    if v.change_count().ok()? != count {
        drop(v);
        return Some(load(store, 0, known));
    }
    let calls = v.calls_since(newest.0, 60, newest.1, LOG_ROWS).ok()?;
    if calls.is_empty() {
        return Some(News::Unchanged);
    }
    let mut names = Names::new(&v);
    let mut rows = Vec::new();
    let mut newest = newest;
    for (seq, call) in calls {
        newest = (newest.0.max(call.time), newest.1.max(seq));
        rows.push((seq, CallRow { username: names.of(call.user).ok()?, call }));
    }
    *known = Some((count, newest));
    Some(News::Calls(rows))
}
