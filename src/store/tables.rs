//! The redb schema (DESIGN.md §3), declared once: the table definitions, the [`View`] trait that
//! lets one set of queries run in a read or a write transaction, and both views.
//!
//! Keys are fixed-width integers, tuples of them, hashes or strings, so that ranges sort
//! naturally; values are records in the store's codec.

use super::StoreError;
use redb::{ReadOnlyTable, ReadTransaction, ReadableTable, Table, TableDefinition, WriteTransaction};
use std::sync::OnceLock;

pub type Bytes = &'static [u8];

macro_rules! tables {
    ($( $(#[$doc:meta])* $field:ident, $Assoc:ident, $CONST:ident = $name:literal : $K:ty => $V:ty; )*) => {
        $( $(#[$doc])* pub const $CONST: TableDefinition<'static, $K, $V> = TableDefinition::new($name); )*

        /// Every table, readable, in either kind of transaction.
        pub trait View {
            $(
                type $Assoc: ReadableTable<$K, $V>;
                fn $field(&self) -> Result<&Self::$Assoc, StoreError>;
            )*
        }

        /// A read transaction whose tables open on first use. Shareable across threads: the
        /// endpoint serves many concurrent requests from one.
        pub struct ReadView {
            txn: ReadTransaction,
            $( $field: OnceLock<ReadOnlyTable<$K, $V>>, )*
        }

        impl ReadView {
            pub(crate) fn new(txn: ReadTransaction) -> Self {
                ReadView { txn, $( $field: OnceLock::new(), )* }
            }
        }

        impl View for ReadView {
            $(
                type $Assoc = ReadOnlyTable<$K, $V>;
                fn $field(&self) -> Result<&Self::$Assoc, StoreError> {
                    if let Some(t) = self.$field.get() {
                        return Ok(t);
                    }
                    let t = self.txn.open_table($CONST)?;
                    Ok(self.$field.get_or_init(|| t))
                }
            )*
        }

        /// Every table of one write transaction, open for the transaction's length.
        pub struct WriteTables<'t> {
            $( pub(in crate::store) $field: Table<'t, $K, $V>, )*
            /// What this transaction changes, for the change feed.
            pub(in crate::store) pending: super::feed::Pending,
        }

        impl<'t> WriteTables<'t> {
            pub(crate) fn open(txn: &'t WriteTransaction) -> Result<Self, StoreError> {
                Ok(WriteTables { $( $field: txn.open_table($CONST)?, )* pending: Default::default() })
            }
        }

        impl<'t> View for WriteTables<'t> {
            $(
                type $Assoc = Table<'t, $K, $V>;
                fn $field(&self) -> Result<&Self::$Assoc, StoreError> {
                    Ok(&self.$field)
                }
            )*
        }
    };
}

tables! {
    /// name → number: schema version, creation time, id sequences.
    meta, Meta, META = "meta": &'static str => u64;
    /// "settings" → Settings
    config, Config, SETTINGS = "settings": &'static str => Bytes;
    users, Users, USERS = "users": u64 => Bytes;
    /// Live users only: a deleted account releases its username.
    users_by_username, UsersByUsername, USERS_BY_USERNAME = "users_by_username": &'static str => u64;
    roles, Roles, ROLES = "roles": u64 => Bytes;
    roles_by_shortname, RolesByShortname, ROLES_BY_SHORTNAME = "roles_by_shortname": &'static str => u64;
    /// (role, capability) → ()
    role_caps, RoleCaps, ROLE_CAPS = "role_caps": (u64, &'static str) => ();
    /// (user, role) → (), system context
    role_assignments, RoleAssignments, ROLE_ASSIGNMENTS = "role_assignments": (u64, u64) => ();
    services, Services, SERVICES = "services": u64 => Bytes;
    services_by_shortname, ServicesByShortname, SERVICES_BY_SHORTNAME = "services_by_shortname": &'static str => u64;
    /// (service, function name) → ()
    service_functions, ServiceFunctions, SERVICE_FUNCTIONS = "service_functions": (u64, &'static str) => ();
    /// (service, user) → AuthorisedUser
    service_users, ServiceUsers, SERVICE_USERS = "service_users": (u64, u64) => Bytes;
    /// SHA-256(token) → Token
    tokens, Tokens, TOKENS = "tokens": &'static [u8; 32] => Bytes;
    /// token id → SHA-256(token)
    tokens_by_id, TokensById, TOKENS_BY_ID = "tokens_by_id": u64 => &'static [u8; 32];
    /// (user, token id) → ()
    tokens_by_user, TokensByUser, TOKENS_BY_USER = "tokens_by_user": (u64, u64) => ();
    /// (service, token id) → ()
    tokens_by_service, TokensByService, TOKENS_BY_SERVICE = "tokens_by_service": (u64, u64) => ();
    /// (time, seq) → CallLog
    call_log, CallLogT, CALL_LOG = "call_log": (u64, u64) => Bytes;
    /// (time, seq) → SiteCall, for the call-log rows of forwarded calls
    call_site, CallSiteT, CALL_SITE = "call_site": (u64, u64) => Bytes;
    /// (time, seq) → AuditEntry
    audit_log, AuditLog, AUDIT_LOG = "audit_log": (u64, u64) => Bytes;
    /// service id → Upstream: the service's sealed site credential, limit and last sync
    upstreams, Upstreams, UPSTREAM = "upstream": u64 => Bytes;
    /// The change feed: sequence number → what that write transaction changed (`feed::Change`s).
    feed, Feed, FEED = "feed": u64 => Bytes;
}
