//! What the screens show, read from the database in one read transaction by a background
//! thread, so that a large database never blocks a keystroke. Tokens are held in a compact
//! in-memory index: filtering and scrolling 200 000 of them never touches the database
//! (CONSOLE.md: "filter on an index, not by rebuilding rows").

use crate::domain::walkthrough::{self, Flow};
use crate::domain::{
    AuditEntry, AuthorisedUser, CallLog, Protocol, Role, Service, Settings, Token, TokenId, UnixTime, UserId,
};
use crate::store::{Queries, Store, StoreError, TokenSort};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

/// Log rows kept for the Logs screen, newest first.
pub const LOG_ROWS: usize = 1_000;

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
        let tokens = TokenIndex::load(&v, &services, &facts.users)?;
        drop(facts);
        let (calls, audit) = load_logs(&v)?;
        let endpoint = v.endpoint_start()?;
        Ok(Data { change_count, settings, flows, roles, services, tokens, calls, audit, endpoint })
    }

    pub fn service(&self, shortname: &str) -> Option<&ServiceRow> {
        self.services.iter().find(|s| s.service.shortname == shortname)
    }

    /// Endpoint URLs of each protocol, as Manage protocols shows them.
    pub fn endpoint_url(&self, p: Protocol) -> String {
        let base = self.settings.site_url.trim_end_matches('/');
        format!("{base}/webservice/{}/server.php", p.name())
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
}

/// The newest call-log rows, with their users' names, and the newest audit entries: what the
/// Logs screen shows, reread every second while it is open.
pub fn load_logs(v: &impl Queries) -> Result<(Vec<CallRow>, Vec<AuditEntry>), StoreError> {
    let mut names = Names::new(v);
    let mut calls = Vec::new();
    for call in v.call_entries(LOG_ROWS)? {
        let username = match call.user {
            Some(id) => names.get(id)?,
            None => String::new(),
        };
        calls.push(CallRow { call, username });
    }
    Ok((calls, v.audit_entries("", LOG_ROWS)?))
}

/// One token, compactly: names are interned, so 200 000 tokens take a few MiB.
pub struct TokenEntry {
    pub id: TokenId,
    user: u32,
    service: u32,
    creator: u32,
    pub valid_until: Option<UnixTime>,
    pub last_access: Option<UnixTime>,
    pub created: UnixTime,
    pub name: Box<str>,
    pub ip_restriction: Box<str>,
}

/// A token as a row shows it.
pub struct TokenView<'a> {
    pub entry: &'a TokenEntry,
    pub username: &'a str,
    pub service_shortname: &'a str,
    pub service_name: &'a str,
    pub creator: &'a str,
}

#[derive(Default)]
pub struct TokenIndex {
    entries: Vec<TokenEntry>,
    usernames: Vec<Box<str>>,
    services: Vec<(Box<str>, Box<str>)>,
    creators: Vec<Box<str>>,
    /// Every entry, in the current sort order.
    order: Vec<u32>,
    /// The entries the filter keeps, in order.
    visible: Vec<u32>,
    filter: String,
    pub sort: TokenSort,
    pub descending: bool,
}

fn intern(pool: &mut Vec<Box<str>>, map: &mut HashMap<String, u32>, s: &str) -> u32 {
    if let Some(i) = map.get(s) {
        return *i;
    }
    let i = u32::try_from(pool.len()).unwrap_or(u32::MAX);
    pool.push(s.into());
    map.insert(s.to_string(), i);
    i
}

/// Case-insensitive substring test without allocating; `needle` is already lower case (ASCII
/// folding: usernames are lower case, token names ASCII).
fn contains_ci(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let Some((&first, rest)) = n.split_first() else { return true };
    if h.len() < n.len() {
        return false;
    }
    (0..=h.len() - n.len()).any(|i| {
        h[i].to_ascii_lowercase() == first
            && h[i + 1..i + n.len()].iter().zip(rest).all(|(a, b)| a.to_ascii_lowercase() == *b)
    })
}

