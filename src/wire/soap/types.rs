//! Moodle's virtual struct classes, named in one order by the WSDL and the answers.

use crate::model::Description;
use crate::model::schema::{ParamType, Schema};

/// The struct classes Moodle generates for the caller's functions: every single structure
/// reachable through single structures from a parameter or a return, numbered in the order
/// PHP creates them (fields before their struct, parameters before returns, functions by
/// name). The call's answer names its types from the same list as the WSDL.
pub struct Types<'a> {
    pub(super) structs: Vec<(&'a Schema, String)>,
}

/// A function's operation in the WSDL: its parts' types and its answer's.
pub(super) struct Signature<'a> {
    pub(super) def: &'a Description,
    pub(super) params: Vec<(&'a str, Doc)>,
    pub(super) returns: Option<Doc>,
}

/// A schema's type in Moodle's phpdoc terms, as the WSDL writes it.
pub(super) enum Doc {
    Int,
    Double,
    Str,
    Array,
    Struct(String),
}

impl Doc {
    pub(super) fn wsdl(&self) -> String {
        match self {
            Doc::Int => "xsd:int".into(),
            Doc::Double => "xsd:double".into(),
            Doc::Str => "xsd:string".into(),
            Doc::Array => "soap-enc:Array".into(),
            Doc::Struct(class) => format!("tns:{class}"),
        }
    }
}

impl<'a> Types<'a> {
    pub fn of(defs: &[&'a Description]) -> Types<'a> {
        let mut types = Types { structs: Vec::new() };
        for def in sorted(defs) {
            types.walk_function(def);
        }
        types
    }

    pub(super) fn walk_function(&mut self, def: &'a Description) -> Signature<'a> {
        let params = match &def.params {
            Schema::Single { keys, .. } => keys.iter().map(|(k, s)| (*k, self.doc(s))).collect(),
            _ => Vec::new(),
        };
        let returns = def.returns.as_ref().map(|r| self.doc(r));
        Signature { def, params, returns }
    }

    /// `get_phpdoc_type`: a single structure becomes a new class, after its fields' classes.
    pub(super) fn doc(&mut self, schema: &'a Schema) -> Doc {
        if let Schema::Single { keys, .. } = schema {
            for (_, field) in keys {
                self.doc(field);
            }
            let class = format!("webservices_struct_class_{:06}", self.structs.len());
            self.structs.push((schema, class));
        }
        self.field(schema)
    }

    pub(super) fn class(&self, schema: &Schema) -> Option<&str> {
        self.structs.iter().find(|(s, _)| std::ptr::eq(*s, schema)).map(|(_, c)| c.as_str())
    }

    /// A schema's WSDL type, once its classes exist.
    pub(super) fn field(&self, schema: &Schema) -> Doc {
        match schema {
            Schema::Value { ty: ParamType::Int | ParamType::Bool, .. } => Doc::Int,
            Schema::Value { ty: ParamType::Float, .. } => Doc::Double,
            Schema::Value { .. } => Doc::Str,
            Schema::Multiple { .. } => Doc::Array,
            Schema::Single { .. } => Doc::Struct(self.class(schema).unwrap_or_default().to_string()),
        }
    }
}

/// Moodle lists a service's functions by name.
pub(super) fn sorted<'a>(defs: &[&'a Description]) -> Vec<&'a Description> {
    let mut v = defs.to_vec();
    v.sort_by_key(|d| d.info.name);
    v.dedup_by_key(|d| d.info.name);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model;

    fn def(name: &str) -> &'static Description {
        model::description(name).unwrap()
    }

    #[test]
    fn struct_classes_are_numbered_as_moodle_does() {
        let defs = [def(model::site_info::NAME), def("core_user_get_users"), def("core_user_create_users")];
        let types = Types::of(&defs);
        let names: Vec<&str> = types.structs.iter().map(|(_, c)| c.as_str()).collect();
        assert_eq!(names, ["webservices_struct_class_000000", "webservices_struct_class_000001"]);
        // Functions by name: core_user_get_users' answer before the site info.
        assert_eq!(types.class(def("core_user_get_users").returns.as_ref().unwrap()), Some(names[0]));
        assert_eq!(types.class(def(model::site_info::NAME).returns.as_ref().unwrap()), Some(names[1]));
        // Alone, the site info is the first class.
        let alone = Types::of(&[def(model::site_info::NAME)]);
        assert_eq!(alone.class(def(model::site_info::NAME).returns.as_ref().unwrap()), Some(names[0]));
    }
}
