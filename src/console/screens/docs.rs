//! 0 API documentation: every function of the catalogue, each protocol's form of a call, its
//! parameters and its answer. ↑↓ pick a function; PgUp/PgDn scroll its documentation.

use super::{List, Meta, Screen, ScreenId};
use crate::console::effect::{Ctx, Effects};
use crate::console::keys::Action;
use crate::console::test_client::test_params;
use crate::console::theme::Theme;
use crate::console::widgets::{TableSpec, block, empty_text, table};
use crate::domain::Protocol;
use crate::domain::function_catalogue::{self, FunctionInfo};
use crate::domain::routes::{self, Auth};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Paragraph, Row, Wrap};

pub const ID: ScreenId = ScreenId("docs");
static META: Meta = Meta {
    id: ID,
    title: "API documentation",
    number: Some('0'),
    tab: "Docs",
    aliases: &["api", "documentation"],
    parent: None,
};

/// The function list's width.
const LIST: u16 = 36;

#[derive(Default)]
pub struct Docs {
    list: List,
    filter: String,
    /// The documentation's first line shown.
    scroll: u16,
}

fn visible(filter: &str) -> Vec<&'static FunctionInfo> {
    let f = filter.to_lowercase();
    function_catalogue::FUNCTIONS
        .iter()
        .filter(|x| f.is_empty() || x.name.to_lowercase().contains(&f) || x.description.to_lowercase().contains(&f))
        .collect()
}

/// The documentation of one function.
fn text(info: &FunctionInfo, t: &Theme) -> Text<'static> {
    let mut text = Text::default();
    let Some(def) = crate::model::description(info.name) else { return text };
    text.push_line(Line::from(Span::styled(info.name, t.title())));
    text.push_line(Line::raw(info.description));
    text.push_line(Line::raw(format!(
        "{} · capabilities: {}",
        if matches!(info.kind, function_catalogue::FunctionKind::Read) { "read" } else { "write" },
        if info.capabilities.is_empty() { "none".into() } else { info.capabilities.join(", ") }
    )));
    text.push_line(Line::raw(""));
    // Each protocol's form of a call: a heading, the call, what to know about it.
    let mut protocol_form = |heading: &str, call: String, note: Option<&'static str>| {
        text.push_line(Line::from(Span::styled(heading.to_string(), t.title())));
        text.push_line(Line::raw(call));
        if let Some(note) = note {
            text.push_line(Line::from(Span::styled(note, t.dim())));
        }
        text.push_line(Line::raw(""));
    };
    let names = def.param_names();
    let rest_fields: String = test_params(info.name).iter().map(|p| format!("&{p}=…")).collect();
    protocol_form(
        "REST (POST)",
        format!("wstoken=…&wsfunction={}&moodlewsrestformat=json{rest_fields}", info.name),
        None,
    );
    let positional: String = names.iter().map(|k| format!("<param><value>…{k}…</value></param>")).collect();
    let at = |p| format!("POST …{}?wstoken=…", routes::server(p, Auth::Token));
    protocol_form(
        &format!("XML-RPC ({})", at(Protocol::Xmlrpc)),
        format!("<methodCall><methodName>{}</methodName><params>{positional}</params></methodCall>", info.name),
        Some("parameters are positional, in the order of Parameters below"),
    );
    let parts: String = names.iter().map(|k| format!("<{k}>…</{k}>")).collect();
    protocol_form(
        &format!("SOAP ({})", at(Protocol::Soap)),
        format!(
            "<SOAP-ENV:Envelope …><SOAP-ENV:Body><ns1:{0}>{parts}</ns1:{0}></SOAP-ENV:Body></SOAP-ENV:Envelope>",
            info.name
        ),
        Some("RPC/encoded, parts by name; the WSDL is …/server.php?wstoken=…&wsdl=1"),
    );
    protocol_form(
        &format!("AMF ({})", at(Protocol::Amf)),
        format!("remoting message: target {}, body [{}]", info.name, names.join(", ")),
        None,
    );
    text.push_line(Line::from(Span::styled("Errors", t.title())));
    text.push_line(Line::raw(
        "invalidtoken, accessexception (see the access check, 9), invalidparameter, nopermissions",
    ));
    text.push_line(Line::raw(""));
    text.push_line(Line::from(Span::styled("Parameters", t.title())));
    for l in def.params.describe() {
        text.push_line(Line::raw(l));
    }
    text.push_line(Line::raw(""));
    text.push_line(Line::from(Span::styled("Returns", t.title())));
    match &def.returns {
        Some(r) => {
            for l in r.describe() {
                text.push_line(Line::raw(l));
            }
        }
        None => text.push_line(Line::raw("null")),
    }
    text
}

impl Docs {
    fn selected(&self) -> Option<&'static FunctionInfo> {
        let v = visible(&self.filter);
        v.get(self.list.at(v.len())).copied()
    }

    /// The last line the documentation may scroll to at this size (rows once wrapped, over-
    /// rather than under-estimated: word wrap may need one more).
    fn last(&self, cx: &Ctx) -> u16 {
        let Some(info) = self.selected() else { return 0 };
        let inner = usize::from(cx.size.0.saturating_sub(LIST + 2)).max(1);
        let rows: usize = text(info, &cx.theme).lines.iter().map(|l| l.width() / inner + 1).sum();
        let shown = usize::from(cx.size.1.saturating_sub(6));
        u16::try_from(rows.saturating_sub(shown)).unwrap_or(u16::MAX)
    }
}

impl Screen for Docs {
    fn meta(&self) -> &'static Meta {
        &META
    }

    fn act(&mut self, action: Action, cx: &Ctx) -> Effects {
        let page = u16::try_from(cx.page()).unwrap_or(10);
        match action {
            // The function list fits the screen; the documentation beside it may not.
            Action::PageUp => self.scroll = self.scroll.saturating_sub(page),
            Action::PageDown => self.scroll = (self.scroll + page).min(self.last(cx)),
            other => {
                let before = self.list.selected;
                self.list.step(other, visible(&self.filter).len(), cx.page());
                if self.list.selected != before {
                    self.scroll = 0;
                }
            }
        }
        Vec::new()
    }

    fn filter(&self) -> Option<&str> {
        Some(&self.filter)
    }

    fn set_filter(&mut self, text: &str, _cx: &Ctx) -> Effects {
        self.filter = text.to_string();
        self.list.selected = 0;
        self.scroll = 0;
        Vec::new()
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx) {
        let t = cx.theme;
        let list = visible(&self.filter);
        let [left, right] = Layout::horizontal([Constraint::Length(LIST), Constraint::Min(20)]).areas(area);
        let spec = TableSpec {
            title: "Functions".into(),
            header: vec!["Name"],
            widths: vec![Constraint::Min(10)],
            len: list.len(),
            selected: self.list.at(list.len()),
            empty: empty_text(&self.filter, "No function."),
        };
        table(f, left, &t, spec, |i| Row::new(vec![list[i].name.to_string()]));
        let doc = self.selected().map(|info| text(info, &t)).unwrap_or_default();
        let title = if self.scroll > 0 { "Documentation (PgUp/PgDn)" } else { "Documentation (PgDn for more)" };
        let docs = Paragraph::new(doc).wrap(Wrap { trim: false }).scroll((self.scroll, 0)).block(block(title, &t));
        f.render_widget(docs, right);
    }
}