impl TokenIndex {
    fn load(
        v: &impl Queries,
        services: &[ServiceRow],
        names: &HashMap<UserId, String>,
    ) -> Result<TokenIndex, StoreError> {
        let mut ix = TokenIndex::default();
        let service_pos: HashMap<u64, u32> =
            services.iter().enumerate().map(|(i, s)| (s.service.id, u32::try_from(i).unwrap_or(u32::MAX))).collect();
        ix.services =
            services.iter().map(|s| (s.service.shortname.as_str().into(), s.service.name.as_str().into())).collect();
        let mut user_pos: HashMap<UserId, u32> = HashMap::new();
        let mut creator_map: HashMap<String, u32> = HashMap::new();
        let mut pending_users: Vec<UserId> = Vec::new();
        let mut entries = Vec::new();
        v.each_token(|t: Token| {
            let next = u32::try_from(user_pos.len()).unwrap_or(u32::MAX);
            let user = *user_pos.entry(t.user).or_insert_with(|| {
                pending_users.push(t.user);
                next
            });
            let creator = intern(&mut ix.creators, &mut creator_map, &t.creator);
            entries.push(TokenEntry {
                id: t.id,
                user,
                service: service_pos.get(&t.service).copied().unwrap_or(u32::MAX),
                creator,
                valid_until: t.valid_until,
                last_access: t.last_access,
                created: t.created,
                name: t.name.into_boxed_str(),
                ip_restriction: t.ip_restriction.into_boxed_str(),
            });
        })?;
        ix.usernames = Vec::with_capacity(pending_users.len());
        for id in pending_users {
            let name = names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"));
            ix.usernames.push(name.into_boxed_str());
        }
        ix.entries = entries;
        ix.resort();
        Ok(ix)
    }

    pub fn total(&self) -> usize {
        self.entries.len()
    }

    pub fn len(&self) -> usize {
        self.visible.len()
    }

    pub fn is_empty(&self) -> bool {
        self.visible.is_empty()
    }

    pub fn filter(&self) -> &str {
        &self.filter
    }

    pub fn find_by_name(&self, name: &str) -> Option<TokenId> {
        self.entries.iter().find(|e| &*e.name == name).map(|e| e.id)
    }

    pub fn view(&self, i: usize) -> Option<TokenView<'_>> {
        let e = &self.entries[*self.visible.get(i)? as usize];
        let (service_shortname, service_name) =
            self.services.get(e.service as usize).map(|(a, b)| (&**a, &**b)).unwrap_or(("?", "?"));
        Some(TokenView {
            entry: e,
            username: self.usernames.get(e.user as usize).map_or("?", |s| s),
            service_shortname,
            service_name,
            creator: self.creators.get(e.creator as usize).map_or("?", |s| s),
        })
    }

    /// Keeps the tokens whose name, user, service, IP restriction or creator contains `filter`.
    /// Names shared by many tokens (users, services, creators) are tested once each; typing one
    /// more character only re-checks the tokens that matched before.
    pub fn set_filter(&mut self, filter: &str) {
        let needle = filter.to_ascii_lowercase();
        let narrower = !self.filter.is_empty() && filter.starts_with(self.filter.as_str());
        let source = if narrower { std::mem::take(&mut self.visible) } else { self.order.clone() };
        let users: Vec<bool> = self.usernames.iter().map(|u| contains_ci(u, &needle)).collect();
        let services: Vec<bool> =
            self.services.iter().map(|(s, n)| contains_ci(s, &needle) || contains_ci(n, &needle)).collect();
        let creators: Vec<bool> = self.creators.iter().map(|c| contains_ci(c, &needle)).collect();
        let hit = |v: &[bool], i: u32| v.get(i as usize).copied().unwrap_or(false);
        // Test the entries in memory order (their names were allocated in that order too), then
        // keep the sorted order: walking 200 000 entries in sorted order misses the cache on
        // every name and costs ten times as much.
        let matched: Vec<bool> = self
            .entries
            .iter()
            .map(|e| {
                hit(&users, e.user)
                    || hit(&services, e.service)
                    || hit(&creators, e.creator)
                    || contains_ci(&e.name, &needle)
                    || contains_ci(&e.ip_restriction, &needle)
            })
            .collect();
        self.visible = source.into_iter().filter(|i| matched[*i as usize]).collect();
        self.filter = filter.to_string();
    }

    /// Sorts by the next column (valid until → name → user → service → last access → created).
    pub fn next_sort(&mut self) {
        self.sort = match self.sort {
            TokenSort::ValidUntil => TokenSort::Name,
            TokenSort::Name => TokenSort::User,
            TokenSort::User => TokenSort::Service,
            TokenSort::Service => TokenSort::LastAccess,
            TokenSort::LastAccess => TokenSort::Created,
            TokenSort::Created => TokenSort::ValidUntil,
        };
        self.resort();
    }

    pub fn reverse(&mut self) {
        self.descending = !self.descending;
        self.resort();
    }

    pub fn set_order(&mut self, sort: TokenSort, descending: bool) {
        self.sort = sort;
        self.descending = descending;
        self.resort();
    }

    fn resort(&mut self) {
        use std::cmp::Ordering;
        let mut order: Vec<u32> = (0..u32::try_from(self.entries.len()).unwrap_or(u32::MAX)).collect();
        let e = &self.entries;
        // "No expiry" and "never" sort last, as on Moodle's Manage tokens.
        let last = |a: Option<i64>, b: Option<i64>| match (a, b) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        let user = |i: u32| self.usernames.get(e[i as usize].user as usize).map_or("", |s| &**s);
        let service = |i: u32| self.services.get(e[i as usize].service as usize).map_or("", |s| &*s.1);
        order.sort_by(|&a, &b| {
            let (x, y) = (&e[a as usize], &e[b as usize]);
            let o = match self.sort {
                TokenSort::ValidUntil => last(x.valid_until, y.valid_until),
                TokenSort::Name => x.name.to_lowercase().cmp(&y.name.to_lowercase()),
                TokenSort::User => user(a).cmp(user(b)),
                TokenSort::Service => service(a).cmp(service(b)),
                TokenSort::LastAccess => last(x.last_access, y.last_access),
                TokenSort::Created => x.created.cmp(&y.created),
            };
            o.then(x.id.cmp(&y.id))
        });
        if self.descending {
            order.reverse();
        }
        self.order = order;
        let filter = std::mem::take(&mut self.filter);
        self.visible = Vec::new();
        self.set_filter(&filter);
    }

    /// Drops revoked tokens at once, before the next reload confirms it.
    pub fn remove(&mut self, ids: &[TokenId]) {
        let gone: Vec<u32> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| ids.contains(&e.id))
            .map(|(i, _)| u32::try_from(i).unwrap_or(u32::MAX))
            .collect();
        self.order.retain(|i| !gone.contains(i));
        self.visible.retain(|i| !gone.contains(i));
    }
}

