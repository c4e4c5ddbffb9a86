//! A yes/no question whose default is the harmless answer: Enter on the dialog as it opens
//! does nothing (CONSOLE.md: no key destroys anything without a dialog).

use super::{Areas, Overlay, Step};
use crate::console::effect::{Ctx, Effect, Effects};
use crate::console::keys::{Action, OverlayKind};
use crate::console::widgets::{block, centered};
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

pub struct Confirm {
    text: String,
    yes: &'static str,
    no: &'static str,
    yes_focused: bool,
    on_yes: Effects,
    on_no: Effects,
}

impl Confirm {
    /// Asks `text`; the `yes` button runs `on_yes`. "Cancel" is focused first and says so.
    pub fn new(text: impl Into<String>, yes: &'static str, on_yes: Effects) -> Confirm {
        Confirm {
            text: text.into(),
            yes,
            no: "Cancel",
            yes_focused: false,
            on_yes,
            on_no: vec![Effect::Say("cancelled".into())],
        }
    }

    /// Ctrl-C over a form with input: Cancel goes back to the form, as it was.
    pub fn quit() -> Confirm {
        Confirm { on_no: Vec::new(), ..Confirm::new("Quit and lose what you typed?", "Quit", vec![Effect::Quit]) }
    }

    /// Esc over a form with input: Cancel goes back to the form; Discard closes it.
    pub fn discard() -> Confirm {
        Confirm {
            no: "Keep editing",
            on_no: Vec::new(),
            ..Confirm::new(
                "Discard what you typed in this form?",
                "Discard",
                vec![Effect::CloseDialog, Effect::Say("discarded".into())],
            )
        }
    }
}

impl Overlay for Confirm {
    fn kind(&self) -> OverlayKind {
        OverlayKind::Confirm
    }

    fn key(&mut self, action: Option<Action>, _key: &KeyEvent, _cx: &Ctx, _me: u64) -> Step {
        let yes = std::mem::take(&mut self.on_yes);
        let no = std::mem::take(&mut self.on_no);
        let (keep_yes, keep_no) = match action {
            Some(Action::Yes) => return Step::Close(yes),
            Some(Action::No | Action::Cancel) => return Step::Close(no),
            Some(Action::Submit) => return Step::Close(if self.yes_focused { yes } else { no }),
            Some(Action::Quit) => return Step::Close(vec![Effect::Quit]),
            Some(Action::Choose) => {
                self.yes_focused = !self.yes_focused;
                (yes, no)
            }
            _ => (yes, no),
        };
        self.on_yes = keep_yes;
        self.on_no = keep_no;
        Step::Stay(Vec::new())
    }

    fn draw(&self, f: &mut Frame, areas: Areas, cx: &Ctx) {
        let t = cx.theme;
        let area = centered(areas.body, 64, 8);
        f.render_widget(Clear, area);
        let button =
            |label: &str, on: bool| Span::styled(format!("[ {label} ]"), if on { t.selected() } else { t.normal() });
        let lines = vec![
            Line::raw(self.text.clone()),
            Line::raw(""),
            Line::from(vec![button(self.no, !self.yes_focused), Span::raw("   "), button(self.yes, self.yes_focused)]),
        ];
        let title = format!("Confirm (y {} · n {} · ← → Enter)", self.yes.to_lowercase(), self.no.to_lowercase());
        f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }).block(block(title, &t)), area);
    }
}
