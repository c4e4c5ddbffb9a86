//! `:`: the command palette. It lists screens and actions that match as you type (`:tok` →
//! tokens; `:new t` → new token), Tab completes the selected one, Enter runs it.

use super::{Areas, Overlay, Step};
use crate::console::effect::{Ctx, Effect};
use crate::console::keys::{Action, OverlayKind};
use crate::console::screens::{self, List, Meta, ScreenId};
use crate::console::text_field::{Edit, TextField};
use crate::console::widgets::{block, centered, text_field};
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    Go(ScreenId),
    Act(ScreenId, Action),
    Quit,
    Refresh,
}

struct Command {
    name: String,
    about: String,
    run: Run,
}

/// The actions the palette offers beside the screens: (name, what it does, where, action, writes).
const ACTIONS: &[(&str, &str, ScreenId, Action, bool)] = &[
    ("new user", "add a user", screens::users::ID, Action::New, true),
    ("new role", "add a role and pick its capabilities", screens::roles::ID, Action::New, true),
    ("new service", "add a custom service", screens::services::ID, Action::New, true),
    ("new token", "create a token for a user", screens::tokens::ID, Action::New, true),
    ("revoke", "revoke the token selected on Tokens (asks first)", screens::tokens::ID, Action::Delete, true),
    (
        "revoke user",
        "revoke every token of the selected token's user",
        screens::tokens::ID,
        Action::RevokeUserTokens,
        true,
    ),
    (
        "revoke service",
        "revoke every token of the selected token's service",
        screens::tokens::ID,
        Action::RevokeServiceTokens,
        true,
    ),
    ("send", "test client: send the checked call", screens::check::ID, Action::Send, false),
];

pub struct Palette {
    input: TextField,
    commands: Vec<Command>,
    list: List,
    error: Option<String>,
}

impl Palette {
    pub fn new(metas: &[&'static Meta], read_only: bool) -> Palette {
        let mut commands = Vec::new();
        for m in metas {
            for name in std::iter::once(m.id.0).chain(m.aliases.iter().copied()) {
                commands.push(Command { name: name.into(), about: format!("go to {}", m.title), run: Run::Go(m.id) });
            }
        }
        for (name, about, screen, action, writes) in ACTIONS {
            if !(read_only && *writes) {
                commands.push(Command {
                    name: (*name).into(),
                    about: (*about).into(),
                    run: Run::Act(*screen, *action),
                });
            }
        }
        commands.push(Command { name: "refresh".into(), about: "reread everything now".into(), run: Run::Refresh });
        commands.push(Command { name: "quit".into(), about: "quit wsconsole".into(), run: Run::Quit });
        commands.push(Command { name: "q".into(), about: "quit wsconsole".into(), run: Run::Quit });
        Palette { input: TextField::default(), commands, list: List::default(), error: None }
    }

    /// The commands that match what is typed: exact name first, then those it begins, then
    /// those that contain it.
    fn matches(&self) -> Vec<&Command> {
        let typed = self.input.text().trim().trim_start_matches(':').to_lowercase();
        let mut ranked: Vec<(u8, &Command)> = self
            .commands
            .iter()
            .filter_map(|c| {
                let rank = if c.name == typed {
                    0
                } else if c.name.starts_with(&typed) {
                    1
                } else if c.name.contains(&typed) {
                    2
                } else {
                    return None;
                };
                Some((rank, c))
            })
            .collect();
        ranked.sort_by_key(|(rank, _)| *rank);
        ranked.into_iter().map(|(_, c)| c).collect()
    }
}

impl Overlay for Palette {
    fn kind(&self) -> OverlayKind {
        OverlayKind::Palette
    }

    fn key(&mut self, action: Option<Action>, key: &KeyEvent, cx: &Ctx, _me: u64) -> Step {
        let count = self.matches().len();
        match action {
            Some(Action::Cancel) => return Step::Close(Vec::new()),
            Some(Action::Quit) => return Step::Close(vec![Effect::Quit]),
            Some(a @ (Action::Up | Action::Down)) => {
                self.list.step(a, count, cx.page());
            }
            Some(Action::Complete) => {
                if let Some(c) = self.matches().get(self.list.at(count)) {
                    let name = c.name.clone();
                    self.input.set(&name);
                    self.list.selected = 0;
                }
            }
            Some(Action::Submit) => {
                let Some(c) = self.matches().get(self.list.at(count)).map(|c| c.run) else {
                    self.error = Some(format!("no screen or action called \"{}\"", self.input.text().trim()));
                    return Step::Stay(Vec::new());
                };
                return Step::Close(vec![match c {
                    Run::Go(s) => Effect::Go(s),
                    Run::Act(s, a) => Effect::GoAndAct(s, a),
                    Run::Quit => Effect::Quit,
                    Run::Refresh => Effect::Refresh,
                }]);
            }
            _ => {
                if self.input.key(key) == Edit::Changed {
                    self.list.selected = 0;
                    self.error = None;
                }
            }
        }
        Step::Stay(Vec::new())
    }

    fn paste(&mut self, text: &str, _cx: &Ctx, _me: u64) -> Step {
        self.input.paste(text);
        self.list.selected = 0;
        Step::Stay(Vec::new())
    }

    fn draw(&self, f: &mut Frame, areas: Areas, cx: &Ctx) {
        let t = cx.theme;
        let matches = self.matches();
        let shown = matches.len().clamp(1, 8);
        let area = centered(areas.body, 64, u16::try_from(shown + 4).unwrap_or(12));
        f.render_widget(Clear, area);
        let outer = block("Command (Tab completes, Enter runs, Esc closes)", &t);
        let inner = outer.inner(area);
        f.render_widget(outer, area);
        text_field(f, Rect { height: 1, ..inner }, &t, Span::styled(":", t.key()), &self.input, true);
        let sel = self.list.at(matches.len());
        let start = (sel + 1).saturating_sub(shown);
        let mut lines: Vec<Line> = matches
            .iter()
            .enumerate()
            .skip(start)
            .take(shown)
            .map(|(i, c)| {
                let line =
                    Line::from(vec![Span::raw(format!("{:<16}", c.name)), Span::styled(c.about.clone(), t.dim())]);
                if i == sel { line.style(t.selected()) } else { line }
            })
            .collect();
        if let Some(e) = &self.error {
            lines = vec![Line::from(Span::styled(e.clone(), t.bad()))];
        } else if matches.is_empty() {
            lines.push(Line::from(Span::styled(format!("no match for \"{}\"", self.input.text().trim()), t.dim())));
        }
        f.render_widget(
            Paragraph::new(lines),
            Rect { y: inner.y + 2, height: inner.height.saturating_sub(2), ..inner },
        );
    }
}
