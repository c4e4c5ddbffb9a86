//! 5 Users: a page of users around the selection (read off the UI thread), the selected user's
//! roles and protocol capabilities, and new, edit, suspend, roles and delete.

use super::{Hint, List, Meta, Screen, ScreenId};
use crate::console::effect::{Answer, Ctx, Effect, Effects, Job, Target, Write, Written};
use crate::console::form::Form;
use crate::console::keys::Action;
use crate::console::overlays::confirm::Confirm;
use crate::console::overlays::form::FormDialog;
use crate::console::overlays::picker::{PickItem, Picker};
use crate::console::widgets::{TableSpec, block, empty_text, table};
use crate::domain::validate::{self, FieldError};
use crate::domain::{AuthMethod, Protocol, User, UserId};
use crate::ops::{NewUser, UserEdit};
use crate::store::{Page, Queries, StoreError};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Wrap};
use std::collections::BTreeSet;

pub const ID: ScreenId = ScreenId("users");
static META: Meta = Meta { id: ID, title: "Users", number: Some('5'), tab: "Users", aliases: &[], parent: None };

/// Users are read a page at a time around the selection.
const PAGE: usize = 200;

#[derive(Default)]
pub struct Users {
    list: List,
    filter: String,
    page: Option<(String, usize, Page<User>)>,
    /// The page asked for and not yet in: (filter, offset).
    asked: Option<(String, usize)>,
    detail: Option<Detail>,
    asked_detail: Option<UserId>,
}

/// Roles and capabilities of the selected user.
struct Detail {
    user: UserId,
    roles: Vec<String>,
    capabilities: BTreeSet<String>,
}

struct PageAnswer {
    filter: String,
    offset: usize,
    page: Result<Page<User>, StoreError>,
}

struct Found(Option<usize>);

enum Purpose {
    New,
    Edit(String),
}

fn username_rule(v: &str) -> Result<(), String> {
    validate::username(v).map(|_| ()).map_err(|e| e.message)
}

fn email_rule(v: &str) -> Result<(), String> {
    validate::email(v).map(|_| ()).map_err(|e| e.message)
}

impl Users {
    fn total(&self) -> usize {
        self.page.as_ref().map_or(0, |p| p.2.total)
    }

    pub fn selected(&self) -> Option<&User> {
        let (filter, offset, page) = self.page.as_ref()?;
        if *filter != self.filter {
            return None;
        }
        page.rows.get(self.list.at(page.total).checked_sub(*offset)?)
    }

    /// Asks for the page holding the selection and the selected user's detail, when missing.
    fn fetch(&mut self) -> Effects {
        let sel = self.list.selected;
        let covered = self.page.as_ref().is_some_and(|(f, offset, p)| {
            *f == self.filter && (p.total == 0 || (sel >= *offset && sel < offset + p.rows.len()))
        });
        let mut effects = Vec::new();
        if !covered {
            let (filter, offset) = (self.filter.clone(), sel.saturating_sub(PAGE / 2));
            if self.asked.as_ref() != Some(&(filter.clone(), offset)) {
                self.asked = Some((filter.clone(), offset));
                effects.push(Effect::Job(Job::new(Target::Screen(ID), "reading users…", move |store| PageAnswer {
                    page: store.read().and_then(|v| v.find_users(&filter, offset, PAGE)),
                    filter,
                    offset,
                })));
            }
        }
        if let Some(u) = self.selected().map(|u| u.id)
            && self.detail.as_ref().is_none_or(|d| d.user != u)
            && self.asked_detail != Some(u)
        {
            self.asked_detail = Some(u);
            effects.push(Effect::Job(Job::new(Target::Screen(ID), "reading the user's roles…", move |store| {
                let v = store.read().ok()?;
                let roles = v.user_roles(u).ok()?.assigned.into_iter().map(|r| r.shortname).collect();
                Some(Detail { user: u, roles, capabilities: v.user_capabilities(u).ok()? })
            })));
        }
        effects
    }

