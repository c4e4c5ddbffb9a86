//! `wsconsole role`: roles, their capabilities and who holds them.

use super::*;

#[derive(Subcommand, Debug)]
pub enum RoleCmd {
    /// Creates a role with capabilities from the catalogue.
    Add {
        shortname: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long = "cap", value_name = "CAPABILITY")]
        caps: Vec<String>,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// Allows capabilities on a role.
    Allow {
        shortname: String,
        #[arg(required = true)]
        caps: Vec<String>,
    },
    /// Removes capabilities from a role.
    Unset {
        shortname: String,
        #[arg(required = true)]
        caps: Vec<String>,
    },
    /// Assigns a role to a user in the system context.
    Assign {
        shortname: String,
        username: String,
    },
    Unassign {
        shortname: String,
        username: String,
    },
    Delete {
        shortname: String,
    },
}

pub(super) fn role(ops: &Ops, c: RoleCmd, out: Out<'_>) -> Result<(), CliError> {
    match c {
        RoleCmd::Add { shortname, name, caps } => {
            let r = ops.create_role(&shortname, &name, &caps)?;
            writeln!(out, "created role {} ({})", r.shortname, r.name)?;
        }
        RoleCmd::List { json } => {
            let v = ops.store().read()?;
            let mut rows = Vec::new();
            let mut objects = Vec::new();
            for r in v.all_roles()? {
                let caps = v.role_capabilities(r.id)?;
                let holders = v.role_holders(r.id)?.len();
                objects.push(json!({
                    "id": r.id, "shortname": r.shortname, "name": r.name, "description": r.description,
                    "capabilities": caps, "users": if r.implicit { Value::from("all") } else { Value::from(holders) },
                }));
                rows.push(vec![
                    r.shortname.clone(),
                    r.name.clone(),
                    if r.implicit { "all".into() } else { holders.to_string() },
                    caps.join(", "),
                ]);
            }
            if json {
                return print_json(out, &Value::Array(objects));
            }
            print_table(out, &["SHORTNAME", "NAME", "USERS", "CAPABILITIES"], &rows)?;
        }
        RoleCmd::Allow { shortname, caps } => {
            let now = ops.set_role_capabilities(&shortname, &caps, true)?;
            writeln!(out, "{shortname}: {}", now.join(", "))?;
        }
        RoleCmd::Unset { shortname, caps } => {
            let now = ops.set_role_capabilities(&shortname, &caps, false)?;
            writeln!(out, "{shortname}: {}", now.join(", "))?;
        }
        RoleCmd::Assign { shortname, username } => {
            ops.set_role_assignment(&shortname, &username, true)?;
            writeln!(out, "assigned {shortname} to {username}")?;
        }
        RoleCmd::Unassign { shortname, username } => {
            ops.set_role_assignment(&shortname, &username, false)?;
            writeln!(out, "unassigned {shortname} from {username}")?;
        }
        RoleCmd::Delete { shortname } => {
            ops.delete_role(&shortname)?;
            writeln!(out, "deleted role {shortname}")?;
        }
    }
    Ok(())
}
