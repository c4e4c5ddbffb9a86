//! Drawing pieces the screens and dialogs share: framed blocks, windowed tables (CONSOLE.md: a
//! table of 100 000 rows costs ~130 ms a frame, its visible window well under 1 ms), switch
//! rows, text fields with the terminal's cursor, and wrapping with a hanging indent.

use super::text_field::TextField;
use super::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Wrap};

/// The first and last+1 rows of a list of `len` rows to show in `height` rows with `selected`
/// visible.
pub fn window(selected: usize, len: usize, height: usize) -> (usize, usize) {
    let height = height.max(1);
    let start = if selected < height { 0 } else { selected + 1 - height };
    (start, (start + height).min(len))
}

pub fn block<'a>(title: impl Into<String>, t: &Theme) -> Block<'a> {
    Block::default().borders(Borders::ALL).title(Span::styled(format!(" {} ", title.into()), t.title()))
}

/// A time in UTC to the minute without its zone, for narrow columns whose header names it.
pub fn utc_minute(t: i64) -> String {
    crate::domain::time::format_time(t).trim_end_matches(" UTC").to_string()
}

pub fn yes_no(on: bool) -> &'static str {
    if on { "[x]" } else { "[ ]" }
}

pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

/// A list as a table.
pub struct TableSpec<'a> {
    pub title: String,
    pub header: Vec<&'a str>,
    pub widths: Vec<Constraint>,
    pub len: usize,
    pub selected: usize,
    /// What an empty list says ("Nothing here yet.", "No match for …").
    pub empty: String,
}

/// A windowed table: `row(i)` builds only the visible rows.
pub fn table<'a>(f: &mut Frame, area: Rect, t: &Theme, spec: TableSpec<'a>, mut row: impl FnMut(usize) -> Row<'a>) {
    let height = usize::from(area.height.saturating_sub(3));
    let len = spec.len;
    let sel = spec.selected.min(len.saturating_sub(1));
    let (start, end) = window(sel, len, height);
    let rows: Vec<Row> = (start..end)
        .map(|i| {
            let r = row(i);
            if i == sel { r.style(t.selected()) } else { r }
        })
        .collect();
    let title = if len > height { format!("{} ({}/{len})", spec.title, sel + 1) } else { spec.title };
    let widget = Table::new(rows, spec.widths)
        .column_spacing(1)
        .header(Row::new(spec.header).style(Style::default().add_modifier(Modifier::BOLD)))
        .block(block(title, t));
    f.render_widget(widget, area);
    if len == 0 {
        let inner = Rect { x: area.x + 2, y: area.y + 2, width: area.width.saturating_sub(4), height: 1 };
        f.render_widget(Paragraph::new(spec.empty).style(t.dim()), inner);
    }
}

/// What an empty list says: that the filter matched nothing, or that there is nothing yet.
pub fn empty_text(filter: &str, nothing: &str) -> String {
    if filter.is_empty() { nothing.to_string() } else { format!("No match for \"{filter}\" (Esc clears the filter).") }
}

/// A switch row: label, on or off, a note (its first line beside it, others under it).
pub struct Switch {
    pub label: String,
    pub on: bool,
    pub note: String,
}

/// A page of switches: rows under `fixed` ones (settings that are always on, shown without a
/// switch), then a foot of plain text, wrapped to the width.
pub struct Switches<'a> {
    pub title: &'a str,
    pub fixed: Vec<(String, String)>,
    pub rows: Vec<Switch>,
    pub selected: usize,
    pub foot: &'a str,
}

pub fn switches(f: &mut Frame, area: Rect, t: &Theme, page: Switches<'_>) {
    let Switches { title, fixed, rows, selected, foot } = page;
    let mut lines: Vec<Line> = fixed
        .into_iter()
        .map(|(label, note)| Line::from(vec![Span::raw(format!("     {label:<34}")), Span::styled(note, t.good())]))
        .collect();
    for (i, row) in rows.into_iter().enumerate() {
        let mut notes = row.note.lines().map(str::to_string).collect::<Vec<_>>().into_iter();
        let line = Line::from(vec![
            Span::raw(format!(" {} {:<34}", yes_no(row.on), row.label)),
            Span::styled(notes.next().unwrap_or_default(), if row.on { t.good() } else { t.dim() }),
        ]);
        lines.push(if i == selected { line.style(t.selected()) } else { line });
        lines.extend(notes.map(|n| Line::from(Span::styled(format!("{:39}{n}", ""), t.dim()))));
    }
    lines.push(Line::raw(""));
    for l in foot.lines() {
        lines.push(Line::from(Span::styled(l.to_string(), t.dim())));
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block(title, t)), area);
}

/// Words of `text` in lines of at most `width` columns, every line after the first indented by
/// `indent`: a long sentence wraps under itself, never splitting a word unless the word alone is
/// wider than a line.
pub fn wrap_indented(text: &str, width: usize, indent: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let width = width.max(indent + 8);
    for word in text.split_whitespace() {
        let limit = if lines.is_empty() { width } else { width - indent };
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > limit {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        // A word wider than a line is cut where the line ends.
        while line.chars().count() > if lines.is_empty() { width } else { width - indent } {
            let limit = if lines.is_empty() { width } else { width - indent };
            let rest: String = line.chars().skip(limit).collect();
            line = line.chars().take(limit).collect();
            lines.push(std::mem::replace(&mut line, rest));
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    let pad = " ".repeat(indent);
    lines.into_iter().enumerate().map(|(i, l)| if i == 0 { l } else { format!("{pad}{l}") }).collect()
}

/// A text field drawn in `area` (one row) with `prefix` before it; when `focused`, the
/// terminal's cursor is put where insertion happens.
pub fn text_field(f: &mut Frame, area: Rect, t: &Theme, prefix: Span<'_>, field: &TextField, focused: bool) {
    let used = u16::try_from(prefix.width()).unwrap_or(0);
    let room = usize::from(area.width.saturating_sub(used + 1));
    let (shown, cursor) = field.window(room);
    let style = if focused { Style::default().add_modifier(Modifier::UNDERLINED) } else { t.normal() };
    f.render_widget(Paragraph::new(Line::from(vec![prefix, Span::styled(shown, style)])), area);
    if focused {
        let x = area.x + used + u16::try_from(cursor).unwrap_or(0);
        f.set_cursor_position((x.min(area.right().saturating_sub(1)), area.y));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_keeps_the_selection_visible() {
        assert_eq!(window(0, 100, 10), (0, 10));
        assert_eq!(window(9, 100, 10), (0, 10));
        assert_eq!(window(10, 100, 10), (1, 11));
        assert_eq!(window(99, 100, 10), (90, 100));
        assert_eq!(window(0, 3, 10), (0, 3));
        assert_eq!(window(0, 0, 10), (0, 0));
    }

    #[test]
    fn wrapping_keeps_words_whole_under_an_indent() {
        let lines = wrap_indented("Fix it in: External services › Authorised users (x goes there)", 30, 11);
        assert_eq!(
            lines,
            ["Fix it in: External services ›", "           Authorised users (x", "           goes there)"]
        );
        assert!(lines.iter().all(|l| l.chars().count() <= 30));
        assert_eq!(wrap_indented("", 20, 2), [""]);
        assert_eq!(wrap_indented("abcdefghijkl", 10, 2), ["abcdefghij", "  kl"]);
    }
}
