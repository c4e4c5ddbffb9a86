//! Settings by Moodle's config names, as `wsconsole settings show|set` spells them.

use super::iprestriction;
use super::time::parse_duration;
use super::types::{AuthPlugin, Protocol, Settings, debug_level};
use super::validate::{FieldError, text};
use std::collections::BTreeSet;

/// One setting: its config name and what it means.
pub struct ConfigName {
    pub name: &'static str,
    pub help: &'static str,
}

pub const NAMES: &[ConfigName] = &[
    ConfigName { name: "enablewebservices", help: "Enable web services (Advanced features): 1 or 0" },
    ConfigName { name: "webserviceprotocols", help: "Enabled protocols, comma-separated: rest, soap, xmlrpc, amf" },
    ConfigName {
        name: "auth",
        help: "Optional authentication plugins to enable, comma-separated: webservice (manual and nologin are always enabled, as in Moodle; naming them changes nothing)",
    },
    ConfigName { name: "enablewsdocumentation", help: "Web services documentation: 1 or 0" },
    ConfigName { name: "sitename", help: "Site name, as core_webservice_get_site_info reports it" },
    ConfigName { name: "siteurl", help: "Where clients reach the endpoint (Moodle's wwwroot), http:// or https://" },
    ConfigName {
        name: "tokenduration",
        help: "Lifetime of tokens issued by login/token.php: seconds, or 12h, 30d, 12w",
    },
    ConfigName {
        name: "tokenmaxperuserservice",
        help: "Self-issued tokens kept per user and service; the oldest goes beyond it",
    },
    ConfigName { name: "maintenance_enabled", help: "Maintenance mode: 1 or 0" },
    ConfigName {
        name: "debug",
        help: "Debug level: none (0), minimal (5), normal (15) or developer (32767); normal and up add debuginfo to errors",
    },
    ConfigName { name: "trustedproxies", help: "Reverse proxies whose X-Forwarded-For is believed (IP list)" },
    ConfigName { name: "loglifetime", help: "Days to keep endpoint call logs; 0 keeps them forever" },
    ConfigName {
        name: "upstreamurl",
        help: "The Moodle site the endpoint fronts (its wwwroot), http:// or https://; empty for none",
    },
    ConfigName {
        name: "upstreamconcurrency",
        help: "Calls in flight to the Moodle site at most, over every service (at least 1)",
    },
    ConfigName { name: "upstreamtimeout", help: "Seconds a call to the Moodle site may take in all (1 to 600)" },
    ConfigName {
        name: "upstreamca",
        help: "A PEM file of certificate authorities to trust for the Moodle site besides the system's; empty for none",
    },
];

fn bool_value(name: &'static str, v: &str) -> Result<bool, FieldError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(FieldError::new(name, format!("\"{v}\" is not 1 or 0"))),
    }
}

fn list<T: Ord>(
    name: &'static str,
    v: &str,
    parse: fn(&str) -> Option<T>,
    known: &str,
) -> Result<BTreeSet<T>, FieldError> {
    let mut out = BTreeSet::new();
    for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        out.insert(parse(item).ok_or_else(|| FieldError::new(name, format!("unknown \"{item}\" (known: {known})")))?);
    }
    Ok(out)
}

fn number<T: std::str::FromStr>(name: &'static str, v: &str) -> Result<T, FieldError> {
    v.trim().parse().map_err(|_| FieldError::new(name, format!("\"{v}\" is not a whole number")))
}

