//! The external functions: each catalogue entry (`domain::function_catalogue`) with its
//! parameter and return descriptions and its implementation over the store. Writes go through
//! `ops`, audited as `ws:<username>`. Knows no wire protocol.

mod roles;
pub mod schema;
mod site_info;
mod users;
pub mod value;

use crate::domain::access::{INVALID_PARAMETER_EXCEPTION, MOODLE_EXCEPTION, MoodleException};
use crate::domain::function_catalogue::{self, FunctionInfo};
use crate::domain::{Service, ServiceId, Settings, Token, UnixTime, User, capabilities};
use crate::ops::{OpError, Ops};
use crate::store::{Queries, ReadView, RecordCache, Store, StoreError};
use schema::{Schema, clean_return, validate};
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::OnceLock;
use value::Value;

/// Moodle release and version this endpoint answers as (`core_webservice_get_site_info`).
pub const MOODLE_RELEASE: &str = "4.5 (wsconsole 0.1)";
pub const MOODLE_VERSION: &str = "2024100700";

pub use site_info::NAME as SITE_INFO;

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

/// One function: catalogue entry, descriptions, implementation.
pub struct Definition {
    pub info: &'static FunctionInfo,
    /// A single structure: the function's named parameters, in positional order.
    pub params: Schema,
    /// `None` for functions that return nothing.
    pub returns: Option<Schema>,
    run: Run,
}

impl Definition {
    /// The parameters' names in declared order: the positional order of XML-RPC and AMF.
    pub fn param_names(&self) -> Vec<&'static str> {
        match &self.params {
            Schema::Single { keys, .. } => keys.iter().map(|(k, _)| *k).collect(),
            _ => Vec::new(),
        }
    }
}

fn definitions() -> &'static [Definition] {
    static DEFS: OnceLock<Vec<Definition>> = OnceLock::new();
    DEFS.get_or_init(|| {
        let def = |name: &str, params, returns, run| Definition {
            info: function_catalogue::find(name).expect("every implemented function is in the catalogue"),
            params,
            returns,
            run,
        };
        vec![
            def(site_info::NAME, site_info::params(), Some(site_info::returns()), site_info::run as Run),
            def(users::BY_FIELD, users::by_field_params(), Some(users::by_field_returns()), users::get_users_by_field),
            def(users::GET, users::get_params(), Some(users::get_returns()), users::get_users),
            def(users::CREATE, users::create_params(), Some(users::create_returns()), users::create_users),
            def(users::UPDATE, users::update_params(), Some(users::update_returns()), users::update_users),
            def(users::DELETE, users::delete_params(), None, users::delete_users),
            def(roles::ASSIGN, roles::params("assignments"), None, roles::assign_roles),
            def(roles::UNASSIGN, roles::params("unassignments"), None, roles::unassign_roles),
        ]
    })
}

pub fn definition(name: &str) -> Option<&'static Definition> {
    definitions().iter().find(|d| d.info.name == name)
}

pub fn all() -> &'static [Definition] {
    definitions()
}

/// Names positional parameters (XML-RPC, AMF) by the function's declared order (MDL-53962).
/// Extra values get names no description has, so validation refuses them as Moodle's would.
pub fn name_positional(function: &str, params: Vec<Value>) -> Value {
    let keys = definition(function).map(Definition::param_names).unwrap_or_default();
    Value::Map(
        params
            .into_iter()
            .enumerate()
            .map(|(i, v)| (keys.get(i).map_or_else(|| format!("param{i}").into(), |k| (*k).into()), v))
            .collect(),
    )
}

/// Validates the parameters, runs the function and cleans its result: Moodle's
/// `validate_parameters` → call → `clean_returnvalue`. `Ok(None)` for a void function.
pub fn call(def: &Definition, ctx: &CallContext<'_>, params: &Value) -> Result<Option<Value>, MoodleException> {
    let params = validate(&def.params, params).map_err(|e| invalid_parameter(e.0))?;
    let result = (def.run)(ctx, &params)?;
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
    fn every_catalogue_function_is_implemented() {
        for f in function_catalogue::FUNCTIONS {
            let d = definition(f.name).unwrap_or_else(|| panic!("{} has no implementation", f.name));
            assert!(matches!(d.params, Schema::Single { .. }), "{}", f.name);
        }
        assert_eq!(all().len(), function_catalogue::FUNCTIONS.len());
    }
}
