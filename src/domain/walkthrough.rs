//! Moodle's web-services Overview (moodle-ws-reference.md §9.2): two step lists, each step with a
//! status computed from the database. The store gathers [`Facts`]; [`steps`] is pure.

use super::access::Place;
use super::capabilities;
use super::types::{Protocol, Settings, UnixTime, UserId};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// Who holds a capability: users with an assigned role that allows it, or everybody when the
/// implicit "Authenticated user" role does.
#[derive(Debug, Clone, Default)]
pub struct Holders {
    pub users: HashSet<UserId>,
    pub everybody: bool,
}

impl Holders {
    pub fn has(&self, user: UserId) -> bool {
        self.everybody || self.users.contains(&user)
    }
}

/// What the walkthrough needs to know, gathered by the store in one read transaction: plain
/// facts; what they mean for each step is decided here.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub settings: Settings,
    /// Live users: id → username.
    pub users: HashMap<UserId, String>,
    /// Live users that take part in web services: auth `webservice`, authorised on a service,
    /// or holding a token.
    pub ws_users: HashSet<UserId>,
    /// Holders of each protocol capability and of `moodle/webservice:createtoken`.
    pub holders: HashMap<&'static str, Holders>,
    /// Custom services, enabled, "authorised users only".
    pub restricted_services: u64,
    pub restricted_services_with_functions: u64,
    /// Authorised-user entries over enabled restricted services.
    pub authorised_users: u64,
    /// Custom services, enabled, open to all users.
    pub open_services: u64,
    pub open_services_with_functions: u64,
    /// Tokens that are not expired.
    pub valid_tokens: u64,
    pub last_successful_call: Option<UnixTime>,
    /// Each service's link to the Moodle site, for the "Front a Moodle site" flow.
    pub site_links: Vec<super::front_flow::SiteLink>,
    /// The last call the Moodle site answered through the front.
    pub last_forwarded_call: Option<UnixTime>,
}

/// Moodle's two flows, then "Front a Moodle site".
pub type Flows = [Flow; 3];

/// The capabilities whose holders [`Facts::holders`] must list.
pub fn capabilities_needed() -> impl Iterator<Item = &'static str> {
    Protocol::ALL.into_iter().map(Protocol::capability).chain([capabilities::CREATE_TOKEN])
}

impl Facts {
    fn holds(&self, user: UserId, capability: &str) -> bool {
        self.holders.get(capability).is_some_and(|h| h.has(user))
    }

    /// Usernames, sorted.
    fn names(&self, ids: impl Iterator<Item = UserId>) -> Vec<String> {
        let mut v: Vec<String> = ids.filter_map(|id| self.users.get(&id).cloned()).collect();
        v.sort();
        v
    }

    /// Web-services users lacking `capability`, by username.
    pub fn ws_users_lacking(&self, capability: &str) -> Vec<String> {
        self.names(self.ws_users.iter().copied().filter(|id| !self.holds(*id, capability)))
    }

    /// Live users who may create tokens.
    fn token_creators(&self) -> Vec<UserId> {
        self.users.keys().copied().filter(|id| self.holds(*id, capabilities::CREATE_TOKEN)).collect()
    }

    /// Whether a user lacks the capability of an enabled protocol.
    fn lacks_enabled_protocol(&self, user: UserId) -> bool {
        self.settings.protocols.iter().any(|p| !self.holds(user, p.capability()))
    }
}

/// A step's state, as the Overview's Status column shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The step is done.
    Done,
    /// The step still needs doing.
    Todo,
    /// Optional or advisory (documentation, testing).
    Info,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub number: usize,
    pub title: &'static str,
    pub status: Status,
    /// Short status text: "Yes", "No", "rest, soap", "2 users", …
    pub detail: String,
    pub description: &'static str,
    #[serde(serialize_with = "serialize_place")]
    pub place: Place,
}

impl Step {
    /// A step with its status and the short text beside it.
    pub fn new(
        number: usize,
        title: &'static str,
        (status, detail): (Status, String),
        description: &'static str,
        place: Place,
    ) -> Step {
        Step { number, title, status, detail, description, place }
    }
}

