//! Where each protocol is served, named once: the router, the WSDL's address, the console's
//! test client and documentation, and the benchmarks all take their paths from here.

use super::types::Protocol;

/// How a call authenticates, which decides its script: `server.php` takes a token,
/// `simpleserver.php` a username and password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Token,
    Password,
}

/// The path of a protocol's server script.
pub const fn server(protocol: Protocol, auth: Auth) -> &'static str {
    match (protocol, auth) {
        (Protocol::Rest, Auth::Token) => "/webservice/rest/server.php",
        (Protocol::Rest, Auth::Password) => "/webservice/rest/simpleserver.php",
        (Protocol::Soap, Auth::Token) => "/webservice/soap/server.php",
        (Protocol::Soap, Auth::Password) => "/webservice/soap/simpleserver.php",
        (Protocol::Xmlrpc, Auth::Token) => "/webservice/xmlrpc/server.php",
        (Protocol::Xmlrpc, Auth::Password) => "/webservice/xmlrpc/simpleserver.php",
        (Protocol::Amf, Auth::Token) => "/webservice/amf/server.php",
        (Protocol::Amf, Auth::Password) => "/webservice/amf/simpleserver.php",
    }
}

/// SOAP's username/password script with the credentials as path segments
/// (`simpleserver.php/<username>/<password>`), as an axum route.
pub const SOAP_SIMPLE_PATH_ROUTE: &str = "/webservice/soap/simpleserver.php/{*credentials}";

/// Where an app exchanges a username and password for a token.
pub const LOGIN_TOKEN: &str = "/login/token.php";
/// Moodle's file upload script: files into the caller's draft (or private) area.
pub const UPLOAD: &str = "/webservice/upload.php";

/// The AJAX scripts the Moodle app and Moodle's own pages call.
pub const AJAX_SERVICE: &str = "/lib/ajax/service.php";
pub const AJAX_SERVICE_NOLOGIN: &str = "/lib/ajax/service-nologin.php";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_protocol_has_its_two_scripts_under_its_name() {
        for p in Protocol::ALL {
            assert_eq!(server(p, Auth::Token), format!("/webservice/{}/server.php", p.name()));
            assert_eq!(server(p, Auth::Password), format!("/webservice/{}/simpleserver.php", p.name()));
        }
        assert!(SOAP_SIMPLE_PATH_ROUTE.starts_with(server(Protocol::Soap, Auth::Password)));
    }
}
