//! Forms: one-line text fields, a masked password field, checkboxes and choices. A field may
//! check its value as it is typed (its error stays beside it until the value is right), complete
//! a username from the matches shown, or propose another field's value (a service's short name
//! from its name) until that field is typed in. A refused submission keeps every input, shows
//! every error at once beside its field, and focuses the first.

use super::keys::Action;
use super::text_field::{Edit, TextField};
use crate::domain::validate::FieldError;
use crossterm::event::{KeyCode, KeyEvent};
use std::any::Any;

pub enum Kind {
    Text,
    Secret,
    Check(bool),
    Choice { options: Vec<String>, index: usize },
}

/// A check of one field's value: the message when it is wrong.
pub type Rule = fn(&str) -> Result<(), String>;

/// A check of the whole form: every error it finds, each naming its field.
pub type FormRule = fn(&Form) -> Vec<FieldError>;

/// A field whose value another field proposes, and how it is made from the proposer's.
pub type Proposal = (&'static str, fn(&str) -> String);

pub struct Field {
    /// The name `ops` uses in its field errors (`FieldError::field`).
    pub key: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    pub input: TextField,
    pub error: Option<String>,
    /// A note under the field: what it expects, or what was found (user matches).
    pub note: String,
    pub rule: Option<Rule>,
    /// Usernames that match the text, for completion (a user field).
    pub matches: Option<Vec<String>>,
    /// Another field this one proposes a value for, and how.
    pub proposes: Option<Proposal>,
    /// Typed in by the administrator: no longer proposed.
    pub touched: bool,
}

impl Field {
    fn new(key: &'static str, label: &'static str, kind: Kind, value: &str) -> Field {
        let masked = matches!(kind, Kind::Secret);
        Field {
            key,
            label,
            kind,
            input: TextField::new(value, masked),
            error: None,
            note: String::new(),
            rule: None,
            matches: None,
            proposes: None,
            touched: false,
        }
    }

    pub fn text(&self) -> String {
        self.input.text()
    }

    /// What a field that is not text shows: "[x]"/"[ ]", or "‹ choice ›".
    pub fn display(&self) -> String {
        match &self.kind {
            Kind::Text | Kind::Secret => self.input.window(usize::MAX / 2).0,
            Kind::Check(on) => if *on { "[x]" } else { "[ ]" }.into(),
            Kind::Choice { options, index } => format!("‹ {} ›", options.get(*index).map_or("", String::as_str)),
        }
    }

    pub fn is_text(&self) -> bool {
        matches!(self.kind, Kind::Text | Kind::Secret)
    }

    fn recheck(&mut self) {
        if let Some(rule) = self.rule {
            self.error = rule(self.text().trim()).err();
        } else {
            self.error = None;
        }
    }

    /// The completion of the text from its matches: the one match, or the longer common
    /// prefix of those that start with the text, or the first match.
    fn completion(&self) -> Option<String> {
        let text = self.text();
        let matches = self.matches.as_ref().filter(|m| !m.is_empty())?;
        if matches.contains(&text) {
            return None;
        }
        let starting: Vec<&String> = matches.iter().filter(|m| m.starts_with(&text)).collect();
        let prefix = starting.split_first().map(|(first, rest)| {
            rest.iter().fold(first.to_string(), |p, m| {
                p.chars().zip(m.chars()).take_while(|(a, b)| a == b).map(|(a, _)| a).collect()
            })
        });
        match prefix {
            Some(p) if p.chars().count() > text.chars().count() => Some(p),
            _ => matches.first().cloned(),
        }
    }
}

/// What a key did to a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormEvent {
    None,
    /// A field's value changed (by its key): a user field asks for its matches.
    Changed(&'static str),
    Submit,
    Cancel,
    Quit,
    Help,
}

pub struct Form {
    pub title: String,
    pub fields: Vec<Field>,
    pub focus: usize,
    /// An error that belongs to no single field.
    pub error: Option<String>,
    /// What the form is for, as the screen that opened it knows it.
    purpose: Box<dyn Any>,
    /// Something was typed or changed since the form opened.
    pub dirty: bool,
    /// Rules that span fields (a password that must not be the username).
    rule: Option<FormRule>,
}

impl Form {
    pub fn new(title: impl Into<String>, purpose: impl Any) -> Form {
        Form {
            title: title.into(),
            fields: Vec::new(),
            focus: 0,
            error: None,
            purpose: Box::new(purpose),
            dirty: false,
            rule: None,
        }
    }

    /// What the form is for, if it is a `T`.
    pub fn purpose<T: Any>(&self) -> Option<&T> {
        self.purpose.downcast_ref()
    }

    pub fn text(mut self, key: &'static str, label: &'static str, value: &str) -> Self {
        self.fields.push(Field::new(key, label, Kind::Text, value));
        self
    }

    pub fn secret(mut self, key: &'static str, label: &'static str) -> Self {
        self.fields.push(Field::new(key, label, Kind::Secret, ""));
        self
    }

    pub fn check(mut self, key: &'static str, label: &'static str, on: bool) -> Self {
        self.fields.push(Field::new(key, label, Kind::Check(on), ""));
        self
    }

    pub fn choice(mut self, key: &'static str, label: &'static str, options: Vec<String>, selected: &str) -> Self {
        let index = options.iter().position(|o| o == selected).unwrap_or(0);
        self.fields.push(Field::new(key, label, Kind::Choice { options, index }, ""));
        self
    }

    fn last(mut self, f: impl FnOnce(&mut Field)) -> Self {
        if let Some(field) = self.fields.last_mut() {
            f(field);
        }
        self
    }

    /// A note under the last field added.
    pub fn note(self, note: impl Into<String>) -> Self {
        let note = note.into();
        self.last(|f| f.note = note)
    }

    /// The last field added is checked as it is typed.
    pub fn rule(self, rule: Rule) -> Self {
        self.last(|f| f.rule = Some(rule))
    }

    /// The form is checked as a whole too, before it is handed on.
    pub fn check_with(mut self, rule: FormRule) -> Self {
        self.rule = Some(rule);
        self
    }

    /// The last field added takes a username and completes it.
    pub fn user(self) -> Self {
        self.last(|f| f.matches = Some(Vec::new()))
    }

    /// The last field added proposes `target`'s value until `target` is typed in.
    pub fn proposes(self, target: &'static str, propose: fn(&str) -> String) -> Self {
        self.last(|f| f.proposes = Some((target, propose)))
    }

    pub fn field(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.key == key)
    }

    pub fn field_mut(&mut self, key: &str) -> Option<&mut Field> {
        self.fields.iter_mut().find(|f| f.key == key)
    }

    pub fn value(&self, key: &str) -> String {
        self.field(key).map(Field::text).unwrap_or_default().trim().to_string()
    }

    /// A secret exactly as typed.
    pub fn raw(&self, key: &str) -> String {
        self.field(key).map(Field::text).unwrap_or_default()
    }

    pub fn checked(&self, key: &str) -> bool {
        matches!(self.field(key).map(|f| &f.kind), Some(Kind::Check(true)))
    }

    pub fn chosen(&self, key: &str) -> String {
        match self.field(key).map(|f| &f.kind) {
            Some(Kind::Choice { options, index }) => options.get(*index).cloned().unwrap_or_default(),
            _ => String::new(),
        }
    }

    pub fn focused(&self) -> Option<&Field> {
        self.fields.get(self.focus)
    }

    /// Puts an error beside its field, or under the form when it names none.
    pub fn set_error(&mut self, field: &str, message: impl Into<String>) {
        let message = message.into();
        match self.fields.iter_mut().find(|f| f.key == field) {
            Some(f) => f.error = Some(message),
            None => self.error = Some(message),
        }
    }

    /// Shows every error at once and focuses the first field in error.
    pub fn set_errors(&mut self, errors: Vec<FieldError>) {
        for e in errors {
            self.set_error(e.field, e.message);
        }
        if let Some(i) = self.fields.iter().position(|f| f.error.is_some()) {
            self.focus = i;
        }
    }

    /// Runs every field's rule and the form's; false (with the errors shown and the first
    /// focused) when one fails.
    pub fn check_all(&mut self) -> bool {
        self.error = None;
        for f in &mut self.fields {
            f.recheck();
        }
        if let Some(rule) = self.rule {
            for e in rule(self) {
                // A field's own rule said it first.
                if self.field(e.field).is_none_or(|f| f.error.is_none()) {
                    self.set_error(e.field, e.message);
                }
            }
        }
        match self.fields.iter().position(|f| f.error.is_some()) {
            Some(i) => {
                self.focus = i;
                false
            }
            None => true,
        }
    }

    /// Whether anything was typed that Esc or Ctrl-C would lose.
    pub fn has_input(&self) -> bool {
        self.dirty
    }

    pub fn paste(&mut self, text: &str) {
        if let Some(f) = self.fields.get_mut(self.focus).filter(|f| f.is_text()) {
            // A secret (a token, a password) is pasted whole: it replaces what was there.
            if matches!(f.kind, Kind::Secret) {
                f.input.set(text.lines().next().unwrap_or("").trim());
            } else {
                f.input.paste(text);
            }
            let key = f.key;
            self.changed(key);
        }
    }

    fn changed(&mut self, key: &'static str) {
        self.dirty = true;
        let Some(i) = self.fields.iter().position(|f| f.key == key) else { return };
        let field = &mut self.fields[i];
        field.touched = true;
        field.recheck();
        if let Some((target, propose)) = field.proposes {
            let value = propose(&field.text());
            if let Some(t) = self.field_mut(target).filter(|t| !t.touched) {
                t.input.set(&value);
                t.recheck();
            }
        }
    }

    /// A key for the form, with the action the key table gives it in a form.
    pub fn handle(&mut self, action: Option<Action>, key: &KeyEvent) -> FormEvent {
        let n = self.fields.len().max(1);
        match action {
            Some(Action::Submit) => return FormEvent::Submit,
            Some(Action::Cancel) => return FormEvent::Cancel,
            Some(Action::Quit) => return FormEvent::Quit,
            Some(Action::Help) => return FormEvent::Help,
            Some(Action::NextField) => {
                self.focus = (self.focus + 1) % n;
                return FormEvent::None;
            }
            Some(Action::PrevField) => {
                self.focus = (self.focus + n - 1) % n;
                return FormEvent::None;
            }
            Some(Action::Complete) => {
                return match self.complete() {
                    Some(key) => FormEvent::Changed(key),
                    None => {
                        self.focus = (self.focus + 1) % n;
                        FormEvent::None
                    }
                };
            }
            _ => {}
        }
        let Some(field) = self.fields.get_mut(self.focus) else { return FormEvent::None };
        let text = super::keys::text_action(key);
        let changed = match &mut field.kind {
            Kind::Check(on) => {
                let flip = key.code == KeyCode::Char(' ');
                *on ^= flip;
                flip
            }
            Kind::Choice { options, index } if !options.is_empty() => {
                let len = options.len();
                match (text, key.code) {
                    (Some(Action::CharRight), _) | (_, KeyCode::Char(' ')) => *index = (*index + 1) % len,
                    (Some(Action::CharLeft), _) => *index = (*index + len - 1) % len,
                    _ => return FormEvent::None,
                }
                true
            }
            Kind::Text | Kind::Secret => {
                // → at the end of a user field completes it, as in a shell.
                let at_end = field.input.cursor() == field.text().chars().count();
                if text == Some(Action::CharRight) && at_end && field.matches.is_some() {
                    return self.complete().map_or(FormEvent::None, FormEvent::Changed);
                }
                field.input.key(key) == Edit::Changed
            }
            Kind::Choice { .. } => false,
        };
        if changed {
            let key = field.key;
            self.changed(key);
            FormEvent::Changed(key)
        } else {
            FormEvent::None
        }
    }

    /// Completes the focused user field, if it has something to complete.
    fn complete(&mut self) -> Option<&'static str> {
        let field = self.fields.get_mut(self.focus)?;
        let completion = field.completion()?;
        field.input.set(&completion);
        let key = field.key;
        self.changed(key);
        Some(key)
    }

    /// The matches for a user field's text, from the store.
    pub fn set_matches(&mut self, key: &str, typed: &str, total: usize, names: Vec<String>) {
        let Some(f) = self.field_mut(key).filter(|f| f.text().trim() == typed) else { return };
        f.note = if typed.is_empty() {
            "type a username; Tab completes".into()
        } else if names.iter().any(|n| n == typed) {
            "✓ user found".into()
        } else if names.is_empty() {
            "no such user".into()
        } else {
            format!("{total} match: {} (Tab completes)", names.join(", "))
        };
        f.matches = Some(names);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    /// Keys as the key table hands them to a form.
    fn press(f: &mut Form, c: KeyCode) -> FormEvent {
        let e = key(c);
        let action = super::super::keys::lookup(
            super::super::keys::Context::Overlay(super::super::keys::OverlayKind::Form),
            &e,
            false,
        );
        f.handle(action, &e)
    }

    #[test]
    fn typing_tab_and_enter_are_the_forms() {
        let mut f = Form::new("t", ()).text("name", "Name", "").check("on", "On", false).secret("pw", "Password");
        for c in "ab c".chars() {
            assert_eq!(press(&mut f, KeyCode::Char(c)), FormEvent::Changed("name"));
        }
        assert_eq!(f.value("name"), "ab c");
        assert_eq!(press(&mut f, KeyCode::Tab), FormEvent::None);
        assert_eq!(f.focused().unwrap().key, "on");
        press(&mut f, KeyCode::Char(' '));
        assert!(f.checked("on"));
        press(&mut f, KeyCode::Tab);
        press(&mut f, KeyCode::Char('x'));
        assert_eq!(f.raw("pw"), "x");
        assert_eq!(f.fields[2].display(), "•");
        assert_eq!(press(&mut f, KeyCode::Enter), FormEvent::Submit);
        assert_eq!(f.value("name"), "ab c", "Enter does not insert a newline");
        assert_eq!(press(&mut f, KeyCode::BackTab), FormEvent::None);
        assert_eq!(f.focused().unwrap().key, "on");
    }

    #[test]
    fn every_error_shows_at_once_and_stays_until_its_field_is_right() {
        fn digits(v: &str) -> Result<(), String> {
            if v.chars().all(|c| c.is_ascii_digit()) { Ok(()) } else { Err("digits only".into()) }
        }
        let mut f = Form::new("t", ())
            .text("ok", "Fine", "1")
            .text("a", "A", "x1")
            .rule(digits)
            .text("b", "B", "y")
            .rule(digits);
        assert!(!f.check_all());
        assert_eq!(f.focused().unwrap().key, "a", "focus on the first error");
        assert!(f.field("a").unwrap().error.is_some() && f.field("b").unwrap().error.is_some());
        press(&mut f, KeyCode::Home);
        press(&mut f, KeyCode::Delete);
        assert_eq!(f.value("a"), "1");
        assert!(f.field("a").unwrap().error.is_none(), "fixed");
        press(&mut f, KeyCode::Char('z'));
        assert_eq!(f.field("a").unwrap().error.as_deref(), Some("digits only"), "kept while wrong");
        assert!(f.field("b").unwrap().error.is_some(), "the other error stays");
    }

    #[test]
    fn a_user_field_completes_from_its_matches() {
        let mut f = Form::new("t", ()).text("username", "User", "").user().text("next", "Next", "");
        for c in "cli".chars() {
            press(&mut f, KeyCode::Char(c));
        }
        f.set_matches("username", "cli", 2, vec!["client1".into(), "client2".into()]);
        assert!(f.field("username").unwrap().note.contains("client1, client2"));
        press(&mut f, KeyCode::Tab);
        assert_eq!(f.value("username"), "client", "the common prefix first");
        press(&mut f, KeyCode::Right);
        assert_eq!(f.value("username"), "client1");
        f.set_matches("username", "client1", 1, vec!["client1".into()]);
        press(&mut f, KeyCode::Tab);
        assert_eq!(f.focused().unwrap().key, "next", "nothing to complete: Tab moves on");
    }

    #[test]
    fn a_proposal_follows_until_the_field_is_typed_in() {
        fn slug(s: &str) -> String {
            s.to_lowercase().replace(' ', "_")
        }
        let mut f = Form::new("t", ()).text("name", "Name", "").proposes("short", slug).text("short", "Short", "");
        for c in "Ext Sys".chars() {
            press(&mut f, KeyCode::Char(c));
        }
        assert_eq!(f.value("short"), "ext_sys");
        press(&mut f, KeyCode::Tab);
        press(&mut f, KeyCode::Char('2'));
        press(&mut f, KeyCode::BackTab);
        press(&mut f, KeyCode::Char('x'));
        assert_eq!(f.value("short"), "ext_sys2", "typed in: no longer proposed");
    }

    #[test]
    fn choices_cycle() {
        let mut f = Form::new("t", ()).choice("auth", "Auth", vec!["manual".into(), "webservice".into()], "webservice");
        assert_eq!(f.chosen("auth"), "webservice");
        press(&mut f, KeyCode::Right);
        assert_eq!(f.chosen("auth"), "manual");
        press(&mut f, KeyCode::Left);
        assert_eq!(f.chosen("auth"), "webservice");
    }

    #[test]
    fn a_pasted_secret_replaces_what_was_there() {
        let mut f = Form::new("t", ()).secret("wstoken", "Token");
        f.paste("old");
        f.paste("0123abcd\n");
        assert_eq!(f.raw("wstoken"), "0123abcd");
    }
}
