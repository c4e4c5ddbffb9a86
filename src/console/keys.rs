//! The key table: one list of bindings, for the screens, the overlays and text fields alike,
//! drives dispatch, the footer and the `?` help (CONSOLE.md). `--read-only` drops every
//! binding that writes.

use super::screens::{
    ScreenId, authentication, authorised_users, check, docs, features, logs, overview, protocols, roles,
    service_functions, services, tokens, users,
};
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
    Go(ScreenId),
    /// A digit: the screen with that number on the tab bar.
    GoNumber,
    /// Enter on a row: open what it leads to (a step's screen, the screen that fixes a check).
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
    /// External services: the Moodle site behind the service (URL, site token, calls a minute).
    SiteLink,
    /// External services: ask the Moodle site what the service's token may call.
    Sync,
    /// The test client: send the checked call.
    Send,
    /// Copy the selected value (a new token, the test client's answer) with OSC 52.
    Copy,
    // Dialogs.
    Submit,
    Cancel,
    NextField,
    PrevField,
    /// Complete the text from the matches shown (usernames, palette commands).
    Complete,
    Yes,
    No,
    /// Switch between a dialog's buttons.
    Choose,
    /// Tick or untick a row of a picker.
    Tick,
    // Text fields, as readline.
    LineStart,
    LineEnd,
    CharLeft,
    CharRight,
    DeleteToStart,
    DeleteToEnd,
    DeleteWord,
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
        // Shifted letters arrive as upper-case chars, with or without SHIFT reported.
        self.code == e.code && self.ctrl == ctrl
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
            KeyCode::Delete => "Del".into(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}"),
        };
        if self.ctrl { format!("Ctrl-{}", base.to_uppercase()) } else { base }
    }
}

/// The dialogs that sit over a screen, each with its own keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OverlayKind {
    Help,
    Palette,
    Filter,
    Form,
    Confirm,
    /// A confirmation by typing a name (bulk revocation).
    Typed,
    /// A new token, shown once.
    Secret,
    Picker,
}

