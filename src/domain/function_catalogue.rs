//! The external functions the endpoint serves, described as Moodle's `db/services.php` does:
//! name, description, read or write, the capabilities it checks, and whether Moodle attaches it
//! to the built-in "Moodle mobile web service". Implementations live in `crate::functions`.

/// Moodle's `type` of an external function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionKind {
    Read,
    Write,
}

impl FunctionKind {
    pub fn name(self) -> &'static str {
        match self {
            FunctionKind::Read => "read",
            FunctionKind::Write => "write",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionInfo {
    pub name: &'static str,
    pub description: &'static str,
    pub kind: FunctionKind,
    /// Capabilities the function checks (Moodle's informational `capabilities` field).
    pub capabilities: &'static [&'static str],
    /// Part of the built-in "Moodle mobile web service".
    pub mobile: bool,
}

use super::capabilities as cap;

pub const FUNCTIONS: &[FunctionInfo] = &[
    FunctionInfo {
        name: "core_webservice_get_site_info",
        description: "Return some site info / user info / list web service functions",
        kind: FunctionKind::Read,
        capabilities: &[],
        mobile: true,
    },
    FunctionInfo {
        name: "core_user_get_users_by_field",
        description: "Retrieve users' information for a specified unique field - If you want to do a user search, use core_user_get_users() or core_user_search_identity().",
        kind: FunctionKind::Read,
        capabilities: &[cap::USER_VIEW_DETAILS, cap::USER_VIEW_ALL_DETAILS],
        mobile: true,
    },
    FunctionInfo {
        name: "core_user_get_users",
        description: "search for users matching the parameters",
        kind: FunctionKind::Read,
        capabilities: &[cap::USER_VIEW_DETAILS, cap::USER_VIEW_ALL_DETAILS],
        mobile: false,
    },
    FunctionInfo {
        name: "core_user_create_users",
        description: "Create users.",
        kind: FunctionKind::Write,
        capabilities: &[cap::USER_CREATE],
        mobile: false,
    },
    FunctionInfo {
        name: "core_user_update_users",
        description: "Update users.",
        kind: FunctionKind::Write,
        capabilities: &[cap::USER_UPDATE],
        mobile: false,
    },
    FunctionInfo {
        name: "core_user_delete_users",
        description: "Delete users.",
        kind: FunctionKind::Write,
        capabilities: &[cap::USER_DELETE],
        mobile: false,
    },
    FunctionInfo {
        name: "core_role_assign_roles",
        description: "Manual role assignments.",
        kind: FunctionKind::Write,
        capabilities: &[cap::ROLE_ASSIGN],
        mobile: false,
    },
    FunctionInfo {
        name: "core_role_unassign_roles",
        description: "Manual role unassignments.",
        kind: FunctionKind::Write,
        capabilities: &[cap::ROLE_ASSIGN],
        mobile: false,
    },
];

pub fn find(name: &str) -> Option<&'static FunctionInfo> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// The functions Moodle attaches to the built-in mobile service.
pub fn mobile_functions() -> impl Iterator<Item = &'static FunctionInfo> {
    FUNCTIONS.iter().filter(|f| f.mobile)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        for f in FUNCTIONS {
            assert_eq!(find(f.name).map(|g| g.name), Some(f.name));
        }
        assert!(find("core_nonexistent_function").is_none());
        let mobile: Vec<_> = mobile_functions().map(|f| f.name).collect();
        assert!(mobile.contains(&"core_webservice_get_site_info"));
        assert!(mobile.contains(&"core_user_get_users_by_field"));
    }
}
