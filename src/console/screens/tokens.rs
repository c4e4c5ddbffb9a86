//! 7 Tokens: every token, filtered and sorted in memory (200 000 stay fast), created for a user
//! and shown once, revoked one by one (Cancel is the default) or all of a user or a service
//! (by typing the name).

use super::authorised_users::{day, day_rule, ip_rule, parse_optional_day};
use super::{Hint, List, Meta, Screen, ScreenId};
use crate::console::effect::{Ctx, Effect, Effects, Write, Written};
use crate::console::form::Form;
use crate::console::keys::Action;
use crate::console::overlays::confirm::Confirm;
use crate::console::overlays::form::FormDialog;
use crate::console::overlays::secret::Secret;
use crate::console::overlays::typed::Typed;
use crate::console::token_index::{TokenList, TokenView};
use crate::console::widgets::{TableSpec, empty_text, table, utc_minute};
use crate::domain::TokenState;
use crate::domain::time::format_time;
use crate::domain::validate::FieldError;
use crate::ops::NewToken;
use crate::store::TokenSort;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Cell, Paragraph, Row};

pub const ID: ScreenId = ScreenId("tokens");
static META: Meta = Meta { id: ID, title: "Tokens", number: Some('7'), tab: "Tokens", aliases: &[], parent: None };

/// Moodle's default "valid until" for a new token: 30 days.
const TOKEN_DAYS: i64 = 30;

#[derive(Default)]
pub struct Tokens {
    list: List,
    tokens: TokenList,
}

fn sort_name(s: TokenSort) -> &'static str {
    match s {
        TokenSort::ValidUntil => "valid until",
        TokenSort::Name => "name",
        TokenSort::User => "user",
        TokenSort::Service => "service",
        TokenSort::LastAccess => "last access",
        TokenSort::Created => "created",
    }
}

impl Tokens {
    fn selected<'a>(&self, cx: &'a Ctx) -> Option<TokenView<'a>> {
        cx.data.tokens.view(self.tokens.at(self.list.at(self.tokens.len()))?)
    }

    fn new_form(cx: &Ctx) -> Form {
        let d = cx.data;
        let services: Vec<String> = d.services.iter().map(|s| s.service.shortname.clone()).collect();
        let default = d.services.iter().find(|s| !s.service.builtin).or(d.services.first());
        let until = day(crate::store::now() + TOKEN_DAYS * 86_400);
        Form::new("Create a token", ())
            .text("username", "User", "")
            .user()
            .note("type a username; Tab completes")
            .choice("service", "Service", services, default.map_or("", |s| s.service.shortname.as_str()))
            .text("name", "Name", "")
            .note("empty: Webservice- and 5 random characters")
            .text("iprestriction", "IP restriction", "")
            .rule(ip_rule)
            .note("empty: any address; e.g. 192.168.1.0/24, 10.0.0.1-20")
            .text("validuntil", "Valid until", &until)
            .rule(day_rule)
            .note("YYYY-MM-DD (local time); empty: no expiry")
    }
}

