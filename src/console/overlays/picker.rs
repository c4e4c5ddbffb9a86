//! A list to tick with a search line: a role's capabilities, a service's functions, a user's
//! roles. Enter saves the ticks that changed, in one change.

use super::{Areas, Overlay, Step};
use crate::console::effect::{Ctx, Effect, Effects};
use crate::console::keys::{Action, OverlayKind};
use crate::console::screens::List;
use crate::console::text_field::{Edit, TextField};
use crate::console::widgets::{block, centered, text_field, window, yes_no};
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

pub struct PickItem {
    pub key: String,
    pub detail: String,
    pub checked: bool,
    was_checked: bool,
}

impl PickItem {
    pub fn new(key: impl Into<String>, detail: impl Into<String>, checked: bool) -> PickItem {
        PickItem { key: key.into(), detail: detail.into(), checked, was_checked: checked }
    }
}

/// What saving does with the keys ticked on and off.
pub type Apply = Box<dyn FnOnce(Vec<String>, Vec<String>) -> Effects>;

pub struct Picker {
    title: String,
    items: Vec<PickItem>,
    search: TextField,
    list: List,
    apply: Option<Apply>,
}

impl Picker {
    pub fn new(title: impl Into<String>, items: Vec<PickItem>, apply: Apply) -> Picker {
        Picker { title: title.into(), items, search: TextField::default(), list: List::default(), apply: Some(apply) }
    }

    fn visible(&self) -> Vec<usize> {
        let needle = self.search.text().to_lowercase();
        (0..self.items.len())
            .filter(|i| {
                let it = &self.items[*i];
                needle.is_empty()
                    || it.key.to_lowercase().contains(&needle)
                    || it.detail.to_lowercase().contains(&needle)
            })
            .collect()
    }
}

impl Overlay for Picker {
    fn kind(&self) -> OverlayKind {
        OverlayKind::Picker
    }

    fn key(&mut self, action: Option<Action>, key: &KeyEvent, cx: &Ctx, _me: u64) -> Step {
        let visible = self.visible();
        match action {
            Some(Action::Cancel) => return Step::Close(vec![Effect::Say("cancelled".into())]),
            Some(Action::Quit) => return Step::Close(vec![Effect::Quit]),
            Some(Action::Submit) => {
                let on = self.items.iter().filter(|i| i.checked && !i.was_checked).map(|i| i.key.clone()).collect();
                let off = self.items.iter().filter(|i| !i.checked && i.was_checked).map(|i| i.key.clone()).collect();
                let apply = self.apply.take();
                return Step::Close(apply.map(|a| a(on, off)).unwrap_or_default());
            }
            Some(Action::Tick) => {
                if let Some(&i) = visible.get(self.list.at(visible.len())) {
                    self.items[i].checked = !self.items[i].checked;
                }
            }
            Some(a @ (Action::Up | Action::Down)) => {
                self.list.step(a, visible.len(), cx.page());
            }
            _ => {
                if self.search.key(key) == Edit::Changed {
                    self.list.selected = 0;
                }
            }
        }
        Step::Stay(Vec::new())
    }

    fn paste(&mut self, text: &str, _cx: &Ctx, _me: u64) -> Step {
        self.search.paste(text);
        self.list.selected = 0;
        Step::Stay(Vec::new())
    }

    fn has_input(&self) -> bool {
        self.items.iter().any(|i| i.checked != i.was_checked)
    }

    fn draw(&self, f: &mut Frame, areas: Areas, cx: &Ctx) {
        let t = cx.theme;
        let area = centered(areas.body, areas.body.width.saturating_sub(2), areas.body.height);
        f.render_widget(Clear, area);
        let outer = block(format!("{} · Space ticks, Enter saves, Esc cancels", self.title), &t);
        let inner = outer.inner(area);
        f.render_widget(outer, area);
        text_field(f, Rect { height: 1, ..inner }, &t, Span::styled("search: ", t.dim()), &self.search, true);
        let visible = self.visible();
        let height = usize::from(inner.height.saturating_sub(1));
        let sel = self.list.at(visible.len());
        let (start, end) = window(sel, visible.len(), height);
        let key_width = self.items.iter().map(|i| i.key.chars().count()).max().unwrap_or(0).min(36);
        let mut lines = Vec::new();
        for (row, &i) in visible[start..end].iter().enumerate() {
            let it = &self.items[i];
            let line = Line::from(vec![
                Span::raw(format!("{} {:<key_width$} ", yes_no(it.checked), it.key)),
                Span::styled(it.detail.clone(), t.dim()),
            ]);
            lines.push(if start + row == sel { line.style(t.selected()) } else { line });
        }
        if visible.is_empty() {
            lines.push(Line::from(Span::styled(format!("No match for \"{}\".", self.search.text()), t.dim())));
        }
        f.render_widget(
            Paragraph::new(lines),
            Rect { y: inner.y + 1, height: inner.height.saturating_sub(1), ..inner },
        );
    }
}