fn serialize_place<S: serde::Serializer>(p: &Place, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.title())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flow {
    pub title: &'static str,
    pub intro: &'static str,
    pub steps: Vec<Step>,
}

fn count(n: u64, one: &str, many: &str) -> (Status, String) {
    if n == 0 {
        (Status::Todo, "None".into())
    } else {
        (Status::Done, format!("{n} {}", if n == 1 { one } else { many }))
    }
}

/// Up to three names, then "and N more".
fn some_names(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(3).map(String::as_str).collect();
    match names.len().saturating_sub(3) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// Step 1 of both flows.
fn enable_web_services(f: &Facts) -> Step {
    Step {
        number: 1,
        title: "Enable web services",
        status: if f.settings.enable_web_services { Status::Done } else { Status::Todo },
        detail: if f.settings.enable_web_services { "Yes" } else { "No" }.into(),
        description: "Web services must be enabled in Advanced features.",
        place: Place::AdvancedFeatures,
    }
}

/// Step 2 of both flows.
fn enable_protocols(f: &Facts) -> Step {
    let names: Vec<&str> = f.settings.protocols.iter().map(|p| p.name()).collect();
    Step {
        number: 2,
        title: "Enable protocols",
        status: if names.is_empty() { Status::Todo } else { Status::Done },
        detail: if names.is_empty() { "None".into() } else { names.join(", ") },
        description: "At least one protocol should be enabled. For security reasons, only protocols that are to be used should be enabled.",
        place: Place::ManageProtocols,
    }
}

fn test_the_service(f: &Facts) -> (Status, String) {
    match f.last_successful_call {
        Some(t) => (Status::Done, format!("last call {}", super::time::format_time(t))),
        None => (Status::Info, "No call yet".into()),
    }
}

/// A successful call made at `time`: the "Test the service" steps say so, without a reread.
/// `forwarded`: the Moodle site answered it, which the front flow's test step counts.
pub fn record_call(flows: &mut Flows, time: UnixTime, forwarded: bool) {
    let facts = Facts { last_successful_call: Some(time), ..Facts::default() };
    let [system, users, front] = flows;
    for step in system.steps.iter_mut().chain(users.steps.iter_mut()).filter(|s| s.place == Place::TestClient) {
        (step.status, step.detail) = test_the_service(&facts);
    }
    if forwarded {
        for step in front.steps.iter_mut().filter(|s| s.place == Place::TestClient) {
            (step.status, step.detail) = super::front_flow::test_call(Some(time));
        }
    }
}

/// The number of valid tokens changed: the token steps say so, without a reread.
pub fn record_valid_tokens(flows: &mut Flows, valid: u64) {
    for step in flows.iter_mut().flat_map(|f| f.steps.iter_mut()).filter(|s| s.place == Place::Tokens) {
        (step.status, step.detail) = count(valid, "valid token", "valid tokens");
    }
}

/// Both of Moodle's flows and the front's, with their live status.
pub fn steps(f: &Facts) -> Flows {
    let step = Step::new;

    let capability_check = {
        if f.ws_users.is_empty() {
            (Status::Todo, "No web services user yet".into())
        } else if f.settings.protocols.is_empty() {
            (Status::Todo, "Enable a protocol first".into())
        } else {
            let lacking: Vec<String> = f
                .settings
                .protocols
                .iter()
                .map(|p| (p, f.ws_users_lacking(p.capability())))
                .filter(|(_, users)| !users.is_empty())
                .map(|(p, users)| format!("{} lack {}: {}", users.len(), p.capability(), some_names(&users)))
                .collect();
            if lacking.is_empty() { (Status::Done, "All have it".into()) } else { (Status::Todo, lacking.join("; ")) }
        }
    };

    let creators = f.token_creators();
    let creators_lacking = f.names(creators.iter().copied().filter(|id| f.lacks_enabled_protocol(*id)));
    let users_capability = if creators.is_empty() {
        (Status::Todo, format!("Nobody has {}", capabilities::CREATE_TOKEN))
    } else if !creators_lacking.is_empty() {
        (
            Status::Todo,
            format!("{} lack a protocol capability: {}", creators_lacking.len(), some_names(&creators_lacking)),
        )
    } else {
        count(creators.len() as u64, "user can", "users can")
    };

    let documentation =
        if f.settings.ws_documentation { (Status::Done, "Yes".into()) } else { (Status::Info, "No".into()) };

    let system = Flow {
        title: "Allow an external system to control Moodle",
        intro: "The following steps help you to set up the Moodle web services to allow an external system to interact with Moodle. This includes setting up a token (security key) authentication method.",
        steps: vec![
            enable_web_services(f),
            enable_protocols(f),
            step(
                3,
                "Create a specific user",
                count(f.ws_users.len() as u64, "user", "users"),
                "A web services user is required to represent the system controlling Moodle.",
                Place::Users,
            ),
            step(
                4,
                "Check user capability",
                capability_check,
                "The user should have appropriate capabilities according to the protocols used, for example webservice/rest:use, webservice/soap:use. To achieve this, create a web services role with protocol capabilities allowed and assign it to the web services user as a system role.",
                Place::Roles,
            ),
            step(
                5,
                "Select a service",
                count(f.restricted_services, "service", "services"),
                "A service is a set of web service functions. You will allow the user to access to a new service. On the Add service page check 'Enable' and 'Authorised users' options. Select 'No required capability'.",
                Place::ExternalServices,
            ),
            step(
                6,
                "Add functions",
                count(f.restricted_services_with_functions, "service has functions", "services have functions"),
                "Select required functions for the newly created service.",
                Place::ServiceFunctions,
            ),
            step(
                7,
                "Select a specific user",
                count(f.authorised_users, "authorised user", "authorised users"),
                "Add the web services user as an authorised user.",
                Place::AuthorisedUsers,
            ),
            step(
                8,
                "Create a token for a user",
                count(f.valid_tokens, "valid token", "valid tokens"),
                "Create a token for the web services user.",
                Place::Tokens,
            ),
            step(
                9,
                "Enable developer documentation",
                documentation.clone(),
                "Detailed web services documentation is available for enabled protocols.",
                Place::ManageProtocols,
            ),
            step(
                10,
                "Test the service",
                test_the_service(f),
                "Simulate external access to the service using the web service test client. Use an enabled protocol with token authentication. WARNING: The functions that you test WILL BE EXECUTED, so be careful what you choose to test!",
                Place::TestClient,
            ),
        ],
    };

    let users = Flow {
        title: "Users as clients with token",
        intro: "The following steps help you to set up the Moodle web service for users as clients. These steps also help to set up the recommended token (security keys) authentication method. In this use case, the user will generate their token from the security keys page via their preferences page.",
        steps: vec![
            enable_web_services(f),
            enable_protocols(f),
            step(
                3,
                "Select a service",
                count(f.open_services, "service", "services"),
                "A service is a set of web service functions. You will allow users to access to a new service. On the Add service page check 'Enable' and uncheck 'Authorised users' options. Select 'No required capability'.",
                Place::ExternalServices,
            ),
            step(
                4,
                "Add functions",
                count(f.open_services_with_functions, "service has functions", "services have functions"),
                "Select required functions for the newly created service.",
                Place::ServiceFunctions,
            ),
            step(
                5,
                "Check users capability",
                users_capability,
                "Users should have two capabilities - webservice:createtoken and a capability matching the protocols used, for example webservice/rest:use, webservice/soap:use. To achieve this, create a web services role with the appropriate capabilities allowed and assign it to the web services user as a system role.",
                Place::Roles,
            ),
            step(
                6,
                "Test the service",
                test_the_service(f),
                "Simulate external access to the service using the web service test client. Before doing so, log in as a user with the moodle/webservice:createtoken capability and obtain the security key (token) via the user's preferences page. You will use this token in the test client. In the test client, also choose an enabled protocol with the token authentication. WARNING: The functions that you test WILL BE EXECUTED for this user, so be careful what you choose to test!",
                Place::TestClient,
            ),
        ],
    };
    [system, users, super::front_flow::front_flow(f)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(flow: &Flow, n: usize) -> (&Status, &str) {
        let s = &flow.steps[n - 1];
        assert_eq!(s.number, n);
        (&s.status, s.detail.as_str())
    }

    #[test]
    fn empty_database_is_all_todo() {
        let [system, users, _] = steps(&Facts::default());
        assert_eq!(system.steps.len(), 10);
        assert_eq!(users.steps.len(), 6);
        assert_eq!(detail(&system, 1), (&Status::Todo, "No"));
        assert_eq!(detail(&system, 2), (&Status::Todo, "None"));
        assert_eq!(detail(&system, 3), (&Status::Todo, "None"));
        assert_eq!(detail(&system, 4), (&Status::Todo, "No web services user yet"));
        assert_eq!(detail(&system, 8), (&Status::Todo, "None"));
        assert_eq!(detail(&system, 9), (&Status::Info, "No"));
        assert_eq!(detail(&system, 10), (&Status::Info, "No call yet"));
        assert_eq!(detail(&users, 5), (&Status::Todo, "Nobody has moodle/webservice:createtoken"));
        assert_eq!(system.steps[7].place, Place::Tokens);
    }

    /// A site with the given users (id, name), web-services users and capability holders.
    fn facts(users: &[(UserId, &str)], ws: &[UserId], holders: &[(&'static str, &[UserId])]) -> Facts {
        let mut f = Facts {
            users: users.iter().map(|(id, n)| (*id, n.to_string())).collect(),
            ws_users: ws.iter().copied().collect(),
            ..Facts::default()
        };
        for (cap, ids) in holders {
            f.holders.insert(cap, Holders { users: ids.iter().copied().collect(), everybody: false });
        }
        f
    }

    #[test]
    fn configured_site_reports_each_step() {
        let mut f = facts(
            &[(1, "alpha"), (2, "beta")],
            &[1, 2],
            &[("webservice/rest:use", &[1, 2]), ("webservice/soap:use", &[1])],
        );
        f.settings.enable_web_services = true;
        f.settings.protocols.extend([Protocol::Rest, Protocol::Soap]);
        f.settings.ws_documentation = true;
        f.restricted_services = 1;
        f.restricted_services_with_functions = 1;
        f.authorised_users = 2;
        f.valid_tokens = 3;
        f.last_successful_call = Some(1_798_675_200);
        let [system, _, _] = steps(&f);
        assert_eq!(detail(&system, 1), (&Status::Done, "Yes"));
        assert_eq!(detail(&system, 2), (&Status::Done, "rest, soap"));
        assert_eq!(detail(&system, 3), (&Status::Done, "2 users"));
        // xmlrpc is off, so only the soap gap counts.
        assert_eq!(detail(&system, 4), (&Status::Todo, "1 lack webservice/soap:use: beta"));
        assert_eq!(detail(&system, 5), (&Status::Done, "1 service"));
        assert_eq!(detail(&system, 7), (&Status::Done, "2 authorised users"));
        assert_eq!(detail(&system, 8), (&Status::Done, "3 valid tokens"));
        assert_eq!(detail(&system, 9), (&Status::Done, "Yes"));
        assert_eq!(detail(&system, 10), (&Status::Done, "last call 2026-12-31 00:00 UTC"));

        f.holders.get_mut("webservice/soap:use").unwrap().everybody = true;
        assert_eq!(detail(&steps(&f)[0], 4), (&Status::Done, "All have it"));
    }

    #[test]
    fn users_flow_checks_token_creators() {
        let all: Vec<UserId> = (1..=5).collect();
        let mut f = facts(
            &[(1, "a"), (2, "b"), (3, "c"), (4, "d"), (5, "e")],
            &[],
            &[("moodle/webservice:createtoken", &all), ("webservice/rest:use", &[5])],
        );
        f.settings.protocols.insert(Protocol::Rest);
        f.open_services = 2;
        let [_, users, _] = steps(&f);
        assert_eq!(detail(&users, 3), (&Status::Done, "2 services"));
        assert_eq!(detail(&users, 5), (&Status::Todo, "4 lack a protocol capability: a, b, c and 1 more"));
        f.holders.get_mut("webservice/rest:use").unwrap().everybody = true;
        assert_eq!(detail(&steps(&f)[1], 5), (&Status::Done, "5 users can"));
    }
}
