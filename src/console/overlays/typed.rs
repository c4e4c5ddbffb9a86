//! A confirmation by typing a name, for changes that touch many rows (bulk revocation).

use super::{Areas, Overlay, Step};
use crate::console::effect::{Ctx, Effect, Write};
use crate::console::keys::{Action, OverlayKind};
use crate::console::text_field::TextField;
use crate::console::widgets::{block, centered, text_field};
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

pub struct Typed {
    text: String,
    expect: String,
    input: TextField,
    error: Option<String>,
    on_yes: Option<Write>,
}

impl Typed {
    pub fn new(text: String, expect: String, on_yes: Write) -> Typed {
        Typed { text, expect, input: TextField::default(), error: None, on_yes: Some(on_yes) }
    }
}

impl Overlay for Typed {
    fn kind(&self) -> OverlayKind {
        OverlayKind::Typed
    }

    fn key(&mut self, action: Option<Action>, key: &KeyEvent, _cx: &Ctx, _me: u64) -> Step {
        match action {
            Some(Action::Cancel) => Step::Close(vec![Effect::Say("cancelled".into())]),
            Some(Action::Quit) => Step::Close(vec![Effect::Quit]),
            Some(Action::Submit) if self.input.text().trim() == self.expect => {
                Step::Close(self.on_yes.take().map(Effect::Write).into_iter().collect())
            }
            Some(Action::Submit) => {
                self.error = Some(format!("type {} exactly, or Esc to cancel", self.expect));
                Step::Stay(Vec::new())
            }
            _ => {
                self.input.key(key);
                self.error = None;
                Step::Stay(Vec::new())
            }
        }
    }

    fn paste(&mut self, text: &str, _cx: &Ctx, _me: u64) -> Step {
        self.input.paste(text);
        Step::Stay(Vec::new())
    }

    fn has_input(&self) -> bool {
        !self.input.is_empty()
    }

    fn draw(&self, f: &mut Frame, areas: Areas, cx: &Ctx) {
        let t = cx.theme;
        let area = centered(areas.body, 64, 9);
        f.render_widget(Clear, area);
        let outer = block("Confirm by typing", &t);
        let inner = outer.inner(area);
        f.render_widget(outer, area);
        let mut lines = vec![Line::raw(self.text.clone())];
        if let Some(e) = &self.error {
            lines.push(Line::from(Span::styled(e.clone(), t.bad())));
        }
        let text_height = inner.height.saturating_sub(2);
        f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), Rect { height: text_height, ..inner });
        let row = Rect { y: inner.y + text_height + 1, height: 1, ..inner };
        text_field(f, row, &t, Span::styled("> ", t.key()), &self.input, true);
    }
}
