//! What the screens show, as read by the feed thread (`feed.rs`): a full read at the start, on
//! Ctrl-R and when the console has fallen behind the store's change feed; otherwise
//! [`Delta`]s with only what changed, applied in place. No store read runs on the UI thread.

use super::token_index::TokenIndex;
use crate::domain::walkthrough::{self, Facts};
use crate::domain::{
    AuditEntry, AuthorisedUser, CallLog, Protocol, Role, Service, Settings, Token, TokenId, UnixTime, UserId,
};
use crate::store::{Queries, ReadView, StoreError};
use std::collections::HashMap;

/// Log rows kept for the Logs screen, newest first.
pub const LOG_ROWS: usize = 1_000;

pub struct Data {
    /// The store's feed number this reflects.
    pub seq: u64,
    pub settings: Settings,
    pub flows: crate::domain::walkthrough::Flows,
    pub roles: Vec<RoleRow>,
    pub services: Vec<ServiceRow>,
    pub tokens: TokenIndex,
    pub calls: Vec<CallRow>,
    pub audit: Vec<AuditEntry>,
    /// What the endpoint found at its last start (its site URL check).
    pub endpoint: Option<crate::domain::site_url::EndpointStart>,
    /// When the configuration was last read.
    pub read_at: UnixTime,
    /// What the last news changed, for the screens to bring themselves up to date.
    pub touched: Touched,
}

/// What the last change applied touched.
#[derive(Debug, Default, Clone)]
pub struct Touched {
    /// Everything was read again.
    pub all: bool,
    /// The configuration (settings, roles, services, users) was read again.
    pub config: bool,
    /// Positions in the token index of tokens created, changed or revoked.
    pub tokens: Vec<u32>,
    /// Positions of tokens whose last access alone moved.
    pub accessed: Vec<u32>,
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
    /// Its link to the Moodle site: the credential's presence (never its value), the limit, the
    /// last sync and the last error.
    pub upstream: Option<crate::domain::upstream::Upstream>,
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

/// What the administrator configured, read together (small but for the users scan behind the
/// walkthrough's facts).
pub struct Config {
    pub settings: Settings,
    pub flows: crate::domain::walkthrough::Flows,
    pub roles: Vec<RoleRow>,
    pub services: Vec<ServiceRow>,
    pub endpoint: Option<crate::domain::site_url::EndpointStart>,
    pub read_at: UnixTime,
}

/// A token's change, as the feed read it.
pub enum TokenChange {
    Upsert { token: Token, username: String },
    Removed(TokenId),
}

/// What changed since the console's data was read, to apply in place.
#[derive(Default)]
pub struct Delta {
    pub seq: u64,
    pub config: Option<Box<Config>>,
    /// The walkthrough's steps, when a token changed who takes part in web services.
    pub flows: Option<Box<crate::domain::walkthrough::Flows>>,
    pub tokens: Vec<TokenChange>,
    /// Last access times the endpoint wrote.
    pub accesses: Vec<(TokenId, UnixTime)>,
    /// Calls logged since, oldest first, with their numbers.
    pub calls: Vec<(u64, CallRow)>,
    pub audit: Option<Vec<AuditEntry>>,
}

impl Config {
    /// The configuration, and the walkthrough's facts it was computed from (the feed keeps
    /// them to follow token changes without the users scan).
    pub fn load(v: &ReadView) -> Result<(Config, Facts), StoreError> {
        let now = crate::store::now();
        let settings = Queries::settings(v)?;
        let facts = v.walkthrough_facts(now)?;
        let flows = walkthrough::steps(&facts);
        let mut roles = Vec::new();
        for r in v.all_roles()? {
            let holders = if r.implicit { 0 } else { v.role_holders(r.id)?.len() };
            roles.push(RoleRow { holders, capabilities: v.role_capabilities(r.id)?, role: r });
        }
        let mut names = Names::new(v);
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
            let upstream = v.upstream(s.id)?;
            services.push(ServiceRow { service: s, functions, authorised, upstream });
        }
        let endpoint = v.endpoint_start()?;
        Ok((Config { settings, flows, roles, services, endpoint, read_at: now }, facts))
    }

