//! Site settings: web services, protocols, authentication plugins and the rest of Advanced
//! features, by Moodle's config names.

use super::{OpResult, Ops};
use crate::domain::config;
use crate::domain::{AuthPlugin, Protocol, Settings};
use crate::store::Queries;

impl Ops {
    /// Sets one setting by its Moodle config name (`enablewebservices`, `webserviceprotocols`, …).
    pub fn set_setting(&self, name: &str, value: &str) -> OpResult<Settings> {
        self.set_settings(&[(name, value)])
    }

    /// Sets several settings in one transaction: all of them, or none when one is refused.
    /// Each is audited with its value before and after.
    pub fn set_settings(&self, changes: &[(&str, &str)]) -> OpResult<Settings> {
        self.apply_all(|t, _, audit| {
            let mut s = Queries::settings(t)?;
            for (name, value) in changes {
                let before = config::value(&s, name).unwrap_or_default();
                config::apply(&mut s, name, value)?;
                let after = config::value(&s, name).unwrap_or_default();
                audit.push(("settings set", (*name).to_string(), format!("{before} → {after}")));
            }
            t.put_settings(&s)?;
            Ok(s)
        })
    }

    fn change(&self, operation: &'static str, target: String, f: impl FnOnce(&mut Settings)) -> OpResult<Settings> {
        self.apply(operation, |t, _| {
            let mut s = Queries::settings(t)?;
            f(&mut s);
            t.put_settings(&s)?;
            Ok((s, target, String::new()))
        })
    }

    pub fn set_web_services(&self, on: bool) -> OpResult<Settings> {
        self.change(if on { "enable web services" } else { "disable web services" }, "enablewebservices".into(), |s| {
            s.enable_web_services = on
        })
    }

    pub fn set_protocol(&self, p: Protocol, on: bool) -> OpResult<Settings> {
        self.change(if on { "enable protocol" } else { "disable protocol" }, p.name().into(), |s| {
            if on {
                s.protocols.insert(p);
            } else {
                s.protocols.remove(&p);
            }
        })
    }

    /// Switches an optional plugin. Manual accounts are always on: switching them on changes
    /// nothing, switching them off is refused.
    pub fn set_auth_plugin(&self, p: AuthPlugin, on: bool) -> OpResult<Settings> {
        if p.always_on() {
            if on {
                return Ok(Queries::settings(&self.store().read()?)?);
            }
            return Err(super::OpError::Conflict(format!("{} are always enabled, as in Moodle", p.label())));
        }
        self.change(if on { "enable auth plugin" } else { "disable auth plugin" }, p.name().into(), |s| {
            if on {
                s.auth_plugins.insert(p);
            } else {
                s.auth_plugins.remove(&p);
            }
        })
    }

    pub fn set_documentation(&self, on: bool) -> OpResult<Settings> {
        self.set_setting("enablewsdocumentation", if on { "1" } else { "0" })
    }

    pub fn set_maintenance(&self, on: bool) -> OpResult<Settings> {
        self.set_setting("maintenance_enabled", if on { "1" } else { "0" })
    }
}
