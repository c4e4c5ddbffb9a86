//! `?` and F1: every key of the screen or dialog below, from the key table, one per line.

use super::{Areas, Overlay, Step};
use crate::console::effect::{Ctx, Effect};
use crate::console::keys::{self, Action, Context, OverlayKind};
use crate::console::widgets::{block, centered, wrap_indented};
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

pub struct Help {
    title: String,
    entries: Vec<(String, &'static str)>,
    scroll: usize,
}

impl Help {
    /// The keys of `context`, under `title` (the screen's or the dialog's name).
    pub fn new(context: Context, title: impl Into<String>, read_only: bool) -> Help {
        Help { title: title.into(), entries: keys::help(context, read_only), scroll: 0 }
    }

    fn lines(&self, width: usize) -> Vec<(String, String)> {
        let key_width = self.entries.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0).min(24) + 2;
        let mut out = Vec::new();
        for (k, h) in &self.entries {
            let text = wrap_indented(h, width.saturating_sub(key_width), 0);
            for (i, line) in text.into_iter().enumerate() {
                let key = if i == 0 { format!("{k:<key_width$}") } else { " ".repeat(key_width) };
                out.push((key, line));
            }
        }
        out
    }
}

impl Overlay for Help {
    fn kind(&self) -> OverlayKind {
        OverlayKind::Help
    }

    fn key(&mut self, action: Option<Action>, _key: &KeyEvent, _cx: &Ctx, _me: u64) -> Step {
        match action {
            Some(Action::Cancel) => Step::Close(Vec::new()),
            Some(Action::Quit) => Step::Close(vec![Effect::Quit]),
            Some(Action::Up) => {
                self.scroll = self.scroll.saturating_sub(1);
                Step::Stay(Vec::new())
            }
            Some(Action::Down) => {
                self.scroll = (self.scroll + 1).min(self.entries.len() * 2);
                Step::Stay(Vec::new())
            }
            _ => Step::Stay(Vec::new()),
        }
    }

    fn draw(&self, f: &mut Frame, areas: Areas, cx: &Ctx) {
        let t = cx.theme;
        let area = centered(areas.body, 90, areas.body.height);
        f.render_widget(Clear, area);
        let lines = self.lines(usize::from(area.width.saturating_sub(2)));
        let height = usize::from(area.height.saturating_sub(2));
        let scroll = self.scroll.min(lines.len().saturating_sub(height));
        let more = if lines.len() > height { " · ↑↓ scroll" } else { "" };
        let title = format!("Keys: {} (Esc closes{more})", self.title);
        let shown: Vec<Line> = lines
            .into_iter()
            .skip(scroll)
            .take(height)
            .map(|(k, h)| Line::from(vec![Span::styled(k, t.key()), Span::raw(h)]))
            .collect();
        f.render_widget(Paragraph::new(shown).block(block(title, &t)), area);
    }
}
