//! Colours, or none: with `NO_COLOR` every style is the terminal's default plus modifiers
//! (bold, reversed, underlined), because crossterm 0.28 turns colour commands into a full
//! attribute reset that would wipe a reversed selection (CONSOLE.md).

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub mono: bool,
}

impl Theme {
    pub fn from_env() -> Theme {
        Theme { mono: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) }
    }

    fn fg(&self, c: Color) -> Style {
        if self.mono { Style::default() } else { Style::default().fg(c) }
    }

    pub fn normal(&self) -> Style {
        Style::default()
    }
    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn selected(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }
    pub fn dim(&self) -> Style {
        if self.mono { Style::default() } else { Style::default().fg(Color::DarkGray) }
    }
    pub fn key(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
    pub fn good(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn bad(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn active_tab(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }
    pub fn focus(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
}
