//! `wsconsole service`: external services, their functions and authorised users.

use super::*;
use crate::ops::ServiceEdit;

#[derive(Subcommand, Debug)]
pub enum ServiceCmd {
    /// Creates a custom service.
    Add {
        shortname: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        enabled: bool,
        /// "Authorised users only".
        #[arg(long)]
        restricted: bool,
        #[arg(long, value_name = "CAP")]
        required_capability: Option<String>,
        #[arg(long)]
        download_files: bool,
        #[arg(long)]
        upload_files: bool,
    },
    /// Changes a service's settings; only those given change ("" as the required capability
    /// sets none). A built-in service's name, "authorised users only" and capability are fixed.
    Edit {
        shortname: String,
        #[arg(long)]
        name: Option<String>,
        /// "Authorised users only".
        #[arg(long, value_name = "BOOL")]
        restricted: Option<bool>,
        #[arg(long, value_name = "CAP")]
        required_capability: Option<String>,
        #[arg(long, value_name = "BOOL")]
        download_files: Option<bool>,
        #[arg(long, value_name = "BOOL")]
        upload_files: Option<bool>,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// A service's settings, functions, authorised users and link to the Moodle site.
    Show {
        shortname: String,
        #[arg(long)]
        json: bool,
    },
    Enable {
        shortname: String,
    },
    Disable {
        shortname: String,
    },
    /// Deletes a custom service and its tokens.
    Delete {
        shortname: String,
    },
    /// Adds functions from the catalogue; to a service connected to a Moodle site, the
    /// functions the site offers it (`service sync SHORTNAME --json` lists them).
    AddFunction {
        shortname: String,
        #[arg(required = true)]
        functions: Vec<String>,
    },
    RemoveFunction {
        shortname: String,
        #[arg(required = true)]
        functions: Vec<String>,
    },
    /// Authorises a user (or changes an authorisation) on an "authorised users only" service.
    Authorise {
        shortname: String,
        username: String,
        /// IP restriction, e.g. "10.0.0.0/8, 192.168.1.5".
        #[arg(long, default_value = "")]
        ip: String,
        /// YYYY-MM-DD or RFC 3339, or "never".
        #[arg(long, value_name = "DATE")]
        valid_until: Option<String>,
    },
    Unauthorise {
        shortname: String,
        username: String,
    },
    /// Connects the service to the Moodle site (setting `upstreamurl`): sets or replaces the
    /// token its calls go to the site with, read from the first line of stdin (or a prompt
    /// that does not echo). The token is stored sealed with the key file and never shown again.
    Upstream {
        shortname: String,
        /// Removes the token: the service's calls are answered here again.
        #[arg(long, conflicts_with = "calls_per_minute")]
        remove: bool,
        /// Only sets how many calls a minute the service may send to the site (0: no limit of
        /// its own); the token stays as it is.
        #[arg(long, value_name = "N")]
        calls_per_minute: Option<u32>,
    },
    /// Asks the Moodle site, with the service's credential, its name, release and the
    /// functions the credential's account may call, and records them (or the failure).
    Sync {
        shortname: String,
        #[arg(long)]
        json: bool,
    },
}

pub(super) fn service(ops: &Ops, c: ServiceCmd, out: Out<'_>) -> Result<(), CliError> {
    match c {
        ServiceCmd::Add { shortname, name, enabled, restricted, required_capability, download_files, upload_files } => {
            let s = ops.create_service(NewService {
                name,
                shortname,
                enabled,
                restricted_users: restricted,
                required_capability,
                download_files,
                upload_files,
            })?;
            writeln!(out, "created service {} ({})", s.shortname, s.name)?;
        }
        ServiceCmd::Edit { shortname, name, restricted, required_capability, download_files, upload_files } => {
            let edit = ServiceEdit {
                name,
                enabled: None,
                restricted_users: restricted,
                // Ops reads a blank capability as "No required capability".
                required_capability: required_capability.map(Some),
                download_files,
                upload_files,
            };
            let s = ops.edit_service(&shortname, edit)?;
            writeln!(
                out,
                "{}: authorised users only {}, required capability {}, can download files {}, can upload files {}",
                s.shortname,
                yes(s.restricted_users),
                s.required_capability.as_deref().unwrap_or("none"),
                yes(s.download_files),
                yes(s.upload_files)
            )?;
        }
        ServiceCmd::List { json } => {
            let v = ops.store().read()?;
            let mut rows = Vec::new();
            let mut objects = Vec::new();
            for s in v.all_services()? {
                let functions = v.service_function_names(s.id)?;
                let users = v.authorised_users(s.id)?.len();
                objects.push(json!({
                    "id": s.id, "name": s.name, "shortname": s.shortname, "enabled": s.enabled,
                    "restrictedusers": s.restricted_users, "requiredcapability": s.required_capability,
                    "downloadfiles": s.download_files, "uploadfiles": s.upload_files, "builtin": s.builtin,
                    "functions": functions, "timecreated": s.created, "timemodified": s.modified,
                }));
                rows.push(vec![
                    s.shortname.clone(),
                    s.name.clone(),
                    if s.builtin { "built-in".into() } else { "custom".into() },
                    if s.enabled { "enabled".into() } else { "disabled".into() },
                    functions.len().to_string(),
                    if s.restricted_users { format!("{users} authorised") } else { "all users".into() },
                ]);
            }
            if json {
                return print_json(out, &Value::Array(objects));
            }
            print_table(out, &["SHORTNAME", "NAME", "KIND", "STATE", "FUNCTIONS", "USERS"], &rows)?;
        }
        ServiceCmd::Show { shortname, json } => {
            let v = ops.store().read()?;
            let s =
                v.service_by_shortname(&shortname)?.ok_or_else(|| CliError(format!("no service \"{shortname}\"")))?;
            let link = v.upstream(s.id)?;
            if json {
                let functions = v.service_function_names(s.id)?;
                let mut users = Vec::new();
                for a in v.authorised_users(s.id)? {
                    let name = Queries::user(&v, a.user)?.map(|u| u.username).unwrap_or_default();
                    users.push(
                        json!({"username": name, "iprestriction": a.ip_restriction, "validuntil": a.valid_until}),
                    );
                }
                return print_json(
                    out,
                    &json!({
                        "id": s.id, "name": s.name, "shortname": s.shortname, "enabled": s.enabled,
                        "restrictedusers": s.restricted_users, "requiredcapability": s.required_capability,
                        "downloadfiles": s.download_files, "uploadfiles": s.upload_files, "builtin": s.builtin,
                        "functions": functions, "authorisedusers": users,
                        "tokens": v.token_ids_of_service(s.id)?.len(),
                        "timecreated": s.created, "timemodified": s.modified,
                        "upstream": upstream_json(link.as_ref()),
                    }),
                );
            }
            writeln!(out, "name:                  {}", s.name)?;
            writeln!(out, "shortname:             {}", s.shortname)?;
            writeln!(out, "kind:                  {}", if s.builtin { "built-in" } else { "custom" })?;
            writeln!(out, "enabled:               {}", yes(s.enabled))?;
            writeln!(out, "authorised users only: {}", yes(s.restricted_users))?;
            writeln!(
                out,
                "required capability:   {}",
                s.required_capability.as_deref().unwrap_or("No required capability")
            )?;
            writeln!(out, "can download files:    {}", yes(s.download_files))?;
            writeln!(out, "can upload files:      {}", yes(s.upload_files))?;
            writeln!(out, "functions:")?;
            let functions = v.service_function_names(s.id)?;
            if functions.is_empty() {
                writeln!(out, "  This service has no functions.")?;
            }
            for f in functions {
                writeln!(out, "  {f}")?;
            }
            if s.restricted_users {
                writeln!(out, "authorised users:")?;
                for a in v.authorised_users(s.id)? {
                    let name = Queries::user(&v, a.user)?.map(|u| u.username).unwrap_or_default();
                    let until = a.valid_until.map(format_time).unwrap_or_else(|| "no expiry".into());
                    let ip = if a.ip_restriction.is_empty() { "any IP".into() } else { a.ip_restriction.clone() };
                    writeln!(out, "  {name}  ({ip}; valid until {until})")?;
                }
            } else {
                writeln!(out, "users:                 all users")?;
            }
            writeln!(out, "tokens:                {}", v.token_ids_of_service(s.id)?.len())?;
            for line in upstream_lines(link.as_ref()) {
                writeln!(out, "{line}")?;
            }
        }
        ServiceCmd::Enable { shortname } => {
            ops.set_service_enabled(&shortname, true)?;
            writeln!(out, "enabled {shortname}")?;
        }
        ServiceCmd::Disable { shortname } => {
            ops.set_service_enabled(&shortname, false)?;
            writeln!(out, "disabled {shortname}")?;
        }
        ServiceCmd::Delete { shortname } => {
            let n = ops.delete_service(&shortname)?;
            writeln!(out, "deleted service {shortname} ({n} tokens deleted)")?;
        }
        ServiceCmd::AddFunction { shortname, functions } => {
            let now = ops.set_service_functions(&shortname, &functions, true)?;
            writeln!(out, "{shortname}: {}", now.join(", "))?;
        }
        ServiceCmd::RemoveFunction { shortname, functions } => {
            let now = ops.set_service_functions(&shortname, &functions, false)?;
            writeln!(out, "{shortname}: {}", if now.is_empty() { "no functions".into() } else { now.join(", ") })?;
        }
        ServiceCmd::Authorise { shortname, username, ip, valid_until: until } => {
            let a = ops.authorise_user(&shortname, &username, &ip, valid_until(until.as_deref())?)?;
            let until = a.valid_until.map(format_time).unwrap_or_else(|| "no expiry".into());
            writeln!(out, "authorised {username} on {shortname} (valid until {until})")?;
        }
        ServiceCmd::Unauthorise { shortname, username } => {
            ops.unauthorise_user(&shortname, &username)?;
            writeln!(out, "unauthorised {username} on {shortname}")?;
        }
        ServiceCmd::Upstream { shortname, remove: true, .. } => {
            ops.remove_upstream_credential(&shortname)?;
            writeln!(out, "{shortname}: upstream credential removed; its calls are answered here")?;
        }
        ServiceCmd::Upstream { shortname, calls_per_minute: Some(n), .. } => {
            ops.set_upstream_rate(&shortname, n)?;
            let limit = if n == 0 { "no limit of its own".to_string() } else { format!("{n} calls per minute") };
            writeln!(out, "{shortname}: {limit} to the Moodle site")?;
        }
        ServiceCmd::Sync { shortname, json } => {
            let sync = crate::upstream::sync_service(ops, &shortname).map_err(|e| CliError(e.to_string()))?;
            if json {
                return print_json(
                    out,
                    &json!({
                        "sitename": sync.site_name, "release": sync.release, "username": sync.username,
                        "functions": sync.functions, "time": sync.at,
                    }),
                );
            }
            let n = sync.functions.len();
            let functions = if n == 1 { "function" } else { "functions" };
            writeln!(out, "{shortname}: {} ({}) as {}: {n} {functions}", sync.site_name, sync.release, sync.username)?;
        }
        ServiceCmd::Upstream { shortname, .. } => {
            let credential = read_secret("Site token: ")?;
            ops.set_upstream_credential(&shortname, &credential)?;
            writeln!(out, "{shortname}: upstream credential set (sealed; it is not shown again)")?;
            if ops.store().read()?.settings()?.upstream.url.is_empty() {
                writeln!(out, "note: no Moodle site yet: wsconsole settings set upstreamurl URL")?;
            }
        }
    }
    Ok(())
}

/// A secret from a prompt that does not echo on a terminal, else the first line of stdin.
fn read_secret(prompt: &str) -> Result<String, CliError> {
    if std::io::stdin().is_terminal() {
        return Ok(rpassword::prompt_password(prompt)?);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// The service's link to the site as `service show --json` gives it: whether a credential is
/// set and since when, never the credential.
fn upstream_json(link: Option<&crate::domain::upstream::Upstream>) -> Value {
    let Some(u) = link else {
        return json!({"credential": false, "credentialset": null, "callsperminute": 0, "sync": null, "lasterror": null});
    };
    json!({
        "credential": u.credential.is_some(),
        "credentialset": u.credential.as_ref().map(|c| c.set_at),
        "callsperminute": u.calls_per_minute,
        "sync": u.sync.as_ref().map(|s| json!({
            "time": s.at, "sitename": s.site_name, "release": s.release, "username": s.username,
            "functions": s.functions.len(),
        })),
        "lasterror": u.last_error.as_ref().map(|e| json!({"time": e.at, "message": e.message})),
    })
}

fn upstream_lines(link: Option<&crate::domain::upstream::Upstream>) -> Vec<String> {
    let Some(u) = link else {
        return vec!["moodle site:           not connected (answered here)".into()];
    };
    let mut lines = vec![match &u.credential {
        Some(c) => format!("moodle site:           credential set {}", format_time(c.set_at)),
        None => "moodle site:           no credential".into(),
    }];
    if u.calls_per_minute > 0 {
        lines.push(format!("  limit:               {} calls per minute", u.calls_per_minute));
    }
    match &u.sync {
        Some(s) => lines.push(format!(
            "  last sync:           {}: {} ({}) as {}, {} functions",
            format_time(s.at),
            s.site_name,
            s.release,
            s.username,
            s.functions.len()
        )),
        None => lines.push("  last sync:           never".into()),
    }
    if let Some(e) = &u.last_error {
        lines.push(format!("  last error:          {}: {}", format_time(e.at), e.message));
    }
    lines
}
