//! Tokens held compactly in memory (names interned: 200 000 tokens take a few MiB), and the
//! Tokens screen's view of them: an order and a filter kept as index lists, so that filtering
//! and scrolling never touch the database (CONSOLE.md: "filter on an index, not by
//! rebuilding rows"). Changes from the store's feed are applied in place: a token created,
//! changed or revoked moves one entry, not the whole index.

use crate::domain::{Token, TokenId, UnixTime, UserId};
use crate::store::{Queries, StoreError, TokenSort};
use std::collections::HashMap;

/// One token, compactly.
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
    /// Revoked since the index was read: its place stays, so that positions held elsewhere do
    /// not move, but nothing shows it.
    gone: bool,
}

impl TokenEntry {
    /// A token, its user, service and creator given by their places in the index's pools.
    fn new(t: Token, user: u32, service: u32, creator: u32) -> TokenEntry {
        TokenEntry {
            id: t.id,
            user,
            service,
            creator,
            valid_until: t.valid_until,
            last_access: t.last_access,
            created: t.created,
            name: t.name.into_boxed_str(),
            ip_restriction: t.ip_restriction.into_boxed_str(),
            gone: false,
        }
    }
}

/// A token as a row shows it.
pub struct TokenView<'a> {
    pub entry: &'a TokenEntry,
    pub username: &'a str,
    pub service_shortname: &'a str,
    pub service_name: &'a str,
    pub creator: &'a str,
}

/// Every token, as read.
#[derive(Default)]
pub struct TokenIndex {
    entries: Vec<TokenEntry>,
    usernames: Vec<Box<str>>,
    /// Short name and name of each service, by position; `service_ids` gives their ids.
    services: Vec<(Box<str>, Box<str>)>,
    service_ids: Vec<u64>,
    creators: Vec<Box<str>>,
    by_id: HashMap<TokenId, u32>,
    live: usize,
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
    /// Reads every token; `services` are (id, short name, name) and `names` the live users.
    pub fn load(
        v: &impl Queries,
        services: &[(u64, &str, &str)],
        names: &HashMap<UserId, String>,
    ) -> Result<TokenIndex, StoreError> {
        let mut ix = TokenIndex::default();
        let service_pos: HashMap<u64, u32> =
            services.iter().enumerate().map(|(i, s)| (s.0, u32::try_from(i).unwrap_or(u32::MAX))).collect();
        ix.services = services.iter().map(|s| (s.1.into(), s.2.into())).collect();
        ix.service_ids = services.iter().map(|s| s.0).collect();
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
            let service = service_pos.get(&t.service).copied().unwrap_or(u32::MAX);
            entries.push(TokenEntry::new(t, user, service, creator));
        })?;
        ix.usernames = Vec::with_capacity(pending_users.len());
        for id in pending_users {
            let name = names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"));
            ix.usernames.push(name.into_boxed_str());
        }
        ix.by_id = entries.iter().enumerate().map(|(i, e)| (e.id, u32::try_from(i).unwrap_or(u32::MAX))).collect();
        ix.live = entries.len();
        ix.entries = entries;
        Ok(ix)
    }

    /// Tokens held (revoked ones left out).
    pub fn total(&self) -> usize {
        self.live
    }

    /// Tokens not expired at `now`.
    pub fn valid(&self, now: UnixTime) -> u64 {
        self.entries.iter().filter(|e| !e.gone && e.valid_until.is_none_or(|v| v > now)).count() as u64
    }

    /// The services changed (added, renamed, removed): entries follow them by id.
    pub fn set_services(&mut self, services: &[(u64, &str, &str)]) {
        let old = std::mem::take(&mut self.service_ids);
        self.services = services.iter().map(|s| (s.1.into(), s.2.into())).collect();
        self.service_ids = services.iter().map(|s| s.0).collect();
        let position = |id: u64| self.service_ids.iter().position(|s| *s == id).map_or(u32::MAX, |p| p as u32);
        let moved: Vec<u32> = old.iter().map(|id| position(*id)).collect();
        for e in &mut self.entries {
            e.service = moved.get(e.service as usize).copied().unwrap_or(u32::MAX);
        }
    }

    /// A token created or changed (its owner's username given): returns its position.
    pub fn upsert(&mut self, t: Token, username: &str) -> u32 {
        let user = match self.usernames.iter().position(|u| &**u == username) {
            Some(i) => i as u32,
            None => {
                self.usernames.push(username.into());
                (self.usernames.len() - 1) as u32
            }
        };
        let creator = match self.creators.iter().position(|c| **c == *t.creator) {
            Some(i) => i as u32,
            None => {
                self.creators.push(t.creator.as_str().into());
                (self.creators.len() - 1) as u32
            }
        };
        let service = self.service_ids.iter().position(|s| *s == t.service).map_or(u32::MAX, |p| p as u32);
        let entry = TokenEntry::new(t, user, service, creator);
        match self.by_id.get(&entry.id) {
            Some(&at) => {
                self.live += usize::from(self.entries[at as usize].gone);
                self.entries[at as usize] = entry;
                at
            }
            None => {
                let at = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
                self.by_id.insert(entry.id, at);
                self.entries.push(entry);
                self.live += 1;
                at
            }
        }
    }

    /// A token revoked: returns the position it had.
    pub fn remove(&mut self, id: TokenId) -> Option<u32> {
        let at = *self.by_id.get(&id)?;
        let e = &mut self.entries[at as usize];
        if !e.gone {
            e.gone = true;
            self.live -= 1;
        }
        Some(at)
    }

    pub fn find_by_name(&self, name: &str) -> Option<TokenId> {
        self.entries.iter().find(|e| !e.gone && &*e.name == name).map(|e| e.id)
    }

    /// The entry at a position of [`TokenList`].
    pub fn view(&self, at: u32) -> Option<TokenView<'_>> {
        let e = self.entries.get(at as usize).filter(|e| !e.gone)?;
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

    /// Every token held, in no particular order.
    pub fn views(&self) -> impl Iterator<Item = TokenView<'_>> {
        (0..u32::try_from(self.entries.len()).unwrap_or(u32::MAX)).filter_map(|at| self.view(at))
    }

    /// A call the endpoint logged with this token: its last access moves forward. Returns its
    /// position when it moved.
    pub fn touch(&mut self, id: TokenId, time: UnixTime) -> Option<u32> {
        let &at = self.by_id.get(&id)?;
        let e = &mut self.entries[at as usize];
        if e.last_access.is_some_and(|a| a >= time) {
            return None;
        }
        e.last_access = Some(time);
        Some(at)
    }
}

