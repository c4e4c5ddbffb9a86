//! The token list that Manage tokens (the console) and `token list` (the CLI) show: filters by
//! name, user, service and state, a sort, one page.

use super::StoreError;
use super::codec::decode;
use super::query::{Page, Queries, contains_ci};
use crate::domain::*;
use redb::ReadableTable;
use std::collections::{BTreeSet, HashMap};

/// Which users a token listing keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserFilter {
    Exact(String),
    /// A case-insensitive fragment of the username.
    Contains(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenSort {
    /// Moodle's initial sort of Manage tokens; tokens without expiry last.
    #[default]
    ValidUntil,
    Name,
    User,
    Service,
    LastAccess,
    Created,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    /// Not expired (including expiring soon).
    Valid,
    Expiring,
    Expired,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenQuery {
    pub name: Option<String>,
    pub user: Option<UserFilter>,
    /// Service shortname.
    pub service: Option<String>,
    pub state: Option<StateFilter>,
    pub sort: TokenSort,
    pub descending: bool,
    pub offset: usize,
    pub limit: usize,
    pub now: UnixTime,
}

impl Default for TokenQuery {
    fn default() -> Self {
        TokenQuery {
            name: None,
            user: None,
            service: None,
            state: None,
            sort: TokenSort::default(),
            descending: false,
            offset: 0,
            limit: usize::MAX,
            now: super::now(),
        }
    }
}

/// A token with the names a listing shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub token: Token,
    pub username: String,
    pub service_shortname: String,
    pub service_name: String,
}

/// The token list: filtered by name, user, service and state, sorted, one page.
///
/// A user or service filter starts from the per-user and per-service indexes, so a
/// selective filter reads only the matching tokens; without one every token is read once.
pub(super) fn list_tokens<V: Queries + ?Sized>(v: &V, q: &TokenQuery) -> Result<Page<TokenRow>, StoreError> {
    let mut usernames: HashMap<UserId, String> = HashMap::new();
    let candidates: Option<BTreeSet<TokenId>> = {
        let by_user = match &q.user {
            None => None,
            Some(UserFilter::Exact(name)) => {
                let mut ids = BTreeSet::new();
                if let Some(u) = Queries::user_by_username(v, name)? {
                    ids.extend(v.token_ids_of_user(u.id)?);
                    usernames.insert(u.id, u.username);
                }
                Some(ids)
            }
            Some(UserFilter::Contains(fragment)) => {
                let needle = fragment.to_lowercase();
                let mut ids = BTreeSet::new();
                for entry in v.users_by_username()?.iter()? {
                    let (name, id) = entry?;
                    if contains_ci(name.value(), &needle) {
                        ids.extend(v.token_ids_of_user(id.value())?);
                        usernames.insert(id.value(), name.value().to_string());
                    }
                }
                Some(ids)
            }
        };
        let by_service = match &q.service {
            None => None,
            Some(shortname) => Some(match Queries::service_by_shortname(v, shortname)? {
                Some(s) => v.token_ids_of_service(s.id)?.into_iter().collect(),
                None => BTreeSet::new(),
            }),
        };
        match (by_user, by_service) {
            (Some(a), Some(b)) => Some(a.intersection(&b).copied().collect()),
            (a, b) => a.or(b),
        }
    };

    let name_needle = q.name.as_deref().map(str::to_lowercase);
    let keep = |t: &Token| {
        name_needle.as_deref().is_none_or(|n| contains_ci(&t.name, n))
            && match q.state {
                None => true,
                Some(StateFilter::Valid) => t.state(q.now) != TokenState::Expired,
                Some(StateFilter::Expiring) => t.state(q.now) == TokenState::Expiring,
                Some(StateFilter::Expired) => t.state(q.now) == TokenState::Expired,
            }
    };
    let mut tokens = Vec::new();
    match candidates {
        Some(ids) => {
            for id in ids {
                if let Some(t) = Queries::token_by_id(v, id)?
                    && keep(&t)
                {
                    tokens.push(t);
                }
            }
        }
        None => {
            for entry in v.tokens()?.iter()? {
                let t: Token = decode(entry?.1.value(), "token")?;
                if keep(&t) {
                    tokens.push(t);
                }
            }
        }
    }

    let mut services: HashMap<ServiceId, (String, String)> = HashMap::new();
    let mut username_of = |id: UserId, this: &V| -> Result<String, StoreError> {
        if let Some(n) = usernames.get(&id) {
            return Ok(n.clone());
        }
        let n = Queries::user(this, id)?.map(|u| u.username).unwrap_or_else(|| format!("#{id}"));
        usernames.insert(id, n.clone());
        Ok(n)
    };
    let mut rows = Vec::with_capacity(tokens.len());
    for t in tokens {
        let username = username_of(t.user, v)?;
        let (service_shortname, service_name) = match services.get(&t.service) {
            Some(s) => s.clone(),
            None => {
                let s = Queries::service(v, t.service)?
                    .map(|s| (s.shortname, s.name))
                    .unwrap_or_else(|| (format!("#{}", t.service), String::new()));
                services.insert(t.service, s.clone());
                s
            }
        };
        rows.push(TokenRow { token: t, username, service_shortname, service_name });
    }

    sort_token_rows(&mut rows, q.sort, q.descending);
    let total = rows.len();
    let rows = rows.into_iter().skip(q.offset).take(q.limit).collect();
    Ok(Page { rows, total })
}

fn sort_token_rows(rows: &mut [TokenRow], sort: TokenSort, descending: bool) {
    use std::cmp::Ordering;
    // None (no expiry / never accessed) sorts after every date.
    fn opt(a: Option<i64>, b: Option<i64>) -> Ordering {
        match (a, b) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    }
    rows.sort_by(|a, b| {
        let primary = match sort {
            TokenSort::ValidUntil => opt(a.token.valid_until, b.token.valid_until),
            TokenSort::Name => a.token.name.to_lowercase().cmp(&b.token.name.to_lowercase()),
            TokenSort::User => a.username.cmp(&b.username),
            TokenSort::Service => a.service_name.to_lowercase().cmp(&b.service_name.to_lowercase()),
            TokenSort::LastAccess => opt(a.token.last_access, b.token.last_access),
            TokenSort::Created => a.token.created.cmp(&b.token.created),
        };
        let ord = primary.then(a.token.id.cmp(&b.token.id));
        if descending { ord.reverse() } else { ord }
    });
}
