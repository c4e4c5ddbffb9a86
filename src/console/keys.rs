//! The key table: one list of bindings drives dispatch, the footer hints and the `?` help
//! (CONSOLE.md). `--read-only` drops every binding that writes.

use super::screen::Screen;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Help,
    Palette,
    Filter,
    Back,
    Refresh,
    Up,
    Down,
    Top,
    Bottom,
    PageUp,
    PageDown,
    NextPane,
    PrevPane,
    Go(Screen),
    /// Enter on a row: open what it leads to (a step's screen, a function's documentation).
    Open,
    New,
    Edit,
    Delete,
    Toggle,
    Sort,
    Reverse,
    RevokeUserTokens,
    RevokeServiceTokens,
    Functions,
    AuthorisedUsers,
    Suspend,
    AssignRoles,
    Send,
}

/// A key as the table names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

const fn k(c: char) -> Key {
    Key { code: KeyCode::Char(c), ctrl: false }
}
const fn ctrl(c: char) -> Key {
    Key { code: KeyCode::Char(c), ctrl: true }
}
const fn code(code: KeyCode) -> Key {
    Key { code, ctrl: false }
}

impl Key {
    pub fn matches(&self, e: &KeyEvent) -> bool {
        let ctrl = e.modifiers.contains(KeyModifiers::CONTROL);
        match (self.code, e.code) {
            // Shifted letters arrive as upper-case chars, with or without SHIFT reported.
            (KeyCode::Char(a), KeyCode::Char(b)) => a == b && self.ctrl == ctrl,
            (a, b) => a == b && self.ctrl == ctrl,
        }
    }

    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "Shift-Tab".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}"),
        };
        if self.ctrl { format!("Ctrl-{}", base.to_uppercase()) } else { base }
    }
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Everywhere,
    On(&'static [Screen]),
}

pub struct Binding {
    pub keys: &'static [Key],
    pub action: Action,
    pub help: &'static str,
    pub scope: Scope,
    /// Changes the database: absent in `--read-only`.
    pub writes: bool,
    /// Shown in the footer of the screens it applies to.
    pub hint: bool,
}

const fn b(
    keys: &'static [Key],
    action: Action,
    help: &'static str,
    scope: Scope,
    writes: bool,
    hint: bool,
) -> Binding {
    Binding { keys, action, help, scope, writes, hint }
}

use Action as A;
use Scope::{Everywhere as ALL, On};
use Screen as S;

const TOGGLES: &[Screen] = &[S::Features, S::Protocols, S::Authentication, S::Services];

/// Every binding. Screen bindings come before the global ones, so they win where both match.
pub static BINDINGS: &[Binding] = &[
    b(&[code(KeyCode::Enter)], A::Open, "go to the step's screen", On(&[S::Overview]), false, true),
    b(&[k(' '), code(KeyCode::Enter)], A::Toggle, "switch on/off", On(TOGGLES), true, true),
    b(
        &[k('n')],
        A::New,
        "new",
        On(&[S::Users, S::Roles, S::Services, S::Tokens, S::ServiceFunctions, S::AuthorisedUsers]),
        true,
        true,
    ),
    b(&[k('e')], A::Edit, "edit", On(&[S::Users, S::Roles, S::Services, S::AuthorisedUsers, S::Features]), true, true),
    b(&[code(KeyCode::Enter)], A::Edit, "edit", On(&[S::Users, S::Roles, S::AuthorisedUsers]), true, false),
    b(&[k('d'), code(KeyCode::Delete)], A::Delete, "revoke the token (asks first)", On(&[S::Tokens]), true, true),
    b(
        &[k('d'), code(KeyCode::Delete)],
        A::Delete,
        "delete or remove (asks first)",
        On(&[S::Users, S::Roles, S::Services, S::ServiceFunctions, S::AuthorisedUsers]),
        true,
        true,
    ),
    b(&[k('s')], A::Suspend, "suspend / unsuspend", On(&[S::Users]), true, true),
    b(&[k('r')], A::AssignRoles, "roles of the user", On(&[S::Users]), true, true),
    b(&[k('f')], A::Functions, "functions of the service", On(&[S::Services]), false, true),
    b(&[k('a')], A::AuthorisedUsers, "authorised users of the service", On(&[S::Services]), false, true),
    b(&[k('u')], A::RevokeUserTokens, "revoke all tokens of this user", On(&[S::Tokens]), true, true),
    b(&[k('v')], A::RevokeServiceTokens, "revoke all tokens of this service", On(&[S::Tokens]), true, true),
    b(&[k('o')], A::Sort, "sort by the next column", On(&[S::Tokens]), false, true),
    b(&[k('O')], A::Reverse, "reverse the order", On(&[S::Tokens]), false, false),
    b(
        &[code(KeyCode::Enter), k('e')],
        A::Edit,
        "pick token or user, function, IP: check",
        On(&[S::Check]),
        false,
        true,
    ),
    b(&[k('t')], A::Send, "test client: send the call to the endpoint", On(&[S::Check]), false, true),
    b(&[k('x')], A::Open, "go to the screen that fixes it", On(&[S::Check]), false, true),
    b(&[k('/')], A::Filter, "filter", On(&[S::Users, S::Tokens, S::Logs, S::Docs, S::Services, S::Roles]), false, true),
    b(&[k('1')], A::Go(S::Overview), "Overview", ALL, false, false),
    b(&[k('2')], A::Go(S::Features), "Advanced features", ALL, false, false),
    b(&[k('3')], A::Go(S::Protocols), "Manage protocols", ALL, false, false),
    b(&[k('4')], A::Go(S::Authentication), "Manage authentication", ALL, false, false),
    b(&[k('5')], A::Go(S::Users), "Users", ALL, false, false),
    b(&[k('6')], A::Go(S::Services), "External services", ALL, false, false),
    b(&[k('7')], A::Go(S::Tokens), "Tokens", ALL, false, false),
    b(&[k('8')], A::Go(S::Logs), "Logs", ALL, false, false),
    b(&[k('9')], A::Go(S::Check), "Access check and test client", ALL, false, false),
    b(&[k('0')], A::Go(S::Docs), "API documentation", ALL, false, false),
    b(&[k(':')], A::Palette, "command palette (:tokens, :users, :roles, …)", ALL, false, true),
    b(&[k('?'), code(KeyCode::F(1))], A::Help, "help: every key of this screen", ALL, false, true),
    b(&[code(KeyCode::Esc)], A::Back, "close / clear the filter / back", ALL, false, false),
    b(&[ctrl('r')], A::Refresh, "reload from the database now", ALL, false, false),
    b(&[code(KeyCode::Up), k('k')], A::Up, "up", ALL, false, false),
    b(&[code(KeyCode::Down), k('j')], A::Down, "down", ALL, false, false),
    b(&[k('g'), code(KeyCode::Home)], A::Top, "first row", ALL, false, false),
    b(&[k('G'), code(KeyCode::End)], A::Bottom, "last row", ALL, false, false),
    b(&[code(KeyCode::PageUp)], A::PageUp, "page up", ALL, false, false),
    b(&[code(KeyCode::PageDown)], A::PageDown, "page down", ALL, false, false),
    b(&[code(KeyCode::Tab), code(KeyCode::Right), k('l')], A::NextPane, "next pane", ALL, false, false),
    b(&[code(KeyCode::BackTab), code(KeyCode::Left), k('h')], A::PrevPane, "previous pane", ALL, false, false),
    b(&[k('q'), ctrl('c')], A::Quit, "quit", ALL, false, true),
];

