//! The console's screens, which mirror Moodle's admin navigation (CONSOLE.md). Each screen is
//! one file: its state, its actions (which return [`Effect`]s) and its drawing (which only
//! reads). A new screen is a new file here and one line in [`all`]; its keys go in the one key
//! table (`keys.rs`).

pub mod authentication;
pub mod authorised_users;
pub mod check;
pub mod docs;
pub mod features;
pub mod logs;
pub mod overview;
pub mod protocols;
pub mod roles;
pub mod service_functions;
pub mod services;
pub mod site_link;
pub mod tokens;
pub mod users;

use super::effect::{Answer, Ctx, Effects};
use super::form::Form;
use super::keys::Action;
use crate::domain::access::Place;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

/// Every screen, in the tab bar's order. Adding a screen is adding its line here.
pub fn all() -> Vec<Box<dyn Screen>> {
    vec![
        Box::new(overview::Overview::default()),
        Box::new(features::Features::default()),
        Box::new(protocols::Protocols::default()),
        Box::new(authentication::Authentication::default()),
        Box::new(users::Users::default()),
        Box::new(roles::Roles::default()),
        Box::new(services::Services::default()),
        Box::new(service_functions::ServiceFunctions::default()),
        Box::new(authorised_users::AuthorisedUsers::default()),
        Box::new(tokens::Tokens::default()),
        Box::new(logs::Logs::default()),
        Box::new(check::Check::default()),
        Box::new(docs::Docs::default()),
    ]
}

/// A screen's name: its command-palette word (`:tokens`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScreenId(pub &'static str);

/// What the tab bar, the palette and the help know of a screen.
pub struct Meta {
    pub id: ScreenId,
    pub title: &'static str,
    /// The digit that opens it, for the screens on the tab bar.
    pub number: Option<char>,
    /// The tab bar's short label.
    pub tab: &'static str,
    /// More palette words (`:walkthrough` for the Overview).
    pub aliases: &'static [&'static str],
    /// Where Esc goes back to (Functions → External services).
    pub parent: Option<ScreenId>,
}

/// How an action shows in the footer now.
pub enum Hint {
    /// With the key table's label.
    Shown,
    /// Not now (nothing selected, nothing to do).
    Hidden,
    /// With a label that says what it does to the selection ("switch off").
    Label(String),
}

pub trait Screen {
    fn meta(&self) -> &'static Meta;

    fn id(&self) -> ScreenId {
        self.meta().id
    }

    /// What a key (already looked up in the key table) does here.
    fn act(&mut self, action: Action, cx: &Ctx) -> Effects;

    /// Draws from `&self`: nothing changes while drawing.
    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx);

    /// Whether and how an action of the key table shows in the footer now.
    fn hint(&self, _action: Action, _cx: &Ctx) -> Hint {
        Hint::Shown
    }

    /// The status line when there is no message to show.
    fn status(&self, _cx: &Ctx) -> Option<Line<'static>> {
        None
    }

    /// The screen is shown (again): rows to read, selections to clamp.
    fn shown(&mut self, _cx: &Ctx) -> Effects {
        Vec::new()
    }

    /// The data changed (a reread, or new calls): what depends on it is brought up to date.
    fn refreshed(&mut self, _cx: &Ctx) -> Effects {
        Vec::new()
    }

    /// A job this screen started has answered.
    fn reply(&mut self, _answer: Answer, _cx: &Ctx) -> Effects {
        Vec::new()
    }

    /// A form this screen opened was submitted.
    #[allow(clippy::boxed_local)] // Screens hand the form on (to a write, or back to a dialog) as a box.
    fn submit(&mut self, _form: Box<Form>, _cx: &Ctx) -> Effects {
        Vec::new()
    }

    /// The list's filter, for screens that have one.
    fn filter(&self) -> Option<&str> {
        None
    }

    fn set_filter(&mut self, _text: &str, _cx: &Ctx) -> Effects {
        Vec::new()
    }

    /// Selects a row by its key (a username, a short name, a token id), once a change that
    /// created it has been reread.
    fn select(&mut self, _key: &str, _cx: &Ctx) -> Effects {
        Vec::new()
    }
}

/// The selection of a list, moved by the key table's motion actions.
#[derive(Debug, Default, Clone, Copy)]
pub struct List {
    pub selected: usize,
}

impl List {
    /// Moves the selection for a motion action; false for any other action.
    pub fn step(&mut self, action: Action, rows: usize, page: usize) -> bool {
        let last = rows.saturating_sub(1);
        self.selected = match action {
            Action::Up => self.selected.saturating_sub(1),
            Action::Down => (self.selected + 1).min(last),
            Action::Top => 0,
            Action::Bottom => last,
            Action::PageUp => self.selected.saturating_sub(page),
            Action::PageDown => (self.selected + page).min(last),
            _ => return false,
        };
        true
    }

    /// The selection, kept inside a list that may have shrunk.
    pub fn at(&self, rows: usize) -> usize {
        self.selected.min(rows.saturating_sub(1))
    }
}

/// A list with a filter typed on the status line (`/`).
#[derive(Debug, Default, Clone)]
pub struct Filtered {
    pub list: List,
    pub filter: String,
}

impl Filtered {
    /// A new filter: the selection goes back to the first row.
    pub fn set_filter(&mut self, text: &str) -> Effects {
        self.filter = text.to_string();
        self.list.selected = 0;
        Vec::new()
    }

    /// Selects the first row, in the order shown, for which `is_it` holds (a created item).
    pub fn select(&mut self, mut is_it: impl Iterator<Item = bool>) -> Effects {
        if let Some(i) = is_it.position(|hit| hit) {
            self.list.selected = i;
        }
        Vec::new()
    }

    /// Whether `fields` contain the filter, case-insensitively.
    pub fn keeps(&self, fields: &[&str]) -> bool {
        let f = self.filter.to_lowercase();
        f.is_empty() || fields.iter().any(|s| s.to_lowercase().contains(&f))
    }
}

/// The screen where an access decision's failing setting is changed.
pub fn of_place(p: Place) -> ScreenId {
    match p {
        Place::AdvancedFeatures => features::ID,
        Place::ManageProtocols => protocols::ID,
        Place::ManageAuthentication => authentication::ID,
        Place::Users => users::ID,
        Place::Roles => roles::ID,
        Place::ExternalServices => services::ID,
        Place::ServiceFunctions => service_functions::ID,
        Place::AuthorisedUsers => authorised_users::ID,
        Place::Tokens => tokens::ID,
        Place::TestClient => check::ID,
    }
}
