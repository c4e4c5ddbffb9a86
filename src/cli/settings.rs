//! `wsconsole settings`: site settings by Moodle's config names.

use super::*;

#[derive(Subcommand, Debug)]
pub enum SettingsCmd {
    /// Every setting with its value.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Sets one setting: enablewebservices 1|0, webserviceprotocols rest,soap,xmlrpc,amf,
    /// auth webservice, enablewsdocumentation, sitename, siteurl, tokenduration, debug, …;
    /// fronting a Moodle site: upstreamurl, upstreamconcurrency, upstreamtimeout, upstreamca
    Set { name: String, value: String },
}

pub(super) fn settings(ops: &Ops, c: SettingsCmd, out: Out<'_>) -> Result<(), CliError> {
    match c {
        SettingsCmd::Show { json } => {
            let s = Queries::settings(&ops.store().read()?)?;
            let values = config::show(&s);
            if json {
                let map: serde_json::Map<String, Value> =
                    values.into_iter().map(|(k, v)| (k.to_string(), Value::from(v))).collect();
                return print_json(out, &Value::Object(map));
            }
            for (name, value) in values {
                writeln!(out, "{name} = {value}{}", setting_note(name))?;
            }
        }
        SettingsCmd::Set { name, value } => {
            let s = ops.set_setting(&name, &value)?;
            let now = config::value(&s, &name).unwrap_or_default();
            writeln!(out, "{name} = {now}{}", setting_note(&name))?;
        }
    }
    Ok(())
}

/// What a setting's value leaves unsaid: `auth` lists only the optional plugins.
pub(super) fn setting_note(name: &str) -> &'static str {
    if name == "auth" { "  (manual and nologin: always enabled)" } else { "" }
}
