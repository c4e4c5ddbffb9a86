//! External services › Functions: the functions of the service picked on External services;
//! `n` picks more (from the catalogue, or for a service linked to the Moodle site from what the
//! site offers it), `d` removes one.

use super::{Hint, List, Meta, Screen, ScreenId, services};
use crate::console::data::ServiceRow;
use crate::console::effect::{Ctx, Effect, Effects, Write, Written};
use crate::console::keys::Action;
use crate::console::overlays::confirm::Confirm;
use crate::console::overlays::picker::{PickItem, Picker};
use crate::console::widgets::{TableSpec, block, table};
use crate::domain::function_catalogue;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Paragraph, Row};

pub const ID: ScreenId = ScreenId("functions");
static META: Meta = Meta {
    id: ID,
    title: "External services › Functions",
    number: None,
    tab: "Functions",
    aliases: &[],
    parent: Some(services::ID),
};

#[derive(Default)]
pub struct ServiceFunctions {
    list: List,
}

pub fn current<'a>(cx: &'a Ctx) -> Option<&'a ServiceRow> {
    cx.data.service(cx.service?)
}

/// How the picker and the list mark a function the Moodle site answers.
const SITE_FUNCTION: &str = "the site's · ";

/// The functions the Moodle site offers a connected service (its last sync's).
fn site_functions(s: &ServiceRow) -> Option<&[String]> {
    let link = s.upstream.as_ref().filter(|u| u.credential.is_some())?;
    link.sync.as_ref().map(|sync| sync.functions.as_slice())
}

impl Screen for ServiceFunctions {
    fn meta(&self) -> &'static Meta {
        &META
    }

    fn act(&mut self, action: Action, cx: &Ctx) -> Effects {
        let Some(s) = current(cx) else { return Vec::new() };
        if self.list.step(action, s.functions.len(), cx.page()) {
            return Vec::new();
        }
        let short = s.service.shortname.clone();
        match action {
            Action::New => {
                // A service linked to the site lists what the site offers it (its calls all go
                // there); one answered here, the catalogue.
                let items: Vec<PickItem> = match site_functions(s) {
                    Some(site) => site
                        .iter()
                        .filter(|f| !s.functions.contains(f))
                        .map(|f| {
                            let what = function_catalogue::find(f).map_or("", |x| x.description);
                            PickItem::new(f.clone(), format!("{SITE_FUNCTION}{what}"), false)
                        })
                        .collect(),
                    None => function_catalogue::FUNCTIONS
                        .iter()
                        .filter(|f| !s.functions.iter().any(|x| x == f.name))
                        .map(|f| {
                            let needs = if f.capabilities.is_empty() {
                                "no capability".into()
                            } else {
                                f.capabilities.join(", ")
                            };
                            PickItem::new(f.name, format!("{} — needs {needs}", f.description), false)
                        })
                        .collect(),
                };
                let title = format!("Add functions to {short}");
                let apply = Box::new(move |on: Vec<String>, _off: Vec<String>| {
                    if on.is_empty() {
                        return vec![Effect::Say("no function added".into())];
                    }
                    vec![Effect::Write(Write::new(move |ops| {
                        ops.set_service_functions(&short, &on, true)
                            .map(|_| Written::say(format!("{} functions added to {short}", on.len())))
                    }))]
                });
                vec![Effect::Open(Box::new(Picker::new(title, items, apply)))]
            }
            Action::Delete => {
                let Some(f) = s.functions.get(self.list.at(s.functions.len())).cloned() else { return Vec::new() };
                let text = format!("Remove {f}() from \"{}\"?", s.service.name);
                let write = Write::new(move |ops| {
                    ops.set_service_functions(&short, std::slice::from_ref(&f), false)
                        .map(|_| Written::say(format!("{f} removed")))
                });
                vec![Effect::Open(Box::new(Confirm::new(text, "Remove", vec![Effect::Write(write)])))]
            }
            _ => Vec::new(),
        }
    }

    fn hint(&self, action: Action, cx: &Ctx) -> Hint {
        match (action, current(cx)) {
            (Action::New, Some(s)) if s.service.builtin => Hint::Hidden,
            (Action::Delete, Some(s)) if s.service.builtin || s.functions.is_empty() => Hint::Hidden,
            (Action::New | Action::Delete, None) => Hint::Hidden,
            (Action::New, _) => Hint::Label("add".into()),
            (Action::Delete, _) => Hint::Label("remove".into()),
            _ => Hint::Shown,
        }
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx) {
        let t = cx.theme;
        let Some(s) = current(cx) else {
            let text = "Pick a service on External services (6), then f.";
            f.render_widget(Paragraph::new(text).block(block("Functions", &t)), area);
            return;
        };
        let spec = TableSpec {
            title: format!("Functions of \"{}\"", s.service.name),
            header: vec!["Function", "Description", "Required capabilities"],
            widths: vec![Constraint::Length(34), Constraint::Min(20), Constraint::Length(30)],
            len: s.functions.len(),
            selected: self.list.at(s.functions.len()),
            empty: "No function yet: n adds some.".into(),
        };
        table(f, area, &t, spec, |i| {
            let info = function_catalogue::find(&s.functions[i]);
            let what = info.map_or("", |x| x.description);
            let description = match site_functions(s) {
                Some(site) if site.contains(&s.functions[i]) => format!("{SITE_FUNCTION}{what}"),
                Some(_) => format!("not offered by the site (sync again?) · {what}"),
                None => what.to_string(),
            };
            Row::new(vec![
                s.functions[i].clone(),
                description,
                info.map_or(String::new(), |x| x.capabilities.join(", ")),
            ])
        });
    }
}
