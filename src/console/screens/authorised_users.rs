//! External services › Authorised users: who may use an "authorised users only" service, from
//! which addresses and until when, and which capabilities each still lacks.

use super::service_functions::current;
use super::{Hint, List, Meta, Screen, ScreenId, services};
use crate::console::effect::{Ctx, Effect, Effects, Write, Written};
use crate::console::form::Form;
use crate::console::keys::Action;
use crate::console::overlays::confirm::Confirm;
use crate::console::overlays::form::FormDialog;
use crate::console::widgets::{TableSpec, block, table};
use crate::domain::iprestriction::IpRestriction;
use crate::domain::time::format_time;
use crate::domain::validate::FieldError;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Cell, Paragraph, Row};

pub const ID: ScreenId = ScreenId("authorised");
static META: Meta = Meta {
    id: ID,
    title: "External services › Authorised users",
    number: None,
    tab: "Authorised users",
    aliases: &["authorized"],
    parent: Some(services::ID),
};

#[derive(Default)]
pub struct AuthorisedUsers {
    list: List,
}

pub fn ip_rule(v: &str) -> Result<(), String> {
    IpRestriction::parse(v).map(|_| ()).map_err(|e| e.to_string())
}

pub fn day_rule(v: &str) -> Result<(), String> {
    parse_optional_day(v).map(|_| ())
}

/// `YYYY-MM-DD` (midnight, local time, as the CLI and Moodle's date selector read it) or an
/// RFC 3339 time; empty for none.
pub fn parse_optional_day(text: &str) -> Result<Option<i64>, String> {
    if text.trim().is_empty() {
        Ok(None)
    } else {
        crate::domain::time::parse_date(text, &jiff::tz::TimeZone::system()).map(Some)
    }
}

/// A day as the date fields show it (local time), read back by [`parse_optional_day`].
pub fn day(t: i64) -> String {
    crate::domain::time::format_date_in(t, &jiff::tz::TimeZone::system())
}

fn form(title: String, user: &str, ip: &str, until: &str) -> Form {
    Form::new(title, ())
        .text("username", "User", user)
        .user()
        .note("type a username; Tab completes")
        .text("iprestriction", "IP restriction", ip)
        .rule(ip_rule)
        .note("empty: any address")
        .text("validuntil", "Valid until", until)
        .rule(day_rule)
        .note("YYYY-MM-DD (local time); empty: no expiry")
}

impl Screen for AuthorisedUsers {
    fn meta(&self) -> &'static Meta {
        &META
    }

    fn act(&mut self, action: Action, cx: &Ctx) -> Effects {
        let Some(s) = current(cx) else { return Vec::new() };
        if self.list.step(action, s.authorised.len(), cx.page()) {
            return Vec::new();
        }
        let selected = s.authorised.get(self.list.at(s.authorised.len()));
        match (action, selected) {
            (Action::New, _) => {
                let f = form(format!("Authorise a user on {}", s.service.name), "", "", "");
                vec![Effect::Open(Box::new(FormDialog::new(f, ID)))]
            }
            (Action::Edit, Some(a)) => {
                let until = a.entry.valid_until.map(day).unwrap_or_default();
                let f = form(format!("Authorisation of {}", a.username), &a.username, &a.entry.ip_restriction, &until);
                vec![Effect::Open(Box::new(FormDialog::new(f, ID)))]
            }
            (Action::Delete, Some(a)) => {
                let (short, user) = (s.service.shortname.clone(), a.username.clone());
                let text = format!("Stop authorising \"{user}\" on \"{}\"?", s.service.name);
                let write = Write::new(move |ops| {
                    ops.unauthorise_user(&short, &user).map(|_| Written::say(format!("{user} no longer authorised")))
                });
                vec![Effect::Open(Box::new(Confirm::new(text, "Remove", vec![Effect::Write(write)])))]
            }
            _ => Vec::new(),
        }
    }

    fn hint(&self, action: Action, cx: &Ctx) -> Hint {
        let rows = current(cx).map_or(0, |s| s.authorised.len());
        match action {
            Action::New if current(cx).is_none() => Hint::Hidden,
            Action::New => Hint::Label("authorise".into()),
            Action::Edit | Action::Delete if rows == 0 => Hint::Hidden,
            _ => Hint::Shown,
        }
    }

    fn submit(&mut self, form: Box<Form>, cx: &Ctx) -> Effects {
        let Some(short) = current(cx).map(|s| s.service.shortname.clone()) else { return Vec::new() };
        let (user, ip) = (form.value("username"), form.value("iprestriction"));
        let until = match parse_optional_day(&form.value("validuntil")) {
            Ok(u) => u,
            Err(e) => {
                let mut form = form;
                form.set_errors(vec![FieldError::new("validuntil", e)]);
                return vec![Effect::Open(Box::new(FormDialog::again(form, ID)))];
            }
        };
        vec![Effect::Write(Write::from_form(form, ID, move |ops| {
            ops.authorise_user(&short, &user, &ip, until)
                .map(|_| Written::say(format!("{user} authorised on {short}")).select(user.clone()))
        }))]
    }

    fn select(&mut self, key: &str, cx: &Ctx) -> Effects {
        if let Some(i) = current(cx).and_then(|s| s.authorised.iter().position(|a| a.username == key)) {
            self.list.selected = i;
        }
        Vec::new()
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx) {
        let t = cx.theme;
        let Some(s) = current(cx) else {
            let text = "Pick a service on External services (6), then a.";
            f.render_widget(Paragraph::new(text).block(block("Authorised users", &t)), area);
            return;
        };
        let title = if s.service.restricted_users {
            format!("Authorised users of \"{}\"", s.service.name)
        } else {
            format!("\"{}\" is open to all users: authorisations are not used", s.service.name)
        };
        let wide = area.width >= 120;
        let spec = TableSpec {
            title,
            header: vec!["User", "IP restriction", "Valid until", "Capabilities"],
            widths: vec![
                Constraint::Length(14),
                Constraint::Length(18),
                Constraint::Length(if wide { 20 } else { 11 }),
                Constraint::Min(20),
            ],
            len: s.authorised.len(),
            selected: self.list.at(s.authorised.len()),
            empty: "Nobody yet: n authorises a user.".into(),
        };
        // The selected row whole, on a line under the list.
        let [area, detail] = Layout::vertical([Constraint::Min(4), Constraint::Length(1)]).areas(area);
        if let Some(a) = s.authorised.get(self.list.at(s.authorised.len())) {
            let until = a.entry.valid_until.map_or("no expiry".into(), format_time);
            let caps = if a.missing.is_empty() {
                "has the capabilities".into()
            } else {
                format!("lacks {}", a.missing.join(", "))
            };
            f.render_widget(
                Paragraph::new(format!(" {}: valid until {until} · {caps}", a.username)).style(t.dim()),
                detail,
            );
        }
        let bad = t.bad();
        table(f, area, &t, spec, |i| {
            let a = &s.authorised[i];
            let ip = if a.entry.ip_restriction.is_empty() { "any".into() } else { a.entry.ip_restriction.clone() };
            let until = a.entry.valid_until.map_or("no expiry".into(), |v| if wide { format_time(v) } else { day(v) });
            let caps = if a.missing.is_empty() {
                Cell::from("✓")
            } else {
                Cell::from(format!("✗ lacks {}", a.missing.join(", "))).style(bad)
            };
            Row::new(vec![Cell::from(a.username.clone()), Cell::from(ip), Cell::from(until), caps])
        });
    }
}
