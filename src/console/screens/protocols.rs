//! 3 Manage protocols: REST, SOAP, XML-RPC and AMF, each switched on or off, with the
//! capability a user needs and the address clients call; and the API documentation switch.

use super::features::on_off;
use super::{Hint, List, Meta, Screen, ScreenId};
use crate::console::effect::{Ctx, Effect, Effects, Write, Written};
use crate::console::keys::Action;
use crate::console::widgets::{Switch, Switches, switches};
use crate::domain::Protocol;
use ratatui::Frame;
use ratatui::layout::Rect;

pub const ID: ScreenId = ScreenId("protocols");
static META: Meta =
    Meta { id: ID, title: "Manage protocols", number: Some('3'), tab: "Protocols", aliases: &[], parent: None };

const ROWS: usize = Protocol::ALL.len() + 1;

#[derive(Default)]
pub struct Protocols {
    list: List,
}

impl Protocols {
    fn on(&self, cx: &Ctx) -> bool {
        let s = &cx.data.settings;
        match Protocol::ALL.get(self.list.at(ROWS)) {
            Some(p) => s.protocols.contains(p),
            None => s.ws_documentation,
        }
    }
}

impl Screen for Protocols {
    fn meta(&self) -> &'static Meta {
        &META
    }

    fn act(&mut self, action: Action, cx: &Ctx) -> Effects {
        if self.list.step(action, ROWS, cx.page()) {
            return Vec::new();
        }
        if action != Action::Toggle {
            return Vec::new();
        }
        let on = !self.on(cx);
        let protocol = Protocol::ALL.get(self.list.at(ROWS)).copied();
        vec![Effect::Write(Write::new(move |ops| match protocol {
            Some(p) => ops.set_protocol(p, on).map(|_| Written::say(format!("{}: {}", p.label(), on_off(on)))),
            None => {
                ops.set_documentation(on).map(|_| Written::say(format!("Web services documentation: {}", on_off(on))))
            }
        }))]
    }

    fn hint(&self, action: Action, cx: &Ctx) -> Hint {
        match action {
            Action::Toggle => Hint::Label(if self.on(cx) { "switch off" } else { "switch on" }.into()),
            _ => Hint::Shown,
        }
    }

    fn draw(&self, f: &mut Frame, area: Rect, cx: &Ctx) {
        let d = cx.data;
        let s = &d.settings;
        let mut rows: Vec<Switch> = Protocol::ALL
            .iter()
            .map(|p| Switch {
                label: p.label().to_string(),
                on: s.protocols.contains(p),
                note: format!("{}\n{}", p.capability(), d.endpoint_url(*p)),
            })
            .collect();
        rows.push(Switch {
            label: "Web services documentation".into(),
            on: s.ws_documentation,
            note: "enablewsdocumentation".into(),
        });
        let foot = "Users call a protocol only while it is enabled here and they hold its capability.";
        let page = Switches { title: "Manage protocols", fixed: Vec::new(), rows, selected: self.list.at(ROWS), foot };
        switches(f, area, &cx.theme, page);
    }
}
