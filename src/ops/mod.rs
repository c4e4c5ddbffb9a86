//! Admin operations (DESIGN.md §1): each is one validated write transaction that also appends
//! an audit entry naming the actor. The front ends (console, CLI, endpoint) call these and
//! never write admin state themselves.

mod roles;
pub mod secrets;
mod services;
mod settings;
mod tokens;
mod upstream;
mod users;

pub use services::{NewService, ServiceEdit};
pub use tokens::{CreatedToken, NewToken};
pub use users::{NewUser, UserChange, UserEdit};

use crate::domain::validate::FieldError;
use crate::domain::{AuditEntry, UnixTime};
use crate::store::{Store, StoreError, WriteTables};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// A field's value breaks a rule; the form shows it beside the field.
    #[error("{0}")]
    Invalid(#[from] FieldError),
    #[error("{0}")]
    NotFound(String),
    /// The value is taken or the record is in a state that forbids the change.
    #[error("{0}")]
    Conflict(String),
    /// Refused as Moodle refuses it, with Moodle's errorcode.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type OpResult<T> = Result<T, OpError>;

/// One audit entry to append: operation, target, summary.
type Audit = (&'static str, String, String);

/// The operations, bound to a store and to who performs them.
#[derive(Clone)]
pub struct Ops {
    store: Arc<Store>,
    actor: String,
}

impl Ops {
    /// `actor` is recorded in every audit entry: the OS user for the console and the CLI,
    /// `ws:<username>` for the endpoint.
    pub fn new(store: Arc<Store>, actor: impl Into<String>) -> Self {
        Ops { store, actor: actor.into() }
    }

    /// Ops acting as the OS user running this process.
    pub fn as_os_user(store: Arc<Store>) -> Self {
        Ops::new(store, os_user())
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// One transaction: run `f`, append the audit entry it describes, commit.
    fn apply<T>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&mut WriteTables<'_>, UnixTime) -> OpResult<(T, String, String)>,
    ) -> OpResult<T> {
        self.apply_all(|t, now, audit| {
            let (value, target, summary) = f(t, now)?;
            audit.push((operation, target, summary));
            Ok(value)
        })
    }

    /// One transaction for several changes: `f` records an audit entry per change; all are
    /// committed together, or nothing is if `f` fails.
    fn apply_all<T>(
        &self,
        f: impl FnOnce(&mut WriteTables<'_>, UnixTime, &mut Vec<Audit>) -> OpResult<T>,
    ) -> OpResult<T> {
        let now = crate::store::now();
        self.store.write(|t| {
            let mut audit = Vec::new();
            let value = f(t, now, &mut audit)?;
            for (operation, target, summary) in audit {
                t.append_audit(&AuditEntry {
                    time: now,
                    actor: self.actor.clone(),
                    operation: operation.into(),
                    target,
                    summary,
                })?;
            }
            Ok(value)
        })
    }
}

/// The login name of the OS user running this process (for the audit log).
pub fn os_user() -> String {
    whoami::username().unwrap_or_else(|_| format!("uid:{}", std::process::id()))
}

fn not_found(what: &str, name: &str) -> OpError {
    OpError::NotFound(format!("no {what} \"{name}\""))
}
