//! 8 Logs: the endpoint's calls (followed live from the call log) and the admin audit, newest
//! first; Tab switches between them, `/` filters both.

use super::{Hint, List, Meta, Screen, ScreenId};
use crate::console::effect::{Ctx, Effects};
use crate::console::keys::Action;
use crate::console::widgets::{TableSpec, empty_text, table, utc_minute};
use crate::domain::time::format_time;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Paragraph, Row};

pub const ID: ScreenId = ScreenId("logs");
static META: Meta = Meta { id: ID, title: "Logs", number: Some('8'), tab: "Logs", aliases: &["audit"], parent: None };

#[derive(Default)]
pub struct Logs {
    /// 0: endpoint calls; 1: admin audit.
    pane: usize,
    lists: [List; 2],
    filter: String,
}

fn contains(f: &str, fields: &[&str]) -> bool {
    f.is_empty() || fields.iter().any(|s| s.to_lowercase().contains(f))
}

impl Logs {
    fn calls(&self, cx: &Ctx) -> Vec<usize> {
        let f = self.filter.to_lowercase();
        let calls = &cx.data.calls;
        (0..calls.len())
            .filter(|&i| {
                let c = &calls[i];
                contains(&f, &[&c.username, &c.call.function, &c.call.outcome, &c.call.remote_ip, &c.call.protocol])
            })
            .collect()
    }

    fn audit(&self, cx: &Ctx) -> Vec<usize> {
        let f = self.filter.to_lowercase();
        let audit = &cx.data.audit;
        (0..audit.len())
            .filter(|&i| {
                let a = &audit[i];
                contains(&f, &[&a.actor, &a.operation, &a.target, &a.summary])
            })
            .collect()
    }

    fn rows(&self, cx: &Ctx) -> usize {
        if self.pane == 0 { self.calls(cx).len() } else { self.audit(cx).len() }
    }
}

impl Screen for Logs {
    fn meta(&self) -> &'static Meta {
        &META
    }

    fn act(&mut self, action: Action, cx: &Ctx) -> Effects {
        let rows = self.rows(cx);
        if self.lists[self.pane].step(action, rows, cx.page()) {
            return Vec::new();
        }
        if action == Action::NextPane {
            self.pane = 1 - self.pane;
        }
        Vec::new()
    }

    fn hint(&self, action: Action, _cx: &Ctx) -> Hint {
        match action {
            Action::NextPane => Hint::Label(if self.pane == 0 { "admin audit" } else { "endpoint calls" }.into()),
            _ => Hint::Shown,
        }
    }

    fn filter(&self) -> Option<&str> {
        Some(&self.filter)
    }

    fn set_filter(&mut self, text: &str, _cx: &Ctx) -> Effects {
        self.filter = text.to_string();
        self.lists = Default::default();
        Vec::new()
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx) {
        let t = cx.theme;
        let d = cx.data;
        let wide = area.width >= 120;
        let [list, detail] = Layout::vertical([Constraint::Min(4), Constraint::Length(1)]).areas(area);
        let nothing = empty_text(&self.filter, "Nothing logged yet.");
        if self.pane == 0 {
            let v = self.calls(cx);
            let sel = self.lists[0].at(v.len());
            let (header, widths) = if wide {
                (
                    vec!["Time (UTC)", "User", "Function", "Proto", "IP", "Outcome", "µs"],
                    vec![
                        Constraint::Length(16),
                        Constraint::Length(14),
                        Constraint::Min(20),
                        Constraint::Length(6),
                        Constraint::Length(39),
                        Constraint::Length(22),
                        Constraint::Length(7),
                    ],
                )
            } else {
                (
                    vec!["Time (UTC)", "User", "Function", "IP", "Outcome"],
                    vec![
                        Constraint::Length(16),
                        Constraint::Length(10),
                        Constraint::Min(8),
                        Constraint::Length(15),
                        Constraint::Length(21),
                    ],
                )
            };
            if let Some(c) = v.get(sel).map(|&i| &d.calls[i]) {
                let mut text = format!(
                    " {} {}() over {} from {} → {} in {} µs",
                    format_time(c.call.time),
                    c.call.function,
                    c.call.protocol,
                    c.call.remote_ip,
                    c.call.outcome,
                    c.call.duration_micros
                );
                if let Some(site) = &c.call.site {
                    text.push_str(&match site.status {
                        0 => format!("; the Moodle site gave no answer ({} µs)", site.latency_micros),
                        s => format!("; the Moodle site: HTTP {s}, {} µs, {} bytes", site.latency_micros, site.bytes),
                    });
                }
                f.render_widget(Paragraph::new(text).style(t.dim()), detail);
            }
            let spec = TableSpec {
                title: "Endpoint calls, newest first".into(),
                header,
                widths,
                len: v.len(),
                selected: sel,
                empty: nothing,
            };
            table(f, list, &t, spec, |i| {
                let c = &d.calls[v[i]];
                let mut cells = vec![utc_minute(c.call.time), c.username.clone(), c.call.function.to_string()];
                if wide {
                    cells.push(c.call.protocol.to_string());
                }
                cells.extend([c.call.remote_ip.clone(), c.call.outcome.to_string()]);
                if wide {
                    cells.push(c.call.duration_micros.to_string());
                }
                Row::new(cells)
            });
        } else {
            let v = self.audit(cx);
            let sel = self.lists[1].at(v.len());
            if let Some(a) = v.get(sel).map(|&i| &d.audit[i]) {
                let text = format!(" {} {}: {} {} {}", format_time(a.time), a.actor, a.operation, a.target, a.summary);
                f.render_widget(Paragraph::new(text).style(t.dim()), detail);
            }
            let spec = TableSpec {
                title: "Admin audit, newest first".into(),
                header: vec!["Time (UTC)", "Actor", "Operation", "Target", "Summary"],
                widths: vec![
                    Constraint::Length(16),
                    Constraint::Length(10),
                    Constraint::Length(18),
                    Constraint::Length(14),
                    Constraint::Min(10),
                ],
                len: v.len(),
                selected: sel,
                empty: nothing,
            };
            table(f, list, &t, spec, |i| {
                let a = &d.audit[v[i]];
                Row::new(vec![
                    utc_minute(a.time),
                    a.actor.clone(),
                    a.operation.clone(),
                    a.target.clone(),
                    a.summary.clone(),
                ])
            });
        }
    }
}