/// The Tokens screen's order and filter over a [`TokenIndex`].
#[derive(Default)]
pub struct TokenList {
    /// Every entry, in the current sort order.
    order: Vec<u32>,
    /// The entries the filter keeps, in order.
    visible: Vec<u32>,
    filter: String,
    pub sort: TokenSort,
    pub descending: bool,
}

impl TokenList {
    pub fn len(&self) -> usize {
        self.visible.len()
    }

    pub fn is_empty(&self) -> bool {
        self.visible.is_empty()
    }

    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// The index position of the `i`-th row shown.
    pub fn at(&self, i: usize) -> Option<u32> {
        self.visible.get(i).copied()
    }

    /// The row showing token `id`, if it is shown.
    pub fn row_of(&self, ix: &TokenIndex, id: TokenId) -> Option<usize> {
        let at = *ix.by_id.get(&id)?;
        self.visible.iter().position(|v| *v == at)
    }

    /// Keeps the tokens whose name, user, service, IP restriction or creator contains `filter`.
    /// Names shared by many tokens (users, services, creators) are tested once each; typing one
    /// more character only re-checks the tokens that matched before.
    pub fn set_filter(&mut self, ix: &TokenIndex, filter: &str) {
        let needle = filter.to_ascii_lowercase();
        let narrower = !self.filter.is_empty() && filter.starts_with(self.filter.as_str());
        let source = if narrower { std::mem::take(&mut self.visible) } else { self.order.clone() };
        let users: Vec<bool> = ix.usernames.iter().map(|u| contains_ci(u, &needle)).collect();
        let services: Vec<bool> =
            ix.services.iter().map(|(s, n)| contains_ci(s, &needle) || contains_ci(n, &needle)).collect();
        let creators: Vec<bool> = ix.creators.iter().map(|c| contains_ci(c, &needle)).collect();
        let hit = |v: &[bool], i: u32| v.get(i as usize).copied().unwrap_or(false);
        // Test the entries in memory order (their names were allocated in that order too), then
        // keep the sorted order: walking 200 000 entries in sorted order misses the cache on
        // every name and costs ten times as much.
        let matched: Vec<bool> = ix
            .entries
            .iter()
            .map(|e| {
                !e.gone
                    && (hit(&users, e.user)
                        || hit(&services, e.service)
                        || hit(&creators, e.creator)
                        || contains_ci(&e.name, &needle)
                        || contains_ci(&e.ip_restriction, &needle))
            })
            .collect();
        self.visible = source.into_iter().filter(|i| matched.get(*i as usize).copied().unwrap_or(false)).collect();
        self.filter = filter.to_string();
    }