/// Validates `value` for the setting `name` and applies it to `s`.
pub fn apply(s: &mut Settings, name: &str, value: &str) -> Result<(), FieldError> {
    match name {
        "enablewebservices" => s.enable_web_services = bool_value("enablewebservices", value)?,
        "webserviceprotocols" => {
            s.protocols = list("webserviceprotocols", value, Protocol::parse, "rest, soap, xmlrpc, amf")?
        }
        "auth" => s.auth_plugins = auth_plugins(value)?,
        "enablewsdocumentation" => s.ws_documentation = bool_value("enablewsdocumentation", value)?,
        "sitename" => s.site_name = text("sitename", value, 255, true)?,
        "siteurl" => s.site_url = http_url("siteurl", value)?,
        "tokenduration" => s.token_duration = parse_duration(value).map_err(|m| FieldError::new("tokenduration", m))?,
        "tokenmaxperuserservice" => {
            let n: u32 = number("tokenmaxperuserservice", value)?;
            if n == 0 {
                return Err(FieldError::new("tokenmaxperuserservice", "must be at least 1"));
            }
            s.max_tokens_per_user_service = n;
        }
        "maintenance_enabled" => s.maintenance = bool_value("maintenance_enabled", value)?,
        "debug" => s.debug = debug(value)?,
        "trustedproxies" => {
            s.trusted_proxies =
                iprestriction::normalise(value).map_err(|e| FieldError::new("trustedproxies", e.to_string()))?
        }
        "loglifetime" => s.log_lifetime_days = number("loglifetime", value)?,
        // Another site: what the last one called itself no longer holds.
        "upstreamurl" if value.trim().is_empty() => {
            (s.upstream.url, s.upstream.wwwroot) = (String::new(), String::new())
        }
        "upstreamurl" => {
            let url = http_url("upstreamurl", value)?;
            if url != s.upstream.url {
                s.upstream.wwwroot.clear();
            }
            s.upstream.url = url;
        }
        "upstreamconcurrency" => {
            let n: u32 = number("upstreamconcurrency", value)?;
            if n == 0 {
                return Err(FieldError::new("upstreamconcurrency", "must be at least 1"));
            }
            s.upstream.max_concurrent = n;
        }
        "upstreamtimeout" => {
            let t: u32 = number("upstreamtimeout", value)?;
            if !(1..=600).contains(&t) {
                return Err(FieldError::new("upstreamtimeout", "must be 1 to 600 seconds"));
            }
            s.upstream.timeout_secs = t;
        }
        "upstreamca" => s.upstream.ca_file = text("upstreamca", value, 4096, false)?,
        other => {
            let known: Vec<&str> = NAMES.iter().map(|n| n.name).collect();
            return Err(FieldError::new(
                "setting",
                format!("unknown setting \"{other}\" (known: {})", known.join(", ")),
            ));
        }
    }
    Ok(())
}

/// The `auth` list: the optional plugins to enable. `manual` and `nologin` are accepted, as in
/// a list copied from Moodle's `$CFG->auth`, and change nothing: they are always on.
fn auth_plugins(v: &str) -> Result<BTreeSet<AuthPlugin>, FieldError> {
    let parse = |name: &str| match name {
        "nologin" => Some(AuthPlugin::Manual),
        other => AuthPlugin::parse(other),
    };
    let mut set = list("auth", v, parse, "webservice; manual and nologin are always on")?;
    set.retain(|p| !p.always_on());
    Ok(set)
}

fn debug(v: &str) -> Result<u32, FieldError> {
    Ok(match v.trim().to_ascii_lowercase().as_str() {
        "none" | "0" => debug_level::NONE,
        "minimal" | "5" => debug_level::MINIMAL,
        "normal" | "15" => debug_level::NORMAL,
        "developer" | "all" | "32767" => debug_level::DEVELOPER,
        _ => return Err(FieldError::new("debug", format!("\"{v}\" is not none, minimal, normal or developer"))),
    })
}

/// An `http://` or `https://` URL, without its trailing slashes.
fn http_url(name: &'static str, v: &str) -> Result<String, FieldError> {
    let v = text(name, v, 255, true)?;
    let rest = v.strip_prefix("http://").or_else(|| v.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
            Ok(v.trim_end_matches('/').to_string())
        }
        _ => Err(FieldError::new(name, format!("\"{v}\" is not an http:// or https:// URL"))),
    }
}

