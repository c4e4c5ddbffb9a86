//! Dialogs over a screen, on a stack: the top one has the keyboard. Each is one file with its
//! state, its keys (from the one key table, in its [`OverlayKind`]'s context) and its drawing.

pub mod confirm;
pub mod filter;
pub mod form;
pub mod help;
pub mod palette;
pub mod picker;
pub mod secret;
pub mod typed;

use super::effect::{Answer, Ctx, Effects};
use super::keys::{Action, OverlayKind};
use super::screens::Hint;
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

/// What a key did to a dialog.
pub enum Step {
    /// The dialog stays open.
    Stay(Effects),
    /// The dialog closes; then the effects run.
    Close(Effects),
}

/// Where a dialog may draw: over the screen's body, or on the status line (the filter).
#[derive(Debug, Clone, Copy)]
pub struct Areas {
    pub body: Rect,
    pub status: Rect,
}

pub trait Overlay {
    fn kind(&self) -> OverlayKind;

    /// A key, with the action the key table gives it in this dialog's context. `me` names the
    /// dialog for the jobs it starts.
    fn key(&mut self, action: Option<Action>, key: &KeyEvent, cx: &Ctx, me: u64) -> Step;

    fn paste(&mut self, _text: &str, _cx: &Ctx, _me: u64) -> Step {
        Step::Stay(Vec::new())
    }

    fn draw(&self, f: &mut Frame, areas: Areas, cx: &Ctx);

    /// A job this dialog started has answered.
    fn reply(&mut self, _answer: Answer) {}

    /// Whether closing it would lose typed input (Ctrl-C asks first then).
    fn has_input(&self) -> bool {
        false
    }

    /// Whether and how an action shows in the footer now.
    fn hint(&self, _action: Action) -> Hint {
        Hint::Shown
    }
}