    /// Sorts by the next column (valid until → name → user → service → last access → created).
    pub fn next_sort(&mut self, ix: &TokenIndex) {
        self.sort = match self.sort {
            TokenSort::ValidUntil => TokenSort::Name,
            TokenSort::Name => TokenSort::User,
            TokenSort::User => TokenSort::Service,
            TokenSort::Service => TokenSort::LastAccess,
            TokenSort::LastAccess => TokenSort::Created,
            TokenSort::Created => TokenSort::ValidUntil,
        };
        self.resort(ix);
    }

    pub fn reverse(&mut self, ix: &TokenIndex) {
        self.descending = !self.descending;
        self.resort(ix);
    }

    /// The order of two entries in this list's sort.
    fn compare(&self, ix: &TokenIndex, a: u32, b: u32) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        let e = &ix.entries;
        // "No expiry" and "never" sort last, as on Moodle's Manage tokens.
        let last = |a: Option<i64>, b: Option<i64>| match (a, b) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        let user = |i: u32| ix.usernames.get(e[i as usize].user as usize).map_or("", |s| &**s);
        let service = |i: u32| ix.services.get(e[i as usize].service as usize).map_or("", |s| &*s.1);
        let (x, y) = (&e[a as usize], &e[b as usize]);
        let o = match self.sort {
            TokenSort::ValidUntil => last(x.valid_until, y.valid_until),
            TokenSort::Name => x.name.to_lowercase().cmp(&y.name.to_lowercase()),
            TokenSort::User => user(a).cmp(user(b)),
            TokenSort::Service => service(a).cmp(service(b)),
            TokenSort::LastAccess => last(x.last_access, y.last_access),
            TokenSort::Created => x.created.cmp(&y.created),
        }
        .then(x.id.cmp(&y.id));
        if self.descending { o.reverse() } else { o }
    }

    /// Orders and filters a freshly read index as before.
    pub fn resort(&mut self, ix: &TokenIndex) {
        let mut order: Vec<u32> = (0..u32::try_from(ix.entries.len()).unwrap_or(u32::MAX))
            .filter(|&i| !ix.entries[i as usize].gone)
            .collect();
        order.sort_by(|&a, &b| self.compare(ix, a, b));
        self.order = order;
        let filter = std::mem::take(&mut self.filter);
        self.visible = Vec::new();
        self.set_filter(ix, &filter);
    }

    /// Entries at `changed` positions were created, changed or revoked: each leaves its place
    /// and, if it is still there, takes its new one in the order and (when the filter keeps
    /// it) among the rows shown. Costs a few binary searches, not a sort.
    pub fn update(&mut self, ix: &TokenIndex, changed: &[u32]) {
        if changed.is_empty() {
            return;
        }
        let mut moved = changed.to_vec();
        moved.sort_unstable();
        moved.dedup();
        let out = |i: &u32| moved.binary_search(i).is_err();
        self.order.retain(out);
        self.visible.retain(out);
        let needle = self.filter.to_ascii_lowercase();
        for &at in &moved {
            let Some(v) = ix.view(at) else { continue };
            let place = self.order.partition_point(|&o| self.compare(ix, o, at).is_lt());
            self.order.insert(place, at);
            let e = v.entry;
            let kept = [v.username, v.service_shortname, v.service_name, v.creator, &e.name, &e.ip_restriction]
                .iter()
                .any(|s| contains_ci(s, &needle));
            if kept {
                let place = self.visible.partition_point(|&o| self.compare(ix, o, at).is_lt());
                self.visible.insert(place, at);
            }
        }
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
