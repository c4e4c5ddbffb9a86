//! Forms: single-line text fields (tui-textarea), a masked password field, checkboxes and
//! choices. Application keys are handled before a key reaches a text area (CONSOLE.md: it
//! would otherwise insert a tab or a newline). A refused submission keeps every input and
//! shows the error beside its field.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tui_textarea::TextArea;

pub enum Kind {
    Text,
    Secret,
    Check(bool),
    Choice { options: Vec<String>, index: usize },
}

pub struct Field {
    /// The name `ops` uses in its field errors (`FieldError::field`).
    pub key: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    pub input: TextArea<'static>,
    pub error: Option<String>,
    /// A note under the field: what it expects, or what was found (user suggestions).
    pub note: String,
}

impl Field {
    fn new(key: &'static str, label: &'static str, kind: Kind, value: &str) -> Field {
        let mut input = TextArea::new(vec![value.to_string()]);
        input.move_cursor(tui_textarea::CursorMove::End);
        input.set_cursor_line_style(ratatui::style::Style::default());
        if matches!(kind, Kind::Secret) {
            input.set_mask_char('•');
        }
        Field { key, label, kind, input, error: None, note: String::new() }
    }

    pub fn text(&self) -> String {
        self.input.lines().concat()
    }

    /// What the field shows: its text, "[x]"/"[ ]", or "‹ choice ›".
    pub fn display(&self) -> String {
        match &self.kind {
            Kind::Text => self.text(),
            Kind::Secret => "•".repeat(self.text().chars().count()),
            Kind::Check(on) => if *on { "[x]" } else { "[ ]" }.into(),
            Kind::Choice { options, index } => format!("‹ {} ›", options.get(*index).map_or("", String::as_str)),
        }
    }

    pub fn is_text(&self) -> bool {
        matches!(self.kind, Kind::Text | Kind::Secret)
    }
}

/// What a key did to a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormEvent {
    None,
    /// A field's value changed: live validation may run.
    Changed,
    Submit,
    Cancel,
}

pub struct Form<P> {
    pub title: String,
    pub fields: Vec<Field>,
    pub focus: usize,
    /// An error that belongs to no single field.
    pub error: Option<String>,
    pub purpose: P,
    pub dirty: bool,
}

impl<P> Form<P> {
    pub fn new(title: impl Into<String>, purpose: P) -> Form<P> {
        Form { title: title.into(), fields: Vec::new(), focus: 0, error: None, purpose, dirty: false }
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

    pub fn note(mut self, key: &str, note: impl Into<String>) -> Self {
        if let Some(f) = self.fields.iter_mut().find(|f| f.key == key) {
            f.note = note.into();
        }
        self
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

    pub fn set_value(&mut self, key: &str, value: &str) {
        if let Some(f) = self.field_mut(key) {
            f.input = TextArea::new(vec![value.to_string()]);
            f.input.move_cursor(tui_textarea::CursorMove::End);
            f.input.set_cursor_line_style(ratatui::style::Style::default());
            if matches!(f.kind, Kind::Secret) {
                f.input.set_mask_char('•');
            }
        }
    }

    pub fn focused_key(&self) -> &'static str {
        self.fields.get(self.focus).map_or("", |f| f.key)
    }

    /// Clears every error before a new submission.
    pub fn clear_errors(&mut self) {
        self.error = None;
        for f in &mut self.fields {
            f.error = None;
        }
    }

    /// Puts an error beside its field (and focuses it), or under the form.
    pub fn set_error(&mut self, field: &str, message: impl Into<String>) {
        let message = message.into();
        match self.fields.iter().position(|f| f.key == field) {
            Some(i) => {
                self.fields[i].error = Some(message);
                self.focus = i;
            }
            None => self.error = Some(message),
        }
    }

    pub fn handle(&mut self, key: &KeyEvent) -> FormEvent {
        let n = self.fields.len().max(1);
        match key.code {
            KeyCode::Esc => return FormEvent::Cancel,
            KeyCode::Enter => return FormEvent::Submit,
            KeyCode::Tab | KeyCode::Down => {
                self.focus = (self.focus + 1) % n;
                return FormEvent::None;
            }
            KeyCode::BackTab | KeyCode::Up => {
                self.focus = (self.focus + n - 1) % n;
                return FormEvent::None;
            }
            _ => {}
        }
        let Some(field) = self.fields.get_mut(self.focus) else { return FormEvent::None };
        let changed = match &mut field.kind {
            Kind::Check(on) if key.code == KeyCode::Char(' ') => {
                *on = !*on;
                true
            }
            Kind::Choice { options, index } if !options.is_empty() => match key.code {
                KeyCode::Right | KeyCode::Char(' ') | KeyCode::Char('l') => {
                    *index = (*index + 1) % options.len();
                    true
                }
                KeyCode::Left | KeyCode::Char('h') => {
                    *index = (*index + options.len() - 1) % options.len();
                    true
                }
                _ => false,
            },
            Kind::Text | Kind::Secret => {
                // Pasted text and Shift-Tab arrive as a null key: ignore them here.
                if key.code == KeyCode::Null
                    || key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('m')
                {
                    false
                } else {
                    field.input.input(*key)
                }
            }
            _ => false,
        };
        if changed {
            field.error = None;
            self.dirty = true;
            FormEvent::Changed
        } else {
            FormEvent::None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn typing_tab_and_enter_are_the_forms() {
        let mut f = Form::new("t", ()).text("name", "Name", "").check("on", "On", false).secret("pw", "Password");
        for c in "ab c".chars() {
            assert_eq!(f.handle(&key(KeyCode::Char(c))), FormEvent::Changed);
        }
        assert_eq!(f.value("name"), "ab c");
        assert_eq!(f.handle(&key(KeyCode::Tab)), FormEvent::None);
        assert_eq!(f.focused_key(), "on");
        f.handle(&key(KeyCode::Char(' ')));
        assert!(f.checked("on"));
        f.handle(&key(KeyCode::Tab));
        f.handle(&key(KeyCode::Char('x')));
        assert_eq!(f.raw("pw"), "x");
        assert_eq!(f.fields[2].display(), "•");
        assert_eq!(f.handle(&key(KeyCode::Enter)), FormEvent::Submit);
        assert_eq!(f.value("name"), "ab c", "Enter does not insert a newline");
        assert_eq!(f.handle(&key(KeyCode::BackTab)), FormEvent::None);
        assert_eq!(f.focused_key(), "on");
    }

    #[test]
    fn errors_land_beside_their_field_and_keep_the_input() {
        let mut f = Form::new("t", ()).text("username", "Username", "Bad Name").text("email", "E-mail", "x");
        f.set_error("email", "not an address");
        assert_eq!(f.focused_key(), "email");
        assert_eq!(f.field("email").unwrap().error.as_deref(), Some("not an address"));
        f.set_error("other", "conflict");
        assert_eq!(f.error.as_deref(), Some("conflict"));
        assert_eq!(f.value("username"), "Bad Name");
    }

    #[test]
    fn choices_cycle() {
        let mut f = Form::new("t", ()).choice("auth", "Auth", vec!["manual".into(), "webservice".into()], "webservice");
        assert_eq!(f.chosen("auth"), "webservice");
        f.handle(&key(KeyCode::Right));
        assert_eq!(f.chosen("auth"), "manual");
        f.handle(&key(KeyCode::Left));
        assert_eq!(f.chosen("auth"), "webservice");
    }
}
