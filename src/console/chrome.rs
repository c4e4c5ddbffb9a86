//! The frame around a screen: the tab bar, the status line and the footer of keys. The status
//! line and the footer wrap onto a second row rather than cut what an administrator reads.

use super::effect::Ctx;
use super::keys::{self, Context};
use super::screens::{self, Hint};
use super::shell::{MIN_HEIGHT, MIN_WIDTH, Shell};
use super::widgets::wrap_indented;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

pub struct Areas {
    pub header: Rect,
    pub body: Rect,
    pub status: Rect,
    pub footer: Rect,
}

/// Rows for the status line and the footer: one each, two when their text needs it.
pub fn layout(shell: &Shell, area: Rect) -> Areas {
    let width = usize::from(area.width);
    let (status, footer) = match shell.cx() {
        Some(cx) => (status_lines(shell, &cx, width).0.len(), footer_lines(shell, &cx, width).len()),
        None => (1, 1),
    };
    let rows = |n: usize| Constraint::Length(u16::try_from(n.clamp(1, 2)).unwrap_or(1));
    let [header, body, status, footer] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1), rows(status), rows(footer)]).areas(area);
    Areas { header, body, status, footer }
}

pub fn too_small(f: &mut Frame, area: Rect) {
    let text = format!(
        "The terminal is {}×{}.\nwsconsole needs at least {MIN_WIDTH}×{MIN_HEIGHT}: enlarge the window.\n\nq quits.",
        area.width, area.height
    );
    f.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
}

pub fn reading(f: &mut Frame, shell: &Shell, area: Rect) {
    f.render_widget(Paragraph::new("Reading the database…").style(shell.theme.dim()), area);
}

pub fn header(f: &mut Frame, shell: &Shell, area: Rect) {
    let t = shell.theme;
    // Wide terminals get every tab's name; at 80 columns only the one shown is spelled out.
    let wide = area.width >= 120;
    let current = shell.screen();
    let mut spans = vec![Span::styled(" wsconsole ", t.title())];
    let metas = shell.metas();
    for m in metas.iter().filter(|m| m.number.is_some()) {
        spans.push(Span::styled(m.number.unwrap_or(' ').to_string(), t.key()));
        if m.id == current {
            spans.push(Span::styled(m.tab.to_string(), t.active_tab()));
            spans.push(Span::raw(" "));
        } else if wide {
            spans.push(Span::raw(format!("{} ", m.tab)));
        } else {
            spans.push(Span::raw(" "));
        }
    }
    // A screen off the tab bar (Roles, a service's Functions) is named after it.
    if let Some(m) = metas.iter().find(|m| m.id == current && m.number.is_none()) {
        spans.push(Span::raw("› "));
        spans.push(Span::styled(m.tab.to_string(), t.active_tab()));
    }
    let age = match &shell.data {
        Some(_) => format!("data {}s old", shell.confirmed.elapsed().as_secs()),
        None => "loading".into(),
    };
    let right = if shell.read_only { format!("READ-ONLY · {age}") } else { age };
    let used: usize = spans.iter().map(Span::width).sum();
    let pad = usize::from(area.width).saturating_sub(used + right.chars().count() + 1);
    spans.push(Span::raw(" ".repeat(pad)));
    spans.push(Span::styled(right, t.dim()));
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The status line's text, wrapped to `width`, and its style.
fn status_lines(shell: &Shell, cx: &Ctx, width: usize) -> (Vec<String>, Style) {
    let t = shell.theme;
    let screen = shell.current();
    let (text, style) = if let Some((m, err)) = &shell.message {
        (m.clone(), if *err { t.bad() } else { t.good() })
    } else if let Some(w) = shell.working() {
        (w, t.warn())
    } else if let Some(f) = screen.filter().filter(|f| !f.is_empty()) {
        (format!("filter: {f}  (/ changes it, Esc clears it)"), t.dim())
    } else if let Some(line) = screen.status(cx) {
        (line.spans.iter().map(|s| s.content.as_ref()).collect(), t.dim())
    } else {
        // Which walkthrough steps this screen serves, so that a first-time administrator who
        // came from the Overview knows where they are.
        let serves: Vec<String> = cx
            .data
            .flows
            .iter()
            .flat_map(|flow| flow.steps.iter().map(move |s| (flow, s)))
            .filter(|(_, s)| screens::of_place(s.place) == screen.id())
            .map(|(flow, s)| format!("step {} {} ({})", s.number, s.title, flow_short(flow.title)))
            .collect();
        let title = screen.meta().title;
        if serves.is_empty() {
            (title.to_string(), t.dim())
        } else {
            (format!("{title} · walkthrough: {}", serves.join("; ")), t.dim())
        }
    };
    let mut lines = wrap_indented(&text, width.saturating_sub(1), 2);
    lines.truncate(2);
    (lines, style)
}

/// "external system" or "users with token".
fn flow_short(title: &str) -> &'static str {
    if title.starts_with("Allow") { "external system" } else { "users with token" }
}

pub fn status(f: &mut Frame, shell: &Shell, cx: &Ctx, area: Rect) {
    let (lines, style) = status_lines(shell, cx, usize::from(area.width));
    let lines: Vec<Line> = lines.into_iter().map(|l| Line::from(Span::styled(l, style))).collect();
    f.render_widget(Paragraph::new(lines), area);
}

/// The footer's keys (key, label) for what has the keyboard, those that apply now only.
pub fn footer_items(shell: &Shell, cx: &Ctx) -> Vec<(String, String)> {
    let context = shell.context();
    let top = shell.overlays().last();
    keys::hints(context, shell.read_only)
        .into_iter()
        .filter_map(|(action, key, label)| {
            let hint = match (context, top) {
                (Context::Overlay(_), Some(o)) => o.hint(action),
                _ => shell.current().hint(action, cx),
            };
            match hint {
                Hint::Shown => Some((key, label.to_string())),
                Hint::Label(l) => Some((key, l)),
                Hint::Hidden => None,
            }
        })
        .collect()
}

/// The footer's items laid out in rows of `width`, never dropping one.
fn footer_lines(shell: &Shell, cx: &Ctx, width: usize) -> Vec<Vec<(String, String)>> {
    let mut lines: Vec<Vec<(String, String)>> = vec![Vec::new()];
    let mut used = 0;
    for (key, label) in footer_items(shell, cx) {
        let w = key.chars().count() + label.chars().count() + 3;
        if used + w > width && used > 0 {
            lines.push(Vec::new());
            used = 0;
        }
        used += w;
        if let Some(line) = lines.last_mut() {
            line.push((key, label));
        }
    }
    lines
}

pub fn footer(f: &mut Frame, shell: &Shell, cx: &Ctx, area: Rect) {
    let t = shell.theme;
    let lines: Vec<Line> = footer_lines(shell, cx, usize::from(area.width))
        .into_iter()
        .map(|items| {
            Line::from(
                items
                    .into_iter()
                    .flat_map(|(k, label)| [Span::styled(k, t.key()), Span::raw(format!(" {label}  "))])
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    f.render_widget(Paragraph::new(lines), area);
}
