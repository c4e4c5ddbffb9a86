//! A new token, shown once: `y` copies it (OSC 52), Enter or Esc closes it for good.

use super::{Areas, Overlay, Step};
use crate::console::effect::{Ctx, Effect};
use crate::console::keys::{Action, OverlayKind};
use crate::console::widgets::{block, centered};
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

pub struct Secret {
    value: String,
    copied: bool,
}

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret { value, copied: false }
    }
}

impl Overlay for Secret {
    fn kind(&self) -> OverlayKind {
        OverlayKind::Secret
    }

    fn key(&mut self, action: Option<Action>, _key: &KeyEvent, _cx: &Ctx, _me: u64) -> Step {
        match action {
            Some(Action::Copy) => {
                self.copied = true;
                Step::Stay(vec![Effect::Copy(self.value.clone())])
            }
            Some(Action::Submit) => Step::Close(vec![Effect::Say(
                if self.copied { "token copied; it is not shown again" } else { "the token is not shown again" }.into(),
            )]),
            Some(Action::Quit) => Step::Close(vec![Effect::Quit]),
            _ => Step::Stay(Vec::new()),
        }
    }

    fn draw(&self, f: &mut Frame, areas: Areas, cx: &Ctx) {
        let t = cx.theme;
        let area = centered(areas.body, 70, 9);
        f.render_widget(Clear, area);
        let lines = vec![
            Line::from(Span::styled("Copy this token now: it will not be shown again.", t.warn())),
            Line::raw(""),
            Line::from(Span::styled(self.value.clone(), t.title())),
            Line::raw(""),
            Line::from(vec![
                Span::styled("y", t.key()),
                Span::raw(if self.copied { " copied (OSC 52) ✓   " } else { " copies it (OSC 52)   " }),
                Span::styled("Enter", t.key()),
                Span::raw(" closes"),
            ]),
        ];
        f.render_widget(Paragraph::new(lines).block(block("New token", &t)), area);
    }
}
