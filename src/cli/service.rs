//! `wsconsole service`: external services, their functions and authorised users.

use super::*;

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
    List {
        #[arg(long)]
        json: bool,
    },
    /// A service's settings, functions and authorised users.
    Show {
        shortname: String,
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
    /// Adds functions from the catalogue.
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
        ServiceCmd::Show { shortname } => {
            let v = ops.store().read()?;
            let s =
                v.service_by_shortname(&shortname)?.ok_or_else(|| CliError(format!("no service \"{shortname}\"")))?;
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
    }
    Ok(())
}
