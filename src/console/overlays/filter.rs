//! `/`: the screen's filter, typed on the status line; the list narrows with each key.

use super::{Areas, Overlay, Step};
use crate::console::effect::{Ctx, Effect};
use crate::console::keys::{Action, OverlayKind};
use crate::console::text_field::{Edit, TextField};
use crate::console::widgets::text_field;
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::text::Span;
use ratatui::widgets::Clear;

pub struct Filter {
    input: TextField,
}

impl Filter {
    pub fn new(current: &str) -> Filter {
        Filter { input: TextField::new(current, false) }
    }
}

impl Overlay for Filter {
    fn kind(&self) -> OverlayKind {
        OverlayKind::Filter
    }

    fn key(&mut self, action: Option<Action>, key: &KeyEvent, _cx: &Ctx, _me: u64) -> Step {
        match action {
            Some(Action::Submit) => Step::Close(Vec::new()),
            Some(Action::Cancel) => Step::Close(vec![Effect::Filter(String::new())]),
            Some(Action::Quit) => Step::Close(vec![Effect::Quit]),
            _ => match self.input.key(key) {
                Edit::Changed => Step::Stay(vec![Effect::Filter(self.input.text())]),
                _ => Step::Stay(Vec::new()),
            },
        }
    }

    fn paste(&mut self, text: &str, _cx: &Ctx, _me: u64) -> Step {
        self.input.paste(text);
        Step::Stay(vec![Effect::Filter(self.input.text())])
    }

    fn draw(&self, f: &mut Frame, areas: Areas, cx: &Ctx) {
        f.render_widget(Clear, areas.status);
        text_field(f, areas.status, &cx.theme, Span::styled("/", cx.theme.key()), &self.input, true);
    }
}