    fn form(title: String, purpose: Purpose, u: Option<&User>) -> Form {
        let auths: Vec<String> = AuthMethod::ALL.iter().map(|a| a.name().to_string()).collect();
        let auth = u.map_or("webservice", |u| u.auth.name());
        let editing = u.is_some();
        let mut f = Form::new(title, purpose);
        if !editing {
            f = f.text("username", "Username", "").rule(username_rule).note("lower case letters, digits, . _ - @");
        }
        f.choice("auth", "Authentication", auths, auth)
            .note("webservice: calls only · manual: can also log in (login/token.php)")
            .secret("password", if editing { "New password" } else { "Password" })
            .note(if editing {
                "leave empty to keep the current one"
            } else {
                "required for manual; optional for webservice"
            })
            .text("firstname", "First name", u.map_or("", |u| &u.firstname))
            .text("lastname", "Last name", u.map_or("", |u| &u.lastname))
            .text("email", "E-mail", u.map_or("", |u| &u.email))
            .rule(email_rule)
            .check_with(errors)
    }

    fn roles_picker(&self, cx: &Ctx) -> Effects {
        let Some(u) = self.selected() else { return Vec::new() };
        let assignable: Vec<_> = cx.data.roles.iter().filter(|r| !r.role.implicit).collect();
        if assignable.is_empty() {
            return vec![Effect::Fail(
                "No role to assign yet: create one on Roles (:roles, then n) with the protocol's capability".into(),
            )];
        }
        let held = self.detail.as_ref().filter(|d| d.user == u.id).map(|d| d.roles.clone()).unwrap_or_default();
        let items = assignable
            .iter()
            .map(|r| {
                let detail = format!("{}: {}", r.role.name, r.capabilities.join(", "));
                PickItem::new(r.role.shortname.clone(), detail, held.contains(&r.role.shortname))
            })
            .collect();
        let user = u.username.clone();
        let apply = Box::new(move |on: Vec<String>, off: Vec<String>| {
            vec![Effect::Write(Write::new(move |ops| {
                let (n_on, n_off) = (on.len(), off.len());
                ops.change_role_assignments(&user, &on, &off)
                    .map(|_| Written::say(format!("{user}: {n_on} roles assigned, {n_off} unassigned")))
            }))]
        });
        vec![Effect::Open(Box::new(Picker::new(format!("Roles of {}", u.username), items, apply)))]
    }
}

/// Every error of a user form at once.
fn errors(form: &Form) -> Vec<FieldError> {
    let new = matches!(form.purpose::<Purpose>(), Some(Purpose::New));
    let mut errors = Vec::new();
    let username = form.value("username");
    if new && let Err(e) = validate::username(&username) {
        errors.push(e);
    }
    let password = form.raw("password");
    let manual = form.chosen("auth") == AuthMethod::Manual.name();
    if (!password.is_empty() || manual && new)
        && let Err(e) = validate::password(&password, &username)
    {
        errors.push(e);
    }
    for (field, v) in [("firstname", form.value("firstname")), ("lastname", form.value("lastname"))] {
        if let Err(e) = validate::text(field, &v, validate::NAME_MAX, false) {
            errors.push(e);
        }
    }
    if let Err(e) = validate::email(&form.value("email")) {
        errors.push(e);
    }
    errors
}