/// What has the keyboard: a screen, or the dialog on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Screen(ScreenId),
    Overlay(OverlayKind),
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every screen (not the dialogs: they take text).
    Screens,
    On(&'static [ScreenId]),
    Overlays(&'static [OverlayKind]),
    /// Every text field: forms, the palette, the filter line, a picker's search, typed confirmations.
    Text,
}

pub struct Binding {
    pub keys: &'static [Key],
    pub action: Action,
    pub help: &'static str,
    /// The footer's short label; `None` keeps the binding out of the footer.
    pub hint: Option<&'static str>,
    pub scope: Scope,
    /// Changes the database: absent in `--read-only`.
    pub writes: bool,
}

const fn b(
    keys: &'static [Key],
    action: Action,
    help: &'static str,
    hint: Option<&'static str>,
    scope: Scope,
    writes: bool,
) -> Binding {
    Binding { keys, action, help, hint, scope, writes }
}

use Action as A;
use KeyCode as C;
use OverlayKind as O;
use Scope::{On, Overlays, Screens, Text};

const TOGGLES: &[ScreenId] = &[features::ID, protocols::ID, authentication::ID, services::ID];
const FILTERED: &[ScreenId] = &[users::ID, roles::ID, services::ID, tokens::ID, logs::ID, docs::ID];
/// Dialogs where letters are typed text.
const TYPING: &[OverlayKind] = &[O::Palette, O::Filter, O::Form, O::Typed, O::Picker];

/// Every binding. Within a context the first match wins, so screen bindings come before the
/// ones of every screen.
pub static BINDINGS: &[Binding] = &[
    // Screens.
    b(&[code(C::Enter)], A::Open, "go to the step's screen", Some("go there"), On(&[overview::ID]), false),
    b(&[k(' '), code(C::Enter)], A::Toggle, "switch the selected setting on or off", Some("switch"), On(TOGGLES), true),
    b(
        &[k('n')],
        A::New,
        "new",
        Some("new"),
        On(&[users::ID, roles::ID, services::ID, tokens::ID, service_functions::ID, authorised_users::ID]),
        true,
    ),
    b(
        &[k('e'), code(C::Enter)],
        A::Edit,
        "edit the selected row",
        Some("edit"),
        On(&[users::ID, roles::ID, authorised_users::ID]),
        true,
    ),
    b(&[k('e')], A::Edit, "edit", Some("edit"), On(&[services::ID, features::ID]), true),
    b(&[k('d'), code(C::Delete)], A::Delete, "revoke the token (asks first)", Some("revoke"), On(&[tokens::ID]), true),
    b(
        &[k('d'), code(C::Delete)],
        A::Delete,
        "delete or remove (asks first)",
        Some("delete"),
        On(&[users::ID, roles::ID, services::ID, service_functions::ID, authorised_users::ID]),
        true,
    ),
    b(&[k('s')], A::Suspend, "suspend or unsuspend the user", Some("suspend"), On(&[users::ID]), true),
    b(&[k('r')], A::AssignRoles, "roles of the user", Some("roles"), On(&[users::ID]), true),
    b(&[k('f')], A::Functions, "functions of the service", Some("functions"), On(&[services::ID]), false),
    b(&[k('a')], A::AuthorisedUsers, "authorised users of the service", Some("users"), On(&[services::ID]), false),
    b(
        &[k('m')],
        A::SiteLink,
        "the Moodle site behind the service: its URL, the service's site token, calls a minute",
        Some("site"),
        On(&[services::ID]),
        true,
    ),
    b(&[k('s')], A::Sync, "sync the service with the Moodle site", Some("sync"), On(&[services::ID]), true),
    b(&[k('u')], A::RevokeUserTokens, "revoke every token of this user", Some("user's"), On(&[tokens::ID]), true),
    b(
        &[k('v')],
        A::RevokeServiceTokens,
        "revoke every token of this service",
        Some("service's"),
        On(&[tokens::ID]),
        true,
    ),
    b(&[k('o')], A::Sort, "sort by the next column", Some("sort"), On(&[tokens::ID]), false),
    b(&[k('O')], A::Reverse, "reverse the order", None, On(&[tokens::ID]), false),
    b(
        &[code(C::Enter), k('e')],
        A::Edit,
        "the call to check: token or user and password, function, client IP",
        Some("check"),
        On(&[check::ID]),
        false,
    ),
    b(&[k('t')], A::Send, "test client: send the call to the endpoint", Some("send"), On(&[check::ID]), false),
    b(&[k('x')], A::Open, "go to the screen that fixes the failing check", Some("fix"), On(&[check::ID]), false),
    b(&[k('y')], A::Copy, "copy the test client's answer (OSC 52)", Some("copy"), On(&[check::ID]), false),
    b(&[code(C::Tab)], A::NextPane, "switch pane: calls / audit", Some("pane"), On(&[logs::ID]), false),
    b(&[k('/')], A::Filter, "filter the list as you type", Some("filter"), On(FILTERED), false),
    b(
        &[k('1'), k('2'), k('3'), k('4'), k('5'), k('6'), k('7'), k('8'), k('9'), k('0')],
        A::GoNumber,
        "go to the screen of that number on the tab bar",
        None,
        Screens,
        false,
    ),
    b(
        &[k(':')],
        A::Palette,
        "command palette: screens and actions (:tokens, :new token, :q)",
        Some("cmd"),
        Screens,
        false,
    ),
    b(
        &[code(C::Esc)],
        A::Back,
        "clear the filter; on Functions or Authorised users, back to External services",
        None,
        Screens,
        false,
    ),
    b(&[ctrl('r')], A::Refresh, "reread everything from the database now", None, Screens, false),
    b(&[code(C::Up), k('k')], A::Up, "up", None, Screens, false),
    b(&[code(C::Down), k('j')], A::Down, "down", None, Screens, false),
    b(&[k('g'), code(C::Home)], A::Top, "first row", None, Screens, false),
    b(&[k('G'), code(C::End)], A::Bottom, "last row", None, Screens, false),
    b(&[code(C::PageUp)], A::PageUp, "page up", None, Screens, false),
    b(&[code(C::PageDown)], A::PageDown, "page down", None, Screens, false),
    b(&[k('?'), code(C::F(1))], A::Help, "help: every key here", Some("help"), Screens, false),
    b(&[k('q'), ctrl('c')], A::Quit, "quit", Some("quit"), Screens, false),
    // Dialogs.
    b(
        &[code(C::Esc), k('?'), k('q'), code(C::F(1))],
        A::Cancel,
        "close the help",
        Some("close"),
        Overlays(&[O::Help]),
        false,
    ),
    b(&[code(C::Up), k('k')], A::Up, "scroll up", None, Overlays(&[O::Help]), false),
    b(&[code(C::Down), k('j')], A::Down, "scroll down", None, Overlays(&[O::Help]), false),
    b(&[code(C::Enter)], A::Submit, "run the command", Some("run"), Overlays(&[O::Palette]), false),
    b(&[code(C::Tab)], A::Complete, "complete the command", Some("complete"), Overlays(&[O::Palette]), false),
    b(&[code(C::Up)], A::Up, "previous match", None, Overlays(&[O::Palette, O::Picker]), false),
    b(&[code(C::Down)], A::Down, "next match", None, Overlays(&[O::Palette, O::Picker]), false),
    b(
        &[code(C::Enter), code(C::Down), code(C::Up)],
        A::Submit,
        "keep the filter",
        Some("keep"),
        Overlays(&[O::Filter]),
        false,
    ),
    b(&[code(C::Esc)], A::Cancel, "clear the filter", Some("clear"), Overlays(&[O::Filter]), false),
    b(&[code(C::Enter)], A::Submit, "save", Some("save"), Overlays(&[O::Form]), false),
    b(
        &[code(C::Tab)],
        A::Complete,
        "next field; in a user field, complete the username first",
        Some("next/complete"),
        Overlays(&[O::Form]),
        false,
    ),
    b(&[code(C::Down)], A::NextField, "next field", None, Overlays(&[O::Form]), false),
    b(&[code(C::BackTab), code(C::Up)], A::PrevField, "previous field", None, Overlays(&[O::Form]), false),
    b(&[k(' ')], A::Tick, "tick or untick the row", Some("tick"), Overlays(&[O::Picker]), false),
    b(&[code(C::Enter)], A::Submit, "save the ticks", Some("save"), Overlays(&[O::Picker]), false),
    b(&[k('y')], A::Yes, "yes", Some("yes"), Overlays(&[O::Confirm]), false),
    b(&[k('n')], A::No, "no", Some("no"), Overlays(&[O::Confirm]), false),
    b(
        &[code(C::Left), code(C::Right), code(C::Tab), code(C::BackTab), k('h'), k('l')],
        A::Choose,
        "switch button",
        Some("choose"),
        Overlays(&[O::Confirm]),
        false,
    ),
    b(&[code(C::Enter)], A::Submit, "press the button shown selected", Some("ok"), Overlays(&[O::Confirm]), false),
    b(&[code(C::Enter)], A::Submit, "confirm what was typed", Some("confirm"), Overlays(&[O::Typed]), false),
    b(&[k('y')], A::Copy, "copy the token (OSC 52)", Some("copy"), Overlays(&[O::Secret]), false),
    b(
        &[code(C::Enter), code(C::Esc)],
        A::Submit,
        "close: the token is not shown again",
        Some("close"),
        Overlays(&[O::Secret]),
        false,
    ),
    b(
        &[code(C::Esc)],
        A::Cancel,
        "cancel (a form with input asks first)",
        Some("cancel"),
        Overlays(&[O::Palette, O::Form, O::Confirm, O::Typed, O::Picker]),
        false,
    ),
    b(&[ctrl('c')], A::Quit, "quit (a form with input asks first)", None, Overlays(TYPING), false),
    b(&[ctrl('c')], A::Quit, "quit", None, Overlays(&[O::Help, O::Confirm, O::Secret]), false),
    b(&[code(C::F(1))], A::Help, "help: every key here", None, Overlays(TYPING), false),
    // Text fields.
    b(&[code(C::Left), ctrl('b')], A::CharLeft, "cursor left", None, Text, false),
    b(&[code(C::Right), ctrl('f')], A::CharRight, "cursor right", None, Text, false),
    b(&[code(C::Home), ctrl('a')], A::LineStart, "cursor to the start", None, Text, false),
    b(&[code(C::End), ctrl('e')], A::LineEnd, "cursor to the end", None, Text, false),
    b(&[ctrl('u')], A::DeleteToStart, "delete to the start", None, Text, false),
    b(&[ctrl('k')], A::DeleteToEnd, "delete to the end", None, Text, false),
    b(&[ctrl('w')], A::DeleteWord, "delete the word before the cursor", None, Text, false),
];

fn applies(b: &Binding, context: Context, read_only: bool) -> bool {
    !(read_only && b.writes)
        && match (b.scope, context) {
            (Scope::Screens, Context::Screen(_)) => true,
            (Scope::On(list), Context::Screen(s)) => list.contains(&s),
            (Scope::Overlays(list), Context::Overlay(o)) => list.contains(&o),
            _ => false,
        }
}

fn find(bindings: impl Iterator<Item = &'static Binding>, key: &KeyEvent) -> Option<Action> {
    bindings.filter(|b| b.keys.iter().any(|k| k.matches(key))).map(|b| b.action).next()
}

/// The action a key triggers in a context, if any.
pub fn lookup(context: Context, key: &KeyEvent, read_only: bool) -> Option<Action> {
    find(BINDINGS.iter().filter(|b| applies(b, context, read_only)), key)
}

/// The text-editing action of a key, if it is one.
pub fn text_action(key: &KeyEvent) -> Option<Action> {
    find(BINDINGS.iter().filter(|b| b.scope == Scope::Text), key)
}

fn labels(b: &Binding) -> String {
    b.keys.iter().map(Key::label).collect::<Vec<_>>().join(" ")
}

/// The help of a context: its bindings, then the text fields' when it takes text.
pub fn help(context: Context, read_only: bool) -> Vec<(String, &'static str)> {
    let text = match context {
        Context::Overlay(o) => TYPING.contains(&o),
        Context::Screen(_) => true,
    };
    BINDINGS
        .iter()
        .filter(|b| applies(b, context, read_only) || text && b.scope == Scope::Text)
        .map(|b| (labels(b), b.help))
        .collect()
}

/// The footer of a context: first key and short label of each hinted binding, once per action.
pub fn hints(context: Context, read_only: bool) -> Vec<(Action, String, &'static str)> {
    let mut seen = Vec::new();
    BINDINGS
        .iter()
        .filter(|b| applies(b, context, read_only))
        .filter_map(|b| {
            let hint = b.hint?;
            if seen.contains(&b.action) {
                return None;
            }
            seen.push(b.action);
            Some((b.action, b.keys[0].label(), hint))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    fn contexts() -> Vec<Context> {
        let overlays =
            [O::Help, O::Palette, O::Filter, O::Form, O::Confirm, O::Typed, O::Secret, O::Picker].map(Context::Overlay);
        super::super::screens::all().iter().map(|s| Context::Screen(s.id())).chain(overlays).collect()
    }

    #[test]
    fn no_key_means_two_things_in_one_context() {
        for context in contexts() {
            let mut seen: Vec<(Key, Action)> = Vec::new();
            for b in BINDINGS.iter().filter(|b| applies(b, context, false)) {
                for key in b.keys {
                    // The first binding wins; a later one with the same key must be one of every
                    // screen's, which a screen's own binding overrides on purpose.
                    if let Some((_, first)) = seen.iter().find(|(k, _)| k == key) {
                        assert!(
                            *first == b.action || b.scope == Scope::Screens,
                            "{context:?}: {} is both {first:?} and {:?}",
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
    fn typing_dialogs_leave_printable_keys_to_the_text() {
        for o in TYPING {
            for b in BINDINGS.iter().filter(|b| applies(b, Context::Overlay(*o), false)) {
                for key in b.keys {
                    let printable = matches!(key.code, KeyCode::Char(c) if !key.ctrl && (*o != O::Picker || c != ' '));
                    assert!(!printable, "{o:?}: {} is bound to {:?}", key.label(), b.action);
                }
            }
        }
    }

    #[test]
    fn every_screen_is_reachable_and_every_binding_is_in_the_help() {
        let digits: Vec<char> = super::super::screens::all().iter().filter_map(|s| s.meta().number).collect();
        assert_eq!(digits.len(), 10, "ten screens on the tab bar");
        for d in digits {
            assert_eq!(lookup(Context::Screen(overview::ID), &press(KeyCode::Char(d)), false), Some(Action::GoNumber));
        }
        for context in contexts() {
            let help = help(context, false);
            for b in BINDINGS.iter().filter(|b| applies(b, context, false)) {
                assert!(help.iter().any(|(_, h)| *h == b.help), "{context:?} help lacks {}", b.help);
            }
        }
        let form = help(Context::Overlay(O::Form), false);
        for readline in ["Home Ctrl-A", "End Ctrl-E", "Ctrl-U", "Ctrl-W"] {
            assert!(form.iter().any(|(k, _)| k == readline), "the form's help lacks {readline}");
        }
    }

    #[test]
    fn read_only_removes_every_write() {
        for screen in super::super::screens::all().iter().map(|s| s.id()) {
            for key in [KeyCode::Char('n'), KeyCode::Char('d'), KeyCode::Char(' '), KeyCode::Char('s')] {
                if let Some(a) = lookup(Context::Screen(screen), &press(key), true) {
                    assert!(
                        !matches!(a, Action::New | Action::Delete | Action::Toggle | Action::Suspend),
                        "{screen:?}"
                    );
                }
            }
        }
        let on_tokens = Context::Screen(tokens::ID);
        assert_eq!(lookup(on_tokens, &press(KeyCode::Char('d')), false), Some(Action::Delete));
        assert_eq!(lookup(on_tokens, &press(KeyCode::Char('d')), true), None);
    }

    #[test]
    fn screen_keys_win_over_every_screens_ones() {
        let on = |s| Context::Screen(s);
        assert_eq!(lookup(on(overview::ID), &press(KeyCode::Enter), false), Some(Action::Open));
        assert_eq!(lookup(on(features::ID), &press(KeyCode::Char(' ')), false), Some(Action::Toggle));
        assert_eq!(lookup(on(tokens::ID), &press(KeyCode::Char('7')), false), Some(Action::GoNumber));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(lookup(on(users::ID), &ctrl_c, false), Some(Action::Quit));
        assert_eq!(lookup(Context::Overlay(O::Form), &ctrl_c, false), Some(Action::Quit));
        assert_eq!(lookup(Context::Overlay(O::Form), &press(KeyCode::Char('q')), false), None, "q is typed");
        let ctrl_u = KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL);
        assert_eq!(text_action(&ctrl_u), Some(Action::DeleteToStart));
    }
}
