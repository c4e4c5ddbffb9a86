//! Tokens held compactly in memory (names interned: 200 000 tokens take a few MiB), and the
//! Tokens screen's view of them: an order and a filter kept as index lists, so that filtering
//! and scrolling never touch the database (CONSOLE.md: "filter on an index, not by
//! rebuilding rows").

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
    services: Vec<(Box<str>, Box<str>)>,
    creators: Vec<Box<str>>,
    by_id: HashMap<TokenId, u32>,
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
        ix.by_id = entries.iter().enumerate().map(|(i, e)| (e.id, u32::try_from(i).unwrap_or(u32::MAX))).collect();
        ix.entries = entries;
        Ok(ix)
    }

    pub fn total(&self) -> usize {
        self.entries.len()
    }

    pub fn find_by_name(&self, name: &str) -> Option<TokenId> {
        self.entries.iter().find(|e| &*e.name == name).map(|e| e.id)
    }

    /// The entry at a position of [`TokenList`].
    pub fn view(&self, at: u32) -> Option<TokenView<'_>> {
        let e = self.entries.get(at as usize)?;
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

    /// A call the endpoint logged with this token: its last access moves forward.
    pub fn touch(&mut self, id: TokenId, time: UnixTime) -> bool {
        let Some(&at) = self.by_id.get(&id) else { return false };
        let e = &mut self.entries[at as usize];
        if e.last_access.is_some_and(|a| a >= time) {
            return false;
        }
        e.last_access = Some(time);
        true
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
                hit(&users, e.user)
                    || hit(&services, e.service)
                    || hit(&creators, e.creator)
                    || contains_ci(&e.name, &needle)
                    || contains_ci(&e.ip_restriction, &needle)
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

    /// Orders and filters a freshly read index as before.
    pub fn resort(&mut self, ix: &TokenIndex) {
        use std::cmp::Ordering;
        let mut order: Vec<u32> = (0..u32::try_from(ix.entries.len()).unwrap_or(u32::MAX)).collect();
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
        self.set_filter(ix, &filter);
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
