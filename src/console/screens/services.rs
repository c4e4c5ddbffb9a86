//! 6 External services: built-in and custom services, switched on and off, added, edited and
//! deleted; `f` and `a` open a service's functions and authorised users; `m` and `s` link a
//! service to the Moodle site behind the endpoint and sync it (`site_link`).

use super::features::on_off;
use super::{Filtered, Hint, Meta, Screen, ScreenId, authorised_users, service_functions, site_link};
use crate::console::data::ServiceRow;
use crate::console::effect::{Answer, Ctx, Effect, Effects, Write, Written};
use crate::console::form::Form;
use crate::console::keys::Action;
use crate::console::overlays::confirm::Confirm;
use crate::console::overlays::form::FormDialog;
use crate::console::widgets::{TableSpec, empty_text, table, yes_no};
use crate::domain::{capabilities, validate};
use crate::ops::{NewService, ServiceEdit};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::Row;

pub const ID: ScreenId = ScreenId("services");
static META: Meta =
    Meta { id: ID, title: "External services", number: Some('6'), tab: "Services", aliases: &[], parent: None };

#[derive(Default)]
pub struct Services {
    rows: Filtered,
}

enum Purpose {
    New,
    Edit(String),
}

fn visible(rows: &Filtered, cx: &Ctx) -> Vec<usize> {
    let services = &cx.data.services;
    (0..services.len()).filter(|&i| rows.keeps(&[&services[i].service.shortname, &services[i].service.name])).collect()
}

fn required_caps() -> Vec<String> {
    std::iter::once(String::new()).chain(capabilities::CATALOGUE.iter().map(|c| c.name.to_string())).collect()
}

fn name_rule(v: &str) -> Result<(), String> {
    validate::service_name(v).map(|_| ()).map_err(|e| e.message)
}

fn shortname_rule(v: &str) -> Result<(), String> {
    validate::service_shortname(v).map(|_| ()).map_err(|e| e.message)
}

/// A short name proposed from a service's name: "External system" → "external_system".
pub fn propose_shortname(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

impl Services {
    fn selected<'a>(&self, cx: &'a Ctx) -> Option<&'a ServiceRow> {
        let v = visible(&self.rows, cx);
        v.get(self.rows.list.at(v.len())).map(|&i| &cx.data.services[i])
    }

    fn open(&self, cx: &Ctx, screen: ScreenId) -> Effects {
        match self.selected(cx) {
            Some(s) => vec![Effect::FocusService(s.service.shortname.clone()), Effect::Go(screen)],
            None => Vec::new(),
        }
    }

    fn edit_form(s: &ServiceRow) -> Form {
        let s = &s.service;
        let mut form = Form::new(format!("Edit {}", s.name), Purpose::Edit(s.shortname.clone()));
        if !s.builtin {
            form = form.text("name", "Name", &s.name).rule(name_rule);
        }
        form = form.check("enabled", "Enabled", s.enabled);
        if !s.builtin {
            form = form.check("restricted", "Authorised users only", s.restricted_users).choice(
                "requiredcapability",
                "Required capability",
                required_caps(),
                s.required_capability.as_deref().unwrap_or(""),
            );
        }
        form.check("download", "Can download files", s.download_files).check(
            "upload",
            "Can upload files",
            s.upload_files,
        )
    }
}

