//! The console's screens, which mirror Moodle's admin navigation (CONSOLE.md).

use crate::domain::access::Place;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Screen {
    Overview,
    Features,
    Protocols,
    Authentication,
    Users,
    Roles,
    Services,
    /// External services › Functions of the selected service.
    ServiceFunctions,
    /// External services › Authorised users of the selected service.
    AuthorisedUsers,
    Tokens,
    Logs,
    /// Access check and test client.
    Check,
    Docs,
}

impl Screen {
    pub const ALL: [Screen; 13] = [
        Screen::Overview,
        Screen::Features,
        Screen::Protocols,
        Screen::Authentication,
        Screen::Users,
        Screen::Roles,
        Screen::Services,
        Screen::ServiceFunctions,
        Screen::AuthorisedUsers,
        Screen::Tokens,
        Screen::Logs,
        Screen::Check,
        Screen::Docs,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Screen::Overview => "Overview",
            Screen::Features => "Advanced features",
            Screen::Protocols => "Manage protocols",
            Screen::Authentication => "Manage authentication",
            Screen::Users => "Users",
            Screen::Roles => "Roles",
            Screen::Services => "External services",
            Screen::ServiceFunctions => "External services › Functions",
            Screen::AuthorisedUsers => "External services › Authorised users",
            Screen::Tokens => "Tokens",
            Screen::Logs => "Logs",
            Screen::Check => "Access check / test client",
            Screen::Docs => "API documentation",
        }
    }

    /// The digit that opens it (0 for the documentation).
    pub fn number(self) -> Option<char> {
        Some(match self {
            Screen::Overview => '1',
            Screen::Features => '2',
            Screen::Protocols => '3',
            Screen::Authentication => '4',
            Screen::Users => '5',
            Screen::Services => '6',
            Screen::Tokens => '7',
            Screen::Logs => '8',
            Screen::Check => '9',
            Screen::Docs => '0',
            Screen::Roles | Screen::ServiceFunctions | Screen::AuthorisedUsers => return None,
        })
    }

    /// Short tab labels for the header.
    pub fn tab(self) -> &'static str {
        match self {
            Screen::Overview => "Overview",
            Screen::Features => "Features",
            Screen::Protocols => "Protocols",
            Screen::Authentication => "Auth",
            Screen::Users | Screen::Roles => "Users",
            Screen::Services | Screen::ServiceFunctions | Screen::AuthorisedUsers => "Services",
            Screen::Tokens => "Tokens",
            Screen::Logs => "Logs",
            Screen::Check => "Check",
            Screen::Docs => "Docs",
        }
    }

    /// The command palette's names: `:tokens`, `:users`, …
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Screen::Overview => &["overview", "walkthrough", "home"],
            Screen::Features => &["features", "advanced"],
            Screen::Protocols => &["protocols"],
            Screen::Authentication => &["auth", "authentication"],
            Screen::Users => &["users"],
            Screen::Roles => &["roles", "capabilities"],
            Screen::Services => &["services"],
            Screen::ServiceFunctions => &["functions"],
            Screen::AuthorisedUsers => &["authorised", "authorized"],
            Screen::Tokens => &["tokens"],
            Screen::Logs => &["logs", "audit"],
            Screen::Check => &["check", "test", "client"],
            Screen::Docs => &["docs", "api", "documentation"],
        }
    }

    pub fn from_alias(name: &str) -> Option<Screen> {
        let name = name.trim().trim_start_matches(':').to_lowercase();
        Screen::ALL.into_iter().find(|s| s.aliases().iter().any(|a| a.starts_with(name.as_str())) && !name.is_empty())
    }

    /// The screen where an access decision's failing setting is changed.
    pub fn of_place(p: Place) -> Screen {
        match p {
            Place::AdvancedFeatures => Screen::Features,
            Place::ManageProtocols => Screen::Protocols,
            Place::ManageAuthentication => Screen::Authentication,
            Place::Users => Screen::Users,
            Place::Roles => Screen::Roles,
            Place::ExternalServices => Screen::Services,
            Place::ServiceFunctions => Screen::ServiceFunctions,
            Place::AuthorisedUsers => Screen::AuthorisedUsers,
            Place::Tokens => Screen::Tokens,
            Place::TestClient => Screen::Check,
        }
    }
}
