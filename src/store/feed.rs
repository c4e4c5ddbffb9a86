//! The change feed (DESIGN.md §2): every write transaction, by any process, records in the
//! same transaction what it changed (which record of which table) under a sequence number that
//! only grows. A reader that knows the last number it saw reads what changed since and updates
//! only that; a reader that has fallen behind what the feed still holds is told so
//! ([`Since::Behind`]) and reads everything again. Old entries are pruned as new ones come.

use super::StoreError;
use super::codec::{decode, encode};
use super::tables::{View, WriteTables};
use crate::domain::{RoleId, ServiceId, TokenHash, TokenId, UserId};
use redb::{ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

/// The meta key of the feed's last sequence number.
pub(crate) const FEED_SEQ: &str = "feed";

/// Transactions the feed keeps: a reader further behind reads everything again.
pub const FEED_KEEP: u64 = 10_000;

/// What one write changed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Change {
    /// Anything may have changed (a bulk fill, a migration): read everything again.
    All,
    Settings,
    EndpointStart,
    User(UserId),
    /// A role's record, or its capabilities.
    Role(RoleId),
    RoleAssignment {
        user: UserId,
        role: RoleId,
    },
    Service(ServiceId),
    ServiceFunctions(ServiceId),
    Authorised {
        service: ServiceId,
        user: UserId,
    },
    /// A token was created, changed or removed (its owner named: a removed one is gone).
    Token {
        id: TokenId,
        hash: TokenHash,
        user: UserId,
    },
    /// Only a token's last access moved (the endpoint's activity).
    TokenAccess(TokenId),
    Audit,
    /// Call-log rows were appended or pruned.
    Calls,
    /// A service's link to the Moodle site (credential, limit, sync).
    Upstream(ServiceId),
}

/// What one transaction is changing, gathered as its tables are written.
#[derive(Debug, Default)]
pub struct Pending {
    changes: Vec<Change>,
    all: bool,
}

impl Pending {
    pub fn push(&mut self, c: Change) {
        if !self.all && !self.changes.contains(&c) {
            self.changes.push(c);
        }
    }

    /// Everything may change in this transaction: readers will read everything again.
    pub fn all(&mut self) {
        self.all = true;
        self.changes = vec![Change::All];
    }
}

/// What the feed holds after a sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Since {
    /// The transactions after it, oldest first, each with its number; at most the limit asked.
    Changes(Vec<(u64, Vec<Change>)>),
    /// The feed no longer holds what followed: read everything again, as of `seq`.
    Behind { seq: u64 },
}

impl WriteTables<'_> {
    /// Records this transaction's changes under the next number and prunes what is older than
    /// the feed keeps. Called once, just before the commit.
    pub(super) fn record_changes(&mut self, keep: u64) -> Result<u64, StoreError> {
        let seq = self.meta.get(FEED_SEQ)?.map(|v| v.value()).unwrap_or(0) + 1;
        self.meta.insert(FEED_SEQ, seq)?;
        let changes = std::mem::take(&mut self.pending.changes);
        self.feed.insert(seq, encode(&changes).as_slice())?;
        // One new entry each time, so at most a couple of old ones go each time.
        if let Some(horizon) = seq.checked_sub(keep) {
            let old: Vec<u64> =
                self.feed.range(..=horizon)?.take(16).map(|e| e.map(|(k, _)| k.value())).collect::<Result<_, _>>()?;
            for k in old {
                self.feed.remove(k)?;
            }
        }
        Ok(seq)
    }

    /// Notes a change of this transaction (the table writes do it themselves).
    pub fn changed(&mut self, c: Change) {
        self.pending.push(c);
    }

    /// This transaction may change anything: readers read everything again after it.
    pub fn changed_everything(&mut self) {
        self.pending.all();
    }
}

/// The feed's last number as `view` sees it (0 before the first write).
pub fn seq(view: &impl View) -> Result<u64, StoreError> {
    Ok(view.meta()?.get(FEED_SEQ)?.map(|v| v.value()).unwrap_or(0))
}

/// What changed after `seen`, as `view` sees it: at most `limit` transactions, oldest first,
/// or [`Since::Behind`] when the feed no longer holds the transaction right after `seen`.
pub fn since(view: &impl View, seen: u64, limit: usize) -> Result<Since, StoreError> {
    let now = seq(view)?;
    if seen >= now {
        return Ok(Since::Changes(Vec::new()));
    }
    let feed = view.feed()?;
    let first = feed.first()?.map(|(k, _)| k.value());
    if feed.is_empty()? || first.is_none_or(|f| f > seen + 1) {
        return Ok(Since::Behind { seq: now });
    }
    let mut out = Vec::new();
    for entry in feed.range(seen + 1..)?.take(limit) {
        let (k, v) = entry?;
        let seq = k.value();
        // A gap inside the feed cannot happen in one store; treat it as falling behind.
        let expected = out.last().map_or(seen + 1, |(s, _): &(u64, Vec<Change>)| s + 1);
        if seq != expected {
            return Ok(Since::Behind { seq: now });
        }
        out.push((seq, decode(v.value(), "change feed")?));
    }
    Ok(Since::Changes(out))
}