/// Every setting as (config name, value), in [`NAMES`] order.
pub fn show(s: &Settings) -> Vec<(&'static str, String)> {
    let b = |v: bool| if v { "1" } else { "0" }.to_string();
    let joined = |items: Vec<&str>| items.join(",");
    vec![
        ("enablewebservices", b(s.enable_web_services)),
        ("webserviceprotocols", joined(s.protocols.iter().map(|p| p.name()).collect())),
        ("auth", joined(s.auth_plugins.iter().filter(|p| !p.always_on()).map(|p| p.name()).collect())),
        ("enablewsdocumentation", b(s.ws_documentation)),
        ("sitename", s.site_name.clone()),
        ("siteurl", s.site_url.clone()),
        ("tokenduration", s.token_duration.to_string()),
        ("tokenmaxperuserservice", s.max_tokens_per_user_service.to_string()),
        ("maintenance_enabled", b(s.maintenance)),
        ("debug", s.debug.to_string()),
        ("trustedproxies", s.trusted_proxies.clone()),
        ("loglifetime", s.log_lifetime_days.to_string()),
        ("upstreamurl", s.upstream.url.clone()),
        ("upstreamconcurrency", s.upstream.max_concurrent.to_string()),
        ("upstreamtimeout", s.upstream.timeout_secs.to_string()),
        ("upstreamca", s.upstream.ca_file.clone()),
    ]
}

/// One setting's value as [`show`] writes it; `None` for a name that is not a setting.
pub fn value(s: &Settings, name: &str) -> Option<String> {
    show(s).into_iter().find(|(n, _)| *n == name).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_through_show() {
        let mut s = Settings::default();
        for (name, value) in show(&Settings::default()) {
            apply(&mut s, name, &value).unwrap_or_else(|e| panic!("{name}={value}: {e}"));
        }
        assert_eq!(s, Settings::default());
        assert_eq!(show(&s).len(), NAMES.len());
    }

    #[test]
    fn values_are_parsed_and_checked() {
        let mut s = Settings::default();
        apply(&mut s, "enablewebservices", "1").unwrap();
        apply(&mut s, "webserviceprotocols", "rest, soap").unwrap();
        apply(&mut s, "auth", "webservice").unwrap();
        // A database written when manual was a switch may hold it: it keeps working, unlisted.
        let mut older = s.clone();
        older.auth_plugins.insert(AuthPlugin::Manual);
        assert_eq!(show(&older).iter().find(|(n, _)| *n == "auth").unwrap().1, "webservice");
        assert!(older.auth_enabled(AuthPlugin::Manual));
        apply(&mut s, "tokenduration", "12w").unwrap();
        apply(&mut s, "debug", "developer").unwrap();
        apply(&mut s, "siteurl", "https://ws.example.com/").unwrap();
        assert!(s.enable_web_services && s.debugging());
        assert_eq!(s.protocols, BTreeSet::from([Protocol::Rest, Protocol::Soap]));
        assert_eq!(s.auth_plugins, BTreeSet::from([AuthPlugin::Webservice]));
        // Manual and nologin are always on: naming them is accepted and stores nothing.
        apply(&mut s, "auth", "manual,nologin,webservice").unwrap();
        assert_eq!(s.auth_plugins, BTreeSet::from([AuthPlugin::Webservice]));
        apply(&mut s, "auth", "manual").unwrap();
        assert!(s.auth_plugins.is_empty() && s.auth_enabled(AuthPlugin::Manual));
        assert!(!s.auth_enabled(AuthPlugin::Webservice));
        apply(&mut s, "auth", "webservice").unwrap();
        assert_eq!(s.token_duration, 7_257_600);
        assert_eq!(s.site_url, "https://ws.example.com");
        apply(&mut s, "upstreamurl", "https://moodle.example.com/").unwrap();
        assert_eq!(s.upstream.url, "https://moodle.example.com");

        let before = s.clone();
        for (name, value, says) in [
            ("enablewebservices", "maybe", "not 1 or 0"),
            ("webserviceprotocols", "rest,graphql", "unknown \"graphql\""),
            ("auth", "ldap", "unknown \"ldap\""),
            ("siteurl", "ftp://x", "not an http"),
            ("debug", "loud", "not none"),
            ("trustedproxies", "10.0.0.0/99", "10.0.0.0/99"),
            ("tokenmaxperuserservice", "0", "at least 1"),
            ("upstreamurl", "moodle.example.com", "not an http"),
            ("upstreamconcurrency", "0", "at least 1"),
            ("upstreamtimeout", "601", "1 to 600"),
            ("nosuch", "1", "unknown setting \"nosuch\""),
        ] {
            let e = apply(&mut s, name, value).unwrap_err();
            assert!(e.to_string().contains(says), "{name}: {e}");
        }
        assert_eq!(s, before, "a refused value changes nothing");
    }
}
