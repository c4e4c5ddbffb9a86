//! Roles (`:roles`): the roles, their capabilities and holders; a new role picks its
//! capabilities next, and `e` changes them in one change.

use super::{Filtered, Hint, Meta, Screen, ScreenId};
use crate::console::effect::{Ctx, Effect, Effects, Write, Written};
use crate::console::form::Form;
use crate::console::keys::Action;
use crate::console::overlays::confirm::Confirm;
use crate::console::overlays::form::FormDialog;
use crate::console::overlays::picker::{PickItem, Picker};
use crate::console::widgets::{TableSpec, block, empty_text, table};
use crate::domain::{capabilities, validate};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row};

pub const ID: ScreenId = ScreenId("roles");
static META: Meta =
    Meta { id: ID, title: "Roles", number: None, tab: "Roles", aliases: &["capabilities"], parent: None };

#[derive(Default)]
pub struct Roles {
    rows: Filtered,
}

fn visible(rows: &Filtered, cx: &Ctx) -> Vec<usize> {
    let roles = &cx.data.roles;
    (0..roles.len()).filter(|&i| rows.keeps(&[&roles[i].role.shortname, &roles[i].role.name])).collect()
}

fn shortname_rule(v: &str) -> Result<(), String> {
    validate::role_shortname(v).map(|_| ()).map_err(|e| e.message)
}

/// The capability picker of a role; saving is one change.
pub fn capability_picker(role: &str, held: &[String]) -> Picker {
    let items = capabilities::CATALOGUE
        .iter()
        .map(|c| PickItem::new(c.name, c.description, held.iter().any(|h| h == c.name)))
        .collect();
    let role = role.to_string();
    let title = format!("Capabilities of role {role}");
    Picker::new(
        title,
        items,
        Box::new(move |on: Vec<String>, off: Vec<String>| {
            if on.is_empty() && off.is_empty() {
                return vec![Effect::Say(format!("role {role}: nothing changed"))];
            }
            vec![Effect::Write(Write::new(move |ops| {
                ops.change_role_capabilities(&role, &on, &off)
                    .map(|_| Written::say(format!("role {role}: {} added, {} removed", on.len(), off.len())))
            }))]
        }),
    )
}

impl Roles {
    fn selected<'a>(&self, cx: &'a Ctx) -> Option<&'a crate::console::data::RoleRow> {
        let v = visible(&self.rows, cx);
        v.get(self.rows.list.at(v.len())).map(|&i| &cx.data.roles[i])
    }
}

impl Screen for Roles {
    fn meta(&self) -> &'static Meta {
        &META
    }

    fn act(&mut self, action: Action, cx: &Ctx) -> Effects {
        if self.rows.list.step(action, visible(&self.rows, cx).len(), cx.page()) {
            return Vec::new();
        }
        match (action, self.selected(cx)) {
            (Action::New, _) => {
                let form = Form::new("Add a role", ())
                    .text("shortname", "Short name", "")
                    .rule(shortname_rule)
                    .text("name", "Name", "")
                    .note("capabilities are picked next");
                vec![Effect::Open(Box::new(FormDialog::new(form, ID)))]
            }
            (Action::Edit, Some(r)) => {
                vec![Effect::Open(Box::new(capability_picker(&r.role.shortname, &r.capabilities)))]
            }
            (Action::Delete, Some(r)) => {
                let name = r.role.shortname.clone();
                let text = format!("Delete role \"{name}\"? Its holders lose its capabilities.");
                let write =
                    Write::new(move |ops| ops.delete_role(&name).map(|_| Written::say(format!("role {name} deleted"))));
                vec![Effect::Open(Box::new(Confirm::new(text, "Delete", vec![Effect::Write(write)])))]
            }
            _ => Vec::new(),
        }
    }

    fn hint(&self, action: Action, cx: &Ctx) -> Hint {
        match (action, self.selected(cx)) {
            (Action::Edit, Some(_)) => Hint::Label("capabilities".into()),
            (Action::Edit | Action::Delete, None) => Hint::Hidden,
            _ => Hint::Shown,
        }
    }

    fn submit(&mut self, form: Box<Form>, _cx: &Ctx) -> Effects {
        let (short, name) = (form.value("shortname"), form.value("name"));
        vec![Effect::Write(Write::from_form(form, ID, move |ops| {
            let r = ops.create_role(&short, &name, &[])?;
            Ok(Written::say(format!("role {} created: pick its capabilities", r.shortname))
                .select(r.shortname.clone())
                .then(Box::new(capability_picker(&r.shortname, &[]))))
        }))]
    }

    fn filter(&self) -> Option<&str> {
        Some(&self.rows.filter)
    }

    fn set_filter(&mut self, text: &str, _cx: &Ctx) -> Effects {
        self.rows.set_filter(text)
    }

    fn select(&mut self, key: &str, cx: &Ctx) -> Effects {
        let v = visible(&self.rows, cx);
        self.rows.select(v.iter().map(|&i| cx.data.roles[i].role.shortname == key))
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx) {
        let t = cx.theme;
        let d = cx.data;
        let v = visible(&self.rows, cx);
        let [list, detail] = Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
        let spec = TableSpec {
            title: "Roles".into(),
            header: vec!["Short name", "Name", "Capabilities", "Holders"],
            widths: vec![Constraint::Length(18), Constraint::Min(16), Constraint::Length(12), Constraint::Length(10)],
            len: v.len(),
            selected: self.rows.list.at(v.len()),
            empty: empty_text(&self.rows.filter, "No role yet: n adds one."),
        };
        table(f, list, &t, spec, |i| {
            let r = &d.roles[v[i]];
            Row::new(vec![
                r.role.shortname.clone(),
                r.role.name.clone(),
                r.capabilities.len().to_string(),
                if r.role.implicit { "everybody".into() } else { r.holders.to_string() },
            ])
        });
        let mut lines = Vec::new();
        if let Some(r) = self.selected(cx) {
            for c in &r.capabilities {
                let desc = capabilities::CATALOGUE.iter().find(|x| x.name == c).map_or("", |x| x.description);
                lines.push(Line::from(vec![Span::raw(format!("{c:<40} ")), Span::styled(desc, t.dim())]));
            }
            if lines.is_empty() {
                lines.push(Line::from(Span::styled("No capability: press e to pick some.", t.dim())));
            }
        }
        f.render_widget(Paragraph::new(lines).block(block("Capabilities (e picks them)", &t)), detail);
    }
}