    fn service_names(&self) -> Vec<(u64, &str, &str)> {
        self.services.iter().map(|s| (s.service.id, s.service.shortname.as_str(), s.service.name.as_str())).collect()
    }
}

impl Data {
    /// Everything, in one read transaction, and the walkthrough's facts beside it.
    pub fn load(v: &ReadView, seq: u64) -> Result<(Data, Facts), StoreError> {
        let (config, facts) = Config::load(v)?;
        let tokens = TokenIndex::load(v, &config.service_names(), &facts.users)?;
        let mut names = Names::new(v);
        let mut calls = Vec::new();
        for call in v.call_entries(LOG_ROWS)? {
            calls.push(CallRow { username: names.of(call.user)?, call });
        }
        let audit = v.audit_entries("", LOG_ROWS)?;
        let Config { settings, flows, roles, services, endpoint, read_at } = config;
        let touched = Touched { all: true, config: true, ..Touched::default() };
        let data = Data { seq, settings, flows, roles, services, tokens, calls, audit, endpoint, read_at, touched };
        Ok((data, facts))
    }

    pub fn service(&self, shortname: &str) -> Option<&ServiceRow> {
        self.services.iter().find(|s| s.service.shortname == shortname)
    }

    /// Endpoint URLs of each protocol, as Manage protocols shows them.
    pub fn endpoint_url(&self, p: Protocol) -> String {
        let base = self.settings.site_url.trim_end_matches('/');
        format!("{base}{}", crate::domain::routes::server(p, crate::domain::routes::Auth::Token))
    }

    /// Brings the data up to `delta.seq` in place.
    pub fn apply(&mut self, delta: Delta) {
        let mut touched = Touched::default();
        if let Some(config) = delta.config {
            self.tokens.set_services(&config.service_names());
            let Config { settings, flows, roles, services, endpoint, read_at, .. } = *config;
            (self.settings, self.flows, self.roles, self.services, self.endpoint, self.read_at) =
                (settings, flows, roles, services, endpoint, read_at);
            touched.config = true;
        }
        if let Some(flows) = delta.flows {
            self.flows = *flows;
        }
        for change in delta.tokens {
            touched.tokens.extend(match change {
                TokenChange::Upsert { token, username } => Some(self.tokens.upsert(token, &username)),
                TokenChange::Removed(id) => self.tokens.remove(id),
            });
        }
        // The feed does not count tokens: the index does.
        if !touched.tokens.is_empty() || touched.config {
            walkthrough::record_valid_tokens(&mut self.flows, self.tokens.valid(crate::store::now()));
        }
        for (id, time) in delta.accesses {
            touched.accessed.extend(self.tokens.touch(id, time));
        }
        for (_, row) in delta.calls {
            if let Some(token) = row.call.token {
                touched.accessed.extend(self.tokens.touch(token, row.call.time));
            }
            if row.call.outcome == "ok" {
                walkthrough::record_call(&mut self.flows, row.call.time, row.call.site.is_some());
            }
            self.calls.insert(0, row);
        }
        self.calls.truncate(LOG_ROWS);
        if let Some(audit) = delta.audit {
            self.audit = audit;
        }
        self.seq = delta.seq;
        self.touched = touched;
    }
}

/// Usernames by id, each read once (deleted users keep theirs, as logs need).
pub struct Names<'v, V> {
    view: &'v V,
    known: HashMap<UserId, String>,
}

impl<'v, V: Queries> Names<'v, V> {
    pub fn new(view: &'v V) -> Self {
        Names { view, known: HashMap::new() }
    }

    pub fn get(&mut self, id: UserId) -> Result<String, StoreError> {
        if let Some(n) = self.known.get(&id) {
            return Ok(n.clone());
        }
        let n = Queries::user(self.view, id)?.map_or_else(|| format!("#{id}"), |u| u.username);
        self.known.insert(id, n.clone());
        Ok(n)
    }

    pub fn of(&mut self, id: Option<UserId>) -> Result<String, StoreError> {
        id.map_or_else(|| Ok(String::new()), |id| self.get(id))
    }
}
