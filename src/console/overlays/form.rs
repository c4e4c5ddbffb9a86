//! A form as a dialog: Enter checks every field and hands the form to the screen that opened
//! it; Esc and Ctrl-C ask first when something was typed, and Cancel comes back to the form as
//! it was. A user field asks the store (off the UI thread) for the usernames that match.

use super::confirm::Confirm;
use super::help::Help;
use super::{Areas, Overlay, Step};
use crate::console::effect::{Answer, Ctx, Effect, Job, Target};
use crate::console::form::{Form, FormEvent};
use crate::console::keys::{Action, Context, OverlayKind};
use crate::console::screens::ScreenId;
use crate::console::widgets::{block, centered, text_field, wrap_indented};
use crate::store::Queries;
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

/// Label column of a form.
const LABEL: usize = 20;

pub struct FormDialog {
    form: Box<Form>,
    owner: ScreenId,
}

/// Usernames that match a user field's text.
struct UserMatches {
    key: &'static str,
    typed: String,
    total: usize,
    names: Vec<String>,
}

impl FormDialog {
    pub fn new(form: Form, owner: ScreenId) -> FormDialog {
        FormDialog { form: Box::new(form), owner }
    }

    /// A form back from a refused change, its errors beside their fields.
    pub fn again(form: Box<Form>, owner: ScreenId) -> FormDialog {
        FormDialog { form, owner }
    }

    fn lookup(&self, key: &'static str, me: u64) -> Option<Effect> {
        let field = self.form.field(key).filter(|f| f.matches.is_some())?;
        let typed = field.text().trim().to_string();
        Some(Effect::Job(Job::background(Target::Overlay(me), "finding users…", move |store| {
            let page = store.read().and_then(|v| v.find_users(&typed, 0, 5));
            let (total, names) =
                page.map(|p| (p.total, p.rows.into_iter().map(|u| u.username).collect())).unwrap_or_default();
            UserMatches { key, typed, total, names }
        })))
    }

    fn take(&mut self) -> Box<Form> {
        std::mem::replace(&mut self.form, Box::new(Form::new("", ())))
    }
}

impl Overlay for FormDialog {
    fn kind(&self) -> OverlayKind {
        OverlayKind::Form
    }

    fn key(&mut self, action: Option<Action>, key: &KeyEvent, cx: &Ctx, me: u64) -> Step {
        match self.form.handle(action, key) {
            FormEvent::Submit => {
                if self.form.check_all() {
                    let form = self.take();
                    Step::Close(vec![Effect::Submitted(self.owner, form)])
                } else {
                    Step::Stay(Vec::new())
                }
            }
            FormEvent::Cancel if self.form.has_input() => Step::Stay(vec![Effect::Open(Box::new(Confirm::discard()))]),
            FormEvent::Cancel => Step::Close(vec![Effect::Say("cancelled".into())]),
            FormEvent::Quit if self.form.has_input() => Step::Stay(vec![Effect::Open(Box::new(Confirm::quit()))]),
            FormEvent::Quit => Step::Close(vec![Effect::Quit]),
            FormEvent::Help => Step::Stay(vec![Effect::Open(Box::new(Help::new(
                Context::Overlay(OverlayKind::Form),
                self.form.title.clone(),
                cx.read_only,
            )))]),
            FormEvent::Changed(k) => Step::Stay(self.lookup(k, me).into_iter().collect()),
            FormEvent::None => Step::Stay(Vec::new()),
        }
    }

    fn paste(&mut self, text: &str, _cx: &Ctx, me: u64) -> Step {
        self.form.paste(text);
        let key = self.form.focused().map(|f| f.key);
        Step::Stay(key.and_then(|k| self.lookup(k, me)).into_iter().collect())
    }

    fn reply(&mut self, answer: Answer) {
        if let Ok(m) = answer.downcast::<UserMatches>() {
            self.form.set_matches(m.key, &m.typed, m.total, m.names);
        }
    }

    fn has_input(&self) -> bool {
        self.form.has_input()
    }

    fn draw(&self, f: &mut Frame, areas: Areas, cx: &Ctx) {
        let t = cx.theme;
        let form = &self.form;
        // Each field's row, then its error or (when focused) its note.
        let mut rows: Vec<(Option<usize>, Line)> = Vec::new();
        for (i, field) in form.fields.iter().enumerate() {
            rows.push((Some(i), Line::raw("")));
            let under = match &field.error {
                Some(e) => Some(Line::from(Span::styled(format!("{:>LABEL$} ✗ {e}", ""), t.bad()))),
                None if !field.note.is_empty() && i == form.focus => {
                    Some(Line::from(Span::styled(format!("{:>LABEL$} {}", "", field.note), t.dim())))
                }
                None => None,
            };
            rows.extend(under.map(|l| (None, l)));
        }
        if let Some(e) = &form.error {
            for line in wrap_indented(&format!("✗ {e}"), 76, 2) {
                rows.push((None, Line::from(Span::styled(line, t.bad()))));
            }
        }
        rows.push((
            None,
            Line::from(Span::styled("Tab/↑↓ move · Space/←→ change · Enter saves · Esc cancels · F1 keys", t.dim())),
        ));
        let height = u16::try_from(rows.len() + 2).unwrap_or(u16::MAX);
        let area = centered(areas.body, 78, height);
        f.render_widget(Clear, area);
        let outer = block(form.title.clone(), &t);
        let inner = outer.inner(area);
        f.render_widget(outer, area);
        for (n, (field, line)) in rows.into_iter().enumerate() {
            let y = inner.y + u16::try_from(n).unwrap_or(u16::MAX);
            if y >= inner.bottom() {
                break;
            }
            let row = Rect { y, height: 1, ..inner };
            let Some(i) = field else {
                f.render_widget(Paragraph::new(line), row);
                continue;
            };
            let field = &form.fields[i];
            let focused = i == form.focus;
            let label = Span::styled(format!("{:>LABEL$} ", field.label), if focused { t.focus() } else { t.normal() });
            if field.is_text() {
                text_field(f, row, &t, label, &field.input, focused);
            } else {
                let style = if focused { Style::default().add_modifier(Modifier::UNDERLINED) } else { t.normal() };
                f.render_widget(Paragraph::new(Line::from(vec![label, Span::styled(field.display(), style)])), row);
            }
        }
    }
}
