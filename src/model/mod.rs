//! The call model, pure: the values that flow through a call, the parameter and return
//! schemas, and each implemented function's description (name, parameters, answer). The wire
//! codecs and the function implementations both build on it; it does no I/O.

mod descriptions;
pub mod schema;
pub mod value;

use crate::domain::function_catalogue::{self, FunctionInfo};
pub use descriptions::{roles, site_info, users};
use schema::Schema;
use std::sync::OnceLock;
use value::Value;

/// One function as its callers see it: the catalogue entry, the parameters, the answer.
pub struct Description {
    pub info: &'static FunctionInfo,
    /// A single structure: the function's named parameters, in positional order.
    pub params: Schema,
    /// `None` for functions that return nothing.
    pub returns: Option<Schema>,
}

impl Description {
    /// The parameters' names in declared order: the positional order of XML-RPC and AMF.
    pub fn param_names(&self) -> Vec<&'static str> {
        match &self.params {
            Schema::Single { keys, .. } => keys.iter().map(|(k, _)| *k).collect(),
            _ => Vec::new(),
        }
    }

    pub fn name(&self) -> &'static str {
        self.info.name
    }
}

/// Every implemented function's description, in the catalogue's order.
pub fn all() -> &'static [Description] {
    static ALL: OnceLock<Vec<Description>> = OnceLock::new();
    ALL.get_or_init(|| {
        let describe = |name: &str, params, returns| Description {
            info: function_catalogue::find(name).expect("every described function is in the catalogue"),
            params,
            returns,
        };
        vec![
            describe(site_info::NAME, site_info::params(), Some(site_info::returns())),
            describe(users::BY_FIELD, users::by_field_params(), Some(users::by_field_returns())),
            describe(users::GET, users::get_params(), Some(users::get_returns())),
            describe(users::CREATE, users::create_params(), Some(users::create_returns())),
            describe(users::UPDATE, users::update_params(), Some(users::update_returns())),
            describe(users::DELETE, users::delete_params(), None),
            describe(roles::ASSIGN, roles::params("assignments"), None),
            describe(roles::UNASSIGN, roles::params("unassignments"), None),
        ]
    })
}

pub fn description(name: &str) -> Option<&'static Description> {
    all().iter().find(|d| d.info.name == name)
}

/// Names positional parameters (XML-RPC, AMF) by the function's declared order (MDL-53962).
/// Extra values get names no description has, so validation refuses them as Moodle's would.
pub fn name_positional(function: &str, params: Vec<Value>) -> Value {
    let keys = description(function).map(Description::param_names).unwrap_or_default();
    Value::Map(
        params
            .into_iter()
            .enumerate()
            .map(|(i, v)| (keys.get(i).map_or_else(|| format!("param{i}").into(), |k| (*k).into()), v))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogue_function_is_described() {
        for f in function_catalogue::FUNCTIONS {
            let d = description(f.name).unwrap_or_else(|| panic!("{} has no description", f.name));
            assert!(matches!(d.params, Schema::Single { .. }), "{}", f.name);
        }
        assert_eq!(all().len(), function_catalogue::FUNCTIONS.len());
    }
}