impl Screen for Services {
    fn meta(&self) -> &'static Meta {
        &META
    }

    fn act(&mut self, action: Action, cx: &Ctx) -> Effects {
        if self.rows.list.step(action, visible(&self.rows, cx).len(), cx.page()) {
            return Vec::new();
        }
        let selected = self.selected(cx);
        match (action, selected) {
            (Action::New, _) => {
                let form = Form::new("Add a custom service", Purpose::New)
                    .text("name", "Name", "")
                    .rule(name_rule)
                    .proposes("shortname", propose_shortname)
                    .text("shortname", "Short name", "")
                    .rule(shortname_rule)
                    .note("letters, digits, _ and -; proposed from the name")
                    .check("enabled", "Enabled", true)
                    .check("restricted", "Authorised users only", true)
                    .choice("requiredcapability", "Required capability", required_caps(), "")
                    .check("download", "Can download files", false)
                    .check("upload", "Can upload files", false);
                vec![Effect::Open(Box::new(FormDialog::new(form, ID)))]
            }
            (Action::Edit, Some(s)) => vec![Effect::Open(Box::new(FormDialog::new(Services::edit_form(s), ID)))],
            (Action::Toggle, Some(s)) => {
                let (short, on) = (s.service.shortname.clone(), !s.service.enabled);
                vec![Effect::Write(Write::new(move |ops| {
                    ops.set_service_enabled(&short, on)
                        .map(|_| Written::say(format!("service {short}: {}", on_off(on))))
                }))]
            }
            (Action::Delete, Some(s)) => {
                let short = s.service.shortname.clone();
                let text = format!("Delete service \"{short}\"? Its tokens are deleted with it.");
                let write = Write::new(move |ops| {
                    ops.delete_service(&short).map(|_| Written::say(format!("service {short} deleted")))
                });
                vec![Effect::Open(Box::new(Confirm::new(text, "Delete", vec![Effect::Write(write)])))]
            }
            (Action::SiteLink, Some(s)) => {
                vec![Effect::Open(Box::new(FormDialog::new(site_link::form(s, cx), ID)))]
            }
            (Action::Sync, Some(s)) if s.upstream.as_ref().is_some_and(|u| u.credential.is_some()) => {
                site_link::sync(s.service.shortname.clone())
            }
            (Action::Sync, Some(s)) => {
                vec![Effect::Fail(format!("{} has no site token: m sets one", s.service.shortname))]
            }
            (Action::Functions, Some(_)) => self.open(cx, service_functions::ID),
            (Action::AuthorisedUsers, Some(_)) => self.open(cx, authorised_users::ID),
            _ => Vec::new(),
        }
    }

    fn hint(&self, action: Action, cx: &Ctx) -> Hint {
        match (action, self.selected(cx)) {
            (Action::Toggle, Some(s)) => Hint::Label(if s.service.enabled { "switch off" } else { "switch on" }.into()),
            (Action::Delete, Some(s)) if s.service.builtin => Hint::Hidden,
            (Action::AuthorisedUsers, Some(s)) if !s.service.restricted_users => Hint::Hidden,
            (Action::Sync, Some(s)) if s.upstream.as_ref().is_none_or(|u| u.credential.is_none()) => Hint::Hidden,
            (Action::SiteLink | Action::Sync, None) => Hint::Hidden,
            (Action::Toggle | Action::Edit | Action::Delete | Action::Functions | Action::AuthorisedUsers, None) => {
                Hint::Hidden
            }
            _ => Hint::Shown,
        }
    }

    fn reply(&mut self, answer: Answer, _cx: &Ctx) -> Effects {
        match answer.downcast::<site_link::Synced>() {
            Ok(synced) => site_link::synced(*synced),
            Err(_) => Vec::new(),
        }
    }

    fn status(&self, cx: &Ctx) -> Option<ratatui::text::Line<'static>> {
        let s = self.selected(cx)?;
        site_link::status(s.upstream.as_ref()?, &cx.data.settings.upstream.url).map(ratatui::text::Line::raw)
    }

    fn submit(&mut self, form: Box<Form>, cx: &Ctx) -> Effects {
        if form.purpose::<site_link::Link>().is_some() {
            return vec![Effect::Write(site_link::submit(form, cx))];
        }
        let write = match form.purpose::<Purpose>() {
            Some(Purpose::Edit(short)) => {
                let short = short.clone();
                let has = |k: &str| form.field(k).is_some();
                let edit = ServiceEdit {
                    name: has("name").then(|| form.value("name")),
                    enabled: Some(form.checked("enabled")),
                    restricted_users: has("restricted").then(|| form.checked("restricted")),
                    required_capability: has("requiredcapability")
                        .then(|| Some(form.chosen("requiredcapability")).filter(|c| !c.is_empty())),
                    download_files: Some(form.checked("download")),
                    upload_files: Some(form.checked("upload")),
                };
                Write::from_form(form, ID, move |ops| {
                    ops.edit_service(&short, edit).map(|s| Written::say(format!("service \"{}\" saved", s.name)))
                })
            }
            _ => {
                let new = NewService {
                    name: form.value("name"),
                    shortname: form.value("shortname"),
                    enabled: form.checked("enabled"),
                    restricted_users: form.checked("restricted"),
                    required_capability: Some(form.chosen("requiredcapability")).filter(|c| !c.is_empty()),
                    download_files: form.checked("download"),
                    upload_files: form.checked("upload"),
                };
                Write::from_form(form, ID, move |ops| {
                    let s = ops.create_service(new)?;
                    let next =
                        if s.restricted_users { "f adds functions, a authorises users" } else { "f adds functions" };
                    Ok(Written::say(format!("service \"{}\" created: {next}", s.name)).select(s.shortname))
                })
            }
        };
        vec![Effect::Write(write)]
    }

    fn filter(&self) -> Option<&str> {
        Some(&self.rows.filter)
    }

    fn set_filter(&mut self, text: &str, _cx: &Ctx) -> Effects {
        self.rows.set_filter(text)
    }

    fn select(&mut self, key: &str, cx: &Ctx) -> Effects {
        let v = visible(&self.rows, cx);
        self.rows.select(v.iter().map(|&i| cx.data.services[i].service.shortname == key))
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx) {
        let d = cx.data;
        let v = visible(&self.rows, cx);
        let spec = TableSpec {
            title: "External services: built-in, then custom".into(),
            header: vec!["Name", "Short name", "Kind", "On", "Users", "Functions", "Site"],
            widths: vec![
                Constraint::Min(14),
                Constraint::Length(16),
                Constraint::Length(8),
                Constraint::Length(3),
                Constraint::Length(12),
                Constraint::Length(9),
                Constraint::Length(8),
            ],
            len: v.len(),
            selected: self.rows.list.at(v.len()),
            empty: empty_text(&self.rows.filter, "No service yet: n adds one."),
        };
        table(f, area, &cx.theme, spec, |i| {
            let s = &d.services[v[i]];
            let sv = &s.service;
            Row::new(vec![
                sv.name.clone(),
                sv.shortname.clone(),
                if sv.builtin { "built-in" } else { "custom" }.into(),
                yes_no(sv.enabled).into(),
                // "Authorised users only": how many are.
                if sv.restricted_users { format!("{} authorised", s.authorised.len()) } else { "all".into() },
                s.functions.len().to_string(),
                site_link::column(s.upstream.as_ref()),
            ])
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_short_name_is_proposed_from_the_name() {
        assert_eq!(super::propose_shortname("External system"), "external_system");
        assert_eq!(super::propose_shortname("  My  App (v2)! "), "my_app_v2");
        assert_eq!(super::propose_shortname("--"), "");
    }
}
