//! 4 Manage authentication: Manual accounts and No login are always on, as on Moodle's page;
//! the "Web services" plugin (username/password calls) is switched here.

use super::features::on_off;
use super::{Hint, List, Meta, Screen, ScreenId};
use crate::console::effect::{Ctx, Effect, Effects, Write, Written};
use crate::console::keys::Action;
use crate::console::widgets::{Switch, Switches, switches};
use crate::domain::AuthPlugin;
use ratatui::Frame;
use ratatui::layout::Rect;

pub const ID: ScreenId = ScreenId("auth");
static META: Meta = Meta {
    id: ID,
    title: "Manage authentication",
    number: Some('4'),
    tab: "Auth",
    aliases: &["authentication"],
    parent: None,
};

#[derive(Default)]
pub struct Authentication {
    list: List,
}

impl Authentication {
    fn selected(&self) -> Option<AuthPlugin> {
        AuthPlugin::OPTIONAL.get(self.list.at(AuthPlugin::OPTIONAL.len())).copied()
    }
}

impl Screen for Authentication {
    fn meta(&self) -> &'static Meta {
        &META
    }

    fn act(&mut self, action: Action, cx: &Ctx) -> Effects {
        if self.list.step(action, AuthPlugin::OPTIONAL.len(), cx.page()) {
            return Vec::new();
        }
        match (action, self.selected()) {
            (Action::Toggle, Some(p)) => {
                let on = !cx.data.settings.auth_enabled(p);
                vec![Effect::Write(Write::new(move |ops| {
                    ops.set_auth_plugin(p, on).map(|_| Written::say(format!("{}: {}", p.label(), on_off(on))))
                }))]
            }
            _ => Vec::new(),
        }
    }

    fn hint(&self, action: Action, cx: &Ctx) -> Hint {
        match (action, self.selected()) {
            (Action::Toggle, Some(p)) => {
                Hint::Label(if cx.data.settings.auth_enabled(p) { "switch off" } else { "switch on" }.into())
            }
            (Action::Toggle, None) => Hint::Hidden,
            _ => Hint::Shown,
        }
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx) {
        let s = &cx.data.settings;
        let fixed = vec![
            (AuthPlugin::Manual.label().to_string(), "always on · password accounts, token.php".into()),
            ("No login".to_string(), "always on · accounts that may not log in".into()),
        ];
        let rows = AuthPlugin::OPTIONAL
            .iter()
            .map(|p| Switch {
                label: p.label().to_string(),
                on: s.auth_enabled(*p),
                note: match p {
                    AuthPlugin::Manual => String::new(),
                    AuthPlugin::Webservice => "username/password calls (simpleserver)".into(),
                },
            })
            .collect();
        let foot = "Space switches the selected plugin (settings set auth webservice).";
        let sel = self.list.at(AuthPlugin::OPTIONAL.len());
        switches(f, area, &cx.theme, Switches { title: "Manage authentication", fixed, rows, selected: sel, foot });
    }
}
