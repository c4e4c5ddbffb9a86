//! A one-line text input over tui-textarea: readline's keys (the key table's text bindings),
//! an optional mask for passwords, and the window of text that keeps the cursor in view. The
//! caller draws it and puts the terminal's cursor where insertion happens.

use super::keys::{self, Action};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tui_textarea::{CursorMove, TextArea};

pub struct TextField {
    area: TextArea<'static>,
    masked: bool,
}

/// What a key did to a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    Changed,
    Moved,
    Ignored,
}

impl Default for TextField {
    fn default() -> Self {
        TextField::new("", false)
    }
}

impl TextField {
    pub fn new(value: &str, masked: bool) -> TextField {
        let mut area = TextArea::new(vec![value.to_string()]);
        area.move_cursor(CursorMove::End);
        TextField { area, masked }
    }

    pub fn text(&self) -> String {
        self.area.lines().concat()
    }

    pub fn is_empty(&self) -> bool {
        self.area.lines().iter().all(String::is_empty)
    }

    /// Replaces the text; the cursor goes to its end.
    pub fn set(&mut self, value: &str) {
        *self = TextField::new(value, self.masked);
    }

    /// The cursor, in characters from the start.
    pub fn cursor(&self) -> usize {
        self.area.cursor().1
    }

    /// Pasted text: its first line, inserted at the cursor.
    pub fn paste(&mut self, text: &str) {
        let line = text.lines().next().unwrap_or("");
        self.area.insert_str(line);
    }

    pub fn key(&mut self, key: &KeyEvent) -> Edit {
        let before = self.cursor();
        let changed = match keys::text_action(key) {
            Some(Action::CharLeft) => self.moved(CursorMove::Back),
            Some(Action::CharRight) => self.moved(CursorMove::Forward),
            Some(Action::LineStart) => self.moved(CursorMove::Head),
            Some(Action::LineEnd) => self.moved(CursorMove::End),
            Some(Action::DeleteToStart) => self.area.delete_line_by_head(),
            Some(Action::DeleteToEnd) => self.area.delete_line_by_end(),
            Some(Action::DeleteWord) => self.area.delete_word(),
            Some(_) => false,
            None if key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) => false,
            None => match key.code {
                KeyCode::Char(c) => {
                    self.area.insert_char(c);
                    true
                }
                KeyCode::Backspace => self.area.delete_char(),
                KeyCode::Delete => self.area.delete_next_char(),
                _ => false,
            },
        };
        if changed {
            Edit::Changed
        } else if self.cursor() != before {
            Edit::Moved
        } else {
            Edit::Ignored
        }
    }

    fn moved(&mut self, m: CursorMove) -> bool {
        self.area.move_cursor(m);
        false
    }

    /// What shows in `width` columns, and the cursor's column within it: the text (or one
    /// bullet per character when masked), scrolled so the cursor stays in view.
    pub fn window(&self, width: usize) -> (String, usize) {
        let shown: Vec<char> =
            if self.masked { vec!['•'; self.text().chars().count()] } else { self.text().chars().collect() };
        let width = width.max(1);
        let cursor = self.cursor().min(shown.len());
        let start = (cursor + 1).saturating_sub(width);
        let visible: String = shown.iter().skip(start).take(width).collect();
        (visible, cursor - start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }
    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }
    fn typed(f: &mut TextField, s: &str) {
        for c in s.chars() {
            f.key(&key(KeyCode::Char(c)));
        }
    }

    #[test]
    fn readline_keys_edit_where_the_cursor_is() {
        let mut f = TextField::default();
        typed(&mut f, "hello world");
        assert_eq!(f.key(&key(KeyCode::Left)), Edit::Moved);
        assert_eq!(f.cursor(), 10);
        f.key(&key(KeyCode::Home));
        typed(&mut f, ">");
        assert_eq!((f.text().as_str(), f.cursor()), (">hello world", 1));
        f.key(&ctrl('e'));
        assert_eq!(f.key(&ctrl('w')), Edit::Changed);
        assert_eq!(f.text(), ">hello ");
        f.key(&ctrl('a'));
        f.key(&key(KeyCode::Right));
        f.key(&ctrl('k'));
        assert_eq!(f.text(), ">");
        typed(&mut f, "abc");
        f.key(&key(KeyCode::Left));
        f.key(&ctrl('u'));
        assert_eq!((f.text().as_str(), f.cursor()), ("c", 0), "Ctrl-U deletes to the start, not undo");
    }

    #[test]
    fn the_window_keeps_the_cursor_in_view_and_masks() {
        let mut f = TextField::new("abcdefghij", false);
        assert_eq!(f.window(5), ("ghij".to_string(), 4));
        f.key(&key(KeyCode::Home));
        assert_eq!(f.window(5), ("abcde".to_string(), 0));
        let p = TextField::new("pw", true);
        assert_eq!(p.window(10), ("••".to_string(), 2));
    }
}