impl Screen for Tokens {
    fn meta(&self) -> &'static Meta {
        &META
    }

    fn act(&mut self, action: Action, cx: &Ctx) -> Effects {
        let ix = &cx.data.tokens;
        if self.list.step(action, self.tokens.len(), cx.page()) {
            return Vec::new();
        }
        let selected = self.selected(cx);
        match (action, selected) {
            (Action::New, _) => vec![Effect::Open(Box::new(FormDialog::new(Tokens::new_form(cx), ID)))],
            (Action::Sort, _) => {
                self.tokens.next_sort(ix);
                Vec::new()
            }
            (Action::Reverse, _) => {
                self.tokens.reverse(ix);
                Vec::new()
            }
            (Action::Delete, Some(t)) => {
                let text = format!(
                    "Revoke token \"{}\" of user \"{}\" for service \"{}\"? Calls with it fail at once.",
                    t.entry.name, t.username, t.service_name
                );
                let id = t.entry.id;
                let write = Write::new(move |ops| {
                    ops.revoke_token(id).map(|t| Written::say(format!("token \"{}\" revoked", t.name)))
                });
                vec![Effect::Open(Box::new(Confirm::new(text, "Revoke", vec![Effect::Write(write)])))]
            }
            (Action::RevokeUserTokens, Some(t)) => {
                let user = t.username.to_string();
                let text = format!("Revoke every token of user \"{user}\"? Type {user} and press Enter.");
                let name = user.clone();
                let write = Write::new(move |ops| {
                    ops.revoke_user_tokens(&name).map(|n| Written::say(format!("{n} tokens of {name} revoked")))
                });
                vec![Effect::Open(Box::new(Typed::new(text, user, write)))]
            }
            (Action::RevokeServiceTokens, Some(t)) => {
                let service = t.service_shortname.to_string();
                let text = format!("Revoke every token of service \"{service}\"? Type {service} and press Enter.");
                let name = service.clone();
                let write = Write::new(move |ops| {
                    ops.revoke_service_tokens(&name).map(|n| Written::say(format!("{n} tokens of {name} revoked")))
                });
                vec![Effect::Open(Box::new(Typed::new(text, service, write)))]
            }
            _ => Vec::new(),
        }
    }

    fn hint(&self, action: Action, cx: &Ctx) -> Hint {
        let selected = self.selected(cx).is_some();
        match action {
            Action::Delete | Action::RevokeUserTokens | Action::RevokeServiceTokens if !selected => Hint::Hidden,
            Action::Sort => Hint::Label(format!("sort ({})", sort_name(self.tokens.sort))),
            _ => Hint::Shown,
        }
    }

    /// A full read (or services renamed) sorts again; a few tokens changed move in place.
    fn refreshed(&mut self, cx: &Ctx) -> Effects {
        let touched = &cx.data.touched;
        if touched.all || touched.config {
            self.tokens.resort(&cx.data.tokens);
        } else {
            let moved: Vec<u32> = touched.tokens.iter().chain(&touched.accessed).copied().collect();
            self.tokens.update(&cx.data.tokens, &moved);
        }
        Vec::new()
    }

    fn submit(&mut self, mut form: Box<Form>, _cx: &Ctx) -> Effects {
        let valid_until = match parse_optional_day(&form.value("validuntil")) {
            Ok(v) => v,
            Err(e) => {
                form.set_errors(vec![FieldError::new("validuntil", e)]);
                return vec![Effect::Open(Box::new(FormDialog::again(form, ID)))];
            }
        };
        let new = NewToken {
            username: form.value("username"),
            service: form.chosen("service"),
            name: form.value("name"),
            ip_restriction: form.value("iprestriction"),
            valid_until,
        };
        vec![Effect::Write(Write::from_form(form, ID, move |ops| {
            let created = ops.create_token(new)?;
            Ok(Written::say(format!("token \"{}\" created", created.token.name))
                .select(created.token.id.to_string())
                .then(Box::new(Secret::new(created.value))))
        }))]
    }

    fn filter(&self) -> Option<&str> {
        Some(self.tokens.filter())
    }

    fn set_filter(&mut self, text: &str, cx: &Ctx) -> Effects {
        self.tokens.set_filter(&cx.data.tokens, text);
        self.list.selected = 0;
        Vec::new()
    }

    fn select(&mut self, key: &str, cx: &Ctx) -> Effects {
        if let Some(row) = key.parse().ok().and_then(|id| self.tokens.row_of(&cx.data.tokens, id)) {
            self.list.selected = row;
        }
        Vec::new()
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx) {
        let t = cx.theme;
        let ix = &cx.data.tokens;
        let now = crate::store::now();
        let wide = area.width >= 140;
        let title = format!(
            "Tokens: {} of {} · sorted by {}{}",
            self.tokens.len(),
            ix.total(),
            sort_name(self.tokens.sort),
            if self.tokens.descending { " ↓" } else { "" }
        );
        let (header, widths) = if wide {
            (
                vec!["Name", "User", "Service", "IP", "Valid until", "Last access", "State", "Creator"],
                vec![
                    Constraint::Length(18),
                    Constraint::Length(14),
                    Constraint::Min(12),
                    Constraint::Length(16),
                    Constraint::Length(20),
                    Constraint::Length(20),
                    Constraint::Length(8),
                    Constraint::Length(14),
                ],
            )
        } else {
            (
                vec!["Name", "User", "Service", "Expires", "Last use (UTC)", "State"],
                vec![
                    Constraint::Length(14),
                    Constraint::Length(10),
                    Constraint::Min(10),
                    Constraint::Length(10),
                    Constraint::Length(16),
                    Constraint::Length(8),
                ],
            )
        };
        let (good, warn, bad) = (t.good(), t.warn(), t.bad());
        // The selected token's IP restriction, creator and dates, on a line under the list.
        let [list, detail] = Layout::vertical([Constraint::Min(4), Constraint::Length(1)]).areas(area);
        if let Some(v) = self.selected(cx) {
            let e = v.entry;
            let ip = if e.ip_restriction.is_empty() { "any IP" } else { &e.ip_restriction };
            let text = format!(
                " {}: {ip} · created by {} {} · last access {}",
                e.name,
                v.creator,
                utc_minute(e.created),
                e.last_access.map_or("never".into(), format_time),
            );
            f.render_widget(Paragraph::new(text).style(t.dim()), detail);
        }
        let spec = TableSpec {
            title,
            header,
            widths,
            len: self.tokens.len(),
            selected: self.list.at(self.tokens.len()),
            empty: empty_text(self.tokens.filter(), "No token yet: n creates one."),
        };
        table(f, list, &t, spec, |i| {
            let Some(v) = self.tokens.at(i).and_then(|at| ix.view(at)) else { return Row::new(vec!["?"]) };
            let e = v.entry;
            let state = TokenState::at(e.valid_until, now);
            let state_cell = Cell::from(state.name()).style(match state {
                TokenState::Valid => good,
                TokenState::Expiring => warn,
                TokenState::Expired => bad,
            });
            let until = e.valid_until.map_or("no expiry".into(), |x| if wide { format_time(x) } else { day(x) });
            let last = e.last_access.map_or("never".into(), |x| if wide { format_time(x) } else { utc_minute(x) });
            let mut cells = vec![Cell::from(e.name.to_string()), Cell::from(v.username.to_string())];
            cells.push(Cell::from(v.service_name.to_string()));
            if wide {
                let ip = if e.ip_restriction.is_empty() { "any".to_string() } else { e.ip_restriction.to_string() };
                cells.push(Cell::from(ip));
            }
            cells.extend([Cell::from(until), Cell::from(last), state_cell]);
            if wide {
                cells.push(Cell::from(v.creator.to_string()));
            }
            Row::new(cells)
        });
    }
}