fn applies(b: &Binding, screen: Screen, read_only: bool) -> bool {
    !(read_only && b.writes)
        && match b.scope {
            Scope::Everywhere => true,
            Scope::On(list) => list.contains(&screen),
        }
}

/// The action a key triggers on a screen, if any.
pub fn lookup(screen: Screen, key: &KeyEvent, read_only: bool) -> Option<Action> {
    BINDINGS
        .iter()
        .filter(|b| applies(b, screen, read_only))
        .find(|b| b.keys.iter().any(|k| k.matches(key)))
        .map(|b| b.action)
}

/// The bindings of a screen, for the help overlay (screen ones first).
pub fn help(screen: Screen, read_only: bool) -> Vec<(String, &'static str)> {
    BINDINGS
        .iter()
        .filter(|b| applies(b, screen, read_only))
        .map(|b| (b.keys.iter().map(Key::label).collect::<Vec<_>>().join(" "), b.help))
        .collect()
}

/// The footer: the screen's hinted bindings, first key of each.
pub fn hints(screen: Screen, read_only: bool) -> Vec<(String, &'static str)> {
    let mut seen = Vec::new();
    BINDINGS
        .iter()
        .filter(|b| b.hint && applies(b, screen, read_only))
        .filter(|b| {
            let dup = seen.contains(&b.action);
            seen.push(b.action);
            !dup
        })
        .map(|b| (b.keys[0].label(), b.help))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn no_key_means_two_things_on_one_screen() {
        for screen in Screen::ALL {
            let mut seen: Vec<(Key, Action)> = Vec::new();
            for b in BINDINGS.iter().filter(|b| applies(b, screen, false)) {
                for key in b.keys {
                    // The first binding wins; a later one with the same key must be the same action.
                    if let Some((_, first)) = seen.iter().find(|(k, _)| k == key) {
                        let global = matches!(b.scope, Scope::Everywhere);
                        assert!(
                            *first == b.action || global,
                            "{screen:?}: {} is both {first:?} and {:?}",
                            key.label(),
                            b.action
                        );
                    } else {
                        seen.push((*key, b.action));
                    }
                }
            }
        }
    }

    #[test]
    fn every_screen_is_reachable_and_every_action_listed_in_help() {
        for screen in Screen::ALL {
            if screen.number().is_some() {
                assert!(BINDINGS.iter().any(|b| b.action == Action::Go(screen)), "{screen:?}");
            }
            let help = help(screen, false);
            for b in BINDINGS.iter().filter(|b| applies(b, screen, false)) {
                assert!(help.iter().any(|(_, h)| *h == b.help), "{screen:?} help lacks {}", b.help);
            }
        }
    }

    #[test]
    fn read_only_removes_every_write() {
        for screen in Screen::ALL {
            for key in [KeyCode::Char('n'), KeyCode::Char('d'), KeyCode::Char(' '), KeyCode::Char('s')] {
                if let Some(a) = lookup(screen, &press(key), true) {
                    assert!(
                        !matches!(a, Action::New | Action::Delete | Action::Toggle | Action::Suspend),
                        "{screen:?}"
                    );
                }
            }
        }
        assert_eq!(lookup(Screen::Tokens, &press(KeyCode::Char('d')), false), Some(Action::Delete));
        assert_eq!(lookup(Screen::Tokens, &press(KeyCode::Char('d')), true), None);
    }

    #[test]
    fn screen_keys_win_over_global_ones() {
        assert_eq!(lookup(Screen::Overview, &press(KeyCode::Enter), false), Some(Action::Open));
        assert_eq!(lookup(Screen::Features, &press(KeyCode::Char(' ')), false), Some(Action::Toggle));
        assert_eq!(lookup(Screen::Tokens, &press(KeyCode::Char('7')), false), Some(Action::Go(Screen::Tokens)));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(lookup(Screen::Users, &ctrl_c, false), Some(Action::Quit));
    }
}