/// A finished load.
pub type Loaded = Result<Data, StoreError>;

/// Loads [`Data`] on its own thread; the console asks and later picks the result up. Each
/// request has a number; a result carries the newest number its load began after, so the
/// console knows whether a load reflecting its latest request is still to come.
pub struct Loader {
    ask: Sender<u64>,
    results: Receiver<(u64, Loaded)>,
    asked: u64,
    answered: u64,
}

impl Loader {
    pub fn start(store: Arc<Store>) -> Loader {
        let (ask, asked) = channel::<u64>();
        let (done, results) = channel();
        std::thread::Builder::new()
            .name("console-loader".into())
            .spawn(move || {
                while let Ok(mut n) = asked.recv() {
                    // Many requests while one load runs make one more load, not many.
                    while let Ok(m) = asked.try_recv() {
                        n = n.max(m);
                    }
                    if done.send((n, Data::load(&store))).is_err() {
                        return;
                    }
                }
            })
            .expect("spawn the console's loader");
        Loader { ask, results, asked: 0, answered: 0 }
    }

    pub fn request(&mut self) {
        self.asked += 1;
        let _ = self.ask.send(self.asked);
    }

    /// Whether a load that began after the latest request is still to come.
    pub fn in_flight(&self) -> bool {
        self.answered < self.asked
    }

    /// A finished load, if one is ready.
    pub fn poll(&mut self) -> Option<Loaded> {
        let (n, r) = self.results.try_recv().ok()?;
        self.answered = self.answered.max(n);
        Some(r)
    }

    /// Waits for the next finished load (tests and the benchmark).
    pub fn wait(&mut self) -> Option<Loaded> {
        let (n, r) = self.results.recv().ok()?;
        self.answered = self.answered.max(n);
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::contains_ci;

    #[test]
    fn case_insensitive_contains() {
        assert!(contains_ci("Webservice-AbC12", "abc"));
        assert!(contains_ci("abc", "abc") && contains_ci("xabc", "bc") && !contains_ci("abx", "abc"));
        assert!(contains_ci("anything", ""));
        assert!(!contains_ci("ab", "abc"));
    }
}
