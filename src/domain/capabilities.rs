//! The capability catalogue: every capability a role may hold, with Moodle's description.
//! Roles hold capabilities in the system context only (Moodle's "web services role").

/// One capability of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capability {
    pub name: &'static str,
    pub description: &'static str,
}

pub const REST_USE: &str = "webservice/rest:use";
pub const SOAP_USE: &str = "webservice/soap:use";
pub const XMLRPC_USE: &str = "webservice/xmlrpc:use";
pub const AMF_USE: &str = "webservice/amf:use";
pub const CREATE_TOKEN: &str = "moodle/webservice:createtoken";
pub const CREATE_MOBILE_TOKEN: &str = "moodle/webservice:createmobiletoken";
pub const MANAGE_ALL_TOKENS: &str = "moodle/webservice:managealltokens";
pub const MAINTENANCE_ACCESS: &str = "moodle/site:maintenanceaccess";
pub const USER_VIEW_DETAILS: &str = "moodle/user:viewdetails";
pub const USER_VIEW_ALL_DETAILS: &str = "moodle/user:viewalldetails";
pub const USER_CREATE: &str = "moodle/user:create";
pub const USER_UPDATE: &str = "moodle/user:update";
pub const USER_DELETE: &str = "moodle/user:delete";
pub const ROLE_ASSIGN: &str = "moodle/role:assign";
pub const VIEW_FULL_NAMES: &str = "moodle/site:viewfullnames";

pub const CATALOGUE: &[Capability] = &[
    Capability { name: REST_USE, description: "Use REST protocol" },
    Capability { name: SOAP_USE, description: "Use SOAP protocol" },
    Capability { name: XMLRPC_USE, description: "Use XML-RPC protocol" },
    Capability { name: AMF_USE, description: "Use AMF protocol" },
    Capability { name: CREATE_TOKEN, description: "Create a web service token" },
    Capability { name: CREATE_MOBILE_TOKEN, description: "Create a web service token for mobile access" },
    Capability { name: MANAGE_ALL_TOKENS, description: "Manage all users' web service tokens" },
    Capability { name: MAINTENANCE_ACCESS, description: "Access site while in maintenance" },
    Capability { name: USER_VIEW_DETAILS, description: "View user profiles" },
    Capability { name: USER_VIEW_ALL_DETAILS, description: "View user full information" },
    Capability { name: USER_CREATE, description: "Create users" },
    Capability { name: USER_UPDATE, description: "Update user profiles" },
    Capability { name: USER_DELETE, description: "Delete users" },
    Capability { name: ROLE_ASSIGN, description: "Assign roles to users" },
    Capability { name: VIEW_FULL_NAMES, description: "Always see full names of users" },
];

pub fn find(name: &str) -> Option<&'static Capability> {
    CATALOGUE.iter().find(|c| c.name == name)
}

/// A protocol capability a user lacks, and whether that protocol is enabled (so that its
/// calls fail now) — what the user screens flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingProtocol {
    pub protocol: crate::domain::types::Protocol,
    pub enabled: bool,
}

/// The protocol capabilities missing from `held`, in protocol order.
pub fn missing_protocols(
    held: &std::collections::BTreeSet<String>,
    settings: &crate::domain::types::Settings,
) -> Vec<MissingProtocol> {
    crate::domain::types::Protocol::ALL
        .into_iter()
        .filter(|p| !held.contains(p.capability()))
        .map(|protocol| MissingProtocol { protocol, enabled: settings.protocols.contains(&protocol) })
        .collect()
}

/// Capabilities the implicit "Authenticated user" role holds on a new database, as Moodle's
/// `user` archetype does for web services.
pub const AUTHENTICATED_USER_DEFAULTS: &[&str] = &[CREATE_MOBILE_TOKEN];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::function_catalogue;
    use crate::domain::types::Protocol;

    #[test]
    fn missing_protocols_are_flagged_when_enabled() {
        let mut settings = crate::domain::types::Settings::default();
        settings.protocols.insert(Protocol::Soap);
        let held = std::collections::BTreeSet::from([REST_USE.to_string()]);
        let missing = missing_protocols(&held, &settings);
        let names: Vec<(&str, bool)> = missing.iter().map(|m| (m.protocol.name(), m.enabled)).collect();
        assert_eq!(names, [("soap", true), ("xmlrpc", false), ("amf", false)]);
    }

    #[test]
    fn catalogue_has_unique_described_names() {
        let mut names: Vec<_> = CATALOGUE.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOGUE.len());
        assert!(CATALOGUE.iter().all(|c| !c.description.is_empty()));
    }

    #[test]
    fn every_protocol_and_function_capability_is_in_the_catalogue() {
        for p in Protocol::ALL {
            assert!(find(p.capability()).is_some(), "{p}");
        }
        for f in function_catalogue::FUNCTIONS {
            for cap in f.capabilities {
                assert!(find(cap).is_some(), "{} needs {cap}", f.name);
            }
        }
        assert!(find("moodle/nonsense:cap").is_none());
    }
}
