//! 2 Advanced features: "Enable web services", maintenance mode, and the site's name and URL.

use super::{Hint, List, Meta, Screen, ScreenId};
use crate::console::effect::{Ctx, Effect, Effects, Write, Written};
use crate::console::form::Form;
use crate::console::keys::Action;
use crate::console::overlays::form::FormDialog;
use crate::console::widgets::{Switch, Switches, switches};
use ratatui::Frame;
use ratatui::layout::Rect;

pub const ID: ScreenId = ScreenId("features");
static META: Meta = Meta {
    id: ID,
    title: "Advanced features",
    number: Some('2'),
    tab: "Features",
    aliases: &["advanced"],
    parent: None,
};

#[derive(Default)]
pub struct Features {
    list: List,
}

/// The site form's purpose.
struct Site;

fn site_url_rule(value: &str) -> Result<(), String> {
    let mut scratch = crate::domain::Settings::default();
    crate::domain::config::apply(&mut scratch, "siteurl", value).map_err(|e| e.message)
}

impl Features {
    fn on(&self, cx: &Ctx) -> bool {
        let s = &cx.data.settings;
        if self.list.at(2) == 0 { s.enable_web_services } else { s.maintenance }
    }
}

impl Screen for Features {
    fn meta(&self) -> &'static Meta {
        &META
    }

    fn act(&mut self, action: Action, cx: &Ctx) -> Effects {
        if self.list.step(action, 2, cx.page()) {
            return Vec::new();
        }
        match action {
            Action::Toggle => {
                let (first, on) = (self.list.at(2) == 0, !self.on(cx));
                vec![Effect::Write(Write::new(move |ops| {
                    if first {
                        ops.set_web_services(on).map(|_| Written::say(format!("Enable web services: {}", on_off(on))))
                    } else {
                        ops.set_maintenance(on).map(|_| Written::say(format!("Maintenance mode: {}", on_off(on))))
                    }
                }))]
            }
            Action::Edit => {
                let s = &cx.data.settings;
                let form = Form::new("Site", Site)
                    .text("sitename", "Site name", &s.site_name)
                    .text("siteurl", "Site URL", &s.site_url)
                    .rule(site_url_rule)
                    .note("where clients reach the endpoint, http:// or https:// (Moodle's wwwroot)");
                vec![Effect::Open(Box::new(FormDialog::new(form, ID)))]
            }
            _ => Vec::new(),
        }
    }

    fn hint(&self, action: Action, cx: &Ctx) -> Hint {
        match action {
            Action::Toggle => Hint::Label(if self.on(cx) { "switch off" } else { "switch on" }.into()),
            Action::Edit => Hint::Label("site name and URL".into()),
            _ => Hint::Shown,
        }
    }

    fn submit(&mut self, form: Box<Form>, _cx: &Ctx) -> Effects {
        let (name, url) = (form.value("sitename"), form.value("siteurl"));
        vec![Effect::Write(Write::from_form(form, ID, move |ops| {
            ops.set_settings(&[("sitename", &name), ("siteurl", &url)])
                .map(|s| Written::say(format!("site URL {} saved", s.site_url)))
        }))]
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx) {
        let d = cx.data;
        let s = &d.settings;
        let rows = vec![
            Switch { label: "Enable web services".into(), on: s.enable_web_services, note: "enablewebservices".into() },
            Switch { label: "Maintenance mode".into(), on: s.maintenance, note: "maintenance_enabled".into() },
        ];
        let mut foot = format!(
            "Space switches the selected setting; e edits the site name and URL.\nSite name {} · site URL {}\ntoken duration {} days · debug {} · log lifetime {} days (wsconsole settings set NAME VALUE)",
            s.site_name,
            s.site_url,
            s.token_duration / 86_400,
            s.debug,
            s.log_lifetime_days
        );
        if let Some(e) = &d.endpoint {
            let when = crate::domain::time::format_time_in(e.started, &jiff::tz::TimeZone::system());
            match &e.warning {
                Some(w) => {
                    foot.push_str(&format!("\n\n⚠ The endpoint on {} warned at its start ({when}): {w}", e.listen))
                }
                None => foot.push_str(&format!(
                    "\n\nThe endpoint on {} (started {when}) is where the site URL leads.",
                    e.listen
                )),
            }
        }
        let page =
            Switches { title: "Advanced features", fixed: Vec::new(), rows, selected: self.list.at(2), foot: &foot };
        switches(f, area, &cx.theme, page);
    }
}

pub fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}