impl Screen for Users {
    fn meta(&self) -> &'static Meta {
        &META
    }

    fn act(&mut self, action: Action, cx: &Ctx) -> Effects {
        if self.list.step(action, self.total(), cx.page()) {
            return self.fetch();
        }
        let selected = self.selected().cloned();
        match (action, selected) {
            (Action::New, _) => {
                vec![Effect::Open(Box::new(FormDialog::new(Users::form("Add a user".into(), Purpose::New, None), ID)))]
            }
            (Action::Edit, Some(u)) => {
                let form = Users::form(format!("Edit {}", u.username), Purpose::Edit(u.username.clone()), Some(&u));
                vec![Effect::Open(Box::new(FormDialog::new(form, ID)))]
            }
            (Action::Suspend, Some(u)) => vec![Effect::Write(Write::new(move |ops| {
                ops.set_suspended(&u.username, !u.suspended).map(|_| {
                    Written::say(format!("{} {}", u.username, if u.suspended { "unsuspended" } else { "suspended" }))
                })
            }))],
            (Action::AssignRoles, Some(_)) => self.roles_picker(cx),
            (Action::Delete, Some(u)) => {
                let name = u.username.clone();
                let write =
                    Write::new(move |ops| ops.delete_user(&name).map(|_| Written::say(format!("user {name} deleted"))));
                let text = format!("Delete user \"{}\"? Their tokens are revoked; logs keep their name.", u.username);
                vec![Effect::Open(Box::new(Confirm::new(text, "Delete", vec![Effect::Write(write)])))]
            }
            _ => Vec::new(),
        }
    }

    fn hint(&self, action: Action, _cx: &Ctx) -> Hint {
        match (action, self.selected()) {
            (Action::Edit | Action::Delete | Action::AssignRoles, None) => Hint::Hidden,
            (Action::Suspend, None) => Hint::Hidden,
            (Action::Suspend, Some(u)) => Hint::Label(if u.suspended { "unsuspend" } else { "suspend" }.into()),
            _ => Hint::Shown,
        }
    }

    fn shown(&mut self, _cx: &Ctx) -> Effects {
        self.fetch()
    }

    /// The page is read again when the screen is shown (the shell shows the current screen
    /// again after each reread): a filter over 100 000 users is not reread while unseen.
    fn refreshed(&mut self, cx: &Ctx) -> Effects {
        // Users change with the configuration only (a token's news leaves them alone).
        if !cx.data.touched.config {
            return Vec::new();
        }
        self.page = None;
        self.asked = None;
        self.detail = None;
        self.asked_detail = None;
        Vec::new()
    }

    fn reply(&mut self, answer: Answer, _cx: &Ctx) -> Effects {
        let answer = match answer.downcast::<PageAnswer>() {
            Ok(p) => {
                if self.asked.as_ref() == Some(&(p.filter.clone(), p.offset)) {
                    self.asked = None;
                }
                match p.page {
                    Ok(page) => {
                        self.list.selected = self.list.at(page.total);
                        self.page = Some((p.filter, p.offset, page));
                    }
                    Err(e) => return vec![Effect::Fail(format!("cannot read users: {e}"))],
                }
                return self.fetch();
            }
            Err(other) => other,
        };
        let answer = match answer.downcast::<Option<Detail>>() {
            Ok(d) => {
                let Some(d) = *d else { return Vec::new() };
                if self.asked_detail == Some(d.user) {
                    self.asked_detail = None;
                }
                // An answer for a user no longer selected is dropped (its answer may come last).
                if self.selected().is_some_and(|u| u.id == d.user) {
                    self.detail = Some(d);
                }
                return self.fetch();
            }
            Err(other) => other,
        };
        if let Ok(found) = answer.downcast::<Found>()
            && let Some(i) = found.0
        {
            self.list.selected = i;
            return self.fetch();
        }
        Vec::new()
    }

    fn submit(&mut self, form: Box<Form>, _cx: &Ctx) -> Effects {
        let auth = AuthMethod::parse(&form.chosen("auth"));
        let password = form.raw("password");
        let (first, last, email) = (form.value("firstname"), form.value("lastname"), form.value("email"));
        let write = match form.purpose::<Purpose>() {
            Some(Purpose::Edit(name)) => {
                let name = name.clone();
                Write::from_form(form, ID, move |ops| {
                    let edit = UserEdit { auth, firstname: Some(first), lastname: Some(last), email: Some(email) };
                    let u = ops.edit_user(&name, edit)?;
                    if !password.is_empty() {
                        ops.set_password(&name, &password)?;
                    }
                    Ok(Written::say(format!("user {} saved", u.username)))
                })
            }
            _ => {
                let username = form.value("username");
                Write::from_form(form, ID, move |ops| {
                    let u = ops.create_user(NewUser {
                        username,
                        auth: auth.unwrap_or(AuthMethod::Webservice),
                        password: Some(password).filter(|p| !p.is_empty()),
                        firstname: first,
                        lastname: last,
                        email,
                    })?;
                    Ok(Written::say(format!("user {} created: r assigns roles", u.username)).select(u.username))
                })
            }
        };
        vec![Effect::Write(write)]
    }

    fn filter(&self) -> Option<&str> {
        Some(&self.filter)
    }

    fn set_filter(&mut self, text: &str, _cx: &Ctx) -> Effects {
        self.filter = text.to_string();
        self.list.selected = 0;
        self.fetch()
    }

    fn select(&mut self, key: &str, _cx: &Ctx) -> Effects {
        let (filter, name) = (self.filter.clone(), key.to_string());
        vec![Effect::Job(Job::new(Target::Screen(ID), "finding the new user…", move |store| {
            Found(store.read().and_then(|v| v.user_position(&filter, &name)).ok().flatten())
        }))]
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx) {
        let t = cx.theme;
        let [list, detail] = Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(area);
        let total = self.total();
        let (offset, rows) = match &self.page {
            Some((_, offset, p)) => (*offset, p.rows.as_slice()),
            None => (0, &[][..]),
        };
        let spec = TableSpec {
            title: format!("Users ({total})"),
            header: vec!["Username", "Auth", "Name", "State"],
            widths: vec![Constraint::Length(14), Constraint::Length(10), Constraint::Min(6), Constraint::Length(9)],
            len: total,
            selected: self.list.at(total),
            empty: empty_text(&self.filter, "No user yet: n adds one."),
        };
        table(f, list, &t, spec, |i| match rows.get(i.wrapping_sub(offset)) {
            Some(u) => Row::new(vec![
                u.username.clone(),
                u.auth.name().to_string(),
                u.fullname(),
                if u.suspended { "suspended".into() } else { "active".to_string() },
            ]),
            None => Row::new(vec!["…"]),
        });
        let mut lines: Vec<Line> = Vec::new();
        if let (Some(u), Some(dt)) = (self.selected(), &self.detail)
            && dt.user == u.id
        {
            let s = &cx.data.settings;
            lines.push(Line::from(Span::styled(u.username.clone(), t.title())));
            if !u.fullname().trim().is_empty() {
                lines.push(Line::raw(format!("name: {}", u.fullname())));
            }
            lines.push(Line::raw(format!("e-mail: {}", if u.email.is_empty() { "—" } else { &u.email })));
            lines.push(Line::raw(format!("password: {}", if u.password_hash.is_empty() { "none" } else { "set" })));
            lines.push(Line::raw(format!(
                "roles: {}",
                if dt.roles.is_empty() { "none (Authenticated user only)".into() } else { dt.roles.join(", ") }
            )));
            lines.push(Line::raw(""));
            lines.push(Line::from(Span::styled("Protocol capabilities", t.title())));
            for p in Protocol::ALL {
                let has = dt.capabilities.contains(p.capability());
                let enabled = s.protocols.contains(&p);
                let style = if has {
                    t.good()
                } else if enabled {
                    t.bad()
                } else {
                    t.dim()
                };
                let note = match (has, enabled) {
                    (true, _) => "✓",
                    (false, true) => "✗ missing: give it through a role (r)",
                    (false, false) => "✗ (protocol off)",
                };
                lines.push(Line::from(Span::styled(format!("{} {note}", p.capability()), style)));
            }
            lines.push(Line::raw(""));
            lines.push(Line::from(Span::styled("Effective capabilities", t.title())));
            for c in &dt.capabilities {
                lines.push(Line::raw(c.clone()));
            }
        }
        f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block("User", &t)), detail);
    }
}
