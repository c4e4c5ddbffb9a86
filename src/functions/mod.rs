//! The external functions' implementations over the store, one per description of
//! `crate::model`. Writes go through `ops`, audited as `ws:<username>`. Knows no wire protocol.

mod roles;
mod site_info;
mod users;

use crate::domain::access::{INVALID_PARAMETER_EXCEPTION, MOODLE_EXCEPTION, MoodleException};
use crate::domain::{Service, ServiceId, Settings, Token, UnixTime, User, capabilities};
use crate::model::schema::{clean_return, validate};
use crate::model::value::Value;
use crate::model::{Description, roles as roles_desc, site_info as site_info_desc, users as users_desc};
use crate::ops::{OpError, Ops};
use crate::store::{Queries, ReadView, RecordCache, Store, StoreError};
use std::borrow::Cow;
use std::sync::Arc;

/// Moodle release and version this endpoint answers as (`core_webservice_get_site_info`).
pub const MOODLE_RELEASE: &str = "4.5 (wsconsole 0.1)";
pub const MOODLE_VERSION: &str = "2024100700";

pub use crate::model::site_info::NAME as SITE_INFO;

/// Who calls, through what: what an implementation may use.
pub struct CallContext<'a> {
    pub store: &'a Arc<Store>,
    /// The request's read snapshot: it shows every change committed before the request.
    pub view: &'a ReadView,
    pub user: &'a User,
    /// The token's service; `None` for username/password calls.
    pub service: Option<&'a Service>,
    pub token: Option<&'a Token>,
    pub settings: &'a Settings,
    pub now: UnixTime,
    /// The endpoint's cache of records, and the change-feed number of `view`, when it has one.
    pub records: Option<(&'a RecordCache, u64)>,
}

impl CallContext<'_> {
    /// A service's function names (catalogued ones as the catalogue's constants), from the
    /// record cache when there is one.
    pub fn service_function_names(&self, service: ServiceId) -> Result<Arc<[Cow<'static, str>]>, MoodleException> {
        match self.records {
            Some((r, at)) => r.service_function_names(self.view, at, service).map_err(internal),
            None => {
                Ok(self.view.service_function_names(service).map_err(internal)?.into_iter().map(Cow::Owned).collect())
            }
        }
    }

    /// Ops acting as this web-service user.
    pub fn ops(&self) -> Ops {
        Ops::new(self.store.clone(), format!("ws:{}", self.user.username))
    }

    pub fn has_capability(&self, cap: &str) -> Result<bool, MoodleException> {
        self.view.user_has_capability(self.user.id, cap).map_err(internal)
    }

    /// Whether the caller holds every capability of `caps`: a caller may not hand out, or act
    /// on an account with, more than it holds itself (Moodle's role-assign and user-edit checks).
    pub fn covers(&self, caps: &std::collections::BTreeSet<String>) -> Result<bool, MoodleException> {
        let mine = self.view.user_capabilities(self.user.id).map_err(internal)?;
        Ok(caps.is_subset(&mine))
    }

    /// Refuses to act on `target` when it holds capabilities the caller lacks.
    pub fn require_covers_user(&self, target: &User) -> Result<(), MoodleException> {
        let theirs = self.view.user_capabilities(target.id).map_err(internal)?;
        if self.covers(&theirs)? {
            return Ok(());
        }
        Err(moodle_error(
            "nopermissions",
            format!("Sorry, but you do not currently have permissions to do that (change user {}).", target.username),
        ))
    }

    /// Moodle's `require_capability` in the system context.
    pub fn require_capability(&self, cap: &str) -> Result<(), MoodleException> {
        if self.has_capability(cap)? {
            return Ok(());
        }
        let name = capabilities::find(cap).map_or(cap, |c| c.description);
        Err(MoodleException::new(
            "core\\exception\\required_capability_exception",
            "nopermissions",
            format!("Sorry, but you do not currently have permissions to do that ({name})."),
        )
        .with_debuginfo(cap))
    }
}

/// A storage failure inside a function: Moodle's generic database error.
pub fn internal(e: StoreError) -> MoodleException {
    MoodleException::new("dml_exception", "dmlreadexception", "Error reading from database")
        .with_debuginfo(e.to_string())
}

/// An `ops` refusal as the function's exception.
pub fn op_error(e: OpError) -> MoodleException {
    match e {
        OpError::Store(s) => internal(s),
        other => invalid_parameter(other.to_string()),
    }
}

pub fn invalid_parameter(debuginfo: impl Into<String>) -> MoodleException {
    MoodleException::new(INVALID_PARAMETER_EXCEPTION, "invalidparameter", "Invalid parameter value detected")
        .with_debuginfo(debuginfo)
}

pub fn moodle_error(code: &'static str, message: impl Into<String>) -> MoodleException {
    MoodleException::new(MOODLE_EXCEPTION, code, message)
}

type Run = fn(&CallContext<'_>, &Value) -> Result<Value, MoodleException>;

/// The implementation of a described function.
fn implementation(name: &str) -> Option<Run> {
    Some(match name {
        site_info_desc::NAME => site_info::run,
        users_desc::BY_FIELD => users::get_users_by_field,
        users_desc::GET => users::get_users,
        users_desc::CREATE => users::create_users,
        users_desc::UPDATE => users::update_users,
        users_desc::DELETE => users::delete_users,
        roles_desc::ASSIGN => roles::assign_roles,
        roles_desc::UNASSIGN => roles::unassign_roles,
        _ => return None,
    })
}

/// Validates the parameters, runs the function and cleans its result: Moodle's
/// `validate_parameters` → call → `clean_returnvalue`. `Ok(None)` for a void function.
pub fn call(
    def: &'static Description,
    ctx: &CallContext<'_>,
    params: &Value,
) -> Result<Option<Value>, MoodleException> {
    let run = implementation(def.info.name).ok_or_else(|| invalid_parameter("not implemented here"))?;
    let params = validate(&def.params, params).map_err(|e| invalid_parameter(e.0))?;
    let result = run(ctx, &params)?;
    match &def.returns {
        None => Ok(None),
        Some(desc) => clean_return(desc, result).map(Some).map_err(|e| {
            MoodleException::new(
                "core\\exception\\invalid_response_exception",
                "invalidresponse",
                "Invalid response value detected",
            )
            .with_debuginfo(e.0)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_described_function_is_implemented() {
        for d in crate::model::all() {
            assert!(implementation(d.info.name).is_some(), "{} has no implementation", d.info.name);
        }
    }
}
