//! `core_role_assign_roles` and `core_role_unassign_roles`' parameters.

use crate::model::schema::{ParamType as P, Schema, multiple, single, value};

pub const ASSIGN: &str = "core_role_assign_roles";
pub const UNASSIGN: &str = "core_role_unassign_roles";

pub fn params(list: &'static str) -> Schema {
    single(
        "",
        vec![(
            list,
            multiple(
                single(
                    "",
                    vec![
                        ("roleid", value(P::Int, "Role to assign to the user")),
                        ("userid", value(P::Int, "The user that is going to be assigned")),
                        ("contextid", value(P::Int, "The context to assign the user role in").optional()),
                        ("contextlevel", value(P::Alphanumext, "The context level to assign the user role in (block, course, coursecat, system, user, module)").optional()),
                        ("instanceid", value(P::Int, "The Instance id of item where the role needs to be assigned").optional()),
                    ],
                ),
                "",
            ),
        )],
    )
}
