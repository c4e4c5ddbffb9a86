//! 1 Overview: Moodle's two set-up flows, each step with its status from the database, and
//! Enter to go where the step is done.

use super::{Hint, List, Meta, Screen, ScreenId, of_place};
use crate::console::effect::{Ctx, Effect, Effects};
use crate::console::keys::Action;
use crate::console::widgets::{block, wrap_indented};
use crate::domain::walkthrough::Status;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub const ID: ScreenId = ScreenId("overview");
static META: Meta = Meta {
    id: ID,
    title: "Overview",
    number: Some('1'),
    tab: "Overview",
    aliases: &["walkthrough", "home"],
    parent: None,
};

#[derive(Default)]
pub struct Overview {
    list: List,
}

fn rows(cx: &Ctx) -> usize {
    cx.data.flows.iter().map(|f| f.steps.len()).sum()
}

impl Screen for Overview {
    fn meta(&self) -> &'static Meta {
        &META
    }

    fn act(&mut self, action: Action, cx: &Ctx) -> Effects {
        if self.list.step(action, rows(cx), cx.page()) {
            return Vec::new();
        }
        match action {
            Action::Open => {
                let step = cx.data.flows.iter().flat_map(|f| &f.steps).nth(self.list.at(rows(cx)));
                step.map(|s| Effect::Go(of_place(s.place))).into_iter().collect()
            }
            _ => Vec::new(),
        }
    }

    fn hint(&self, action: Action, cx: &Ctx) -> Hint {
        if action != Action::Open {
            return Hint::Shown;
        }
        match cx.data.flows.iter().flat_map(|f| &f.steps).nth(self.list.at(rows(cx))) {
            Some(step) => Hint::Label(format!("go to {}", step.place.title())),
            None => Hint::Hidden,
        }
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx) {
        let t = cx.theme;
        let d = cx.data;
        let sel = self.list.at(rows(cx));
        let mut lines: Vec<Line> = Vec::new();
        let mut index = 0;
        let mut selected_line = 0;
        let mut detail = (String::new(), "");
        if let Some(warning) = endpoint_warning(cx) {
            lines.push(Line::from(Span::styled(warning, t.bad())));
        }
        // The title column is as wide as the longest title; a detail too long for the rest of
        // the line wraps under itself.
        let title_width = d.flows.iter().flat_map(|f| &f.steps).map(|s| s.title.chars().count()).max().unwrap_or(0);
        let detail_at = 3 + 4 + title_width + 1;
        let detail_width = usize::from(area.width).saturating_sub(detail_at).max(12);
        for flow in &d.flows {
            lines.push(Line::from(Span::styled(flow.title, t.title())));
            for step in &flow.steps {
                let (mark, style) = match step.status {
                    Status::Done => ("✓", t.good()),
                    Status::Todo => ("✗", t.bad()),
                    Status::Info => ("·", t.dim()),
                };
                let mut details = wrap_indented(&step.detail, detail_width, 0).into_iter();
                let mut line = Line::from(vec![
                    Span::styled(format!(" {mark} "), style),
                    Span::raw(format!("{:>2}. {:<title_width$} ", step.number, step.title)),
                    Span::styled(details.next().unwrap_or_default(), style),
                ]);
                if index == sel {
                    line = line.style(t.selected());
                    selected_line = lines.len();
                    detail = (step.description.to_string(), step.place.title());
                }
                lines.push(line);
                for more in details {
                    lines.push(Line::from(Span::styled(format!("{:detail_at$}{more}", ""), style)));
                }
                index += 1;
            }
        }
        // "This step" takes the rows its text needs; the list scrolls to keep the selection in
        // view in what is left.
        let text = wrap_indented(&detail.0, usize::from(area.width.saturating_sub(2)), 0);
        let info_rows = u16::try_from(text.len() + 2).unwrap_or(u16::MAX).min(area.height / 2);
        let [list, info] = Layout::vertical([Constraint::Min(3), Constraint::Length(info_rows)]).areas(area);
        let height = usize::from(list.height);
        let scroll = (selected_line + 1).saturating_sub(height);
        f.render_widget(Paragraph::new(lines).scroll((u16::try_from(scroll).unwrap_or(0), 0)), list);
        let title = format!("This step → {} (Enter)", detail.1);
        let text: Vec<Line> = text.into_iter().map(Line::raw).collect();
        f.render_widget(Paragraph::new(text).block(block(title, &t)), info);
    }
}

/// One line when the endpoint warned at its start that the site URL does not lead to it.
fn endpoint_warning(cx: &Ctx) -> Option<String> {
    let d = cx.data;
    let e = d.endpoint.as_ref()?;
    e.warning.as_ref()?;
    let since = if e.site_url == d.settings.site_url { "" } else { " (changed since)" };
    Some(format!("⚠ siteurl{since} does not lead to the endpoint on {}: 2 Advanced features", e.listen))
}
