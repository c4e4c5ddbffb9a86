//! Keys and pastes: the dialog on top gets them, or else the screen shown, each through the
//! key table; the keys every screen shares (help, palette, filter, digits, Esc) are answered here.

use super::Shell;
use crate::console::effect::{Ctx, Effect};
use crate::console::keys::{self, Action, Context};
use crate::console::overlays::filter::Filter;
use crate::console::overlays::help::Help;
use crate::console::overlays::palette::Palette;
use crossterm::event::{KeyCode, KeyEvent};

impl Shell {
    pub(super) fn paste(&mut self, text: &str) {
        let Some(data) = self.data.as_deref() else { return };
        let cx = ctx!(self, data);
        if let Some((id, o)) = self.overlays.last_mut() {
            let step = o.paste(text, &cx, *id);
            self.step(step);
        }
    }

    pub fn key(&mut self, key: &KeyEvent) {
        if self.too_small() {
            // The screen is hidden: only quitting works, and not over typed input.
            let quit = keys::lookup(Context::Screen(self.screen()), key, self.read_only) == Some(Action::Quit);
            if quit && !self.overlays.iter().any(|(_, o)| o.has_input()) {
                self.quit = true;
            }
            return;
        }
        let context = self.context();
        let action = keys::lookup(context, key, self.read_only);
        let Some(data) = self.data.as_deref() else { return };
        let cx = ctx!(self, data);
        if let Some((id, o)) = self.overlays.last_mut() {
            let step = o.key(action, key, &cx, *id);
            self.step(step);
            return;
        }
        self.message = None;
        let Some(action) = action else { return };
        let effects = match action {
            Action::Quit => vec![Effect::Quit],
            Action::Help => {
                let title = self.current().meta().title;
                vec![Effect::Open(Box::new(Help::new(context, title, self.read_only)))]
            }
            Action::Palette => vec![Effect::Open(Box::new(Palette::new(&self.metas(), self.read_only)))],
            Action::Filter => match self.current().filter() {
                Some(f) => vec![Effect::Open(Box::new(Filter::new(f)))],
                None => Vec::new(),
            },
            Action::Refresh => vec![Effect::Refresh],
            Action::GoNumber => {
                let digit = match key.code {
                    KeyCode::Char(c) => Some(c),
                    _ => None,
                };
                self.screens.iter().find(|s| s.meta().number == digit).map(|s| Effect::Go(s.id())).into_iter().collect()
            }
            Action::Go(s) => vec![Effect::Go(s)],
            Action::Back => {
                let screen = self.current();
                if screen.filter().is_some_and(|f| !f.is_empty()) {
                    vec![Effect::Filter(String::new())]
                } else {
                    screen.meta().parent.map(Effect::Go).into_iter().collect()
                }
            }
            other => self.screens[self.current].act(other, &cx),
        };
        self.apply(effects);
    }
}
